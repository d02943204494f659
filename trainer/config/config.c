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
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the schema ---------------------------------------------------------------------------- */

typedef enum {
    K_GROUP,      /* a group with no field of its own */
    K_FLAG_GROUP, /* a group whose presence sets an int field to 1 (model.random, curriculum) */
    K_INT,        /* int field; libconfig int or int64 */
    K_U64,        /* uint64_t field; libconfig int or int64 */
    K_FLOAT,      /* double field; libconfig float, int or int64 */
    K_BOOL,       /* int field; libconfig bool */
    K_STRING,     /* char[size] field; imin = minimum length; choices (optional) = allowed values */
    K_ENUM,       /* int-sized enum field = index into choices */
    K_MASK,       /* int field = OR of (1 << index) over an array of strings from choices */
    K_INT_PAIR,   /* two int fields (off, off2); each element in [imin, imax] */
    K_FLOAT_PAIR, /* two double fields (off, off2); each element in the float range */
    K_STRINGS,    /* char[imax][size] at off, int count at off2; imin..imax strings, each at
                     least imin2 characters long */
    K_LIST,       /* a list of groups: element i is stored at off + i * size (an array of
                     structs), the int count at off2; imin..imax elements. The children of the
                     list ("list.child") describe one element: their offsets are relative to
                     the element struct. */
} Kind;

enum {
    OPTIONAL = 0,
    REQUIRED = 1,          /* always (inside a list: in every element), unless `unless` is given */
    REQUIRED_IF_GROUP = 2, /* whenever its enclosing group is given (model.random.layers) */
};

/* K_INT_PAIR, K_FLOAT_PAIR: how the two elements must relate. */
enum { PAIR_ANY = 0, PAIR_ORDERED = 1, PAIR_ORDERED_OR_LAST = 2 /* or the second is -1 */ };

typedef struct Key {
    const char *path; /* inside a list, without the index: "curriculum.stages.band" */
    Kind kind;
    int required;
    const char *unless;   /* REQUIRED: not required when this key is in the tree */
    const char *def;      /* default as libconfig value text; in a list child "{i}" stands for the
                             element's index; NULL: no default */
    long long imin, imax; /* integer range (inclusive); K_STRING: imin = minimum length;
                             K_STRINGS, K_LIST: the element count range */
    long long imin2;      /* K_INT_PAIR: minimum of the second element (imin: of the first);
                             K_STRINGS: minimum length of each string */
    double fmin, fmax;    /* float range */
    int fmin_open, fmax_open;
    int pair;                   /* K_INT_PAIR, K_FLOAT_PAIR: PAIR_* */
    const char *const *choices; /* K_ENUM, K_MASK: NULL-terminated; K_STRING: optional */
    size_t off, off2;           /* where the value goes in Config (in a list: in the element) */
    size_t size;                /* K_STRING, K_STRINGS: bytes per string (0: CFG_PATH_MAX);
                                   K_LIST: bytes per element */
    int (*print_if)(const void *base); /* config_print() writes the key only when true */
    const char *example;               /* value text for messages; NULL: use def */
    const char *help;
} Key;

static const char *const SCHEDULES[] = {"cosine", "linear", "constant", NULL};
static const char *const FORMATS[] = {"llmc", "bytes", NULL};
static const char *const SAMPLINGS[] = {"random", "sequential", NULL};
static const char *const TARGETS[] = {"q", "k", "v", "o", NULL};
static const char *const ORDERS[] = {"curriculum", "shuffled", "anti", "growing-random", NULL};
static const char *const PACINGS[] = {"linear", "root", "discrete", NULL};
static const char *const LOSSES[] = {"trail", "connectives+conclusion", "conclusion", NULL};
static const char *const REPRO_MODES[] = {"rank-count", "invariant", NULL};
static const char *const NONFINITE[] = {"abort", "skip", NULL};
static const char *const METRICS[] = {
    "heldout_variants.em",     "heldout_entities.em",     "heldout_chains.em",     "train.em",
    "heldout_variants.margin", "heldout_entities.margin", "heldout_chains.margin", NULL};

_Static_assert(sizeof(Schedule) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(DataFormat) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(Sampling) == sizeof(int), "enum fields are stored as int");
_Static_assert(SCHED_COSINE == 0 && SCHED_LINEAR == 1 && SCHED_CONSTANT == 2, "SCHEDULES order");
_Static_assert(DATA_LLMC == 0 && DATA_BYTES == 1, "FORMATS order");
_Static_assert(SAMPLE_RANDOM == 0 && SAMPLE_SEQUENTIAL == 1, "SAMPLINGS order");
_Static_assert(LORA_Q == 1 && LORA_K == 2 && LORA_V == 4 && LORA_O == 8, "TARGETS order");
_Static_assert(CFG_ORDER_CURRICULUM == 0 && CFG_ORDER_SHUFFLED == 1 && CFG_ORDER_ANTI == 2 &&
                   CFG_ORDER_GROWING_RANDOM == 3,
               "ORDERS order");
_Static_assert(STAGE_PACING_LINEAR == 0 && STAGE_PACING_ROOT == 1 && STAGE_PACING_DISCRETE == 2,
               "PACINGS order");
_Static_assert(STAGE_LOSS_TRAIL == 0 && STAGE_LOSS_CONNECTIVES_CONCLUSION == 1 &&
                   STAGE_LOSS_CONCLUSION == 2,
               "LOSSES order");
_Static_assert(CFG_NAME_MAX <= CFG_PATH_MAX, "K_STRING sizes");
_Static_assert(REPRO_RANK_COUNT == 0 && REPRO_INVARIANT == 1, "REPRO_MODES order");
_Static_assert(NONFINITE_ABORT == 0 && NONFINITE_SKIP == 1, "NONFINITE order");

