/*
 * source_curriculum.c — the curriculum as a batch source: the chain library's curriculum feeds
 * the training step; stage by stage the field knobs change (which adapters learn, the
 * learning-rate scale), and every stage ends with the recall test (adapter against base) and a
 * stage checkpoint:
 *
 *   runs/<name>/stages/00-anchor/   adapter.safetensors  optim.safetensors  state.json
 *                                   eval.json  items.jsonl (per item)  peft/
 *   runs/<name>/manifest.json       build, ranks, seeds, hashes, and one entry per stage
 *                                   checkpoint with the SHA-256 of each file (written last:
 *                                   a checkpoint counts once the manifest names it)
 *
 * `--resume RUN_DIR` reads the manifest, verifies the newest checkpoint's checksums, restores
 * adapter, optimizer and counters, and goes on where it stopped. Samples are a pure function of
 * (seed, stage, step in stage), dropout of the global step, so the resumed run computes exactly
 * what the uninterrupted one would have.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "curriculum.h"
#include "items.h"
#include "manifest.h"
#include "report.h"
#include "rundir.h"
#include "scorer.h"
#include "source.h"
#include "tokenizer.h"
#include "weights.h"

typedef struct CurriculumSource {
    BatchSource base;
    Tokenizer *tok;
    ChainLib *lib;
    Curriculum *cur;
    Scorer scorer;
    int n_stages;
    int64_t global;                     /* batch.global */
    int stage;                          /* the stage batches are drawn from; -1 before the first */
    int64_t step_in_stage;              /* of the step about to run or just run */
    int stage_done;                     /* the stage ran its steps (or its until rule was met) */
    int64_t resume_k;                   /* resuming inside a stage: its first step */
    int resume_stage;                   /* the stage a resume continues in; -1 none */
    int until_split, until_which;       /* the stage's until rule: split, 0 = em / 1 = margin */
    EvalSums base_eval[EVAL_COUNT];     /* the base model's scores (computed once) */
    EvalSums last_eval[EVAL_COUNT];     /* the adapter's, at the end of the last stage */
    EvalSums (*stage_eval)[EVAL_COUNT]; /* [n_stages]: the adapter's at each stage end */
    uint8_t *stage_scored;              /* [n_stages]: stage_eval holds it (this process) */
    /* per item (items.jsonl) and per logical form: the base model's, and the adapter's at the
     * end of the last stage */
    EvalRecords base_rec[EVAL_COUNT], adapter_rec[EVAL_COUNT];
    EvalSums base_forms[EVAL_COUNT][FORM_COUNT], adapter_forms[EVAL_COUNT][FORM_COUNT];
} CurriculumSource;

/* ---- setup ----------------------------------------------------------------------------------- */

static int tokenize_cb(void *ctx, const char *text, size_t len, int32_t *ids, int max_ids,
                       int *n_ids, Err *e) {
    int32_t *out = NULL;
    size_t n = 0;
    if (tok_encode((const Tokenizer *)ctx, text, len, &out, &n, e) != 0) return -1;
    if (n > (size_t)max_ids) {
        free(out);
        return err_set(e, "a chain of %zu tokens exceeds the %d-token buffer", n, max_ids);
    }
    memcpy(ids, out, sizeof(int32_t) * n);
    *n_ids = (int)n;
    free(out);
    return 0;
}

static size_t token_len_cb(void *ctx, int32_t id) {
    size_t len = 0;
    tok_token_bytes((const Tokenizer *)ctx, id, &len);
    return len;
}

static const SourceOps CURRICULUM_OPS;

CurriculumTokenizer train_curriculum_tokenizer(Tokenizer *tok) {
    return (CurriculumTokenizer){tokenize_cb, token_len_cb, tok, tok_eot(tok)};
}

