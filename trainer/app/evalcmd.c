/*
 * evalcmd.c — `imprint eval`: the recall test outside training.
 *
 *   imprint eval CONFIG [--adapter PATH] [--chains FILE]... [--json OUT] [--set KEY=VALUE]...
 *
 * CONFIG names the base model, its tokenizer and the adapter shape (the training config).
 * --adapter is an adapter.safetensors or a stage directory holding one; without it only the
 * base model is scored. Without --chains, the config's curriculum gives the splits (train,
 * held-out variants, entities, chains: the same seed gives the same splits as training). With
 * --chains, every chain of those library files is scored with every filler tuple in its
 * canonical wording, through the curriculum's own eval-set builder: anyone can test an adapter
 * on chains of their own.
 *
 * It builds what scoring needs — the model, the adapter, the tokenizer, the eval items and a
 * scorer over the ranks — and no trainer.
 */
#define _POSIX_C_SOURCE 200809L
#include "evalcmd.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
#include "scorer.h"
#include "train.h"
#include "weights.h"

/* What scoring needs, built from the config. */
typedef struct EvalRun {
    GPT2 model;
    Lora lora;
    int rows; /* sequences one forward pass takes (as in training, so the bits agree) */
    int32_t *inputs, *targets;
    float *weights;
    Tokenizer *tok;
    ChainLib *lib;
    Curriculum *cur;
    EvalItem *external; /* --chains */
    int n_external;
} EvalRun;

static int eval_rows(const Config *cfg, const Comm *comm) {
    if (cfg->reproducibility == REPRO_INVARIANT)
        return cfg->batch.shard > INVARIANT_EVAL_ROWS ? cfg->batch.shard : INVARIANT_EVAL_ROWS;
    return (int)((cfg->batch.global + comm->size - 1) / comm->size);
}

static int eval_run_build(EvalRun *r, const Config *cfg, const Comm *comm, const EvalOptions *o,
                          Err *e) {
    r->rows = eval_rows(cfg, comm);
    if (train_build_model(&r->model, cfg, r->rows, e) != 0) return -1;
    if (train_build_lora(&r->lora, cfg, &r->model, r->rows, e) != 0) return -1;
    const size_t n = (size_t)r->rows * cfg->batch.seq_len;
    r->inputs = xmalloc(sizeof(int32_t) * n, "eval inputs");
    r->targets = xmalloc(sizeof(int32_t) * n, "eval targets");
    r->weights = xmalloc(sizeof(float) * n, "eval weights");
    if (o->adapter) {
        char path[CFG_PATH_MAX + 64];
        struct stat sb;
        snprintf(path, sizeof path, "%s", o->adapter);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) &&
            path_join(path, sizeof path, e, "%s/adapter.safetensors", o->adapter) != 0)
            return -1;
        if (lora_load(&r->lora, path, e) != 0) return -1;
    }
    char tokdir[CFG_PATH_MAX];
    train_find_tokenizer(cfg, tokdir, sizeof tokdir);
    if (o->n_chains > 0) {
        if (!tokdir[0])
            return err_set(e, "--chains needs the model's tokenizer; set model.tokenizer");
        if (train_load_tokenizer(cfg, tokdir, r->model.cfg.vocab, &r->tok, e) != 0) return -1;
        if (chainlib_load(&r->lib, o->chains, o->n_chains, e) != 0) return -1;
        CurriculumTokenizer ct = train_curriculum_tokenizer(r->tok);
        return curriculum_eval_library(r->lib, &ct, cfg->batch.seq_len, &r->external,
                                       &r->n_external, e);
    }
    if (!cfg->curriculum.enabled)
        return err_set(e,
                       "%s: has no curriculum group, so there are no splits to score; give "
                       "the training config, or --chains FILE",
                       cfg->source);
    if (train_load_tokenizer(cfg, tokdir, r->model.cfg.vocab, &r->tok, e) != 0) return -1;
    const CurriculumConfig *cc = &cfg->curriculum;
    const char *paths[CFG_MAX_LIBRARIES];
    for (int i = 0; i < cc->n_libraries; i++) paths[i] = cc->libraries[i];
    if (chainlib_load(&r->lib, paths, cc->n_libraries, e) != 0) return -1;
    return train_build_curriculum(cfg, r->lib, r->tok, &r->cur, e);
}

static void eval_run_free(EvalRun *r) {
    if (r->external) curriculum_eval_items_free(r->external, r->n_external);
    if (r->cur) curriculum_free(r->cur);
    if (r->lib) chainlib_free(r->lib);
    if (r->tok) tok_free(r->tok);
    xfree(r->inputs);
    xfree(r->targets);
    xfree(r->weights);
    if (r->lora.ad) lora_free(&r->lora);
    if (r->model.params.set.items) gpt2_free(&r->model);
}

/* Every split (or the external set) with the base model and the adapter. Collective. */
static int score(EvalRun *r, const Config *cfg, Comm *comm, ReportRow *rows, int *n_rows, Err *e) {
    const EvalItem *sets[EVAL_COUNT];
    int n_items[EVAL_COUNT];
    if (r->external) {
        sets[0] = r->external;
        n_items[0] = r->n_external;
        rows[0].name = "external";
        *n_rows = 1;
    } else {
        for (int s = 0; s < EVAL_COUNT; s++) {
            sets[s] = curriculum_eval(r->cur, (EvalSplit)s, &n_items[s]);
            rows[s].name = eval_split_name((EvalSplit)s);
        }
        *n_rows = EVAL_COUNT;
    }
    Scorer sc;
    scorer_init(&sc, &r->model, &r->lora, comm, tok_eot(r->tok),
                cfg->reproducibility == REPRO_INVARIANT, r->inputs, r->targets, r->weights, sets,
                n_items, *n_rows);
    int rc = 0;
    for (int i = 0; i < *n_rows && rc == 0; i++) {
        rc = scorer_run(&sc, 0, sets[i], n_items[i], &rows[i].base, e);
        if (rc == 0) rc = scorer_run(&sc, 1, sets[i], n_items[i], &rows[i].adapter, e);
    }
    scorer_free(&sc);
    return rc;
}

static int write_json(const Config *cfg, const EvalOptions *o, const ReportRow *rows, int n,
                      Err *e) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "base_model", cfg->model.random ? "random" : cfg->model.path);
    cJSON_AddStringToObject(j, "adapter", o->adapter ? o->adapter : "");
    report_add_splits(j, rows, n);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = file_write_atomic(o->json, text, strlen(text), e);
    free(text);
    return rc;
}

int eval_command(const Config *cfg, Comm *comm, const EvalOptions *o, Err *e) {
    EvalRun r;
    memset(&r, 0, sizeof r);
    /* a setup failure on one rank is every rank's: all return together */
    int rc = eval_run_build(&r, cfg, comm, o, e) != 0;
    rc = train_failure_agreed(comm, rc, e);
    ReportRow rows[EVAL_COUNT];
    int n_rows = 0;
    if (rc == 0) rc = score(&r, cfg, comm, rows, &n_rows, e);
    if (rc == 0) {
        printf("recall: base %s, adapter %s\n", cfg->model.random ? "random init" : cfg->model.path,
               o->adapter ? o->adapter : "(none: scale 0)");
        report_print_table(stdout, rows, n_rows);
        if (o->json) rc = write_json(cfg, o, rows, n_rows, e);
    }
    eval_run_free(&r);
    return rc;
}
