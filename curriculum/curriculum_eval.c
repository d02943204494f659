/*
 * curriculum_eval.c — the eval sets of a curriculum (curriculum.h, EvalSplit) and of a bare
 * library (curriculum_eval_library): every item rendered, tokenized and checked to fit a row.
 */
#include "curriculum.h"
#include "curriculum_internal.h"

#include <stdlib.h>
#include <string.h>

void cur_eval_item_free(EvalItem *it) {
    xfree((void *)it->text);
    xfree((void *)it->prompt);
    xfree((void *)it->answer);
    for (int k = 0; k < it->n_foils; k++) xfree((void *)it->foils[k]);
    xfree((void *)it->foils);
    xfree((void *)it->n_foil);
}

/* Tokenizes text[0..len) behind a leading EOT (lead = 1) or not. */
static int tokens_of(const CurriculumTokenizer *tok, const char *text, size_t len, int lead,
                     int32_t **ids, int *n, Err *e) {
    int32_t *raw;
    int n_raw;
    if (tokenize_alloc(tok->tokenize, tok->ctx, text, len, &raw, &n_raw, e) != 0) return -1;
    *ids = xmalloc(sizeof **ids * (size_t)(n_raw + lead), "eval tokens");
    if (lead) (*ids)[0] = tok->eot;
    if (n_raw) memcpy(*ids + lead, raw, sizeof *raw * (size_t)n_raw);
    *n = n_raw + lead;
    xfree(raw);
    return 0;
}

/* Adds the eval item of chain `chain` rendered by spec, with its foils, to set; every rendering
 * must fit a row of seq_len + 1 tokens. */
static int eval_add(const ChainLib *lib, const CurriculumSpec *sp, const CurriculumTokenizer *tok,
                    EvalSet *set, int chain, const RenderSpec *spec, double volatility, Err *e) {
    const Chain *ch = &lib->chains[chain];
    EvalItem *it = &set->items[set->n_items];
    memset(it, 0, sizeof *it);
    Rendered r = {0}, fr = {0};
    int32_t *prompt = NULL, *answer = NULL;
    int rc = chain_render(lib, chain, spec, &r, e);
    if (rc == 0) rc = tokens_of(tok, r.text, r.answer_start, 1, &prompt, &it->n_prompt, e);
    if (rc == 0)
        rc = tokens_of(tok, r.text + r.answer_start, r.len - r.answer_start, 0, &answer,
                       &it->n_answer, e);
    it->prompt = prompt;
    it->answer = answer;
    const int seq_len = sp->seq_len;
    char what[64];
    snprintf(what, sizeof what, "eval, tuple %d", spec->tuple);
    if (rc == 0 && it->n_prompt + it->n_answer > seq_len + 1)
        rc = cur_too_long(sp, ch->id, what, it->n_prompt + it->n_answer - 1, e);
    if (rc == 0) {
        it->chain = chain;
        it->tuple = spec->tuple;
        it->volatility = volatility;
        char *text = xmalloc(r.len + 1, "eval text");
        memcpy(text, r.text, r.len + 1);
        it->text = text;
        it->answer_start = r.answer_start;
        int32_t **foils = xmalloc(sizeof *foils * (size_t)(ch->n_foils + 1), "eval foils");
        int *n_foil = xmalloc(sizeof *n_foil * (size_t)(ch->n_foils + 1), "eval foils");
        it->foils = (const int32_t *const *)foils;
        it->n_foil = n_foil;
        for (int k = 0; rc == 0 && k < ch->n_foils; k++) {
            RenderSpec fs = *spec;
            fs.foil = k;
            rc = chain_render(lib, chain, &fs, &fr, e);
            if (rc == 0 &&
                (fr.answer_start != r.answer_start || memcmp(fr.text, r.text, r.answer_start) != 0))
                rc = err_set(e, "chain \"%s\": foil %d renders a different prompt; internal error",
                             ch->id, k + 1);
            if (rc == 0)
                rc = tokens_of(tok, fr.text + fr.answer_start, fr.len - fr.answer_start, 0,
                               &foils[k], &n_foil[k], e);
            if (rc == 0) it->n_foils++;
            if (rc == 0 && it->n_prompt + n_foil[k] > seq_len + 1) {
                snprintf(what, sizeof what, "eval, tuple %d, foil %d", spec->tuple, k + 1);
                rc = cur_too_long(sp, ch->id, what, it->n_prompt + n_foil[k] - 1, e);
            }
        }
    }
    rendered_free(&r);
    rendered_free(&fr);
    set->n_items++; /* freed with the set even on failure */
    return rc;
}

/* Exclusion of training texts for held-out variants: sorted (hash, text) pairs. */
typedef struct TextKey {
    uint64_t hash;
    const char *text;
} TextKey;

typedef struct TextSet {
    TextKey *keys;
    size_t n;
} TextSet;

static int textkey_cmp(const void *a, const void *b) {
    const TextKey *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return strcmp(x->text, y->text);
}

static void textset_build(const Curriculum *c, TextSet *s) {
    s->n = 0;
    for (int p = 0; p < c->n_pools; p++) s->n += (size_t)c->pools[p].n_items;
    s->keys = xmalloc(sizeof *s->keys * (s->n + 1), "training texts");
    size_t k = 0;
    for (int p = 0; p < c->n_pools; p++)
        for (int i = 0; i < c->pools[p].n_items; i++) {
            const char *t = c->pools[p].texts + c->pools[p].items[i].text_off;
            s->keys[k++] = (TextKey){hash_fnv1a64(t, strlen(t), 0), t};
        }
    qsort(s->keys, s->n, sizeof *s->keys, textkey_cmp);
}

