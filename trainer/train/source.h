/*
 * source.h — a batch source: where the rows of a training step come from, and the hooks a
 * source adds to the one training loop (loop.c).
 *
 *   tokens      (source_tokens.c) windows of a token file; periodic validation and
 *               checkpoints/step-N; the run ends after run.steps.
 *   curriculum  (source_curriculum.c) the chain library's curriculum: stage by stage the
 *               field knobs change; every stage ends with the recall test against the base
 *               model and a stage checkpoint named in the run's manifest.
 *
 * Every hook marked collective is called by every rank at the same point.
 */
#ifndef IMPRINT_SOURCE_H
#define IMPRINT_SOURCE_H

#include "train.h"

typedef struct SourceOps {
    /* Rows [0, count) of the batch buffers get global samples [first, first + count) of step
     * `step`: inputs/targets/weights [count * T]. Allocates nothing. */
    void (*fill)(BatchSource *s, int64_t step, int64_t first, int64_t count, int T, int32_t *inputs,
                 int32_t *targets, float *weights);
    /* --resume: restores weights, optimizer and st from the newest checkpoint. 1 when that
     * checkpoint already ends the run (the last stage complete, or run.steps done): nothing is
     * printed then, and the loop ends without a step. Collective. */
    int (*resume)(BatchSource *s, Trainer *tr, const TrainOptions *opt, TrainState *st, Err *e);
    /* Before the first step (or the first after a resume). Collective. */
    int (*begin)(BatchSource *s, Trainer *tr, const TrainState *st, Err *e);
    /* 1 when the run has another step; makes the source ready for it (a stage may begin). */
    int (*next)(BatchSource *s, Trainer *tr, const TrainState *st, Err *e);
    /* Where the step about to run (or just run) stands in its stage, for progress lines and
     * metrics: 1 with the stage index, its name and the step within it; 0 for no stages. */
    int (*position)(const BatchSource *s, int *stage, const char **name, int64_t *stage_step);
    /* After a step, before the stop check: 1 in *may_stop when a stop signal may end the run
     * here, 1 in *checkpointed when this hook wrote a checkpoint of this step. Collective. */
    int (*after_step)(BatchSource *s, Trainer *tr, TrainState *st, int *may_stop, int *checkpointed,
                      Err *e);
    /* After the stop check: stage boundaries. Collective. */
    int (*boundary)(BatchSource *s, Trainer *tr, TrainState *st, Err *e);
    /* A checkpoint of st (rank 0 only; the loop checks the ranks agree before and agrees on the
     * outcome after). complete = 0 for a stop mid-way. Fills dir with where it wrote. */
    int (*write_checkpoint)(BatchSource *s, Trainer *tr, TrainState *st, int complete,
                            uint64_t hash, char *dir, size_t n_dir, Err *e);
    /* " (stage 'drift', step 5 of 400)" after "stop requested: checkpoint after step N". */
    void (*where)(const BatchSource *s, const TrainState *st, char *out, size_t n);
    /* Full evaluations still to come (stage ends, validations), for the ETA. */
    int (*evals_left)(const BatchSource *s, const Trainer *tr, const TrainState *st);
    /* The end-of-run summary lines that are the source's (rank 0, after a finished run). */
    void (*summary)(const BatchSource *s, const Trainer *tr, const TrainState *st);
    /* The banner lines that describe the source (rank 0, before the run). */
    void (*banner)(const BatchSource *s, const Trainer *tr);
    void (*free)(BatchSource *s);
} SourceOps;

struct BatchSource {
    const SourceOps *ops;
};

/* The sources. Each is built in train_setup after the model and before the run dir. */
int source_tokens_open(BatchSource **out, Trainer *tr, Err *e);
int source_curriculum_open(BatchSource **out, Trainer *tr, Err *e);

/* The loop's services to sources (loop.c). */
/* A checkpoint of st through the source, with the agreement of all ranks. Collective. */
int train_checkpoint(Trainer *tr, TrainState *st, int complete, Err *e);
void train_print_banner(const Trainer *tr);
/* OpenMP threads per rank: run.threads, else OMP_NUM_THREADS, else the cores over local ranks. */
void train_set_threads(const Config *cfg, const Comm *comm);

#endif
