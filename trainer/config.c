/*
 * config.c — the run configuration: load a libconfig file, apply --set overrides, validate every
 * key against one schema table, fill defaults, print/save the resolved config.
 *
 * Everything about a key (its path, type, default, range or allowed values, help line and where
 * it lands in Config) lives in KEYS[] below; the validator, the defaults, config_print() and the
 * "did you mean" suggestions are all driven by that table.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <libconfig.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the schema ---------------------------------------------------------------------------- */

typedef enum {
    K_GROUP,      /* a group with no field of its own */
    K_FLAG_GROUP, /* a group whose presence sets an int field to 1 (model.random) */
    K_INT,        /* int field; libconfig int or int64 */
    K_U64,        /* uint64_t field; libconfig int or int64 */
    K_FLOAT,      /* double field; libconfig float, int or int64 */
    K_BOOL,       /* int field; libconfig bool */
    K_STRING,     /* char[CFG_PATH_MAX] field; imin = minimum length */
    K_ENUM,       /* int-sized enum field = index into choices */
    K_MASK,       /* int field = OR of (1 << index) over an array of strings from choices */
    K_INT_PAIR,   /* two int fields (off, off2); each element in [imin, imax] */
    K_FLOAT_PAIR, /* two double fields (off, off2); each element in the float range */
} Kind;

enum { OPTIONAL = 0, REQUIRED = 1, REQUIRED_IF_RANDOM = 2 };

typedef struct Key {
    const char *path;
    Kind kind;
    int required;
    const char *def;      /* default as libconfig value text; NULL: no default */
    long long imin, imax; /* integer range (inclusive); K_STRING: imin = minimum length */
    long long imin2;      /* K_INT_PAIR: minimum of the second element (imin: of the first) */
    double fmin, fmax;    /* float range */
    int fmin_open, fmax_open;
    const char *const *choices; /* K_ENUM, K_MASK: NULL-terminated */
    size_t off, off2;           /* where the value goes in Config */
    const char *example;        /* value text for messages; NULL: use def */
    const char *help;
} Key;

static const char *const SCHEDULES[] = {"cosine", "linear", "constant", NULL};
static const char *const FORMATS[] = {"llmc", "bytes", NULL};
static const char *const SAMPLINGS[] = {"random", "sequential", NULL};
static const char *const TARGETS[] = {"q", "k", "v", "o", NULL};

_Static_assert(sizeof(Schedule) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(DataFormat) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(Sampling) == sizeof(int), "enum fields are stored as int");
_Static_assert(SCHED_COSINE == 0 && SCHED_LINEAR == 1 && SCHED_CONSTANT == 2, "SCHEDULES order");
_Static_assert(DATA_LLMC == 0 && DATA_BYTES == 1, "FORMATS order");
_Static_assert(SAMPLE_RANDOM == 0 && SAMPLE_SEQUENTIAL == 1, "SAMPLINGS order");
_Static_assert(LORA_Q == 1 && LORA_K == 2 && LORA_V == 4 && LORA_O == 8, "TARGETS order");

#define F(member)         offsetof(Config, member)
#define INT_RANGE(lo, hi) .imin = (lo), .imax = (hi)
#define FLOAT_RANGE(lo_open, lo, hi, hi_open)                                                      \
    .fmin = (lo), .fmax = (hi), .fmin_open = (lo_open), .fmax_open = (hi_open)
#define OPEN   1
#define CLOSED 0

