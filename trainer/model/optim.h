/*
 * optim.h — AdamW (decoupled weight decay, PyTorch's update order), the learning-rate
 * schedule, and global-norm gradient clipping.
 *
 * The optimizer works on a TensorSet of parameters and its twin set of gradients (same
 * tensors, same order); its moment estimates m and v are twin sets too, named like the
 * parameters, so they can be saved and restored by name. Tensors flagged inactive (e.g. frozen
 * adapters in a stage) are skipped entirely: no decay, no moment update.
 */
#ifndef IMPRINT_OPTIM_H
#define IMPRINT_OPTIM_H

#include <stdint.h>

#include "config.h"
#include "tensor.h"

typedef struct AdamW {
    float beta1, beta2, eps, weight_decay;
    int64_t t;      /* number of updates applied (bias correction uses t) */
    TensorSet m;    /* first moments, named like the parameters */
    TensorSet v;    /* second moments */
    uint8_t *decay; /* per tensor: 1 = apply weight decay (default), 0 = exempt */
} AdamW;

/* Allocates m and v (zero) shaped like params. */
void adamw_build(AdamW *o, const TensorSet *params, float beta1, float beta2, float eps,
                 float weight_decay);
void adamw_free(AdamW *o);

/* Weight decay only for tensors of at least 2 dimensions (matrices and embeddings), the usual
 * choice for pretraining: biases and LayerNorm gains are exempt. */
void adamw_decay_matrices_only(AdamW *o, const TensorSet *params);

/* One update with learning rate lr. active[i] (may be NULL = all) gates tensor i. */
void adamw_step(AdamW *o, TensorSet *params, const TensorSet *grads, const uint8_t *active,
                float lr);

/* Learning rate for 0-based `step` of `total` (warmup, then cosine/linear/constant decay to
 * lr * min_lr_ratio). */
float lr_at(const OptimConfig *oc, int64_t step, int64_t total);

/* L2 norm of all gradients (double accumulation, fixed order). */
double grad_global_norm(const TensorSet *grads);

/* Scales gradients so their norm is at most max_norm (PyTorch's clip_grad_norm_: factor
 * max_norm / (norm + 1e-6) when below 1). Returns the factor applied (1 if none). */
float grad_clip(TensorSet *grads, double norm, float max_norm);

#endif
