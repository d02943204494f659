/*
 * stages.c — a curriculum run: the chain library and its curriculum feed the training step;
 * stage by stage, the field knobs (which adapters learn, the learning-rate scale) change, and
 * every stage ends with the recall test (adapter against base) and a stage checkpoint:
 *
 *   runs/<name>/stages/00-anchor/   adapter.safetensors  optim.safetensors  state.json
 *                                   eval.json            peft/
 *   runs/<name>/manifest.json       build, ranks, seeds, hashes, and one entry per stage
 *                                   checkpoint with the SHA-256 of each file (written last:
 *                                   a checkpoint counts once the manifest names it)
 *
 * `--resume RUN_DIR` reads the manifest, verifies the newest checkpoint's checksums, restores
 * adapter, optimizer and counters, and goes on with the next stage. Samples are a pure
 * function of (seed, stage, step in stage), dropout of the global step, so the resumed run
 * computes exactly what the uninterrupted one would have.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(IMPRINT_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

#include "checkpoint.h"
#include "sha256.h"
#include "train.h"
#include "weights.h"

/* ---- setup ------------------------------------------------------------------------------------
 */

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

int stages_setup(Trainer *tr, Err *e) {
    const Config *cfg = tr->cfg;
    const CurriculumConfig *cc = &cfg->curriculum;
    char where[CFG_PATH_MAX + 64];
    if (!tr->tokenizer[0])
        return err_set(e,
                       "%s: a curriculum needs the model's tokenizer; set model.tokenizer to a "
                       "directory with vocab.json and merges.txt",
                       config_where(cfg, "model", where, sizeof where));
    if (tok_load_dir(&tr->tok, tr->tokenizer, e) != 0) return -1;
    if (tok_vocab_size(tr->tok) > tr->model.cfg.vocab)
        return err_set(e, "%s: the tokenizer has %d tokens but the model's vocabulary only %d",
                       tr->tokenizer, tok_vocab_size(tr->tok), tr->model.cfg.vocab);
    tr->eot = tok_eot(tr->tok);
    if (tr->eot < 0)
        return err_set(e, "%s: the tokenizer has no <|endoftext|> token, which chains need",
                       tr->tokenizer);
    const char *paths[CFG_MAX_LIBRARIES];
    for (int i = 0; i < cc->n_libraries; i++) paths[i] = cc->libraries[i];
    if (chainlib_load(&tr->lib, paths, cc->n_libraries, e) != 0) return -1;

    CurriculumSpec spec = {.stages = cc->stages, /* the config holds the curriculum's own specs */
                           .n_stages = cc->n_stages,
                           .order = cc->order,
                           .variants_per_band = cc->variants,
                           .seed = cfg->seed,
                           .seq_len = cfg->batch.seq_len,
                           .heldout_variant_band_lo = cc->heldout_band_lo,
                           .heldout_variant_band_hi = cc->heldout_band_hi};
    CurriculumTokenizer ct = {tokenize_cb, token_len_cb, tr->tok, tr->eot};
    if (curriculum_build(&tr->cur, tr->lib, &spec, &ct, e) != 0)
        return err_prefix(e, "%s", config_where(cfg, "curriculum", where, sizeof where));
    if (tr->invariant) { /* room for the sums of every eval chunk this rank may score */
        int most = 1;
        for (int s = 0; s < EVAL_COUNT; s++) {
            int n = 0, chunks = 0;
            const EvalItem *items = curriculum_eval(tr->cur, (EvalSplit)s, &n);
            for (int k = 0; k < n; chunks++) k = eval_chunk_end(items, n, k, tr->model.max_B);
            int per_rank = (chunks + tr->comm->size - 1) / tr->comm->size;
            if (per_rank > most) most = per_rank;
        }
        tr->eval_parts = xmalloc(sizeof(double) * EVAL_SUMS_N * (size_t)most, "eval sums");
    }
    return 0;
}

void stages_teardown(Trainer *tr) {
    if (tr->cur) curriculum_free(tr->cur);
    if (tr->lib) chainlib_free(tr->lib);
    if (tr->tok) tok_free(tr->tok);
    tr->cur = NULL;
    tr->lib = NULL;
    tr->tok = NULL;
}

