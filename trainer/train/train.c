/*
 * train.c — the training loop of `imprint train` (LoRA) and `imprint pretrain` (full).
 *
 * One step, on every rank:
 *   1. cut the global batch: rank r computes samples [first, first + count) of it
 *   2. agree on the global sum of loss weights W (one tiny all-reduce)
 *   3. forward, loss, backward with dloss = 1/W: local gradients are already normalised
 *   4. all-reduce the flat gradient buffer of what learns (the LoRA tensors, or every base
 *      tensor when pretraining); comm/ is the only place it crosses ranks
 *   5. global norm (after the all-reduce, so every rank sees the same), clip, AdamW
 * Every rank ends the step holding bit-identical adapters; checkpoints verify that.
 */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "data.h"
#include "model.h"
#include "optim.h"
#include "weights.h"

/* ---- setup --------------------------------------------------------------------------------- */

static void set_threads(const Config *cfg, const Comm *comm) {
    /* OpenMP threads do the parallel work. sgemm() (kernels.h) spreads fixed blocks over them,
     * and OpenBLAS's OpenMP build runs each call inside the parallel region on one thread. (Its
     * openblas_set_num_threads() would also set the OpenMP thread count, so it is not called.) */
    int n = cfg->run.threads;
    if (n <= 0 && getenv("OMP_NUM_THREADS")) return; /* the user decided */
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = (int)(cores / (comm->local_size > 0 ? comm->local_size : 1));
        if (n < 1) n = 1;
    }
    omp_set_num_threads(n);
}

static int build_model(Trainer *tr, Err *e) {
    const Config *cfg = tr->cfg;
    char where[CFG_PATH_MAX + 64];
    GPT2Config mc;
    const int T = cfg->batch.seq_len;
    if (cfg->model.random) {
        mc = (GPT2Config){cfg->model.layers, cfg->model.heads,   cfg->model.width,
                          cfg->model.vocab,  cfg->model.context, 1e-5f};
        if (gpt2_config_check(&mc, e) != 0)
            return err_prefix(e, "%s", config_where(cfg, "model.random", where, sizeof where));
    } else {
        WeightsFormat fmt;
        if (weights_probe(cfg->model.path, &mc, &fmt, e) != 0) return -1;
    }
    if (T > mc.n_ctx)
        return err_set(e, "%s: batch.seq_len = %d exceeds the model's context of %d positions",
                       config_where(cfg, "batch.seq_len", where, sizeof where), T, mc.n_ctx);
    gpt2_build(&tr->model, &mc, tr->model_rows, T);
    if (cfg->model.random)
        gpt2_init_random(&tr->model, (float)cfg->model.init_std, cfg->seed);
    else if (weights_load(&tr->model, cfg->model.path, e) != 0)
        return -1;
    return 0;
}

static int build_lora(Trainer *tr, Err *e) {
    const Config *cfg = tr->cfg;
    const LoraConfig *lc = &cfg->lora;
    if (tr->full) {
        /* pretraining: the base learns; its gradient set is the all-reduced buffer */
        gpt2_alloc_grads(&tr->model);
        tr->params = &tr->model.params.set;
        tr->grads = &tr->model.grads.set;
        goto optimizer;
    }
    char where[CFG_PATH_MAX + 64];
    const int L = tr->model.cfg.n_layer;
    LoraSpec spec = {.rank = lc->rank,
                     .alpha = (float)lc->alpha,
                     .rslora = lc->rslora,
                     .dropout = (float)lc->dropout,
                     .targets = lc->targets,
                     .layer_first = lc->layer_first,
                     .layer_last = lc->layer_last < 0 ? L - 1 : lc->layer_last};
    if (lora_spec_check(&spec, L, e) != 0)
        return err_prefix(e, "%s", config_where(cfg, "lora.layers", where, sizeof where));
    lora_build(&tr->lora, &spec, L, tr->model.cfg.n_embd, tr->model_rows * cfg->batch.seq_len,
               cfg->seed);
    tr->params = &tr->lora.params;
    tr->grads = &tr->lora.grads;
optimizer:
    tr->active = xmalloc((size_t)tr->params->count, "active flags");
    memset(tr->active, 1, (size_t)tr->params->count);
    adamw_build(&tr->opt, tr->params, (float)cfg->optim.beta1, (float)cfg->optim.beta2,
                (float)cfg->optim.eps, (float)cfg->optim.weight_decay);
    if (tr->full) adamw_decay_matrices_only(&tr->opt, tr->params);
    return 0;
}

