/*
 * lora.c — attention-only LoRA: building, initialisation, forward and backward pieces. The
 * arithmetic goes through the backend that owns the adapters' memory (ops.h, found from the
 * parameter set's device).
 */
#define _POSIX_C_SOURCE 200809L
#include "lora.h"

#include <math.h>
#include <string.h>

#include "ops.h"
#include "rng.h"

static const char *TARGET_NAMES[LORA_N_TARGETS] = {"q", "k", "v", "o"};

const char *lora_target_name(int t) {
    return (t >= 0 && t < LORA_N_TARGETS) ? TARGET_NAMES[t] : "?";
}

int lora_spec_check(const LoraSpec *s, int n_layer, Err *e) {
    if (s->rank < 1) return err_set(e, "lora.rank = %d must be at least 1", s->rank);
    if (s->layer_first < 0 || s->layer_first >= n_layer)
        return err_set(e, "lora.layers starts at %d but the model has layers 0..%d", s->layer_first,
                       n_layer - 1);
    if (s->layer_last < s->layer_first || s->layer_last >= n_layer)
        return err_set(e, "lora.layers = [%d, %d] is not a range inside the model's layers 0..%d",
                       s->layer_first, s->layer_last, n_layer - 1);
    if (!(s->targets & (LORA_Q | LORA_K | LORA_V | LORA_O)))
        return err_set(e, "lora.targets is empty; name some of q, k, v, o");
    if (!(s->dropout >= 0.0f && s->dropout < 1.0f))
        return err_set(e, "lora.dropout = %g must be in [0, 1)", s->dropout);
    return 0;
}

void lora_tensor_name(char *buf, size_t n, int layer, int target, char which) {
    snprintf(buf, n, "h.%d.attn.%s.lora_%c", layer, lora_target_name(target), which);
}

void lora_build(Lora *lo, const LoraSpec *spec, int n_layer, int n_embd, int max_rows,
                uint64_t seed) {
    memset(lo, 0, sizeof *lo);
    lo->spec = *spec;
    lo->n_layer = n_layer;
    lo->n_embd = n_embd;
    lo->seed = seed;
    lo->scale = spec->rslora ? spec->alpha / sqrtf((float)spec->rank) : spec->alpha / spec->rank;
    lo->ad = xmalloc(sizeof(LoraAdapter) * (size_t)n_layer * LORA_N_TARGETS, "adapter table");
    const int64_t r = spec->rank, C = n_embd;
    int n = 0;
    for (int l = spec->layer_first; l <= spec->layer_last; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) n += (spec->targets & LORA_BIT(t)) != 0;
    tensorset_init(&lo->params, 2 * n);
    tensorset_init(&lo->grads, 2 * n);
    tensorset_init(&lo->acts, n + 1);
    char nm[TENSOR_NAME_MAX];
    for (int l = spec->layer_first; l <= spec->layer_last; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            if (!(spec->targets & LORA_BIT(t))) continue;
            LoraAdapter *a = &lo->ad[l * LORA_N_TARGETS + t];
            a->in = n_embd;
            a->out = n_embd;
            a->trainable = 1;
            lora_tensor_name(nm, sizeof nm, l, t, 'A');
            a->A = tensorset_add(&lo->params, nm, 2, (const int64_t[]){r, C});
            a->gA = tensorset_add(&lo->grads, nm, 2, (const int64_t[]){r, C});
            lora_tensor_name(nm, sizeof nm, l, t, 'B');
            a->B = tensorset_add(&lo->params, nm, 2, (const int64_t[]){C, r});
            a->gB = tensorset_add(&lo->grads, nm, 2, (const int64_t[]){C, r});
            snprintf(nm, sizeof nm, "act.h.%d.attn.%s.lora_h", l, lora_target_name(t));
            a->h = tensorset_add(&lo->acts, nm, 2, (const int64_t[]){max_rows, r});
        }
    const int64_t scratch_rows = spec->dropout > 0.0f ? max_rows : 0;
    Tensor *scratch =
        tensorset_add(&lo->acts, "act.lora_dropout_x", 2, (const int64_t[]){scratch_rows, C});
    tensorset_alloc(&lo->params, "LoRA parameters");
    tensorset_alloc(&lo->grads, "LoRA gradients");
    tensorset_alloc(&lo->acts, "LoRA activations");
    lo->scratch = scratch->data;

    /* A ~ U(-1/sqrt(in), 1/sqrt(in)) (Kaiming-uniform with a = sqrt(5), as PEFT and
     * torch.nn.Linear), keyed on (seed, layer, target); B = 0 (already zero). */
    for (int l = spec->layer_first; l <= spec->layer_last; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            LoraAdapter *a = lora_get(lo, l, t);
            if (!a) continue;
            float bound = 1.0f / sqrtf((float)a->in);
            rng_fill_uniform(a->A->data, a->A->numel, -bound, bound, seed, RNG_STREAM_LORA_INIT,
                             (uint32_t)(l * LORA_N_TARGETS + t), 0);
        }
}

void lora_free(Lora *lo) {
    tensorset_free(&lo->params);
    tensorset_free(&lo->grads);
    tensorset_free(&lo->acts);
    xfree(lo->ad);
    memset(lo, 0, sizeof *lo);
}

