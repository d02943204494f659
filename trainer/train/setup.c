/*
 * setup.c — what a training run is built from: the model (loaded or random), the adapters or the
 * full-model gradients, AdamW, the batch source, the batch buffers, and the run directory.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels_cpu.h"
#include "rundir.h"
#include "source.h"
#include "train.h"
#include "weights.h"

/* ---- setup --------------------------------------------------------------------------------- */

void train_set_threads(const Config *cfg, const Comm *comm) {
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

int train_build_model(GPT2 *m, const Config *cfg, int rows, Err *e) {
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
    gpt2_build(m, &mc, rows, T);
    if (cfg->model.random)
        gpt2_init_random(m, (float)cfg->model.init_std, cfg->seed);
    else if (weights_load(m, cfg->model.path, e) != 0)
        return -1;
    return 0;
}

int train_build_lora(Lora *lora, const Config *cfg, const GPT2 *m, int rows, Err *e) {
    const LoraConfig *lc = &cfg->lora;
    char where[CFG_PATH_MAX + 64];
    const int L = m->cfg.n_layer;
    LoraSpec spec = {.rank = lc->rank,
                     .alpha = (float)lc->alpha,
                     .rslora = lc->rslora,
                     .dropout = (float)lc->dropout,
                     .targets = lc->targets,
                     .layer_first = lc->layer_first,
                     .layer_last = lc->layer_last < 0 ? L - 1 : lc->layer_last};
    if (lora_spec_check(&spec, L, e) != 0)
        return err_prefix(e, "%s", config_where(cfg, "lora.layers", where, sizeof where));
    lora_build(lora, &spec, L, m->cfg.n_embd, rows * cfg->batch.seq_len, cfg->seed);
    return 0;
}

/* What learns: the adapters, or (pretraining) every base tensor; and AdamW over it. */
static int build_learner(Trainer *tr, Err *e) {
    if (tr->full) {
        /* pretraining: the base learns; its gradient set is the all-reduced buffer */
        gpt2_alloc_grads(&tr->model);
        tr->params = &tr->model.params.set;
        tr->grads = &tr->model.grads.set;
    } else {
        if (train_build_lora(&tr->lora, tr->cfg, &tr->model, tr->model_rows, e) != 0) return -1;
        tr->params = &tr->lora.params;
        tr->grads = &tr->lora.grads;
    }
    const OptimConfig *oc = &tr->cfg->optim;
    tr->active = xmalloc((size_t)tr->params->count, "active flags");
    memset(tr->active, 1, (size_t)tr->params->count);
    adamw_build(&tr->opt, tr->params, (float)oc->beta1, (float)oc->beta2, (float)oc->eps,
                (float)oc->weight_decay);
    if (tr->full) adamw_decay_matrices_only(&tr->opt, tr->params);
    return 0;
}

void train_find_tokenizer(const Config *cfg, char *out, size_t n) {
    char probe[CFG_PATH_MAX + 32];
    out[0] = '\0';
    if (cfg->model.tokenizer[0]) {
        snprintf(out, n, "%s", cfg->model.tokenizer);
        return;
    }
    snprintf(probe, sizeof probe, "%s/vocab.json", cfg->model.path);
    struct stat sb;
    if (cfg->model.path[0] && stat(probe, &sb) == 0) snprintf(out, n, "%s", cfg->model.path);
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

/* run.dir for a new run, or for --resume. A directory that holds a committed checkpoint
 * (rundir.h) is refused without --overwrite, saying what it holds; one that holds none (a run
 * stopped by Ctrl-C or a failure before its first checkpoint) is taken over silently, its
 * partial leftovers cleared. */
static int prepare_run_dir(const Trainer *tr, const TrainOptions *opt, Err *e) {
    const Config *cfg = tr->cfg;
    char path[CFG_PATH_MAX + 64], what[CFG_PATH_MAX + 1024];
    RunDirInfo info;
    if (rundir_inspect(cfg->run.dir, &info, e) != 0) return -1;
    if (opt->resume) {
        if (!info.exists) return err_set(e, "--resume %s: no such run directory", cfg->run.dir);
        if (!rundir_committed(&info)) {
            rundir_describe(cfg->run.dir, &info, what, sizeof what);
            return err_set(e,
                           "--resume %s: %s, so there is nothing to resume; start the run again "
                           "without --resume (it reuses the directory)",
                           cfg->run.dir, what);
        }
        /* the run goes on only with the configuration it started with */
        snprintf(path, sizeof path, "%s/config.cfg", cfg->run.dir);
        Config saved;
        char here[CFG_PATH_MAX + 16]; /* a moved or copied run directory still resumes */
        snprintf(here, sizeof here, "run.dir=\"%s\"", cfg->run.dir);
        const char *ov[] = {here};
        if (config_load(&saved, path, ov, 1, e) != 0) return -1;
        char *a = config_body(cfg), *b = config_body(&saved);
        int same = strcmp(a, b) == 0;
        char diff[640] = ""; /* the keys that differ: "lora.rank: 4 -> 8" */
        if (!same) config_diff(&saved, cfg, diff, sizeof diff);
        free(a);
        free(b);
        config_free(&saved);
        if (!same)
            return err_set(e,
                           "%s: the run was started with a different configuration (%s); resume "
                           "with the same config (imprint config shows the resolved one), or "
                           "start a new run",
                           path, diff);
    } else if (opt->overwrite) {
        const char *parts[] = {"checkpoints", "stages", "manifest.json"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", cfg->run.dir, parts[i]);
            if (remove_tree(path, e) != 0) return -1;
        }
    } else if (rundir_committed(&info)) {
        rundir_describe(cfg->run.dir, &info, what, sizeof what);
        if (info.manifest_damaged)
            return err_set(e,
                           "%s; pass --overwrite to replace the run, or choose another run.dir "
                           "(--set run.dir=...)",
                           what);
        return err_set(e,
                       "%s; pass --resume %s to continue it, --overwrite to replace it, or choose "
                       "another run.dir (--set run.dir=...)",
                       what, cfg->run.dir);
    } else if (rundir_clean_uncommitted(cfg->run.dir, e) != 0) {
        return -1;
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

int train_model_rows(const Config *cfg, int ranks) {
    if (cfg->reproducibility == REPRO_INVARIANT)
        return cfg->batch.shard > INVARIANT_EVAL_ROWS ? cfg->batch.shard : INVARIANT_EVAL_ROWS;
    return (int)((cfg->batch.global + ranks - 1) / ranks);
}

int train_setup(Trainer *tr, const Config *cfg, Comm *comm, const TrainOptions *opt,
                int write_run_dir, Err *e) {
    memset(tr, 0, sizeof *tr);
    tr->cfg = cfg;
    tr->comm = comm;
    tr->full = opt->full;
    tr->quiet = opt->quiet;
    train_find_tokenizer(cfg, tr->tokenizer, sizeof tr->tokenizer);
    if (fault_plan_from_env(&tr->faults, e) != 0) return -1;
    const int64_t global = cfg->batch.global;
    const int size = tr->comm->size;
    tr->shards.on = cfg->reproducibility == REPRO_INVARIANT;
    if (tr->shards.on) {
        /* whole shards per rank; a forward pass is one shard, or one eval chunk of
         * INVARIANT_EVAL_ROWS rows: fixed sizes, whatever the rank count */
        tr->shards.n_shards = global / cfg->batch.shard;
        tr->shards.max_shards = (int)((tr->shards.n_shards + size - 1) / size);
        tr->max_rows = tr->shards.max_shards * cfg->batch.shard;
    } else {
        tr->max_rows = (int)((global + size - 1) / size);
    }
    tr->model_rows = train_model_rows(cfg, size);
    if (train_build_model(&tr->model, cfg, tr->model_rows, e) != 0) return -1;
    if (build_learner(tr, e) != 0) return -1;
    if (tr->shards.on) {
        const size_t numel = tr->grads->numel;
        tr->shards.grads =
            xmalloc(sizeof(float) * numel * (size_t)tr->shards.max_shards, "shard gradients");
        tr->shards.stats =
            xmalloc(sizeof(double) * 2 * (size_t)tr->shards.max_shards, "shard sums");
        tr->shards.exact_acc =
            xmalloc(sizeof(int64_t) * (numel > 2 ? numel : 2), "fixed-point sums");
    }
    const int rows = tr->max_rows > tr->model_rows ? tr->max_rows : tr->model_rows;
    const size_t n = (size_t)rows * cfg->batch.seq_len;
    tr->inputs = xmalloc(sizeof(int32_t) * n, "batch inputs");
    tr->targets = xmalloc(sizeof(int32_t) * n, "batch targets");
    tr->weights = xmalloc(sizeof(float) * n, "batch weights");
    tr->total_steps = cfg->run.steps;
    tr->lr_scale = 1.0f;
    if (cfg->curriculum.enabled) {
        if (tr->full)
            return err_set(e, "%s: pretrain does not use a curriculum; remove the curriculum group",
                           cfg->source);
        if (source_curriculum_open(&tr->source, tr, e) != 0) return -1;
    } else if (source_tokens_open(&tr->source, tr, e) != 0) {
        return -1;
    }
    if (cfg->data.val_path[0]) {
        if (data_open(&tr->val, cfg->data.val_path, cfg->data.format, SAMPLE_SEQUENTIAL, cfg->seed,
                      e) != 0 ||
            data_check(&tr->val, cfg->batch.seq_len, tr->model.cfg.vocab, e) != 0)
            return -1;
    }
    if (write_run_dir && tr->comm->rank == 0 && prepare_run_dir(tr, opt, e) != 0) return -1;
    return 0;
}

void train_teardown(Trainer *tr) {
    if (tr->metrics) fclose(tr->metrics);
    if (tr->source) tr->source->ops->free(tr->source);
    tr->source = NULL;
    data_close(&tr->val);
    if (tr->opt.m.items) adamw_free(&tr->opt);
    if (tr->lora.ad) lora_free(&tr->lora);
    if (tr->model.params.set.items) gpt2_free(&tr->model);
    xfree(tr->inputs);
    xfree(tr->targets);
    xfree(tr->weights);
    xfree(tr->active);
    xfree(tr->shards.grads);
    xfree(tr->shards.stats);
    xfree(tr->shards.exact_acc);
}

void train_print_banner(const Trainer *tr) {
    const Config *cfg = tr->cfg;
    const GPT2Config *mc = &tr->model.cfg;
    size_t learn = 0;
    for (int i = 0; i < tr->params->count; i++) learn += tr->params->items[i].numel;
    printf("imprint %s (%s): %d rank%s x %d thread%s\n", IMPRINT_VERSION, IMPRINT_GIT,
           tr->comm->size, tr->comm->size == 1 ? "" : "s", omp_get_max_threads(),
           omp_get_max_threads() == 1 ? "" : "s");
    const char *blas_warning = blas_core_warning();
    if (blas_warning) printf("%s\n", blas_warning);
    printf("model   %s: %d layers, %d heads, width %d, vocab %d, context %d, %.2fM params\n",
           cfg->model.random ? "random init" : cfg->model.path, mc->n_layer, mc->n_head, mc->n_embd,
           mc->vocab, mc->n_ctx, gpt2_num_params(&tr->model) / 1e6);
    if (tr->full)
        printf("learn   every base tensor (pretrain), %zu params\n", learn);
    else
        printf("lora    rank %d, alpha %g (scale %g), layers %d-%d, %zu trainable params\n",
               tr->lora.spec.rank, tr->lora.spec.alpha, tr->lora.scale, tr->lora.spec.layer_first,
               tr->lora.spec.layer_last, learn);
    tr->source->ops->banner(tr->source, tr);
    if (tr->val.raw)
        printf("val     %s: %lld tokens; %d batches every %d steps\n", cfg->data.val_path,
               (long long)tr->val.n_tokens, cfg->run.eval_batches, cfg->run.eval_every);
    printf("run     %s, %lld steps\n", cfg->run.dir, (long long)tr->total_steps);
    fflush(stdout);
}
