/*
 * test_weights.c — model and adapter files: Hugging Face directories (F32, BF16, F16, with and
 * without the "transformer." prefix), llm.c checkpoints (v3 and v5, including the transposes,
 * checked against raw file bytes), LoRA adapter files, and the error message for each kind of
 * bad input.
 */
#define _XOPEN_SOURCE 700
#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "lora.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"
#include "weights.h"

static char g_dir[256];

static const char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", g_dir, name);
    return buf;
}

static GPT2Config small_cfg(void) {
    GPT2Config c = {
        .n_layer = 2, .n_head = 2, .n_embd = 16, .vocab = 50, .n_ctx = 8, .ln_eps = 1e-5f};
    return c;
}

static void build_random(GPT2 *m, const GPT2Config *c, uint64_t seed) {
    gpt2_build(m, c, 1, 8);
    gpt2_init_random(m, 0.02f, seed);
    /* non-trivial biases and LayerNorm parameters, so every tensor is distinctive */
    for (int i = 0; i < m->params.set.count; i++) {
        Tensor *t = &m->params.set.items[i];
        for (size_t j = 0; j < t->numel; j++)
            t->data[j] += 0.001f * (float)((i * 131 + (int)j * 7) % 97) - 0.05f;
    }
}

/* Number of tensors of a that differ (bitwise, or from bf16/f16 rounding of a) from b. */
enum { EXACT = 0, ROUND_BF16 = 1, ROUND_F16 = 2 };
static int count_differing(const GPT2 *a, const GPT2 *b, int rounding, int quiet) {
    int bad = 0;
    for (int i = 0; i < a->params.set.count; i++) {
        const Tensor *x = &a->params.set.items[i], *y = &b->params.set.items[i];
        int same = x->numel == y->numel && strcmp(x->name, y->name) == 0;
        for (size_t j = 0; same && j < x->numel; j++) {
            float want = x->data[j];
            if (rounding == ROUND_BF16) want = bf16_to_f32(f32_to_bf16(want));
            if (rounding == ROUND_F16) want = f16_to_f32(f32_to_f16(want));
            same = memcmp(&want, &y->data[j], sizeof want) == 0;
        }
        if (!same) {
            if (bad < 3 && !quiet) fprintf(stderr, "  tensor %s differs\n", x->name);
            bad++;
        }
    }
    return bad;
}

static int cfg_equal(const GPT2Config *a, const GPT2Config *b) {
    return a->n_layer == b->n_layer && a->n_head == b->n_head && a->n_embd == b->n_embd &&
           a->vocab == b->vocab && a->n_ctx == b->n_ctx && a->ln_eps == b->ln_eps;
}

/* Probes `path`, builds a model of that shape and loads it. Returns the load status; on
 * success *out holds the model (free it). */
static int probe_and_load(const char *path, GPT2 *out, WeightsFormat *fmt, Err *e) {
    GPT2Config c;
    if (weights_probe(path, &c, fmt, e) != 0) return -1;
    gpt2_build(out, &c, 1, 8);
    if (weights_load(out, path, e) != 0) {
        gpt2_free(out);
        return -1;
    }
    return 0;
}

/* Expects loading `path` into a model of m's shape to fail with a message holding all of the
 * needles (NULL-terminated). */
static void expect_load_error(const GPT2 *m, const char *path, const char *const *needles) {
    GPT2 x;
    gpt2_build(&x, &m->cfg, 1, 8);
    Err e = {{0}};
    int rc = weights_load(&x, path, &e);
    CHECK(rc == -1, "loading %s should fail", path);
    if (getenv("TEST_VERBOSE")) printf("  %s\n", e.msg);
    for (const char *const *n = needles; *n; n++) CHECK_CONTAINS(e.msg, *n);
    gpt2_free(&x);
}

/* ---- crafting safetensors files -------------------------------------------------------- */

typedef struct Craft {
    const char *prefix;  /* prepended to every model name ("" or "transformer.") */
    const char *skip;    /* model tensor left out, or NULL */
    const char *reshape; /* model tensor written with shape `shape`, or NULL */
    int64_t shape[2];
    StDtype dtype; /* dtype of the model tensors */
    int n_extra;
    StWriteItem extra[4];
} Craft;

static float g_zeros[4096];

static int craft_st(const char *path, const GPT2 *m, const Craft *c, Err *e) {
    const TensorSet *s = &m->params.set;
    int cap = s->count + c->n_extra;
    StWriteItem *items = calloc((size_t)cap, sizeof *items);
    char(*names)[160] = calloc((size_t)cap, sizeof *names);
    int n = 0;
    for (int i = 0; i < s->count; i++) {
        const Tensor *t = &s->items[i];
        if (c->skip && strcmp(t->name, c->skip) == 0) continue;
        snprintf(names[n], sizeof names[n], "%s%s", c->prefix ? c->prefix : "", t->name);
        items[n].name = names[n];
        items[n].data = t->data;
        items[n].ndim = t->ndim;
        items[n].shape = t->shape;
        items[n].dtype = c->dtype;
        if (c->reshape && strcmp(t->name, c->reshape) == 0) {
            items[n].data = g_zeros;
            items[n].ndim = 2;
            items[n].shape = c->shape;
        }
        n++;
    }
    for (int i = 0; i < c->n_extra; i++) items[n++] = c->extra[i];
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    int rc = st_write(path, items, n, mk, mv, 1, e);
    free(items);
    free(names);
    return rc;
}