void stages_enter(Trainer *tr, int s) {
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
    tr->stage = s;
    tr->step_in_stage = 0;
    tr->lr_scale = (float)sc->lr_scale;
}

/* ---- evaluation ----------------------------------------------------------------------------- */

/* reproducibility = "invariant": the split is cut into forward passes from item 0
 * (eval_chunk_end), whole chunks go to ranks, and the chunks' sums are added exactly. */
static int eval_invariant(Trainer *tr, const EvalItem *items, int n, EvalSums *out, Err *e) {
    const int max_B = tr->model.max_B;
    int chunks = 0;
    for (int k = 0; k < n; chunks++) k = eval_chunk_end(items, n, k, max_B);
    int64_t first, count;
    comm_slice(chunks, tr->comm->rank, tr->comm->size, &first, &count);
    int rc = 0, c = 0, j = 0;
    for (int k = 0; k < n && c < first + count; c++) {
        int end = eval_chunk_end(items, n, k, max_B);
        if (c >= first && rc == 0) {
            EvalSums cs;
            rc = eval_items(&tr->model, &tr->lora, items, k, end - k, tr->eot, tr->inputs,
                            tr->targets, tr->weights, &cs, e);
            double *p = tr->eval_parts + (size_t)j++ * EVAL_SUMS_N;
            const double v[EVAL_SUMS_N] = {cs.n, cs.em, cs.nll, cs.greedy, cs.margin, cs.n_foil};
            for (int i = 0; i < EVAL_SUMS_N; i++) p[i] = rc == 0 ? v[i] : 0.0;
        }
        k = end;
    }
    /* every rank takes part in the sum, even after a local error */
    double sums[EVAL_SUMS_N] = {0};
    comm_sum_exact_f64(tr->comm, tr->eval_parts, j, EVAL_SUMS_N, EVAL_SUMS_N, chunks, tr->exact_acc,
                       sums);
    *out = (EvalSums){sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]};
    return rc;
}

int stages_eval(Trainer *tr, int use_adapter, int split, EvalSums out[EVAL_COUNT], Err *e) {
    const float keep = tr->lora.scale;
    if (!use_adapter) tr->lora.scale = 0.0f; /* the base model, same code path */
    int rc = 0;
    Err later; /* the first error is the one reported */
    /* every rank takes part in every reduction, even after a local error */
    for (int s = 0; s < EVAL_COUNT; s++) {
        if (split >= 0 && s != split) continue;
        Err *es = rc == 0 ? e : &later;
        int n = 0;
        const EvalItem *items = curriculum_eval(tr->cur, (EvalSplit)s, &n);
        if (tr->invariant) {
            if (eval_invariant(tr, items, n, &out[s], es) != 0) rc = -1;
            continue;
        }
        int64_t first, count;
        comm_slice(n, tr->comm->rank, tr->comm->size, &first, &count);
        EvalSums local = {0};
        if (eval_items(&tr->model, &tr->lora, items, (int)first, (int)count, tr->eot, tr->inputs,
                       tr->targets, tr->weights, &local, es) != 0)
            rc = -1;
        double sums[EVAL_SUMS_N] = {local.n,      local.em,     local.nll,
                                    local.greedy, local.margin, local.n_foil};
        comm_allreduce_sum_f64(tr->comm, sums, EVAL_SUMS_N);
        out[s] = (EvalSums){sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]};
    }
    tr->lora.scale = keep;
    return comm_first_failure(tr->comm, rc != 0) >= 0 ? -1 : 0;
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

