/*
 * lora.h — attention-only LoRA adapters for GPT-2.
 *
 * Each adapted projection P in {q, k, v, o} of layer l has its own pair
 *     A [r, in]  (Kaiming-uniform init),  B [out, r]  (zero init)
 * and adds  scale * dropout(x) A^T B^T  to the projection's output, where x is the
 * projection's input (ln_1 output for q, k, v; the attention output for o). q, k and v are
 * separate adapters on the column blocks of the fused c_attn (the per-projection
 * parameterisation of the original LoRA paper), not one adapter shared by the fused layer.
 *
 * All adapter parameters live in one allocation in a fixed order, and so do their gradients:
 * the gradient buffer is the flat vector that crosses ranks once per step.
 */
#ifndef IMPRINT_LORA_H
#define IMPRINT_LORA_H

#include <stdint.h>

#include "config.h" /* LORA_TARGET_* (adapter order) and LORA_BIT(): one definition */
#include "tensor.h"
#include "util.h"

typedef struct LoraSpec {
    int rank;
    float alpha;
    int rslora;
    float dropout;
    int targets;     /* bit mask: LORA_BIT(LORA_TARGET_*), i.e. LORA_Q | ... */
    int layer_first; /* inclusive */
    int layer_last;  /* inclusive */
} LoraSpec;

typedef struct LoraAdapter {
    Tensor *A, *B;   /* params: [r, in], [out, r] */
    Tensor *gA, *gB; /* gradients, same shapes */
    Tensor *h;       /* activation: x A^T for the last forward, [maxBT, r] */
    int in, out;
    int trainable; /* per-stage switch: frozen adapters still apply, but get no gradient */
} LoraAdapter;

typedef struct Lora {
    LoraSpec spec;
    float scale; /* alpha/r or alpha/sqrt(r); set to 0 to evaluate the base model */
    int n_layer;
    int n_embd;
    LoraAdapter *ad; /* [n_layer * 4]; ad[l*4+t].A == NULL where not adapted */
    TensorSet params;
    TensorSet grads;
    TensorSet acts; /* h buffers and the dropout scratch */
    float *scratch; /* [maxBT, n_embd] for dropout(x) */
    uint64_t seed;  /* keys init and dropout */
} Lora;

/* Human-readable target letter ("q", "k", "v", "o"). */
const char *lora_target_name(int t);

/* Validates the spec against the model depth/width. */
int lora_spec_check(const LoraSpec *s, int n_layer, Err *e);

/* Builds the adapters for a model of n_layer layers and width n_embd, activations for
 * max_rows = B*T rows, and initialises A (Kaiming-uniform, a = sqrt(5), i.e. U(-1/sqrt(in),
 * 1/sqrt(in))) from the counter RNG keyed on (seed, layer, target) and B = 0. Nothing depends
 * on the rank. */
void lora_build(Lora *lo, const LoraSpec *spec, int n_layer, int n_embd, int max_rows,
                uint64_t seed);
void lora_free(Lora *lo);

LoraAdapter *lora_get(const Lora *lo, int layer, int target); /* NULL if absent */

/* Marks which adapters learn in the current stage (others stay frozen but applied). */
void lora_set_trainable(Lora *lo, int layer_first, int layer_last, int targets);

void lora_zero_grad(Lora *lo);

/* Tensor names used in adapter files: "h.<l>.attn.<q|k|v|o>.lora_A" / "lora_B". */
void lora_tensor_name(char *buf, size_t n, int layer, int target, char which);

/* Lowest layer holding an adapter (the backward pass stops there). */
int lora_lowest_layer(const Lora *lo);

/* ---- forward/backward pieces (called by the model) ------------------------------------ */

/* out[rows, ldo-strided] += scale * dropout(x) A^T B^T.  x: [rows, in]. Row i is global
 * row first_row_global + i (sample * T + position), which keys its dropout mask. */
void lora_forward(const Lora *lo, LoraAdapter *a, int layer, int target, const float *x, int rows,
                  float *out, int ldo, uint64_t step, uint64_t first_row_global, int train);

/* Given dout [rows, ldd-strided] for the projection output: accumulates gA, gB (if trainable)
 * and, if dx != NULL, adds the adapter's contribution to dx [rows, in]. */
void lora_backward(const Lora *lo, LoraAdapter *a, int layer, int target, const float *x, int rows,
                   const float *dout, int ldd, float *dx, uint64_t step, uint64_t first_row_global,
                   int train);

#endif