/* The tokenizer that travels with full checkpoints: model.tokenizer, else model.path's own. */
static void find_tokenizer(Trainer *tr) {
    const Config *cfg = tr->cfg;
    char probe[CFG_PATH_MAX + 32];
    if (cfg->model.tokenizer[0]) {
        snprintf(tr->tokenizer, sizeof tr->tokenizer, "%s", cfg->model.tokenizer);
        return;
    }
    snprintf(probe, sizeof probe, "%s/vocab.json", cfg->model.path);
    struct stat sb;
    if (cfg->model.path[0] && stat(probe, &sb) == 0)
        snprintf(tr->tokenizer, sizeof tr->tokenizer, "%s", cfg->model.path);
}

/* The resolved config without comment lines (the source path differs between runs). */
static char *config_body(const Config *cfg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) fatal("out of memory printing the config");
    config_print(cfg, fp);
    fclose(fp);
    char *w = buf;
    for (char *line = buf; *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line + 1) : strlen(line);
        if (strncmp(line, "//", 2) != 0) {
            memmove(w, line, n);
            w += n;
        }
        line += n;
    }
    *w = '\0';
    return buf;
}

static int prepare_run_dir(const Trainer *tr, const TrainOptions *opt, Err *e) {
    const Config *cfg = tr->cfg;
    char path[CFG_PATH_MAX + 64];
    struct stat sb;
    if (opt->resume) {
        /* the run goes on only with the configuration it started with */
        snprintf(path, sizeof path, "%s/config.cfg", cfg->run.dir);
        Config saved;
        char here[CFG_PATH_MAX + 16]; /* a moved or copied run directory still resumes */
        snprintf(here, sizeof here, "run.dir=\"%s\"", cfg->run.dir);
        const char *ov[] = {here};
        if (config_load(&saved, path, ov, 1, e) != 0) return -1;
        char *a = config_body(cfg), *b = config_body(&saved);
        int same = strcmp(a, b) == 0;
        free(a);
        free(b);
        config_free(&saved);
        if (!same)
            return err_set(e,
                           "%s: the run was started with a different configuration; resume with "
                           "the same config (imprint config shows the resolved one), or start a "
                           "new run",
                           path);
    } else {
        const char *parts[] = {"checkpoints", "stages", "manifest.json"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", cfg->run.dir, parts[i]);
            if (stat(path, &sb) != 0) continue;
            if (!opt->overwrite)
                return err_set(e,
                               "%s: already holds checkpoints of an earlier run; choose another "
                               "run.dir (--set run.dir=...), pass --resume %s to continue it, or "
                               "--overwrite to replace it",
                               cfg->run.dir, cfg->run.dir);
            if (remove_tree(path, e) != 0) return -1;
        }
    }
    snprintf(path, sizeof path, "%s/%s", cfg->run.dir,
             cfg->curriculum.enabled ? "stages" : "checkpoints");
    if (mkdir_p(path, e) != 0) return -1;
    snprintf(path, sizeof path, "%s/config.cfg", cfg->run.dir);
    if (!opt->resume && config_save(cfg, path, e) != 0) return -1;
    snprintf(path, sizeof path, "%s/metrics.jsonl", cfg->run.dir);
    FILE *fp = fopen(path, opt->resume ? "a" : "w");
    if (!fp) return err_set(e, "%s: cannot create: %s", path, strerror(errno));
    ((Trainer *)tr)->metrics = fp;
    return 0;
}