/* config_print() conditions (base: the Config, or the element for keys inside a list). */
static int print_model_path(const void *b) {
    return !((const Config *)b)->model.random;
}
static int print_model_random(const void *b) {
    return ((const Config *)b)->model.random;
}
static int print_data_path(const void *b) {
    return ((const Config *)b)->data.path[0] != '\0'; /* "" only with a curriculum */
}
static int print_curriculum(const void *b) {
    return ((const Config *)b)->curriculum.enabled;
}
static int print_stage_band(const void *b) {
    return !((const StageConfig *)b)->bridge; /* a bridge takes its bands from its neighbours */
}
static int print_stage_until(const void *b) {
    return ((const StageConfig *)b)->until_metric[0] != '\0';
}

#define F(member)         offsetof(Config, member)
#define S(member)         offsetof(StageConfig, member)
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
     .print_if = print_model_path,
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
     .print_if = print_model_random,
     .example = "{ layers = 2; heads = 2; width = 32; vocab = 256; context = 64; }",
     .help = "random init of this shape instead of a checkpoint (tests, experiments)"},
    {.path = "model.random.layers",
     .kind = K_INT,
     .required = REQUIRED_IF_GROUP,
     INT_RANGE(1, 96),
     .off = F(model.layers),
     .example = "12",
     .help = "transformer blocks"},
    {.path = "model.random.heads",
     .kind = K_INT,
     .required = REQUIRED_IF_GROUP,
     INT_RANGE(1, 128),
     .off = F(model.heads),
     .example = "12",
     .help = "attention heads per block"},
    {.path = "model.random.width",
     .kind = K_INT,
     .required = REQUIRED_IF_GROUP,
     INT_RANGE(1, 16384),
     .off = F(model.width),
     .example = "768",
     .help = "model width (channels); a multiple of heads"},
    {.path = "model.random.vocab",
     .kind = K_INT,
     .required = REQUIRED_IF_GROUP,
     INT_RANGE(2, 1000000),
     .off = F(model.vocab),
     .example = "50257",
     .help = "vocabulary size"},
    {.path = "model.random.context",
     .kind = K_INT,
     .required = REQUIRED_IF_GROUP,
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
     .pair = PAIR_ORDERED_OR_LAST,
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
    {.path = "optim.nonfinite",
     .kind = K_ENUM,
     .def = "\"abort\"",
     .choices = NONFINITE,
     .off = F(optim.nonfinite),
     .help = "a NaN or Inf in the loss or a gradient: abort the run, or skip the step (no update)"},

    {.path = "data", .kind = K_GROUP, .help = "the training tokens"},
    {.path = "data.path",
     .kind = K_STRING,
     .required = REQUIRED,
     .unless = "curriculum",
     INT_RANGE(1, 0),
     .off = F(data.path),
     .print_if = print_data_path,
     .example = "\"...\"",
     .help = "token file (relative to the working directory); optional with a curriculum"},
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
    {.path = "batch.shard",
     .kind = K_INT,
     .def = "1",
     INT_RANGE(1, 1000000),
     .off = F(batch.shard),
     .help = "sequences per virtual shard (reproducibility = \"invariant\"); divides batch.global"},

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
    {.path = "run.watchdog",
     .kind = K_FLOAT,
     .def = "20.0",
     FLOAT_RANGE(CLOSED, 0.0, 1e6, CLOSED),
     .off = F(run.watchdog),
     .help = "seconds a rank may wait in a collective before the job is ended; 0 = off"},

    {.path = "reproducibility",
     .kind = K_ENUM,
     .def = "\"rank-count\"",
     .choices = REPRO_MODES,
     .off = F(reproducibility),
     .help = "rank-count: same bits for the same rank count; invariant: same bits for any rank "
             "count (virtual shards, int64 fixed-point sums)"},

    {.path = "seed",
     .kind = K_U64,
     .def = "1337",
     INT_RANGE(0, LLONG_MAX),
     .off = F(seed),
     .help = "seed for initialization, dropout and data order"},

    {.path = "curriculum",
     .kind = K_FLAG_GROUP,
     .off = F(curriculum.enabled),
     .print_if = print_curriculum,
     .example = "{ library = [\"curriculum/chains/en.cfg\"]; stages = ( { band = [0.0, 0.05]; "
                "steps = 200; } ); }",
     .help = "staged training on chain libraries (batches come from the libraries, not data.path)"},
    {.path = "curriculum.library",
     .kind = K_STRINGS,
     .required = REQUIRED_IF_GROUP,
     INT_RANGE(1, CFG_MAX_LIBRARIES),
     .imin2 = 1,
     .off = F(curriculum.libraries),
     .off2 = F(curriculum.n_libraries),
     .size = CFG_PATH_MAX,
     .example = "[\"curriculum/chains/en.cfg\"]",
     .help = "chain library files (relative to the working directory)"},
    {.path = "curriculum.order",
     .kind = K_ENUM,
     .def = "\"curriculum\"",
     .choices = ORDERS,
     .off = F(curriculum.order),
     .help = "curriculum (as configured), shuffled, anti (bands reversed) or growing-random"},
    {.path = "curriculum.variants",
     .kind = K_INT,
     .def = "8",
     INT_RANGE(5, 10),
     .off = F(curriculum.variants),
     .help = "variants per chain per band"},
    {.path = "curriculum.heldout_band",
     .kind = K_FLOAT_PAIR,
     .def = "[0.1, 0.4]",
     FLOAT_RANGE(CLOSED, 0.0, 1.0, CLOSED),
     .pair = PAIR_ORDERED,
     .off = F(curriculum.heldout_band_lo),
     .off2 = F(curriculum.heldout_band_hi),
     .help = "[lo, hi] volatility band of the held-out-variants split"},
    {.path = "curriculum.eval_every",
     .kind = K_INT,
     .def = "50",
     INT_RANGE(1, 1000000000),
     .off = F(curriculum.eval_every),
     .help = "steps between evaluations in stages with an until rule"},
    {.path = "curriculum.stages",
     .kind = K_LIST,
     .required = REQUIRED_IF_GROUP,
     INT_RANGE(1, CFG_MAX_STAGES),
     .off = F(curriculum.stages),
     .off2 = F(curriculum.n_stages),
     .size = sizeof(StageConfig),
     .example = "( { name = \"anchor\"; band = [0.0, 0.05]; steps = 200; } )",
     .help = "the stages, in order"},
    {.path = "curriculum.stages.name",
     .kind = K_STRING,
     .def = "\"stage-{i}\"",
     INT_RANGE(1, 0),
     .size = CFG_NAME_MAX,
     .off = S(name),
     .example = "\"anchor\"",
     .help = "unique name; default stage-<index>"},
    {.path = "curriculum.stages.bridge",
     .kind = K_BOOL,
     .def = "false",
     .off = S(bridge),
     .help = "blend the bands of the stages before and after"},
    {.path = "curriculum.stages.band",
     .kind = K_FLOAT_PAIR,
     FLOAT_RANGE(CLOSED, 0.0, 1.0, CLOSED),
     .pair = PAIR_ORDERED,
     .off = S(band_lo),
     .off2 = S(band_hi),
     .print_if = print_stage_band,
     .example = "[0.0, 0.05]",
     .help = "[lo, hi] volatility band; required, except on a bridge"},
    {.path = "curriculum.stages.steps",
     .kind = K_INT,
     .required = REQUIRED,
     INT_RANGE(1, 1000000000),
     .off = S(steps),
     .example = "200",
     .help = "optimizer steps (with until: the most steps)"},
    {.path = "curriculum.stages.replay",
     .kind = K_FLOAT,
     .def = "0.0",
     FLOAT_RANGE(CLOSED, 0.0, 1.0, OPEN),
     .off = S(replay),
     .help = "fraction of samples from earlier stages' pools"},
    {.path = "curriculum.stages.pacing",
     .kind = K_ENUM,
     .def = "\"linear\"",
     .choices = PACINGS,
     .off = S(pacing),
     .help = "bridges: linear, root or discrete blend"},
    {.path = "curriculum.stages.loss",
     .kind = K_ENUM,
     .def = "\"trail\"",
     .choices = LOSSES,
     .off = S(loss),
     .help = "tokens with loss: trail, connectives+conclusion or conclusion"},
    {.path = "curriculum.stages.anchor_weight",
     .kind = K_FLOAT,
     .def = "1.0",
     FLOAT_RANGE(CLOSED, 0.0, 100.0, CLOSED),
     .off = S(anchor_weight),
     .help = "loss weight of connective (anchor) tokens"},
    {.path = "curriculum.stages.layers",
     .kind = K_INT_PAIR,
     .def = "[0, -1]",
     INT_RANGE(0, 1000000),
     .imin2 = -1,
     .pair = PAIR_ORDERED_OR_LAST,
     .off = S(layer_first),
     .off2 = S(layer_last),
     .help = "[first, last] blocks whose adapters learn; -1 = the last"},
    {.path = "curriculum.stages.targets",
     .kind = K_MASK,
     .def = "[\"q\", \"k\", \"v\", \"o\"]",
     .choices = TARGETS,
     .off = S(targets),
     .help = "projections whose adapters learn"},
    {.path = "curriculum.stages.lr_scale",
     .kind = K_FLOAT,
     .def = "1.0",
     FLOAT_RANGE(OPEN, 0.0, 10.0, CLOSED),
     .off = S(lr_scale),
     .help = "multiplies the learning rate"},
    {.path = "curriculum.stages.until",
     .kind = K_GROUP,
     .print_if = print_stage_until,
     .example = "{ metric = \"heldout_entities.em\"; threshold = 0.8; }",
     .help = "end the stage early when a metric reaches a threshold"},
    {.path = "curriculum.stages.until.metric",
     .kind = K_STRING,
     .required = REQUIRED_IF_GROUP,
     INT_RANGE(1, 0),
     .choices = METRICS,
     .size = CFG_NAME_MAX,
     .off = S(until_metric),
     .example = "\"heldout_entities.em\"",
     .help = "evaluated every curriculum.eval_every steps"},
    {.path = "curriculum.stages.until.threshold",
     .kind = K_FLOAT,
     .required = REQUIRED_IF_GROUP,
     FLOAT_RANGE(CLOSED, -DBL_MAX, DBL_MAX, CLOSED),
     .off = S(until_threshold),
     .example = "0.8",
     .help = "the stage ends when the metric reaches this"},
};

