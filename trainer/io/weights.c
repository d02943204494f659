/*
 * weights.c — model and adapter weights in and out. See weights.h.
 *
 * This file probes and loads a base model (the Hugging Face directory is read and written in
 * weights_hf.c, the llm.c checkpoint in weights_llmc.c) and reads and writes adapter files.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_util.h"
#include "safetensors.h"
#include "weights_private.h"

/* ---- small helpers ---------------------------------------------------------------------- */

int weights_dir_file(char *buf, size_t cap, const char *dir, const char *file, Err *e) {
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] == '/') ? "" : "/";
    return path_join(buf, cap, e, "%s%s%s", dir, sep, file);
}

int weights_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int weights_config_check(const GPT2Config *c, const char *file, const char *remedy, Err *e) {
    Err inner = {{0}};
    if (gpt2_config_check(c, &inner) == 0) return 0;
    return err_set(e, "%s: %s; %s", file, inner.msg, remedy);
}

/* ---- public: base model ------------------------------------------------------------------ */

int weights_probe(const char *path, GPT2Config *cfg, WeightsFormat *fmt, Err *e) {
    if (!path || !path[0])
        return err_set(e, "model path is empty; set model.path to a Hugging Face GPT-2 directory "
                          "or an llm.c .bin file");
    if (!weights_exists(path))
        return err_set(e,
                       "%s: not found; model.path must be a Hugging Face GPT-2 directory "
                       "(config.json + model.safetensors) or an llm.c .bin file",
                       path);
    if (is_dir(path)) {
        if (weights_probe_hf(path, cfg, e) != 0) return -1;
        if (fmt) *fmt = WEIGHTS_HF_DIR;
        return 0;
    }
    if (weights_probe_llmc(path, cfg, e) != 0) return -1;
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
    return fmt == WEIGHTS_HF_DIR ? weights_load_hf(m, path, e) : weights_load_llmc(m, path, e);
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

/* The adapter shape an adapter file's __metadata__ states: rank, targets and layers (required),
 * alpha and rslora (*has_scale = 0 when absent), the training step (-1 when absent). */
static int lora_read_meta(const StFile *f, const char *path, LoraSpec *spec, int *has_scale,
                          long long *step, Err *e) {
    char v[80];
    memset(spec, 0, sizeof *spec);
    const char *fmt = st_meta(f, "format");
    if (!fmt || strcmp(fmt, "imprint-lora") != 0)
        return err_set(e,
                       "%s: not an imprint LoRA adapter (__metadata__ \"format\" is %s%s%s, "
                       "expected \"imprint-lora\"); pass an adapter.safetensors written by imprint",
                       path, fmt ? "\"" : "", fmt ? io_safe_text(v, sizeof v, fmt) : "missing",
                       fmt ? "\"" : "");
    const char *rs = st_meta(f, "rank");
    if (!rs || parse_int(rs, NULL, &spec->rank) != 0 || spec->rank < 1)
        return err_set(e,
                       "%s: __metadata__ \"rank\" is %s, not a positive integer; the file is "
                       "corrupt",
                       path, rs ? io_safe_text(v, sizeof v, rs) : "missing");
    const char *ts = st_meta(f, "targets");
    spec->targets = ts ? lora_targets_parse(ts) : -1;
    if (spec->targets < 0)
        return err_set(e,
                       "%s: __metadata__ \"targets\" is %s, not a set of the letters q, k, v, o; "
                       "the file is corrupt",
                       path, ts ? io_safe_text(v, sizeof v, ts) : "missing");
    const char *ls = st_meta(f, "layers");
    if (!ls || parse_layers(ls, &spec->layer_first, &spec->layer_last) != 0)
        return err_set(e,
                       "%s: __metadata__ \"layers\" is %s, not a range like \"0-11\"; the file is "
                       "corrupt",
                       path, ls ? io_safe_text(v, sizeof v, ls) : "missing");
    const char *as = st_meta(f, "alpha"), *rl = st_meta(f, "rslora");
    char *stop = NULL;
    double alpha = as ? strtod(as, &stop) : 0.0;
    *has_scale = as && rl && stop != as && *stop == '\0' && alpha > 0 &&
                 (!strcmp(rl, "true") || !strcmp(rl, "false"));
    if (*has_scale) {
        spec->alpha = (float)alpha;
        spec->rslora = !strcmp(rl, "true");
    }
    const char *ss = st_meta(f, "step");
    *step = -1;
    if (ss) {
        long long k = strtoll(ss, &stop, 10);
        if (stop != ss && *stop == '\0' && k >= 0) *step = k;
    }
    return 0;
}

static int lora_check_meta(const Lora *lo, const StFile *f, const char *path, Err *e) {
    char want[8], have[8];
    LoraSpec s;
    int has_scale;
    long long step;
    if (lora_read_meta(f, path, &s, &has_scale, &step, e) != 0) return -1;
    if (s.rank != lo->spec.rank)
        return err_set(e,
                       "%s: rank %d but the config asks for lora.rank = %d; set lora.rank = %d "
                       "or use an adapter trained with rank %d",
                       path, s.rank, lo->spec.rank, s.rank, lo->spec.rank);
    lora_targets_text(want, sizeof want, lo->spec.targets);
    lora_targets_text(have, sizeof have, s.targets);
    if (s.targets != (lo->spec.targets & 0xF))
        return err_set(e,
                       "%s: targets \"%s\" but the config asks for lora.targets = \"%s\"; make "
                       "lora.targets match the adapter",
                       path, have, want);
    if (s.layer_first != lo->spec.layer_first || s.layer_last != lo->spec.layer_last)
        return err_set(e,
                       "%s: layers %d-%d but the config asks for lora.layers = [%d, %d]; make "
                       "lora.layers match the adapter",
                       path, s.layer_first, s.layer_last, lo->spec.layer_first,
                       lo->spec.layer_last);
    return 0;
}

int lora_read_spec(const char *path, LoraSpec *spec, int *has_scale, long long *step, Err *e) {
    StFile f;
    memset(&f, 0, sizeof f);
    int rc = st_open(&f, path, e);
    if (rc == 0) rc = lora_read_meta(&f, path, spec, has_scale, step, e);
    st_close(&f);
    return rc;
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
                         path, io_safe_text(nm, sizeof nm, f.entries[i].name), lo->spec.rank,
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
