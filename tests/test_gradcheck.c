/*
 * test_gradcheck.c — gradients of the fp32 model against central finite differences of an
 * independent fp64 reference implementation of GPT-2 + LoRA written here.
 *
 * Why this is a fair check: the reference shares no code with trainer/ (plain loops in double,
 * exact tanh GELU, libm exp), so a wrong backward formula cannot hide behind a matching wrong
 * forward. Finite differences in fp64 with h = 1e-5 have truncation error ~h^2 * f''' ≈ 1e-10
 * and rounding error ~1e-16/h ≈ 1e-11, negligible; what remains is fp32 rounding in the model
 * under test (~1e-7 relative per op, accumulated over a few hundred ops), so gradients must
 * agree to 2e-3 relative plus 2e-6 absolute (the absolute part covers gradients that are
 * near zero by cancellation). The fp32 loss must match the fp64 loss to 1e-5 relative.
 *
 * Cases: all targets on all layers; a partial adapter (q and o of the top layer only: the
 * backward stops early); dropout 0.3 (the reference redraws the same Philox mask); a frozen
 * adapter (zero gradient); full-parameter gradients for every base tensor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "model.h"
#include "rng.h"
#include "testlib.h"

enum { L = 2, NH = 2, C = 8, V = 11, CTX = 6, B = 2, T = 5, R = 2 };
static const uint64_t SEED = 99;
static const uint64_t STEP = 3, FIRST_SAMPLE = 5;

/* ---- the fp64 reference ------------------------------------------------------------------- */

typedef struct Ref {
    const GPT2 *m;
    const Lora *lo;
    double *p; /* base params, same order/offsets as m->params.set (unpadded copy) */
    double *a; /* lora params, same order as lo->params */
    size_t *p_off, *a_off;
} Ref;

static double *rp(const Ref *r, const char *name) {
    for (int i = 0; i < r->m->params.set.count; i++)
        if (!strcmp(r->m->params.set.items[i].name, name)) return r->p + r->p_off[i];
    fprintf(stderr, "no base tensor %s\n", name);
    exit(2);
}

static double *ra(const Ref *r, int layer, int target, char which) {
    char nm[TENSOR_NAME_MAX];
    lora_tensor_name(nm, sizeof nm, layer, target, which);
    for (int i = 0; i < r->lo->params.count; i++)
        if (!strcmp(r->lo->params.items[i].name, nm)) return r->a + r->a_off[i];
    return NULL;
}

static void ln(double *out, const double *x, const double *w, const double *b) {
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) m += x[i] / C;
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m) / C;
    double rs = 1.0 / sqrt(v + 1e-5);
    for (int i = 0; i < C; i++) out[i] = (x[i] - m) * rs * w[i] + b[i];
}

/* out[n_out] = x[n_in] @ w[n_in, n_out] + b */
static void lin(double *out, const double *x, const double *w, const double *b, int n_in,
                int n_out) {
    for (int j = 0; j < n_out; j++) {
        double s = b ? b[j] : 0.0;
        for (int i = 0; i < n_in; i++) s += x[i] * w[i * n_out + j];
        out[j] = s;
    }
}

/* out += scale * dropout(x) A^T B^T for adapter (l, t) at global row `grow` */
static void lora_ref(const Ref *r, double *out, const double *x, int l, int t, uint64_t grow) {
    const double *A = ra(r, l, t, 'A'), *Bm = ra(r, l, t, 'B');
    if (!A || r->lo->scale == 0.0f) return;
    double xd[C], h[R];
    const float p = r->lo->spec.dropout;
    for (int c = 0; c < C; c++) {
        xd[c] = x[c];
        if (p > 0) {
            uint64_t e = grow * C + c, key = SEED ^ (STEP * 0x9E3779B97F4A7C15ULL);
            uint32_t w[4];
            rng_words(key, RNG_STREAM_DROPOUT, (uint32_t)(l * 4 + t), e / 4, w);
            float u = (float)(w[e % 4] >> 8) * (1.0f / 16777216.0f);
            xd[c] = u >= p ? x[c] / (1.0 - p) : 0.0;
        }
    }
    for (int k = 0; k < R; k++) {
        h[k] = 0;
        for (int c = 0; c < C; c++) h[k] += xd[c] * A[k * C + c];
    }
    for (int j = 0; j < C; j++) {
        double s = 0;
        for (int k = 0; k < R; k++) s += h[k] * Bm[j * R + k];
        out[j] += (double)r->lo->scale * s;
    }
}