static char *eval_json_text(const Trainer *tr, const EvalSums *adapter, int stage) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stage", tr->cfg->curriculum.stages[stage].name);
    cJSON_AddStringToObject(o, "metrics",
                            "em: greedy completion equals the conclusion; nll: mean conclusion "
                            "token NLL; greedy: fraction of conclusion tokens that are the "
                            "argmax; margin: mean foil NLL minus conclusion NLL");
    cJSON *splits = cJSON_AddObjectToObject(o, "splits");
    for (int s = 0; s < EVAL_COUNT; s++) {
        cJSON *sp = cJSON_AddObjectToObject(splits, eval_split_name((EvalSplit)s));
        for (int k = 0; k < 2; k++) {
            EvalMetrics m = eval_metrics(k == 0 ? &tr->base_eval[s] : &adapter[s]);
            cJSON *x = cJSON_AddObjectToObject(sp, k == 0 ? "base" : "adapter");
            cJSON_AddNumberToObject(x, "n", m.n);
            cJSON_AddNumberToObject(x, "em", m.em);
            cJSON_AddNumberToObject(x, "nll", m.nll);
            cJSON_AddNumberToObject(x, "greedy", m.greedy);
            cJSON_AddNumberToObject(x, "margin", m.margin);
        }
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

static void print_eval_table(const Trainer *tr, const EvalSums *adapter, const char *title) {
    printf("\n%s\n", title);
    printf("  %-17s %4s | %-17s | %-17s | %-17s\n", "split", "n", "exact match", "greedy tokens",
           "margin");
    printf("  %-17s %4s | %-17s | %-17s | %-17s\n", "", "", "base -> adapter", "base -> adapter",
           "base -> adapter");
    for (int s = 0; s < EVAL_COUNT; s++) {
        EvalMetrics b = eval_metrics(&tr->base_eval[s]), a = eval_metrics(&adapter[s]);
        printf("  %-17s %4d | %5.1f%% -> %5.1f%% | %5.1f%% -> %5.1f%% | %+6.3f -> %+6.3f\n",
               eval_split_name((EvalSplit)s), a.n, 100 * b.em, 100 * a.em, 100 * b.greedy,
               100 * a.greedy, b.margin, a.margin);
    }
    printf("\n");
    fflush(stdout);
}

/* ---- manifest -------------------------------------------------------------------------------- */

static int file_sha256(const char *path, char out[65], Err *e) {
    size_t n = 0;
    char *data = file_read_all(path, &n, e);
    if (!data) return -1;
    sha256_hex(data, n, out);
    free(data);
    return 0;
}

/* Adds the checkpoint in `rel` (relative to the run dir) with the SHA-256 of each of its files
 * to manifest.json, creating the manifest on the first call. */
static int manifest_add(const Trainer *tr, const char *rel, const TrainState *st, Err *e) {
    const Config *cfg = tr->cfg;
    char path[CFG_PATH_MAX + 128], fp[CFG_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/manifest.json", cfg->run.dir);
    cJSON *m = NULL;
    size_t n = 0;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        char *text = file_read_all(path, &n, e);
        if (!text) return -1;
        m = cJSON_ParseWithLength(text, n);
        free(text);
        if (!m) return err_set(e, "%s: not valid JSON; the manifest is damaged", path);
    } else {
        m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "imprint", IMPRINT_VERSION);
        cJSON_AddStringToObject(m, "git", IMPRINT_GIT);
        char build[512];
        cJSON *b = cJSON_AddObjectToObject(m, "build");
        cJSON_AddStringToObject(b, "commit", IMPRINT_GIT);
#ifdef __VERSION__
        cJSON_AddStringToObject(b, "compiler", __VERSION__);
#endif
        cJSON_AddStringToObject(b, "blas", openblas_get_config());
        comm_library_info(build, sizeof build);
        cJSON_AddStringToObject(b, "comm", build);
#if defined(IMPRINT_WITH_CUDA)
        cJSON_AddNumberToObject(b, "cuda_runtime", CUDART_VERSION);
#else
        cJSON_AddStringToObject(b, "cuda", "not built (CPU only)");
#endif
        cJSON_AddNumberToObject(m, "ranks", tr->comm->size);
        cJSON_AddNumberToObject(m, "threads_per_rank", omp_get_max_threads());
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
        cJSON_AddStringToObject(m, "seed", seed);
        cJSON_AddStringToObject(m, "reproducibility", tr->invariant ? "invariant" : "rank-count");
        cJSON_AddStringToObject(m, "promise",
                                tr->invariant
                                    ? "identical bits for this config and seed on any rank count"
                                    : "identical bits for this config, seed and rank count");
        if (tr->invariant) cJSON_AddNumberToObject(m, "shard", cfg->batch.shard);
        char h[65];
        snprintf(fp, sizeof fp, "%s/config.cfg", cfg->run.dir);
        if (file_sha256(fp, h, e) != 0) return -1;
        cJSON_AddStringToObject(m, "config_sha256", h);
        cJSON_AddStringToObject(m, "library_sha256", chainlib_hash(tr->lib));
        cJSON_AddStringToObject(m, "base_model", cfg->model.random ? "random" : cfg->model.path);
        if (!cfg->model.random) {
            snprintf(fp, sizeof fp, "%s/model.safetensors", cfg->model.path);
            if (stat(fp, &sb) != 0) snprintf(fp, sizeof fp, "%s", cfg->model.path);
            if (file_sha256(fp, h, e) != 0) return -1;
            cJSON_AddStringToObject(m, "base_model_sha256", h);
        }
        cJSON_AddArrayToObject(m, "checkpoints");
    }
    cJSON *list = cJSON_GetObjectItemCaseSensitive(m, "checkpoints");
    for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) { /* a rewritten checkpoint */
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, i), "dir");
        if (cJSON_IsString(d) && strcmp(d->valuestring, rel) == 0)
            cJSON_DeleteItemFromArray(list, i);
    }
    cJSON *entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "dir", rel);
    cJSON_AddNumberToObject(entry, "stage", st->stage);
    cJSON_AddStringToObject(entry, "stage_name", st->stage_name);
    cJSON_AddNumberToObject(entry, "step", (double)st->step);
    cJSON_AddNumberToObject(entry, "ranks", tr->comm->size);
    cJSON_AddNumberToObject(entry, "threads_per_rank", omp_get_max_threads());
    cJSON *files = cJSON_AddObjectToObject(entry, "sha256");
    const char *names[] = {
        "adapter.safetensors", "optim.safetensors",        "state.json",
        "eval.json",           "peft/adapter_config.json", "peft/adapter_model.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char h[65];
        snprintf(fp, sizeof fp, "%s/%s/%s", cfg->run.dir, rel, names[i]);
        if (!st->stage_complete && stat(fp, &sb) != 0) continue; /* mid-stage: no eval.json */
        if (file_sha256(fp, h, e) != 0) {
            cJSON_Delete(m);
            cJSON_Delete(entry);
            return -1;
        }
        cJSON_AddStringToObject(files, names[i], h);
    }
    cJSON_AddItemToArray(list, entry);
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    int rc = file_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