int train_setup(Trainer *tr, const Config *cfg, Comm *comm, const TrainOptions *opt,
                int write_run_dir, Err *e) {
    memset(tr, 0, sizeof *tr);
    tr->cfg = cfg;
    tr->comm = comm;
    tr->full = opt->full;
    tr->quiet = opt->quiet;
    find_tokenizer(tr);
    if (fault_plan_from_env(&tr->faults, e) != 0) return -1;
    const int64_t global = cfg->batch.global;
    const int size = tr->comm->size;
    tr->invariant = cfg->reproducibility == REPRO_INVARIANT;
    if (tr->invariant) {
        /* whole shards per rank; a forward pass is one shard, or one eval chunk of
         * INVARIANT_EVAL_ROWS rows: fixed sizes, whatever the rank count */
        tr->n_shards = global / cfg->batch.shard;
        tr->max_shards = (int)((tr->n_shards + size - 1) / size);
        tr->max_rows = tr->max_shards * cfg->batch.shard;
        tr->model_rows =
            cfg->batch.shard > INVARIANT_EVAL_ROWS ? cfg->batch.shard : INVARIANT_EVAL_ROWS;
    } else {
        tr->max_rows = (int)((global + size - 1) / size);
        tr->model_rows = tr->max_rows;
    }
    if (build_model(tr, e) != 0) return -1;
    if (build_lora(tr, e) != 0) return -1;
    if (tr->invariant) {
        const size_t numel = tr->grads->numel;
        tr->shard_grads =
            xmalloc(sizeof(float) * numel * (size_t)tr->max_shards, "shard gradients");
        tr->shard_stats = xmalloc(sizeof(double) * 2 * (size_t)tr->max_shards, "shard sums");
        tr->exact_n = numel > EVAL_SUMS_N ? numel : EVAL_SUMS_N;
        tr->exact_acc = xmalloc(sizeof(int64_t) * tr->exact_n, "fixed-point sums");
    }
    tr->total_steps = cfg->run.steps;
    tr->lr_scale = 1.0f;
    if (cfg->curriculum.enabled) {
        if (tr->full)
            return err_set(e, "%s: pretrain does not use a curriculum; remove the curriculum group",
                           cfg->source);
        if (stages_setup(tr, e) != 0) return -1;
        tr->total_steps = 0;
        for (int s = 0; s < cfg->curriculum.n_stages; s++)
            tr->total_steps += cfg->curriculum.stages[s].steps;
    } else {
        if (data_open(&tr->data, cfg->data.path, cfg->data.format, cfg->data.sampling, cfg->seed,
                      e) != 0)
            return -1;
        if (data_check(&tr->data, cfg->batch.seq_len, tr->model.cfg.vocab, e) != 0) return -1;
    }
    if (cfg->data.val_path[0]) {
        if (data_open(&tr->val, cfg->data.val_path, cfg->data.format, SAMPLE_SEQUENTIAL, cfg->seed,
                      e) != 0 ||
            data_check(&tr->val, cfg->batch.seq_len, tr->model.cfg.vocab, e) != 0)
            return -1;
    }
    const int rows = tr->max_rows > tr->model_rows ? tr->max_rows : tr->model_rows;
    const size_t n = (size_t)rows * cfg->batch.seq_len;
    tr->inputs = xmalloc(sizeof(int32_t) * n, "batch inputs");
    tr->targets = xmalloc(sizeof(int32_t) * n, "batch targets");
    tr->weights = xmalloc(sizeof(float) * n, "batch weights");
    if (write_run_dir && tr->comm->rank == 0 && prepare_run_dir(tr, opt, e) != 0) return -1;
    return 0;
}

void train_teardown(Trainer *tr) {
    if (tr->metrics) fclose(tr->metrics);
    data_close(&tr->data);
    data_close(&tr->val);
    stages_teardown(tr);
    if (tr->opt.m.items) adamw_free(&tr->opt);
    if (tr->lora.ad) lora_free(&tr->lora);
    if (tr->model.params.set.items) gpt2_free(&tr->model);
    xfree(tr->inputs);
    xfree(tr->targets);
    xfree(tr->weights);
    xfree(tr->active);
    xfree(tr->shard_grads);
    xfree(tr->shard_stats);
    xfree(tr->exact_acc);
    xfree(tr->eval_parts);
}

/* ---- stop signals -----------------------------------------------------------------------------
 */

/* A signal handler can only set a flag; the flag is process-wide state by nature, so it is the
 * one global here. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

void train_install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int train_stop_agreed(Trainer *tr) {
    uint64_t stop = stop_requested;
    comm_allreduce_max_u64(tr->comm, &stop, 1);
    return stop != 0;
}

/* ---- checks and output ----------------------------------------------------------------------- */

