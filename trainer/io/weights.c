/*
 * weights.c — model and adapter weights in and out. See weights.h.
 *
 * Read top to bottom: small helpers, the Hugging Face directory (config.json, then
 * model.safetensors), the llm.c checkpoint (header, then parameters), the public entry points,
 * then adapter files.
 */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64
#include "weights.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"

#define PATH_CAP 4096

#define LLMC_MAGIC        20240326
#define LLMC_HEADER_INTS  256
#define LLMC_HEADER_BYTES 1024
#define LLMC_VOCAB_PAD    128

/* ---- small helpers ---------------------------------------------------------------------- */

static int join_path(char *buf, size_t cap, const char *dir, const char *file, Err *e) {
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] == '/') ? "" : "/";
    int w = snprintf(buf, cap, "%s%s%s", dir, sep, file);
    if (w < 0 || (size_t)w >= cap)
        return err_set(e, "%s: path too long (more than %zu bytes); use a shorter path", dir,
                       cap - 1);
    return 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* A printable copy of text read from a file, for messages. */
static const char *printable(char *buf, size_t cap, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static void shape_text(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t n = 0;
    buf[0] = '\0';
    n += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Little-endian decoding and encoding, independent of the host's byte order. */
static uint32_t load_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_u32le(unsigned char *p, uint32_t u) {
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static float u32_as_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_as_u32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* gpt2_config_check with the file named in front and a remedy behind. */
static int config_check(const GPT2Config *c, const char *file, const char *remedy, Err *e) {
    Err inner = {{0}};
    if (gpt2_config_check(c, &inner) == 0) return 0;
    return err_set(e, "%s: %s; %s", file, inner.msg, remedy);
}

/* ---- Hugging Face directory: config.json ------------------------------------------------ */

/* Reads key as a positive int. Returns 1 if found, 0 if absent (and !required), -1 on error. */
static int json_positive_int(const cJSON *root, const char *file, const char *key, int required,
                             int *out, Err *e) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) {
        if (!required) return 0;
        return err_set(e,
                       "%s: missing key \"%s\"; a GPT-2 config.json needs n_layer, n_head, n_embd, "
                       "vocab_size and n_positions",
                       file, key);
    }
    if (!cJSON_IsNumber(it))
        return err_set(e, "%s: \"%s\" is not a number; it must be a positive integer", file, key);
    double v = it->valuedouble;
    if (!isfinite(v) || v < 1 || v > INT_MAX || floor(v) != v)
        return err_set(e, "%s: \"%s\" = %g is not a positive integer; fix config.json", file, key,
                       v);
    *out = (int)v;
    return 1;
}

static int probe_hf(const char *dir, GPT2Config *cfg, Err *e) {
    char cfg_path[PATH_CAP], st_path[PATH_CAP];
    if (join_path(cfg_path, sizeof cfg_path, dir, "config.json", e) != 0) return -1;
    if (join_path(st_path, sizeof st_path, dir, "model.safetensors", e) != 0) return -1;
    if (!exists(cfg_path))
        return err_set(e,
                       "%s: not found; a model directory needs config.json and model.safetensors "
                       "(Hugging Face GPT-2 layout), or point model.path at an llm.c .bin file",
                       cfg_path);
    size_t len = 0;
    char *text = file_read_all(cfg_path, &len, e);
    if (!text) return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        free(text);
        return err_set(e, "%s: byte %zu: invalid JSON; fix the syntax of config.json", cfg_path,
                       at);
    }
    free(text);
    int rc = 0;
    memset(cfg, 0, sizeof *cfg);
    if (!cJSON_IsObject(root)) {
        rc = err_set(e, "%s: the top level is not a JSON object; this is not a GPT-2 config.json",
                     cfg_path);
        goto done;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (mt && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "gpt2") != 0)) {
        char v[80];
        rc = err_set(e,
                     "%s: model_type is \"%s\" but only GPT-2 (\"gpt2\") models are supported; "
                     "use a GPT-2 checkpoint",
                     cfg_path,
                     cJSON_IsString(mt) ? printable(v, sizeof v, mt->valuestring) : "not a string");
        goto done;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "activation_function");
    if (act && !cJSON_IsNull(act) &&
        (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu_new") != 0)) {
        char v[80];
        rc = err_set(
            e,
            "%s: activation_function is \"%s\" but this trainer implements only \"gelu_new\" "
            "(GELU, tanh approximation); use a standard GPT-2 checkpoint",
            cfg_path,
            cJSON_IsString(act) ? printable(v, sizeof v, act->valuestring) : "not a string");
        goto done;
    }
    if (json_positive_int(root, cfg_path, "n_layer", 1, &cfg->n_layer, e) < 0 ||
        json_positive_int(root, cfg_path, "n_head", 1, &cfg->n_head, e) < 0 ||
        json_positive_int(root, cfg_path, "n_embd", 1, &cfg->n_embd, e) < 0 ||
        json_positive_int(root, cfg_path, "vocab_size", 1, &cfg->vocab, e) < 0) {
        rc = -1;
        goto done;
    }
    int got = json_positive_int(root, cfg_path, "n_positions", 0, &cfg->n_ctx, e);
    if (got == 0) got = json_positive_int(root, cfg_path, "n_ctx", 0, &cfg->n_ctx, e);
    if (got < 0) {
        rc = -1;
        goto done;
    }
    if (got == 0) {
        rc = err_set(e,
                     "%s: missing key \"n_positions\" (or \"n_ctx\"); a GPT-2 config.json needs "
                     "n_layer, n_head, n_embd, vocab_size and n_positions",
                     cfg_path);
        goto done;
    }
    cfg->ln_eps = 1e-5f;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
    if (eps && !cJSON_IsNull(eps)) {
        if (!cJSON_IsNumber(eps)) {
            rc = err_set(e, "%s: \"layer_norm_epsilon\" is not a number; it must be in (0, 1)",
                         cfg_path);
            goto done;
        }
        cfg->ln_eps = (float)eps->valuedouble;
    }
    if (config_check(cfg, cfg_path, "fix config.json", e) != 0) {
        rc = -1;
        goto done;
    }
    if (!exists(st_path))
        rc = err_set(e,
                     "%s: not found; a model directory needs model.safetensors next to "
                     "config.json (sharded or PyTorch .bin checkpoints must be re-saved as one "
                     "safetensors file)",
                     st_path);
done:
    cJSON_Delete(root);
    return rc;
}