/* Verifies the SHA-256 of every file of a manifest entry. */
static int entry_verify(const char *run_dir, const cJSON *entry, Err *e) {
    char fp[CFG_PATH_MAX + 256];
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(entry, "dir");
    const cJSON *sums = cJSON_GetObjectItemCaseSensitive(entry, "sha256");
    if (!cJSON_IsString(dir) || !cJSON_IsObject(sums))
        return err_set(e, "%s/manifest.json: a checkpoint entry is malformed", run_dir);
    for (const cJSON *f = sums->child; f; f = f->next) {
        char h[65];
        snprintf(fp, sizeof fp, "%s/%s/%s", run_dir, dir->valuestring, f->string);
        if (file_sha256(fp, h, e) != 0) return err_prefix(e, "checkpoint %s", dir->valuestring);
        if (!cJSON_IsString(f) || strcmp(h, f->valuestring) != 0)
            return err_set(e,
                           "%s: checksum mismatch (sha256 %s, manifest.json says %s): the "
                           "checkpoint is corrupted",
                           fp, h, cJSON_IsString(f) ? f->valuestring : "?");
    }
    return 0;
}

/* The checkpoint to resume from: the newest one named in RUN_DIR/manifest.json, its checksums
 * verified. A corrupted one is refused, naming the file; with `fallback` the newest valid one
 * before it is taken instead, and (rank 0, `rewrite`) the manifest drops the entries after it,
 * listing them under "discarded" with the reason. *ranks gets the rank count it was written
 * on (0 when unknown). */
