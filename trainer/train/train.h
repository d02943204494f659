/*
 * train.h — `imprint train` (LoRA adapters, frozen base) and `imprint pretrain` (every base
 * tensor), data-parallel over ranks, through ONE training loop (loop.c) over a batch source
 * (source.h): token files, or the curriculum of a chain library. The source decides where the
 * rows of a step come from, and adds its hooks (stage boundaries, end-of-stage recall test,
 * stage checkpoints); the loop owns everything else: the step, logging, stop signals, faults,
 * and the agreement of all ranks around checkpoints.
 */
#ifndef IMPRINT_TRAIN_H
#define IMPRINT_TRAIN_H

#include <stdio.h>

#include "checkpoint.h"
#include "comm.h"
#include "config.h"
#include "curriculum.h"
#include "data.h"
#include "fault.h"
#include "lora.h"
#include "model.h"
#include "optim.h"
#include "tokenizer.h"
#include "util.h"

typedef struct TrainOptions {
    int overwrite;      /* replace checkpoints already in run.dir */
    int quiet;          /* no progress lines */
    int full;           /* pretrain: train every base tensor, no adapters */
    const char *resume; /* continue the run in this directory from its last checkpoint */
    int fallback;       /* with resume: a corrupted newest checkpoint falls back to an older one */
} TrainOptions;

/* reproducibility = "invariant": rows of one evaluation forward pass (with batch.shard rows, the
 * larger is used), fixed so that evaluation batches do not depend on the rank count either. */
#define INVARIANT_EVAL_ROWS 8

/* reproducibility = "invariant": every global batch is cut into fixed virtual shards of
 * batch.shard sequences; each shard is computed alone (the same way on any rank) and the shards
 * are summed exactly (comm_sum_exact_*), so the bits do not depend on the rank count. */
typedef struct ShardSums {
    int on;
    int64_t n_shards;   /* batch.global / batch.shard */
    int max_shards;     /* most shards any rank computes per step */
    float *grads;       /* [max_shards][grads->numel] */
    double *stats;      /* [max_shards][2]: loss weight, weighted loss */
    int64_t *exact_acc; /* int64 scratch of the exact sums */
} ShardSums;

typedef struct BatchSource BatchSource;

typedef struct Trainer {
    const Config *cfg;
    Comm *comm;
    GPT2 model;
    Lora lora;
    AdamW opt;
    int full;            /* every base tensor learns (pretrain) */
    int quiet;           /* no banner, progress or validation lines */
    TensorSet *params;   /* what learns: lora.params, or model.params.set when full */
    TensorSet *grads;    /* its gradients: the flat buffer that is all-reduced */
    uint8_t *active;     /* [params->count]: tensor learns this step (stages freeze some) */
    float lr_scale;      /* multiplies the schedule's learning rate (a stage's damping) */
    int64_t total_steps; /* the learning-rate schedule's length */

    BatchSource *source;          /* where the rows of a step come from */
    TokenData val;                /* validation tokens (val.raw == NULL when none) */
    char tokenizer[CFG_PATH_MAX]; /* model.tokenizer, else model.path's own; "" = none */

    int max_rows;     /* most samples any rank computes per step */
    int model_rows;   /* rows (sequences) one forward pass takes at most */
    int32_t *inputs;  /* [max(max_rows, model_rows) * T] */
    int32_t *targets; /* [max(max_rows, model_rows) * T] */
    float *weights;   /* [max(max_rows, model_rows) * T] */
    ShardSums shards; /* reproducibility = "invariant" */

    FILE *metrics;               /* rank 0: metrics.jsonl, or NULL */
    FaultPlan faults;            /* IMPRINT_FAULT (tests) */
    int64_t checkpoints_written; /* by this process: crash-write@N and flip@N count them */
} Trainer;

/* What one optimizer step measured, identical on every rank. */
typedef struct StepStats {
    double loss;      /* weighted mean over the global batch */
    double weight;    /* global sum of loss weights */
    double grad_norm; /* before clipping */
    float lr;
    int skipped;       /* the loss or a gradient was not finite and optim.nonfinite = "skip" */
    int64_t processed; /* tokens the step's forward passes read: batch.global * batch.seq_len */
    int64_t scored;    /* of those, the ones with a loss weight (the loss mask's tokens) */
} StepStats;

/* Builds the model, adapters, optimizer and batch source for this rank. With write_run_dir,
 * rank 0 also prepares run.dir (resolved config, metrics file). Returns -1 with e filled on
 * failure (the failure is local: callers agree on it with train_failure_agreed). */
int train_setup(Trainer *tr, const Config *cfg, Comm *comm, const TrainOptions *opt,
                int write_run_dir, Err *e);
void train_teardown(Trainer *tr);

/* One data-parallel optimizer step over global samples [step * G, step * G + G). */
int train_step(Trainer *tr, int64_t step, StepStats *out, Err *e);

/* Mean loss over run.eval_batches fixed global batches of the validation file (the same
 * windows every time, sharded like training batches). */
int train_validate(Trainer *tr, double *loss, Err *e);

/* A local failure agreed by all ranks: -1 everywhere when any failed; only the lowest failing
 * rank keeps its message. Collective. */
int train_failure_agreed(Comm *comm, int failed, Err *e);

/* ---- what a config builds, also for `imprint eval` ---------------------------------------- */

/* Rows (sequences) one forward pass takes on `ranks` ranks: this rank's share of the global
 * batch, or in invariant mode the larger of batch.shard and INVARIANT_EVAL_ROWS (fixed, so
 * evaluation batches do not depend on the rank count). */
int train_model_rows(const Config *cfg, int ranks);
/* The base model a config names (loaded, or a seeded random init), with activations for `rows`
 * sequences of batch.seq_len tokens. */
int train_build_model(GPT2 *m, const Config *cfg, int rows, Err *e);
/* The adapters a config describes on model m (fresh: A random, B zero). */
int train_build_lora(Lora *lora, const Config *cfg, const GPT2 *m, int rows, Err *e);
/* The tokenizer directory: model.tokenizer, else model.path's own; "" when there is none. */
void train_find_tokenizer(const Config *cfg, char *out, size_t n);

/* The tokenizer in dir, checked for chains: it fits the model's vocabulary and has an end
 * token. A message naming model.tokenizer when dir is "". */
int train_load_tokenizer(const Config *cfg, const char *dir, int vocab, Tokenizer **tok, Err *e);
/* The chain libraries of curriculum.library. */
int train_load_library(const Config *cfg, ChainLib **lib, Err *e);
/* The curriculum the config's curriculum group describes over lib (every pool and eval split;
 * the same seed gives the same splits). context: the model's, named in the message about a chain
 * too long for batch.seq_len (0: unknown). */
int train_build_curriculum(const Config *cfg, const ChainLib *lib, Tokenizer *tok, int context,
                           Curriculum **cur, Err *e);
/* The tokenizer as the curriculum sees it (a callback; EOT from the tokenizer). */
CurriculumTokenizer train_curriculum_tokenizer(Tokenizer *tok);

/* train_run's return when a stop signal ended the run after a checkpoint; the process then
 * exits with TRAIN_EXIT_REQUEUE so a batch script can requeue the job. */
#define TRAIN_STOPPED      2
#define TRAIN_EXIT_REQUEUE 3

/* Runs the whole job. Every rank calls it. Returns 0, TRAIN_STOPPED, or -1 with e filled on the
 * rank that failed first (the others' messages are cleared, so it is printed once). */
int train_run(const Config *cfg, Comm *comm, const TrainOptions *opt, Err *e);

#endif