/* A fresh HF directory `name` holding m's config.json and a crafted model.safetensors. */
static const char *craft_dir(char *buf, size_t n, const char *name, const GPT2 *m, const Craft *c) {
    tmp_path(buf, n, name);
    Err e = {{0}};
    int rc = weights_save_hf(m, buf, 0, WEIGHTS_EOT_UNKNOWN, &e);
    CHECK(rc == 0, "save %s: %s", buf, e.msg);
    char st[512];
    snprintf(st, sizeof st, "%s/model.safetensors", buf);
    rc = craft_st(st, m, c, &e);
    CHECK(rc == 0, "craft %s: %s", st, e.msg);
    return buf;
}

/* Rewrites <dir>/config.json: removes `drop` (if not NULL) and sets `key` to the JSON `value`
 * (if not NULL). */
static void edit_config(const char *dir, const char *drop, const char *key, const char *value) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    Err e = {{0}};
    char *text = file_read_all(path, NULL, &e);
    CHECK(text != NULL, "read %s: %s", path, e.msg);
    if (!text) return;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (drop) cJSON_DeleteItemFromObjectCaseSensitive(root, drop);
    if (key) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, key);
        cJSON_AddItemToObject(root, key, cJSON_Parse(value));
    }
    char *out = cJSON_Print(root);
    CHECK(file_write_atomic(path, out, strlen(out), &e) == 0, "write %s: %s", path, e.msg);
    cJSON_free(out);
    cJSON_Delete(root);
}

static unsigned char *read_bytes(const char *path, size_t *len) {
    Err e = {{0}};
    char *b = file_read_all(path, len, &e);
    CHECK(b != NULL, "read %s: %s", path, e.msg);
    return (unsigned char *)b;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    Err e = {{0}};
    CHECK(file_write_atomic(path, p, n, &e) == 0, "write %s: %s", path, e.msg);
}

static int32_t get_i32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static void put_i32(unsigned char *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

static float get_f32(const unsigned char *p) {
    uint32_t u = (uint32_t)get_i32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- Hugging Face directories ------------------------------------------------------------ */

static void test_hf_roundtrip(const GPT2 *m) {
    char dir[512];
    tmp_path(dir, sizeof dir, "hf32/nested");
    Err e = {{0}};
    CHECK(weights_save_hf(m, dir, 0, WEIGHTS_EOT_UNKNOWN, &e) == 0, "save_hf: %s", e.msg);

    GPT2Config c;
    WeightsFormat fmt = WEIGHTS_LLMC_BIN;
    CHECK(weights_probe(dir, &c, &fmt, &e) == 0, "probe: %s", e.msg);
    CHECK(fmt == WEIGHTS_HF_DIR, "format should be HF dir");
    CHECK(cfg_equal(&c, &m->cfg), "probed shape %d/%d/%d/%d/%d eps %g", c.n_layer, c.n_head,
          c.n_embd, c.vocab, c.n_ctx, (double)c.ln_eps);

    GPT2 m2;
    CHECK(probe_and_load(dir, &m2, NULL, &e) == 0, "load: %s", e.msg);
    CHECK(count_differing(m, &m2, EXACT, 0) == 0, "HF F32 round trip is bit-identical");
    gpt2_free(&m2);

    /* config.json content */
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = file_read_all(path, NULL, &e);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(root != NULL, "config.json parses");
    if (root) {
        const cJSON *v;
        v = cJSON_GetObjectItem(root, "model_type");
        CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "gpt2") == 0, "model_type gpt2");
        v = cJSON_GetObjectItem(root, "architectures");
        CHECK(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 &&
                  strcmp(cJSON_GetArrayItem(v, 0)->valuestring, "GPT2LMHeadModel") == 0,
              "architectures [GPT2LMHeadModel]");
        v = cJSON_GetObjectItem(root, "activation_function");
        CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "gelu_new") == 0, "gelu_new");
        v = cJSON_GetObjectItem(root, "tie_word_embeddings");
        CHECK(cJSON_IsTrue(v), "tie_word_embeddings true");
        const char *ints[] = {"n_layer",     "n_head", "n_embd",       "vocab_size",
                              "n_positions", "n_ctx",  "bos_token_id", "eos_token_id"};
        const int want[] = {2, 2, 16, 50, 8, 8, 49, 49};
        for (int i = 0; i < 8; i++) {
            v = cJSON_GetObjectItem(root, ints[i]);
            CHECK(cJSON_IsNumber(v) && v->valuedouble == want[i], "config %s = %d", ints[i],
                  want[i]);
        }
        v = cJSON_GetObjectItem(root, "layer_norm_epsilon");
        CHECK(cJSON_IsNumber(v) && v->valuedouble == 1e-5, "layer_norm_epsilon written as 1e-05");
        cJSON_Delete(root);
    }

    /* model.safetensors content: every parameter, F32, names without prefix */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    StFile f;
    memset(&f, 0, sizeof f);
    CHECK(st_open(&f, path, &e) == 0, "st_open: %s", e.msg);
    CHECK(f.count == m->params.set.count, "%d tensors written", f.count);
    int all_f32 = 1;
    for (int i = 0; i < f.count; i++) all_f32 &= f.entries[i].dtype == ST_F32;
    CHECK(all_f32, "all tensors F32");
    CHECK(st_find(&f, "h.1.attn.c_attn.weight") != NULL, "tensor names without prefix");
    CHECK(st_meta(&f, "format") && strcmp(st_meta(&f, "format"), "pt") == 0, "format pt");
    st_close(&f);

    /* no temp files are left behind */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/config.json.tmp.%ld", dir, (long)getpid());
    CHECK(access(tmp, F_OK) != 0, "no temp file left");
}

