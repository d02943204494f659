/*
 * kernels_cpu.h — the CPU backend's building blocks of the transformer: matrix products through
 * CBLAS, and vectorised (OpenMP SIMD) element-wise and row-wise operations. Row loops are split
 * over OpenMP threads; every output element is computed by exactly one thread in a fixed order,
 * and matrix products go through sgemm() below, so results do not depend on the thread count.
 *
 * The model does not call these directly: it calls through the ModelOps table (ops.h) that
 * model_ops_cpu() returns, which points at these functions and at the rest of the CPU backend
 * (embeddings, loss, LoRA dropout, AdamW) in kernels_cpu.c. They stay public for tests and
 * benchmarks.
 *
 * Shapes: row-major; "rows" is B*T; weights in Conv1D layout [in, out].
 */
#ifndef IMPRINT_KERNELS_CPU_H
#define IMPRINT_KERNELS_CPU_H

#include <stddef.h>
#include <stdint.h>

/* C[M, N] = alpha * op(A)[M, K] @ op(B)[K, N] + beta * C, row-major, as cblas_sgemm (trans_a,
 * trans_b: CblasNoTrans or CblasTrans). The product is cut into blocks of about SGEMM_BLOCK
 * rows or columns (at most SGEMM_MAX_BLOCKS; the dimension whose blocks repack less data) that
 * depend only on the shape; each block is one BLAS call on one thread, and the blocks are
 * spread over OpenMP threads. Every element therefore comes from the same call on the same
 * operands whatever the thread count. A multi-threaded BLAS call does not promise that:
 * OpenBLAS's Haswell kernels give different bits for the same element when a call is
 * partitioned over 1 or 2 threads. Inside the parallel region OpenBLAS's OpenMP build runs each
 * call on one thread; with one OpenMP thread it follows omp_get_max_threads() = 1. */
/* NULL, or a one-line warning when OpenBLAS runs generic kernels on a CPU that has AVX2 or
 * AVX-512: an OpenBLAS older than the CPU does not recognise it and falls back to its Prescott
 * (SSE3) kernels, several times slower (0.3.21 on Sapphire Rapids: about 5x). The fix,
 * OPENBLAS_CORETYPE, changes which kernel runs and therefore the bits (the manifest records the
 * kernel in use, from openblas_get_config()). */
const char *blas_core_warning(void);
/* The OPENBLAS_CORETYPE that fixes it ("SkylakeX" or "Haswell"), or NULL when nothing needs
 * fixing. */
const char *blas_core_suggestion(void);

#define SGEMM_BLOCK      128
#define SGEMM_MAX_BLOCKS 64
void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
           const float *B, int ldb, float beta, float *C, int ldc);

/* out[rows, ldo] (= or +=) in[rows, in] @ w[in, out] (+ bias[out]). With accumulate, adds to
 * the existing out; otherwise overwrites it. */
void mm_forward(float *out, int ldo, const float *in, const float *w, const float *bias, int rows,
                int in_dim, int out_dim, int accumulate);

/* din[rows, in] (= or +=) dout[rows, ldd] @ w^T. */
void mm_backward_input(float *din, const float *dout, int ldd, const float *w, int rows, int in_dim,
                       int out_dim, int accumulate);

/* dw[in, out] += in^T @ dout; dbias[out] += column sums of dout (dbias may be NULL). */
void mm_backward_weight(float *dw, float *dbias, const float *in, const float *dout, int ldd,
                        int rows, int in_dim, int out_dim);

/* Tied LM head: logits[rows, V] = x[rows, C] @ wte[V, C]^T. */
void lm_head_forward(float *logits, const float *x, const float *wte, int rows, int C, int V);
/* dx[rows, C] = dlogits @ wte;  dwte[V, C] += dlogits^T @ x when dwte is not NULL. */
void lm_head_backward(float *dx, float *dwte, const float *dlogits, const float *x,
                      const float *wte, int rows, int C, int V);

void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w,
                       const float *b, int rows, int C, float eps);

/* din += d(out)/d(in) . dout;  dw, db += ... when not NULL. */
void layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, const float *mean, const float *rstd, int rows, int C);

void gelu_forward(float *out, const float *in, size_t n);
/* d_inout holds dL/d(out) on entry and dL/d(in) on exit. */
void gelu_backward(float *d_inout, const float *in, size_t n);

/* Causal multi-head attention on qkv [B,T,3C] -> out [B,T,C]; att [B,NH,T,T] keeps the
 * softmax probabilities for the backward pass. */
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH);

/* dqkv [B,T,3C] is overwritten; scratch [B,NH,T,T]. */
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH);

/* exp(x) for float, vectorisable, within 2 ulp for x in [-87, 88]. */
static inline float fast_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float log2e = 1.44269504088896341f;
    float n = (x * log2e + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693145751953125f - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } s;
    s.i = ((int32_t)n + 127) << 23;
    return p * s.f;
}

#endif