static double ref_loss(const Ref *r, const Batch *bt) {
    static double x[B * T][C], lnb[B * T][C], qkv[B * T][3 * C], y[B * T][C], tmp[4 * C];
    for (int i = 0; i < B * T; i++)
        for (int c = 0; c < C; c++)
            x[i][c] =
                rp(r, "wte.weight")[bt->inputs[i] * C + c] + rp(r, "wpe.weight")[(i % T) * C + c];
    char nm[64];
#define P(fmt) (snprintf(nm, sizeof nm, "h.%d." fmt, l), rp(r, nm))
    for (int l = 0; l < L; l++) {
        for (int i = 0; i < B * T; i++) {
            uint64_t grow = FIRST_SAMPLE * T + (uint64_t)i;
            ln(lnb[i], x[i], P("ln_1.weight"), P("ln_1.bias"));
            lin(qkv[i], lnb[i], P("attn.c_attn.weight"), P("attn.c_attn.bias"), C, 3 * C);
            for (int t = 0; t < 3; t++) lora_ref(r, qkv[i] + t * C, lnb[i], l, t, grow);
        }
        const int hs = C / NH;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < T; t++) {
                    double s[T], mx = -1e300, sum = 0;
                    for (int u = 0; u <= t; u++) {
                        s[u] = 0;
                        for (int i = 0; i < hs; i++)
                            s[u] += qkv[b * T + t][h * hs + i] * qkv[b * T + u][C + h * hs + i];
                        s[u] /= sqrt((double)hs);
                        mx = s[u] > mx ? s[u] : mx;
                    }
                    for (int u = 0; u <= t; u++) sum += (s[u] = exp(s[u] - mx));
                    for (int i = 0; i < hs; i++) {
                        double o = 0;
                        for (int u = 0; u <= t; u++)
                            o += s[u] / sum * qkv[b * T + u][2 * C + h * hs + i];
                        y[b * T + t][h * hs + i] = o;
                    }
                }
        for (int i = 0; i < B * T; i++) {
            uint64_t grow = FIRST_SAMPLE * T + (uint64_t)i;
            double o[C];
            lin(o, y[i], P("attn.c_proj.weight"), P("attn.c_proj.bias"), C, C);
            lora_ref(r, o, y[i], l, 3, grow);
            for (int c = 0; c < C; c++) x[i][c] += o[c];
            ln(lnb[i], x[i], P("ln_2.weight"), P("ln_2.bias"));
            lin(tmp, lnb[i], P("mlp.c_fc.weight"), P("mlp.c_fc.bias"), C, 4 * C);
            for (int j = 0; j < 4 * C; j++) {
                double z = tmp[j];
                tmp[j] =
                    0.5 * z *
                    (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (z + 0.044715 * z * z * z)));
            }
            lin(o, tmp, P("mlp.c_proj.weight"), P("mlp.c_proj.bias"), 4 * C, C);
            for (int c = 0; c < C; c++) x[i][c] += o[c];
        }
    }