static void test_hf_bf16(const GPT2 *m) {
    char dir[512];
    tmp_path(dir, sizeof dir, "hf16");
    Err e = {{0}};
    CHECK(weights_save_hf(m, dir, 1, WEIGHTS_EOT_UNKNOWN, &e) == 0, "save_hf bf16: %s", e.msg);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    StFile f;
    memset(&f, 0, sizeof f);
    CHECK(st_open(&f, path, &e) == 0, "st_open: %s", e.msg);
    int all = f.count == m->params.set.count;
    for (int i = 0; i < f.count; i++) all &= f.entries[i].dtype == ST_BF16;
    CHECK(all, "every tensor written as BF16");
    st_close(&f);

    GPT2 m2;
    CHECK(probe_and_load(dir, &m2, NULL, &e) == 0, "load bf16: %s", e.msg);
    CHECK(count_differing(m, &m2, ROUND_BF16, 0) == 0, "bf16 load equals bf16-rounded originals");
    CHECK(count_differing(m, &m2, EXACT, 1) > 0, "bf16 rounding actually changed values");
    gpt2_free(&m2);
}

static void test_hf_variants(const GPT2 *m) {
    char dir[512];
    Err e = {{0}};
    const int64_t V = m->cfg.vocab, C = m->cfg.n_embd, T = m->cfg.n_ctx;

    /* transformer. prefix, causal-mask buffers, a tied lm_head */
    static float mask[64], lm_head[50 * 16];
    const int64_t mask_shape[4] = {1, 1, T, T}, lm_shape[2] = {V, C};
    Craft c = {.prefix = "transformer.", .dtype = ST_F32, .n_extra = 3};
    c.extra[0] = (StWriteItem){"transformer.h.0.attn.bias", mask, 4, mask_shape, ST_F32};
    c.extra[1] = (StWriteItem){"transformer.h.1.attn.masked_bias", mask, 0, NULL, ST_F32};
    c.extra[2] = (StWriteItem){"lm_head.weight", lm_head, 2, lm_shape, ST_F32};
    craft_dir(dir, sizeof dir, "prefixed", m, &c);
    GPT2 m2;
    CHECK(probe_and_load(dir, &m2, NULL, &e) == 0, "load prefixed: %s", e.msg);
    CHECK(count_differing(m, &m2, EXACT, 0) == 0, "prefixed file loads bit-identical");
    gpt2_free(&m2);

    /* plain names with the buffers unprefixed, F16 data */
    Craft h = {.prefix = "", .dtype = ST_F16, .n_extra = 2};
    h.extra[0] = (StWriteItem){"h.1.attn.bias", mask, 4, mask_shape, ST_F32};
    h.extra[1] = (StWriteItem){"lm_head.weight", lm_head, 2, lm_shape, ST_BF16};
    craft_dir(dir, sizeof dir, "f16", m, &h);
    CHECK(probe_and_load(dir, &m2, NULL, &e) == 0, "load f16: %s", e.msg);
    CHECK(count_differing(m, &m2, ROUND_F16, 0) == 0, "F16 file loads as f16-rounded values");
    gpt2_free(&m2);
}