static int manifest_pick(const char *run_dir, int fallback, int rewrite, int quiet, char *rel,
                         size_t n_rel, int *ranks, Err *e) {
    char path[CFG_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/manifest.json", run_dir);
    size_t n = 0;
    char *text = file_read_all(path, &n, e);
    if (!text)
        return err_prefix(e, "--resume %s: no manifest, so no finished stage to resume from",
                          run_dir);
    cJSON *m = cJSON_ParseWithLength(text, n);
    free(text);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(m, "checkpoints");
    int count = cJSON_GetArraySize(list);
    if (!m || count == 0) {
        cJSON_Delete(m);
        return err_set(e, "%s: names no checkpoint; nothing to resume from", path);
    }
    int pick = -1, rc = 0;
    Err why;
    for (int i = count - 1; i >= 0 && pick < 0; i--) {
        const cJSON *entry = cJSON_GetArrayItem(list, i);
        if (entry_verify(run_dir, entry, &why) == 0) {
            pick = i;
            break;
        }
        if (!fallback) {
            rc = err_set(e,
                         "%s; it is not resumed. Pass --fallback to resume from the newest "
                         "valid checkpoint before it",
                         why.msg);
            break;
        }
        if (!quiet) printf("resume: %s; falling back to the checkpoint before it\n", why.msg);
        if (rewrite) {
            cJSON *gone = cJSON_GetObjectItemCaseSensitive(m, "discarded");
            if (!gone) gone = cJSON_AddArrayToObject(m, "discarded");
            cJSON *g = cJSON_CreateObject();
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(entry, "dir");
            cJSON_AddStringToObject(g, "dir", cJSON_IsString(d) ? d->valuestring : "?");
            cJSON_AddStringToObject(g, "reason", why.msg);
            cJSON_AddItemToArray(gone, g);
        }
    }
    if (rc == 0 && pick < 0)
        rc = err_set(e, "%s: no checkpoint verifies (the newest: %s); nothing to resume from", path,
                     why.msg);
    if (rc == 0) {
        const cJSON *entry = cJSON_GetArrayItem(list, pick);
        snprintf(rel, n_rel, "%s", cJSON_GetObjectItemCaseSensitive(entry, "dir")->valuestring);
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(entry, "ranks");
        if (!cJSON_IsNumber(r)) r = cJSON_GetObjectItemCaseSensitive(m, "ranks");
        *ranks = cJSON_IsNumber(r) ? r->valueint : 0;
        if (rewrite && pick < count - 1) {
            while (cJSON_GetArraySize(list) > pick + 1)
                cJSON_DeleteItemFromArray(list, cJSON_GetArraySize(list) - 1);
            char *out = cJSON_Print(m);
            rc = file_write_atomic(path, out, strlen(out), e);
            free(out);
        }
    }
    cJSON_Delete(m);
    return rc;
}

/* ---- the run --------------------------------------------------------------------------------- */

static int stage_checkpoint(Trainer *tr, TrainState *st, const EvalSums *adapter, Err *e) {
    uint64_t h;
    if (train_ranks_agree(tr, st->step, &h, e) != 0) return -1;
    int failed = 0;
    if (tr->comm->rank == 0) {
        char rel[128], dir[CFG_PATH_MAX + 160];
        if (st->stage_complete)
            snprintf(rel, sizeof rel, "stages/%02d-%s", st->stage, st->stage_name);
        else
            snprintf(rel, sizeof rel, "stages/%02d-%s.step-%06lld", st->stage, st->stage_name,
                     (long long)st->step);
        for (char *p = rel + 10; *p; p++) /* the stage name, made safe for a file name */
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
                *p = '_';
        snprintf(dir, sizeof dir, "%s/%s", tr->cfg->run.dir, rel);
        char *json = adapter ? eval_json_text(tr, adapter, st->stage) : NULL;
        CheckpointContent c = {.lora = &tr->lora,
                               .opt = &tr->opt,
                               .state = *st,
                               .eval_json = json,
                               .peft_base = tr->cfg->model.random ? "" : tr->cfg->model.path};
        c.fault_crash =
            fault_planned(&tr->faults, FAULT_CRASH_WRITE, tr->checkpoints_written + 1, 0);
        failed = checkpoint_write(dir, &c, e) != 0 || manifest_add(tr, rel, st, e) != 0;
        free(json);
        if (!failed && !tr->quiet)
            printf("checkpoint %s (adapter fnv64 %016llx, identical on %d rank%s)\n", dir,
                   (unsigned long long)h, tr->comm->size, tr->comm->size == 1 ? "" : "s");
        if (!failed) failed = train_after_checkpoint(tr, dir, e) != 0;
    }
    return train_checkpoint_agreed(tr, failed);
}

static void log_step(Trainer *tr, const TrainState *st, const StepStats *s, double ms,
                     double t_start, int64_t total) {
    if (tr->comm->rank != 0) return;
    const char *name = tr->cfg->curriculum.stages[tr->stage].name;
    double tok_s = s->weight / (ms / 1000.0);
    fprintf(tr->metrics,
            "{\"step\":%lld,\"stage\":%d,\"stage_name\":\"%s\",\"stage_step\":%lld,\"loss\":%.6f,"
            "\"lr\":%.6g,\"grad_norm\":%.6g,\"tokens\":%lld,\"ms\":%.2f%s}\n",
            (long long)st->step, tr->stage, name, (long long)tr->step_in_stage,
            s->skipped ? 0.0 : s->loss, s->lr, s->skipped ? 0.0 : s->grad_norm,
            (long long)st->tokens_seen, ms, s->skipped ? ",\"skipped\":true" : "");
    fflush(tr->metrics);
    if (s->skipped)
        printf("step %5lld/%lld | %-10s | the loss or a gradient is not finite: step skipped, no "
               "update (optim.nonfinite = \"skip\"; %lld skipped so far)\n",
               (long long)st->step, (long long)total, name, (long long)st->skipped_steps);
    if (!tr->quiet && (st->step % tr->cfg->run.log_every == 0)) {
        double eta = (now_seconds() - t_start) / st->step * (double)(total - st->step);
        printf("step %5lld/%lld | %-10s | loss %.4f | lr %.3e | norm %.3f | %6.0f tok/s | eta "
               "%.0fs\n",
               (long long)st->step, (long long)total, name, s->loss, s->lr, s->grad_norm, tok_s,
               eta > 0 ? eta : 0);
        fflush(stdout);
    }
}

int stages_run(Trainer *tr, const TrainOptions *opt, Err *e) {
    const CurriculumConfig *cc = &tr->cfg->curriculum;
    int64_t total = 0;
    for (int s = 0; s < cc->n_stages; s++) total += cc->stages[s].steps;
    TrainState st = {.seed = tr->cfg->seed, .stage = -1};
    int first_stage = 0;
    int64_t first_k = 0; /* resuming inside a stage that a stop signal interrupted */
    train_install_stop_handlers();

    if (opt->resume) {
        char rel[256], dir[CFG_PATH_MAX + 300];
        int was_ranks = 0, rank0 = tr->comm->rank == 0;
        /* every rank verifies; rank 0 alone rewrites the manifest after a fallback */
        int failed = manifest_pick(tr->cfg->run.dir, opt->fallback, rank0, !rank0, rel, sizeof rel,
                                   &was_ranks, e) != 0;
        if (train_failure_agreed(tr->comm, failed, e) != 0) return -1;
        if (rank0 && was_ranks > 0 && was_ranks != tr->comm->size && !tr->quiet)
            printf("resume: the checkpoint was written on %d rank%s, the run goes on with %d; %s\n",
                   was_ranks, was_ranks == 1 ? "" : "s", tr->comm->size,
                   tr->invariant ? "reproducibility = \"invariant\": the bits stay those of an "
                                   "uninterrupted run"
                                 : "reproducibility = \"rank-count\": from here the bits differ "
                                   "from an uninterrupted run on the old rank count");
        snprintf(dir, sizeof dir, "%s/%s", tr->cfg->run.dir, rel);
        char path[CFG_PATH_MAX + 340];
        snprintf(path, sizeof path, "%s/adapter.safetensors", dir);
        if (checkpoint_read_state(dir, &st, e) != 0 || lora_load(&tr->lora, path, e) != 0 ||
            checkpoint_read_optim(dir, &tr->opt, e) != 0)
            return -1;
        first_stage = st.stage_complete ? st.stage + 1 : st.stage;
        first_k = st.stage_complete ? 0 : st.stage_steps;
        if (tr->comm->rank == 0 && !tr->quiet)
            printf("resume: %s (stage %d '%s', step %lld)\n", dir, st.stage, st.stage_name,
                   (long long)st.step);
    }

    /* the base model's scores: the baseline every table compares against */
    if (stages_eval(tr, 0, -1, tr->base_eval, e) != 0) return -1;
    double t_start = now_seconds();
    for (int s = first_stage; s < cc->n_stages; s++) {
        const StageSpec *sc = &cc->stages[s];
        stages_enter(tr, s);
        int metric_split = -1, metric_which = 0;
        if (sc->until_metric[0] && parse_metric(sc->until_metric, &metric_split, &metric_which))
            return err_set(e, "stage '%s': unknown until metric '%s'", sc->name, sc->until_metric);
        int64_t k = s == first_stage ? first_k : 0;
        for (; k < sc->steps; k++) {
            tr->step_in_stage = k;
            StepStats s_;
            double t0 = now_seconds();
            if (train_step(tr, st.step, &s_, e) != 0) return -1;
            st.step++;
            st.tokens_seen += (int64_t)s_.weight;
            st.loss = s_.loss;
            st.lr = s_.lr;
            st.skipped_steps += s_.skipped;
            log_step(tr, &st, &s_, 1000.0 * (now_seconds() - t0), t_start, total);
            if (fault_planned(&tr->faults, FAULT_SIGNAL, st.step, tr->comm->rank)) raise(SIGUSR1);
            int stop = train_stop_agreed(tr);
            if (stop && k + 1 < sc->steps) {
                st.stage = s;
                st.stage_steps = k + 1;
                st.stage_complete = 0;
                snprintf(st.stage_name, sizeof st.stage_name, "%s", sc->name);
                if (stage_checkpoint(tr, &st, NULL, e) != 0) return -1;
                if (tr->comm->rank == 0)
                    printf("stop requested: checkpoint after step %lld (stage '%s', step %lld of "
                           "%d); resume with --resume %s\n",
                           (long long)st.step, sc->name, (long long)(k + 1), sc->steps,
                           tr->cfg->run.dir);
                fflush(stdout);
                return TRAIN_STOPPED;
            }
            if (metric_split >= 0 && (k + 1) % cc->eval_every == 0 && k + 1 < sc->steps) {
                EvalSums now[EVAL_COUNT];
                if (stages_eval(tr, 1, metric_split, now, e) != 0) return -1;
                EvalMetrics mt = eval_metrics(&now[metric_split]);
                double v = metric_which == 0 ? mt.em : mt.margin;
                if (v >= sc->until_threshold) {
                    if (tr->comm->rank == 0 && !tr->quiet)
                        printf("stage %s: %s = %.3f reached %.3f after %lld steps\n", sc->name,
                               sc->until_metric, v, sc->until_threshold, (long long)(k + 1));
                    k++;
                    break;
                }
            }
        }
        EvalSums adapter[EVAL_COUNT];
        if (stages_eval(tr, 1, -1, adapter, e) != 0) return -1;
        st.stage = s;
        st.stage_steps = k;
        st.stage_complete = 1;
        snprintf(st.stage_name, sizeof st.stage_name, "%s", sc->name);
        if (tr->comm->rank == 0 && !tr->quiet) {
            char title[160];
            snprintf(title, sizeof title, "recall after stage %d '%s' (step %lld):", s, sc->name,
                     (long long)st.step);
            print_eval_table(tr, adapter, title);
        }
        if (stage_checkpoint(tr, &st, adapter, e) != 0) return -1;
    }
    return 0;
}