/* ---- Hugging Face directory: model.safetensors ------------------------------------------ */

/* "h.<digits>.attn.bias" or "h.<digits>.attn.masked_bias": causal-mask buffers, not weights. */
static int is_mask_buffer(const char *name) {
    if (strncmp(name, "h.", 2) != 0) return 0;
    const char *p = name + 2;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return strcmp(p, ".attn.bias") == 0 || strcmp(p, ".attn.masked_bias") == 0;
}

static int param_index(const GPT2 *m, const char *name) {
    for (int i = 0; i < m->params.set.count; i++)
        if (strcmp(m->params.set.items[i].name, name) == 0) return i;
    return -1;
}

static int load_hf(GPT2 *m, const char *dir, Err *e) {
    char path[PATH_CAP];
    if (join_path(path, sizeof path, dir, "model.safetensors", e) != 0) return -1;
    StFile f;
    memset(&f, 0, sizeof f);
    if (st_open(&f, path, e) != 0) {
        st_close(&f);
        return -1;
    }
    const int n = m->params.set.count;
    const int64_t V = m->cfg.vocab, C = m->cfg.n_embd;
    const StEntry **src = xmalloc(sizeof(StEntry *) * (size_t)n, "tensor map");
    int rc = 0;
    char nm[160], other[160], have[200], want[200];
    for (int i = 0; i < f.count && rc == 0; i++) {
        const StEntry *en = &f.entries[i];
        const char *name = en->name;
        if (strncmp(name, "transformer.", 12) == 0) name += 12;
        if (is_mask_buffer(name)) continue;
        if (strcmp(name, "lm_head.weight") == 0) {
            if (en->ndim != 2 || en->shape[0] != V || en->shape[1] != C) {
                shape_text(have, sizeof have, en->shape, en->ndim);
                shape_text(want, sizeof want, (const int64_t[]){V, C}, 2);
                rc = err_set(e,
                             "%s: tensor '%s' has shape %s but a GPT-2 LM head tied to wte.weight "
                             "must be %s; the checkpoint does not match config.json",
                             path, printable(nm, sizeof nm, en->name), have, want);
            }
            continue; /* tied to wte: its values are not used */
        }
        int k = param_index(m, name);
        if (k < 0) {
            rc = err_set(e,
                         "%s: unexpected tensor '%s', which is not a parameter of a GPT-2 with "
                         "n_layer = %d; the checkpoint is not a plain GPT-2 (GPT2LMHeadModel) or "
                         "does not match config.json",
                         path, printable(nm, sizeof nm, en->name), m->cfg.n_layer);
            break;
        }
        if (src[k]) {
            rc = err_set(e, "%s: tensors '%s' and '%s' both hold parameter '%s'; keep one of them",
                         path, printable(nm, sizeof nm, src[k]->name),
                         printable(other, sizeof other, en->name), m->params.set.items[k].name);
            break;
        }
        src[k] = en;
    }
    for (int k = 0; k < n && rc == 0; k++)
        if (!src[k])
            rc = err_set(e,
                         "%s: tensor '%s' is missing; the checkpoint is incomplete or does not "
                         "match config.json",
                         path, m->params.set.items[k].name);
    for (int k = 0; k < n && rc == 0; k++) {
        Tensor *t = &m->params.set.items[k];
        rc = st_read_f32(&f, src[k]->name, t->data, t->shape, t->ndim, e);
    }
    xfree((void *)src);
    st_close(&f);
    return rc;
}

