/*
 * taps.c — names of the tap points (see taps.h; the forward pass calls the taps in model.c).
 */
#include "taps.h"

static const char *const TAP_NAMES[TAP_N_POINTS] = {"embed", "attn_probs", "resid_attn",
                                                    "resid_mlp", "logits"};

const char *tap_point_name(TapPoint p) {
    return ((int)p >= 0 && p < TAP_N_POINTS) ? TAP_NAMES[p] : "?";
}
