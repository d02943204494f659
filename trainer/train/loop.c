/*
 * loop.c — the one training loop, for every batch source (source.h):
 *
 *   resume (--resume) ─► begin (base-model recall, first validation)
 *   while the source has a step:
 *       train_step ─► account ─► log ─► source.after_step (validation, periodic checkpoint)
 *       ─► stop signal? all ranks agree ─► checkpoint mid-way, exit TRAIN_STOPPED
 *       ─► source.boundary (until rules, end-of-stage recall and stage checkpoint)
 *
 * Checkpoints go through train_checkpoint: every rank checks that all hold the same weights,
 * rank 0 writes through the source, and all ranks agree on the outcome.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "source.h"
#include "train.h"

/* ---- stop signals ---------------------------------------------------------------------------- */

/* A signal handler can only set a flag; the flag is process-wide state by nature, so it is the
 * one global here. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* SIGUSR1 (Slurm's warning before the time limit, with --signal), SIGTERM (preemption,
 * scancel; mpirun turns Ctrl-C into it for the ranks) and SIGINT (Ctrl-C) ask the run to stop.
 * A second Ctrl-C ends the process at once: SIGINT is back to its default after the first. A
 * SIGINT the parent ignores (a shell's background job) stays ignored, as it would have been. */
static void install_stop_handlers(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESETHAND;
    if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
}

/* All-reduces the stop request, so all ranks stop after the same step. Collective. */
static int stop_agreed(Trainer *tr) {
    uint64_t stop = stop_requested;
    comm_allreduce_max_u64(tr->comm, &stop, 1);
    return stop != 0;
}

/* ---- agreement around checkpoints --------------------------------------------------------------
 */

int train_failure_agreed(Comm *comm, int failed, Err *e) {
    int bad = comm_first_failure(comm, failed);
    if (bad < 0) return 0;
    if (comm->rank != bad) e->msg[0] = '\0';
    return -1;
}

/* Every rank must hold the same weights: a cheap end-to-end check of the data-parallel path (a
 * diverged rank would silently train a different model). *hash gets this rank's FNV-1a hash. */
static int ranks_hold_same_weights(Trainer *tr, int64_t step, uint64_t *hash, Err *e) {
    *hash = hash_fnv1a64(tr->params->memory, sizeof(float) * tr->params->numel, 0);
    if (!comm_all_equal_u64(tr->comm, *hash))
        return err_set(e,
                       "step %lld: ranks hold different %ss (rank %d: %016llx); this is a "
                       "bug, please report it with the config",
                       (long long)step, tr->full ? "model" : "adapter", tr->comm->rank,
                       (unsigned long long)*hash);
    return 0;
}

/* Seconds the other ranks wait for rank 0 to write a checkpoint (a slow file system). */
#define CHECKPOINT_WAIT_S 600.0

/* After rank 0 wrote a checkpoint (failed: its outcome), the others wait for it with the
 * watchdog widened to CHECKPOINT_WAIT_S. -1 on every rank when rank 0 failed. Collective. */
static int checkpoint_outcome_agreed(Trainer *tr, int failed) {
    double wd = comm_watchdog(tr->comm, 0.0);
    comm_watchdog(tr->comm, wd > 0 && wd < CHECKPOINT_WAIT_S ? CHECKPOINT_WAIT_S : wd);
    int bad = comm_first_failure(tr->comm, failed);
    comm_watchdog(tr->comm, wd);
    return bad >= 0 ? -1 : 0;
}

/* The flip@N fault: after checkpoint number tr->checkpoints_written is committed in dir, one
 * byte of its weights file is flipped (tests of checksums and --fallback). */
static int fault_flip_after_checkpoint(Trainer *tr, const char *dir, Err *e) {
    tr->checkpoints_written++;
    if (!fault_planned(&tr->faults, FAULT_FLIP, tr->checkpoints_written, 0)) return 0;
    char path[CFG_PATH_MAX + 256];
    if (path_join(path, sizeof path, e, "%s/%s", dir,
                  tr->full ? "model.safetensors" : "adapter.safetensors") != 0)
        return -1;
    return fault_flip_byte(path, e);
}