/* The double with the fewest significant decimal digits that rounds back to f (so that 1e-5f
 * is written "1e-05", not "9.99999975e-06"). */
static double shortest_decimal(float f) {
    char buf[32];
    for (int digits = 1; digits < 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    snprintf(buf, sizeof buf, "%.9g", (double)f);
    return strtod(buf, NULL);
}

static cJSON *hf_config_json(const GPT2Config *c, int bf16) {
    cJSON *root = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddStringToObject(root, "model_type", "gpt2");
    cJSON_AddNumberToObject(root, "n_layer", c->n_layer);
    cJSON_AddNumberToObject(root, "n_head", c->n_head);
    cJSON_AddNumberToObject(root, "n_embd", c->n_embd);
    cJSON_AddNumberToObject(root, "vocab_size", c->vocab);
    cJSON_AddNumberToObject(root, "n_positions", c->n_ctx);
    cJSON_AddNumberToObject(root, "n_ctx", c->n_ctx);
    cJSON_AddNumberToObject(root, "layer_norm_epsilon", shortest_decimal(c->ln_eps));
    cJSON_AddStringToObject(root, "activation_function", "gelu_new");
    cJSON_AddNumberToObject(root, "bos_token_id", c->vocab - 1);
    cJSON_AddNumberToObject(root, "eos_token_id", c->vocab - 1);
    cJSON_AddBoolToObject(root, "tie_word_embeddings", 1);
    cJSON_AddStringToObject(root, "torch_dtype", bf16 ? "bfloat16" : "float32");
    return root;
}

/* ---- llm.c checkpoint: header ----------------------------------------------------------- */

typedef struct LlmcHeader {
    int version; /* 3: fp32, 5: bf16 */
    int dsize;   /* bytes per value */
    int maxT, V, L, NH, C, Vp;
    uint64_t count; /* parameters in the file */
} LlmcHeader;

/* Parameters of an llm.c file of this shape, or -1 on overflow. */
static int llmc_count(const LlmcHeader *h, uint64_t *out) {
    const uint64_t C = (uint64_t)h->C, L = (uint64_t)h->L;
    uint64_t a, b, c, d, per_layer, total;
    /* per layer: 12 C^2 + 13 C; plus Vp C + maxT C + 2 C */
    if (__builtin_mul_overflow(C, C, &a) || __builtin_mul_overflow(a, (uint64_t)12, &a) ||
        __builtin_add_overflow(a, 13 * C, &per_layer) || __builtin_mul_overflow(per_layer, L, &b) ||
        __builtin_mul_overflow((uint64_t)h->Vp, C, &c) ||
        __builtin_mul_overflow((uint64_t)h->maxT, C, &d) || __builtin_add_overflow(b, c, &total) ||
        __builtin_add_overflow(total, d, &total) || __builtin_add_overflow(total, 2 * C, &total))
        return -1;
    *out = total;
    return 0;
}

/* Opens an llm.c checkpoint and checks its header and size; on success *fpp is positioned at
 * the first parameter (or closed if fpp is NULL). */
static int llmc_open(const char *path, LlmcHeader *h, FILE **fpp, Err *e) {
    memset(h, 0, sizeof *h);
    if (fpp) *fpp = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return err_set(e, "%s: cannot open: %s; check the path", path, strerror(errno));
    int rc = 0;
    off_t size = -1;
    if (fseeko(fp, 0, SEEK_END) != 0 || (size = ftello(fp)) < 0 || fseeko(fp, 0, SEEK_SET) != 0) {
        rc = err_set(e, "%s: cannot determine the file size: %s", path, strerror(errno));
        goto done;
    }
    if (size < LLMC_HEADER_BYTES) {
        const char *hint = ends_with(path, ".json") || ends_with(path, ".safetensors")
                               ? "; for a Hugging Face model pass the directory that holds "
                                 "config.json and model.safetensors"
                               : "";
        rc = err_set(e,
                     "%s: the file is %lld bytes, shorter than the %d-byte llm.c header; it is "
                     "truncated or not an llm.c GPT-2 checkpoint%s",
                     path, (long long)size, LLMC_HEADER_BYTES, hint);
        goto done;
    }
    unsigned char raw[LLMC_HEADER_BYTES];
    if (fread(raw, 1, sizeof raw, fp) != sizeof raw) {
        rc = err_set(e, "%s: cannot read the header: %s", path, strerror(errno));
        goto done;
    }
    int32_t hd[LLMC_HEADER_INTS];
    for (int i = 0; i < LLMC_HEADER_INTS; i++) hd[i] = (int32_t)load_u32le(raw + 4 * i);
    if (hd[0] != LLMC_MAGIC) {
        const char *hint = ends_with(path, ".json") || ends_with(path, ".safetensors")
                               ? " (for a Hugging Face model pass the directory that holds "
                                 "config.json and model.safetensors)"
                               : "";
        rc = err_set(e,
                     "%s: byte 0: bad magic %d, expected %d; this is not an llm.c GPT-2 "
                     "checkpoint%s",
                     path, hd[0], LLMC_MAGIC, hint);
        goto done;
    }
    if (hd[1] != 3 && hd[1] != 5) {
        rc = err_set(e,
                     "%s: byte 4: version %d is not supported; expected 3 (fp32) or 5 (bf16) "
                     "GPT-2 weights from llm.c's train_gpt2",
                     path, hd[1]);
        goto done;
    }
    h->version = hd[1];
    h->dsize = hd[1] == 3 ? 4 : 2;
    static const char *const what[] = {"max sequence length", "vocabulary size",
                                       "layer count",         "head count",
                                       "channel count",       "padded vocabulary size"};
    for (int i = 2; i <= 7; i++)
        if (hd[i] < 1) {
            rc = err_set(e,
                         "%s: byte %d: the %s (header[%d]) is %d but must be positive; the file "
                         "is corrupt",
                         path, 4 * i, what[i - 2], i, hd[i]);
            goto done;
        }
    h->maxT = hd[2];
    h->V = hd[3];
    h->L = hd[4];
    h->NH = hd[5];
    h->C = hd[6];
    h->Vp = hd[7];
    if (h->Vp < h->V) {
        rc = err_set(e,
                     "%s: byte 28: the padded vocabulary size %d is smaller than the vocabulary "
                     "size %d; the file is corrupt",
                     path, h->Vp, h->V);
        goto done;
    }
    GPT2Config cfg = {h->L, h->NH, h->C, h->V, h->maxT, 1e-5f};
    if (config_check(&cfg, path, "the header is corrupt or not from llm.c", e) != 0) {
        rc = -1;
        goto done;
    }
    if (llmc_count(h, &h->count) != 0 ||
        h->count > (UINT64_MAX - LLMC_HEADER_BYTES) / (uint64_t)h->dsize) {
        rc = err_set(e,
                     "%s: the header describes a model too large to address; the file is "
                     "corrupt",
                     path);
        goto done;
    }
    uint64_t expect = LLMC_HEADER_BYTES + h->count * (uint64_t)h->dsize;
    if ((uint64_t)size != expect) {
        rc = err_set(e,
                     "%s: the header describes %llu %s parameters, so the file should be %llu "
                     "bytes, but it is %lld bytes (%s); the file is %s",
                     path, (unsigned long long)h->count, h->version == 3 ? "fp32" : "bf16",
                     (unsigned long long)expect, (long long)size,
                     (uint64_t)size < expect ? "too short" : "extra bytes at the end",
                     (uint64_t)size < expect ? "truncated" : "corrupt or not an llm.c checkpoint");
        goto done;
    }
done:
    if (rc == 0 && fpp)
        *fpp = fp;
    else
        fclose(fp);
    return rc;
}

/* ---- llm.c checkpoint: parameters --------------------------------------------------------- */

/* The per-layer tensors in llm.c's file order (the same as GPT2Layer's field order); the four
 * matrices are stored [out, in] in the file and [in, out] in the model. */
static const struct {
    size_t offset;
    int transposed;
} LLMC_LAYER_FIELDS[] = {
    {offsetof(GPT2Layer, ln1_w), 0},  {offsetof(GPT2Layer, ln1_b), 0},
    {offsetof(GPT2Layer, attn_w), 1}, {offsetof(GPT2Layer, attn_b), 0},
    {offsetof(GPT2Layer, proj_w), 1}, {offsetof(GPT2Layer, proj_b), 0},
    {offsetof(GPT2Layer, ln2_w), 0},  {offsetof(GPT2Layer, ln2_b), 0},
    {offsetof(GPT2Layer, fc_w), 1},   {offsetof(GPT2Layer, fc_b), 0},
    {offsetof(GPT2Layer, fc2_w), 1},  {offsetof(GPT2Layer, fc2_b), 0},
};
#define LLMC_N_LAYER_FIELDS ((int)(sizeof LLMC_LAYER_FIELDS / sizeof LLMC_LAYER_FIELDS[0]))

static Tensor *layer_field(const GPT2 *m, int l, int field) {
    const char *base = (const char *)&m->params.layers[l];
    Tensor *t;
    memcpy(&t, base + LLMC_LAYER_FIELDS[field].offset, sizeof t);
    return t;
}

typedef struct BinIO {
    FILE *fp;
    const char *path;
    int dsize;
    uint64_t offset; /* bytes from the start of the file */
    unsigned char buf[1 << 16];
} BinIO;

static int bin_read(BinIO *r, float *dst, size_t n, Err *e) {
    const size_t per = sizeof r->buf / (size_t)r->dsize;
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        size_t bytes = k * (size_t)r->dsize;
        if (fread(r->buf, 1, bytes, r->fp) != bytes)
            return err_set(e,
                           "%s: byte %llu: unexpected end of file or read error; the file is "
                           "truncated or was changed while reading",
                           r->path, (unsigned long long)r->offset);
        if (r->dsize == 4)
            for (size_t j = 0; j < k; j++) dst[i + j] = u32_as_f32(load_u32le(r->buf + 4 * j));
        else
            for (size_t j = 0; j < k; j++)
                dst[i + j] = bf16_to_f32((uint16_t)(r->buf[2 * j] | (r->buf[2 * j + 1] << 8)));
        r->offset += bytes;
    }
    return 0;
}

