/*
 * test_taps.c — the read-only activation taps of taps.h.
 *
 * On a small random model with a LoRA adapter (non-zero B, dropout on, so every branch of the
 * forward runs), for a short sequence (attention's loop kernels) and a long one (its per-head
 * matrix-product path):
 *   (a) logits with taps attached are bit-identical to logits without, and detaching restores
 *       the untapped path;
 *   (b) every layer's attention-probability tap has rows summing to 1 and is causal (exact
 *       zeros above the diagonal);
 *   (c) the residual tap after the last layer, through the final LayerNorm and the tied
 *       unembedding computed here by hand in double, reproduces the logits within 1e-5;
 * and the taps arrive in forward order with the documented names, layers and shapes, and the
 * mask selects points.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "model.h"
#include "rng.h"
#include "taps.h"
#include "testlib.h"

enum { L = 3, NH = 2, C = 16, V = 23, CTX = 160, R = 2, MAX_CALLS = 64 };
static const uint64_t SEED = 7;

/* What the callback saw: a copy of every view. */
typedef struct Seen {
    int n;
    TapView v[MAX_CALLS];
    float *data[MAX_CALLS];
} Seen;

static void record(const TapView *view, void *user) {
    Seen *s = user;
    if (s->n >= MAX_CALLS) return;
    size_t n = 1;
    for (int i = 0; i < view->ndim; i++) n *= (size_t)view->shape[i];
    s->v[s->n] = *view;
    s->data[s->n] = malloc(sizeof(float) * n);
    memcpy(s->data[s->n], view->data, sizeof(float) * n);
    s->v[s->n].data = s->data[s->n];
    s->n++;
}

static void seen_free(Seen *s) {
    for (int i = 0; i < s->n; i++) free(s->data[i]);
    s->n = 0;
}

static void check_shape(const TapView *v, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                        const char *what) {
    int ok = v->ndim == ndim && v->shape[0] == d0 && v->shape[1] == d1 && v->shape[2] == d2 &&
             (ndim < 4 || v->shape[3] == d3);
    CHECK(ok, "%s: shape", what);
}