int train_checkpoint(Trainer *tr, TrainState *st, int complete, Err *e) {
    uint64_t h;
    if (ranks_hold_same_weights(tr, st->step, &h, e) != 0) return -1;
    int failed = 0;
    if (tr->comm->rank == 0) {
        char dir[CFG_PATH_MAX + 256];
        failed = tr->source->ops->write_checkpoint(tr->source, tr, st, complete, h, dir, sizeof dir,
                                                   e) != 0;
        if (!failed) failed = fault_flip_after_checkpoint(tr, dir, e) != 0;
    }
    return checkpoint_outcome_agreed(tr, failed);
}

/* ---- progress -------------------------------------------------------------------------------- */

typedef struct Progress {
    int64_t first_step;  /* the run's first step in this process (after a resume: not 0) */
    int64_t total;       /* steps of the whole run (the learning-rate schedule's length) */
    double step_seconds; /* time in train_step so far, this process */
    double eval_seconds; /* one full evaluation (the base model's, or a validation), measured */
} Progress;

/* One metrics.jsonl line per step, and a progress line every run.log_every steps (rank 0).
 * tokens: processed so far (batch.global * batch.seq_len a step: every position the forward
 * passes read); scored: this step's tokens with a loss weight (what the loss mask keeps). The
 * ETA adds the evaluations still to come, at the measured cost of one. */
static void log_step(Trainer *tr, const Progress *p, const TrainState *st, const StepStats *s,
                     double ms) {
    if (tr->comm->rank != 0) return;
    int stage = -1;
    int64_t stage_step = 0;
    const char *name = NULL;
    int staged = tr->source->ops->position(tr->source, &stage, &name, &stage_step);
    const double tok_s = (double)s->processed / (ms / 1000.0);
    const double scored_s = (double)s->scored / (ms / 1000.0);
    const long long processed = (long long)st->step * (long long)s->processed;
    char where[160] = "";
    if (staged)
        snprintf(where, sizeof where, ",\"stage\":%d,\"stage_name\":\"%s\",\"stage_step\":%lld",
                 stage, name, (long long)stage_step);
    fprintf(tr->metrics,
            "{\"step\":%lld%s,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6g,\"tokens\":%lld,"
            "\"scored\":%lld,\"loss_weight\":%.6g,\"ms\":%.2f,\"tok_per_s\":%.1f,"
            "\"scored_per_s\":%.1f%s}\n",
            (long long)st->step, where, s->skipped ? 0.0 : s->loss, s->lr,
            s->skipped ? 0.0 : s->grad_norm, processed, (long long)s->scored, s->weight, ms, tok_s,
            scored_s, s->skipped ? ",\"skipped\":true" : "");
    fflush(tr->metrics);
    char label[80] = "";
    if (staged) snprintf(label, sizeof label, "%-10s | ", name);
    if (s->skipped)
        printf("step %5lld/%lld | %sthe loss or a gradient is not finite: step skipped, no "
               "update (optim.nonfinite = \"skip\"; %lld skipped so far)\n",
               (long long)st->step, (long long)p->total, label, (long long)st->skipped_steps);
    if (!tr->quiet && (st->step % tr->cfg->run.log_every == 0 || st->step == p->total)) {
        const int64_t done = st->step - p->first_step, left = p->total - st->step;
        const int evals = tr->source->ops->evals_left(tr->source, tr, st);
        double eta = p->step_seconds / (double)(done > 0 ? done : 1) * (double)left +
                     p->eval_seconds * evals;
        printf("step %5lld/%lld | %sloss %.4f | lr %.3e | norm %.4f | %7.0f tok/s (%6.0f scored) "
               "| %7.1f ms/step | eta %.0fs\n",
               (long long)st->step, (long long)p->total, label, s->loss, s->lr, s->grad_norm, tok_s,
               scored_s, ms, eta > 0 ? eta : 0);
    }
    fflush(stdout);
}

/* ---- the loop -------------------------------------------------------------------------------- */

/* Runs the loop; *ran is 1 when it trained to the end in this process (not a stop, not a run
 * that was already complete), with *out its final state. */