static int bin_skip(BinIO *r, uint64_t n, Err *e) {
    uint64_t bytes = n * (uint64_t)r->dsize;
    if (fseeko(r->fp, (off_t)(r->offset + bytes), SEEK_SET) != 0)
        return err_set(e, "%s: byte %llu: cannot seek: %s", r->path, (unsigned long long)r->offset,
                       strerror(errno));
    r->offset += bytes;
    return 0;
}

static int bin_write(BinIO *w, const float *src, size_t n, Err *e) {
    const size_t per = sizeof w->buf / 4;
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        for (size_t j = 0; j < k; j++)
            store_u32le(w->buf + 4 * j, src ? f32_as_u32(src[i + j]) : 0);
        if (fwrite(w->buf, 1, 4 * k, w->fp) != 4 * k)
            return err_set(e, "%s: write failed: %s; check free disk space", w->path,
                           strerror(errno));
        w->offset += 4 * k;
    }
    return 0;
}

static int load_llmc(GPT2 *m, const char *path, Err *e) {
    LlmcHeader h;
    FILE *fp = NULL;
    if (llmc_open(path, &h, &fp, e) != 0) return -1;
    BinIO *r = xmalloc(sizeof *r, "checkpoint read buffer");
    r->fp = fp;
    r->path = path;
    r->dsize = h.dsize;
    r->offset = LLMC_HEADER_BYTES;
    const size_t C = (size_t)h.C;
    float *scratch = xmalloc(sizeof(float) * 4 * C * C, "transpose buffer");
    GPT2Params *p = &m->params;
    int rc = bin_read(r, p->wte->data, (size_t)h.V * C, e);
    if (rc == 0) rc = bin_skip(r, (uint64_t)(h.Vp - h.V) * C, e);
    if (rc == 0) rc = bin_read(r, p->wpe->data, (size_t)h.maxT * C, e);
    for (int f = 0; f < LLMC_N_LAYER_FIELDS && rc == 0; f++)
        for (int l = 0; l < h.L && rc == 0; l++) {
            Tensor *t = layer_field(m, l, f);
            if (!LLMC_LAYER_FIELDS[f].transposed) {
                rc = bin_read(r, t->data, t->numel, e);
                continue;
            }
            const size_t in = (size_t)t->shape[0], out = (size_t)t->shape[1];
            rc = bin_read(r, scratch, in * out, e); /* [out, in] */
            for (size_t o = 0; rc == 0 && o < out; o++)
                for (size_t i = 0; i < in; i++) t->data[i * out + o] = scratch[o * in + i];
        }
    if (rc == 0) rc = bin_read(r, p->lnf_w->data, C, e);
    if (rc == 0) rc = bin_read(r, p->lnf_b->data, C, e);
    xfree(scratch);
    xfree(r);
    fclose(fp);
    return rc;
}

