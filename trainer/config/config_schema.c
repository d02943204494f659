/*
 * config_schema.c — the schema: every key's path, type, default, range or allowed values, help
 * line and where it lands in Config, in one table (KEYS[]). The validator, the defaults,
 * config_print() and the "did you mean" suggestions are all driven by it.
 */
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

static const char *const SCHEDULES[] = {"cosine", "linear", "constant", NULL};
static const char *const FORMATS[] = {"llmc", "bytes", NULL};
static const char *const SAMPLINGS[] = {"random", "sequential", NULL};
static const char *const TARGETS[] = {"q", "k", "v", "o", NULL};
static const char *const REPRO_MODES[] = {"rank-count", "invariant", NULL};
static const char *const NONFINITE[] = {"abort", "skip", NULL};

/* curriculum.stages.until.metric: "<split>.em" for the held-out splits and train, then
 * "<split>.margin" for the held-out splits; the split names are the curriculum's. */
#define N_METRICS (2 * EVAL_COUNT - 1)
static char metric_text[N_METRICS][CFG_NAME_MAX];
static const char *METRICS[N_METRICS + 1];

void metric_names_fill(void) {
    static const EvalSplit em_order[] = {EVAL_HELDOUT_VARIANTS, EVAL_HELDOUT_ENTITIES,
                                         EVAL_HELDOUT_CHAINS, EVAL_TRAIN};
    _Static_assert(sizeof em_order / sizeof *em_order == EVAL_COUNT, "every split has .em");
    int n = 0;
    for (int i = 0; i < EVAL_COUNT; i++)
        snprintf(metric_text[n++], CFG_NAME_MAX, "%s.em", eval_split_name(em_order[i]));
    for (int i = 0; i < EVAL_COUNT; i++)
        if (em_order[i] != EVAL_TRAIN)
            snprintf(metric_text[n++], CFG_NAME_MAX, "%s.margin", eval_split_name(em_order[i]));
    for (int i = 0; i < N_METRICS; i++) METRICS[i] = metric_text[i];
    METRICS[N_METRICS] = NULL;
}

_Static_assert(sizeof(Schedule) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(DataFormat) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(Sampling) == sizeof(int), "enum fields are stored as int");
_Static_assert(SCHED_COSINE == 0 && SCHED_LINEAR == 1 && SCHED_CONSTANT == 2, "SCHEDULES order");
_Static_assert(DATA_LLMC == 0 && DATA_BYTES == 1, "FORMATS order");
_Static_assert(SAMPLE_RANDOM == 0 && SAMPLE_SEQUENTIAL == 1, "SAMPLINGS order");
_Static_assert(LORA_Q == 1 && LORA_K == 2 && LORA_V == 4 && LORA_O == 8, "TARGETS order");
_Static_assert(sizeof(Order) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(Pacing) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(LossMask) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(((StageSpec *)0)->name) == CFG_NAME_MAX, "stage name size");
_Static_assert(sizeof(((StageSpec *)0)->until_metric) == CFG_NAME_MAX, "until metric size");
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
static int print_run_steps(const void *b) { /* a curriculum's stages have their own steps */
    return !((const Config *)b)->curriculum.enabled;
}
static int print_stage_band(const void *b) {
    return !((const StageSpec *)b)->bridge; /* a bridge takes its bands from its neighbours */
}
static int print_stage_until(const void *b) {
    return ((const StageSpec *)b)->until_metric[0] != '\0';
}

#define F(member)         offsetof(Config, member)
#define S(member)         offsetof(StageSpec, member)
#define INT_RANGE(lo, hi) .imin = (lo), .imax = (hi)
#define FLOAT_RANGE(lo_open, lo, hi, hi_open)                                                      \
    .fmin = (lo), .fmax = (hi), .fmin_open = (lo_open), .fmax_open = (hi_open)
#define OPEN   1
#define CLOSED 0

/* Children follow their group, in the order config_print() writes them. */
const Key KEYS[] = {
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
     .print_if = print_run_steps,
     .help = "optimizer steps (without a curriculum; a curriculum's stages have their own)"},
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
     .choices = ORDER_NAMES,
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
     .size = sizeof(StageSpec),
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
     .choices = PACING_NAMES,
     .off = S(pacing),
     .help = "bridges: linear, root or discrete blend"},
    {.path = "curriculum.stages.loss",
     .kind = K_ENUM,
     .def = "\"trail\"",
     .choices = LOSS_MASK_NAMES,
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

const size_t N_KEYS = sizeof KEYS / sizeof KEYS[0];

int kind_is_group(Kind k) {
    return k == K_GROUP || k == K_FLAG_GROUP;
}

/* Has schema children: a group, or a list (whose children describe one element). */
int kind_has_children(Kind k) {
    return kind_is_group(k) || k == K_LIST;
}

const Key *find_key(const char *path) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].path, path) == 0) return &KEYS[i];
    return NULL;
}

const char *leaf_of(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/* Length of the parent part of a path ("lora.rank" -> 4, "seed" -> 0). */
size_t parent_len(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? (size_t)(dot - path) : 0;
}

/* The nearest K_LIST key that strictly contains `path` ("curriculum.stages" for
 * "curriculum.stages.until.metric"), or NULL for a key outside every list. */
const Key *list_of(const char *path) {
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
const char *rel_path(const char *path, const Key *list) {
    return list ? path + strlen(list->path) + 1 : path;
}

int same_parent(const char *a, const char *b) {
    size_t la = parent_len(a), lb = parent_len(b);
    return la == lb && strncmp(a, b, la) == 0;
}

/* Is `path` a direct child of the group `group` ("" = top level)? */
int is_child_of(const char *path, const char *group) {
    size_t lg = strlen(group), lp = parent_len(path);
    return lp == lg && strncmp(path, group, lg) == 0;
}
