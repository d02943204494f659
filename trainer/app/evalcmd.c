/*
 * evalcmd.c — `imprint eval`: the recall test outside training.
 *
 *   imprint eval CONFIG [--adapter PATH] [--chains FILE]... [--json OUT|-] [--items OUT|-]
 *                [--set KEY=VALUE]...
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
 * --json - writes them to stdout, and the table goes to stderr. --items OUT writes one JSON line
 * per scored item (items.h: the prompt, the answer, each model's greedy completion, per-token
 * correctness, NLL, margin, exact match); --items - writes them to stdout (not together with
 * --json -). The table is followed by the breakdown by logical form, which the JSON holds as
 * "forms".
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

#include "adapter_arg.h"
#include "items.h"
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
    /* what was scored: the splits (or the external set), their items and records */
    int n_sets;
    const EvalItem *sets[EVAL_COUNT];
    int n_items[EVAL_COUNT];
    EvalRecords base_rec[EVAL_COUNT], adapter_rec[EVAL_COUNT];
    EvalSums base_forms[EVAL_COUNT][FORM_COUNT], adapter_forms[EVAL_COUNT][FORM_COUNT];
} EvalRun;

/* The adapters the file describes, loaded from it: the config's lora.alpha and lora.rslora only
 * where the file does not state them. */
static int build_adapter(EvalRun *r, const Config *cfg, Err *e) {
    LoraSpec fallback = {.alpha = (float)cfg->lora.alpha, .rslora = cfg->lora.rslora};
    return adapter_open(&r->lora, r->adapter, &r->model, r->rows * cfg->batch.seq_len, &fallback,
                        cfg->seed, cfg->model.random ? "(random init)" : cfg->model.path,
                        &r->adapter_step, e);
}