#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

static int kind_is_group(Kind k) {
    return k == K_GROUP || k == K_FLAG_GROUP;
}

/* Has schema children: a group, or a list (whose children describe one element). */
static int kind_has_children(Kind k) {
    return kind_is_group(k) || k == K_LIST;
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

/* The nearest K_LIST key that strictly contains `path` ("curriculum.stages" for
 * "curriculum.stages.until.metric"), or NULL for a key outside every list. */
static const Key *list_of(const char *path) {
    char prefix[256];
    size_t pl = strlen(path);
    if (pl >= sizeof prefix) return NULL;
    memcpy(prefix, path, pl + 1);
    while ((pl = parent_len(prefix)) > 0) {
        prefix[pl] = '\0';
        const Key *k = find_key(prefix);
        if (k && k->kind == K_LIST) return k;
    }
    return NULL;
}

/* A key's path relative to the elements of `list` ("until.metric"); the whole path when NULL. */
static const char *rel_path(const char *path, const Key *list) {
    return list ? path + strlen(list->path) + 1 : path;
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

/* Dotted path of a setting ("lora.rank"); list elements by index ("curriculum.stages.[2]"), the
 * syntax config_lookup() reads. */
static void setting_path(const config_setting_t *s, char *buf, size_t n) {
    const config_setting_t *chain[16];
    int depth = 0;
    for (const config_setting_t *p = s; p && p->parent && depth < 16; p = p->parent)
        chain[depth++] = p;
    size_t o = 0;
    buf[0] = '\0';
    for (int i = depth - 1; i >= 0; i--) {
        char index[32];
        const char *name = chain[i]->name;
        if (!name) {
            snprintf(index, sizeof index, "[%d]", config_setting_index(chain[i]));
            name = index;
        }
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
    case K_STRINGS:
        return "an array of strings";
    case K_INT_PAIR:
        return "an array of 2 integers";
    case K_FLOAT_PAIR:
        return "an array of 2 numbers";
    case K_LIST:
        return "a list of groups";
    }
    return "?";
}

/* `name` is the key as the message shows it: its path, with the element index inside a list
 * ("curriculum.stages.[2].band"). `at` gives the line, `bad` the offending value (an array
 * element, or the setting itself). */
static int type_error_at(const Loader *L, const Key *k, const char *name,
                         const config_setting_t *at, const config_setting_t *bad) {
    char where[CFG_PATH_MAX + 64], got[256];
    where_setting(L, at, where, sizeof where);
    describe(bad, got, sizeof got);
    return err_set(L->e, "%s: '%s' must be %s, got %s; e.g. %s = %s;", where, name,
                   kind_wants(k->kind), got, leaf_of(k->path), example_of(k));
}

static int type_error(const Loader *L, const Key *k, const char *name, const config_setting_t *s) {
    return type_error_at(L, k, name, s, s);
}

static void fmt_int_range(const Key *k, char *buf, size_t n) {
    snprintf(buf, n, "[%lld, %lld]", k->imin, k->imax);
}

static void fmt_float_range(const Key *k, char *buf, size_t n) {
    if (k->fmin == -DBL_MAX && k->fmax == DBL_MAX) {
        snprintf(buf, n, "(-inf, inf) (any finite number)");
        return;
    }
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

/* Fields live at an offset from a base: the Config, or for keys inside a list, the element. */
static int *int_field(void *base, size_t off) {
    return (int *)(void *)((char *)base + off);
}
static const int *int_field_c(const void *base, size_t off) {
    return (const int *)(const void *)((const char *)base + off);
}
static double *dbl_field(void *base, size_t off) {
    return (double *)(void *)((char *)base + off);
}
static const double *dbl_field_c(const void *base, size_t off) {
    return (const double *)(const void *)((const char *)base + off);
}
static size_t str_size(const Key *k) {
    return k->size ? k->size : CFG_PATH_MAX;
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

/* "x is not one of a, b, c; did you mean "b"?" for a string outside k->choices. */
static int choice_error(const Loader *L, const Key *k, const char *name, const config_setting_t *s,
                        const char *v) {
    char where[CFG_PATH_MAX + 64], range[512], val[160];
    const char *near = nearest_choice(k->choices, v);
    char hint[CFG_NAME_MAX + 32] = "";
    if (near) snprintf(hint, sizeof hint, "; did you mean \"%s\"?", near);
    fmt_choices(k->choices, range, sizeof range);
    fmt_string_literal(v, val, sizeof val, 40);
    return err_set(L->e, "%s: '%s' = %s is not one of %s%s",
                   where_setting(L, s, where, sizeof where), name, val, range, hint);
}

/* Checks and copies one string of a K_STRING / K_STRINGS key into dst (size bytes). */
static int take_string(const Loader *L, const Key *k, const char *name, const config_setting_t *at,
                       const config_setting_t *s, long long min_len, char *dst, size_t size) {
    char where[CFG_PATH_MAX + 64];
    if (s->type != CONFIG_TYPE_STRING) return type_error_at(L, k, name, at, s);
    const char *v = config_setting_get_string(s);
    size_t len = strlen(v);
    if (len >= size)
        return err_set(L->e, "%s: '%s' is %zu characters long; it must be shorter than %zu",
                       where_setting(L, at, where, sizeof where), name, len, size);
    if ((long long)len < min_len)
        return err_set(L->e, "%s: '%s' %s empty; give it a value, e.g. %s = %s;",
                       where_setting(L, at, where, sizeof where), name,
                       at == s ? "is" : "has an element that is", leaf_of(k->path), example_of(k));
    if (k->choices && choice_index(k->choices, v) < 0) return choice_error(L, k, name, at, v);
    memcpy(dst, v, len + 1);
    return 0;
}

/* Type-checks a non-group setting against its key, range-checks it and stores it at `base`
 * (the Config, or the list element the key belongs to). `name` is the key as messages show it. */
static int take(const Loader *L, const Key *k, const char *name, const config_setting_t *s,
                void *base) {
    char where[CFG_PATH_MAX + 64], range[512], val[160];
    switch (k->kind) {
    case K_INT:
    case K_U64: {
        if (!is_int_type(s)) return type_error(L, k, name, s);
        long long v = config_setting_get_int64(s);
        if (v < k->imin || v > k->imax) {
            fmt_int_range(k, range, sizeof range);
            return err_set(L->e, "%s: '%s' = %lld is out of range; it must be in %s",
                           where_setting(L, s, where, sizeof where), name, v, range);
        }
        if (k->kind == K_INT)
            *int_field(base, k->off) = (int)v;
        else
            *(uint64_t *)(void *)((char *)base + k->off) = (uint64_t)v;
        return 0;
    }
    case K_FLOAT: {
        if (!is_number_type(s)) return type_error(L, k, name, s);
        double v = number_of(s);
        if (!float_in_range(k, v)) {
            fmt_bound(v, val, sizeof val);
            fmt_float_range(k, range, sizeof range);
            return err_set(L->e, "%s: '%s' = %s is out of range; it must be in %s",
                           where_setting(L, s, where, sizeof where), name, val, range);
        }
        *dbl_field(base, k->off) = v;
        return 0;
    }
    case K_BOOL:
        if (s->type != CONFIG_TYPE_BOOL) return type_error(L, k, name, s);
        *int_field(base, k->off) = config_setting_get_bool(s) ? 1 : 0;
        return 0;
    case K_STRING:
        return take_string(L, k, name, s, s, k->imin, (char *)base + k->off, str_size(k));
    case K_STRINGS: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST)
            return type_error(L, k, name, s);
        int n = config_setting_length(s);
        if (n < k->imin)
            return err_set(L->e, "%s: '%s' is empty; list at least %lld, e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), name, k->imin,
                           leaf_of(k->path), example_of(k));
        if (n > k->imax)
            return err_set(L->e, "%s: '%s' lists %d entries; at most %lld are allowed, remove %lld",
                           where_setting(L, s, where, sizeof where), name, n, k->imax,
                           (long long)n - k->imax);
        for (int i = 0; i < n; i++) {
            char *dst = (char *)base + k->off + (size_t)i * str_size(k);
            if (take_string(L, k, name, s, config_setting_get_elem(s, (unsigned)i), k->imin2, dst,
                            str_size(k)) != 0)
                return -1;
        }
        *int_field(base, k->off2) = n;
        return 0;
    }
    case K_ENUM: {
        if (s->type != CONFIG_TYPE_STRING) return type_error(L, k, name, s);
        const char *v = config_setting_get_string(s);
        int idx = choice_index(k->choices, v);
        if (idx < 0) return choice_error(L, k, name, s, v);
        *int_field(base, k->off) = idx;
        return 0;
    }
    case K_MASK: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST)
            return type_error(L, k, name, s);
        int n = config_setting_length(s), mask = 0;
        fmt_choices(k->choices, range, sizeof range);
        if (n == 0)
            return err_set(L->e, "%s: '%s' is empty; list at least one of %s, e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), name, range, leaf_of(k->path),
                           example_of(k));
        for (int i = 0; i < n; i++) {
            const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
            if (el->type != CONFIG_TYPE_STRING) return type_error_at(L, k, name, s, el);
            const char *v = config_setting_get_string(el);
            int idx = choice_index(k->choices, v);
            fmt_string_literal(v, val, sizeof val, 40);
            if (idx < 0)
                return err_set(L->e, "%s: '%s' element %s is not one of %s",
                               where_setting(L, s, where, sizeof where), name, val, range);
            if (mask & (1 << idx))
                return err_set(L->e, "%s: '%s' lists %s twice; list each one once",
                               where_setting(L, s, where, sizeof where), name, val);
            mask |= 1 << idx;
        }
        *int_field(base, k->off) = mask;
        return 0;
    }
    case K_INT_PAIR:
    case K_FLOAT_PAIR: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST)
            return type_error(L, k, name, s);
        int n = config_setting_length(s);
        if (n != 2)
            return err_set(L->e, "%s: '%s' must have 2 elements, got %d; e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), name, n, leaf_of(k->path),
                           example_of(k));
        long long iv[2] = {0, 0};
        double dv[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
            const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
            if (k->kind == K_INT_PAIR) {
                if (!is_int_type(el)) return type_error_at(L, k, name, s, el);
                long long v = config_setting_get_int64(el), lo = i ? k->imin2 : k->imin;
                if (v < lo || v > k->imax) {
                    snprintf(range, sizeof range, "[%lld, %lld]", lo, k->imax);
                    return err_set(L->e,
                                   "%s: '%s' element %d = %lld is out of range; it must be in %s",
                                   where_setting(L, s, where, sizeof where), name, i, v, range);
                }
                iv[i] = v;
            } else {
                if (!is_number_type(el)) return type_error_at(L, k, name, s, el);
                double v = number_of(el);
                if (!float_in_range(k, v)) {
                    fmt_bound(v, val, sizeof val);
                    fmt_float_range(k, range, sizeof range);
                    return err_set(L->e,
                                   "%s: '%s' element %d = %s is out of range; it must be in %s",
                                   where_setting(L, s, where, sizeof where), name, i, val, range);
                }
                dv[i] = v;
            }
        }
        if (k->kind == K_INT_PAIR) {
            int bad = k->pair != PAIR_ANY && iv[0] > iv[1] &&
                      !(k->pair == PAIR_ORDERED_OR_LAST && iv[1] == -1);
            if (bad)
                return err_set(L->e,
                               "%s: '%s' = [%lld, %lld] has first > last; write [first, last] "
                               "with first <= last%s",
                               where_setting(L, s, where, sizeof where), name, iv[0], iv[1],
                               k->pair == PAIR_ORDERED_OR_LAST ? ", or last = -1 for the last layer"
                                                               : "");
            *int_field(base, k->off) = (int)iv[0];
            *int_field(base, k->off2) = (int)iv[1];
        } else {
            if (k->pair != PAIR_ANY && dv[0] > dv[1]) {
                char a[64], b[64];
                fmt_bound(dv[0], a, sizeof a);
                fmt_bound(dv[1], b, sizeof b);
                return err_set(L->e,
                               "%s: '%s' = [%s, %s] has lo > hi; write [lo, hi] with lo <= hi",
                               where_setting(L, s, where, sizeof where), name, a, b);
            }
            *dbl_field(base, k->off) = dv[0];
            *dbl_field(base, k->off2) = dv[1];
        }
        return 0;
    }
    case K_GROUP:
    case K_FLAG_GROUP:
    case K_LIST:
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
 * finds 'lora.rank', 'lora_rank' finds 'lora.rank' and 'lora.lr' finds 'optim.lr'. Keys inside
 * a list are only suggested for paths inside the same list (they cannot be written elsewhere). */