#undef P
    double total = 0, wsum = 0;
    for (int i = 0; i < B * T; i++) {
        double f[C], logits[V], mx = -1e300, sum = 0;
        ln(f, x[i], rp(r, "ln_f.weight"), rp(r, "ln_f.bias"));
        for (int v = 0; v < V; v++) {
            logits[v] = 0;
            for (int c = 0; c < C; c++) logits[v] += f[c] * rp(r, "wte.weight")[v * C + c];
            mx = logits[v] > mx ? logits[v] : mx;
        }
        for (int v = 0; v < V; v++) sum += exp(logits[v] - mx);
        wsum += bt->weights[i];
        if (bt->weights[i] != 0.0f)
            total += bt->weights[i] * -(logits[bt->targets[i]] - mx - log(sum));
    }
    return total / wsum;
}

static void ref_init(Ref *r, const GPT2 *m, const Lora *lo) {
    r->m = m;
    r->lo = lo;
    size_t n = 0;
    r->p_off = malloc(sizeof(size_t) * m->params.set.count);
    for (int i = 0; i < m->params.set.count; i++)
        r->p_off[i] = n, n += m->params.set.items[i].numel;
    r->p = malloc(sizeof(double) * n);
    for (int i = 0; i < m->params.set.count; i++)
        for (size_t j = 0; j < m->params.set.items[i].numel; j++)
            r->p[r->p_off[i] + j] = m->params.set.items[i].data[j];
    n = 0;
    r->a_off = malloc(sizeof(size_t) * (lo->params.count + 1));
    for (int i = 0; i < lo->params.count; i++) r->a_off[i] = n, n += lo->params.items[i].numel;
    r->a = malloc(sizeof(double) * (n + 1));
    for (int i = 0; i < lo->params.count; i++)
        for (size_t j = 0; j < lo->params.items[i].numel; j++)
            r->a[r->a_off[i] + j] = lo->params.items[i].data[j];
}

static void ref_free(Ref *r) {
    free(r->p);
    free(r->a);
    free(r->p_off);
    free(r->a_off);
}

/* central difference of the reference loss in one double */
static double fd(const Ref *r, const Batch *bt, double *x) {
    const double h = 1e-5, keep = *x;
    *x = keep + h;
    double up = ref_loss(r, bt);
    *x = keep - h;
    double down = ref_loss(r, bt);
    *x = keep;
    return (up - down) / (2 * h);
}

/* ---- the cases --------------------------------------------------------------------------- */

typedef struct Case {
    const char *name;
    int targets, first, last;
    float dropout;
    int freeze_layer; /* -1: none; else adapters of this layer are frozen */
    int full;         /* also check base gradients */
} Case;

static int32_t inputs[B * T], targets[B * T];
static float weights[B * T];

