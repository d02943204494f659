/*
 * weights_hf.c — a Hugging Face GPT-2 directory: config.json (read and written) and
 * model.safetensors (names with or without the "transformer." prefix, causal-mask buffers
 * skipped, a tied lm_head.weight checked and ignored). See weights.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_util.h"
#include "safetensors.h"
#include "weights_private.h"

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

int weights_probe_hf(const char *dir, GPT2Config *cfg, Err *e) {
    char cfg_path[IO_PATH_CAP], st_path[IO_PATH_CAP];
    if (weights_dir_file(cfg_path, sizeof cfg_path, dir, "config.json", e) != 0) return -1;
    if (weights_dir_file(st_path, sizeof st_path, dir, "model.safetensors", e) != 0) return -1;
    if (!weights_exists(cfg_path))
        return err_set(e,
                       "%s: not found; a model directory needs config.json and model.safetensors "
                       "(Hugging Face GPT-2 layout), or point model.path at an llm.c .bin file",
                       cfg_path);
    /* not json_read_file: this message ("invalid JSON; fix the syntax of config.json") is the
     * one users and tests know */
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
                     cJSON_IsString(mt) ? io_safe_text(v, sizeof v, mt->valuestring)
                                        : "not a string");
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
            cJSON_IsString(act) ? io_safe_text(v, sizeof v, act->valuestring) : "not a string");
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
    if (weights_config_check(cfg, cfg_path, "fix config.json", e) != 0) {
        rc = -1;
        goto done;
    }
    if (!weights_exists(st_path))
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

int weights_load_hf(GPT2 *m, const char *dir, Err *e) {
    char path[IO_PATH_CAP];
    if (weights_dir_file(path, sizeof path, dir, "model.safetensors", e) != 0) return -1;
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
                io_shape_text(have, sizeof have, en->shape, en->ndim);
                io_shape_text(want, sizeof want, (const int64_t[]){V, C}, 2);
                rc = err_set(e,
                             "%s: tensor '%s' has shape %s but a GPT-2 LM head tied to wte.weight "
                             "must be %s; the checkpoint does not match config.json",
                             path, io_safe_text(nm, sizeof nm, en->name), have, want);
            }
            continue; /* tied to wte: its values are not used */
        }
        int k = param_index(m, name);
        if (k < 0) {
            rc = err_set(e,
                         "%s: unexpected tensor '%s', which is not a parameter of a GPT-2 with "
                         "n_layer = %d; the checkpoint is not a plain GPT-2 (GPT2LMHeadModel) or "
                         "does not match config.json",
                         path, io_safe_text(nm, sizeof nm, en->name), m->cfg.n_layer);
            break;
        }
        if (src[k]) {
            rc = err_set(e, "%s: tensors '%s' and '%s' both hold parameter '%s'; keep one of them",
                         path, io_safe_text(nm, sizeof nm, src[k]->name),
                         io_safe_text(other, sizeof other, en->name), m->params.set.items[k].name);
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

/* ---- Hugging Face directory: writing ---------------------------------------------------- */

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

static cJSON *hf_config_json(const GPT2Config *c, int bf16, int eot) {
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
    /* the tokenizer's <|endoftext|>; vocab - 1 (GPT-2's) only when no tokenizer is known */
    if (eot == WEIGHTS_EOT_UNKNOWN) eot = c->vocab - 1;
    if (eot >= 0) {
        cJSON_AddNumberToObject(root, "bos_token_id", eot);
        cJSON_AddNumberToObject(root, "eos_token_id", eot);
    } else {
        cJSON_AddNullToObject(root, "bos_token_id");
        cJSON_AddNullToObject(root, "eos_token_id");
    }
    cJSON_AddBoolToObject(root, "tie_word_embeddings", 1);
    cJSON_AddStringToObject(root, "torch_dtype", bf16 ? "bfloat16" : "float32");
    return root;
}

int weights_save_hf(const GPT2 *m, const char *dir, int bf16, int eot, Err *e) {
    if (eot >= m->cfg.vocab || eot < WEIGHTS_EOT_NONE)
        return err_set(e, "%s: end token %d is outside the vocabulary of %d", dir, eot,
                       m->cfg.vocab);
    char st_path[IO_PATH_CAP], cfg_path[IO_PATH_CAP];
    if (weights_dir_file(st_path, sizeof st_path, dir, "model.safetensors", e) != 0) return -1;
    if (weights_dir_file(cfg_path, sizeof cfg_path, dir, "config.json", e) != 0) return -1;
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
    cJSON *root = hf_config_json(&m->cfg, bf16, eot);
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
