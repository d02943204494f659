/*
 * kernels_cpu.c — the CPU backend: forward/backward building blocks (see kernels_cpu.h) and the
 * ModelOps table that model.c, lora.c and optim.c call through (see ops.h).
 */
#include "kernels_cpu.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ops.h"
#include "rng.h"

/* ---- matrix products ------------------------------------------------------------------- */

static int blocks_of(int dim) {
    int n = (dim + SGEMM_BLOCK - 1) / SGEMM_BLOCK;
    return n < SGEMM_MAX_BLOCKS ? n : SGEMM_MAX_BLOCKS;
}

void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
           const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    /* blocks of about SGEMM_BLOCK, at most SGEMM_MAX_BLOCKS, a function of the shape alone.
     * Each block packs the whole other operand again, so cut the dimension whose extra packing
     * is smaller: row blocks repack op(B) (K x N), column blocks repack op(A) (M x K). */
    const int nblk_rows = blocks_of(M), nblk_cols = blocks_of(N);
    const double extra_rows = (double)(nblk_rows - 1) * K * N;
    const double extra_cols = (double)(nblk_cols - 1) * M * K;
    const int by_rows = extra_rows <= extra_cols, dim = by_rows ? M : N;
    const int nb = by_rows ? nblk_rows : nblk_cols, size = (dim + nb - 1) / nb;
    const int nblk = (dim + size - 1) / size;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < nblk; b++) {
        const int o = b * size, n = dim - o < size ? dim - o : size;
        if (by_rows) { /* rows o.. of op(A) and C */
            const float *a = trans_a == CblasTrans ? A + o : A + (size_t)o * lda;
            cblas_sgemm(CblasRowMajor, trans_a, trans_b, n, N, K, alpha, a, lda, B, ldb, beta,
                        C + (size_t)o * ldc, ldc);
        } else { /* columns o.. of op(B) and C */
            const float *bb = trans_b == CblasTrans ? B + (size_t)o * ldb : B + o;
            cblas_sgemm(CblasRowMajor, trans_a, trans_b, M, n, K, alpha, A, lda, bb, ldb, beta,
                        C + o, ldc);
        }
    }
}

void mm_forward(float *out, int ldo, const float *in, const float *w, const float *bias, int rows,
                int in_dim, int out_dim, int accumulate) {
    float beta = 0.0f;
    if (accumulate) {
        beta = 1.0f;
        if (bias) {
#pragma omp parallel for schedule(static)
            for (int r = 0; r < rows; r++) {
                float *o = out + (size_t)r * ldo;
#pragma omp simd
                for (int j = 0; j < out_dim; j++) o[j] += bias[j];
            }
        }
    } else if (bias) {
        beta = 1.0f;
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++) memcpy(out + (size_t)r * ldo, bias, sizeof(float) * out_dim);
    }
    sgemm(CblasNoTrans, CblasNoTrans, rows, out_dim, in_dim, 1.0f, in, in_dim, w, out_dim, beta,
          out, ldo);
}

void mm_backward_input(float *din, const float *dout, int ldd, const float *w, int rows, int in_dim,
                       int out_dim, int accumulate) {
    sgemm(CblasNoTrans, CblasTrans, rows, in_dim, out_dim, 1.0f, dout, ldd, w, out_dim,
          accumulate ? 1.0f : 0.0f, din, in_dim);
}

void mm_backward_weight(float *dw, float *dbias, const float *in, const float *dout, int ldd,
                        int rows, int in_dim, int out_dim) {
    sgemm(CblasTrans, CblasNoTrans, in_dim, out_dim, rows, 1.0f, in, in_dim, dout, ldd, 1.0f, dw,
          out_dim);
    if (dbias) {
        /* column blocks split over threads, each column summed over rows in order:
         * deterministic, and the inner loop walks memory contiguously */
        enum { BLOCK = 64 };
        const int nblocks = (out_dim + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            const int j0 = blk * BLOCK, j1 = j0 + BLOCK < out_dim ? j0 + BLOCK : out_dim;
            float acc[BLOCK] = {0};
            for (int r = 0; r < rows; r++) {
                const float *d = dout + (size_t)r * ldd;
#pragma omp simd
                for (int j = j0; j < j1; j++) acc[j - j0] += d[j];
            }
            for (int j = j0; j < j1; j++) dbias[j] += acc[j - j0];
        }
    }
}

