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
 * canonical wording: anyone can test an adapter on chains of their own.
 */
#define _POSIX_C_SOURCE 200809L
#include "evalcmd.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train.h"
#include "weights.h"

/* Eval items for every (chain, tuple) of a library, canonical wording, with its foils. */
typedef struct ExternalSet {
    EvalItem *items;
    int n;
    int32_t *pool; /* every token array, one allocation */
    const int32_t **foil_ptrs;
    int *foil_lens;
} ExternalSet;

static int tokens_of(const Tokenizer *tok, const char *text, size_t len, int32_t **out, size_t *n,
                     Err *e) {
    return tok_encode(tok, text, len, out, n, e);
}

static int external_build(ExternalSet *x, const ChainLib *lib, const Tokenizer *tok, int32_t eot,
                          Err *e) {
    memset(x, 0, sizeof *x);
    int n_items = 0, n_foils = 0;
    for (int c = 0; c < lib->n_chains; c++) {
        n_items += lib->chains[c].n_tuples;
        n_foils += lib->chains[c].n_tuples * lib->chains[c].n_foils;
    }
    x->items = xmalloc(sizeof(EvalItem) * (size_t)(n_items + 1), "eval items");
    x->foil_ptrs = xmalloc(sizeof(int32_t *) * (size_t)(n_foils + 1), "foil pointers");
    x->foil_lens = xmalloc(sizeof(int) * (size_t)(n_foils + 1), "foil lengths");
    size_t cap = 4096, used = 0;
    int32_t *pool = malloc(sizeof(int32_t) * cap);
    /* offsets first (the pool may move while it grows), pointers at the end */
    size_t *prompt_off = xmalloc(sizeof(size_t) * (size_t)(n_items + 1), "offsets");
    size_t *answer_off = xmalloc(sizeof(size_t) * (size_t)(n_items + 1), "offsets");
    size_t *foil_off = xmalloc(sizeof(size_t) * (size_t)(n_foils + 1), "offsets");
    Rendered r = {0};
    int k = 0, f_at = 0, rc = 0;
    for (int c = 0; c < lib->n_chains && rc == 0; c++) {
        const Chain *ch = &lib->chains[c];
        for (int t = 0; t < ch->n_tuples && rc == 0; t++) {
            for (int f = -1; f < ch->n_foils && rc == 0; f++) {
                RenderSpec spec;
                render_spec_canonical(&spec);
                spec.tuple = t;
                spec.foil = f;
                if ((rc = chain_render(lib, c, &spec, &r, e)) != 0) break;
                int32_t *pre = NULL, *ans = NULL;
                size_t n_pre = 0, n_ans = 0;
                if (f < 0 && (rc = tokens_of(tok, r.text, r.answer_start, &pre, &n_pre, e)) != 0)
                    break;
                rc = tokens_of(tok, r.text + r.answer_start, r.len - r.answer_start, &ans, &n_ans,
                               e);
                if (rc != 0) {
                    free(pre);
                    break;
                }
                size_t need = used + n_pre + n_ans + 1;
                if (need > cap) {
                    cap = 2 * need;
                    int32_t *grown = realloc(pool, sizeof(int32_t) * cap);
                    if (!grown) fatal("out of memory building eval items");
                    pool = grown;
                }
                if (f < 0) {
                    EvalItem *it = &x->items[k];
                    memset(it, 0, sizeof *it);
                    it->chain = c;
                    it->tuple = t;
                    it->n_prompt = (int)n_pre + 1;
                    it->n_answer = (int)n_ans;
                    it->n_foils = ch->n_foils;
                    prompt_off[k] = used;
                    pool[used++] = eot;
                    memcpy(pool + used, pre, sizeof(int32_t) * n_pre);
                    used += n_pre;
                    answer_off[k] = used;
                } else {
                    foil_off[f_at] = used;
                    x->foil_lens[f_at++] = (int)n_ans;
                }
                memcpy(pool + used, ans, sizeof(int32_t) * n_ans);
                used += n_ans;
                free(pre);
                free(ans);
            }
            k++;
        }
    }
    rendered_free(&r);
    if (rc == 0) {
        int fa = 0;
        for (int i = 0; i < k; i++) {
            x->items[i].prompt = pool + prompt_off[i];
            x->items[i].answer = pool + answer_off[i];
            for (int f = 0; f < x->items[i].n_foils; f++)
                x->foil_ptrs[fa + f] = pool + foil_off[fa + f];
            x->items[i].foils = x->foil_ptrs + fa;
            x->items[i].n_foil = x->foil_lens + fa;
            fa += x->items[i].n_foils;
        }
    }
    x->pool = pool;
    x->n = k;
    xfree(prompt_off);
    xfree(answer_off);
    xfree(foil_off);
    return rc;
}

static void external_free(ExternalSet *x) {
    free(x->pool);
    xfree(x->items);
    xfree(x->foil_ptrs);
    xfree(x->foil_lens);
}