/* ---- public: base model ------------------------------------------------------------------ */

int weights_probe(const char *path, GPT2Config *cfg, WeightsFormat *fmt, Err *e) {
    if (!path || !path[0])
        return err_set(e, "model path is empty; set model.path to a Hugging Face GPT-2 directory "
                          "or an llm.c .bin file");
    if (!exists(path))
        return err_set(e,
                       "%s: not found; model.path must be a Hugging Face GPT-2 directory "
                       "(config.json + model.safetensors) or an llm.c .bin file",
                       path);
    if (is_dir(path)) {
        if (probe_hf(path, cfg, e) != 0) return -1;
        if (fmt) *fmt = WEIGHTS_HF_DIR;
        return 0;
    }
    LlmcHeader h;
    if (llmc_open(path, &h, NULL, e) != 0) return -1;
    cfg->n_layer = h.L;
    cfg->n_head = h.NH;
    cfg->n_embd = h.C;
    cfg->vocab = h.V;
    cfg->n_ctx = h.maxT;
    cfg->ln_eps = 1e-5f;
    if (fmt) *fmt = WEIGHTS_LLMC_BIN;
    return 0;
}

int weights_load(GPT2 *m, const char *path, Err *e) {
    GPT2Config c;
    WeightsFormat fmt;
    if (weights_probe(path, &c, &fmt, e) != 0) return -1;
    const struct {
        const char *name;
        int file, model;
    } dims[] = {{"n_layer", c.n_layer, m->cfg.n_layer},
                {"n_head", c.n_head, m->cfg.n_head},
                {"n_embd", c.n_embd, m->cfg.n_embd},
                {"vocab_size", c.vocab, m->cfg.vocab},
                {"n_positions", c.n_ctx, m->cfg.n_ctx}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].file != dims[i].model)
            return err_set(e,
                           "%s: the checkpoint has %s = %d but the model was built with %d; build "
                           "the model from the checkpoint's shape",
                           path, dims[i].name, dims[i].file, dims[i].model);
    return fmt == WEIGHTS_HF_DIR ? load_hf(m, path, e) : load_llmc(m, path, e);
}