static int train_loop(Trainer *tr, const TrainOptions *opt, TrainState *out, int *ran, Err *e) {
    BatchSource *src = tr->source;
    TrainState st = {.seed = tr->cfg->seed, .stage = -1};
    *ran = 0;
    install_stop_handlers();
    if (opt->resume) {
        int done = src->ops->resume(src, tr, opt, &st, e);
        if (done < 0) return -1;
        /* every rank read the same checkpoint; a disagreement would be a bug */
        if (!comm_all_equal_u64(tr->comm, (uint64_t)done))
            return err_set(e, "--resume: ranks disagree whether the run is complete; this is a "
                              "bug, please report it");
        if (done) { /* a finished run: nothing is written, not even metrics */
            if (tr->comm->rank == 0) {
                char stage[160] = "";
                if (st.stage >= 0)
                    snprintf(stage, sizeof stage, "stage %d '%s', ", st.stage, st.stage_name);
                printf("%s: the run is already complete (%sstep %lld); nothing to do\n",
                       tr->cfg->run.dir, stage, (long long)st.step);
                fflush(stdout);
            }
            return 0;
        }
    }
    const double t_run = now_seconds();
    if (src->ops->begin(src, tr, &st, e) != 0) return -1;
    Progress p = {st.step, tr->total_steps, 0.0, now_seconds() - t_run};
    for (;;) {
        int more = src->ops->next(src, tr, &st, e);
        if (more < 0) return -1;
        if (!more) break;
        StepStats s;
        double t0 = now_seconds();
        if (train_step(tr, st.step, &s, e) != 0) return -1;
        const double step_s = now_seconds() - t0;
        p.step_seconds += step_s;
        st.step++;
        st.tokens_seen += (int64_t)s.weight;
        st.loss = s.loss;
        st.lr = s.lr;
        st.skipped_steps += s.skipped;
        log_step(tr, &p, &st, &s, 1000.0 * step_s);
        int may_stop = 0, checkpointed = 0;
        if (src->ops->after_step(src, tr, &st, &may_stop, &checkpointed, e) != 0) return -1;
        if (fault_planned(&tr->faults, FAULT_SIGNAL, st.step, tr->comm->rank)) raise(SIGUSR1);
        if (may_stop && stop_agreed(tr)) {
            if (!checkpointed && train_checkpoint(tr, &st, 0, e) != 0) return -1;
            if (tr->comm->rank == 0) {
                char where[200] = "";
                src->ops->where(src, &st, where, sizeof where);
                printf("stop requested: checkpoint after step %lld%s; resume with --resume %s\n",
                       (long long)st.step, where, tr->cfg->run.dir);
                fflush(stdout);
            }
            return TRAIN_STOPPED;
        }
        if (src->ops->boundary(src, tr, &st, e) != 0) return -1;
    }
    *out = st;
    *ran = 1;
    return 0;
}

static void print_summary(const Trainer *tr, const TrainState *st, double seconds) {
    const int ranks = tr->comm->size;
    printf("\ndone    %lld steps in %.0fm %02.0fs on %d rank%s\n", (long long)st->step,
           floor(seconds / 60), fmod(seconds, 60), ranks, ranks == 1 ? "" : "s");
    tr->source->ops->summary(tr->source, tr, st);
    fflush(stdout);
}

int train_run(const Config *cfg, Comm *comm, const TrainOptions *opt, Err *e) {
    Trainer tr;
    const double t_start = now_seconds();
    train_set_threads(cfg, comm);
    int rc = 0;
    if (train_failure_agreed(comm, train_setup(&tr, cfg, comm, opt, 1, e) != 0, e) != 0) {
        rc = -1;
    } else {
        if (comm->rank == 0 && !opt->quiet) train_print_banner(&tr);
        comm_watchdog(comm, cfg->run.watchdog); /* from here on, a hung rank ends the job */
        TrainState st;
        int ran = 0;
        rc = train_loop(&tr, opt, &st, &ran, e);
        if (rc == 0 && ran && comm->rank == 0 && !opt->quiet)
            print_summary(&tr, &st, now_seconds() - t_start);
    }
    train_teardown(&tr);
    return rc;
}