/* Children follow their group, in the order config_print() writes them. */
static const Key KEYS[] = {
    {.path = "model", .kind = K_GROUP, .help = "the base model: give exactly one of path / random"},
    {.path = "model.path",
     .kind = K_STRING,
     .def = "\"\"",
     .off = F(model.path),
     .example = "\"gpt2\"",
     .help = "HF GPT-2 dir (config.json + model.safetensors) or llm.c .bin"},
    {.path = "model.tokenizer",
     .kind = K_STRING,
     .def = "\"\"",
     .off = F(model.tokenizer),
     .example = "\"models/brown-gpt2-small\"",
     .help = "tokenizer dir (vocab.json + merges.txt); \"\" = model.path's own, if it has one"},
    {.path = "model.random",
     .kind = K_FLAG_GROUP,
     .off = F(model.random),
     .example = "{ layers = 2; heads = 2; width = 32; vocab = 256; context = 64; }",
     .help = "random init of this shape instead of a checkpoint (tests, experiments)"},
    {.path = "model.random.layers",
     .kind = K_INT,
     .required = REQUIRED_IF_RANDOM,
     INT_RANGE(1, 96),
     .off = F(model.layers),
     .example = "12",
     .help = "transformer blocks"},
    {.path = "model.random.heads",
     .kind = K_INT,
     .required = REQUIRED_IF_RANDOM,
     INT_RANGE(1, 128),
     .off = F(model.heads),
     .example = "12",
     .help = "attention heads per block"},
    {.path = "model.random.width",
     .kind = K_INT,
     .required = REQUIRED_IF_RANDOM,
     INT_RANGE(1, 16384),
     .off = F(model.width),
     .example = "768",
     .help = "model width (channels); a multiple of heads"},
    {.path = "model.random.vocab",
     .kind = K_INT,
     .required = REQUIRED_IF_RANDOM,
     INT_RANGE(2, 1000000),
     .off = F(model.vocab),
     .example = "50257",
     .help = "vocabulary size"},
    {.path = "model.random.context",
     .kind = K_INT,
     .required = REQUIRED_IF_RANDOM,
     INT_RANGE(1, 65536),
     .off = F(model.context),
     .example = "1024",
     .help = "maximum sequence length (position embeddings)"},
    {.path = "model.random.std",
     .kind = K_FLOAT,
     .def = "0.02",
     FLOAT_RANGE(OPEN, 0.0, 1.0, CLOSED),
     .off = F(model.init_std),
     .help = "standard deviation of the random weights"},

    {.path = "lora", .kind = K_GROUP, .help = "the LoRA adapters on the attention projections"},
    {.path = "lora.rank",
     .kind = K_INT,
     .def = "8",
     INT_RANGE(1, 1024),
     .off = F(lora.rank),
     .help = "adapter rank r"},
    {.path = "lora.alpha",
     .kind = K_FLOAT,
     .def = "16.0",
     FLOAT_RANGE(OPEN, 0.0, 1e6, CLOSED),
     .off = F(lora.alpha),
     .help = "scale numerator: the update is scaled by alpha/r"},
    {.path = "lora.targets",
     .kind = K_MASK,
     .def = "[\"q\", \"k\", \"v\", \"o\"]",
     .choices = TARGETS,
     .off = F(lora.targets),
     .help = "projections that get adapters: any of q, k, v, o"},
    {.path = "lora.layers",
     .kind = K_INT_PAIR,
     .def = "[0, -1]",
     INT_RANGE(0, 1000000),
     .imin2 = -1,
     .off = F(lora.layer_first),
     .off2 = F(lora.layer_last),
     .help = "[first, last] blocks with adapters, inclusive; -1 = the last block"},
    {.path = "lora.dropout",
     .kind = K_FLOAT,
     .def = "0.0",
     FLOAT_RANGE(CLOSED, 0.0, 1.0, OPEN),
     .off = F(lora.dropout),
     .help = "dropout on the adapter input"},
    {.path = "lora.rslora",
     .kind = K_BOOL,
     .def = "false",
     .off = F(lora.rslora),
     .help = "rank-stabilized scale alpha/sqrt(r) instead of alpha/r"},

    {.path = "optim", .kind = K_GROUP, .help = "AdamW and the learning-rate schedule"},
    {.path = "optim.lr",
     .kind = K_FLOAT,
     .def = "2e-3",
     FLOAT_RANGE(OPEN, 0.0, 10.0, CLOSED),
     .off = F(optim.lr),
     .help = "peak learning rate"},
    {.path = "optim.betas",
     .kind = K_FLOAT_PAIR,
     .def = "[0.9, 0.999]",
     FLOAT_RANGE(CLOSED, 0.0, 1.0, OPEN),
     .off = F(optim.beta1),
     .off2 = F(optim.beta2),
     .help = "AdamW [beta1, beta2]"},
    {.path = "optim.eps",
     .kind = K_FLOAT,
     .def = "1e-8",
     FLOAT_RANGE(OPEN, 0.0, 1.0, CLOSED),
     .off = F(optim.eps),
     .help = "AdamW epsilon"},
    {.path = "optim.weight_decay",
     .kind = K_FLOAT,
     .def = "0.0",
     FLOAT_RANGE(CLOSED, 0.0, 10.0, CLOSED),
     .off = F(optim.weight_decay),
     .help = "decoupled weight decay"},
    {.path = "optim.warmup",
     .kind = K_INT,
     .def = "0",
     INT_RANGE(0, 1000000000),
     .off = F(optim.warmup),
     .help = "steps of linear warmup from 0"},
    {.path = "optim.schedule",
     .kind = K_ENUM,
     .def = "\"cosine\"",
     .choices = SCHEDULES,
     .off = F(optim.schedule),
     .help = "decay after warmup: cosine, linear or constant"},
    {.path = "optim.min_lr_ratio",
     .kind = K_FLOAT,
     .def = "0.0",
     FLOAT_RANGE(CLOSED, 0.0, 1.0, CLOSED),
     .off = F(optim.min_lr_ratio),
     .help = "the schedule decays to lr * min_lr_ratio"},
    {.path = "optim.clip",
     .kind = K_FLOAT,
     .def = "1.0",
     FLOAT_RANGE(CLOSED, 0.0, 1e6, CLOSED),
     .off = F(optim.clip),
     .help = "global gradient-norm clip; 0 = off"},

    {.path = "data", .kind = K_GROUP, .help = "the training tokens"},
    {.path = "data.path",
     .kind = K_STRING,
     .required = REQUIRED,
     INT_RANGE(1, 0),
     .off = F(data.path),
     .example = "\"...\"",
     .help = "token file (relative to the working directory)"},
    {.path = "data.val_path",
     .kind = K_STRING,
     .def = "\"\"",
     .off = F(data.val_path),
     .example = "\"data/brown/val.bin\"",
     .help = "validation token file (same format); \"\" = no validation"},
    {.path = "data.format",
     .kind = K_ENUM,
     .def = "\"llmc\"",
     .choices = FORMATS,
     .off = F(data.format),
     .help = "llmc (llm.c uint16 tokens) or bytes (raw bytes are tokens)"},
    {.path = "data.sampling",
     .kind = K_ENUM,
     .def = "\"random\"",
     .choices = SAMPLINGS,
     .off = F(data.sampling),
     .help = "random windows or sequential passes"},

    {.path = "batch", .kind = K_GROUP, .help = "batch shape"},
    {.path = "batch.global",
     .kind = K_INT,
     .def = "8",
     INT_RANGE(1, 1000000),
     .off = F(batch.global),
     .help = "sequences per optimizer step, summed over all ranks"},
    {.path = "batch.seq_len",
     .kind = K_INT,
     .def = "64",
     INT_RANGE(1, 65536),
     .off = F(batch.seq_len),
     .help = "tokens per sequence"},

    {.path = "run", .kind = K_GROUP, .help = "the run: output, length, logging"},
    {.path = "run.dir",
     .kind = K_STRING,
     .def = "\"runs/default\"",
     INT_RANGE(1, 0),
     .off = F(run.dir),
     .help = "output directory (checkpoints, logs, resolved config)"},
    {.path = "run.steps",
     .kind = K_INT,
     .def = "100",
     INT_RANGE(1, 1000000000),
     .off = F(run.steps),
     .help = "optimizer steps"},
    {.path = "run.checkpoint_every",
     .kind = K_INT,
     .def = "0",
     INT_RANGE(0, 1000000000),
     .off = F(run.checkpoint_every),
     .help = "steps between checkpoints; 0 = only at the end"},
    {.path = "run.log_every",
     .kind = K_INT,
     .def = "1",
     INT_RANGE(1, 1000000000),
     .off = F(run.log_every),
     .help = "steps between progress lines"},
    {.path = "run.eval_every",
     .kind = K_INT,
     .def = "0",
     INT_RANGE(0, 1000000000),
     .off = F(run.eval_every),
     .help = "steps between validation losses (needs data.val_path); 0 = at the end only"},
    {.path = "run.eval_batches",
     .kind = K_INT,
     .def = "8",
     INT_RANGE(1, 1000000),
     .off = F(run.eval_batches),
     .help = "global batches of data.val_path per validation (fixed windows)"},
    {.path = "run.threads",
     .kind = K_INT,
     .def = "0",
     INT_RANGE(0, 1024),
     .off = F(run.threads),
     .help = "threads per rank; 0 = OMP_NUM_THREADS if set, else cores / ranks on the node"},

    {.path = "seed",
     .kind = K_U64,
     .def = "1337",
     INT_RANGE(0, LLONG_MAX),
     .off = F(seed),
     .help = "seed for initialization, dropout and data order"},
};

#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

static int kind_is_group(Kind k) {
    return k == K_GROUP || k == K_FLAG_GROUP;
}

static const Key *find_key(const char *path) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].path, path) == 0) return &KEYS[i];
    return NULL;
}