int train_ranks_agree(Trainer *tr, int64_t step, uint64_t *hash, Err *e) {
    /* every rank must hold the same weights: a cheap end-to-end check of the data-parallel
     * path (a diverged rank would silently train a different model) */
    *hash = hash_fnv1a64(tr->params->memory, sizeof(float) * tr->params->numel, 0);
    if (!comm_all_equal_u64(tr->comm, *hash))
        return err_set(e,
                       "step %lld: ranks hold different %ss (rank %d: %016llx); this is a "
                       "bug, please report it with the config",
                       (long long)step, tr->full ? "model" : "adapter", tr->comm->rank,
                       (unsigned long long)*hash);
    return 0;
}

int train_checkpoint_agreed(Trainer *tr, int failed) {
    double wd = comm_watchdog(tr->comm, 0.0);
    comm_watchdog(tr->comm, wd > 0 && wd < CHECKPOINT_WAIT_S ? CHECKPOINT_WAIT_S : wd);
    int bad = comm_first_failure(tr->comm, failed);
    comm_watchdog(tr->comm, wd);
    return bad >= 0 ? -1 : 0;
}

int train_failure_agreed(Comm *comm, int failed, Err *e) {
    int bad = comm_first_failure(comm, failed);
    if (bad < 0) return 0;
    if (comm->rank != bad) e->msg[0] = '\0';
    return -1;
}

int train_after_checkpoint(Trainer *tr, const char *dir, Err *e) {
    tr->checkpoints_written++;
    if (!fault_planned(&tr->faults, FAULT_FLIP, tr->checkpoints_written, 0)) return 0;
    char path[CFG_PATH_MAX + 200];
    snprintf(path, sizeof path, "%s/%s", dir,
             tr->full ? "model.safetensors" : "adapter.safetensors");
    return fault_flip_byte(path, e);
}

static int save_checkpoint(Trainer *tr, const TrainState *st, Err *e) {
    const char *what = tr->full ? "model" : "adapter";
    uint64_t h;
    if (train_ranks_agree(tr, st->step, &h, e) != 0) return -1;
    int failed = 0;
    if (tr->comm->rank == 0) {
        char dir[CFG_PATH_MAX + 64];
        snprintf(dir, sizeof dir, "%s/checkpoints/step-%06lld", tr->cfg->run.dir,
                 (long long)st->step);
        CheckpointContent c = {.lora = tr->full ? NULL : &tr->lora,
                               .model = tr->full ? &tr->model : NULL,
                               .tokenizer = tr->full ? tr->tokenizer : NULL,
                               .opt = &tr->opt,
                               .state = *st,
                               .fault_crash = fault_planned(&tr->faults, FAULT_CRASH_WRITE,
                                                            tr->checkpoints_written + 1, 0)};
        failed = checkpoint_write(dir, &c, e) != 0;
        if (!failed)
            printf("checkpoint %s (%s fnv64 %016llx, identical on %d rank%s)\n", dir, what,
                   (unsigned long long)h, tr->comm->size, tr->comm->size == 1 ? "" : "s");
        if (!failed) failed = train_after_checkpoint(tr, dir, e) != 0;
    }
    return train_checkpoint_agreed(tr, failed);
}