int weights_save_hf(const GPT2 *m, const char *dir, int bf16, Err *e) {
    char st_path[PATH_CAP], cfg_path[PATH_CAP];
    if (join_path(st_path, sizeof st_path, dir, "model.safetensors", e) != 0) return -1;
    if (join_path(cfg_path, sizeof cfg_path, dir, "config.json", e) != 0) return -1;
    if (mkdir_p(dir, e) != 0) return -1;
    const TensorSet *s = &m->params.set;
    StWriteItem *items = xmalloc(sizeof(StWriteItem) * (size_t)s->count, "safetensors items");
    for (int i = 0; i < s->count; i++) {
        items[i].name = s->items[i].name;
        items[i].data = s->items[i].data;
        items[i].ndim = s->items[i].ndim;
        items[i].shape = s->items[i].shape;
        items[i].dtype = bf16 ? ST_BF16 : ST_F32;
    }
    const char *mk[] = {"format"}, *mv[] = {"pt"}; /* what transformers expects */
    int rc = st_write(st_path, items, s->count, mk, mv, 1, e);
    xfree(items);
    if (rc != 0) return -1;
    cJSON *root = hf_config_json(&m->cfg, bf16);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return err_set(e, "%s: out of memory formatting config.json", cfg_path);
    size_t n = strlen(text);
    char *withnl = xmalloc(n + 2, "config.json text");
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    cJSON_free(text);
    rc = file_write_atomic(cfg_path, withnl, n + 1, e);
    xfree(withnl);
    return rc;
}

int weights_save_llmc(const GPT2 *m, const char *path, Err *e) {
    const GPT2Config *c = &m->cfg;
    const size_t C = (size_t)c->n_embd;
    const int Vp = (c->vocab + LLMC_VOCAB_PAD - 1) / LLMC_VOCAB_PAD * LLMC_VOCAB_PAD;
    unsigned char hdr[LLMC_HEADER_BYTES];
    memset(hdr, 0, sizeof hdr);
    const int32_t vals[8] = {LLMC_MAGIC, 3,         c->n_ctx,  c->vocab,
                             c->n_layer, c->n_head, c->n_embd, Vp};
    for (int i = 0; i < 8; i++) store_u32le(hdr + 4 * i, (uint32_t)vals[i]);
    AtomicFile af;
    if (atomic_open(&af, path, e) != 0) return -1;
    BinIO *w = xmalloc(sizeof *w, "checkpoint write buffer");
    w->fp = af.fp;
    w->path = path;
    w->dsize = 4;
    float *scratch = xmalloc(sizeof(float) * 4 * C * C, "transpose buffer");
    const GPT2Params *p = &m->params;
    int rc = 0;
    if (fwrite(hdr, 1, sizeof hdr, af.fp) != sizeof hdr)
        rc = err_set(e, "%s: write failed: %s; check free disk space", path, strerror(errno));
    w->offset = LLMC_HEADER_BYTES;
    if (rc == 0) rc = bin_write(w, p->wte->data, (size_t)c->vocab * C, e);
    if (rc == 0) rc = bin_write(w, NULL, (size_t)(Vp - c->vocab) * C, e); /* padding rows */
    if (rc == 0) rc = bin_write(w, p->wpe->data, (size_t)c->n_ctx * C, e);
    for (int f = 0; f < LLMC_N_LAYER_FIELDS && rc == 0; f++)
        for (int l = 0; l < c->n_layer && rc == 0; l++) {
            const Tensor *t = layer_field(m, l, f);
            if (!LLMC_LAYER_FIELDS[f].transposed) {
                rc = bin_write(w, t->data, t->numel, e);
                continue;
            }
            const size_t in = (size_t)t->shape[0], out = (size_t)t->shape[1];
            for (size_t o = 0; o < out; o++)
                for (size_t i = 0; i < in; i++) scratch[o * in + i] = t->data[i * out + o];
            rc = bin_write(w, scratch, in * out, e);
        }
    if (rc == 0) rc = bin_write(w, p->lnf_w->data, C, e);
    if (rc == 0) rc = bin_write(w, p->lnf_b->data, C, e);
    xfree(scratch);
    xfree(w);
    if (rc != 0) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, e);
}