static const char *leaf_of(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/* Length of the parent part of a path ("lora.rank" -> 4, "seed" -> 0). */
static size_t parent_len(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? (size_t)(dot - path) : 0;
}

static int same_parent(const char *a, const char *b) {
    size_t la = parent_len(a), lb = parent_len(b);
    return la == lb && strncmp(a, b, la) == 0;
}

/* Is `path` a direct child of the group `group` ("" = top level)? */
static int is_child_of(const char *path, const char *group) {
    size_t lg = strlen(group), lp = parent_len(path);
    return lp == lg && strncmp(path, group, lg) == 0;
}

/* ---- small formatting helpers -------------------------------------------------------------- */

/* Shortest text that strtod() reads back to exactly v. */
static void fmt_double(double v, char *buf, size_t n) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
    snprintf(buf, n, "%.17g", v);
}

/* A number for a message: integral values without an exponent. */
static void fmt_bound(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        fmt_double(v, buf, n);
}

/* A libconfig float literal that reads back bit-exactly (always has '.' or 'e'). */
static void fmt_float_literal(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.1f", v); /* 1000000.0 rather than 1e+06 */
        return;
    }
    fmt_double(v, buf, n);
    if (!strpbrk(buf, ".eE")) {
        size_t len = strlen(buf);
        if (len + 3 <= n) memcpy(buf + len, ".0", 3);
    }
}

/* Appends a libconfig string literal of s (quoted, escaped) to buf. */
static void fmt_string_literal(const char *s, char *buf, size_t n, size_t max_chars) {
    size_t o = 0, used = 0;
    if (n < 4) {
        if (n) buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, used++) {
        char tmp[8];
        if (max_chars && used >= max_chars) {
            snprintf(tmp, sizeof tmp, "...");
        } else if (*p == '"' || *p == '\\') {
            snprintf(tmp, sizeof tmp, "\\%c", *p);
        } else if (*p == '\n') {
            snprintf(tmp, sizeof tmp, "\\n");
        } else if (*p == '\t') {
            snprintf(tmp, sizeof tmp, "\\t");
        } else if (*p == '\r') {
            snprintf(tmp, sizeof tmp, "\\r");
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", *p);
        } else {
            tmp[0] = (char)*p;
            tmp[1] = '\0';
        }
        size_t l = strlen(tmp);
        if (o + l + 2 > n) break;
        memcpy(buf + o, tmp, l);
        o += l;
        if (max_chars && used >= max_chars) break;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static void fmt_choices(const char *const *choices, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i]; i++) {
        int w = snprintf(buf + o, n - o, "%s%s", i ? ", " : "", choices[i]);
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
}

/* "model.random.layers" + "12" -> "model = { random = { layers = 12; }; };" */
static void fmt_nested_example(const char *path, const char *value, char *buf, size_t n) {
    char comps[8][CFG_NAME_MAX];
    int nc = 0;
    const char *p = path;
    while (*p && nc < 8) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l >= CFG_NAME_MAX) l = CFG_NAME_MAX - 1;
        memcpy(comps[nc], p, l);
        comps[nc][l] = '\0';
        nc++;
        if (!dot) break;
        p = dot + 1;
    }
    size_t o = 0;
    buf[0] = '\0';
#define APPEND(...)                                                                                \
    do {                                                                                           \
        int w_ = snprintf(buf + o, n - o, __VA_ARGS__);                                            \
        if (w_ < 0 || (size_t)w_ >= n - o) return;                                                 \
        o += (size_t)w_;                                                                           \
    } while (0)
    for (int i = 0; i < nc - 1; i++) APPEND("%s = { ", comps[i]);
    APPEND("%s = %s;", comps[nc - 1], value);
    for (int i = 0; i < nc - 1; i++) APPEND(" };");
#undef APPEND
}

static const char *example_of(const Key *k) {
    if (k->example) return k->example;
    if (k->def) return k->def;
    return "...";
}

/* ---- the loaded tree ------------------------------------------------------------------------ */

/* cfg->tree points at one of these; its first member makes it usable as a config_t *. */
typedef struct Tree {
    config_t lc;
    int n_over;
    char over[CFG_MAX_OVERRIDES][CFG_NAME_MAX]; /* keys set by overrides, in order */
} Tree;

typedef struct Loader {
    Config *cfg;
    Tree *t;
    Err *e;
} Loader;

