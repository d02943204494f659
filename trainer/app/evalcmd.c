/*
 * evalcmd.c — `imprint eval`: the recall test outside training.
 *
 *   imprint eval CONFIG [--adapter PATH] [--chains FILE]... [--json OUT|-] [--set KEY=VALUE]...
 *
 * CONFIG names the base model, its tokenizer and the splits (the training config).
 * --adapter is a run directory (the newest finished stage its manifest names), a stage
 * directory, or an adapter.safetensors. The adapter's shape (rank, alpha, rslora, targets,
 * layers) is read from the file's metadata; the config's lora group is not needed (alpha and
 * rslora come from it only for a file that does not state them). Without --adapter, only the
 * base model is scored, once. Without --chains, the config's curriculum gives the splits (train,
 * held-out variants, entities, chains: the same seed gives the same splits as training). With
 * --chains, every chain of those library files is scored with every filler tuple in its
 * canonical wording, through the curriculum's own eval-set builder: anyone can test an adapter
 * on chains of their own.
 *
 * --json OUT writes the results as JSON (a missing directory is refused before anything runs);
 * --json - writes them to stdout, and the table goes to stderr.
 *
 * It builds what scoring needs — the model, the adapter, the tokenizer, the eval items and a
 * scorer over the ranks — and no trainer.
 */
#define _POSIX_C_SOURCE 200809L
#include "evalcmd.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "report.h"
#include "scorer.h"
#include "train.h"
#include "weights.h"

/* What scoring needs, built from the config. */
typedef struct EvalRun {
    GPT2 model;
    Lora lora;                        /* built from the adapter's metadata; none without one */
    int has_adapter;                  /* --adapter given */
    char adapter[CFG_PATH_MAX + 320]; /* the adapter file scored */
    long long adapter_step;           /* the step it was saved at; -1 when it does not say */
    int rows; /* sequences one forward pass takes (as in training, so the bits agree) */
    int32_t *inputs, *targets;
    float *weights;
    Tokenizer *tok;
    ChainLib *lib;
    Curriculum *cur;
    EvalItem *external; /* --chains */
    int n_external;
} EvalRun;

/* --adapter: a run directory (the newest finished stage its manifest names), a stage directory
 * (its adapter.safetensors), or an adapter file. */
static int resolve_adapter(const char *arg, char *path, size_t n, Err *e) {
    struct stat sb;
    char probe[CFG_PATH_MAX + 64], rel[256];
    if (stat(arg, &sb) != 0)
        return err_set(e,
                       "--adapter %s: %s; give a run directory, a stage directory or an "
                       "adapter.safetensors",
                       arg, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(path, n, "%s", arg);
        return 0;
    }
    if (path_join(probe, sizeof probe, e, "%s/manifest.json", arg) != 0) return -1;
    if (stat(probe, &sb) == 0) { /* a run directory */
        if (manifest_pick_stage(arg, rel, sizeof rel, e) != 0) return -1;
        return path_join(path, n, e, "%s/%s/adapter.safetensors", arg, rel);
    }
    return path_join(path, n, e, "%s/adapter.safetensors", arg);
}

/* The adapters the file describes (rank, targets, layers, alpha, rslora from its metadata; the
 * config's lora.alpha and lora.rslora only where the file does not say), loaded from it. */
static int build_adapter(EvalRun *r, const Config *cfg, Err *e) {
    LoraSpec spec;
    int has_scale = 0;
    if (lora_read_spec(r->adapter, &spec, &has_scale, &r->adapter_step, e) != 0) return -1;
    if (!has_scale) {
        spec.alpha = (float)cfg->lora.alpha;
        spec.rslora = cfg->lora.rslora;
    }
    spec.dropout = 0.0f; /* eval: no dropout */
    if (lora_spec_check(&spec, r->model.cfg.n_layer, e) != 0)
        return err_prefix(e, "%s: the adapter does not fit the model %s", r->adapter,
                          cfg->model.random ? "(random init)" : cfg->model.path);
    lora_build(&r->lora, &spec, r->model.cfg.n_layer, r->model.cfg.n_embd,
               r->rows * cfg->batch.seq_len, cfg->seed);
    return lora_load(&r->lora, r->adapter, e);
}