static void test_hf_errors(const GPT2 *m) {
    char dir[512];
    const int64_t V = m->cfg.vocab, C = m->cfg.n_embd;
    const int64_t extra_shape[2] = {4, 4}, bad_lm[2] = {V + 1, C};

    Craft unknown = {.prefix = "", .dtype = ST_F32, .n_extra = 1};
    unknown.extra[0] = (StWriteItem){"h.0.mlp.gate.weight", g_zeros, 2, extra_shape, ST_F32};
    craft_dir(dir, sizeof dir, "unknown", m, &unknown);
    expect_load_error(
        m, dir,
        (const char *[]){"model.safetensors", "unexpected tensor", "'h.0.mlp.gate.weight'", NULL});

    Craft missing = {.prefix = "", .dtype = ST_F32, .skip = "h.1.ln_2.bias"};
    craft_dir(dir, sizeof dir, "missing", m, &missing);
    expect_load_error(m, dir,
                      (const char *[]){"model.safetensors", "'h.1.ln_2.bias'", "missing", NULL});

    Craft shape = {
        .prefix = "transformer.", .dtype = ST_F32, .reshape = "wpe.weight", .shape = {9, 16}};
    craft_dir(dir, sizeof dir, "shape", m, &shape);
    expect_load_error(
        m, dir, (const char *[]){"model.safetensors", "wpe.weight", "[9, 16]", "[8, 16]", NULL});

    Craft lm = {.prefix = "", .dtype = ST_F32, .n_extra = 1};
    lm.extra[0] = (StWriteItem){"lm_head.weight", g_zeros, 2, bad_lm, ST_F32};
    craft_dir(dir, sizeof dir, "lm_head", m, &lm);
    expect_load_error(
        m, dir,
        (const char *[]){"model.safetensors", "lm_head.weight", "[51, 16]", "[50, 16]", NULL});

    Craft dup = {.prefix = "", .dtype = ST_F32, .n_extra = 1};
    dup.extra[0] = (StWriteItem){"transformer.wte.weight", m->params.wte->data, 2,
                                 m->params.wte->shape, ST_F32};
    craft_dir(dir, sizeof dir, "dup", m, &dup);
    expect_load_error(
        m, dir,
        (const char *[]){"model.safetensors", "'wte.weight'", "'transformer.wte.weight'", NULL});

    /* config.json problems (probe fails, so weights_load fails too) */
    Craft plain = {.prefix = "", .dtype = ST_F32};
    craft_dir(dir, sizeof dir, "no_head", m, &plain);
    edit_config(dir, "n_head", NULL, NULL);
    expect_load_error(m, dir, (const char *[]){"config.json", "\"n_head\"", "missing", NULL});

    craft_dir(dir, sizeof dir, "no_positions", m, &plain);
    edit_config(dir, "n_positions", NULL, NULL);
    GPT2Config c;
    Err e = {{0}};
    CHECK(weights_probe(dir, &c, NULL, &e) == 0 && c.n_ctx == 8, "n_ctx is the fallback: %s",
          e.msg);
    edit_config(dir, "n_ctx", NULL, NULL);
    expect_load_error(m, dir, (const char *[]){"config.json", "n_positions", NULL});

    craft_dir(dir, sizeof dir, "relu", m, &plain);
    edit_config(dir, NULL, "activation_function", "\"relu\"");
    expect_load_error(m, dir,
                      (const char *[]){"config.json", "activation_function", "\"relu\"", NULL});

    craft_dir(dir, sizeof dir, "no_act", m, &plain);
    edit_config(dir, "activation_function", "layer_norm_epsilon", "null");
    CHECK(weights_probe(dir, &c, NULL, &e) == 0 && c.ln_eps == 1e-5f,
          "absent activation_function and epsilon are fine: %s", e.msg);

    craft_dir(dir, sizeof dir, "frac", m, &plain);
    edit_config(dir, NULL, "n_layer", "2.5");
    expect_load_error(m, dir, (const char *[]){"config.json", "\"n_layer\"", "2.5", NULL});

    craft_dir(dir, sizeof dir, "strlayer", m, &plain);
    edit_config(dir, NULL, "n_embd", "\"16\"");
    expect_load_error(m, dir, (const char *[]){"config.json", "\"n_embd\"", "not a number", NULL});

    craft_dir(dir, sizeof dir, "heads", m, &plain);
    edit_config(dir, NULL, "n_head", "3");
    expect_load_error(m, dir, (const char *[]){"config.json", "n_head = 3", NULL});

    craft_dir(dir, sizeof dir, "llama", m, &plain);
    edit_config(dir, NULL, "model_type", "\"llama\"");
    expect_load_error(m, dir, (const char *[]){"config.json", "llama", NULL});

    craft_dir(dir, sizeof dir, "badjson", m, &plain);
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_bytes(path, "{\"n_layer\": 2,,}", 16);
    expect_load_error(m, dir, (const char *[]){"config.json", "invalid JSON", "byte", NULL});

    craft_dir(dir, sizeof dir, "nost", m, &plain);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    expect_load_error(m, dir, (const char *[]){"model.safetensors", "not found", NULL});

    tmp_path(dir, sizeof dir, "empty_dir");
    CHECK(mkdir_p(dir, &e) == 0, "mkdir: %s", e.msg);
    expect_load_error(m, dir, (const char *[]){"empty_dir/config.json", "not found", NULL});

    tmp_path(dir, sizeof dir, "does_not_exist");
    expect_load_error(m, dir, (const char *[]){"does_not_exist", "not found", NULL});

    /* the file's shape differs from the model's */
    GPT2Config other = m->cfg;
    other.n_layer = 3;
    GPT2 big;
    build_random(&big, &other, 5);
    tmp_path(dir, sizeof dir, "three_layers");
    CHECK(weights_save_hf(&big, dir, 0, WEIGHTS_EOT_UNKNOWN, &e) == 0, "save: %s", e.msg);
    expect_load_error(m, dir,
                      (const char *[]){"three_layers", "n_layer = 3", "built with 2", NULL});
    gpt2_free(&big);

    /* a config.json saying 2 layers next to a file that has 3 */
    char cfg_src[600], cfg_dst[600];
    snprintf(cfg_src, sizeof cfg_src, "%s/hf32/nested/config.json", g_dir);
    snprintf(cfg_dst, sizeof cfg_dst, "%s/three_layers/config.json", g_dir);
    size_t n = 0;
    unsigned char *b = read_bytes(cfg_src, &n);
    if (b) write_bytes(cfg_dst, b, n);
    free(b);
    expect_load_error(m, dir,
                      (const char *[]){"model.safetensors", "unexpected tensor", "'h.2.", NULL});
}