/* Dotted path of a named setting ("lora.rank"). */
static void setting_path(const config_setting_t *s, char *buf, size_t n) {
    const config_setting_t *chain[16];
    int depth = 0;
    for (const config_setting_t *p = s; p && p->parent && depth < 16; p = p->parent)
        chain[depth++] = p;
    size_t o = 0;
    buf[0] = '\0';
    for (int i = depth - 1; i >= 0; i--) {
        const char *name = chain[i]->name ? chain[i]->name : "?";
        int w = snprintf(buf + o, n - o, "%s%s", o ? "." : "", name);
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
}

/* The override that produced the setting at `path`, if any (the latest one wins). */
static const char *override_for(const Tree *t, const char *path) {
    size_t lp = strlen(path);
    for (int i = t->n_over - 1; i >= 0; i--) {
        const char *o = t->over[i];
        size_t lo = strlen(o);
        if (strcmp(o, path) == 0) return o;
        if (lp > lo && strncmp(path, o, lo) == 0 && path[lo] == '.') return o; /* inside o */
        if (lo > lp && strncmp(o, path, lp) == 0 && o[lp] == '.') return o;    /* group of o */
    }
    return NULL;
}

/* "file:line" for a setting from a file, "--set key" for one from an override. */
static const char *where_setting(const Loader *L, const config_setting_t *s, char *buf, size_t n) {
    if (s && s->line > 0) {
        const char *file = config_setting_source_file(s);
        snprintf(buf, n, "%s:%u", file ? file : L->cfg->source, s->line);
        return buf;
    }
    if (s) {
        char path[256];
        setting_path(s, path, sizeof path);
        const char *o = override_for(L->t, path);
        if (o) {
            snprintf(buf, n, "--set %s", o);
            return buf;
        }
    }
    snprintf(buf, n, "%s", L->cfg->source);
    return buf;
}

static const char *type_name(int type) {
    switch (type) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

/* "a float (8.5)", "a string ("x")", "a group". */
static void describe(const config_setting_t *s, char *buf, size_t n) {
    char v[160];
    switch (s->type) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(v, sizeof v, "%lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        fmt_float_literal(config_setting_get_float(s), v, sizeof v);
        break;
    case CONFIG_TYPE_STRING:
        fmt_string_literal(config_setting_get_string(s), v, sizeof v, 40);
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(v, sizeof v, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    default:
        snprintf(buf, n, "%s", type_name(s->type));
        return;
    }
    snprintf(buf, n, "%s (%s)", type_name(s->type), v);
}

static const char *kind_wants(Kind k) {
    switch (k) {
    case K_GROUP:
    case K_FLAG_GROUP:
        return "a group";
    case K_INT:
    case K_U64:
        return "an integer";
    case K_FLOAT:
        return "a number";
    case K_BOOL:
        return "a boolean (true or false)";
    case K_STRING:
    case K_ENUM:
        return "a string";
    case K_MASK:
        return "an array of strings";
    case K_INT_PAIR:
        return "an array of 2 integers";
    case K_FLOAT_PAIR:
        return "an array of 2 numbers";
    }
    return "?";
}

/* `at` gives the line, `got` the offending value (an array element, or the setting itself). */
static int type_error_at(const Loader *L, const Key *k, const config_setting_t *at,
                         const config_setting_t *bad) {
    char where[CFG_PATH_MAX + 64], got[256];
    where_setting(L, at, where, sizeof where);
    describe(bad, got, sizeof got);
    return err_set(L->e, "%s: '%s' must be %s, got %s; e.g. %s = %s;", where, k->path,
                   kind_wants(k->kind), got, leaf_of(k->path), example_of(k));
}

static int type_error(const Loader *L, const Key *k, const config_setting_t *s) {
    return type_error_at(L, k, s, s);
}

static void fmt_int_range(const Key *k, char *buf, size_t n) {
    snprintf(buf, n, "[%lld, %lld]", k->imin, k->imax);
}

static void fmt_float_range(const Key *k, char *buf, size_t n) {
    char lo[64], hi[64];
    fmt_bound(k->fmin, lo, sizeof lo);
    fmt_bound(k->fmax, hi, sizeof hi);
    snprintf(buf, n, "%c%s, %s%c", k->fmin_open ? '(' : '[', lo, hi, k->fmax_open ? ')' : ']');
}

static int float_in_range(const Key *k, double v) {
    if (isnan(v)) return 0;
    if (k->fmin_open ? !(v > k->fmin) : !(v >= k->fmin)) return 0;
    if (k->fmax_open ? !(v < k->fmax) : !(v <= k->fmax)) return 0;
    return 1;
}

static int is_int_type(const config_setting_t *s) {
    return s->type == CONFIG_TYPE_INT || s->type == CONFIG_TYPE_INT64;
}

static int is_number_type(const config_setting_t *s) {
    return is_int_type(s) || s->type == CONFIG_TYPE_FLOAT;
}

/* config_setting_get_float() returns 0 for ints unless auto-convert is on: read it ourselves. */
static double number_of(const config_setting_t *s) {
    if (s->type == CONFIG_TYPE_FLOAT) return config_setting_get_float(s);
    return (double)config_setting_get_int64(s);
}

static int *int_field(Config *c, size_t off) {
    return (int *)(void *)((char *)c + off);
}
static const int *int_field_c(const Config *c, size_t off) {
    return (const int *)(const void *)((const char *)c + off);
}
static double *dbl_field(Config *c, size_t off) {
    return (double *)(void *)((char *)c + off);
}
static const double *dbl_field_c(const Config *c, size_t off) {
    return (const double *)(const void *)((const char *)c + off);
}

static int choice_index(const char *const *choices, const char *s) {
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], s) == 0) return i;
    return -1;
}

static const char *nearest_choice(const char *const *choices, const char *s) {
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; choices[i]; i++) {
        int d = edit_distance(s, choices[i]);
        if (d < best_d) best_d = d, best = choices[i];
    }
    int len = (int)strlen(s);
    if (best && best_d <= 2 && best_d < len) return best;
    return NULL;
}

/* Type-checks a non-group setting against its key, range-checks it and stores it. */
static int take(const Loader *L, const Key *k, const config_setting_t *s) {
    Config *c = L->cfg;
    char where[CFG_PATH_MAX + 64], range[160], val[160];
    switch (k->kind) {
    case K_INT:
    case K_U64: {
        if (!is_int_type(s)) return type_error(L, k, s);
        long long v = config_setting_get_int64(s);
        if (v < k->imin || v > k->imax) {
            fmt_int_range(k, range, sizeof range);
            return err_set(L->e, "%s: '%s' = %lld is out of range; it must be in %s",
                           where_setting(L, s, where, sizeof where), k->path, v, range);
        }
        if (k->kind == K_INT)
            *int_field(c, k->off) = (int)v;
        else
            *(uint64_t *)(void *)((char *)c + k->off) = (uint64_t)v;
        return 0;
    }
    case K_FLOAT: {
        if (!is_number_type(s)) return type_error(L, k, s);
        double v = number_of(s);
        if (!float_in_range(k, v)) {
            fmt_bound(v, val, sizeof val);
            fmt_float_range(k, range, sizeof range);
            return err_set(L->e, "%s: '%s' = %s is out of range; it must be in %s",
                           where_setting(L, s, where, sizeof where), k->path, val, range);
        }
        *dbl_field(c, k->off) = v;
        return 0;
    }
    case K_BOOL:
        if (s->type != CONFIG_TYPE_BOOL) return type_error(L, k, s);
        *int_field(c, k->off) = config_setting_get_bool(s) ? 1 : 0;
        return 0;
    case K_STRING: {
        if (s->type != CONFIG_TYPE_STRING) return type_error(L, k, s);
        const char *v = config_setting_get_string(s);
        size_t len = strlen(v);
        if (len >= CFG_PATH_MAX)
            return err_set(L->e, "%s: '%s' is %zu characters long; it must be shorter than %d",
                           where_setting(L, s, where, sizeof where), k->path, len, CFG_PATH_MAX);
        if ((long long)len < k->imin)
            return err_set(L->e, "%s: '%s' is empty; give it a value, e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), k->path, leaf_of(k->path),
                           example_of(k));
        memcpy((char *)c + k->off, v, len + 1);
        return 0;
    }
    case K_ENUM: {
        if (s->type != CONFIG_TYPE_STRING) return type_error(L, k, s);
        const char *v = config_setting_get_string(s);
        int idx = choice_index(k->choices, v);
        if (idx < 0) {
            const char *near = nearest_choice(k->choices, v);
            char hint[CFG_NAME_MAX + 32] = "";
            if (near) snprintf(hint, sizeof hint, "; did you mean \"%s\"?", near);
            fmt_choices(k->choices, range, sizeof range);
            fmt_string_literal(v, val, sizeof val, 40);
            return err_set(L->e, "%s: '%s' = %s is not one of %s%s",
                           where_setting(L, s, where, sizeof where), k->path, val, range, hint);
        }
        *int_field(c, k->off) = idx;
        return 0;
    }
    case K_MASK: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST) return type_error(L, k, s);
        int n = config_setting_length(s), mask = 0;
        fmt_choices(k->choices, range, sizeof range);
        if (n == 0)
            return err_set(L->e, "%s: '%s' is empty; list at least one of %s, e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), k->path, range,
                           leaf_of(k->path), example_of(k));
        for (int i = 0; i < n; i++) {
            const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
            if (el->type != CONFIG_TYPE_STRING) return type_error_at(L, k, s, el);
            const char *v = config_setting_get_string(el);
            int idx = choice_index(k->choices, v);
            fmt_string_literal(v, val, sizeof val, 40);
            if (idx < 0)
                return err_set(L->e, "%s: '%s' element %s is not one of %s",
                               where_setting(L, s, where, sizeof where), k->path, val, range);
            if (mask & (1 << idx))
                return err_set(L->e, "%s: '%s' lists %s twice; list each one once",
                               where_setting(L, s, where, sizeof where), k->path, val);
            mask |= 1 << idx;
        }
        *int_field(c, k->off) = mask;
        return 0;
    }
    case K_INT_PAIR:
    case K_FLOAT_PAIR: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST) return type_error(L, k, s);
        int n = config_setting_length(s);
        if (n != 2)
            return err_set(L->e, "%s: '%s' must have 2 elements, got %d; e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), k->path, n, leaf_of(k->path),
                           example_of(k));
        for (int i = 0; i < 2; i++) {
            const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
            size_t off = i ? k->off2 : k->off;
            if (k->kind == K_INT_PAIR) {
                if (!is_int_type(el)) return type_error_at(L, k, s, el);
                long long v = config_setting_get_int64(el), lo = i ? k->imin2 : k->imin;
                if (v < lo || v > k->imax) {
                    snprintf(range, sizeof range, "[%lld, %lld]", lo, k->imax);
                    return err_set(L->e,
                                   "%s: '%s' element %d = %lld is out of range; it must be in %s",
                                   where_setting(L, s, where, sizeof where), k->path, i, v, range);
                }
                *int_field(c, off) = (int)v;
            } else {
                if (!is_number_type(el)) return type_error_at(L, k, s, el);
                double v = number_of(el);
                if (!float_in_range(k, v)) {
                    fmt_bound(v, val, sizeof val);
                    fmt_float_range(k, range, sizeof range);
                    return err_set(
                        L->e, "%s: '%s' element %d = %s is out of range; it must be in %s",
                        where_setting(L, s, where, sizeof where), k->path, i, val, range);
                }
                *dbl_field(c, off) = v;
            }
        }
        return 0;
    }
    case K_GROUP:
    case K_FLAG_GROUP:
        break;
    }
    return err_set(L->e, "%s: internal error: key '%s' has no value kind", L->cfg->source, k->path);
}