int train_load_tokenizer(const Config *cfg, const char *dir, int vocab, Tokenizer **tok, Err *e) {
    char where[CFG_PATH_MAX + 64];
    if (!dir[0])
        return err_set(e,
                       "%s: a curriculum needs the model's tokenizer; set model.tokenizer to a "
                       "directory with vocab.json and merges.txt",
                       config_where(cfg, "model", where, sizeof where));
    if (tok_load_dir(tok, dir, e) != 0)
        return cfg->model.tokenizer[0]
                   ? err_prefix(e, "%s", config_where(cfg, "model.tokenizer", where, sizeof where))
                   : -1;
    if (tok_vocab_size(*tok) > vocab)
        return err_set(e, "%s: the tokenizer has %d tokens but the model's vocabulary only %d", dir,
                       tok_vocab_size(*tok), vocab);
    if (tok_eot(*tok) < 0)
        return err_set(e, "%s: the tokenizer has no <|endoftext|> token, which chains need", dir);
    return 0;
}

int train_load_library(const Config *cfg, ChainLib **lib, Err *e) {
    const CurriculumConfig *cc = &cfg->curriculum;
    const char *paths[CFG_MAX_LIBRARIES];
    for (int i = 0; i < cc->n_libraries; i++) paths[i] = cc->libraries[i];
    return chainlib_load(lib, paths, cc->n_libraries, e);
}

int train_build_curriculum(const Config *cfg, const ChainLib *lib, Tokenizer *tok, int context,
                           Curriculum **cur, Err *e) {
    const CurriculumConfig *cc = &cfg->curriculum;
    char where[CFG_PATH_MAX + 64];
    CurriculumSpec spec = {.stages = cc->stages, /* the config holds the curriculum's own specs */
                           .n_stages = cc->n_stages,
                           .order = cc->order,
                           .variants_per_band = cc->variants,
                           .seed = cfg->seed,
                           .seq_len = cfg->batch.seq_len,
                           .heldout_variant_band_lo = cc->heldout_band_lo,
                           .heldout_variant_band_hi = cc->heldout_band_hi,
                           .seq_len_name = "batch.seq_len",
                           .context = context};
    CurriculumTokenizer ct = train_curriculum_tokenizer(tok);
    if (curriculum_build(cur, lib, &spec, &ct, e) != 0)
        return err_prefix(e, "%s", config_where(cfg, "curriculum", where, sizeof where));
    return 0;
}

/* Loads the tokenizer and chain libraries and builds the curriculum (every pool and eval set). */
static int curriculum_source_build(CurriculumSource *cs, Trainer *tr, Err *e) {
    const Config *cfg = tr->cfg;
    if (train_load_tokenizer(cfg, tr->tokenizer, tr->model.cfg.vocab, &cs->tok, e) != 0) return -1;
    if (train_load_library(cfg, &cs->lib, e) != 0) return -1;
    if (train_build_curriculum(cfg, cs->lib, cs->tok, tr->model.cfg.n_ctx, &cs->cur, e) != 0)
        return -1;
    const EvalItem *sets[EVAL_COUNT];
    int n_items[EVAL_COUNT];
    for (int s = 0; s < EVAL_COUNT; s++) {
        sets[s] = curriculum_eval(cs->cur, (EvalSplit)s, &n_items[s]);
        eval_records_init(&cs->base_rec[s], sets[s], n_items[s], 1);
        eval_records_init(&cs->adapter_rec[s], sets[s], n_items[s], 1);
    }
    scorer_init(&cs->scorer, &tr->model, &tr->lora, tr->comm, tok_eot(cs->tok), tr->shards.on,
                tr->inputs, tr->targets, tr->weights, sets, n_items, EVAL_COUNT);
    return 0;
}

/* ---- the recall test ------------------------------------------------------------------------- */

/* Scores every split (split = -1) or one, with the adapter or the base model; with rec (NULL:
 * none), every item's record too, and forms gets the sums per logical form. Collective. */