/* ---- adapters ---------------------------------------------------------------------------- */

void lora_targets_text(char *buf, size_t n, int targets) {
    size_t k = 0;
    for (int t = 0; t < LORA_N_TARGETS && k + 1 < n; t++)
        if ((targets >> t) & 1) buf[k++] = lora_target_name(t)[0];
    if (n) buf[k < n ? k : n - 1] = '\0';
}

int lora_targets_parse(const char *s) {
    int mask = 0;
    if (!s || !*s) return -1;
    for (; *s; s++) {
        int t = -1;
        for (int i = 0; i < LORA_N_TARGETS; i++)
            if (*s == lora_target_name(i)[0]) t = i;
        if (t < 0 || (mask >> t) & 1) return -1;
        mask |= 1 << t;
    }
    return mask;
}

static const char *const LORA_RESERVED_KEYS[] = {"format", "rank",    "alpha",
                                                 "rslora", "targets", "layers"};
#define LORA_N_RESERVED ((int)(sizeof LORA_RESERVED_KEYS / sizeof LORA_RESERVED_KEYS[0]))

int lora_save(const Lora *lo, const char *path, const char *const *meta_keys,
              const char *const *meta_values, int n_meta, Err *e) {
    if (n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_values)))
        return err_set(e, "%s: bad metadata list; this is a bug in the caller", path);
    for (int i = 0; i < n_meta; i++)
        for (int k = 0; k < LORA_N_RESERVED; k++)
            if (meta_keys[i] && strcmp(meta_keys[i], LORA_RESERVED_KEYS[k]) == 0)
                return err_set(e,
                               "%s: metadata key '%s' is reserved for the adapter description; "
                               "use another key",
                               path, meta_keys[i]);
    char rank[16], alpha[32], targets[8], layers[32];
    snprintf(rank, sizeof rank, "%d", lo->spec.rank);
    snprintf(alpha, sizeof alpha, "%.9g", (double)lo->spec.alpha);
    lora_targets_text(targets, sizeof targets, lo->spec.targets);
    snprintf(layers, sizeof layers, "%d-%d", lo->spec.layer_first, lo->spec.layer_last);
    const int nm = LORA_N_RESERVED + n_meta;
    const char **keys = xmalloc(sizeof(char *) * (size_t)nm, "adapter metadata");
    const char **values = xmalloc(sizeof(char *) * (size_t)nm, "adapter metadata");
    const char *mine[] = {"imprint-lora", rank,  alpha, lo->spec.rslora ? "true" : "false",
                          targets,        layers};
    for (int k = 0; k < LORA_N_RESERVED; k++) {
        keys[k] = LORA_RESERVED_KEYS[k];
        values[k] = mine[k];
    }
    for (int i = 0; i < n_meta; i++) {
        keys[LORA_N_RESERVED + i] = meta_keys[i];
        values[LORA_N_RESERVED + i] = meta_values[i];
    }
    int rc = st_write_tensors(path, lo->params.items, lo->params.count, keys, values, nm, e);
    xfree((void *)keys);
    xfree((void *)values);
    return rc;
}

/* Parses a whole decimal int; returns 0 on success. */
static int parse_int(const char *s, const char **end, int *out) {
    if (!s || !(*s >= '0' && *s <= '9')) return -1;
    char *stop = NULL;
    errno = 0;
    long v = strtol(s, &stop, 10);
    if (errno || v > INT_MAX) return -1;
    *out = (int)v;
    if (end)
        *end = stop;
    else if (*stop)
        return -1;
    return 0;
}