static int eval_run_build(EvalRun *r, const Config *cfg, const Comm *comm, const EvalOptions *o,
                          Err *e) {
    r->rows = train_model_rows(cfg, comm->size); /* as in training: the same bits */
    r->adapter_step = -1;
    if (o->adapter) {
        r->has_adapter = 1;
        if (adapter_resolve(o->adapter, r->adapter, sizeof r->adapter, e) != 0) return -1;
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
    for (int i = 0; i < r->n_sets; i++) {
        eval_records_free(&r->base_rec[i]);
        eval_records_free(&r->adapter_rec[i]);
    }
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
 * one, with every item's record (greedy completions too for --items) and the sums per form.
 * Collective. */
static int score(EvalRun *r, const Config *cfg, Comm *comm, const EvalOptions *o, ReportRow *rows,
                 Err *e) {
    memset(rows, 0, sizeof(ReportRow) * EVAL_COUNT);
    if (r->external) {
        r->sets[0] = r->external;
        r->n_items[0] = r->n_external;
        rows[0].name = "external";
        r->n_sets = 1;
    } else {
        for (int s = 0; s < EVAL_COUNT; s++) {
            r->sets[s] = curriculum_eval(r->cur, (EvalSplit)s, &r->n_items[s]);
            rows[s].name = eval_split_name((EvalSplit)s);
        }
        r->n_sets = EVAL_COUNT;
    }
    for (int i = 0; i < r->n_sets; i++) {
        eval_records_init(&r->base_rec[i], r->sets[i], r->n_items[i], o->items != NULL);
        eval_records_init(&r->adapter_rec[i], r->sets[i], r->n_items[i], o->items != NULL);
    }
    Scorer sc;
    scorer_init(&sc, &r->model, r->has_adapter ? &r->lora : NULL, comm, tok_eot(r->tok),
                cfg->reproducibility == REPRO_INVARIANT, r->inputs, r->targets, r->weights, r->sets,
                r->n_items, r->n_sets);
    int rc = 0;
    for (int i = 0; i < r->n_sets && rc == 0; i++) {
        ReportRow *row = &rows[i];
        row->base_only = !r->has_adapter;
        rc = scorer_run(&sc, 0, r->sets[i], r->n_items[i], &row->base, &r->base_rec[i], e);
        if (rc == 0 && r->has_adapter)
            rc =
                scorer_run(&sc, 1, r->sets[i], r->n_items[i], &row->adapter, &r->adapter_rec[i], e);
        if (rc != 0) break;
        eval_form_sums(&r->base_rec[i], r->sets[i], r->n_items[i], r->lib, r->base_forms[i]);
        row->base_forms = r->base_forms[i];
        if (r->has_adapter) {
            eval_form_sums(&r->adapter_rec[i], r->sets[i], r->n_items[i], r->lib,
                           r->adapter_forms[i]);
            row->adapter_forms = r->adapter_forms[i];
        }
    }
    scorer_free(&sc);
    return rc;
}

/* An output path (--json, --items) is refused before the eval runs when its directory is missing
 * or not writable (naming the path the user gave). */
static int check_out_path(const char *opt, const char *path, Err *e) {
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
        return err_set(e, "%s %s: the directory %s does not exist; create it or give another path",
                       opt, path, dir);
    if (access(dir, W_OK) != 0)
        return err_set(e, "%s %s: cannot write in %s: %s", opt, path, dir, strerror(errno));
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return err_set(e, "%s %s: is a directory; give a file name", opt, path);
    return 0;
}

/* A --json path is refused before the work starts when its directory is missing or not
 * writable ("-" is stdout). */
int json_out_check(const char *path, Err *e) {
    return strcmp(path, "-") == 0 ? 0 : check_out_path("--json", path, e);
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
    report_add_forms(j, rows, n);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = json_out_write(o->json, text, e);
    free(text);
    return rc;
}

static int write_items(const EvalOptions *o, const EvalRun *r, const ReportRow *rows, Err *e) {
    ItemsSet sets[EVAL_COUNT];
    for (int i = 0; i < r->n_sets; i++)
        sets[i] = (ItemsSet){rows[i].name,    !r->external && i == EVAL_HELDOUT_VARIANTS,
                             r->sets[i],      r->n_items[i],
                             &r->base_rec[i], r->has_adapter ? &r->adapter_rec[i] : NULL};
    size_t len = 0;
    char *text = items_jsonl(sets, r->n_sets, r->lib, r->tok, &len, e);
    if (!text) return -1;
    int rc = 0;
    if (strcmp(o->items, "-") != 0)
        rc = file_write_atomic(o->items, text, len, e);
    else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
        rc = err_set(e, "--items -: cannot write to stdout: %s", strerror(errno));
    xfree(text);
    return rc;
}

int eval_command(const Config *cfg, Comm *comm, const EvalOptions *o, Err *e) {
    EvalRun r;
    memset(&r, 0, sizeof r);
    const int json_stdout = o->json && !strcmp(o->json, "-");
    const int items_stdout = o->items && !strcmp(o->items, "-");
    /* a setup failure on one rank is every rank's: all return together, printed once */
    int rc = 0;
    if (json_stdout && items_stdout)
        rc = err_set(e, "--json - and --items - both want stdout; give one of them a file") != 0;
    if (rc == 0 && o->json && !json_stdout) rc = check_out_path("--json", o->json, e) != 0;
    if (rc == 0 && o->items && !items_stdout) rc = check_out_path("--items", o->items, e) != 0;
    if (rc == 0) rc = eval_run_build(&r, cfg, comm, o, e) != 0;
    rc = train_failure_agreed(comm, rc, e);
    ReportRow rows[EVAL_COUNT];
    if (rc == 0) rc = score(&r, cfg, comm, o, rows, e);
    if (rc == 0 && comm->rank == 0) {
        FILE *out = json_stdout || items_stdout ? stderr : stdout; /* stdout is the data's */
        fprintf(out, "recall: base %s, ", cfg->model.random ? "random init" : cfg->model.path);
        char targets[8];
        lora_targets_text(targets, sizeof targets, r.lora.spec.targets);
        if (r.has_adapter)
            fprintf(out, "adapter %s (rank %d, alpha %g, targets %s, layers %d-%d%s)\n", r.adapter,
                    r.lora.spec.rank, (double)r.lora.spec.alpha, targets, r.lora.spec.layer_first,
                    r.lora.spec.layer_last, r.lora.spec.rslora ? ", rslora" : "");
        else
            fprintf(out, "no adapter (the base model alone)\n");
        report_print_table(out, rows, r.n_sets);
        fprintf(out, "\n");
        report_print_forms(out, rows, r.n_sets);
        fflush(out);
        if (o->json) rc = write_json(cfg, o, &r, rows, r.n_sets, e);
        if (rc == 0 && o->items) rc = write_items(o, &r, rows, e);
    }
    eval_run_free(&r);
    return rc;
}