/* config.json's bos/eos ids: the end token a checkpoint's tokenizer reports (the shipped
 * tokenizer's <|endoftext|> is 8190, and 8191 = vocab - 1 is its <|sep|>), vocab - 1 only when no
 * tokenizer is known, null when the tokenizer has none. */
static int config_ids(const char *dir, int *bos, int *eos) {
    char path[600];
    Err e = {{0}};
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = file_read_all(path, NULL, &e);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) return -1;
    const cJSON *b = cJSON_GetObjectItem(root, "bos_token_id");
    const cJSON *x = cJSON_GetObjectItem(root, "eos_token_id");
    *bos = cJSON_IsNumber(b) ? b->valueint : cJSON_IsNull(b) ? -2 : -3;
    *eos = cJSON_IsNumber(x) ? x->valueint : cJSON_IsNull(x) ? -2 : -3;
    cJSON_Delete(root);
    return 0;
}

static void test_hf_end_token(void) {
    const char *tokdir = "models/brown-gpt2-small";
    Err e = {{0}};
    Tokenizer *tok = NULL;
    CHECK(tok_load_dir(&tok, tokdir, &e) == 0, "tokenizer: %s", e.msg);
    if (!tok) return;
    const int eot = tok_eot(tok), V = tok_vocab_size(tok);
    tok_free(tok);
    CHECK(eot >= 0 && eot != V - 1, "the shipped tokenizer's <|endoftext|> (%d) is not vocab - 1",
          eot);
    GPT2Config c = {
        .n_layer = 1, .n_head = 2, .n_embd = 4, .vocab = V, .n_ctx = 8, .ln_eps = 1e-5f};
    GPT2 m;
    build_random(&m, &c, 7);
    AdamW opt;
    adamw_build(&opt, &m.params.set, 0.9f, 0.95f, 1e-8f, 0.0f);
    char dir[512];
    int bos = 0, eos = 0;
    /* a pretrain checkpoint with its tokenizer */
    tmp_path(dir, sizeof dir, "ck-with-tokenizer");
    CheckpointContent cc = {.model = &m, .tokenizer = tokdir, .opt = &opt, .state = {.stage = -1}};
    CHECK(checkpoint_write(dir, &cc, &e) == 0, "checkpoint: %s", e.msg);
    CHECK(config_ids(dir, &bos, &eos) == 0 && bos == eot && eos == eot,
          "checkpoint config.json: bos %d, eos %d; the tokenizer's <|endoftext|> is %d", bos, eos,
          eot);
    /* no tokenizer known: GPT-2's own layout */
    tmp_path(dir, sizeof dir, "hf-no-tokenizer");
    CHECK(weights_save_hf(&m, dir, 0, WEIGHTS_EOT_UNKNOWN, &e) == 0, "save: %s", e.msg);
    CHECK(config_ids(dir, &bos, &eos) == 0 && bos == V - 1 && eos == V - 1,
          "no tokenizer: bos %d, eos %d (want %d)", bos, eos, V - 1);
    tmp_path(dir, sizeof dir, "hf-no-eot");
    CHECK(weights_save_hf(&m, dir, 0, WEIGHTS_EOT_NONE, &e) == 0, "save: %s", e.msg);
    CHECK(config_ids(dir, &bos, &eos) == 0 && bos == -2 && eos == -2,
          "a tokenizer without an end token: null ids (bos %d, eos %d)", bos, eos);
    tmp_path(dir, sizeof dir, "hf-bad-eot");
    CHECK(weights_save_hf(&m, dir, 0, V, &e) != 0 && strstr(e.msg, "outside the vocabulary"),
          "an end token outside the vocabulary is refused: %s", e.msg);
    adamw_free(&opt);
    gpt2_free(&m);
}

/* ---- llm.c checkpoints -------------------------------------------------------------------- */