static int score_splits(CurriculumSource *cs, int use_adapter, int split, EvalSums out[EVAL_COUNT],
                        EvalRecords *rec, EvalSums (*forms)[FORM_COUNT], Err *e) {
    for (int s = 0; s < EVAL_COUNT; s++) {
        if (split >= 0 && s != split) continue;
        int n = 0;
        const EvalItem *items = curriculum_eval(cs->cur, (EvalSplit)s, &n);
        if (scorer_run(&cs->scorer, use_adapter, items, n, &out[s], rec ? &rec[s] : NULL, e) != 0)
            return -1;
        if (rec) eval_form_sums(&rec[s], items, n, cs->lib, forms[s]);
    }
    return 0;
}

/* The rows of a table (with the sums per form of the last stage scored, when forms). */
static void report_rows(const CurriculumSource *cs, const EvalSums *adapter, int forms,
                        ReportRow rows[EVAL_COUNT]) {
    for (int s = 0; s < EVAL_COUNT; s++)
        rows[s] = (ReportRow){eval_split_name((EvalSplit)s),
                              cs->base_eval[s],
                              adapter[s],
                              0,
                              forms ? cs->base_forms[s] : NULL,
                              forms ? cs->adapter_forms[s] : NULL};
}

/* items.jsonl of the last stage scored (rank 0: the records are every rank's). */
static char *items_text(const CurriculumSource *cs, size_t *len, Err *e) {
    ItemsSet sets[EVAL_COUNT];
    for (int s = 0; s < EVAL_COUNT; s++) {
        int n = 0;
        const EvalItem *items = curriculum_eval(cs->cur, (EvalSplit)s, &n);
        sets[s] = (ItemsSet){eval_split_name((EvalSplit)s),
                             s == EVAL_HELDOUT_VARIANTS,
                             items,
                             n,
                             &cs->base_rec[s],
                             &cs->adapter_rec[s]};
    }
    return items_jsonl(sets, EVAL_COUNT, cs->lib, cs->tok, len, e);
}

