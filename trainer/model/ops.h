/*
 * ops.h — the backend seam: every operation the forward pass, the backward pass, the LoRA
 * adapters and the optimizer perform on tensor memory, as one table of function pointers.
 *
 * model.c, lora.c and optim.c are written once against ModelOps and never touch tensor memory
 * themselves (they only compute pointers and shapes), so the same code can run where the
 * memory lives. Today there is one backend, the CPU (kernels_cpu.c: OpenBLAS + OpenMP,
 * thread-count invariant), and every TensorSet is on DEVICE_CPU.
 *
 * Contract for every backend:
 *   - every pointer argument points into memory on the backend's device (tensor sets whose
 *     `device` is the backend's); scalars (shapes, eps, scale, keys) are plain host values;
 *   - row-major layout, weights in Conv1D layout [in, out], "rows" = B*T; the shapes are those of
 *     the CPU functions declared in kernels_cpu.h, which document each operation;
 *   - results depend only on the inputs (not on thread or stream counts), so a run is
 *     reproducible; a new backend need not match the CPU's bits, only its arithmetic within
 *     float rounding (tests/test_gradcheck.c and the torch parity tests say how close).
 *
 * Adding a backend (CUDA, as planned):
 *   1. trainer/model/kernels_cuda.cu defines `const ModelOps *model_ops_cuda(void)` filling every
 *      field below with kernels (cuBLAS for gemm/matmul/lm_head; custom kernels for the rest;
 *      the LoRA dropout draws the same Philox words, rng.h, so masks agree with the CPU).
 *   2. core/tensor.h gains DEVICE_CUDA; tensorset_alloc learns to allocate device memory for a
 *      set whose device is DEVICE_CUDA (and to free it), and model_ops_for() (ops.c) returns
 *      model_ops_cuda() for it. File I/O, the gradient all-reduce and the taps then read through
 *      explicit copies, never through raw pointers.
 *   3. CMake: with IMPRINT_CUDA (option in the top CMakeLists.txt, AUTO/ON/OFF; IMPRINT_WITH_CUDA
 *      when nvcc is found) add kernels_cuda.cu to imprint_model, link CUDA::cudart and
 *      CUDA::cublas, and define IMPRINT_WITH_CUDA=1 so ops.c and gpt2_build can choose it.
 *   4. Run the gradient checks and the torch parity tests on the new backend.
 */
#ifndef IMPRINT_OPS_H
#define IMPRINT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

