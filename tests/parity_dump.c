/*
 * parity_dump.c — writes everything tests/torch_parity.py needs to check the C model against
 * PyTorch: a random GPT-2 in HF layout, a LoRA adapter with non-zero B, a weighted batch, and
 * what the C code computed from them (logits, loss, every LoRA gradient, the loss of a few
 * AdamW steps, and optionally full-parameter gradients).
 *
 * usage: parity_dump OUTDIR CASE      CASE: qkvo | qv-rslora | full | long
 *   long: one sequence of 136 tokens, so attention takes its per-head matrix-product path
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lora.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"
#include "weights.h"

enum { L = 3, NH = 4, C = 32, V = 97, STEPS = 6, MAX_BT = 3 * 136 };

static void fail(const Err *e) {
    fatal("%s", e->msg);
}

int main(int argc, char **argv) {
    if (argc != 3) fatal("usage: parity_dump OUTDIR qkvo|qv-rslora|full|long");
    const char *out = argv[1], *which = argv[2];
    const int is_long = !strcmp(which, "long");
    const int B = is_long ? 1 : 3, T = is_long ? 136 : 16, CTX = is_long ? 136 : 24;
    Err e;
    char path[4096];
    if (mkdir_p(out, &e) != 0) fail(&e);

    GPT2Config cfg = {L, NH, C, V, CTX, 1e-5f};
    GPT2 m;
    gpt2_build(&m, &cfg, B, T);
    gpt2_init_random(&m, 0.2f, 11);
    for (int i = 0; i < m.params.set.count; i++) { /* non-trivial norms and biases */
        Tensor *t = &m.params.set.items[i];
        if (strstr(t->name, "ln_") || strstr(t->name, ".bias"))
            for (size_t j = 0; j < t->numel; j++)
                t->data[j] += 0.2f * (rng_uniform(11, 77, (uint32_t)i, j) - 0.5f);
    }
    const int full = !strcmp(which, "full");
    if (full) gpt2_alloc_grads(&m);
    snprintf(path, sizeof path, "%s/model", out);
    if (weights_save_hf(&m, path, 0, WEIGHTS_EOT_UNKNOWN, &e) != 0) fail(&e);

    LoraSpec spec = {4, 8.0f, 0, 0.0f, 0xF, 0, L - 1};
    if (!strcmp(which, "qv-rslora")) spec = (LoraSpec){4, 8.0f, 1, 0.0f, 1 | 4, 1, 2};
    Lora lo;
    lora_build(&lo, &spec, L, C, B * T, 5);
    for (int i = 0; i < lo.params.count; i++) {
        Tensor *t = &lo.params.items[i];
        if (t->name[strlen(t->name) - 1] == 'B')
            rng_fill_uniform(t->data, t->numel, -0.3f, 0.3f, 5, 88, (uint32_t)i, 0);
    }
    snprintf(path, sizeof path, "%s/lora_init.safetensors", out);
    if (lora_save(&lo, path, NULL, NULL, 0, &e) != 0) fail(&e);

    /* batch: tokens, targets and weights (some masked, some heavier) */
    int32_t inputs[MAX_BT], targets[MAX_BT];
    float weights[MAX_BT], fin[MAX_BT], ftg[MAX_BT];
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int32_t)(rng_u64(3, 5, 0, (uint64_t)i) % V);
        targets[i] = (int32_t)(rng_u64(3, 5, 1, (uint64_t)i) % V);
        weights[i] = (i % 7 == 3) ? 0.0f : (i % 5 == 1 ? 2.0f : 1.0f);
        fin[i] = (float)inputs[i];
        ftg[i] = (float)targets[i];
    }
    Batch b = {inputs, targets, weights, B, T, 0, 0, 1};
    double wsum = 0;
    for (int i = 0; i < B * T; i++) wsum += weights[i];

    if (gpt2_forward(&m, &lo, &b, &e) != 0) fail(&e);
    float *logits = xmalloc(sizeof(float) * B * T * V, "logits copy");
    memcpy(logits, m.acts.logits->data, sizeof(float) * B * T * V);
    float loss = (float)(gpt2_loss(&m, &b) / wsum);
    lora_zero_grad(&lo);
    gpt2_zero_grad(&m);
    gpt2_backward(&m, &lo, &b, (float)(1.0 / wsum));

    /* a few AdamW steps on the same batch, recording the loss before each update */
    OptimConfig oc = {.lr = 1e-2,
                      .beta1 = 0.9,
                      .beta2 = 0.99,
                      .eps = 1e-8,
                      .weight_decay = 0.01,
                      .warmup = 2,
                      .schedule = SCHED_COSINE,
                      .min_lr_ratio = 0.1,
                      .clip = 0.5};
    AdamW opt;
    adamw_build(&opt, &lo.params, 0.9f, 0.99f, 1e-8f, 0.01f);
    Lora lo_train;
    lora_build(&lo_train, &spec, L, C, B * T, 5);
    memcpy(lo_train.params.memory, lo.params.memory, sizeof(float) * lo.params.numel);
    float losses[STEPS], lrs[STEPS], norms[STEPS];
    GPT2 m2; /* LoRA-only model for the steps (no base gradients) */
    gpt2_build(&m2, &cfg, B, T);
    memcpy(m2.params.set.memory, m.params.set.memory, sizeof(float) * m.params.set.numel);
    for (int s = 0; s < STEPS; s++) {
        if (gpt2_forward(&m2, &lo_train, &b, &e) != 0) fail(&e);
        losses[s] = (float)(gpt2_loss(&m2, &b) / wsum);
        lora_zero_grad(&lo_train);
        gpt2_backward(&m2, &lo_train, &b, (float)(1.0 / wsum));
        double norm = grad_global_norm(&lo_train.grads);
        grad_clip(&lo_train.grads, norm, (float)oc.clip);
        lrs[s] = lr_at(&oc, s, STEPS);
        norms[s] = (float)norm;
        adamw_step(&opt, &lo_train.params, &lo_train.grads, NULL, lrs[s]);
    }

    /* results */
    int n_items = 8 + lo.grads.count + lo_train.params.count + (full ? m.grads.set.count : 0);
    StWriteItem *items = xmalloc(sizeof(StWriteItem) * (size_t)n_items, "items");
    char(*names)[TENSOR_NAME_MAX + 16] = xmalloc((size_t)n_items * (TENSOR_NAME_MAX + 16), "names");
    int k = 0;
    const int64_t sh_bt[1] = {B * T}, sh_logits[3] = {B, T, V}, sh_steps[1] = {STEPS};
    (void)MAX_BT;
    const int64_t sh_scalar[1] = {1};
    items[k++] = (StWriteItem){"inputs", fin, 1, sh_bt, ST_F32};
    items[k++] = (StWriteItem){"targets", ftg, 1, sh_bt, ST_F32};
    items[k++] = (StWriteItem){"weights", weights, 1, sh_bt, ST_F32};
    items[k++] = (StWriteItem){"logits", logits, 3, sh_logits, ST_F32};
    items[k++] = (StWriteItem){"loss", &loss, 1, sh_scalar, ST_F32};
    items[k++] = (StWriteItem){"step_losses", losses, 1, sh_steps, ST_F32};
    items[k++] = (StWriteItem){"step_lrs", lrs, 1, sh_steps, ST_F32};
    items[k++] = (StWriteItem){"step_norms", norms, 1, sh_steps, ST_F32};
    for (int i = 0; i < lo.grads.count; i++) {
        Tensor *t = &lo.grads.items[i];
        snprintf(names[k], TENSOR_NAME_MAX + 16, "grad.%s", t->name);
        items[k] = (StWriteItem){names[k], t->data, t->ndim, t->shape, ST_F32};
        k++;
    }
    for (int i = 0; i < lo_train.params.count; i++) {
        Tensor *t = &lo_train.params.items[i];
        snprintf(names[k], TENSOR_NAME_MAX + 16, "final.%s", t->name);
        items[k] = (StWriteItem){names[k], t->data, t->ndim, t->shape, ST_F32};
        k++;
    }
    if (full)
        for (int i = 0; i < m.grads.set.count; i++) {
            Tensor *t = &m.grads.set.items[i];
            snprintf(names[k], TENSOR_NAME_MAX + 16, "basegrad.%s", t->name);
            items[k] = (StWriteItem){names[k], t->data, t->ndim, t->shape, ST_F32};
            k++;
        }
    char scale[32], rank[16], rs[8];
    snprintf(scale, sizeof scale, "%.9g", lo.scale);
    snprintf(rank, sizeof rank, "%d", spec.rank);
    snprintf(rs, sizeof rs, "%d", spec.rslora);
    const char *keys[] = {"lora_scale", "lora_rank", "rslora", "case"};
    const char *vals[] = {scale, rank, rs, which};
    snprintf(path, sizeof path, "%s/results.safetensors", out);
    if (st_write(path, items, k, keys, vals, 4, &e) != 0) fail(&e);
    printf("parity_dump: wrote %s (%d tensors)\n", path, k);
    xfree(items);
    xfree(names);
    xfree(logits);
    adamw_free(&opt);
    lora_free(&lo);
    lora_free(&lo_train);
    gpt2_free(&m);
    gpt2_free(&m2);
    return 0;
}
