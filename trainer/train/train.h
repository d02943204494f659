/*
 * train.h — `imprint train` (LoRA adapters, frozen base) and `imprint pretrain` (every base
 * tensor) on token files, data-parallel over ranks. Both share one model, one step and one
 * data-parallel path; they differ only in which tensors learn.
 */
#ifndef IMPRINT_TRAIN_H
#define IMPRINT_TRAIN_H

#include <stdio.h>

#include "comm.h"
#include "config.h"
#include "curriculum.h"
#include "data.h"
#include "eval.h"
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
    const char *resume; /* continue the run in this directory from its last stage checkpoint */
    int fallback;       /* with resume: a corrupted newest checkpoint falls back to an older one */
} TrainOptions;

/* reproducibility = "invariant": rows of one evaluation forward pass (with batch.shard rows, the
 * larger is used), fixed so that evaluation batches do not depend on the rank count either. */
#define INVARIANT_EVAL_ROWS 8

typedef struct Trainer {
    const Config *cfg;
    Comm *comm;
    GPT2 model;
    Lora lora;
    AdamW opt;
    int full;          /* every base tensor learns (pretrain) */
    int quiet;         /* no banner, progress or validation lines */
    TensorSet *params; /* what learns: lora.params, or model.params.set when full */
    TensorSet *grads;  /* its gradients: the flat buffer that is all-reduced */
    TokenData data;
    TokenData val;                /* validation tokens (val.raw == NULL when none) */
    int64_t total_steps;          /* the learning-rate schedule's length */
    char tokenizer[CFG_PATH_MAX]; /* copied into full checkpoints; "" = none */
    int max_rows;                 /* most samples any rank computes per step */
    int model_rows;               /* rows (sequences) one forward pass takes at most */
    int32_t *inputs;              /* [max_rows * T] */
    int32_t *targets;             /* [max_rows * T] */
    float *weights;               /* [max_rows * T] */
    uint8_t *active;              /* [lora.params.count]: tensor learns this step */
    FILE *metrics;                /* rank 0: metrics.jsonl, or NULL */

    /* reproducibility = "invariant": every global batch is cut into fixed virtual shards of
     * batch.shard sequences; each shard is computed alone (the same way on any rank) and the
     * shards are summed exactly (comm_sum_exact_*), so the bits do not depend on the rank count */
    int invariant;
    int64_t n_shards;    /* batch.global / batch.shard */
    int max_shards;      /* most shards any rank computes per step */
    float *shard_grads;  /* [max_shards][grads->numel] */
    double *shard_stats; /* [max_shards][2]: loss weight, weighted loss */
    int64_t *exact_acc;  /* int64 scratch of the exact sums */
    double *eval_parts;  /* [most eval chunks of a rank][EVAL_SUMS_N] (curriculum runs) */
    size_t exact_n;      /* its length */

    FaultPlan faults;            /* IMPRINT_FAULT (tests) */
    int64_t checkpoints_written; /* by this process: crash-write@N and flip@N count them */

    /* curriculum mode (cfg->curriculum.enabled): batches come from the chain library */
    Tokenizer *tok;
    ChainLib *lib;
    Curriculum *cur;
    int32_t eot;
    int stage; /* the stage batches are drawn from */
    int64_t step_in_stage;
    float lr_scale;                 /* the stage's learning-rate scale */
    EvalSums base_eval[EVAL_COUNT]; /* the base model's scores (computed once) */
} Trainer;

/* What one optimizer step measured, identical on every rank. */
typedef struct StepStats {
    double loss;      /* weighted mean over the global batch */
    double weight;    /* global sum of loss weights */
    double grad_norm; /* before clipping */
    float lr;
    int skipped; /* the loss or a gradient was not finite and optim.nonfinite = "skip" */
} StepStats;

/* Builds the model, adapters, optimizer and data for this rank. With write_run_dir, rank 0
 * also prepares run.dir (resolved config, metrics file). Returns -1 with e filled on failure
 * (the failure is local: callers agree on it with comm_first_failure). */
int train_setup(Trainer *tr, const Config *cfg, Comm *comm, const TrainOptions *opt,
                int write_run_dir, Err *e);

/* One data-parallel optimizer step over global samples [step * G, step * G + G). */
int train_step(Trainer *tr, int64_t step, StepStats *out, Err *e);

/* Mean loss over run.eval_batches fixed global batches of the validation file (the same
 * windows every time, sharded like training batches). */
int train_validate(Trainer *tr, double *loss, Err *e);

void train_teardown(Trainer *tr);

/* Checks that every rank holds bit-identical weights of what learns (before a checkpoint);
 * *hash gets this rank's FNV-1a hash of them. */
int train_ranks_agree(Trainer *tr, int64_t step, uint64_t *hash, Err *e);

/* ---- curriculum runs (stages.c) ------------------------------------------------------------ */

/* Loads the tokenizer and chain libraries and builds the curriculum (every pool and eval set). */
int stages_setup(Trainer *tr, Err *e);
void stages_teardown(Trainer *tr);

/* Makes stage s current: its adapters learn, the others are frozen; its lr scale applies. */
void stages_enter(Trainer *tr, int s);

/* Scores every eval split (split = -1) or one, with the adapter (use_adapter) or the base
 * model; items are sliced over ranks and the sums all-reduced. */
int stages_eval(Trainer *tr, int use_adapter, int split, EvalSums out[EVAL_COUNT], Err *e);

/* stages_run's return when a stop signal ended the run after a checkpoint; the process then
 * exits with TRAIN_EXIT_REQUEUE so a batch script can requeue the job. */
#define TRAIN_STOPPED      2
#define TRAIN_EXIT_REQUEUE 3

/* The whole curriculum: stage by stage, evaluation and checkpoint at every stage end. */
int stages_run(Trainer *tr, const TrainOptions *opt, Err *e);

/* Stop signals: SIGUSR1 (Slurm's warning before the time limit, with --signal) and SIGTERM
 * (preemption, scancel) ask the run to stop. train_stop_agreed, called by every rank after every
 * step, all-reduces the request, so all ranks stop after the same step; the run then writes a
 * checkpoint and returns TRAIN_STOPPED. */
void train_install_stop_handlers(void);
int train_stop_agreed(Trainer *tr);

/* After checkpoint number tr->checkpoints_written is committed in `dir`: the flip@N fault. */
int train_after_checkpoint(Trainer *tr, const char *dir, Err *e);

/* Collective, after rank 0 wrote a checkpoint (failed: its outcome): the others wait for it with
 * the watchdog widened to CHECKPOINT_WAIT_S for a slow file system. -1 when rank 0 failed. */
#define CHECKPOINT_WAIT_S 600.0
int train_checkpoint_agreed(Trainer *tr, int failed);

/* Collective agreement on a local failure: -1 on every rank when any failed, and only the
 * lowest failing rank keeps its message (printed once). */
int train_failure_agreed(Comm *comm, int failed, Err *e);

/* Runs the whole job. Every rank calls it. Returns 0, or -1 with e filled on the rank(s) that
 * failed; setup errors are agreed collectively so every rank returns -1 together. */
int train_run(const Config *cfg, Comm *comm, const TrainOptions *opt, Err *e);

#endif