/* ---- unknown keys ------------------------------------------------------------------------- */

static int suggestion_ok(int score, const char *leaf) {
    int len = (int)strlen(leaf);
    if (score <= 1) return score < len || len > 1;
    if (score == 2) return len >= 4;
    return score * 3 <= len;
}

/* The schema key nearest to an unknown path, or NULL when nothing is close. Compares the whole
 * path and the last component (a key from another group costs one extra edit), so 'lora.rnk'
 * finds 'lora.rank', 'lora_rank' finds 'lora.rank' and 'lora.lr' finds 'optim.lr'. */
static const char *nearest_key(const char *path) {
    const char *leaf = leaf_of(path);
    const char *best = NULL;
    int best_score = 1 << 30;
    for (int pass = 0; pass < 2; pass++) { /* siblings first, so they win ties */
        for (size_t i = 0; i < N_KEYS; i++) {
            const char *cand = KEYS[i].path;
            size_t lc = strlen(cand);
            if (strncmp(path, cand, lc) == 0 && path[lc] == '.') continue; /* an ancestor */
            int sib = same_parent(cand, path);
            if (sib != (pass == 0)) continue;
            int score = edit_distance(path, cand);
            int leaf_score = edit_distance(leaf, leaf_of(cand)) + (sib ? 0 : 1);
            if (leaf_score < score) score = leaf_score;
            if (score < best_score) best_score = score, best = cand;
        }
    }
    return best && suggestion_ok(best_score, leaf) ? best : NULL;
}

static int unknown_key_error(Err *e, const char *where, const char *path) {
    const char *near = nearest_key(path);
    if (near) return err_set(e, "%s: unknown key '%s'; did you mean '%s'?", where, path, near);

    /* List the valid keys of the deepest known group that contains the path. */
    char group[CFG_NAME_MAX * 2] = "";
    size_t pl = parent_len(path);
    while (pl > 0) {
        if (pl >= sizeof group) pl = sizeof group - 1;
        memcpy(group, path, pl);
        group[pl] = '\0';
        const Key *g = find_key(group);
        if (g) {
            if (kind_is_group(g->kind)) break;
            return err_set(e, "%s: unknown key '%s'; '%s' is %s, not a group", where, path, group,
                           kind_wants(g->kind));
        }
        pl = parent_len(group);
        group[0] = '\0';
    }
    char list[512];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!is_child_of(KEYS[i].path, group)) continue;
        int w = snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", leaf_of(KEYS[i].path));
        if (w < 0 || (size_t)w >= sizeof list - o) break;
        o += (size_t)w;
    }
    if (group[0])
        return err_set(e, "%s: unknown key '%s'; valid keys in '%s' are: %s", where, path, group,
                       list);
    return err_set(e, "%s: unknown key '%s'; valid top-level keys are: %s", where, path, list);
}

/* ---- integer literals libconfig 1.5 would truncate ---------------------------------------- */

/* libconfig 1.5 reads an int literal without the L suffix with atoi-like wrap-around
 * (4294967297 becomes 1) and clamps int64 literals. Scan the text for such literals so they are
 * an error instead of a silently different value. Returns 1 and fills line/lit when found. */
static int find_truncated_int(const char *text, int *line, char *lit, size_t n) {
    int ln = 1;
    const char *p = text;
    while (*p) {
        char ch = *p;
        if (ch == '\n') {
            ln++;
            p++;
        } else if (ch == '#' || (ch == '/' && p[1] == '/')) {
            while (*p && *p != '\n') p++;
        } else if (ch == '/' && p[1] == '*') {
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/')) {
                if (*p == '\n') ln++;
                p++;
            }
            if (*p) p += 2;
        } else if (ch == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) p++;
                if (*p == '\n') ln++;
                p++;
            }
            if (*p) p++;
        } else if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '*' || ch == '@') {
            p++;
            while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '*')
                p++;
        } else if ((ch >= '0' && ch <= '9') ||
                   ((ch == '-' || ch == '+') && p[1] >= '0' && p[1] <= '9')) {
            const char *start = p;
            if (ch == '-' || ch == '+') p++;
            int is_float = 0, hex = 0;
            if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                hex = 1;
                p += 2;
                while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                       (*p >= 'A' && *p <= 'F'))
                    p++;
            } else {
                while (*p >= '0' && *p <= '9') p++;
                if (*p == '.') {
                    is_float = 1;
                    p++;
                    while (*p >= '0' && *p <= '9') p++;
                }
                if ((*p == 'e' || *p == 'E') &&
                    ((p[1] >= '0' && p[1] <= '9') ||
                     ((p[1] == '-' || p[1] == '+') && p[2] >= '0' && p[2] <= '9'))) {
                    is_float = 1;
                    p += 2;
                    while (*p >= '0' && *p <= '9') p++;
                }
            }
            int is64 = 0;
            if (!is_float && (*p == 'L' || *p == 'l')) {
                is64 = 1;
                p++;
                if (*p == 'L' || *p == 'l') p++;
            }
            if (is_float) continue;
            size_t len = (size_t)(p - start);
            char num[64];
            if (len >= sizeof num) len = sizeof num - 1;
            memcpy(num, start, len);
            num[len] = '\0';
            errno = 0;
            int bad;
            if (hex) {
                unsigned long long v = strtoull(num, NULL, 16);
                bad = errno == ERANGE || (!is64 && v > 0xffffffffULL) ||
                      (is64 && v > (unsigned long long)LLONG_MAX);
            } else {
                long long v = strtoll(num, NULL, 10);
                bad = errno == ERANGE || (!is64 && (v < INT_MIN || v > INT_MAX));
            }
            if (bad) {
                *line = ln;
                snprintf(lit, n, "%s", num);
                return 1;
            }
        } else {
            p++;
        }
    }
    return 0;
}