static int eval_run_build(EvalRun *r, const Config *cfg, const Comm *comm, const EvalOptions *o,
                          Err *e) {
    r->rows = train_model_rows(cfg, comm->size); /* as in training: the same bits */
    r->adapter_step = -1;
    if (o->adapter) {
        r->has_adapter = 1;
        if (resolve_adapter(o->adapter, r->adapter, sizeof r->adapter, e) != 0) return -1;
    }
    if (train_build_model(&r->model, cfg, r->rows, e) != 0) return -1;
    const size_t n = (size_t)r->rows * cfg->batch.seq_len;
    r->inputs = xmalloc(sizeof(int32_t) * n, "eval inputs");
    r->targets = xmalloc(sizeof(int32_t) * n, "eval targets");
    r->weights = xmalloc(sizeof(float) * n, "eval weights");
    if (r->has_adapter && build_adapter(r, cfg, e) != 0) return -1;
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
    if (train_load_library(cfg, &r->lib, e) != 0) return -1;
    return train_build_curriculum(cfg, r->lib, r->tok, r->model.cfg.n_ctx, &r->cur, e);
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

/* Every split (or the external set) with the base model, and with the adapter when there is
 * one. Collective. */
static int score(EvalRun *r, const Config *cfg, Comm *comm, ReportRow *rows, int *n_rows, Err *e) {
    const EvalItem *sets[EVAL_COUNT];
    int n_items[EVAL_COUNT];
    memset(rows, 0, sizeof(ReportRow) * EVAL_COUNT);
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
    scorer_init(&sc, &r->model, r->has_adapter ? &r->lora : NULL, comm, tok_eot(r->tok),
                cfg->reproducibility == REPRO_INVARIANT, r->inputs, r->targets, r->weights, sets,
                n_items, *n_rows);
    int rc = 0;
    for (int i = 0; i < *n_rows && rc == 0; i++) {
        rows[i].base_only = !r->has_adapter;
        rc = scorer_run(&sc, 0, sets[i], n_items[i], &rows[i].base, e);
        if (rc == 0 && r->has_adapter)
            rc = scorer_run(&sc, 1, sets[i], n_items[i], &rows[i].adapter, e);
    }
    scorer_free(&sc);
    return rc;
}

/* A --json path is refused before the work starts when its directory is missing or not
 * writable (naming the path the user gave). */
int json_out_check(const char *path, Err *e) {
    if (!strcmp(path, "-")) return 0;
    char dir[CFG_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return err_set(e,
                       "--json %s: the directory %s does not exist; create it or give another path",
                       path, dir);
    if (access(dir, W_OK) != 0)
        return err_set(e, "--json %s: cannot write in %s: %s", path, dir, strerror(errno));
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return err_set(e, "--json %s: is a directory; give a file name", path);
    return 0;
}

int json_out_write(const char *path, const char *text, Err *e) {
    if (strcmp(path, "-") != 0) return file_write_atomic(path, text, strlen(text), e);
    if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        return err_set(e, "--json -: cannot write to stdout: %s", strerror(errno));
    return 0;
}

static int write_json(const Config *cfg, const EvalOptions *o, const EvalRun *r,
                      const ReportRow *rows, int n, Err *e) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "base_model", cfg->model.random ? "random" : cfg->model.path);
    if (r->has_adapter)
        cJSON_AddStringToObject(j, "adapter", r->adapter);
    else
        cJSON_AddNullToObject(j, "adapter");
    if (r->adapter_step >= 0)
        cJSON_AddNumberToObject(j, "step", (double)r->adapter_step);
    else
        cJSON_AddNullToObject(j, "step"); /* no adapter, or it does not say */
    cJSON_AddStringToObject(j, "metrics", REPORT_METRICS_NOTE);
    report_add_splits(j, rows, n);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = json_out_write(o->json, text, e);
    free(text);
    return rc;
}

int eval_command(const Config *cfg, Comm *comm, const EvalOptions *o, Err *e) {
    EvalRun r;
    memset(&r, 0, sizeof r);
    const int json_stdout = o->json && !strcmp(o->json, "-");
    /* a setup failure on one rank is every rank's: all return together, printed once */
    int rc = o->json && json_out_check(o->json, e) != 0;
    if (rc == 0) rc = eval_run_build(&r, cfg, comm, o, e) != 0;
    rc = train_failure_agreed(comm, rc, e);
    ReportRow rows[EVAL_COUNT];
    int n_rows = 0;
    if (rc == 0) rc = score(&r, cfg, comm, rows, &n_rows, e);
    if (rc == 0 && comm->rank == 0) {
        FILE *out = json_stdout ? stderr : stdout; /* stdout is the JSON's */
        fprintf(out, "recall: base %s, ", cfg->model.random ? "random init" : cfg->model.path);
        char targets[8];
        lora_targets_text(targets, sizeof targets, r.lora.spec.targets);
        if (r.has_adapter)
            fprintf(out, "adapter %s (rank %d, alpha %g, targets %s, layers %d-%d%s)\n", r.adapter,
                    r.lora.spec.rank, (double)r.lora.spec.alpha, targets, r.lora.spec.layer_first,
                    r.lora.spec.layer_last, r.lora.spec.rslora ? ", rslora" : "");
        else
            fprintf(out, "no adapter (the base model alone)\n");
        report_print_table(out, rows, n_rows);
        fflush(out);
        if (o->json) rc = write_json(cfg, o, &r, rows, n_rows, e);
    }
    eval_run_free(&r);
    return rc;
}
