/*
 * model.c — GPT-2 forward and backward, with attention-only LoRA, written once against the
 * backend operations of ops.h (m->ops): this file computes pointers and shapes and never touches
 * tensor memory itself.
 *
 * Read top to bottom: building the model, initialisation, forward (with the optional taps of
 * taps.h), loss, backward.
 */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ---- building ---------------------------------------------------------------------------- */

int gpt2_config_check(const GPT2Config *c, Err *e) {
    if (c->n_layer < 1 || c->n_layer > 1024)
        return err_set(e, "n_layer = %d is out of range [1, 1024]", c->n_layer);
    if (c->n_embd < 1 || c->n_embd > 65536)
        return err_set(e, "n_embd = %d is out of range [1, 65536]", c->n_embd);
    if (c->n_head < 1 || c->n_embd % c->n_head != 0)
        return err_set(e, "n_embd = %d must be a positive multiple of n_head = %d", c->n_embd,
                       c->n_head);
    if (c->vocab < 2 || c->vocab > 10000000)
        return err_set(e, "vocab_size = %d is out of range [2, 10000000]", c->vocab);
    if (c->n_ctx < 1 || c->n_ctx > 1 << 20)
        return err_set(e, "n_positions = %d is out of range [1, 1048576]", c->n_ctx);
    if (!(c->ln_eps > 0.0f && c->ln_eps < 1.0f))
        return err_set(e, "layer_norm_epsilon = %g must be in (0, 1)", c->ln_eps);
    return 0;
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

static void params_declare(GPT2Params *p, const GPT2Config *c) {
    const int64_t C = c->n_embd, L = c->n_layer;
    tensorset_init(&p->set, 4 + 12 * c->n_layer);
    p->layers = xmalloc(sizeof(GPT2Layer) * (size_t)L, "layer table");
    char nm[TENSOR_NAME_MAX];
    p->wte = tensorset_add(&p->set, "wte.weight", 2, SHAPE(c->vocab, C));
    p->wpe = tensorset_add(&p->set, "wpe.weight", 2, SHAPE(c->n_ctx, C));
    for (int l = 0; l < L; l++) {
        GPT2Layer *ly = &p->layers[l];
#define ADD(field, suffix, ...)                                                                    \
    snprintf(nm, sizeof nm, "h.%d.%s", l, suffix);                                                 \
    ly->field = tensorset_add(&p->set, nm, sizeof(SHAPE(__VA_ARGS__)) / sizeof(int64_t),           \
                              SHAPE(__VA_ARGS__))
        ADD(ln1_w, "ln_1.weight", C);
        ADD(ln1_b, "ln_1.bias", C);
        ADD(attn_w, "attn.c_attn.weight", C, 3 * C);
        ADD(attn_b, "attn.c_attn.bias", 3 * C);
        ADD(proj_w, "attn.c_proj.weight", C, C);
        ADD(proj_b, "attn.c_proj.bias", C);
        ADD(ln2_w, "ln_2.weight", C);
        ADD(ln2_b, "ln_2.bias", C);
        ADD(fc_w, "mlp.c_fc.weight", C, 4 * C);
        ADD(fc_b, "mlp.c_fc.bias", 4 * C);
        ADD(fc2_w, "mlp.c_proj.weight", 4 * C, C);
        ADD(fc2_b, "mlp.c_proj.bias", C);
#undef ADD
    }
    p->lnf_w = tensorset_add(&p->set, "ln_f.weight", 1, SHAPE(C));
    p->lnf_b = tensorset_add(&p->set, "ln_f.bias", 1, SHAPE(C));
}

static void params_free(GPT2Params *p) {
    tensorset_free(&p->set);
    xfree(p->layers);
    memset(p, 0, sizeof *p);
}

static void acts_declare(GPT2Acts *a, const GPT2Config *c, int B, int T) {
    const int64_t C = c->n_embd, NH = c->n_head, V = c->vocab, L = c->n_layer;
    tensorset_init(&a->set, 13 * c->n_layer + 16);
    a->layers = xmalloc(sizeof(GPT2LayerActs) * (size_t)L, "activation table");
    char nm[TENSOR_NAME_MAX];
    for (int l = 0; l < L; l++) {
        GPT2LayerActs *la = &a->layers[l];
#define ADD(field, ...)                                                                            \
    snprintf(nm, sizeof nm, "act.h.%d.%s", l, #field);                                             \
    la->field = tensorset_add(&a->set, nm, sizeof(SHAPE(__VA_ARGS__)) / sizeof(int64_t),           \
                              SHAPE(__VA_ARGS__))
        ADD(res_in, B, T, C);
        ADD(ln1, B, T, C);
        ADD(ln1_mean, B, T);
        ADD(ln1_rstd, B, T);
        ADD(qkv, B, T, 3 * C);
        ADD(att, B, NH, T, T);
        ADD(atty, B, T, C);
        ADD(res_mid, B, T, C);
        ADD(ln2, B, T, C);
        ADD(ln2_mean, B, T);
        ADD(ln2_rstd, B, T);
        ADD(fch, B, T, 4 * C);
        ADD(fcg, B, T, 4 * C);
#undef ADD
    }
    a->res_out = tensorset_add(&a->set, "act.res_out", 3, SHAPE(B, T, C));
    a->lnf = tensorset_add(&a->set, "act.lnf", 3, SHAPE(B, T, C));
    a->lnf_mean = tensorset_add(&a->set, "act.lnf_mean", 2, SHAPE(B, T));
    a->lnf_rstd = tensorset_add(&a->set, "act.lnf_rstd", 2, SHAPE(B, T));
    a->logits = tensorset_add(&a->set, "act.logits", 3, SHAPE(B, T, V));
    a->losses = tensorset_add(&a->set, "act.losses", 2, SHAPE(B, T));
    a->d_res = tensorset_add(&a->set, "grad.res", 3, SHAPE(B, T, C));
    a->d_ln = tensorset_add(&a->set, "grad.ln", 3, SHAPE(B, T, C));
    a->d_qkv = tensorset_add(&a->set, "grad.qkv", 3, SHAPE(B, T, 3 * C));
    a->d_att = tensorset_add(&a->set, "grad.att", 4, SHAPE(B, NH, T, T));
    a->d_atty = tensorset_add(&a->set, "grad.atty", 3, SHAPE(B, T, C));
    a->d_fch = tensorset_add(&a->set, "grad.fch", 3, SHAPE(B, T, 4 * C));
}

void gpt2_build(GPT2 *m, const GPT2Config *cfg, int max_B, int max_T) {
    /* The kernels use one level of threads: attention calls BLAS from inside its (sample,
     * head) loop and must get single-threaded BLAS there, not a nested team per call, which
     * oversubscribes the cores ~5x. */
    omp_set_max_active_levels(1);
    memset(m, 0, sizeof *m);
    m->ops = model_ops_for(DEVICE_CPU); /* the one backend of this build; see ops.h */
    m->cfg = *cfg;
    m->max_B = max_B;
    m->max_T = max_T;
    params_declare(&m->params, cfg);
    tensorset_alloc(&m->params.set, "model parameters");
    acts_declare(&m->acts, cfg, max_B, max_T);
    tensorset_alloc(&m->acts.set, "activations");
}

void gpt2_alloc_grads(GPT2 *m) {
    if (m->grads.set.memory) return;
    params_declare(&m->grads, &m->cfg);
    tensorset_alloc(&m->grads.set, "parameter gradients");
}

void gpt2_free(GPT2 *m) {
    params_free(&m->params);
    if (m->grads.set.items) params_free(&m->grads);
    tensorset_free(&m->acts.set);
    xfree(m->acts.layers);
    memset(m, 0, sizeof *m);
}

void gpt2_zero_grad(GPT2 *m) {
    if (m->grads.set.memory) m->ops->zero(m->grads.set.memory, m->grads.set.numel);
}

size_t gpt2_num_params(const GPT2 *m) {
    size_t n = 0;
    for (int i = 0; i < m->params.set.count; i++) n += m->params.set.items[i].numel;
    return n;
}

Tensor *gpt2_param(GPT2 *m, const char *name) {
    return tensorset_find(&m->params.set, name);
}

void gpt2_set_taps(GPT2 *m, const ModelTaps *taps) {
    m->taps = taps;
}

/* ---- initialisation ---------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

void gpt2_init_random(GPT2 *m, float std, uint64_t seed) {
    const float resid_std = std / sqrtf(2.0f * (float)m->cfg.n_layer);
    for (int i = 0; i < m->params.set.count; i++) {
        Tensor *t = &m->params.set.items[i];
        if (ends_with(t->name, ".bias")) {
            memset(t->data, 0, sizeof(float) * t->numel);
        } else if (strstr(t->name, "ln_")) {
            for (size_t j = 0; j < t->numel; j++) t->data[j] = 1.0f;
        } else {
            float s = (ends_with(t->name, "c_proj.weight")) ? resid_std : std;
            rng_fill_normal(t->data, t->numel, s, seed, RNG_STREAM_MODEL_INIT, (uint32_t)i, 0);
        }
    }
}

/* ---- forward ----------------------------------------------------------------------------- */

static int check_batch(const GPT2 *m, const Batch *b, Err *e) {
    if (b->B < 1 || b->T < 1 || b->B > m->max_B || b->T > m->max_T)
        return err_set(e, "batch %dx%d exceeds the model's activation capacity %dx%d", b->B, b->T,
                       m->max_B, m->max_T);
    if (b->T > m->cfg.n_ctx)
        return err_set(e, "sequence length %d exceeds the model's context %d; lower batch.seq_len",
                       b->T, m->cfg.n_ctx);
    size_t n = (size_t)b->B * b->T;
    for (size_t i = 0; i < n; i++) {
        if (b->inputs[i] < 0 || b->inputs[i] >= m->cfg.vocab)
            return err_set(e, "token %d at position %zu is outside the vocabulary [0, %d)",
                           b->inputs[i], i, m->cfg.vocab);
        if (b->targets && b->weights && b->weights[i] != 0.0f &&
            (b->targets[i] < 0 || b->targets[i] >= m->cfg.vocab))
            return err_set(e, "target %d at position %zu is outside the vocabulary [0, %d)",
                           b->targets[i], i, m->cfg.vocab);
    }
    return 0;
}

static float *layer_out(GPT2 *m, int l) {
    return l + 1 < m->cfg.n_layer ? m->acts.layers[l + 1].res_in->data : m->acts.res_out->data;
}

/* Hands one activation to the attached taps (taps.h), if they selected its point. */
static void tap(const ModelTaps *taps, TapPoint point, int layer, const float *data, int64_t d0,
                int64_t d1, int64_t d2, int64_t d3) {
    if (!(taps->mask & (1u << point))) return;
    TapView v = {.point = point, .layer = layer, .name = tap_point_name(point), .data = data};
    v.ndim = d3 > 0 ? 4 : 3;
    v.shape[0] = d0;
    v.shape[1] = d1;
    v.shape[2] = d2;
    v.shape[3] = d3 > 0 ? d3 : 0;
    taps->fn(&v, taps->user);
}

int gpt2_forward(GPT2 *m, const Lora *lora, const Batch *b, Err *e) {
    if (check_batch(m, b, e) != 0) return -1;
    const ModelOps *ops = m->ops;
    const ModelTaps *taps = m->taps && m->taps->fn ? m->taps : NULL;
    const GPT2Config *c = &m->cfg;
    const int B = b->B, T = b->T, C = c->n_embd, NH = c->n_head, V = c->vocab;
    const int rows = B * T;
    const uint64_t row0 = b->first_sample * (uint64_t)T;
    const int use_lora = lora && lora->scale != 0.0f;
    GPT2Params *p = &m->params;
    GPT2Acts *a = &m->acts;
    m->B = B;
    m->T = T;

    /* token + position embeddings */
    float *x = a->layers[0].res_in->data;
    ops->embedding_forward(x, b->inputs, p->wte->data, p->wpe->data, rows, T, C);
    if (taps) tap(taps, TAP_EMBED, -1, x, B, T, C, 0);

    for (int l = 0; l < c->n_layer; l++) {
        GPT2Layer *w = &p->layers[l];
        GPT2LayerActs *la = &a->layers[l];
        float *res = la->res_in->data;

        ops->layernorm_forward(la->ln1->data, la->ln1_mean->data, la->ln1_rstd->data, res,
                               w->ln1_w->data, w->ln1_b->data, rows, C, c->ln_eps);
        ops->matmul(la->qkv->data, 3 * C, la->ln1->data, w->attn_w->data, w->attn_b->data, rows, C,
                    3 * C, 0);
        if (use_lora)
            for (int t = LORA_TARGET_Q; t <= LORA_TARGET_V; t++) {
                LoraAdapter *ad = lora_get(lora, l, t);
                if (ad)
                    lora_forward(lora, ad, l, t, la->ln1->data, rows, la->qkv->data + t * C, 3 * C,
                                 b->step, row0, b->train);
            }
        ops->attention_forward(la->atty->data, la->att->data, la->qkv->data, B, T, C, NH);
        if (taps) tap(taps, TAP_ATTN_PROBS, l, la->att->data, B, NH, T, T);

        /* res_mid = res + atty @ c_proj (+ LoRA o) */
        ops->copy(la->res_mid->data, res, (size_t)rows * C);
        ops->matmul(la->res_mid->data, C, la->atty->data, w->proj_w->data, w->proj_b->data, rows, C,
                    C, 1);
        if (use_lora) {
            LoraAdapter *ad = lora_get(lora, l, LORA_TARGET_O);
            if (ad)
                lora_forward(lora, ad, l, LORA_TARGET_O, la->atty->data, rows, la->res_mid->data, C,
                             b->step, row0, b->train);
        }
        if (taps) tap(taps, TAP_RESID_ATTN, l, la->res_mid->data, B, T, C, 0);

        ops->layernorm_forward(la->ln2->data, la->ln2_mean->data, la->ln2_rstd->data,
                               la->res_mid->data, w->ln2_w->data, w->ln2_b->data, rows, C,
                               c->ln_eps);
        ops->matmul(la->fch->data, 4 * C, la->ln2->data, w->fc_w->data, w->fc_b->data, rows, C,
                    4 * C, 0);
        ops->gelu_forward(la->fcg->data, la->fch->data, (size_t)rows * 4 * C);
        float *out = layer_out(m, l);
        ops->copy(out, la->res_mid->data, (size_t)rows * C);
        ops->matmul(out, C, la->fcg->data, w->fc2_w->data, w->fc2_b->data, rows, 4 * C, C, 1);
        if (taps) tap(taps, TAP_RESID_MLP, l, out, B, T, C, 0);
    }

    ops->layernorm_forward(a->lnf->data, a->lnf_mean->data, a->lnf_rstd->data, a->res_out->data,
                           p->lnf_w->data, p->lnf_b->data, rows, C, c->ln_eps);
    /* logits = lnf @ wte^T (tied LM head) */
    ops->lm_head_forward(a->logits->data, a->lnf->data, p->wte->data, rows, C, V);
    if (taps) tap(taps, TAP_LOGITS, -1, a->logits->data, B, T, V, 0);
    return 0;
}

/* ---- loss -------------------------------------------------------------------------------- */

int32_t gpt2_argmax(const float *z, int V) {
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (z[v] > z[best]) best = v;
    return best;
}

double gpt2_loss(GPT2 *m, const Batch *b) {
    return m->ops->softmax_cross_entropy(m->acts.logits->data, m->acts.losses->data, b->targets,
                                         b->weights, m->B * m->T, m->cfg.vocab);
}

/* ---- backward ---------------------------------------------------------------------------- */

/* The base tensor's gradient, or NULL when the base is frozen. */
static float *grad_data(const Tensor *grad) {
    return grad ? grad->data : NULL;
}

void gpt2_backward(GPT2 *m, Lora *lora, const Batch *b, float scale) {
    const GPT2Config *c = &m->cfg;
    const int B = m->B, T = m->T, C = c->n_embd, NH = c->n_head, V = c->vocab;
    const int rows = B * T;
    const uint64_t row0 = b->first_sample * (uint64_t)T;
    const int full = m->grads.set.memory != NULL;
    const int use_lora = lora && lora->scale != 0.0f;
    int lowest = full ? 0 : (use_lora ? lora_lowest_layer(lora) : c->n_layer);
    if (lowest >= c->n_layer) return; /* nothing to learn */
    GPT2Params *p = &m->params;
    GPT2Params *gr = full ? &m->grads : NULL;
    GPT2Acts *a = &m->acts;
    const ModelOps *ops = m->ops;

    /* dlogits = scale * w * (softmax - onehot), in place on the probabilities */
    float *dlogits = a->logits->data;
    ops->cross_entropy_backward(dlogits, b->targets, b->weights, scale, rows, V);

    float *d_res = a->d_res->data, *d_ln = a->d_ln->data;
    ops->lm_head_backward(d_ln, gr ? gr->wte->data : NULL, dlogits, a->lnf->data, p->wte->data,
                          rows, C, V);
    ops->zero(d_res, (size_t)rows * C);
    ops->layernorm_backward(d_res, gr ? grad_data(gr->lnf_w) : NULL,
                            gr ? grad_data(gr->lnf_b) : NULL, d_ln, a->res_out->data,
                            p->lnf_w->data, a->lnf_mean->data, a->lnf_rstd->data, rows, C);

    for (int l = c->n_layer - 1; l >= lowest; l--) {
        GPT2Layer *w = &p->layers[l];
        GPT2Layer *gw = gr ? &gr->layers[l] : NULL;
        GPT2LayerActs *la = &a->layers[l];
        float *d_fch = a->d_fch->data;

        /* MLP: out = res_mid + gelu(ln2 @ fc) @ fc2 */
        ops->matmul_backward_input(d_fch, d_res, C, w->fc2_w->data, rows, 4 * C, C, 0);
        if (gw)
            ops->matmul_backward_weight(gw->fc2_w->data, gw->fc2_b->data, la->fcg->data, d_res, C,
                                        rows, 4 * C, C);
        ops->gelu_backward(d_fch, la->fch->data, (size_t)rows * 4 * C);
        ops->matmul_backward_input(d_ln, d_fch, 4 * C, w->fc_w->data, rows, C, 4 * C, 0);
        if (gw)
            ops->matmul_backward_weight(gw->fc_w->data, gw->fc_b->data, la->ln2->data, d_fch, 4 * C,
                                        rows, C, 4 * C);
        ops->layernorm_backward(d_res, gw ? gw->ln2_w->data : NULL, gw ? gw->ln2_b->data : NULL,
                                d_ln, la->res_mid->data, w->ln2_w->data, la->ln2_mean->data,
                                la->ln2_rstd->data, rows, C);

        /* attention output: res_mid = res_in + atty @ c_proj + LoRA_o(atty) */
        float *d_atty = a->d_atty->data;
        ops->matmul_backward_input(d_atty, d_res, C, w->proj_w->data, rows, C, C, 0);
        if (gw)
            ops->matmul_backward_weight(gw->proj_w->data, gw->proj_b->data, la->atty->data, d_res,
                                        C, rows, C, C);
        if (use_lora) {
            LoraAdapter *ad = lora_get(lora, l, LORA_TARGET_O);
            if (ad)
                lora_backward(lora, ad, l, LORA_TARGET_O, la->atty->data, rows, d_res, C, d_atty,
                              b->step, row0, b->train);
        }
        ops->attention_backward(a->d_qkv->data, a->d_att->data, d_atty, la->qkv->data,
                                la->att->data, B, T, C, NH);

        /* qkv = ln1 @ c_attn + LoRA_{q,k,v}(ln1); below the lowest adapted layer nothing
         * needs the input gradient, so the walk ends here */
        const int need_dx = full || l > lowest;
        if (need_dx)
            ops->matmul_backward_input(d_ln, a->d_qkv->data, 3 * C, w->attn_w->data, rows, C, 3 * C,
                                       0);
        if (gw)
            ops->matmul_backward_weight(gw->attn_w->data, gw->attn_b->data, la->ln1->data,
                                        a->d_qkv->data, 3 * C, rows, C, 3 * C);
        if (use_lora)
            for (int t = LORA_TARGET_Q; t <= LORA_TARGET_V; t++) {
                LoraAdapter *ad = lora_get(lora, l, t);
                if (ad)
                    lora_backward(lora, ad, l, t, la->ln1->data, rows, a->d_qkv->data + t * C,
                                  3 * C, need_dx ? d_ln : NULL, b->step, row0, b->train);
            }
        if (!need_dx) break;
        ops->layernorm_backward(d_res, gw ? gw->ln1_w->data : NULL, gw ? gw->ln1_b->data : NULL,
                                d_ln, la->res_in->data, w->ln1_w->data, la->ln1_mean->data,
                                la->ln1_rstd->data, rows, C);
    }

    if (full) /* embeddings */
        ops->embedding_backward(gr->wte->data, gr->wpe->data, d_res, b->inputs, rows, T, C);
}