static const char *nearest_key(const char *path) {
    const char *leaf = leaf_of(path);
    const Key *in_list = list_of(path);
    const char *best = NULL;
    int best_score = 1 << 30;
    for (int pass = 0; pass < 2; pass++) { /* siblings first, so they win ties */
        for (size_t i = 0; i < N_KEYS; i++) {
            const char *cand = KEYS[i].path;
            size_t lc = strlen(cand);
            if (strncmp(path, cand, lc) == 0 && path[lc] == '.') continue; /* an ancestor */
            if (list_of(cand) != in_list) continue;
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

/* `path` is the schema path of the unknown key ("curriculum.stages.stpes"), `shown` the same
 * with list indices, as the message shows it ("curriculum.stages.[1].stpes"). */
static int unknown_key_error(Err *e, const char *where, const char *path, const char *shown) {
    const char *near = nearest_key(path);
    size_t shown_parent = parent_len(shown);
    if (near) {
        if (same_parent(near, path) && shown_parent > 0) /* name the sibling in the same element */
            return err_set(e, "%s: unknown key '%s'; did you mean '%.*s.%s'?", where, shown,
                           (int)shown_parent, shown, leaf_of(near));
        return err_set(e, "%s: unknown key '%s'; did you mean '%s'?", where, shown, near);
    }

    /* List the valid keys of the deepest known group that contains the path. */
    char group[CFG_NAME_MAX * 2] = "";
    size_t pl = parent_len(path);
    while (pl > 0) {
        if (pl >= sizeof group) pl = sizeof group - 1;
        memcpy(group, path, pl);
        group[pl] = '\0';
        const Key *g = find_key(group);
        if (g) {
            if (kind_has_children(g->kind)) break;
            return err_set(e, "%s: unknown key '%s'; '%s' is %s, not a group", where, shown, group,
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
    if (group[0] && pl == parent_len(path) && shown_parent > 0) /* the element, with its index */
        return err_set(e, "%s: unknown key '%s'; valid keys in '%.*s' are: %s", where, shown,
                       (int)shown_parent, shown, list);
    if (group[0])
        return err_set(e, "%s: unknown key '%s'; valid keys in '%s' are: %s", where, shown, group,
                       list);
    return err_set(e, "%s: unknown key '%s'; valid top-level keys are: %s", where, shown, list);
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
            if (gk) return type_error(L, gk, path, child);
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
    for (size_t i = 0; i < N_KEYS; i++) { /* a list, or a key inside one */
        const Key *lk = &KEYS[i];
        size_t ll = strlen(lk->path);
        if (lk->kind == K_LIST && strncmp(key, lk->path, ll) == 0 &&
            (key[ll] == '\0' || key[ll] == '.'))
            return err_set(e, "%s: %s '%s' cannot be set with --set; edit %s in the config file",
                           where, key[ll] ? "keys inside the list" : "the list", lk->path,
                           key[ll] ? "them" : "it");
    }
    const Key *k = find_key(key);
    if (!k) return unknown_key_error(e, where, key, key);

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

/* A default with "{i}" replaced by the element index (list children: "stage-{i}"). */
static void expand_index(const char *def, int index, char *buf, size_t n) {
    const char *at = strstr(def, "{i}");
    if (!at || index < 0)
        snprintf(buf, n, "%s", def);
    else
        snprintf(buf, n, "%.*s%d%s", (int)(at - def), def, index, at + 3);
}

/* Stores the defaults of the keys that belong to `list` (NULL: the keys outside every list) at
 * `base`, the Config or the list element number `index`. */
static int apply_defaults(Loader *L, const Key *list, void *base, int index) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!k->def || list_of(k->path) != list) continue;
        char def[256], text[300];
        expand_index(k->def, index, def, sizeof def);
        snprintf(text, sizeof text, "v = %s;", def);
        config_t scratch;
        config_init(&scratch);
        int rc = -1;
        if (config_read_string(&scratch, text) == CONFIG_TRUE)
            rc = take(L, k, k->path, config_lookup(&scratch, "v"), base);
        config_destroy(&scratch);
        if (rc != 0)
            return err_set(L->e, "internal error: the default of '%s' (%s) is invalid", k->path,
                           def);
    }
    return 0;
}

/* `root` is where the keys of `list` are looked up: the root setting (list NULL) or the list
 * element `shown` ("curriculum.stages.[1]"). */
static int missing_error(const Loader *L, const Key *k, const config_setting_t *root,
                         const Key *list, const char *shown) {
    char where[CFG_PATH_MAX + 64], ex[512], name[512];
    const char *rel = rel_path(k->path, list);
    /* Point at the enclosing group (or element) when it is there. */
    char group[CFG_NAME_MAX * 2];
    size_t pl = parent_len(rel);
    const config_setting_t *g = list ? root : NULL;
    if (pl > 0 && pl < sizeof group) {
        memcpy(group, rel, pl);
        group[pl] = '\0';
        g = config_setting_lookup((config_setting_t *)root, group);
    }
    where_setting(L, g, where, sizeof where);
    fmt_nested_example(rel, example_of(k), ex, sizeof ex);
    if (list)
        snprintf(name, sizeof name, "%s.%s", shown, rel);
    else
        snprintf(name, sizeof name, "%s", k->path);
    return err_set(L->e, "%s: missing required key '%s'; add it, e.g. %s", where, name, ex);
}

/* Required keys of `list` (NULL: outside every list) under `root` (see missing_error). */
static int check_required(const Loader *L, const config_setting_t *root, const Key *list,
                          const char *shown) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (k->required == OPTIONAL || list_of(k->path) != list) continue;
        const char *rel = rel_path(k->path, list);
        int need;
        if (k->required == REQUIRED) {
            need = !(k->unless && config_lookup(&L->t->lc, k->unless));
        } else { /* REQUIRED_IF_GROUP: when the enclosing group is given */
            char group[CFG_NAME_MAX * 2];
            size_t pl = parent_len(rel);
            if (pl == 0 || pl >= sizeof group) {
                need = 1; /* directly in the element (or at the top level) */
            } else {
                memcpy(group, rel, pl);
                group[pl] = '\0';
                need = config_setting_lookup((config_setting_t *)root, group) != NULL;
            }
        }
        if (need && !config_setting_lookup((config_setting_t *)root, rel))
            return missing_error(L, k, root, list, shown);
    }
    return 0;
}

static int walk(Loader *L, const config_setting_t *group, const char *prefix, const char *shown,
                void *base);

/* A K_LIST: every element is a group, stored at base + off + i * size, with the list's own
 * defaults, keys and required keys. */
static int walk_list(Loader *L, const Key *k, const config_setting_t *s, const char *shown,
                     void *base) {
    char where[CFG_PATH_MAX + 64], got[256];
    int n = config_setting_length(s);
    if (s->type != CONFIG_TYPE_LIST && !(s->type == CONFIG_TYPE_ARRAY && n == 0))
        return type_error(L, k, shown, s);
    if (n < k->imin)
        return err_set(L->e, "%s: '%s' is empty; give at least %lld, e.g. %s = %s;",
                       where_setting(L, s, where, sizeof where), shown, k->imin, leaf_of(k->path),
                       example_of(k));
    if (n > k->imax)
        return err_set(
            L->e, "%s: '%s' has %d elements; at most %lld are allowed, remove %lld",
            where_setting(L, config_setting_get_elem(s, (unsigned)k->imax), where, sizeof where),
            shown, n, k->imax, (long long)n - k->imax);
    for (int i = 0; i < n; i++) {
        const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
        char eshown[600];
        snprintf(eshown, sizeof eshown, "%s.[%d]", shown, i);
        if (el->type != CONFIG_TYPE_GROUP) {
            describe(el, got, sizeof got);
            return err_set(L->e,
                           "%s: '%s' must be a group, got %s; the elements of '%s' are "
                           "groups, e.g. %s = %s;",
                           where_setting(L, el, where, sizeof where), eshown, got, shown,
                           leaf_of(k->path), example_of(k));
        }
        void *eb = (char *)base + k->off + (size_t)i * k->size;
        memset(eb, 0, k->size);
        if (apply_defaults(L, k, eb, i) != 0) return -1;
        if (walk(L, el, k->path, eshown, eb) != 0) return -1;
        if (check_required(L, el, k, eshown) != 0) return -1;
    }
    *int_field(base, k->off2) = n;
    return 0;
}

/* Validates and stores the settings of `group`: `prefix` is its schema path ("" at the top,
 * "curriculum.stages" in a stage), `shown` the same with list indices, for messages, and `base`
 * where its fields go (the Config, or the list element). */
static int walk(Loader *L, const config_setting_t *group, const char *prefix, const char *shown,
                void *base) {
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char path[512], name[512];
        const char *leaf = s->name ? s->name : "?";
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", leaf);
        snprintf(name, sizeof name, "%s%s%s", shown, shown[0] ? "." : "", leaf);
        const Key *k = find_key(path);
        if (!k) {
            char where[CFG_PATH_MAX + 64];
            return unknown_key_error(L->e, where_setting(L, s, where, sizeof where), path, name);
        }
        if (kind_is_group(k->kind)) {
            if (s->type != CONFIG_TYPE_GROUP) return type_error(L, k, name, s);
            if (k->kind == K_FLAG_GROUP) *int_field(base, k->off) = 1;
            if (walk(L, s, path, name, base) != 0) return -1;
        } else if (k->kind == K_LIST) {
            if (walk_list(L, k, s, name, base) != 0) return -1;
        } else if (take(L, k, name, s, base) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The stages: bands only where they belong, bridges between two non-bridge stages, unique
 * names. (Counts and per-key ranges were checked while walking.) */
static int check_curriculum(const Loader *L) {
    const CurriculumConfig *cc = &L->cfg->curriculum;
    if (!cc->enabled) return 0;
    const config_setting_t *list = config_lookup(&L->t->lc, "curriculum.stages");
    char where[CFG_PATH_MAX + 64], first[CFG_PATH_MAX + 64];
    int n = cc->n_stages, plain = 0;
    for (int i = 0; i < n; i++) plain += !cc->stages[i].bridge;
    if (n > 0 && plain == 0)
        return err_set(L->e,
                       "%s: 'curriculum.stages' has only bridges; a bridge blends the bands of "
                       "the stages around it, so the curriculum needs at least one stage with a "
                       "band (bridge = false)",
                       where_setting(L, list, where, sizeof where));
    for (int i = 0; i < n; i++) {
        const StageConfig *st = &cc->stages[i];
        const config_setting_t *el = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
        const config_setting_t *band = el ? config_setting_get_member(el, "band") : NULL;
        const config_setting_t *nm = el ? config_setting_get_member(el, "name") : NULL;
        where_setting(L, el, where, sizeof where);
        if (st->bridge && band)
            return err_set(L->e,
                           "%s: 'curriculum.stages.[%d].band' is given on a bridge (\"%s\"); a "
                           "bridge takes its bands from its neighbours: remove band, or set "
                           "bridge = false",
                           where_setting(L, band, where, sizeof where), i, st->name);
        if (!st->bridge && !band)
            return err_set(L->e,
                           "%s: missing required key 'curriculum.stages.[%d].band' (stage "
                           "\"%s\"); add it, e.g. band = [0.0, 0.05]; or make the stage a bridge "
                           "with bridge = true;",
                           where, i, st->name);
        if (st->bridge && (i == 0 || i == n - 1))
            return err_set(L->e,
                           "%s: stage 'curriculum.stages.[%d]' (\"%s\") is a bridge but it is "
                           "the %s stage; a bridge needs a non-bridge stage before and after it: "
                           "add a stage with a band %s it, or set bridge = false",
                           where, i, st->name, i == 0 ? "first" : "last",
                           i == 0 ? "before" : "after");
        if (st->bridge && (cc->stages[i - 1].bridge || cc->stages[i + 1].bridge)) {
            int j = cc->stages[i - 1].bridge ? i - 1 : i + 1;
            return err_set(L->e,
                           "%s: stage 'curriculum.stages.[%d]' (\"%s\") is a bridge and so is "
                           "the stage %s it ('curriculum.stages.[%d]', \"%s\"); a bridge needs a "
                           "non-bridge stage before and after it: put a stage with a band "
                           "between them, or merge the two bridges",
                           where, i, st->name, j < i ? "before" : "after", j, cc->stages[j].name);
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(cc->stages[j].name, st->name) != 0) continue;
            const config_setting_t *ej = list ? config_setting_get_elem(list, (unsigned)j) : NULL;
            const config_setting_t *nj = ej ? config_setting_get_member(ej, "name") : NULL;
            where_setting(L, nj ? nj : ej, first, sizeof first);
            return err_set(L->e,
                           "%s: stage name \"%s\" of 'curriculum.stages.[%d]'%s is already "
                           "used by 'curriculum.stages.[%d]'%s (%s); give each stage a unique "
                           "name",
                           where_setting(L, nm ? nm : el, where, sizeof where), st->name, i,
                           nm ? "" : " (its default name)", j, nj ? "" : " (its default name)",
                           first);
        }
    }
    return 0;
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

    if (check_required(L, config_root_setting(lc), NULL, NULL) != 0) return -1;

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
    if (c->batch.global % c->batch.shard != 0) {
        const config_setting_t *sh = config_lookup(lc, "batch.shard");
        int d = c->batch.shard;
        while (c->batch.global % d) d--;
        return err_set(
            L->e,
            "%s: 'batch.shard' = %d does not divide 'batch.global' = %d; use a divisor "
            "of the global batch, e.g. %d",
            where_setting(L, sh ? sh : config_lookup(lc, "batch.global"), where, sizeof where),
            c->batch.shard, c->batch.global, d);
    }
    /* lora.layers first <= last is checked with the value (Key.pair) */
    return check_curriculum(L);
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
    if (rc == 0) rc = apply_defaults(&L, NULL, cfg, -1);
    if (rc == 0) rc = walk(&L, config_root_setting(&t->lc), "", "", cfg);
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

/* Room for the longest value text: K_STRINGS at its fullest, every byte escaped (\xNN). */
#define VALUE_MAX (CFG_MAX_LIBRARIES * (4 * CFG_PATH_MAX + 4) + 16)

/* The resolved value of a (non-group) key as libconfig text; `base` as for take(). */
static void fmt_value(const void *base, const Key *k, char *buf, size_t n) {
    char a[64], b[64];
    switch (k->kind) {
    case K_INT:
        snprintf(buf, n, "%d", *int_field_c(base, k->off));
        return;
    case K_U64: {
        uint64_t v = *(const uint64_t *)(const void *)((const char *)base + k->off);
        snprintf(buf, n, v > (uint64_t)INT_MAX ? "%lluL" : "%llu", (unsigned long long)v);
        return;
    }
    case K_FLOAT:
        fmt_float_literal(*dbl_field_c(base, k->off), buf, n);
        return;
    case K_BOOL:
        snprintf(buf, n, "%s", *int_field_c(base, k->off) ? "true" : "false");
        return;
    case K_STRING:
        fmt_string_literal((const char *)base + k->off, buf, n, 0);
        return;
    case K_STRINGS: {
        int count = *int_field_c(base, k->off2);
        size_t o = 0;
        buf[o++] = '[';
        for (int i = 0; i < count && o + 8 < n; i++) {
            if (i) {
                memcpy(buf + o, ", ", 2);
                o += 2;
            }
            fmt_string_literal((const char *)base + k->off + (size_t)i * str_size(k), buf + o,
                               n - o - 2, 0);
            o += strlen(buf + o);
        }
        buf[o++] = ']';
        buf[o] = '\0';
        return;
    }
    case K_ENUM: {
        int v = *int_field_c(base, k->off);
        int count = 0;
        while (k->choices[count]) count++;
        snprintf(buf, n, "\"%s\"", v >= 0 && v < count ? k->choices[v] : "?");
        return;
    }
    case K_MASK: {
        int mask = *int_field_c(base, k->off);
        size_t o = 0;
        o += (size_t)snprintf(buf, n, "[");
        for (int i = 0; k->choices[i] && o < n; i++)
            if (mask & (1 << i))
                o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"", o > 1 ? ", " : "", k->choices[i]);
        if (o < n) snprintf(buf + o, n - o, "]");
        return;
    }
    case K_INT_PAIR:
        snprintf(buf, n, "[%d, %d]", *int_field_c(base, k->off), *int_field_c(base, k->off2));
        return;
    case K_FLOAT_PAIR:
        fmt_float_literal(*dbl_field_c(base, k->off), a, sizeof a);
        fmt_float_literal(*dbl_field_c(base, k->off2), b, sizeof b);
        snprintf(buf, n, "[%s, %s]", a, b);
        return;
    case K_GROUP:
    case K_FLAG_GROUP:
    case K_LIST:
        break;
    }
    snprintf(buf, n, "?");
}

/* Writes the children of `group` (schema path) whose fields are at `base`. `comments`: add the
 * help lines (list elements after the first go without, to keep the file short). */
static void print_group(const void *base, FILE *fp, const char *group, int depth, int comments,
                        char *val) {
    int first = 1;
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!is_child_of(k->path, group)) continue;
        if (k->print_if && !k->print_if(base)) continue;
        int indent = 4 * depth;
        if (depth == 0 && !first) fputc('\n', fp);
        if (kind_is_group(k->kind)) {
            if (depth == 0) fprintf(fp, "// %s\n", k->help);
            fprintf(fp, "%*s%s = {", indent, "", leaf_of(k->path));
            if (depth > 0 && comments) fprintf(fp, " // %s", k->help);
            fputc('\n', fp);
            print_group(base, fp, k->path, depth + 1, comments, val);
            fprintf(fp, "%*s};\n", indent, "");
        } else if (k->kind == K_LIST) {
            if (depth == 0) fprintf(fp, "// %s\n", k->help);
            fprintf(fp, "%*s%s = (", indent, "", leaf_of(k->path));
            if (depth > 0 && comments) fprintf(fp, " // %s", k->help);
            fputc('\n', fp);
            int count = *int_field_c(base, k->off2);
            for (int j = 0; j < count; j++) {
                const void *eb = (const char *)base + k->off + (size_t)j * k->size;
                fprintf(fp, "%*s{ // [%d]\n", indent + 4, "", j);
                print_group(eb, fp, k->path, depth + 2, comments && j == 0, val);
                fprintf(fp, "%*s}%s\n", indent + 4, "", j + 1 < count ? "," : "");
            }
            fprintf(fp, "%*s);\n", indent, "");
        } else {
            fmt_value(base, k, val, VALUE_MAX);
            int w = fprintf(fp, "%*s%s = %s;", indent, "", leaf_of(k->path), val);
            if (comments)
                fprintf(fp, "%*s // %s\n", w < 40 ? 40 - w : 0, "", k->help);
            else
                fputc('\n', fp);
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
    char *val = malloc(VALUE_MAX);
    if (!val) {
        fprintf(fp, "// out of memory\n");
        return;
    }
    print_group(cfg, fp, "", 0, 1, val);
    free(val);
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