static void print_banner(const Trainer *tr) {
    const Config *cfg = tr->cfg;
    const GPT2Config *mc = &tr->model.cfg;
    size_t learn = 0;
    for (int i = 0; i < tr->params->count; i++) learn += tr->params->items[i].numel;
    printf("imprint %s (%s): %d rank%s x %d thread%s\n", IMPRINT_VERSION, IMPRINT_GIT,
           tr->comm->size, tr->comm->size == 1 ? "" : "s", omp_get_max_threads(),
           omp_get_max_threads() == 1 ? "" : "s");
    printf("model   %s: %d layers, %d heads, width %d, vocab %d, context %d, %.2fM params\n",
           cfg->model.random ? "random init" : cfg->model.path, mc->n_layer, mc->n_head, mc->n_embd,
           mc->vocab, mc->n_ctx, gpt2_num_params(&tr->model) / 1e6);
    if (tr->full)
        printf("learn   every base tensor (pretrain), %zu params\n", learn);
    else
        printf("lora    rank %d, alpha %g (scale %g), layers %d-%d, %zu trainable params\n",
               tr->lora.spec.rank, tr->lora.spec.alpha, tr->lora.scale, tr->lora.spec.layer_first,
               tr->lora.spec.layer_last, learn);
    if (tr->cur) {
        int n_eval[EVAL_COUNT];
        for (int s = 0; s < EVAL_COUNT; s++) curriculum_eval(tr->cur, (EvalSplit)s, &n_eval[s]);
        printf("chains  %d trained, %d held out; library sha256 %.16s...\n",
               curriculum_n_train_chains(tr->cur), curriculum_n_heldout_chains(tr->cur),
               curriculum_library_hash(tr->cur));
        for (int p = 0; p < curriculum_n_pools(tr->cur); p++) {
            PoolStats ps;
            curriculum_pool_stats(tr->cur, p, &ps);
            printf("pool    %-10s band [%.2f, %.2f]: %4d variants, measured volatility %.3f / "
                   "%.3f / %.3f (min / mean / max)\n",
                   cfg->curriculum.stages[ps.stage].name, ps.band_lo, ps.band_hi, ps.n_items,
                   ps.vol_min, ps.vol_mean, ps.vol_max);
        }
        printf("eval    train %d, held-out variants %d, entities %d, chains %d items\n", n_eval[0],
               n_eval[1], n_eval[2], n_eval[3]);
        printf("batch   %d x %d tokens, %d samples on this rank at most\n", cfg->batch.global,
               cfg->batch.seq_len, tr->max_rows);
    } else {
        printf("data    %s: %lld tokens; batch %d x %d tokens, %d samples on this rank at most\n",
               cfg->data.path, (long long)tr->data.n_tokens, cfg->batch.global, cfg->batch.seq_len,
               tr->max_rows);
    }
    if (tr->val.raw)
        printf("val     %s: %lld tokens; %d batches every %d steps\n", cfg->data.val_path,
               (long long)tr->val.n_tokens, cfg->run.eval_batches, cfg->run.eval_every);
    printf("run     %s, %lld steps\n", cfg->run.dir, (long long)tr->total_steps);
    fflush(stdout);
}

/* ---- the loop ------------------------------------------------------------------------------- */

/* Fills rows [0, count) of the batch buffers with global samples [first, first + count) of
 * step `step`. */
static void fill_rows(Trainer *tr, int64_t step, int64_t first, int64_t count) {
    const int T = tr->cfg->batch.seq_len, global = tr->cfg->batch.global;
    if (tr->cur) {
        for (int64_t j = 0; j < count; j++)
            curriculum_sample(tr->cur, tr->stage, tr->step_in_stage, first + j, global,
                              tr->inputs + j * T, tr->targets + j * T, tr->weights + j * T);
    } else {
        data_fill(&tr->data, step * (int64_t)global + first, (int)count, T, tr->inputs, tr->targets,
                  tr->weights);
    }
}

static double weight_sum(const float *w, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += w[i];
    return s;
}

/* reproducibility = "rank-count": one forward/backward over this rank's slice of the batch,
 * float all-reduces. Returns 1 when loss and gradients are finite. */
static int step_rank_count(Trainer *tr, int64_t step, double *loss, double *wsum, Err *e) {
    const Config *cfg = tr->cfg;
    Comm *comm = tr->comm;
    const int T = cfg->batch.seq_len, global = cfg->batch.global;
    int64_t first, count;
    comm_slice(global, comm->rank, comm->size, &first, &count);
    Batch b = {.inputs = tr->inputs,
               .targets = tr->targets,
               .weights = tr->weights,
               .B = (int)count,
               .T = T,
               .first_sample = (uint64_t)(step * (int64_t)global + first),
               .step = (uint64_t)step,
               .train = 1};
    double local[2] = {0.0, 0.0}; /* weighted loss, weight */
    if (count > 0) {
        fill_rows(tr, step, first, count);
        local[1] = weight_sum(tr->weights, count * T);
    }
    *wsum = local[1];
    comm_allreduce_sum_f64(comm, wsum, 1);
    if (*wsum <= 0.0)
        return err_set(e, "step %lld: the global batch has no token with a loss weight",
                       (long long)step);
    Lora *lora = tr->full ? NULL : &tr->lora;
    memset(tr->grads->memory, 0, sizeof(float) * tr->grads->numel);
    if (count > 0) {
        if (gpt2_forward(&tr->model, lora, &b, e) != 0) return -1;
        local[0] = gpt2_loss(&tr->model, &b);
        gpt2_backward(&tr->model, lora, &b, (float)(1.0 / *wsum));
    }
    if (fault_planned(&tr->faults, FAULT_NAN, step + 1, comm->rank)) tr->grads->memory[0] = NAN;
    fault_in_step(&tr->faults, step + 1, comm->rank);
    comm_allreduce_sum_f32(comm, tr->grads->memory, tr->grads->numel);
    *loss = local[0];
    comm_allreduce_sum_f64(comm, loss, 1);
    *loss /= *wsum;
    return isfinite(*loss); /* a NaN or Inf in a gradient reaches every rank through the sum */
}