static char *eval_json_text(const CurriculumSource *cs, const EvalSums *adapter,
                            const char *stage_name, int64_t step) {
    ReportRow rows[EVAL_COUNT];
    report_rows(cs, adapter, 1, rows);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stage", stage_name);
    cJSON_AddNumberToObject(o, "step", (double)step); /* optimizer steps done */
    cJSON_AddStringToObject(o, "metrics", REPORT_METRICS_NOTE);
    report_add_splits(o, rows, EVAL_COUNT);
    report_add_forms(o, rows, EVAL_COUNT);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

/* "heldout_entities.em" -> split and metric (0 = em, 1 = margin) */
static int parse_metric(const char *m, int *split, int *which) {
    const char *dot = strchr(m, '.');
    char name[CFG_NAME_MAX];
    EvalSplit s;
    if (!dot || (size_t)(dot - m) >= sizeof name) return -1;
    memcpy(name, m, (size_t)(dot - m));
    name[dot - m] = '\0';
    if (eval_split_from_name(name, &s) != 0) return -1;
    *split = (int)s;
    if (!strcmp(dot + 1, "em"))
        *which = 0;
    else if (!strcmp(dot + 1, "margin"))
        *which = 1;
    else
        return -1;
    return 0;
}

/* ---- stages ---------------------------------------------------------------------------------- */

/* Makes stage s current: its adapters learn, the others are frozen; its lr scale applies. */
static int enter_stage(CurriculumSource *cs, Trainer *tr, int s, Err *e) {
    const StageSpec *sc = &tr->cfg->curriculum.stages[s];
    const int last = sc->layer_last < 0 ? tr->model.cfg.n_layer - 1 : sc->layer_last;
    lora_set_trainable(&tr->lora, sc->layer_first, last, sc->targets);
    /* the optimizer skips frozen adapters entirely: no decay, no moment update */
    for (int l = 0; l < tr->lora.n_layer; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            LoraAdapter *a = lora_get(&tr->lora, l, t);
            if (!a) continue;
            tr->active[a->A - tr->lora.params.items] = (uint8_t)a->trainable;
            tr->active[a->B - tr->lora.params.items] = (uint8_t)a->trainable;
        }
    cs->stage = s;
    cs->step_in_stage = s == cs->resume_stage ? cs->resume_k : 0;
    cs->stage_done = cs->step_in_stage >= sc->steps;
    tr->lr_scale = (float)sc->lr_scale;
    cs->until_split = -1;
    cs->until_which = 0;
    if (sc->until_metric[0] && parse_metric(sc->until_metric, &cs->until_split, &cs->until_which))
        return err_set(e, "stage '%s': unknown until metric '%s'", sc->name, sc->until_metric);
    return 0;
}

static void fill(BatchSource *bs, int64_t step, int64_t first, int64_t count, int T,
                 int32_t *inputs, int32_t *targets, float *weights) {
    (void)step;
    const CurriculumSource *cs = (const CurriculumSource *)bs;
    for (int64_t j = 0; j < count; j++)
        curriculum_sample(cs->cur, cs->stage, cs->step_in_stage, first + j, cs->global,
                          inputs + j * T, targets + j * T, weights + j * T);
}

/* ---- the hooks ------------------------------------------------------------------------------- */

static int resume(BatchSource *bs, Trainer *tr, const TrainOptions *opt, TrainState *st, Err *e) {
    CurriculumSource *cs = (CurriculumSource *)bs;
    char rel[256], dir[CFG_PATH_MAX + 300], path[CFG_PATH_MAX + 340];
    int was_ranks = 0, rank0 = tr->comm->rank == 0;
    /* every rank verifies; rank 0 alone rewrites the manifest after a fallback */
    int failed = manifest_pick(tr->cfg->run.dir, opt->fallback, rank0, !rank0, rel, sizeof rel,
                               &was_ranks, e) != 0;
    if (train_failure_agreed(tr->comm, failed, e) != 0) return -1;
    if (path_join(dir, sizeof dir, e, "%s/%s", tr->cfg->run.dir, rel) != 0 ||
        path_join(path, sizeof path, e, "%s/adapter.safetensors", dir) != 0)
        return -1;
    if (checkpoint_read_state(dir, st, e) != 0) return -1;
    if (st->stage_complete && st->stage >= cs->n_stages - 1) return 1; /* nothing left */
    if (rank0 && was_ranks > 0 && was_ranks != tr->comm->size && !tr->quiet)
        printf("resume: the checkpoint was written on %d rank%s, the run goes on with %d; %s\n",
               was_ranks, was_ranks == 1 ? "" : "s", tr->comm->size,
               tr->shards.on ? "reproducibility = \"invariant\": the bits stay those of an "
                               "uninterrupted run"
                             : "reproducibility = \"rank-count\": from here the bits differ "
                               "from an uninterrupted run on the old rank count");
    if (lora_load(&tr->lora, path, e) != 0 || checkpoint_read_optim(dir, &tr->opt, e) != 0)
        return -1;
    cs->resume_stage = st->stage_complete ? st->stage + 1 : st->stage;
    cs->resume_k = st->stage_complete ? 0 : st->stage_steps;
    cs->stage = cs->resume_stage - 1; /* next() enters resume_stage */
    cs->stage_done = 1;
    if (tr->comm->rank == 0 && !tr->quiet)
        printf("resume: %s (stage %d '%s', step %lld)\n", dir, st->stage, st->stage_name,
               (long long)st->step);
    return 0;
}

/* The base model's scores: the baseline every table compares against. */
static int begin(BatchSource *bs, Trainer *tr, const TrainState *st, Err *e) {
    (void)tr;
    (void)st;
    CurriculumSource *cs = (CurriculumSource *)bs;
    return score_splits(cs, 0, -1, cs->base_eval, cs->base_rec, cs->base_forms, e);
}

static int next(BatchSource *bs, Trainer *tr, const TrainState *st, Err *e) {
    (void)st;
    CurriculumSource *cs = (CurriculumSource *)bs;
    while (cs->stage < 0 || cs->stage_done) {
        if (cs->stage + 1 >= cs->n_stages) return 0;
        if (enter_stage(cs, tr, cs->stage + 1, e) != 0) return -1;
    }
    return 1;
}

static int position(const BatchSource *bs, int *stage, const char **name, int64_t *stage_step) {
    const CurriculumSource *cs = (const CurriculumSource *)bs;
    *stage = cs->stage;
    *name = curriculum_stage(cs->cur, cs->stage)->name;
    *stage_step = cs->step_in_stage;
    return 1;
}

/* A stop may end the run inside a stage, not on its last step (the stage then ends normally,
 * and the stop takes effect in the next one). */
static int after_step(BatchSource *bs, Trainer *tr, TrainState *st, int *may_stop,
                      int *checkpointed, Err *e) {
    (void)st;
    (void)e;
    const CurriculumSource *cs = (const CurriculumSource *)bs;
    *may_stop = cs->step_in_stage + 1 < tr->cfg->curriculum.stages[cs->stage].steps;
    *checkpointed = 0;
    return 0;
}

/* The until rule, and the end of a stage: the recall test, its table, the stage checkpoint. */
static int boundary(BatchSource *bs, Trainer *tr, TrainState *st, Err *e) {
    CurriculumSource *cs = (CurriculumSource *)bs;
    const CurriculumConfig *cc = &tr->cfg->curriculum;
    const StageSpec *sc = &cc->stages[cs->stage];
    const int64_t k = ++cs->step_in_stage; /* steps this stage has run */
    if (k >= sc->steps) cs->stage_done = 1;
    if (!cs->stage_done && cs->until_split >= 0 && k % cc->eval_every == 0) {
        EvalSums now[EVAL_COUNT];
        if (score_splits(cs, 1, cs->until_split, now, NULL, NULL, e) != 0) return -1;
        EvalMetrics mt = eval_metrics(&now[cs->until_split]);
        double v = cs->until_which == 0 ? mt.em : mt.margin;
        if (v >= sc->until_threshold) {
            if (tr->comm->rank == 0 && !tr->quiet)
                printf("stage %s: %s = %.3f reached %.3f after %lld steps\n", sc->name,
                       sc->until_metric, v, sc->until_threshold, (long long)k);
            cs->stage_done = 1;
        }
    }
    if (!cs->stage_done) return 0;
    EvalSums adapter[EVAL_COUNT];
    if (score_splits(cs, 1, -1, adapter, cs->adapter_rec, cs->adapter_forms, e) != 0) return -1;
    st->stage = cs->stage;
    st->stage_steps = k;
    st->stage_complete = 1;
    snprintf(st->stage_name, sizeof st->stage_name, "%s", sc->name);
    if (tr->comm->rank == 0 && !tr->quiet) {
        ReportRow rows[EVAL_COUNT];
        report_rows(cs, adapter, 0, rows);
        printf("\nrecall after stage %d '%s' (step %lld):\n", cs->stage, sc->name,
               (long long)st->step);
        report_print_table(stdout, rows, EVAL_COUNT);
        printf("\n");
        fflush(stdout);
    }
    /* rank 0 writes eval.json; the others' scores are the same */
    memcpy(cs->last_eval, adapter, sizeof adapter);
    memcpy(cs->stage_eval[cs->stage], adapter, sizeof adapter);
    cs->stage_scored[cs->stage] = 1;
    return train_checkpoint(tr, st, 1, e);
}

/* A stage checkpoint's directory, relative to the run dir: stages/NN-name for a complete stage,
 * stages/NN-name.step-NNNNNN for a stop inside it (mid_step >= 0); the name made safe for a file
 * name. */
static void stage_rel(const char *name, int s, int64_t mid_step, char *rel, size_t n) {
    if (mid_step < 0)
        snprintf(rel, n, "stages/%02d-%s", s, name);
    else
        snprintf(rel, n, "stages/%02d-%s.step-%06lld", s, name, (long long)mid_step);
    for (char *p = rel + 10; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
}

static int write_checkpoint(BatchSource *bs, Trainer *tr, TrainState *st, int complete,
                            uint64_t hash, char *dir, size_t n_dir, Err *e) {
    CurriculumSource *cs = (CurriculumSource *)bs;
    const StageSpec *sc = &tr->cfg->curriculum.stages[cs->stage];
    if (!complete) { /* a stop inside the stage: resume continues it */
        st->stage = cs->stage;
        st->stage_steps = cs->step_in_stage + 1;
        st->stage_complete = 0;
        snprintf(st->stage_name, sizeof st->stage_name, "%s", sc->name);
    }
    char rel[128];
    stage_rel(st->stage_name, st->stage, st->stage_complete ? -1 : st->step, rel, sizeof rel);
    if (path_join(dir, n_dir, e, "%s/%s", tr->cfg->run.dir, rel) != 0) return -1;
    char *json = complete ? eval_json_text(cs, cs->last_eval, st->stage_name, st->step) : NULL;
    size_t items_len = 0;
    char *items = complete ? items_text(cs, &items_len, e) : NULL;
    if (complete && !items) {
        free(json);
        return -1;
    }
    CheckpointContent c = {.lora = &tr->lora,
                           .opt = &tr->opt,
                           .state = *st,
                           .eval_json = json,
                           .items_jsonl = items,
                           .items_len = items_len,
                           .peft_base = tr->cfg->model.random ? "" : tr->cfg->model.path,
                           .fault_crash = fault_planned(&tr->faults, FAULT_CRASH_WRITE,
                                                        tr->checkpoints_written + 1, 0)};
    char comm_info[512];
    comm_library_info(comm_info, sizeof comm_info);
    ManifestRun run = {.run_dir = tr->cfg->run.dir,
                       .comm_info = comm_info,
                       .blas_info = openblas_get_config(),
                       .ranks = tr->comm->size,
                       .threads_per_rank = omp_get_max_threads(),
                       .seed = tr->cfg->seed,
                       .invariant = tr->shards.on,
                       .shard = tr->cfg->batch.shard,
                       .library_sha256 = chainlib_hash(cs->lib),
                       .base_model = tr->cfg->model.random ? NULL : tr->cfg->model.path};
    int rc = checkpoint_write(dir, &c, e) != 0 || manifest_add(&run, rel, st, e) != 0 ? -1 : 0;
    free(json);
    xfree(items);
    if (rc == 0 && !tr->quiet)
        printf("checkpoint %s (adapter fnv64 %016llx, identical on %d rank%s)\n", dir,
               (unsigned long long)hash, tr->comm->size, tr->comm->size == 1 ? "" : "s");
    /* A committed stage checkpoint is the newest state of the run, so every mid-stage
     * checkpoint (a stop signal's) is superseded: its manifest entry and directory go (each
     * is as large as a stage checkpoint). --resume --fallback stays correct: past a corrupted
     * stage checkpoint it falls back to the stage checkpoint before it, and samples being a
     * pure function of (seed, stage, step), the resumed run still ends with the same bytes. */
    int pruned = 0;
    if (rc == 0 && complete && rundir_prune_mid_stage(tr->cfg->run.dir, &pruned, e) != 0) rc = -1;
    if (rc == 0 && pruned && !tr->quiet)
        printf("removed %d mid-stage checkpoint%s this stage checkpoint supersedes\n", pruned,
               pruned == 1 ? "" : "s");
    return rc;
}

static void where(const BatchSource *bs, const TrainState *st, char *out, size_t n) {
    const CurriculumSource *cs = (const CurriculumSource *)bs;
    const StageSpec *sp = curriculum_stage(cs->cur, cs->stage);
    snprintf(out, n, " (stage '%s', step %lld of %lld)", sp->name, (long long)st->stage_steps,
             (long long)sp->steps);
}

static void banner(const BatchSource *bs, const Trainer *tr) {
    const CurriculumSource *cs = (const CurriculumSource *)bs;
    const Config *cfg = tr->cfg;
    int n_eval[EVAL_COUNT];
    for (int s = 0; s < EVAL_COUNT; s++) curriculum_eval(cs->cur, (EvalSplit)s, &n_eval[s]);
    printf("chains  %d trained, %d held out; library sha256 %.16s...\n",
           curriculum_n_train_chains(cs->cur), curriculum_n_heldout_chains(cs->cur),
           curriculum_library_hash(cs->cur));
    for (int p = 0; p < curriculum_n_pools(cs->cur); p++) {
        PoolStats ps;
        curriculum_pool_stats(cs->cur, p, &ps);
        printf("pool    %-10s band [%.2f, %.2f]: %4d variants, measured volatility %.3f / "
               "%.3f / %.3f (min / mean / max)\n",
               cfg->curriculum.stages[ps.stage].name, ps.band_lo, ps.band_hi, ps.n_items,
               ps.vol_min, ps.vol_mean, ps.vol_max);
    }
    printf("eval    train %d, held-out variants %d, entities %d, chains %d items\n", n_eval[0],
           n_eval[1], n_eval[2], n_eval[3]);
    printf("batch   %d x %d tokens, %d samples on this rank at most\n", cfg->batch.global,
           cfg->batch.seq_len, tr->max_rows);
}

/* A band whose pool holds fewer than half the variants asked for (variants per chain times the
 * training chains) trains on a few variants over and over: one warning per such stage. */
static void pool_warnings(const CurriculumSource *cs, const Config *cfg) {
    for (int p = 0; p < curriculum_n_pools(cs->cur); p++) {
        PoolStats ps;
        curriculum_pool_stats(cs->cur, p, &ps);
        const int chains = ps.n_chains_full + ps.n_chains_short + ps.n_chains_empty;
        const long long asked = (long long)cfg->curriculum.variants * chains;
        if (2LL * ps.n_items >= asked) continue;
        fprintf(stderr,
                "imprint: warning: stage '%s' band [%.2f, %.2f]: %d variants where %lld were asked "
                "(%d per chain for %d training chains); widen the band or lower "
                "curriculum.variants\n",
                cfg->curriculum.stages[ps.stage].name, ps.band_lo, ps.band_hi, ps.n_items, asked,
                cfg->curriculum.variants, chains);
    }
}

static int evals_left(const BatchSource *bs, const Trainer *tr, const TrainState *st) {
    (void)tr;
    (void)st;
    const CurriculumSource *cs = (const CurriculumSource *)bs;
    return cs->n_stages - (cs->stage < 0 ? 0 : cs->stage) - (cs->stage >= 0 && cs->stage_done);
}

/* Held-out-chains exact match and margin of stage s: from this process's scores, else from the
 * stage's eval.json (a resumed run). 0 when neither is there. */
static int stage_heldout_chains(const CurriculumSource *cs, const Trainer *tr, int s, double *em,
                                double *margin) {
    if (cs->stage_scored[s]) {
        EvalMetrics m = eval_metrics(&cs->stage_eval[s][EVAL_HELDOUT_CHAINS]);
        *em = m.em;
        *margin = m.margin;
        return 1;
    }
    char rel[128], path[CFG_PATH_MAX + 160];
    stage_rel(curriculum_stage(cs->cur, s)->name, s, -1, rel, sizeof rel);
    Err e;
    if (path_join(path, sizeof path, &e, "%s/%s/eval.json", tr->cfg->run.dir, rel) != 0) return 0;
    cJSON *j = json_read_file(path, &e);
    if (!j) return 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "splits"),
                                         eval_split_name(EVAL_HELDOUT_CHAINS)),
        "adapter");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, "em");
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(a, "margin");
    int ok = cJSON_IsNumber(x);
    if (ok) {
        *em = x->valuedouble;
        *margin = cJSON_IsNumber(y) ? y->valuedouble : NAN;
    }
    cJSON_Delete(j);
    return ok;
}