/* ---- output ---------------------------------------------------------------------------------- */

static void add_metrics(cJSON *parent, const char *key, const EvalSums *s) {
    EvalMetrics m = eval_metrics(s);
    cJSON *x = cJSON_AddObjectToObject(parent, key);
    cJSON_AddNumberToObject(x, "n", m.n);
    cJSON_AddNumberToObject(x, "em", m.em);
    cJSON_AddNumberToObject(x, "nll", m.nll);
    cJSON_AddNumberToObject(x, "greedy", m.greedy);
    cJSON_AddNumberToObject(x, "margin", m.margin);
}

static void print_row(const char *name, const EvalSums *base, const EvalSums *ad) {
    EvalMetrics b = eval_metrics(base), a = eval_metrics(ad);
    printf("  %-17s %4d | %5.1f%% -> %5.1f%% | %5.1f%% -> %5.1f%% | %+6.3f -> %+6.3f\n", name, a.n,
           100 * b.em, 100 * a.em, 100 * b.greedy, 100 * a.greedy, b.margin, a.margin);
}

/* ---- the command ----------------------------------------------------------------------------- */

int eval_command(const Config *cfg, Comm *comm, const EvalOptions *o, Err *e) {
    Trainer tr;
    TrainOptions topt = {.quiet = 1};
    int rc = train_setup(&tr, cfg, comm, &topt, 0, e);
    char path[CFG_PATH_MAX + 64];
    if (rc == 0 && o->adapter) {
        struct stat sb;
        snprintf(path, sizeof path, "%s", o->adapter);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            snprintf(path, sizeof path, "%s/adapter.safetensors", o->adapter);
        rc = lora_load(&tr.lora, path, e);
    }
    EvalSums base[EVAL_COUNT + 1], ad[EVAL_COUNT + 1];
    const char *names[EVAL_COUNT + 1];
    int n_rows = 0;
    ExternalSet ext = {0};
    ChainLib *lib = NULL;
    if (rc == 0 && o->n_chains > 0) {
        if (!tr.tok) {
            if (!tr.tokenizer[0])
                rc = err_set(e, "--chains needs the model's tokenizer; set model.tokenizer");
            else
                rc = tok_load_dir(&tr.tok, tr.tokenizer, e);
            if (rc == 0) tr.eot = tok_eot(tr.tok);
        }
        if (rc == 0) rc = chainlib_load(&lib, o->chains, o->n_chains, e);
        if (rc == 0) rc = external_build(&ext, lib, tr.tok, tr.eot, e);
        for (int k = 0; k < 2 && rc == 0; k++) {
            const float keep = tr.lora.scale;
            if (k == 0) tr.lora.scale = 0.0f;
            rc = eval_items(&tr.model, &tr.lora, ext.items, 0, ext.n, tr.eot, tr.inputs, tr.targets,
                            tr.weights, k == 0 ? &base[0] : &ad[0], e);
            tr.lora.scale = keep;
        }
        names[0] = "external";
        n_rows = 1;
    } else if (rc == 0) {
        if (!tr.cur)
            rc = err_set(e,
                         "%s: has no curriculum group, so there are no splits to score; give "
                         "the training config, or --chains FILE",
                         cfg->source);
        if (rc == 0) rc = stages_eval(&tr, 0, -1, base, e);
        if (rc == 0) rc = stages_eval(&tr, 1, -1, ad, e);
        for (int s = 0; s < EVAL_COUNT; s++) names[s] = eval_split_name((EvalSplit)s);
        n_rows = EVAL_COUNT;
    }
    if (rc == 0) {
        printf("recall: base %s, adapter %s\n", cfg->model.random ? "random init" : cfg->model.path,
               o->adapter ? o->adapter : "(none: scale 0)");
        printf("  %-17s %4s | %-17s | %-17s | %-17s\n", "split", "n", "exact match",
               "greedy tokens", "margin");
        printf("  %-17s %4s | %-17s | %-17s | %-17s\n", "", "", "base -> adapter",
               "base -> adapter", "base -> adapter");
        for (int s = 0; s < n_rows; s++) print_row(names[s], &base[s], &ad[s]);
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "base_model",
                                    cfg->model.random ? "random" : cfg->model.path);
            cJSON_AddStringToObject(j, "adapter", o->adapter ? o->adapter : "");
            cJSON *splits = cJSON_AddObjectToObject(j, "splits");
            for (int s = 0; s < n_rows; s++) {
                cJSON *sp = cJSON_AddObjectToObject(splits, names[s]);
                add_metrics(sp, "base", &base[s]);
                add_metrics(sp, "adapter", &ad[s]);
            }
            char *text = cJSON_Print(j);
            cJSON_Delete(j);
            rc = file_write_atomic(o->json, text, strlen(text), e);
            free(text);
        }
    }
    if (lib) chainlib_free(lib);
    external_free(&ext);
    train_teardown(&tr);
    return rc;
}