static void run(int B, int T) {
    char what[128];
    GPT2Config cfg = {L, NH, C, V, CTX, 1e-5f};
    GPT2 m;
    gpt2_build(&m, &cfg, B, T);
    gpt2_init_random(&m, 0.2f, SEED);
    for (int i = 0; i < m.params.set.count; i++) { /* non-trivial LayerNorm gains and biases */
        Tensor *t = &m.params.set.items[i];
        if (strstr(t->name, "ln_") || strstr(t->name, ".bias"))
            for (size_t j = 0; j < t->numel; j++)
                t->data[j] += 0.2f * (rng_uniform(SEED, 77, (uint32_t)i, j) - 0.5f);
    }
    LoraSpec spec = {R, 4.0f, 0, 0.1f, 0xF, 0, L - 1};
    Lora lo;
    lora_build(&lo, &spec, L, C, B * T, SEED);
    for (int i = 0; i < lo.params.count; i++) {
        Tensor *t = &lo.params.items[i];
        if (t->name[strlen(t->name) - 1] == 'B')
            rng_fill_uniform(t->data, t->numel, -0.5f, 0.5f, SEED, 88, (uint32_t)i, 0);
    }
    const int rows = B * T;
    int32_t *inputs = malloc(sizeof(int32_t) * rows);
    for (int i = 0; i < rows; i++) inputs[i] = (int32_t)(rng_u64(SEED, 99, 0, i) % V);
    Batch bt = {inputs, NULL, NULL, B, T, 3, 5, 1};
    Err e;
    const size_t nlogits = (size_t)rows * V;
    float *plain = malloc(sizeof(float) * nlogits);

    /* no taps */
    CHECK(m.taps == NULL, "T=%d: no taps by default", T);
    CHECK(gpt2_forward(&m, &lo, &bt, &e) == 0, "T=%d: forward without taps", T);
    memcpy(plain, m.acts.logits->data, sizeof(float) * nlogits);

    /* every point */
    Seen seen = {0};
    ModelTaps taps = {record, &seen, TAP_ALL};
    gpt2_set_taps(&m, &taps);
    CHECK(gpt2_forward(&m, &lo, &bt, &e) == 0, "T=%d: forward with taps", T);
    CHECK(memcmp(plain, m.acts.logits->data, sizeof(float) * nlogits) == 0,
          "T=%d: (a) logits with taps are bit-identical to logits without", T);

    /* order, names, layers, shapes */
    CHECK(seen.n == 2 + 3 * L, "T=%d: %d tap calls (want %d)", T, seen.n, 2 + 3 * L);
    if (seen.n == 2 + 3 * L) {
        snprintf(what, sizeof what, "T=%d embed", T);
        CHECK(seen.v[0].point == TAP_EMBED && seen.v[0].layer == -1 &&
                  !strcmp(seen.v[0].name, "embed"),
              "%s: point", what);
        check_shape(&seen.v[0], 3, B, T, C, 0, what);
        for (int l = 0; l < L; l++) {
            const TapView *pa = &seen.v[1 + 3 * l], *ra = &seen.v[2 + 3 * l],
                          *rm = &seen.v[3 + 3 * l];
            snprintf(what, sizeof what, "T=%d layer %d", T, l);
            CHECK(pa->point == TAP_ATTN_PROBS && pa->layer == l && !strcmp(pa->name, "attn_probs"),
                  "%s: attn_probs", what);
            CHECK(ra->point == TAP_RESID_ATTN && ra->layer == l && !strcmp(ra->name, "resid_attn"),
                  "%s: resid_attn", what);
            CHECK(rm->point == TAP_RESID_MLP && rm->layer == l && !strcmp(rm->name, "resid_mlp"),
                  "%s: resid_mlp", what);
            check_shape(pa, 4, B, NH, T, T, what);
            check_shape(ra, 3, B, T, C, 0, what);
            check_shape(rm, 3, B, T, C, 0, what);

            /* (b) rows sum to 1, causal */
            double worst_sum = 0.0;
            int above = 0, negative = 0;
            for (int b = 0; b < B; b++)
                for (int h = 0; h < NH; h++)
                    for (int t = 0; t < T; t++) {
                        const float *row = pa->data + (((size_t)b * NH + h) * T + t) * T;
                        double s = 0.0;
                        for (int t2 = 0; t2 < T; t2++) {
                            s += row[t2];
                            if (t2 > t && row[t2] != 0.0f) above++;
                            if (row[t2] < 0.0f) negative++;
                        }
                        if (fabs(s - 1.0) > worst_sum) worst_sum = fabs(s - 1.0);
                    }
            CHECK(worst_sum < 1e-5, "%s: (b) attention rows sum to 1 (worst |sum-1| %.3g)", what,
                  worst_sum);
            CHECK(above == 0 && negative == 0,
                  "%s: (b) attention is causal: %d non-zero above the diagonal, %d negative", what,
                  above, negative);
        }
        const TapView *lg = &seen.v[1 + 3 * L];
        snprintf(what, sizeof what, "T=%d logits", T);
        CHECK(lg->point == TAP_LOGITS && lg->layer == -1 && !strcmp(lg->name, "logits"),
              "%s: point", what);
        check_shape(lg, 3, B, T, V, 0, what);
        CHECK(memcmp(lg->data, plain, sizeof(float) * nlogits) == 0, "%s: tap = the logits", what);

        /* (c) last residual -> ln_f -> tied unembedding, by hand in double */
        const float *res = seen.v[3 * L].data;
        const float *wf = m.params.lnf_w->data, *bf = m.params.lnf_b->data;
        const float *wte = m.params.wte->data;
        double worst = 0.0;
        for (int r = 0; r < rows; r++) {
            const float *x = res + (size_t)r * C;
            double mean = 0.0, var = 0.0, y[C];
            for (int i = 0; i < C; i++) mean += x[i];
            mean /= C;
            for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
            var /= C;
            double rs = 1.0 / sqrt(var + cfg.ln_eps);
            for (int i = 0; i < C; i++) y[i] = (x[i] - mean) * rs * wf[i] + bf[i];
            for (int v = 0; v < V; v++) {
                double z = 0.0;
                for (int i = 0; i < C; i++) z += y[i] * wte[(size_t)v * C + i];
                double d = fabs(z - plain[(size_t)r * V + v]);
                if (d > worst) worst = d;
            }
        }
        CHECK(worst <= 1e-5, "T=%d: (c) ln_f(last residual) @ wte^T = logits (worst %.3g)", T,
              worst);
    }
    seen_free(&seen);

    /* the mask selects points */
    taps.mask = 1u << TAP_ATTN_PROBS;
    CHECK(gpt2_forward(&m, &lo, &bt, &e) == 0, "T=%d: forward with one point", T);
    int only = seen.n == L;
    for (int i = 0; i < seen.n; i++) only = only && seen.v[i].point == TAP_ATTN_PROBS;
    CHECK(only, "T=%d: mask = attn_probs gives %d attn_probs calls (got %d calls)", T, L, seen.n);
    seen_free(&seen);

    /* detached: the untapped path again, same bits */
    gpt2_set_taps(&m, NULL);
    CHECK(gpt2_forward(&m, &lo, &bt, &e) == 0, "T=%d: forward after detaching", T);
    CHECK(seen.n == 0, "T=%d: no calls after detaching", T);
    CHECK(memcmp(plain, m.acts.logits->data, sizeof(float) * nlogits) == 0,
          "T=%d: logits after detaching are bit-identical", T);

    free(plain);
    free(inputs);
    lora_free(&lo);
    gpt2_free(&m);
}

int main(void) {
    CHECK(!strcmp(tap_point_name(TAP_RESID_MLP), "resid_mlp"), "tap_point_name");
    CHECK(!strcmp(tap_point_name(TAP_N_POINTS), "?"), "tap_point_name out of range");
    run(2, 7);   /* attention's loop kernels */
    run(1, 136); /* attention's per-head matrix products (T >= 128) */
    return tl_finish("taps");
}