/* The final recall table, the best stage by held-out chains, and where the outputs are. */
static void summary(const BatchSource *bs, const Trainer *tr, const TrainState *st) {
    const CurriculumSource *cs = (const CurriculumSource *)bs;
    const int last = cs->n_stages - 1;
    char rel[128];
    if (cs->stage_scored[last]) {
        ReportRow rows[EVAL_COUNT];
        report_rows(cs, cs->stage_eval[last], 1, rows); /* the last stage was scored last */
        printf("final recall (stage %d '%s', step %lld):\n", last,
               curriculum_stage(cs->cur, last)->name, (long long)st->step);
        report_print_table(stdout, rows, EVAL_COUNT);
        printf("\n");
        report_print_forms(stdout, rows, EVAL_COUNT);
        printf("\n");
    }
    int best = -1;
    double best_em = -1, best_margin = -INFINITY;
    for (int s = 0; s < cs->n_stages; s++) {
        double em = 0, margin = 0;
        if (!stage_heldout_chains(cs, tr, s, &em, &margin)) continue;
        if (em > best_em || (em == best_em && margin > best_margin)) {
            best = s;
            best_em = em;
            best_margin = margin;
        }
    }
    if (best >= 0) {
        stage_rel(curriculum_stage(cs->cur, best)->name, best, -1, rel, sizeof rel);
        printf("best    stage %d '%s' by held-out chains: exact match %.1f%%, margin %+.3f "
               "(%s/%s)\n",
               best, curriculum_stage(cs->cur, best)->name, 100 * best_em, best_margin,
               tr->cfg->run.dir, rel);
    }
    stage_rel(curriculum_stage(cs->cur, last)->name, last, -1, rel, sizeof rel);
    printf("outputs %s/%s/: adapter.safetensors, peft/ (Hugging Face PEFT), eval.json, "
           "items.jsonl, state.json\n        %s/manifest.json (checksums), %s/metrics.jsonl (per "
           "step)\n",
           tr->cfg->run.dir, rel, tr->cfg->run.dir, tr->cfg->run.dir);
}