typedef struct ModelOps {
    const char *name; /* "cpu" */
    Device device;    /* where the memory these operations read and write lives */

    /* ---- matrix products ---- */
    /* C[M,N] = alpha * op(A) @ op(B) + beta * C, row-major; trans_*: OPS_NO_TRANS / OPS_TRANS */
    void (*gemm)(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* out[rows, ldo] (= or +=) in[rows, in] @ w[in, out] (+ bias[out]) */
    void (*matmul)(float *out, int ldo, const float *in, const float *w, const float *bias,
                   int rows, int in_dim, int out_dim, int accumulate);
    /* din[rows, in] (= or +=) dout[rows, ldd] @ w^T */
    void (*matmul_backward_input)(float *din, const float *dout, int ldd, const float *w, int rows,
                                  int in_dim, int out_dim, int accumulate);
    /* dw[in, out] += in^T @ dout; dbias[out] += column sums of dout (dbias may be NULL) */
    void (*matmul_backward_weight)(float *dw, float *dbias, const float *in, const float *dout,
                                   int ldd, int rows, int in_dim, int out_dim);
    /* tied LM head: logits[rows, V] = x[rows, C] @ wte[V, C]^T */
    void (*lm_head_forward)(float *logits, const float *x, const float *wte, int rows, int C,
                            int V);
    /* dx = dlogits @ wte; dwte += dlogits^T @ x when dwte is not NULL */
    void (*lm_head_backward)(float *dx, float *dwte, const float *dlogits, const float *x,
                             const float *wte, int rows, int C, int V);

    /* ---- embeddings ---- */
    /* out[r] = wte[tokens[r]] + wpe[r % T] for r < rows; tokens is host memory */
    void (*embedding_forward)(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                              int rows, int T, int C);
    /* dwte[tokens[r]] += d[r], dwpe[r % T] += d[r], rows in order (repeated tokens sum in a
     * fixed order) */
    void (*embedding_backward)(float *dwte, float *dwpe, const float *d, const int32_t *tokens,
                               int rows, int T, int C);

    /* ---- normalisation, activation, attention ---- */
    void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *in, const float *w,
                              const float *b, int rows, int C, float eps);
    /* din += ...; dw, db += ... when not NULL */
    void (*layernorm_backward)(float *din, float *dw, float *db, const float *dout, const float *in,
                               const float *w, const float *mean, const float *rstd, int rows,
                               int C);
    void (*gelu_forward)(float *out, const float *in, size_t n);
    /* d_inout: dL/d(out) in, dL/d(in) out */
    void (*gelu_backward)(float *d_inout, const float *in, size_t n);
    /* causal multi-head attention: qkv [B,T,3C] -> out [B,T,C], att [B,NH,T,T] probabilities */
    void (*attention_forward)(float *out, float *att, const float *qkv, int B, int T, int C,
                              int NH);
    /* dqkv [B,T,3C] overwritten; scratch [B,NH,T,T] */
    void (*attention_backward)(float *dqkv, float *scratch, const float *dout, const float *qkv,
                               const float *att, int B, int T, int C, int NH);

    /* ---- loss ---- */
    /* In place: logits[rows, V] -> softmax probabilities; losses[r] = -log p[targets[r]] (0 for
     * a target outside [0, V)). Returns sum_r weights[r] * losses[r] over rows of nonzero
     * weight, in double, in row order. targets, weights are host memory. */
    double (*softmax_cross_entropy)(float *logits, float *losses, const int32_t *targets,
                                    const float *weights, int rows, int V);
    /* In place: probs -> dlogits = scale * weights[r] * (probs - onehot(targets[r])), rows of
     * weight 0 zeroed. targets, weights are host memory. */
    void (*cross_entropy_backward)(float *probs, const int32_t *targets, const float *weights,
                                   float scale, int rows, int V);

    /* ---- the residual stream and buffers ---- */
    /* dst[n] = src[n] (a layer's output starts as a copy of its input; the branch's matmul then
     * accumulates into it: the residual add) */
    void (*copy)(float *dst, const float *src, size_t n);
    void (*zero)(float *dst, size_t n);

    /* ---- LoRA ---- */
    /* out[rows, ldo] += scale * (x @ A^T) @ B^T; h[rows, r] keeps x @ A^T. A [r, in], B [out, r] */
    void (*lora_apply)(float *out, int ldo, float *h, const float *x, const float *A,
                       const float *B, int rows, int in_dim, int out_dim, int r, float scale);
    /* Inverted dropout keyed by position: element (row, c) is kept iff the Philox draw for
     * (key, sub, (row0 + row) * cols + c) is >= p (rng.h, RNG_STREAM_DROPOUT).
     * forward: out = kept ? x / (1 - p) : 0.  backward: dx += kept ? dy / (1 - p) : 0. */
    void (*dropout_forward)(float *out, const float *x, int rows, int cols, float p, uint64_t key,
                            uint32_t sub, uint64_t row0);
    void (*dropout_backward)(float *dx, const float *dy, int rows, int cols, float p, uint64_t key,
                             uint32_t sub, uint64_t row0);

    /* ---- optimizer ---- */
    /* AdamW on n elements (torch.optim.AdamW's single-tensor order): p *= decay;
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= step_size * m / (sqrt(v)/bc2_sqrt + eps) */
    void (*adamw_update)(float *p, const float *g, float *m, float *v, size_t n, float decay,
                         float b1, float b2, float eps, float step_size, float bc2_sqrt);
    /* acc + sum of x[i]^2 in double, in index order (chained over tensors for a global norm) */
    double (*sum_squares)(double acc, const float *x, size_t n);
    /* x[n] *= a */
    void (*scale)(float *x, size_t n, float a);
} ModelOps;

/* gemm's transposition flags (the values of CBLAS's CblasNoTrans / CblasTrans). */
enum { OPS_NO_TRANS = 111, OPS_TRANS = 112 };

/* The CPU backend (kernels_cpu.c). */
const ModelOps *model_ops_cpu(void);

/* The backend that owns memory on `device`. Lora and AdamW find theirs from their tensor sets;
 * a device this build has no backend for is a programming error (fatal). */
const ModelOps *model_ops_for(Device device);

#endif
