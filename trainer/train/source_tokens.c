/*
 * source_tokens.c — token files as a batch source (`imprint train` with data.path, and
 * `imprint pretrain`): global sample g is a window of the file (data.h); every run.eval_every
 * steps the validation file is scored, every run.checkpoint_every steps (and after the last)
 * a checkpoint goes to RUN_DIR/checkpoints/step-N. `--resume` continues from the newest one
 * (they are renamed into place whole, so every one there is complete).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "source.h"
#include "weights.h"

typedef struct TokenSource {
    BatchSource base;
    TokenData data;
    int64_t global; /* batch.global */
} TokenSource;

static void fill(BatchSource *bs, int64_t step, int64_t first, int64_t count, int T,
                 int32_t *inputs, int32_t *targets, float *weights) {
    const TokenSource *ts = (const TokenSource *)bs;
    data_fill(&ts->data, step * ts->global + first, (int)count, T, inputs, targets, weights);
}

/* The newest checkpoints/step-N: weights, AdamW moments and counters; 1 when it is the last. */
static int resume_newest(Trainer *tr, TrainState *st, Err *e) {
    const Config *cfg = tr->cfg;
    char dir[CFG_PATH_MAX + 64], path[CFG_PATH_MAX + 128];
    if (path_join(dir, sizeof dir, e, "%s/checkpoints", cfg->run.dir) != 0) return -1;
    DIR *d = opendir(dir);
    long long best = -1;
    if (d) {
        for (struct dirent *de; (de = readdir(d));) {
            long long n;
            char tail;
            if (sscanf(de->d_name, "step-%lld%c", &n, &tail) == 1 && n > best) best = n;
        }
        closedir(d);
    }
    if (best < 0)
        return err_set(e, "--resume %s: no checkpoint in %s to resume from", cfg->run.dir, dir);
    if (path_join(dir, sizeof dir, e, "%s/checkpoints/step-%06lld", cfg->run.dir, best) != 0)
        return -1;
    if (checkpoint_read_state(dir, st, e) != 0) return -1;
    if (st->seed == cfg->seed && st->step >= cfg->run.steps) return 1; /* nothing left */
    if (checkpoint_read_optim(dir, &tr->opt, e) != 0) return -1;
    if (tr->full) {
        if (weights_load(&tr->model, dir, e) != 0) return -1;
    } else {
        if (path_join(path, sizeof path, e, "%s/adapter.safetensors", dir) != 0 ||
            lora_load(&tr->lora, path, e) != 0)
            return -1;
    }
    if (st->seed != cfg->seed)
        return err_set(e, "%s: the checkpoint has seed %llu, the config %llu", dir,
                       (unsigned long long)st->seed, (unsigned long long)cfg->seed);
    if (tr->comm->rank == 0 && !tr->quiet) {
        printf("resume: %s (step %lld)\n", dir, (long long)st->step);
        fflush(stdout);
    }
    return 0;
}

static int resume(BatchSource *bs, Trainer *tr, const TrainOptions *opt, TrainState *st, Err *e) {
    (void)bs;
    (void)opt;
    int rc = resume_newest(tr, st, e);
    if (train_failure_agreed(tr->comm, rc < 0, e) != 0) return -1;
    return rc;
}

static int validate_and_log(Trainer *tr, int64_t step, Err *e) {
    double vloss;
    if (train_validate(tr, &vloss, e) != 0) return -1;
    if (tr->comm->rank == 0) {
        fprintf(tr->metrics, "{\"step\":%lld,\"val_loss\":%.6f,\"val_ppl\":%.4f}\n",
                (long long)step, vloss, exp(vloss));
        fflush(tr->metrics);
        if (!tr->quiet) {
            printf("val   %5lld | loss %.4f | perplexity %.2f\n", (long long)step, vloss,
                   exp(vloss));
            fflush(stdout);
        }
    }
    return 0;
}

/* The validation loss at the start. */
static int begin(BatchSource *bs, Trainer *tr, const TrainState *st, Err *e) {
    (void)bs;
    if (tr->val.raw && st->step == 0) return validate_and_log(tr, 0, e);
    return 0;
}

static int next(BatchSource *bs, Trainer *tr, const TrainState *st, Err *e) {
    (void)bs;
    (void)e;
    return st->step < tr->cfg->run.steps;
}

static int position(const BatchSource *bs, int *stage, const char **name, int64_t *stage_step) {
    (void)bs;
    *stage = -1;
    *name = NULL;
    *stage_step = 0;
    return 0;
}

/* Validation and checkpoints, periodic and after the last step; a stop may end the run after
 * any step but the last. */