static int textset_has(void *ctx, const char *text, size_t len) {
    const TextSet *s = ctx;
    uint64_t h = hash_fnv1a64(text, len, 0);
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->keys[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < s->n && s->keys[lo].hash == h; lo++)
        if (strlen(s->keys[lo].text) == len && memcmp(s->keys[lo].text, text, len) == 0) return 1;
    return 0;
}

int cur_heldout_entity_draws(const CurriculumSpec *sp) {
    return sp->heldout_entity_draws > 0 ? sp->heldout_entity_draws : 1;
}

/* Items of a chain in canonical wording, one per tuple (heldout_chains, eval_library); a typed
 * chain without fillers has CHAIN_MIN_TUPLES of them. */
static int n_tuple_items(const Chain *ch) {
    return ch->n_typed > 0 && !ch->has_fillers ? CHAIN_MIN_TUPLES : ch->n_tuples;
}

/* Item k of those: tuple k, typed slots with training draw k under seed. */
static void tuple_item_spec(const ChainLib *lib, int chain, uint64_t seed, int k, RenderSpec *s) {
    render_spec_canonical(s);
    s->tuple = lib->chains[chain].has_fillers ? k : 0;
    chain_draw_entities(lib, chain, seed, LEX_TRAIN, (uint64_t)k, s);
}

int cur_build_evals(Curriculum *c, const CurriculumTokenizer *tok, Err *e) {
    const ChainLib *lib = c->lib;
    int per_chain = c->spec.heldout_variants_per_chain ? c->spec.heldout_variants_per_chain : 2;
    int draws = cur_heldout_entity_draws(&c->spec);
    int max_items = 0;
    for (int ch = 0; ch < lib->n_chains; ch++)
        if (n_tuple_items(&lib->chains[ch]) > max_items)
            max_items = n_tuple_items(&lib->chains[ch]);
    int cap[EVAL_COUNT] = {c->n_train, c->n_train * per_chain, c->n_train * draws,
                           c->n_heldout * max_items};
    for (int s = 0; s < EVAL_COUNT; s++)
        c->evals[s].items = xmalloc(sizeof(EvalItem) * (size_t)(cap[s] + 1), "eval items");

    TextSet trained;
    textset_build(c, &trained);
    Variant *vars = xmalloc(sizeof *vars * (size_t)per_chain, "held-out variants");
    BandQuery q = {c->spec.heldout_variant_band_lo,
                   c->spec.heldout_variant_band_hi,
                   per_chain,
                   c->spec.seed,
                   VARIANT_PURPOSE_HELDOUT,
                   0,
                   textset_has,
                   &trained};
    int rc = 0;
    for (int ch = 0; rc == 0 && ch < lib->n_chains; ch++) {
        const Chain *chain = &lib->chains[ch];
        RenderSpec spec;
        if (c->heldout[ch]) { /* typed slots: training-partition draws */
            for (int t = 0; rc == 0 && t < n_tuple_items(chain); t++) {
                tuple_item_spec(lib, ch, c->spec.seed, t, &spec);
                rc = eval_add(lib, &c->spec, tok, &c->evals[EVAL_HELDOUT_CHAINS], ch, &spec, 0, e);
            }
            continue;
        }
        variant_canonical(lib, ch, c->spec.seed, &spec);
        rc = eval_add(lib, &c->spec, tok, &c->evals[EVAL_TRAIN], ch, &spec, 0, e);
        spec.tuple = chain->n_tuples - 1; /* the held-out tuple (a typed chain's only one) */
        for (int k = 0; rc == 0 && k < (chain->n_typed > 0 ? draws : 1); k++) {
            chain_draw_entities(lib, ch, c->spec.seed, LEX_HELDOUT, (uint64_t)k, &spec);
            rc = eval_add(lib, &c->spec, tok, &c->evals[EVAL_HELDOUT_ENTITIES], ch, &spec, 0, e);
        }
        int found = 0;
        if (rc == 0) rc = variants_for_band(lib, ch, &q, tok->tokenize, tok->ctx, vars, &found, e);
        for (int k = 0; rc == 0 && k < found; k++)
            rc = eval_add(lib, &c->spec, tok, &c->evals[EVAL_HELDOUT_VARIANTS], ch, &vars[k].spec,
                          vars[k].volatility, e);
        variants_free(vars, found);
    }
    xfree(vars);
    xfree(trained.keys);
    return rc;
}

int curriculum_eval_library(const ChainLib *lib, const CurriculumTokenizer *tok, int seq_len,
                            EvalItem **items, int *n_items, Err *e) {
    int n = 0;
    for (int ch = 0; ch < lib->n_chains; ch++) n += n_tuple_items(&lib->chains[ch]);
    EvalSet set = {xmalloc(sizeof(EvalItem) * (size_t)(n + 1), "eval items"), 0};
    int rc = 0;
    const CurriculumSpec sp = {.seq_len = seq_len};
    for (int ch = 0; rc == 0 && ch < lib->n_chains; ch++)
        for (int t = 0; rc == 0 && t < n_tuple_items(&lib->chains[ch]); t++) {
            RenderSpec spec;
            tuple_item_spec(lib, ch, 0, t, &spec); /* typed slots: training draws, seed 0 */
            rc = eval_add(lib, &sp, tok, &set, ch, &spec, 0, e);
        }
    *items = set.items;
    *n_items = set.n_items;
    return rc;
}

void curriculum_eval_items_free(EvalItem *items, int n) {
    for (int i = 0; i < n; i++) cur_eval_item_free(&items[i]);
    xfree(items);
}