void lm_head_forward(float *logits, const float *x, const float *wte, int rows, int C, int V) {
    sgemm(CblasNoTrans, CblasTrans, rows, V, C, 1.0f, x, C, wte, C, 0.0f, logits, V);
}

void lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                      const float *wte, int rows, int C, int V) {
    sgemm(CblasNoTrans, CblasNoTrans, rows, C, V, 1.0f, dlogits, V, wte, C, 0.0f, dx, C);
    if (dwte) sgemm(CblasTrans, CblasNoTrans, V, C, rows, 1.0f, dlogits, V, x, C, 1.0f, dwte, C);
}

/* ---- LayerNorm ------------------------------------------------------------------------- */

void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w,
                       const float *b, int rows, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *o = out + (size_t)r * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < C; i++) s += x[i];
        float m = s / C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int i = 0; i < C; i++) {
            float d = x[i] - m;
            v += d * d;
        }
        float rs = 1.0f / sqrtf(v / C + eps);
#pragma omp simd
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * rs * w[i] + b[i];
        mean[r] = m;
        rstd[r] = rs;
    }
}

void layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, const float *mean, const float *rstd, int rows, int C) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *dy = dout + (size_t)r * C;
        const float *x = in + (size_t)r * C;
        float *dx = din + (size_t)r * C;
        float m = mean[r], rs = rstd[r];
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * rs;
            float dnorm = w[i] * dy[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
#pragma omp simd
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * rs;
            float dnorm = w[i] * dy[i];
            dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * rs;
        }
    }
    if (dw || db) {
        /* parameter gradients: columns over threads, rows in order */
#pragma omp parallel for schedule(static)
        for (int i = 0; i < C; i++) {
            float sw = 0.0f, sb = 0.0f;
            for (int r = 0; r < rows; r++) {
                float dy = dout[(size_t)r * C + i];
                sw += (in[(size_t)r * C + i] - mean[r]) * rstd[r] * dy;
                sb += dy;
            }
            if (dw) dw[i] += sw;
            if (db) db[i] += sb;
        }
    }
}

/* ---- GELU (tanh approximation, "gelu_new") --------------------------------------------- */

#define GELU_S 0.7978845608028654f /* sqrt(2/pi) */

static inline float tanh_fast(float u) {
    /* tanh(u) = 1 - 2/(exp(2u) + 1); the absolute error stays ~1e-7, which is what GELU's
     * (1 + tanh) needs. */
    return 1.0f - 2.0f / (fast_expf(2.0f * u) + 1.0f);
}

void gelu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float u = GELU_S * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanh_fast(u));
    }
}

void gelu_backward(float *d_inout, const float *in, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float u = GELU_S * (x + 0.044715f * x * x * x);
        float th = tanh_fast(u);
        float du = GELU_S * (1.0f + 3.0f * 0.044715f * x * x);
        float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
        d_inout[i] *= g;
    }
}

/* ---- causal self-attention ------------------------------------------------------------- */

/* Per (sample, head), as matrix products through BLAS: S = scale * Q K^T over the full T x T
 * (the masked half costs flops but BLAS runs far faster than scalar loops), a causal softmax
 * row by row, then Y = P V. Each (b, h) is one task on one thread; BLAS called inside an OpenMP
 * parallel region runs single-threaded (OpenBLAS's OpenMP build checks omp_in_parallel), so the
 * result does not depend on the thread count. */
static void attention_forward_gemm(float *out, float *att, const float *qkv, int B, int T, int C,
                                   int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs;
            const float *k = q + C, *v = q + 2 * C;
            float *a = att + ((size_t)b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3,
                        0.0f, a, T);
            for (int t = 0; t < T; t++) {
                float *row = a + (size_t)t * T;
                float mx = row[0];
                for (int t2 = 1; t2 <= t; t2++) mx = row[t2] > mx ? row[t2] : mx;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int t2 = 0; t2 <= t; t2++) {
                    float ev = fast_expf(row[t2] - mx);
                    row[t2] = ev;
                    sum += ev;
                }
                float inv = 1.0f / sum;
#pragma omp simd
                for (int t2 = 0; t2 <= t; t2++) row[t2] *= inv;
                for (int t2 = t + 1; t2 < T; t2++) row[t2] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, v, C3,
                        0.0f, out + (size_t)b * T * C + h * hs, C);
        }
}