/* reproducibility = "invariant": each of this rank's virtual shards computed alone, then exact
 * fixed-point sums over all shards of all ranks (weights, gradients, loss). */
static int step_invariant(Trainer *tr, int64_t step, double *loss, double *wsum, Err *e) {
    const Config *cfg = tr->cfg;
    Comm *comm = tr->comm;
    const int T = cfg->batch.seq_len, S = cfg->batch.shard, global = cfg->batch.global;
    const size_t numel = tr->grads->numel;
    int64_t first, count; /* shards */
    comm_slice(tr->n_shards, comm->rank, comm->size, &first, &count);
    if (count > 0) fill_rows(tr, step, first * S, count * S);
    for (int64_t j = 0; j < count; j++)
        tr->shard_stats[2 * j] = weight_sum(tr->weights + j * S * T, (int64_t)S * T);
    comm_sum_exact_f64(comm, tr->shard_stats, count, 2, 1, tr->n_shards, tr->exact_acc, wsum);
    if (*wsum <= 0.0)
        return err_set(e, "step %lld: the global batch has no token with a loss weight",
                       (long long)step);
    Lora *lora = tr->full ? NULL : &tr->lora;
    for (int64_t j = 0; j < count; j++) {
        const size_t off = (size_t)(j * S * T);
        Batch b = {.inputs = tr->inputs + off,
                   .targets = tr->targets + off,
                   .weights = tr->weights + off,
                   .B = S,
                   .T = T,
                   .first_sample = (uint64_t)(step * (int64_t)global + (first + j) * S),
                   .step = (uint64_t)step,
                   .train = 1};
        memset(tr->grads->memory, 0, sizeof(float) * numel);
        if (gpt2_forward(&tr->model, lora, &b, e) != 0) return -1;
        tr->shard_stats[2 * j + 1] = gpt2_loss(&tr->model, &b);
        gpt2_backward(&tr->model, lora, &b, (float)(1.0 / *wsum));
        memcpy(tr->shard_grads + (size_t)j * numel, tr->grads->memory, sizeof(float) * numel);
    }
    if (count > 0 && fault_planned(&tr->faults, FAULT_NAN, step + 1, comm->rank))
        tr->shard_grads[0] = NAN;
    fault_in_step(&tr->faults, step + 1, comm->rank);
    int finite = comm_sum_exact_f32(comm, tr->shard_grads, count, numel, numel, tr->n_shards,
                                    tr->exact_acc, tr->grads->memory);
    finite &= comm_sum_exact_f64(comm, tr->shard_stats + 1, count, 2, 1, tr->n_shards,
                                 tr->exact_acc, loss);
    *loss = finite ? *loss / *wsum : NAN;
    return finite && isfinite(*loss);
}

int train_step(Trainer *tr, int64_t step, StepStats *out, Err *e) {
    const Config *cfg = tr->cfg;
    double loss = 0.0, wsum = 0.0;
    int finite = tr->invariant ? step_invariant(tr, step, &loss, &wsum, e)
                               : step_rank_count(tr, step, &loss, &wsum, e);
    if (finite < 0) return -1;
    float lr = lr_at(&cfg->optim, step, tr->total_steps) * tr->lr_scale;
    double norm = finite ? grad_global_norm(tr->grads) : NAN;
    if (!isfinite(norm)) finite = 0;
    if (!finite) {
        /* every rank reaches the same verdict: the sums carry the NaN or Inf to all */
        if (cfg->optim.nonfinite == NONFINITE_SKIP) {
            *out = (StepStats){loss, wsum, NAN, lr, 1};
            return 0;
        }
        char where[CFG_PATH_MAX + 64];
        if (tr->comm->rank != 0) { /* rank 0 reports it */
            e->msg[0] = '\0';
            return -1;
        }
        return err_set(e,
                       "step %lld: the loss or a gradient is not finite (loss %g); the run stops "
                       "(%s: optim.nonfinite = \"abort\"). Lower optim.lr, check the data, or "
                       "set optim.nonfinite = \"skip\" to skip such steps",
                       (long long)step + 1, loss,
                       config_where(cfg, "optim.nonfinite", where, sizeof where));
    }
    grad_clip(tr->grads, norm, (float)cfg->optim.clip);
    adamw_step(&tr->opt, tr->params, tr->grads, tr->active, lr);
    *out = (StepStats){loss, wsum, norm, lr, 0};
    return 0;
}