static int truncated_int_error(Err *e, const char *where, const char *lit) {
    size_t len = strlen(lit);
    if (len && (lit[len - 1] == 'L' || lit[len - 1] == 'l'))
        return err_set(e, "%s: integer %s does not fit in 64 bits; use a smaller value", where,
                       lit);
    return err_set(e,
                   "%s: integer %s does not fit in 32 bits (libconfig would silently change it); "
                   "write it as %sL, or use a smaller value",
                   where, lit, lit);
}

/* libconfig's parse error text, with a hint for the one that surprises people. */
static const char *parse_hint(const char *msg) {
    if (msg && strstr(msg, "mismatched element type"))
        return " (every element of [...] must have the same type: write [0.9, 1.0], not "
               "[0.9, 1])";
    return "";
}

/* ---- overrides ------------------------------------------------------------------------------ */

static config_setting_t *copy_setting(config_setting_t *parent, const char *name,
                                      const config_setting_t *src) {
    config_setting_t *d = config_setting_add(parent, name, src->type);
    if (!d) return NULL;
    config_setting_set_format(d, config_setting_get_format(src));
    switch (src->type) {
    case CONFIG_TYPE_INT:
        config_setting_set_int(d, config_setting_get_int(src));
        break;
    case CONFIG_TYPE_INT64:
        config_setting_set_int64(d, config_setting_get_int64(src));
        break;
    case CONFIG_TYPE_FLOAT:
        config_setting_set_float(d, config_setting_get_float(src));
        break;
    case CONFIG_TYPE_BOOL:
        config_setting_set_bool(d, config_setting_get_bool(src));
        break;
    case CONFIG_TYPE_STRING:
        config_setting_set_string(d, config_setting_get_string(src));
        break;
    case CONFIG_TYPE_GROUP:
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST: {
        int n = config_setting_length(src);
        for (int i = 0; i < n; i++) {
            const config_setting_t *el = config_setting_get_elem(src, (unsigned)i);
            const char *el_name = src->type == CONFIG_TYPE_GROUP ? el->name : NULL;
            if (!copy_setting(d, el_name, el)) return NULL;
        }
        break;
    }
    default:
        break;
    }
    return d;
}

static void trim(char *s) {
    size_t len = strlen(s), a = 0;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        s[--len] = '\0';
    while (s[a] == ' ' || s[a] == '\t') a++;
    if (a) memmove(s, s + a, len - a + 1);
}

/* Puts `src` (or, when src is NULL, the string raw) into the tree at `key`. */
static int put_override(Loader *L, const char *key, const config_setting_t *src, const char *raw) {
    char where[CFG_PATH_MAX + 64];
    config_setting_t *parent = config_root_setting(&L->t->lc);
    char comp[CFG_NAME_MAX];
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l >= sizeof comp)
            return err_set(L->e, "--set %s: malformed key; write it like lora.rank=16", key);
        memcpy(comp, p, l);
        comp[l] = '\0';
        if (!dot) break;
        config_setting_t *child = config_setting_get_member(parent, comp);
        if (!child) {
            child = config_setting_add(parent, comp, CONFIG_TYPE_GROUP);
            if (!child) return err_set(L->e, "--set %s: cannot create group '%s'", key, comp);
        } else if (child->type != CONFIG_TYPE_GROUP) {
            char path[256];
            setting_path(child, path, sizeof path);
            const Key *gk = find_key(path);
            if (gk) return type_error(L, gk, child);
            return err_set(L->e, "%s: '%s' must be a group to set '%s'",
                           where_setting(L, child, where, sizeof where), path, key);
        }
        parent = child;
        p = dot + 1;
    }
    if (config_setting_get_member(parent, comp)) config_setting_remove(parent, comp);
    config_setting_t *d;
    if (src) {
        d = copy_setting(parent, comp, src);
    } else {
        d = config_setting_add(parent, comp, CONFIG_TYPE_STRING);
        if (d) config_setting_set_string(d, raw);
    }
    if (!d) return err_set(L->e, "--set %s: cannot store the value", key);
    return 0;
}

static int apply_override(Loader *L, const char *ov) {
    Err *e = L->e;
    const char *eq = strchr(ov, '=');
    if (!eq)
        return err_set(e, "--set %s: expected key=value; write it like --set lora.rank=16", ov);
    size_t klen = (size_t)(eq - ov);
    char key[256];
    if (klen >= sizeof key) klen = sizeof key - 1;
    memcpy(key, ov, klen);
    key[klen] = '\0';
    trim(key);
    if (!key[0])
        return err_set(e, "--set %s: the key before '=' is empty; write it like lora.rank=16", ov);
    char where[300];
    snprintf(where, sizeof where, "--set %s", key);
    const Key *k = find_key(key);
    if (!k) return unknown_key_error(e, where, key);

    size_t vlen = strlen(eq + 1);
    char *val = malloc(vlen + 1);
    char *text = malloc(vlen + 16);
    if (!val || !text) {
        free(val);
        free(text);
        return err_set(e, "%s: out of memory", where);
    }
    memcpy(val, eq + 1, vlen + 1);
    trim(val);
    snprintf(text, vlen + 16, "v = %s;", val);

    config_t scratch;
    config_init(&scratch);
    int ok = config_read_string(&scratch, text) == CONFIG_TRUE;
    const config_setting_t *src = NULL;
    if (ok && config_setting_length(config_root_setting(&scratch)) == 1)
        src = config_lookup(&scratch, "v");
    int stringy = k->kind == K_STRING || k->kind == K_ENUM;
    int rc = 0;
    int line;
    char lit[64];
    if (stringy && (!src || src->type != CONFIG_TYPE_STRING)) {
        rc = put_override(L, key, NULL, val); /* an unquoted string: take the text as it is */
    } else if (!src) {
        char ex[256];
        fmt_nested_example(key, example_of(k), ex, sizeof ex);
        const char *why = ok ? "more than one value" : config_error_text(&scratch);
        rc =
            err_set(e, "%s: cannot parse value '%s' (%s%s); use libconfig syntax, e.g. --set %s=%s",
                    where, val, why ? why : "syntax error", parse_hint(why), key, example_of(k));
    } else if (find_truncated_int(text, &line, lit, sizeof lit)) {
        rc = truncated_int_error(e, where, lit);
    } else {
        rc = put_override(L, key, src, NULL);
    }
    config_destroy(&scratch);
    free(val);
    free(text);
    if (rc != 0) return rc;

    Tree *t = L->t;
    if (t->n_over >= CFG_MAX_OVERRIDES)
        return err_set(e, "%s: too many overrides (at most %d)", where, CFG_MAX_OVERRIDES);
    size_t kl = strlen(key); /* a schema path, so it fits */
    if (kl >= CFG_NAME_MAX) kl = CFG_NAME_MAX - 1;
    memcpy(t->over[t->n_over], key, kl);
    t->over[t->n_over++][kl] = '\0';
    return 0;
}