/* "a-b" or "a" (a == b). */
static int parse_layers(const char *s, int *first, int *last) {
    const char *p = NULL;
    if (parse_int(s, &p, first) != 0) return -1;
    if (*p == '\0') {
        *last = *first;
        return 0;
    }
    if (*p != '-') return -1;
    return parse_int(p + 1, NULL, last);
}

static int lora_check_meta(const Lora *lo, const StFile *f, const char *path, Err *e) {
    char v[80], want[8];
    const char *fmt = st_meta(f, "format");
    if (!fmt || strcmp(fmt, "imprint-lora") != 0)
        return err_set(e,
                       "%s: not an imprint LoRA adapter (__metadata__ \"format\" is %s%s%s, "
                       "expected \"imprint-lora\"); pass an adapter.safetensors written by imprint",
                       path, fmt ? "\"" : "", fmt ? printable(v, sizeof v, fmt) : "missing",
                       fmt ? "\"" : "");
    const char *rs = st_meta(f, "rank");
    int rank = 0;
    if (!rs || parse_int(rs, NULL, &rank) != 0 || rank < 1)
        return err_set(e,
                       "%s: __metadata__ \"rank\" is %s, not a positive integer; the file is "
                       "corrupt",
                       path, rs ? printable(v, sizeof v, rs) : "missing");
    if (rank != lo->spec.rank)
        return err_set(e,
                       "%s: rank %d but the config asks for lora.rank = %d; set lora.rank = %d "
                       "or use an adapter trained with rank %d",
                       path, rank, lo->spec.rank, rank, lo->spec.rank);
    const char *ts = st_meta(f, "targets");
    int targets = ts ? lora_targets_parse(ts) : -1;
    if (targets < 0)
        return err_set(e,
                       "%s: __metadata__ \"targets\" is %s, not a set of the letters q, k, v, o; "
                       "the file is corrupt",
                       path, ts ? printable(v, sizeof v, ts) : "missing");
    lora_targets_text(want, sizeof want, lo->spec.targets);
    if (targets != (lo->spec.targets & 0xF))
        return err_set(e,
                       "%s: targets \"%s\" but the config asks for lora.targets = \"%s\"; make "
                       "lora.targets match the adapter",
                       path, ts, want);
    const char *ls = st_meta(f, "layers");
    int first = 0, last = 0;
    if (!ls || parse_layers(ls, &first, &last) != 0)
        return err_set(e,
                       "%s: __metadata__ \"layers\" is %s, not a range like \"0-11\"; the file is "
                       "corrupt",
                       path, ls ? printable(v, sizeof v, ls) : "missing");
    if (first != lo->spec.layer_first || last != lo->spec.layer_last)
        return err_set(e,
                       "%s: layers %d-%d but the config asks for lora.layers = [%d, %d]; make "
                       "lora.layers match the adapter",
                       path, first, last, lo->spec.layer_first, lo->spec.layer_last);
    return 0;
}

int lora_load(Lora *lo, const char *path, Err *e) {
    StFile f;
    memset(&f, 0, sizeof f);
    if (st_open(&f, path, e) != 0) {
        st_close(&f);
        return -1;
    }
    int rc = lora_check_meta(lo, &f, path, e);
    char nm[160];
    for (int i = 0; i < f.count && rc == 0; i++)
        if (!tensorset_find(&lo->params, f.entries[i].name))
            rc = err_set(e,
                         "%s: unexpected tensor '%s', which the configured adapters (rank %d, "
                         "layers %d-%d) do not have; the adapter does not match the model",
                         path, printable(nm, sizeof nm, f.entries[i].name), lo->spec.rank,
                         lo->spec.layer_first, lo->spec.layer_last);
    for (int i = 0; i < lo->params.count && rc == 0; i++)
        if (!st_find(&f, lo->params.items[i].name))
            rc = err_set(e, "%s: tensor '%s' is missing; the adapter file is incomplete", path,
                         lo->params.items[i].name);
    /* read into a copy so that a failure leaves the adapters as they were */
    float *tmp = NULL;
    if (rc == 0)
        tmp = xmalloc(sizeof(float) * (lo->params.numel ? lo->params.numel : 1), "adapter");
    for (int i = 0; i < lo->params.count && rc == 0; i++) {
        const Tensor *t = &lo->params.items[i];
        rc = st_read_f32(&f, t->name, tmp + (t->data - lo->params.memory), t->shape, t->ndim, e);
    }
    if (rc == 0) memcpy(lo->params.memory, tmp, sizeof(float) * lo->params.numel);
    xfree(tmp);
    st_close(&f);
    return rc;
}