int train_validate(Trainer *tr, double *loss, Err *e) {
    const Config *cfg = tr->cfg;
    Comm *comm = tr->comm;
    const int T = cfg->batch.seq_len, global = cfg->batch.global;
    if (!tr->val.raw) return err_set(e, "no validation data; set data.val_path");
    if (tr->invariant) { /* shard by shard, exact sums (see step_invariant) */
        const int S = cfg->batch.shard;
        int64_t first, count;
        comm_slice(tr->n_shards, comm->rank, comm->size, &first, &count);
        double total[2] = {0.0, 0.0}; /* weight, weighted loss */
        for (int j = 0; j < cfg->run.eval_batches; j++) {
            if (count > 0)
                data_fill(&tr->val, (int64_t)j * global + first * S, (int)(count * S), T,
                          tr->inputs, tr->targets, tr->weights);
            for (int64_t i = 0; i < count; i++) {
                const size_t off = (size_t)(i * S * T);
                Batch b = {tr->inputs + off, tr->targets + off, tr->weights + off, S, T, 0, 0, 0};
                tr->shard_stats[2 * i] = weight_sum(b.weights, (int64_t)S * T);
                if (gpt2_forward(&tr->model, tr->full ? NULL : &tr->lora, &b, e) != 0) return -1;
                tr->shard_stats[2 * i + 1] = gpt2_loss(&tr->model, &b);
            }
            double sums[2] = {NAN, NAN};
            comm_sum_exact_f64(comm, tr->shard_stats, count, 2, 2, tr->n_shards, tr->exact_acc,
                               sums);
            total[0] += sums[0];
            total[1] += sums[1];
        }
        *loss = total[1] / total[0];
        return 0;
    }
    int64_t first, count;
    comm_slice(global, comm->rank, comm->size, &first, &count);
    double sums[2] = {0.0, 0.0}; /* weighted loss, weight */
    for (int j = 0; j < cfg->run.eval_batches; j++) {
        if (count == 0) continue;
        const int64_t sample0 = (int64_t)j * global + first;
        Batch b = {tr->inputs, tr->targets, tr->weights, (int)count, T, (uint64_t)sample0, 0, 0};
        data_fill(&tr->val, sample0, (int)count, T, tr->inputs, tr->targets, tr->weights);
        for (int64_t i = 0; i < count * T; i++) sums[1] += tr->weights[i];
        if (gpt2_forward(&tr->model, tr->full ? NULL : &tr->lora, &b, e) != 0) return -1;
        sums[0] += gpt2_loss(&tr->model, &b);
    }
    comm_allreduce_sum_f64(comm, sums, 2);
    *loss = sums[0] / sums[1];
    return 0;
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

/* --resume for token-file runs: the newest checkpoints/step-N (checkpoints are renamed into
 * place whole, so every one there is complete): weights, AdamW moments and counters. */
static int resume_token_run(Trainer *tr, TrainState *st, Err *e) {
    const Config *cfg = tr->cfg;
    char dir[CFG_PATH_MAX + 64], path[CFG_PATH_MAX + 128];
    snprintf(dir, sizeof dir, "%s/checkpoints", cfg->run.dir);
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
    snprintf(dir, sizeof dir, "%s/checkpoints/step-%06lld", cfg->run.dir, best);
    if (checkpoint_read_state(dir, st, e) != 0 || checkpoint_read_optim(dir, &tr->opt, e) != 0)
        return -1;
    if (tr->full) {
        if (weights_load(&tr->model, dir, e) != 0) return -1;
    } else {
        snprintf(path, sizeof path, "%s/adapter.safetensors", dir);
        if (lora_load(&tr->lora, path, e) != 0) return -1;
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

static int train_loop(Trainer *tr, const TrainOptions *opt, Err *e) {
    const Config *cfg = tr->cfg;
    TrainState st = {.seed = cfg->seed, .stage = -1};
    train_install_stop_handlers();
    if (opt->resume) {
        if (train_failure_agreed(tr->comm, resume_token_run(tr, &st, e) != 0, e) != 0) return -1;
    }
    double t_start = now_seconds(), t_last = t_start;
    const int64_t first = st.step;

    if (tr->val.raw && first == 0 && validate_and_log(tr, 0, e) != 0) return -1; /* the start */
    for (int64_t step = first; step < cfg->run.steps; step++) {
        StepStats s;
        if (train_step(tr, step, &s, e) != 0) return -1;
        st.step = step + 1;
        st.tokens_seen += (int64_t)s.weight;
        st.loss = s.loss;
        st.lr = s.lr;
        st.skipped_steps += s.skipped;
        double now = now_seconds();
        double ms = 1000.0 * (now - t_last);
        t_last = now;
        if (tr->comm->rank == 0) {
            double tok_s = s.weight / (ms / 1000.0);
            fprintf(tr->metrics,
                    "{\"step\":%lld,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6g,"
                    "\"tokens\":%lld,\"ms\":%.2f,\"tok_per_s\":%.1f%s}\n",
                    (long long)st.step, s.skipped ? 0.0 : s.loss, s.lr,
                    s.skipped ? 0.0 : s.grad_norm, (long long)st.tokens_seen, ms, tok_s,
                    s.skipped ? ",\"skipped\":true" : "");
            fflush(tr->metrics);
            if (s.skipped)
                printf("step %5lld/%d | the loss or a gradient is not finite: step skipped, no "
                       "update (optim.nonfinite = \"skip\"; %lld skipped so far)\n",
                       (long long)st.step, cfg->run.steps, (long long)st.skipped_steps);
            if (!opt->quiet && (st.step % cfg->run.log_every == 0 || st.step == cfg->run.steps)) {
                double eta =
                    (now - t_start) / (double)(st.step - first) * (cfg->run.steps - st.step);
                printf("step %5lld/%d | loss %.4f | lr %.3e | norm %.4f | %7.0f tok/s | "
                       "%7.1f ms/step | eta %.0fs\n",
                       (long long)st.step, cfg->run.steps, s.loss, s.lr, s.grad_norm, tok_s, ms,
                       eta);
                fflush(stdout);
            }
        }
        int last = st.step == cfg->run.steps;
        int periodic = cfg->run.checkpoint_every > 0 && st.step % cfg->run.checkpoint_every == 0;
        int eval = tr->val.raw &&
                   (last || (cfg->run.eval_every > 0 && st.step % cfg->run.eval_every == 0));
        if (eval && validate_and_log(tr, st.step, e) != 0) return -1;
        if ((last || periodic) && save_checkpoint(tr, &st, e) != 0) return -1;
        if (fault_planned(&tr->faults, FAULT_SIGNAL, st.step, tr->comm->rank)) raise(SIGUSR1);
        if (!last && train_stop_agreed(tr)) {
            if (!periodic && save_checkpoint(tr, &st, e) != 0) return -1;
            if (tr->comm->rank == 0) {
                printf("stop requested: checkpoint after step %lld; resume with --resume %s\n",
                       (long long)st.step, cfg->run.dir);
                fflush(stdout);
            }
            return TRAIN_STOPPED;
        }
    }
    return 0;
}

int train_run(const Config *cfg, Comm *comm, const TrainOptions *opt, Err *e) {
    Trainer tr;
    set_threads(cfg, comm);
    int rc = 0;
    if (train_failure_agreed(comm, train_setup(&tr, cfg, comm, opt, 1, e) != 0, e) != 0) {
        rc = -1;
    } else {
        if (comm->rank == 0 && !opt->quiet) print_banner(&tr);
        comm_watchdog(comm, cfg->run.watchdog); /* from here on, a hung rank ends the job */
        rc = tr.cur ? stages_run(&tr, opt, e) : train_loop(&tr, opt, e);
    }
    train_teardown(&tr);
    return rc;
}
