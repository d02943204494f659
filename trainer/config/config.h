/*
 * config.h — the run configuration: a libconfig file, validated against a schema, with
 * command-line overrides, resolved (defaults filled in) and saved with the run.
 *
 * Every key is checked for type and range; an unknown key is an error that names the file,
 * the line and the nearest valid key. Paths in the file are relative to the working directory.
 */
#ifndef IMPRINT_CONFIG_H
#define IMPRINT_CONFIG_H

#include "curriculum.h"
#include "util.h"

#define CFG_PATH_MAX      1024
#define CFG_NAME_MAX      64
#define CFG_MAX_OVERRIDES 64

/* LoRA targets: each projection's index (the order of the model's adapters) and, from it, its
 * bit in a target mask (lora.targets, curriculum.stages.targets, LoraSpec.targets). */
enum { LORA_TARGET_Q = 0, LORA_TARGET_K = 1, LORA_TARGET_V = 2, LORA_TARGET_O = 3, LORA_N_TARGETS };
#define LORA_BIT(target) (1 << (target))
enum {
    LORA_Q = LORA_BIT(LORA_TARGET_Q),
    LORA_K = LORA_BIT(LORA_TARGET_K),
    LORA_V = LORA_BIT(LORA_TARGET_V),
    LORA_O = LORA_BIT(LORA_TARGET_O)
};

typedef struct ModelConfig {
    char path[CFG_PATH_MAX];      /* HF dir (config.json + model.safetensors) or llm.c .bin;
                                     "" when model.random is used */
    char tokenizer[CFG_PATH_MAX]; /* dir with vocab.json + merges.txt; "" = none/model's */
    int random;                   /* 1 when the model.random group is given */
    int layers, heads, width, vocab, context; /* model.random.* */
    double init_std;                          /* model.random.std */
} ModelConfig;

typedef struct LoraConfig {
    int rank;
    double alpha;
    int targets;     /* LORA_Q | LORA_K | LORA_V | LORA_O */
    int layer_first; /* inclusive; lora.layers = [first, last]; default [0, -1] */
    int layer_last;  /* -1 means "the model's last layer" (resolved when the model loads) */
    double dropout;  /* in [0, 1) */
    int rslora;      /* scale alpha/sqrt(r) instead of alpha/r */
} LoraConfig;

typedef enum { SCHED_COSINE = 0, SCHED_LINEAR = 1, SCHED_CONSTANT = 2 } Schedule;

/* optim.nonfinite: what a NaN or Inf in the loss or a gradient does */
typedef enum { NONFINITE_ABORT = 0, NONFINITE_SKIP = 1 } NonFinite;

typedef struct OptimConfig {
    double lr;
    double beta1, beta2; /* optim.betas = [b1, b2] */
    double eps;
    double weight_decay;
    int warmup; /* steps of linear warmup from 0 */
    Schedule schedule;
    double min_lr_ratio; /* the schedule decays to lr * min_lr_ratio */
    double clip;         /* global-norm clip; 0 disables */
    int nonfinite;       /* NonFinite */
} OptimConfig;

typedef enum { DATA_LLMC = 0, DATA_BYTES = 1 } DataFormat;
typedef enum { SAMPLE_RANDOM = 0, SAMPLE_SEQUENTIAL = 1 } Sampling;

typedef struct DataConfig {
    char path[CFG_PATH_MAX];
    char val_path[CFG_PATH_MAX]; /* "" = no validation */
    DataFormat format;
    Sampling sampling;
} DataConfig;

typedef struct BatchConfig {
    int global;  /* sequences per optimizer step, summed over all ranks */
    int seq_len; /* tokens per sequence */
    int shard;   /* sequences per virtual shard (reproducibility = "invariant") */
} BatchConfig;

typedef struct RunConfig {
    char dir[CFG_PATH_MAX];
    int steps;            /* optimizer steps */
    int checkpoint_every; /* 0: only at the end */
    int log_every;
    int eval_every;   /* validation every N steps (0: only at the end) when data.val_path */
    int eval_batches; /* global batches per validation */
    int threads;      /* OpenMP/BLAS threads per rank; 0: OMP_NUM_THREADS, else cores/ranks */
    double watchdog;  /* seconds a collective may wait before the job ends; 0 = off */
} RunConfig;

/* reproducibility: what "same bits" holds across */
typedef enum {
    REPRO_RANK_COUNT = 0, /* same config, seed and rank count */
    REPRO_INVARIANT = 1   /* any rank count: virtual shards and int64 fixed-point sums */
} Reproducibility;

/* ---- the curriculum (see docs/chains.md and README); its enums and StageSpec: curriculum.h -- */

#define CFG_MAX_STAGES    32
#define CFG_MAX_LIBRARIES 8

typedef struct CurriculumConfig {
    int enabled; /* the curriculum group is given: batches come from the chain library */
    char libraries[CFG_MAX_LIBRARIES][CFG_PATH_MAX];
    int n_libraries;
    Order order;
    int variants;                            /* variants per chain per band, 5..10 */
    double heldout_band_lo, heldout_band_hi; /* band of the held-out-variants split */
    int eval_every;                   /* steps between evaluations in stages with an until rule */
    StageSpec stages[CFG_MAX_STAGES]; /* handed to the curriculum as they are */
    int n_stages;
} CurriculumConfig;

typedef struct Config {
    ModelConfig model;
    LoraConfig lora;
    OptimConfig optim;
    DataConfig data;
    BatchConfig batch;
    RunConfig run;
    CurriculumConfig curriculum;
    uint64_t seed;
    int reproducibility; /* Reproducibility */

    /* Where things came from, for messages raised after loading (e.g. when lora.layers is
     * checked against the model's depth): see config_where(). */
    char source[CFG_PATH_MAX];
    void *tree; /* the libconfig tree (config_t *), kept for line numbers */
} Config;

/* Loads `path`, applies `overrides` ("key=value", libconfig value syntax; strings may be given
 * without quotes), validates every key, fills defaults. Returns 0 or -1 with e filled. */
int config_load(Config *cfg, const char *path, const char *const *overrides, int n_overrides,
                Err *e);

/* Frees the libconfig tree. */
void config_free(Config *cfg);

/* "file:line" of a key (e.g. "lora.layers"), "--set lora.layers" for an override, or
 * "file (default)" for a key not given. Writes into buf and returns it. */
const char *config_where(const Config *cfg, const char *key, char *buf, size_t n);

/* Writes the resolved config (every key, defaults included) in libconfig syntax, which
 * config_load() reads back to the same Config. */
void config_print(const Config *cfg, FILE *fp);

/* The keys whose resolved values differ between a (old) and b (new), as config_print() writes
 * them: "lora.rank: 4 -> 8; curriculum.stages.[0].steps: 200 -> 10" into out (n bytes; "..."
 * when more do not fit). Returns how many keys differ (0: the same configuration). */
int config_diff(const Config *a, const Config *b, char *out, size_t n);

/* config_print() into a file, atomically. */
int config_save(const Config *cfg, const char *path, Err *e);

/* LoRA scale: alpha/r, or alpha/sqrt(r) with rslora. */
double lora_scale(const LoraConfig *lc);

#endif