/* dP = dY V^T, dV = P^T dY, dS = P * (dP - rowsum(P * dP)) * scale, dQ = dS K, dK = dS^T Q. */
static void attention_backward_gemm(float *dqkv, float *scratch, const float *dout,
                                    const float *qkv, const float *att, int B, int T, int C,
                                    int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs;
            const float *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + (size_t)b * T * C3 + h * hs;
            float *dk = dq + C, *dv = dq + 2 * C;
            const float *a = att + ((size_t)b * NH + h) * T * T;
            float *ds = scratch + ((size_t)b * NH + h) * T * T;
            const float *dy = dout + (size_t)b * T * C + h * hs;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, C3, 0.0f,
                        ds, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, dy, C, 0.0f,
                        dv, C3);
            for (int t = 0; t < T; t++) {
                const float *p = a + (size_t)t * T;
                float *d = ds + (size_t)t * T;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int t2 = 0; t2 <= t; t2++) dot += p[t2] * d[t2];
#pragma omp simd
                for (int t2 = 0; t2 <= t; t2++) d[t2] = p[t2] * (d[t2] - dot) * scale;
                for (int t2 = t + 1; t2 < T; t2++) d[t2] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, ds, T, k, C3,
                        0.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, ds, T, q, C3, 0.0f,
                        dk, C3);
        }
}

/* Scalar loops over one (sample, head, position) at a time, the original llm.c-style kernels.
 * For short sequences they beat the per-head matrix products above: at T = 64 a step would make
 * thousands of 64 x 64 x 64 BLAS calls whose fixed cost exceeds their work. */
static void attention_forward_loops(float *out, float *att, const float *qkv, int B, int T, int C,
                                    int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float mx = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    s *= scale;
                    a[t2] = s;
                    if (s > mx) mx = s;
                }
                float sum = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    float ev = fast_expf(a[t2] - mx);
                    a[t2] = ev;
                    sum += ev;
                }
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 <= t; t2++) a[t2] *= inv;
                for (int t2 = t + 1; t2 < T; t2++) a[t2] = 0.0f;
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float p = a[t2];
#pragma omp simd
                    for (int i = 0; i < hs; i++) o[i] += p * v[i];
                }
            }
}

static void attention_backward_loops(float *dqkv, float *scratch, const float *dout,
                                     const float *qkv, const float *att, int B, int T, int C,
                                     int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    /* one (b, h) per task: it owns the q, k, v columns of head h in rows of sample b */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            for (int t = 0; t < T; t++) {
                float *d = dqkv + ((size_t)b * T + t) * C3 + h * hs;
                memset(d, 0, sizeof(float) * hs);
                memset(d + C, 0, sizeof(float) * hs);
                memset(d + 2 * C, 0, sizeof(float) * hs);
            }
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = scratch + (((size_t)b * NH + h) * T + t) * T;
                const float *dy = dout + ((size_t)b * T + t) * C + h * hs;
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                float *dq = dqkv + ((size_t)b * T + t) * C3 + h * hs;
                /* through y = sum_t2 a[t2] v[t2] */
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float *dv = dqkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float s = 0.0f;
                    float p = a[t2];
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) {
                        s += dy[i] * v[i];
                        dv[i] += p * dy[i];
                    }
                    da[t2] = s;
                }
                /* through the softmax */
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t2 = 0; t2 <= t; t2++) {
                    float dpre = a[t2] * (da[t2] - dot) * scale;
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float *dk = dqkv + ((size_t)b * T + t2) * C3 + C + h * hs;
#pragma omp simd
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                    }
                }
            }
        }
}

/* The crossover measured on the development machine: per-head BLAS wins from T = 128 up
 * (GPT-2-124M shape: 804 vs 707 ms/step at T = 64 with BLAS; at T = 256 the loops took 28% of a
 * pretraining step). Both are exact-order deterministic; they differ in float rounding only. */