static void test_llmc(const GPT2 *m) {
    char path[512];
    tmp_path(path, sizeof path, "model.bin");
    Err e = {{0}};
    CHECK(weights_save_llmc(m, path, &e) == 0, "save_llmc: %s", e.msg);

    GPT2Config c;
    WeightsFormat fmt = WEIGHTS_HF_DIR;
    CHECK(weights_probe(path, &c, &fmt, &e) == 0, "probe bin: %s", e.msg);
    CHECK(fmt == WEIGHTS_LLMC_BIN, "format should be llm.c");
    CHECK(cfg_equal(&c, &m->cfg), "probed shape from .bin");

    GPT2 m2;
    CHECK(probe_and_load(path, &m2, NULL, &e) == 0, "load bin: %s", e.msg);
    CHECK(count_differing(m, &m2, EXACT, 0) == 0, "llm.c round trip is bit-identical");
    gpt2_free(&m2);

    /* the raw file: header, size, padding, and transposed matrices */
    size_t len = 0;
    unsigned char *b = read_bytes(path, &len);
    if (!b) return;
    const int64_t L = 2, C = 16, V = 50, Vp = 128, T = 8;
    CHECK(get_i32(b) == 20240326 && get_i32(b + 4) == 3, "magic and version 3");
    CHECK(get_i32(b + 8) == T && get_i32(b + 12) == V && get_i32(b + 16) == L &&
              get_i32(b + 20) == 2 && get_i32(b + 24) == C && get_i32(b + 28) == Vp,
          "header dims");
    const int64_t count = Vp * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
    CHECK(len == (size_t)(1024 + 4 * count), "file size %zu == %lld", len,
          (long long)(1024 + 4 * count));
    /* wte row 3 is first; padding rows are zero */
    CHECK(get_f32(b + 1024 + 4 * (3 * C + 5)) == m->params.wte->data[3 * C + 5], "wte element");
    CHECK(get_f32(b + 1024 + 4 * (V * C + 7)) == 0.0f, "padding rows are zero");
    /* c_attn.weight of layer 1, element (i, j) of [C, 3C] is element (j, i) of qkvw [3C, C] */
    const int64_t qkv_base = Vp * C + T * C + 2 * L * C; /* after wte, wpe, ln1w, ln1b */
    const Tensor *w = m->params.layers[1].attn_w;
    const int64_t pairs[3][2] = {{2, 37}, {15, 0}, {0, 47}};
    for (int k = 0; k < 3; k++) {
        int64_t i = pairs[k][0], j = pairs[k][1];
        int64_t off = 1024 + 4 * (qkv_base + 1 * 3 * C * C + j * C + i);
        CHECK(get_f32(b + off) == w->data[i * 3 * C + j],
              "c_attn.weight[%lld][%lld] == qkvw[1][%lld][%lld]", (long long)i, (long long)j,
              (long long)j, (long long)i);
    }
    /* mlp.c_proj.weight of layer 0: [4C, C] in the model, fcprojw [C, 4C] in the file */
    const int64_t fcproj_base = qkv_base + L * 3 * C * C + L * 3 * C + L * C * C + L * C +
                                2 * L * C + L * 4 * C * C + L * 4 * C;
    const Tensor *w2 = m->params.layers[0].fc2_w;
    CHECK(get_f32(b + 1024 + 4 * (fcproj_base + 3 * 4 * C + 50)) == w2->data[50 * C + 3],
          "mlp.c_proj.weight[50][3] == fcprojw[0][3][50]");
    CHECK(get_f32(b + len - 4) == m->params.lnf_b->data[C - 1], "ln_f.bias is last");

    /* version 5 (bf16) made from the same data */
    size_t len5 = 1024 + 2 * (size_t)count;
    unsigned char *b5 = calloc(len5, 1);
    memcpy(b5, b, 1024);
    put_i32(b5 + 4, 5);
    for (int64_t i = 0; i < count; i++) {
        uint16_t h = f32_to_bf16(get_f32(b + 1024 + 4 * i));
        b5[1024 + 2 * i] = (unsigned char)h;
        b5[1024 + 2 * i + 1] = (unsigned char)(h >> 8);
    }
    char p5[512];
    write_bytes(tmp_path(p5, sizeof p5, "model_v5.bin"), b5, len5);
    CHECK(probe_and_load(p5, &m2, NULL, &e) == 0, "load v5: %s", e.msg);
    CHECK(count_differing(m, &m2, ROUND_BF16, 0) == 0, "v5 loads bf16-rounded values");
    gpt2_free(&m2);
    free(b5);

    /* bad files, each checked before anything is read */
    char bad[512];
    unsigned char *x = malloc(len + 8);
    const char *const *needles;

    memcpy(x, b, len);
    put_i32(x, 12345);
    write_bytes(tmp_path(bad, sizeof bad, "bad_magic.bin"), x, len);
    needles = (const char *[]){"bad_magic.bin", "byte 0",       "bad magic 12345",
                               "20240326",      "not an llm.c", NULL};
    expect_load_error(m, bad, needles);

    memcpy(x, b, len);
    put_i32(x + 4, 7);
    write_bytes(tmp_path(bad, sizeof bad, "bad_version.bin"), x, len);
    expect_load_error(m, bad, (const char *[]){"bad_version.bin", "version 7", NULL});

    char want[64], have[64];
    snprintf(want, sizeof want, "should be %zu bytes", len);
    write_bytes(tmp_path(bad, sizeof bad, "truncated.bin"), b, len - 4);
    snprintf(have, sizeof have, "it is %zu bytes", len - 4);
    expect_load_error(m, bad, (const char *[]){"truncated.bin", want, have, "truncated", NULL});

    memcpy(x, b, len);
    memset(x + len, 0, 8);
    write_bytes(tmp_path(bad, sizeof bad, "extra.bin"), x, len + 8);
    snprintf(have, sizeof have, "it is %zu bytes", len + 8);
    expect_load_error(m, bad, (const char *[]){"extra.bin", want, have, "extra bytes", NULL});

    memcpy(x, b, len);
    put_i32(x + 28, 49);
    write_bytes(tmp_path(bad, sizeof bad, "vp.bin"), x, len);
    expect_load_error(m, bad, (const char *[]){"vp.bin", "padded vocabulary size 49", NULL});

    memcpy(x, b, len);
    put_i32(x + 16, 0);
    write_bytes(tmp_path(bad, sizeof bad, "layers.bin"), x, len);
    expect_load_error(m, bad, (const char *[]){"layers.bin", "byte 16", "layer count", NULL});

    memcpy(x, b, len);
    put_i32(x + 20, 3); /* 16 channels are not a multiple of 3 heads */
    write_bytes(tmp_path(bad, sizeof bad, "heads.bin"), x, len);
    expect_load_error(m, bad, (const char *[]){"heads.bin", "n_head = 3", NULL});

    memcpy(x, b, len);
    put_i32(x + 24, 0x7fffffff); /* huge width: the size check must not overflow */
    put_i32(x + 20, 1);
    write_bytes(tmp_path(bad, sizeof bad, "huge.bin"), x, len);
    expect_load_error(m, bad, (const char *[]){"huge.bin", NULL});

    write_bytes(tmp_path(bad, sizeof bad, "tiny.bin"), b, 10);
    expect_load_error(m, bad, (const char *[]){"tiny.bin", "10 bytes", "shorter than", NULL});

    /* a safetensors file passed directly */
    tmp_path(bad, sizeof bad, "hf32/nested/model.safetensors");
    expect_load_error(m, bad,
                      (const char *[]){"model.safetensors", "bad magic", "directory", NULL});

    free(x);
    free(b);
}