/* ---- validation ---------------------------------------------------------------------------- */

static int walk(Loader *L, const config_setting_t *group, const char *prefix) {
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "",
                 s->name ? s->name : "?");
        const Key *k = find_key(path);
        if (!k) {
            char where[CFG_PATH_MAX + 64];
            return unknown_key_error(L->e, where_setting(L, s, where, sizeof where), path);
        }
        if (kind_is_group(k->kind)) {
            if (s->type != CONFIG_TYPE_GROUP) return type_error(L, k, s);
            if (k->kind == K_FLAG_GROUP) *int_field(L->cfg, k->off) = 1;
            if (walk(L, s, path) != 0) return -1;
        } else if (take(L, k, s) != 0) {
            return -1;
        }
    }
    return 0;
}

static int apply_defaults(Loader *L) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!k->def) continue;
        char text[256];
        snprintf(text, sizeof text, "v = %s;", k->def);
        config_t scratch;
        config_init(&scratch);
        int rc = -1;
        if (config_read_string(&scratch, text) == CONFIG_TRUE)
            rc = take(L, k, config_lookup(&scratch, "v"));
        config_destroy(&scratch);
        if (rc != 0)
            return err_set(L->e, "internal error: the default of '%s' (%s) is invalid", k->path,
                           k->def);
    }
    return 0;
}

static int missing_error(const Loader *L, const Key *k) {
    char where[CFG_PATH_MAX + 64], ex[512];
    /* Point at the enclosing group when it is there. */
    char group[CFG_NAME_MAX];
    size_t pl = parent_len(k->path);
    const config_setting_t *g = NULL;
    if (pl > 0 && pl < sizeof group) {
        memcpy(group, k->path, pl);
        group[pl] = '\0';
        g = config_lookup(&L->t->lc, group);
    }
    where_setting(L, g, where, sizeof where);
    fmt_nested_example(k->path, example_of(k), ex, sizeof ex);
    return err_set(L->e, "%s: missing required key '%s'; add it, e.g. %s", where, k->path, ex);
}

static int check_all(Loader *L) {
    Config *c = L->cfg;
    config_t *lc = &L->t->lc;
    char where[CFG_PATH_MAX + 64];

    /* model: exactly one of path / random (an empty path counts as not given) */
    const config_setting_t *mp = config_lookup(lc, "model.path");
    const config_setting_t *mr = config_lookup(lc, "model.random");
    if (c->model.path[0] && c->model.random)
        return err_set(L->e,
                       "%s: 'model.path' and 'model.random' are both given; keep only one (with "
                       "--set, clear the path with model.path=\"\")",
                       where_setting(L, mr ? mr : mp, where, sizeof where));
    if (!c->model.path[0] && !c->model.random)
        return err_set(L->e,
                       "%s: missing required key 'model.path' or 'model.random'; add one, e.g. "
                       "model = { path = \"gpt2\"; }; or model = { random = { layers = 2; heads "
                       "= 2; width = 32; vocab = 256; context = 64; }; };",
                       where_setting(L, mp ? mp : config_lookup(lc, "model"), where, sizeof where));

    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        int need =
            k->required == REQUIRED || (k->required == REQUIRED_IF_RANDOM && c->model.random);
        if (need && !config_lookup(lc, k->path)) return missing_error(L, k);
    }

    if (c->model.random && c->model.width % c->model.heads != 0) {
        int lo = c->model.width - c->model.width % c->model.heads;
        return err_set(
            L->e,
            "%s: 'model.random.width' = %d is not divisible by 'model.random.heads' = "
            "%d; use a multiple of heads, e.g. %d",
            where_setting(L, config_lookup(lc, "model.random.width"), where, sizeof where),
            c->model.width, c->model.heads, lo > 0 ? lo : c->model.heads);
    }
    if (c->model.random && c->batch.seq_len > c->model.context) {
        const config_setting_t *sl = config_lookup(lc, "batch.seq_len");
        return err_set(L->e,
                       "%s: 'batch.seq_len' = %d%s exceeds 'model.random.context' = %d; set "
                       "batch.seq_len to at most %d or raise the context",
                       where_setting(L, sl ? sl : config_lookup(lc, "model.random.context"), where,
                                     sizeof where),
                       c->batch.seq_len, sl ? "" : " (the default)", c->model.context,
                       c->model.context);
    }

    const config_setting_t *ll = config_lookup(lc, "lora.layers");
    if (c->lora.layer_last != -1 && c->lora.layer_first > c->lora.layer_last)
        return err_set(L->e,
                       "%s: 'lora.layers' = [%d, %d] has first > last; write [first, last] with "
                       "first <= last, or last = -1 for the last layer",
                       where_setting(L, ll, where, sizeof where), c->lora.layer_first,
                       c->lora.layer_last);
    return 0;
}

/* ---- public API ---------------------------------------------------------------------------- */

static void tree_free(Tree *t) {
    if (!t) return;
    config_destroy(&t->lc);
    free(t);
}