#define ATTENTION_GEMM_MIN_T 128

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    if (T >= ATTENTION_GEMM_MIN_T)
        attention_forward_gemm(out, att, qkv, B, T, C, NH);
    else
        attention_forward_loops(out, att, qkv, B, T, C, NH);
}

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH) {
    if (T >= ATTENTION_GEMM_MIN_T)
        attention_backward_gemm(dqkv, scratch, dout, qkv, att, B, T, C, NH);
    else
        attention_backward_loops(dqkv, scratch, dout, qkv, att, B, T, C, NH);
}

/* ---- embeddings ------------------------------------------------------------------------ */

static void embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                              int rows, int T, int C) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *te = wte + (size_t)tokens[r] * C;
        const float *pe = wpe + (size_t)(r % T) * C;
        float *o = out + (size_t)r * C;
        for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
    }
}

/* serial in row order so repeated tokens sum deterministically */
static void embedding_backward(float *dwte, float *dwpe, const float *d, const int32_t *tokens,
                               int rows, int T, int C) {
    for (int r = 0; r < rows; r++) {
        float *te = dwte + (size_t)tokens[r] * C;
        float *pe = dwpe + (size_t)(r % T) * C;
        const float *dr = d + (size_t)r * C;
        for (int i = 0; i < C; i++) {
            te[i] += dr[i];
            pe[i] += dr[i];
        }
    }
}

/* ---- softmax + cross-entropy ----------------------------------------------------------- */

/* each row by one thread; the weighted sum afterwards in row order (deterministic) */
static double softmax_cross_entropy(float *logits, float *losses, const int32_t *targets,
                                    const float *weights, int rows, int V) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float *z = logits + (size_t)r * V;
        float mx = z[0];
        for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; j++) {
            float ev = fast_expf(z[j] - mx);
            z[j] = ev;
            sum += ev;
        }
        float inv = 1.0f / sum;
#pragma omp simd
        for (int j = 0; j < V; j++) z[j] *= inv;
        int tgt = targets[r];
        losses[r] = (tgt >= 0 && tgt < V) ? -logf(z[tgt] > 1e-38f ? z[tgt] : 1e-38f) : 0.0f;
    }
    double total = 0.0;
    for (int r = 0; r < rows; r++)
        if (weights[r] != 0.0f) total += (double)weights[r] * (double)losses[r];
    return total;
}

static void cross_entropy_backward(float *probs, const int32_t *targets, const float *weights,
                                   float scale, int rows, int V) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float *d = probs + (size_t)r * V;
        float wr = scale * weights[r];
        if (wr == 0.0f) {
            memset(d, 0, sizeof(float) * V);
            continue;
        }
#pragma omp simd
        for (int j = 0; j < V; j++) d[j] *= wr;
        d[targets[r]] -= wr;
    }
}

/* ---- buffers --------------------------------------------------------------------------- */

static void copy(float *dst, const float *src, size_t n) {
    memcpy(dst, src, sizeof(float) * n);
}

static void zero(float *dst, size_t n) {
    memset(dst, 0, sizeof(float) * n);
}

/* ---- LoRA ------------------------------------------------------------------------------ */

static void lora_apply(float *out, int ldo, float *h, const float *x, const float *A,
                       const float *B, int rows, int in_dim, int out_dim, int r, float scale) {
    /* h = x @ A^T   [rows, r] */
    sgemm(CblasNoTrans, CblasTrans, rows, r, in_dim, 1.0f, x, in_dim, A, in_dim, 0.0f, h, r);
    /* out += scale * h @ B^T   [rows, out] */
    sgemm(CblasNoTrans, CblasTrans, rows, out_dim, r, scale, h, r, B, r, 1.0f, out, ldo);
}

/* Whether element e survives dropout: its draw is word e%4 of the Philox block e/4 (w caches the
 * block; `fresh` forces a refill). */
static inline int dropout_kept(uint64_t key, uint32_t sub, uint64_t e, float p, uint32_t w[4],
                               int fresh) {
    if (fresh || e % 4 == 0) rng_words(key, RNG_STREAM_DROPOUT, sub, e / 4, w);
    return (float)(w[e % 4] >> 8) * (1.0f / 16777216.0f) >= p;
}

/* Dropout over rows [row0, row0 + rows) of a [*, cols] activation: forward writes
 * out = mask * x / (1 - p); backward adds mask * dy / (1 - p) into dx. The mask is a pure
 * function of (key, sub, element index), so both passes draw the same one. */