/* ---- adapters ----------------------------------------------------------------------------- */

static LoraSpec spec_qvo(void) {
    LoraSpec s = {.rank = 4,
                  .alpha = 8.0f,
                  .rslora = 0,
                  .dropout = 0.0f,
                  .targets = (1 << LORA_TARGET_Q) | (1 << LORA_TARGET_V) | (1 << LORA_TARGET_O),
                  .layer_first = 0,
                  .layer_last = 1};
    return s;
}

static void expect_lora_error(const LoraSpec *s, int n_embd, const char *path,
                              const char *const *needles) {
    Lora lo;
    lora_build(&lo, s, 2, n_embd, 8, 3);
    float *before = malloc(sizeof(float) * lo.params.numel);
    memcpy(before, lo.params.memory, sizeof(float) * lo.params.numel);
    Err e = {{0}};
    CHECK(lora_load(&lo, path, &e) == -1, "loading adapter %s should fail", path);
    if (getenv("TEST_VERBOSE")) printf("  %s\n", e.msg);
    for (const char *const *n = needles; *n; n++) CHECK_CONTAINS(e.msg, *n);
    CHECK(memcmp(before, lo.params.memory, sizeof(float) * lo.params.numel) == 0,
          "a failed load leaves the adapters untouched");
    free(before);
    lora_free(&lo);
}