static void run_case(const Case *cs) {
    GPT2Config cfg = {L, NH, C, V, CTX, 1e-5f};
    GPT2 m;
    gpt2_build(&m, &cfg, B, T);
    gpt2_init_random(&m, 0.3f, SEED); /* large std: non-trivial activations in a tiny model */
    /* non-trivial LayerNorm gains and biases too */
    for (int i = 0; i < m.params.set.count; i++) {
        Tensor *t = &m.params.set.items[i];
        if (strstr(t->name, "ln_") || strstr(t->name, ".bias"))
            for (size_t j = 0; j < t->numel; j++)
                t->data[j] += 0.2f * (rng_uniform(SEED, 77, (uint32_t)i, j) - 0.5f);
    }
    if (cs->full) gpt2_alloc_grads(&m);
    LoraSpec spec = {R, 4.0f, 0, cs->dropout, cs->targets, cs->first, cs->last};
    Lora lo;
    lora_build(&lo, &spec, L, C, B * T, SEED);
    /* B starts at zero; give it values so that A's gradient is not trivially zero */
    for (int i = 0; i < lo.params.count; i++) {
        Tensor *t = &lo.params.items[i];
        if (t->name[strlen(t->name) - 1] == 'B')
            rng_fill_uniform(t->data, t->numel, -0.5f, 0.5f, SEED, 88, (uint32_t)i, 0);
    }
    if (cs->freeze_layer >= 0) {
        lora_set_trainable(&lo, 0, L - 1, 0xF);
        for (int t = 0; t < 4; t++) {
            LoraAdapter *a = lora_get(&lo, cs->freeze_layer, t);
            if (a) a->trainable = 0;
        }
    }

    Batch bt = {inputs, targets, weights, B, T, FIRST_SAMPLE, STEP, 1};
    Err e;
    CHECK(gpt2_forward(&m, &lo, &bt, &e) == 0, "%s: forward", cs->name);
    double wsum = 0;
    for (int i = 0; i < B * T; i++) wsum += weights[i];
    double loss32 = gpt2_loss(&m, &bt) / wsum;
    lora_zero_grad(&lo);
    gpt2_zero_grad(&m);
    gpt2_backward(&m, &lo, &bt, (float)(1.0 / wsum));

    Ref r;
    ref_init(&r, &m, &lo);
    double loss64 = ref_loss(&r, &bt);
    CHECK_CLOSE(loss32, loss64, 1e-5, 0.0, cs->name);

    int bad = 0, checked = 0;
    double worst = 0;
    for (int i = 0; i < lo.params.count; i++) {
        const Tensor *gt = &lo.grads.items[i];
        int frozen = 0;
        for (int l = 0; l < L; l++)
            for (int t = 0; t < 4; t++) {
                LoraAdapter *a = lora_get(&lo, l, t);
                if (a && (a->gA == gt || a->gB == gt)) frozen = !a->trainable;
            }
        for (size_t j = 0; j < gt->numel; j++) {
            double want = frozen ? 0.0 : fd(&r, &bt, &r.a[r.a_off[i] + j]);
            double got = gt->data[j];
            double err = fabs(got - want) - 2e-3 * fabs(want);
            if (err > worst) worst = err;
            if (err > 2e-6 && bad++ < 5)
                fprintf(stderr, "%s: %s[%zu] got %.9g want %.9g\n", cs->name, gt->name, j, got,
                        want);
            checked++;
        }
    }
    if (cs->full)
        for (int i = 0; i < m.params.set.count; i++) {
            const Tensor *gt = &m.grads.set.items[i];
            for (size_t j = 0; j < gt->numel; j++) {
                double want = fd(&r, &bt, &r.p[r.p_off[i] + j]);
                double got = gt->data[j];
                double err = fabs(got - want) - 2e-3 * fabs(want);
                if (err > worst) worst = err;
                if (err > 2e-6 && bad++ < 5)
                    fprintf(stderr, "%s: %s[%zu] got %.9g want %.9g\n", cs->name, gt->name, j, got,
                            want);
                checked++;
            }
        }
    CHECK(bad == 0, "%s: %d of %d gradients off (worst excess %.3g)", cs->name, bad, checked,
          worst);
    CHECK(checked > 0, "%s: checked something", cs->name);
    printf("%-28s loss32 %.9f loss64 %.9f, %d gradients checked, worst excess %.2e\n", cs->name,
           loss32, loss64, checked, worst);
    ref_free(&r);
    lora_free(&lo);
    gpt2_free(&m);
}

int main(void) {
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int32_t)(rng_u64(1, 5, 0, (uint64_t)i) % V);
        targets[i] = (int32_t)(rng_u64(1, 5, 1, (uint64_t)i) % V);
        weights[i] = (i % 7 == 3) ? 0.0f : (i % 5 == 1 ? 2.5f : 1.0f); /* masked and weighted */
    }
    targets[3] = -1; /* weight 0: ignored */
    const Case cases[] = {
        {"lora qkvo, all layers", 0xF, 0, L - 1, 0.0f, -1, 0},
        {"lora q+o, top layer only", 1 | 8, L - 1, L - 1, 0.0f, -1, 0},
        {"lora with dropout 0.3", 0xF, 0, L - 1, 0.3f, -1, 0},
        {"lora with layer 1 frozen", 0xF, 0, L - 1, 0.0f, 1, 0},
        {"full parameters + lora", 0xF, 0, L - 1, 0.0f, -1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i]);
    return tl_finish("test_gradcheck");
}