static int after_step(BatchSource *bs, Trainer *tr, TrainState *st, int *may_stop,
                      int *checkpointed, Err *e) {
    (void)bs;
    const RunConfig *run = &tr->cfg->run;
    const int last = st->step == run->steps;
    const int periodic = run->checkpoint_every > 0 && st->step % run->checkpoint_every == 0;
    const int eval =
        tr->val.raw && (last || (run->eval_every > 0 && st->step % run->eval_every == 0));
    if (eval && validate_and_log(tr, st->step, e) != 0) return -1;
    if ((last || periodic) && train_checkpoint(tr, st, 1, e) != 0) return -1;
    *may_stop = !last;
    *checkpointed = last || periodic;
    return 0;
}

static int boundary(BatchSource *bs, Trainer *tr, TrainState *st, Err *e) {
    (void)bs;
    (void)tr;
    (void)st;
    (void)e;
    return 0;
}

static int write_checkpoint(BatchSource *bs, Trainer *tr, TrainState *st, int complete,
                            uint64_t hash, char *dir, size_t n_dir, Err *e) {
    (void)bs;
    (void)complete;
    if (path_join(dir, n_dir, e, "%s/checkpoints/step-%06lld", tr->cfg->run.dir,
                  (long long)st->step) != 0)
        return -1;
    CheckpointContent c = {.lora = tr->full ? NULL : &tr->lora,
                           .model = tr->full ? &tr->model : NULL,
                           .tokenizer = tr->full ? tr->tokenizer : NULL,
                           .opt = &tr->opt,
                           .state = *st,
                           .fault_crash = fault_planned(&tr->faults, FAULT_CRASH_WRITE,
                                                        tr->checkpoints_written + 1, 0)};
    if (checkpoint_write(dir, &c, e) != 0) return -1;
    printf("checkpoint %s (%s fnv64 %016llx, identical on %d rank%s)\n", dir,
           tr->full ? "model" : "adapter", (unsigned long long)hash, tr->comm->size,
           tr->comm->size == 1 ? "" : "s");
    return 0;
}

static void where(const BatchSource *bs, const TrainState *st, char *out, size_t n) {
    (void)bs;
    (void)st;
    if (n) out[0] = '\0';
}

static int evals_left(const BatchSource *bs, const Trainer *tr, const TrainState *st) {
    (void)bs;
    const RunConfig *run = &tr->cfg->run;
    if (!tr->val.raw) return 0;
    const int64_t left = run->steps - st->step;
    return (int)((run->eval_every > 0 ? left / run->eval_every : 0) + (left > 0));
}

static void summary(const BatchSource *bs, const Trainer *tr, const TrainState *st) {
    (void)bs;
    printf("final   loss %.4f after %lld steps; last checkpoint %s/checkpoints/step-%06lld "
           "(%s, optim.safetensors, state.json)\n",
           st->loss, (long long)st->step, tr->cfg->run.dir, (long long)st->step,
           tr->full ? "model.safetensors + config.json + tokenizer" : "adapter.safetensors");
}

static void banner(const BatchSource *bs, const Trainer *tr) {
    const TokenSource *ts = (const TokenSource *)bs;
    const Config *cfg = tr->cfg;
    printf("data    %s: %lld tokens; batch %d x %d tokens, %d samples on this rank at most\n",
           cfg->data.path, (long long)ts->data.n_tokens, cfg->batch.global, cfg->batch.seq_len,
           tr->max_rows);
}

static void source_free(BatchSource *bs) {
    TokenSource *ts = (TokenSource *)bs;
    data_close(&ts->data);
    xfree(ts);
}

static const SourceOps TOKEN_OPS = {.fill = fill,
                                    .resume = resume,
                                    .begin = begin,
                                    .next = next,
                                    .position = position,
                                    .after_step = after_step,
                                    .boundary = boundary,
                                    .write_checkpoint = write_checkpoint,
                                    .where = where,
                                    .evals_left = evals_left,
                                    .summary = summary,
                                    .banner = banner,
                                    .free = source_free};

int source_tokens_open(BatchSource **out, Trainer *tr, Err *e) {
    const Config *cfg = tr->cfg;
    TokenSource *ts = xmalloc(sizeof *ts, "token source");
    ts->base.ops = &TOKEN_OPS;
    *out = &ts->base; /* freed by train_teardown, also after a failure here */
    if (data_open(&ts->data, cfg->data.path, cfg->data.format, cfg->data.sampling, cfg->seed, e) !=
        0)
        return -1;
    ts->global = cfg->batch.global;
    return data_check(&ts->data, cfg->batch.seq_len, tr->model.cfg.vocab, e);
}