static void test_lora(void) {
    char buf[16];
    lora_targets_text(buf, sizeof buf, 0xF);
    CHECK(strcmp(buf, "qkvo") == 0, "targets text qkvo");
    lora_targets_text(buf, sizeof buf, (1 << LORA_TARGET_K) | (1 << LORA_TARGET_O));
    CHECK(strcmp(buf, "ko") == 0, "targets text ko");
    CHECK(lora_targets_parse("vq") == ((1 << LORA_TARGET_Q) | (1 << LORA_TARGET_V)), "parse vq");
    CHECK(lora_targets_parse("qq") == -1 && lora_targets_parse("") == -1 &&
              lora_targets_parse("qx") == -1,
          "parse rejects repeats, empty and unknown letters");

    LoraSpec s = spec_qvo();
    Lora lo;
    lora_build(&lo, &s, 2, 16, 8, 11);
    CHECK(lo.params.count == 12, "2 layers x 3 targets x (A, B)");
    for (int i = 0; i < lo.params.count; i++) {
        Tensor *t = &lo.params.items[i];
        for (size_t j = 0; j < t->numel; j++)
            if (strstr(t->name, "lora_B"))
                t->data[j] = 0.01f * (float)((int)(j * 13 + i) % 29) - 0.1f;
    }
    char path[512];
    tmp_path(path, sizeof path, "adapter.safetensors");
    Err e = {{0}};
    const char *mk[] = {"base_model", "step"}, *mv[] = {"gpt2-tiny", "100"};
    CHECK(lora_save(&lo, path, mk, mv, 2, &e) == 0, "lora_save: %s", e.msg);

    StFile f;
    memset(&f, 0, sizeof f);
    CHECK(st_open(&f, path, &e) == 0, "st_open adapter: %s", e.msg);
    const char *keys[] = {"format",  "rank",   "alpha",      "rslora",
                          "targets", "layers", "base_model", "step"};
    const char *vals[] = {"imprint-lora", "4", "8", "false", "qvo", "0-1", "gpt2-tiny", "100"};
    for (int i = 0; i < 8; i++) {
        const char *v = st_meta(&f, keys[i]);
        CHECK(v && strcmp(v, vals[i]) == 0, "metadata %s = %s (got %s)", keys[i], vals[i],
              v ? v : "NULL");
    }
    CHECK(f.count == 12 && st_find(&f, "h.1.attn.o.lora_B") != NULL, "adapter tensors");
    st_close(&f);

    Lora lo2;
    lora_build(&lo2, &s, 2, 16, 8, 99); /* different seed: different A */
    CHECK(memcmp(lo.params.memory, lo2.params.memory, sizeof(float) * lo.params.numel) != 0,
          "adapters differ before loading");
    CHECK(lora_load(&lo2, path, &e) == 0, "lora_load: %s", e.msg);
    int same = lo.params.numel == lo2.params.numel;
    for (int i = 0; same && i < lo.params.count; i++)
        same = memcmp(lo.params.items[i].data, lo2.params.items[i].data,
                      sizeof(float) * lo.params.items[i].numel) == 0;
    CHECK(same, "adapter round trip is bit-identical");
    lora_free(&lo2);

    /* alpha and rslora are the caller's business */
    LoraSpec s2 = s;
    s2.alpha = 32.0f;
    s2.rslora = 1;
    lora_build(&lo2, &s2, 2, 16, 8, 99);
    CHECK(lora_load(&lo2, path, &e) == 0, "alpha/rslora may differ: %s", e.msg);
    lora_free(&lo2);

    /* mismatches */
    LoraSpec r8 = s;
    r8.rank = 8;
    expect_lora_error(&r8, 16, path,
                      (const char *[]){"adapter.safetensors", "rank 4", "lora.rank = 8", NULL});
    LoraSpec all = s;
    all.targets = 0xF;
    expect_lora_error(&all, 16, path,
                      (const char *[]){"adapter.safetensors", "targets \"qvo\"", "\"qkvo\"", NULL});
    LoraSpec one = s;
    one.layer_first = 1;
    expect_lora_error(
        &one, 16, path,
        (const char *[]){"adapter.safetensors", "layers 0-1", "lora.layers = [1, 1]", NULL});
    /* same names, different width: shapes differ */
    expect_lora_error(
        &s, 32, path,
        (const char *[]){"adapter.safetensors", "h.0.attn.q.lora_A", "[4, 16]", "[4, 32]", NULL});

    /* extra and missing tensors, with otherwise valid metadata */
    const char *mkeys[] = {"format", "rank", "alpha", "rslora", "targets", "layers"};
    const char *mvals[] = {"imprint-lora", "4", "8", "false", "qvo", "0-1"};
    StWriteItem items[13];
    for (int i = 0; i < lo.params.count; i++) {
        const Tensor *t = &lo.params.items[i];
        items[i] = (StWriteItem){t->name, t->data, t->ndim, t->shape, ST_F32};
    }
    const Tensor *a0 = &lo.params.items[0];
    items[12] = (StWriteItem){"h.0.attn.k.lora_A", a0->data, 2, a0->shape, ST_F32};
    char p2[512];
    CHECK(st_write(tmp_path(p2, sizeof p2, "extra.safetensors"), items, 13, mkeys, mvals, 6, &e) ==
              0,
          "write: %s", e.msg);
    expect_lora_error(
        &s, 16, p2,
        (const char *[]){"extra.safetensors", "unexpected tensor", "'h.0.attn.k.lora_A'", NULL});
    CHECK(st_write(tmp_path(p2, sizeof p2, "missing.safetensors"), items, 11, mkeys, mvals, 6,
                   &e) == 0,
          "write: %s", e.msg);
    expect_lora_error(
        &s, 16, p2,
        (const char *[]){"missing.safetensors", "'h.1.attn.o.lora_B'", "missing", NULL});
    CHECK(st_write(tmp_path(p2, sizeof p2, "nometa.safetensors"), items, 12, NULL, NULL, 0, &e) ==
              0,
          "write: %s", e.msg);
    expect_lora_error(&s, 16, p2,
                      (const char *[]){"nometa.safetensors", "imprint-lora", "missing", NULL});
    const char *badrank[] = {"imprint-lora", "four", "8", "false", "qvo", "0-1"};
    CHECK(st_write(tmp_path(p2, sizeof p2, "badrank.safetensors"), items, 12, mkeys, badrank, 6,
                   &e) == 0,
          "write: %s", e.msg);
    expect_lora_error(&s, 16, p2,
                      (const char *[]){"badrank.safetensors", "\"rank\"", "four", NULL});
    expect_lora_error(&s, 16, tmp_path(p2, sizeof p2, "nope.safetensors"),
                      (const char *[]){"nope.safetensors", NULL});

    /* reserved metadata keys */
    const char *rk[] = {"rank"}, *rv[] = {"2"};
    CHECK(lora_save(&lo, p2, rk, rv, 1, &e) == -1, "reserved key refused");
    CHECK_CONTAINS(e.msg, "'rank' is reserved");
    lora_free(&lo);
}

/* ---- main ---------------------------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/test_weights.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    GPT2Config cfg = small_cfg();
    GPT2 m;
    build_random(&m, &cfg, 1234);

    test_hf_roundtrip(&m);
    test_hf_bf16(&m);
    test_hf_variants(&m);
    test_hf_errors(&m);
    test_hf_end_token();
    test_llmc(&m);
    test_lora();

    gpt2_free(&m);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return tl_finish("test_weights");
}