static void dropout_rows(float *out, const float *in, int rows, int cols, float p, uint64_t key,
                         uint32_t sub, uint64_t row0, int accumulate) {
    const float keep = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const uint64_t base = (row0 + (uint64_t)r) * (uint64_t)cols;
        uint32_t w[4];
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            int kept = dropout_kept(key, sub, base + (uint64_t)c, p, w, c == 0);
            if (!accumulate)
                out[i] = kept ? in[i] * keep : 0.0f;
            else if (kept)
                out[i] += in[i] * keep;
        }
    }
}

static void dropout_forward(float *out, const float *x, int rows, int cols, float p, uint64_t key,
                            uint32_t sub, uint64_t row0) {
    dropout_rows(out, x, rows, cols, p, key, sub, row0, 0);
}

static void dropout_backward(float *dx, const float *dy, int rows, int cols, float p, uint64_t key,
                             uint32_t sub, uint64_t row0) {
    dropout_rows(dx, dy, rows, cols, p, key, sub, row0, 1);
}

/* ---- optimizer ------------------------------------------------------------------------- */

static void adamw_update(float *p, const float *g, float *m, float *v, size_t n, float decay,
                         float b1, float b2, float eps, float step_size, float bc2_sqrt) {
#pragma omp parallel for simd schedule(static)
    for (size_t j = 0; j < n; j++) {
        p[j] *= decay;
        m[j] = m[j] * b1 + g[j] * (1.0f - b1);
        v[j] = v[j] * b2 + g[j] * g[j] * (1.0f - b2);
        float denom = sqrtf(v[j]) / bc2_sqrt + eps;
        p[j] += -step_size * (m[j] / denom);
    }
}

static double sum_squares(double acc, const float *x, size_t n) {
    for (size_t j = 0; j < n; j++) acc += (double)x[j] * (double)x[j];
    return acc;
}

static void scale(float *x, size_t n, float a) {
    for (size_t j = 0; j < n; j++) x[j] *= a;
}

/* ---- the table ------------------------------------------------------------------------- */

_Static_assert((int)OPS_NO_TRANS == (int)CblasNoTrans && (int)OPS_TRANS == (int)CblasTrans,
               "ops.h's transposition flags are CBLAS's");

static const ModelOps CPU_OPS = {
    .name = "cpu",
    .device = DEVICE_CPU,
    .gemm = sgemm,
    .matmul = mm_forward,
    .matmul_backward_input = mm_backward_input,
    .matmul_backward_weight = mm_backward_weight,
    .lm_head_forward = lm_head_forward,
    .lm_head_backward = lm_head_backward,
    .embedding_forward = embedding_forward,
    .embedding_backward = embedding_backward,
    .layernorm_forward = layernorm_forward,
    .layernorm_backward = layernorm_backward,
    .gelu_forward = gelu_forward,
    .gelu_backward = gelu_backward,
    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .softmax_cross_entropy = softmax_cross_entropy,
    .cross_entropy_backward = cross_entropy_backward,
    .copy = copy,
    .zero = zero,
    .lora_apply = lora_apply,
    .dropout_forward = dropout_forward,
    .dropout_backward = dropout_backward,
    .adamw_update = adamw_update,
    .sum_squares = sum_squares,
    .scale = scale,
};

const ModelOps *model_ops_cpu(void) {
    return &CPU_OPS;
}

const char *blas_core_suggestion(void) {
    const char *core = openblas_get_corename();
    if (!core) return NULL;
    int generic = !strcasecmp(core, "prescott") || !strcasecmp(core, "core2") ||
                  !strcasecmp(core, "nehalem") || !strcasecmp(core, "atom") ||
                  !strcasecmp(core, "katmai") || !strcasecmp(core, "northwood");
    if (!generic) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2")) return "Haswell";
    return NULL;
}

const char *blas_core_warning(void) {
    static char msg[320];
    const char *want = blas_core_suggestion();
    if (!want) return NULL;
    snprintf(msg, sizeof msg,
             "warning: OpenBLAS runs its generic %s kernels on a CPU with %s (it does not know "
             "this CPU model), several times slower; set OPENBLAS_CORETYPE=%s (the bits then "
             "follow that kernel)",
             openblas_get_corename(), !strcmp(want, "SkylakeX") ? "AVX-512" : "AVX2", want);
    return msg;
}
