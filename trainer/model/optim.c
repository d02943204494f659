/*
 * optim.c — AdamW, schedule, clipping. Element-wise work goes through the backend that owns the
 * tensors' memory (ops.h, found from the set's device).
 */
#include "optim.h"

#include <math.h>
#include <string.h>

#include "ops.h"

static void twin_set(TensorSet *dst, const TensorSet *src, const char *what) {
    tensorset_init(dst, src->count);
    for (int i = 0; i < src->count; i++)
        tensorset_add(dst, src->items[i].name, src->items[i].ndim, src->items[i].shape);
    tensorset_alloc(dst, what);
}

void adamw_build(AdamW *o, const TensorSet *params, float beta1, float beta2, float eps,
                 float weight_decay) {
    memset(o, 0, sizeof *o);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    twin_set(&o->m, params, "AdamW first moments");
    twin_set(&o->v, params, "AdamW second moments");
    o->decay = xmalloc((size_t)(params->count > 0 ? params->count : 1), "AdamW decay flags");
    memset(o->decay, 1, (size_t)params->count);
}

void adamw_decay_matrices_only(AdamW *o, const TensorSet *params) {
    for (int i = 0; i < params->count; i++) o->decay[i] = params->items[i].ndim >= 2;
}

void adamw_free(AdamW *o) {
    tensorset_free(&o->m);
    tensorset_free(&o->v);
    xfree(o->decay);
    o->decay = NULL;
}

void adamw_step(AdamW *o, TensorSet *params, const TensorSet *grads, const uint8_t *active,
                float lr) {
    o->t++;
    /* same arithmetic, in the same order, as torch.optim.AdamW (single-tensor path) */
    const float b1 = o->beta1, b2 = o->beta2;
    const double bc1 = 1.0 - pow((double)b1, (double)o->t);
    const double bc2 = 1.0 - pow((double)b2, (double)o->t);
    const float step_size = (float)((double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const ModelOps *ops = model_ops_for(params->device);
    for (int i = 0; i < params->count; i++) {
        if (active && !active[i]) continue;
        const float decay = o->decay[i] ? 1.0f - lr * o->weight_decay : 1.0f;
        ops->adamw_update(params->items[i].data, grads->items[i].data, o->m.items[i].data,
                          o->v.items[i].data, params->items[i].numel, decay, b1, b2, o->eps,
                          step_size, bc2_sqrt);
    }
}

float lr_at(const OptimConfig *oc, int64_t step, int64_t total) {
    const double max_lr = oc->lr, min_lr = oc->lr * oc->min_lr_ratio;
    if (step < oc->warmup) return (float)(max_lr * (double)(step + 1) / (double)oc->warmup);
    double span = (double)(total - oc->warmup);
    double progress = span > 0 ? (double)(step - oc->warmup) / span : 1.0;
    if (progress > 1.0) progress = 1.0;
    switch (oc->schedule) {
    case SCHED_COSINE:
        return (float)(min_lr +
                       (max_lr - min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
    case SCHED_LINEAR:
        return (float)(max_lr - (max_lr - min_lr) * progress);
    case SCHED_CONSTANT:
    default:
        return (float)max_lr;
    }
}

double grad_global_norm(const TensorSet *grads) {
    const ModelOps *ops = model_ops_for(grads->device);
    double s = 0.0;
    for (int i = 0; i < grads->count; i++)
        s = ops->sum_squares(s, grads->items[i].data, grads->items[i].numel);
    return sqrt(s);
}

float grad_clip(TensorSet *grads, double norm, float max_norm) {
    if (max_norm <= 0.0f) return 1.0f;
    float coef = (float)(max_norm / (norm + 1e-6));
    if (coef >= 1.0f) return 1.0f;
    const ModelOps *ops = model_ops_for(grads->device);
    for (int i = 0; i < grads->count; i++)
        ops->scale(grads->items[i].data, grads->items[i].numel, coef);
    return coef;
}