static void source_free(BatchSource *bs) {
    CurriculumSource *cs = (CurriculumSource *)bs;
    xfree(cs->stage_eval);
    xfree(cs->stage_scored);
    for (int s = 0; s < EVAL_COUNT; s++) {
        eval_records_free(&cs->base_rec[s]);
        eval_records_free(&cs->adapter_rec[s]);
    }
    scorer_free(&cs->scorer);
    if (cs->cur) curriculum_free(cs->cur);
    if (cs->lib) chainlib_free(cs->lib);
    if (cs->tok) tok_free(cs->tok);
    xfree(cs);
}

static const SourceOps CURRICULUM_OPS = {.fill = fill,
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

int source_curriculum_open(BatchSource **out, Trainer *tr, Err *e) {
    CurriculumSource *cs = xmalloc(sizeof *cs, "curriculum source");
    cs->base.ops = &CURRICULUM_OPS;
    cs->n_stages = tr->cfg->curriculum.n_stages;
    cs->global = tr->cfg->batch.global;
    cs->stage = -1;
    cs->resume_stage = -1;
    cs->stage_eval = xmalloc(sizeof *cs->stage_eval * (size_t)cs->n_stages, "stage scores");
    cs->stage_scored = xmalloc((size_t)cs->n_stages, "stage scores");
    *out = &cs->base; /* freed by train_teardown, also after a failure here */
    if (curriculum_source_build(cs, tr, e) != 0) return -1;
    if (tr->comm->rank == 0) pool_warnings(cs, tr->cfg);
    tr->total_steps = 0;
    for (int s = 0; s < cs->n_stages; s++) tr->total_steps += tr->cfg->curriculum.stages[s].steps;
    return 0;
}