LoraAdapter *lora_get(const Lora *lo, int layer, int target) {
    if (layer < 0 || layer >= lo->n_layer || target < 0 || target >= LORA_N_TARGETS) return NULL;
    LoraAdapter *a = &lo->ad[layer * LORA_N_TARGETS + target];
    return a->A ? a : NULL;
}

void lora_set_trainable(Lora *lo, int layer_first, int layer_last, int targets) {
    for (int l = 0; l < lo->n_layer; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            LoraAdapter *a = lora_get(lo, l, t);
            if (a)
                a->trainable = l >= layer_first && l <= layer_last && (targets & LORA_BIT(t)) != 0;
        }
}

void lora_zero_grad(Lora *lo) {
    model_ops_for(lo->grads.device)->zero(lo->grads.memory, lo->grads.numel);
}

int lora_lowest_layer(const Lora *lo) {
    for (int l = 0; l < lo->n_layer; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            LoraAdapter *a = lora_get(lo, l, t);
            if (a && a->trainable) return l;
        }
    return lo->n_layer;
}

/* ---- dropout ------------------------------------------------------------------------------ */

/* The dropout key of a step: element (row, c) of an adapter's input is kept iff its uniform draw
 * >= p; the draw is keyed on (seed ^ step, adapter, global row * in + c), so the mask is the same
 * on any rank count. */
static uint64_t dropout_key(const Lora *lo, uint64_t step) {
    return lo->seed ^ (step * 0x9E3779B97F4A7C15ULL);
}

/* Writes dropout(x) into the scratch buffer and returns it (or returns x when dropout is off). */
static const float *dropout_apply(const ModelOps *ops, const Lora *lo, int layer, int target,
                                  const float *x, int rows, int in, uint64_t step, uint64_t row0,
                                  int train) {
    const float p = train ? lo->spec.dropout : 0.0f;
    if (p <= 0.0f) return x;
    ops->dropout_forward(lo->scratch, x, rows, in, p, dropout_key(lo, step),
                         (uint32_t)(layer * LORA_N_TARGETS + target), row0);
    return lo->scratch;
}

/* ---- forward / backward ------------------------------------------------------------------- */

void lora_forward(const Lora *lo, LoraAdapter *a, int layer, int target, const float *x, int rows,
                  float *out, int ldo, uint64_t step, uint64_t first_row_global, int train) {
    const ModelOps *ops = model_ops_for(lo->params.device);
    const float *xd =
        dropout_apply(ops, lo, layer, target, x, rows, a->in, step, first_row_global, train);
    /* out += scale * (xd @ A^T) @ B^T, keeping h = xd @ A^T for the backward pass */
    ops->lora_apply(out, ldo, a->h->data, xd, a->A->data, a->B->data, rows, a->in, a->out,
                    lo->spec.rank, lo->scale);
}

void lora_backward(const Lora *lo, LoraAdapter *a, int layer, int target, const float *x, int rows,
                   const float *dout, int ldd, float *dx, uint64_t step, uint64_t first_row_global,
                   int train) {
    const ModelOps *ops = model_ops_for(lo->params.device);
    const int r = lo->spec.rank;
    if (!a->trainable && !dx) return;
    /* gB needs h, so it comes first; then h's buffer is reused for dh = scale * dout @ B */
    if (a->trainable) {
        /* gB[out, r] += scale * dout^T @ h */
        ops->gemm(OPS_TRANS, OPS_NO_TRANS, a->out, r, rows, lo->scale, dout, ldd, a->h->data, r,
                  1.0f, a->gB->data, r);
    }
    float *dh = a->h->data; /* h is no longer needed */
    ops->gemm(OPS_NO_TRANS, OPS_NO_TRANS, rows, r, a->out, lo->scale, dout, ldd, a->B->data, r,
              0.0f, dh, r);
    if (a->trainable) {
        /* gA[r, in] += dh^T @ dropout(x) */
        const float *xd =
            dropout_apply(ops, lo, layer, target, x, rows, a->in, step, first_row_global, train);
        ops->gemm(OPS_TRANS, OPS_NO_TRANS, r, a->in, rows, 1.0f, dh, r, xd, a->in, 1.0f,
                  a->gA->data, a->in);
    }
    if (dx) {
        const float p = train ? lo->spec.dropout : 0.0f;
        if (p <= 0.0f) {
            /* dx += dh @ A */
            ops->gemm(OPS_NO_TRANS, OPS_NO_TRANS, rows, a->in, r, 1.0f, dh, r, a->A->data, a->in,
                      1.0f, dx, a->in);
        } else {
            /* dx += mask/(1-p) * (dh @ A): form dh @ A in the scratch buffer, then mask it
             * with the same draws as the forward pass */
            float *tmp = lo->scratch;
            ops->gemm(OPS_NO_TRANS, OPS_NO_TRANS, rows, a->in, r, 1.0f, dh, r, a->A->data, a->in,
                      0.0f, tmp, a->in);
            ops->dropout_backward(dx, tmp, rows, a->in, p, dropout_key(lo, step),
                                  (uint32_t)(layer * LORA_N_TARGETS + target), first_row_global);
        }
    }
}
