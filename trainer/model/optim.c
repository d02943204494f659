/*
 * optim.c — AdamW, schedule, clipping.
 */
#include "optim.h"

#include <math.h>
#include <string.h>

#include "model.h" /* tensorset_* */

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
    for (int i = 0; i < params->count; i++) {
        if (active && !active[i]) continue;
        const float decay = o->decay[i] ? 1.0f - lr * o->weight_decay : 1.0f;
        float *p = params->items[i].data;
        const float *g = grads->items[i].data;
        float *m = o->m.items[i].data, *v = o->v.items[i].data;
        const size_t n = params->items[i].numel;
#pragma omp parallel for simd schedule(static)
        for (size_t j = 0; j < n; j++) {
            p[j] *= decay;
            m[j] = m[j] * b1 + g[j] * (1.0f - b1);
            v[j] = v[j] * b2 + g[j] * g[j] * (1.0f - b2);
            float denom = sqrtf(v[j]) / bc2_sqrt + o->eps;
            p[j] += -step_size * (m[j] / denom);
        }
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
    double s = 0.0;
    for (int i = 0; i < grads->count; i++) {
        const float *g = grads->items[i].data;
        for (size_t j = 0; j < grads->items[i].numel; j++) s += (double)g[j] * (double)g[j];
    }
    return sqrt(s);
}

float grad_clip(TensorSet *grads, double norm, float max_norm) {
    if (max_norm <= 0.0f) return 1.0f;
    float coef = (float)(max_norm / (norm + 1e-6));
    if (coef >= 1.0f) return 1.0f;
    for (int i = 0; i < grads->count; i++) {
        float *g = grads->items[i].data;
        for (size_t j = 0; j < grads->items[i].numel; j++) g[j] *= coef;
    }
    return coef;
}
