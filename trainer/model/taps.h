/*
 * taps.h — read-only views of the forward pass's activations, for trace and analysis tools.
 *
 * A caller fills a ModelTaps and attaches it with gpt2_set_taps(&model, &taps); every
 * gpt2_forward then calls taps.fn once per selected point, in forward order, right after the
 * point's activation is computed:
 *
 *   TAP_EMBED        layer -1  "embed"       [B, T, C]      token + position embeddings
 *   TAP_ATTN_PROBS   layer l   "attn_probs"  [B, NH, T, T]  softmax probabilities (causal: zero
 *                                                           above the diagonal)
 *   TAP_RESID_ATTN   layer l   "resid_attn"  [B, T, C]      residual stream after attention
 *   TAP_RESID_MLP    layer l   "resid_mlp"   [B, T, C]      residual stream after the MLP (the
 *                                                           layer's output; for the last layer
 *                                                           the input of ln_f)
 *   TAP_LOGITS       layer -1  "logits"      [B, T, V]      final logits (before gpt2_loss
 *                                                           turns them into probabilities)
 *
 * Views are const and valid only during the callback (the memory is the model's activation
 * buffers, reused by the next pass); copy what you keep. A callback must not change the model.
 * On the CPU backend the data is host memory; a GPU backend would copy to host first.
 *
 * With no taps attached (the default; gpt2_set_taps(&model, NULL) detaches) the forward pass
 * does no extra work and allocates nothing, and taps never change what the forward computes:
 * the logits are bit-identical with and without them (tests/test_taps.c).
 */
#ifndef IMPRINT_TAPS_H
#define IMPRINT_TAPS_H

#include <stdint.h>

typedef enum TapPoint {
    TAP_EMBED = 0,
    TAP_ATTN_PROBS = 1,
    TAP_RESID_ATTN = 2,
    TAP_RESID_MLP = 3,
    TAP_LOGITS = 4,
    TAP_N_POINTS = 5
} TapPoint;

#define TAP_ALL ((1u << TAP_N_POINTS) - 1u)

typedef struct TapView {
    TapPoint point;
    int layer;        /* 0-based layer, -1 for TAP_EMBED and TAP_LOGITS */
    const char *name; /* "embed", "attn_probs", "resid_attn", "resid_mlp", "logits" */
    const float *data;
    int ndim;
    int64_t shape[4]; /* row-major, contiguous */
} TapView;

typedef void (*TapFn)(const TapView *view, void *user);

typedef struct ModelTaps {
    TapFn fn;      /* called for each selected point; NULL = nothing is called */
    void *user;    /* passed through to fn */
    unsigned mask; /* bit (1u << TapPoint) selects a point; TAP_ALL for every one */
} ModelTaps;

/* The name of a tap point ("embed", ...), or "?" */
const char *tap_point_name(TapPoint p);

#endif