int config_load(Config *cfg, const char *path, const char *const *overrides, int n_overrides,
                Err *e) {
    memset(cfg, 0, sizeof *cfg);
    if (!path || !path[0])
        return err_set(e, "config: no config file given; pass the path of a .cfg file");
    if (strlen(path) >= sizeof cfg->source)
        return err_set(e, "%.64s...: config path too long; use a shorter path", path);
    snprintf(cfg->source, sizeof cfg->source, "%s", path);

    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set(e, "%s: is a directory; pass the path of a .cfg file", path);
    size_t len = 0;
    char *text = file_read_all(path, &len, e);
    if (!text) return -1;
    if (strlen(text) != len) {
        free(text);
        return err_set(e, "%s: contains a NUL byte; a config must be a text file", path);
    }

    Tree *t = calloc(1, sizeof *t);
    if (!t) {
        free(text);
        return err_set(e, "%s: out of memory", path);
    }
    config_init(&t->lc);
    {
        char dir[CFG_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            slash[slash == dir ? 1 : 0] = '\0';
            config_set_include_dir(&t->lc, dir);
        }
    }
    Loader L = {cfg, t, e};
    int rc = 0;
    int line;
    char lit[64];
    if (config_read_string(&t->lc, text) != CONFIG_TRUE) {
        const char *file = config_error_file(&t->lc);
        const char *msg = config_error_text(&t->lc);
        rc = err_set(e, "%s:%d: %s%s; fix the syntax", file ? file : path,
                     config_error_line(&t->lc), msg ? msg : "syntax error", parse_hint(msg));
    } else if (find_truncated_int(text, &line, lit, sizeof lit)) {
        char where[CFG_PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%d", path, line);
        rc = truncated_int_error(e, where, lit);
    }
    free(text);

    for (int i = 0; rc == 0 && i < n_overrides; i++) rc = apply_override(&L, overrides[i]);
    if (rc == 0) rc = apply_defaults(&L);
    if (rc == 0) rc = walk(&L, config_root_setting(&t->lc), "");
    if (rc == 0) rc = check_all(&L);
    if (rc != 0) {
        tree_free(t);
        cfg->tree = NULL;
        return -1;
    }
    cfg->tree = t;
    return 0;
}

void config_free(Config *cfg) {
    if (!cfg) return;
    tree_free(cfg->tree);
    cfg->tree = NULL;
}

const char *config_where(const Config *cfg, const char *key, char *buf, size_t n) {
    if (!buf || n == 0) return buf;
    const Tree *t = cfg->tree;
    const config_setting_t *s = t ? config_lookup(&t->lc, key) : NULL;
    if (s && s->line > 0) {
        const char *file = config_setting_source_file(s);
        snprintf(buf, n, "%s:%u", file ? file : cfg->source, s->line);
        return buf;
    }
    if (s) {
        const char *o = override_for(t, key);
        if (o) {
            snprintf(buf, n, "--set %s", o);
            return buf;
        }
    }
    snprintf(buf, n, "%s (default)", cfg->source);
    return buf;
}

/* The resolved value of a (non-group) key as libconfig text. */
static void fmt_value(const Config *c, const Key *k, char *buf, size_t n) {
    char a[64], b[64];
    switch (k->kind) {
    case K_INT:
        snprintf(buf, n, "%d", *int_field_c(c, k->off));
        return;
    case K_U64: {
        uint64_t v = *(const uint64_t *)(const void *)((const char *)c + k->off);
        snprintf(buf, n, v > (uint64_t)INT_MAX ? "%lluL" : "%llu", (unsigned long long)v);
        return;
    }
    case K_FLOAT:
        fmt_float_literal(*dbl_field_c(c, k->off), buf, n);
        return;
    case K_BOOL:
        snprintf(buf, n, "%s", *int_field_c(c, k->off) ? "true" : "false");
        return;
    case K_STRING:
        fmt_string_literal((const char *)c + k->off, buf, n, 0);
        return;
    case K_ENUM: {
        int v = *int_field_c(c, k->off);
        int count = 0;
        while (k->choices[count]) count++;
        snprintf(buf, n, "\"%s\"", v >= 0 && v < count ? k->choices[v] : "?");
        return;
    }
    case K_MASK: {
        int mask = *int_field_c(c, k->off);
        size_t o = 0;
        o += (size_t)snprintf(buf, n, "[");
        for (int i = 0; k->choices[i] && o < n; i++)
            if (mask & (1 << i))
                o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"", o > 1 ? ", " : "", k->choices[i]);
        if (o < n) snprintf(buf + o, n - o, "]");
        return;
    }
    case K_INT_PAIR:
        snprintf(buf, n, "[%d, %d]", *int_field_c(c, k->off), *int_field_c(c, k->off2));
        return;
    case K_FLOAT_PAIR:
        fmt_float_literal(*dbl_field_c(c, k->off), a, sizeof a);
        fmt_float_literal(*dbl_field_c(c, k->off2), b, sizeof b);
        snprintf(buf, n, "[%s, %s]", a, b);
        return;
    case K_GROUP:
    case K_FLAG_GROUP:
        break;
    }
    snprintf(buf, n, "?");
}

static void print_group(const Config *c, FILE *fp, const char *group, int depth) {
    int first = 1;
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!is_child_of(k->path, group)) continue;
        if (strcmp(k->path, "model.path") == 0 && c->model.random) continue;
        if (strcmp(k->path, "model.random") == 0 && !c->model.random) continue;
        int indent = 4 * depth;
        if (kind_is_group(k->kind)) {
            if (depth == 0 && !first) fputc('\n', fp);
            if (depth == 0) fprintf(fp, "// %s\n", k->help);
            fprintf(fp, "%*s%s = {", indent, "", leaf_of(k->path));
            if (depth > 0) fprintf(fp, " // %s", k->help);
            fputc('\n', fp);
            print_group(c, fp, k->path, depth + 1);
            fprintf(fp, "%*s};\n", indent, "");
        } else {
            char val[CFG_PATH_MAX * 4 + 8];
            fmt_value(c, k, val, sizeof val);
            if (depth == 0 && !first) fputc('\n', fp);
            int w = fprintf(fp, "%*s%s = %s;", indent, "", leaf_of(k->path), val);
            fprintf(fp, "%*s // %s\n", w < 40 ? 40 - w : 0, "", k->help);
        }
        first = 0;
    }
}

void config_print(const Config *cfg, FILE *fp) {
    fprintf(fp, "// imprint resolved configuration: every key, defaults included.\n");
    fprintf(fp, "// Loading this file gives the same run configuration.\n");
    fprintf(fp, "// source: ");
    for (const unsigned char *p = (const unsigned char *)cfg->source; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, fp);
    fprintf(fp, "\n\n");
    print_group(cfg, fp, "", 0);
}

int config_save(const Config *cfg, const char *path, Err *e) {
    AtomicFile af;
    if (atomic_open(&af, path, e) != 0) return -1;
    config_print(cfg, af.fp);
    return atomic_commit(&af, e);
}

double lora_scale(const LoraConfig *lc) {
    if (lc->rank <= 0) return 0.0;
    return lc->rslora ? lc->alpha / sqrt((double)lc->rank) : lc->alpha / (double)lc->rank;
}
