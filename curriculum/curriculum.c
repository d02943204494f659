/*
 * curriculum.c — spec validation, splits, pools (all built once; the eval sets are built by
 * curriculum_eval.c, the typed-slot checks by curriculum_typed.c), then the pure per-sample
 * functions that draw a pool item and write a row.
 */
#include "curriculum.h"
#include "curriculum_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define HELDOUT_CHAIN_FRACTION 0.10

/* ---- spec validation ------------------------------------------------------------------------ */

static int band_ok(double lo, double hi) {
    return isfinite(lo) && isfinite(hi) && lo >= 0 && hi <= 1 && lo <= hi;
}

static int validate(const CurriculumSpec *s, const CurriculumTokenizer *tok, Err *e) {
    if (!tok || !tok->tokenize || !tok->token_len)
        return err_set(e, "curriculum: no tokenizer callbacks given; pass tokenize and token_len");
    if (tok->eot < 0)
        return err_set(e,
                       "curriculum: eot id %d is negative; pass the tokenizer's "
                       "<|endoftext|> id",
                       tok->eot);
    if (!s->stages || s->n_stages < 1)
        return err_set(e, "curriculum: no stages; define at least one stage");
    if (s->variants_per_band < 1 || s->variants_per_band > 32)
        return err_set(e, "curriculum: variants_per_band = %d; use 1..32 (5..10 intended)",
                       s->variants_per_band);
    if (s->seq_len < 4)
        return err_set(e, "curriculum: seq_len = %d is too short; use at least 4", s->seq_len);
    if ((unsigned)s->order > ORDER_GROWING_RANDOM)
        return err_set(e,
                       "curriculum: unknown order %d; use curriculum, shuffled, anti or "
                       "growing-random",
                       (int)s->order);
    if (!band_ok(s->heldout_variant_band_lo, s->heldout_variant_band_hi))
        return err_set(e,
                       "curriculum: held-out variant band [%g, %g] is not inside [0, 1] with "
                       "lo <= hi; fix it",
                       s->heldout_variant_band_lo, s->heldout_variant_band_hi);
    if (s->heldout_variants_per_chain < 0 || s->heldout_variants_per_chain > 32)
        return err_set(e, "curriculum: heldout_variants_per_chain = %d; use 0..32 (0 = 2)",
                       s->heldout_variants_per_chain);
    for (int k = 0; k < s->n_stages; k++) {
        const StageSpec *st = &s->stages[k];
        char where[128];
        snprintf(where, sizeof where, "curriculum stage %d (\"%.64s\")", k,
                 memchr(st->name, 0, sizeof st->name) ? st->name : "?");
        if (!memchr(st->name, 0, sizeof st->name) || !st->name[0])
            return err_set(e, "%s: the name is empty or not terminated; give each stage a name",
                           where);
        if (st->steps < 1)
            return err_set(e, "%s: steps = %lld; a stage needs at least 1 step", where,
                           (long long)st->steps);
        if (!(st->replay >= 0 && st->replay <= 1))
            return err_set(e, "%s: replay = %g is not a probability; use 0..1", where, st->replay);
        if ((unsigned)st->pacing > PACING_DISCRETE)
            return err_set(e, "%s: unknown pacing %d; use linear, root or discrete", where,
                           (int)st->pacing);
        if ((unsigned)st->loss > LOSS_CONCLUSION)
            return err_set(e,
                           "%s: unknown loss mask %d; use trail, connectives+conclusion or "
                           "conclusion",
                           where, (int)st->loss);
        if (!(st->anchor_weight >= 0) || !isfinite(st->anchor_weight))
            return err_set(e, "%s: anchor_weight = %g; use a finite value >= 0", where,
                           st->anchor_weight);
        if (stage_bridge_rule(s->stages, s->n_stages, k, NULL) != BRIDGE_OK)
            return err_set(e,
                           "%s: a bridge needs a non-bridge stage on each side; put it "
                           "between two banded stages",
                           where);
        if (!st->bridge && !band_ok(st->band_lo, st->band_hi))
            return err_set(e,
                           "%s: band [%g, %g] is not inside [0, 1] with lo <= hi; fix "
                           "band_lo / band_hi",
                           where, st->band_lo, st->band_hi);
    }
    if (stages_count_banded(s->stages, s->n_stages) == 0)
        return err_set(e, "curriculum: every stage is a bridge; add banded stages");
    return 0;
}

/* ---- splits and stage mapping ------------------------------------------------------------- */

typedef struct Ranked {
    uint64_t key;
    const char *id;
    int chain;
} Ranked;

static int ranked_cmp(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int split_chains(Curriculum *c, Err *e) {
    const ChainLib *lib = c->lib;
    int n = lib->n_chains;
    int n_out = (int)ceil(HELDOUT_CHAIN_FRACTION * n);
    if (n - n_out < 1)
        return err_set(e,
                       "curriculum: the library has %d chain%s; with %d held out none is left "
                       "to train on, load more chains",
                       n, n == 1 ? "" : "s", n_out);
    Ranked *r = xmalloc(sizeof *r * (size_t)n, "chain ranking");
    for (int i = 0; i < n; i++) {
        const char *id = lib->chains[i].id;
        r[i] = (Ranked){rng_u64(c->spec.seed, STREAM_SPLIT, 0, hash_fnv1a64(id, strlen(id), 0)), id,
                        i};
    }
    qsort(r, (size_t)n, sizeof *r, ranked_cmp);
    c->heldout = xmalloc((size_t)n, "held-out chains");
    for (int i = 0; i < n_out; i++) c->heldout[r[i].chain] = 1;
    c->n_heldout = n_out;
    c->n_train = n - n_out;
    xfree(r);
    return 0;
}

static void map_stages(Curriculum *c) {
    int S = c->spec.n_stages;
    c->ordinal = xmalloc(sizeof *c->ordinal * (size_t)S, "stage ordinals");
    c->prev = xmalloc(sizeof *c->prev * (size_t)S, "bridge neighbours");
    c->next = xmalloc(sizeof *c->next * (size_t)S, "bridge neighbours");
    int m = 0;
    for (int k = 0; k < S; k++) c->ordinal[k] = c->stages[k].bridge ? -1 : m++;
    for (int k = 0; k < S; k++) {
        c->prev[k] = c->next[k] = -1;
        if (c->stages[k].bridge) {
            c->prev[k] = c->ordinal[k - 1];
            c->next[k] = c->ordinal[k + 1];
        }
    }
    c->n_pools = m;
    c->band_of = xmalloc(sizeof *c->band_of * (size_t)m, "band map");
    for (int j = 0; j < m; j++) c->band_of[j] = c->spec.order == ORDER_ANTI ? m - 1 - j : j;
    if (c->spec.order == ORDER_GROWING_RANDOM)
        for (int j = m - 1; j > 0; j--) { /* Fisher-Yates, one draw per position */
            int r = (int)(rng_u64(c->spec.seed, STREAM_ORDER, 0, (uint64_t)j) % (uint64_t)(j + 1));
            int t = c->band_of[j];
            c->band_of[j] = c->band_of[r];
            c->band_of[r] = t;
        }
}

/* ---- tokens ---------------------------------------------------------------------------------- */

/* Role of each token: the highest byte role among its bytes. */
int cur_token_roles(const CurriculumTokenizer *tok, const Rendered *r, const int32_t *ids, int n,
                    uint8_t *out, Err *e) {
    size_t pos = 0;
    for (int k = 0; k < n; k++) {
        size_t len = tok->token_len(tok->ctx, ids[k]);
        if (len == 0 || pos + len > r->len)
            return err_set(e,
                           "tokenizer callback: token %d (id %d) has %zu bytes, which does not "
                           "fit the %zu-byte text; decode(encode(x)) must equal x",
                           k, ids[k], len, r->len);
        uint8_t role = BYTE_STEP;
        for (size_t i = pos; i < pos + len; i++)
            if (r->roles[i] > role) role = r->roles[i];
        out[k] = role;
        pos += len;
    }
    if (pos != r->len)
        return err_set(e,
                       "tokenizer callback: tokens cover %zu of %zu bytes; decode(encode(x)) "
                       "must equal x",
                       pos, r->len);
    return 0;
}

/* A chain that needs seq_len >= need (its tokens with the leading EOT) where seq_len is less:
 * which limit, and what can be raised. */
int cur_too_long(const CurriculumSpec *sp, const char *id, const char *what, int need, Err *e) {
    const char *name = sp->seq_len_name ? sp->seq_len_name : "seq_len";
    char how[256];
    if (sp->context > 0 && need <= sp->context)
        snprintf(how, sizeof how,
                 "the model's context is %d: raise %s up to %d, or shorten the chain", sp->context,
                 name, sp->context);
    else if (sp->context > 0)
        snprintf(how, sizeof how,
                 "the model's context is %d, too short for it as well: shorten the chain",
                 sp->context);
    else
        snprintf(how, sizeof how, "raise %s to at least %d, or shorten the chain", name, need);
    return err_set(e, "chain \"%s\" (%s) needs %d tokens with its EOT but %s is %d (%s)", id, what,
                   need, name, sp->seq_len, how);
}

static int fits(const Curriculum *c, const Chain *ch, int n_tokens, const char *what, Err *e) {
    if (n_tokens + 2 <= c->spec.seq_len + 1) return 0;
    return cur_too_long(&c->spec, ch->id, what, n_tokens + 1, e);
}

/* ---- pools ----------------------------------------------------------------------------------- */

static int build_pool(Curriculum *c, const CurriculumTokenizer *tok, int stage, Pool *p, Err *e) {
    const ChainLib *lib = c->lib;
    const StageSpec *st = &c->stages[stage];
    int want = c->spec.variants_per_band;
    size_t cap = (size_t)lib->n_chains * (size_t)want + 1;
    Variant *vars = xmalloc(sizeof *vars * cap, "pool variants");
    int *var_chain = xmalloc(sizeof *var_chain * cap, "pool variants");
    int n = 0, rc = 0;
    p->stage = stage;
    p->st = (PoolStats){.stage = stage, .band_lo = st->band_lo, .band_hi = st->band_hi};
    BandQuery q = {st->band_lo,           st->band_hi, want, c->spec.seed,
                   VARIANT_PURPOSE_TRAIN, 0,           NULL, NULL};
    for (int ch = 0; rc == 0 && ch < lib->n_chains; ch++) {
        if (c->heldout[ch]) continue;
        int found = 0;
        rc = variants_for_band(lib, ch, &q, tok->tokenize, tok->ctx, vars + n, &found, e);
        for (int k = 0; k < found; k++) var_chain[n + k] = ch;
        n += found;
        if (found == want)
            p->st.n_chains_full++;
        else if (found > 0)
            p->st.n_chains_short++;
        else
            p->st.n_chains_empty++;
    }
    if (rc == 0 && n == 0)
        rc = err_set(e,
                     "curriculum stage %d (\"%s\"): no training chain has a variant with "
                     "volatility in [%g, %g]; widen the band",
                     stage, st->name, st->band_lo, st->band_hi);
    size_t n_tok = 0, n_text = 0;
    for (int i = 0; i < n; i++) {
        n_tok += (size_t)vars[i].n_tokens;
        n_text += vars[i].r.len + 1;
    }
    int n_typed = 0;
    for (int i = 0; i < n; i++) n_typed += lib->chains[var_chain[i]].n_typed > 0;
    if (rc == 0) {
        p->items = xmalloc(sizeof *p->items * (size_t)n, "pool items");
        p->specs = xmalloc(sizeof *p->specs * (size_t)(n_typed + 1), "pool specs");
        p->tokens = xmalloc(sizeof *p->tokens * n_tok, "pool tokens");
        p->roles = xmalloc(n_tok, "pool token roles");
        p->texts = xmalloc(n_text, "pool texts");
        p->st.vol_min = 1;
    }
    size_t to = 0, xo = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        const Variant *v = &vars[i];
        char what[128];
        snprintf(what, sizeof what, "variant %d in stage %d \"%.40s\"", i, stage, st->name);
        rc = fits(c, &lib->chains[var_chain[i]], v->n_tokens, what, e);
        if (rc == 0) rc = cur_token_roles(tok, &v->r, v->tokens, v->n_tokens, p->roles + to, e);
        if (rc != 0) break;
        int spec = -1;
        if (lib->chains[var_chain[i]].n_typed > 0) {
            spec = p->n_specs++;
            p->specs[spec] = v->spec;
        }
        p->items[i] = (PoolEntry){var_chain[i], v->n_tokens, v->volatility, to, xo, spec};
        memcpy(p->tokens + to, v->tokens, sizeof *p->tokens * (size_t)v->n_tokens);
        memcpy(p->texts + xo, v->r.text, v->r.len + 1);
        to += (size_t)v->n_tokens;
        xo += v->r.len + 1;
        p->n_items++;
        p->st.vol_min = fmin(p->st.vol_min, v->volatility);
        p->st.vol_max = fmax(p->st.vol_max, v->volatility);
        p->st.vol_mean += v->volatility / n;
    }
    p->st.n_items = p->n_items;
    variants_free(vars, n);
    xfree(vars);
    xfree(var_chain);
    return rc;
}

/* ---- build ----------------------------------------------------------------------------------- */

int curriculum_build(Curriculum **out, const ChainLib *lib, const CurriculumSpec *spec,
                     const CurriculumTokenizer *tok, Err *e) {
    *out = NULL;
    if (validate(spec, tok, e) != 0) return -1;
    Curriculum *c = xmalloc(sizeof *c, "curriculum");
    c->lib = lib;
    c->spec = *spec;
    c->eot = tok->eot;
    c->tok = *tok;
    c->stages = xmalloc(sizeof *c->stages * (size_t)spec->n_stages, "curriculum stages");
    memcpy(c->stages, spec->stages, sizeof *c->stages * (size_t)spec->n_stages);
    c->spec.stages = c->stages;
    int rc = split_chains(c, e);
    if (rc == 0) {
        map_stages(c);
        c->pools = xmalloc(sizeof *c->pools * (size_t)c->n_pools, "pools");
    }
    for (int k = 0; rc == 0 && k < spec->n_stages; k++) {
        if (c->ordinal[k] < 0) continue;
        Pool *p = &c->pools[c->ordinal[k]];
        rc = build_pool(c, tok, k, p, e);
        c->union_items += p->n_items;
    }
    if (rc == 0) rc = cur_typed_prepare(c, tok, e);
    if (rc == 0) rc = cur_build_evals(c, tok, e);
    if (rc != 0) {
        curriculum_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void curriculum_free(Curriculum *c) {
    if (!c) return;
    for (int p = 0; c->pools && p < c->n_pools; p++) {
        xfree(c->pools[p].items);
        xfree(c->pools[p].tokens);
        xfree(c->pools[p].roles);
        xfree(c->pools[p].texts);
        xfree(c->pools[p].specs);
    }
    cur_typed_free(c);
    for (int s = 0; s < EVAL_COUNT; s++) {
        for (int i = 0; i < c->evals[s].n_items; i++) cur_eval_item_free(&c->evals[s].items[i]);
        xfree(c->evals[s].items);
    }
    xfree(c->pools);
    xfree(c->heldout);
    xfree(c->ordinal);
    xfree(c->prev);
    xfree(c->next);
    xfree(c->band_of);
    xfree(c->stages);
    xfree(c);
}

/* ---- samples: pure functions of (seed, stage, step, i) ------------------------------------- */

uint64_t cur_splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static double unit(uint32_t w) {
    return (double)(w >> 8) * (1.0 / 16777216.0); /* 24 bits in [0, 1), as rng_uniform */
}

/* Probability of drawing from the next band at progress x in [0, 1]. */
static double pacing(Pacing p, double x) {
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    switch (p) {
    case PACING_ROOT:
        return sqrt(x);
    case PACING_DISCRETE:
        return floor(4 * x) / 4;
    default:
        return x;
    }
}

int curriculum_pick(const Curriculum *c, int stage, int64_t step_in_stage, int64_t i,
                    int64_t global_batch, SamplePick *pick) {
    if (stage < 0 || stage >= c->spec.n_stages || step_in_stage < 0 || global_batch < 1 || i < 0 ||
        i >= global_batch)
        return -1;
    const StageSpec *st = &c->stages[stage];
    uint32_t w[4];
    uint64_t index = cur_splitmix64((uint64_t)step_in_stage ^ cur_splitmix64((uint64_t)i));
    rng_words(c->spec.seed, STREAM_SAMPLE, (uint32_t)stage, index, w);
    *pick = (SamplePick){0};
    if (c->spec.order == ORDER_SHUFFLED) {
        uint64_t r = (((uint64_t)w[3] << 32) | w[2]) % (uint64_t)c->union_items;
        int p = 0;
        while (r >= (uint64_t)c->pools[p].n_items) r -= (uint64_t)c->pools[p++].n_items;
        pick->pool = p;
        pick->item = (int)r;
    } else {
        int own = st->bridge ? c->prev[stage] : c->ordinal[stage];
        int ord = own; /* ordinals before `own` are the earlier stages replay draws from */
        if (own > 0 && unit(w[0]) < st->replay) {
            ord = (int)(w[2] % (uint32_t)own);
            pick->replay = 1;
        } else if (st->bridge &&
                   unit(w[1]) < pacing(st->pacing, (double)step_in_stage / (double)st->steps)) {
            ord = c->next[stage];
            pick->next_band = 1;
        }
        pick->pool = c->band_of[ord];
        pick->item = (int)(((uint64_t)w[3] * (uint64_t)c->pools[pick->pool].n_items) >> 32);
    }
    pick->chain = c->pools[pick->pool].items[pick->item].chain;
    return 0;
}

static float role_weight(const StageSpec *st, uint8_t role) {
    switch (st->loss) {
    case LOSS_TRAIL:
        return role == BYTE_CONNECTIVE ? (float)st->anchor_weight : 1.0f;
    case LOSS_CONNECTIVES_CONCLUSION:
        return role == BYTE_CONNECTIVE ? (float)st->anchor_weight
               : role == BYTE_ANSWER   ? 1.0f
                                       : 0.0f;
    default:
        return role == BYTE_ANSWER ? 1.0f : 0.0f;
    }
}

int curriculum_sample(const Curriculum *c, int stage, int64_t step_in_stage, int64_t i,
                      int64_t global_batch, int32_t *inputs, int32_t *targets, float *weights) {
    SamplePick pk;
    if (curriculum_pick(c, stage, step_in_stage, i, global_batch, &pk) != 0) return -1;
    const StageSpec *st = &c->stages[stage];
    const Pool *p = &c->pools[pk.pool];
    const PoolEntry *it = &p->items[pk.item];
    const int32_t *tok = p->tokens + it->tok_off;
    const uint8_t *role = p->roles + it->tok_off;
    int T = c->spec.seq_len, n = it->n_tokens;
    if (it->spec >= 0) /* typed slots: a fresh draw for this sample */
        cur_typed_row(c, p, it, stage, step_in_stage, i, &tok, &role, &n);
    /* seq[j]: EOT at j = 0, chain token j - 1 for 1 <= j <= n, EOT after */
    for (int t = 0; t < T; t++) {
        int j = t + 1;
        inputs[t] = t >= 1 && t <= n ? tok[t - 1] : c->eot;
        targets[t] = j <= n ? tok[j - 1] : c->eot;
        if (j <= n)
            weights[t] = role_weight(st, role[j - 1]);
        else
            weights[t] = j == n + 1 && st->loss == LOSS_TRAIL ? 1.0f : 0.0f;
    }
    return 0;
}

/* ---- accessors --------------------------------------------------------------------------- */

int curriculum_n_stages(const Curriculum *c) {
    return c->spec.n_stages;
}

const StageSpec *curriculum_stage(const Curriculum *c, int stage) {
    return stage >= 0 && stage < c->spec.n_stages ? &c->stages[stage] : NULL;
}

int curriculum_seq_len(const Curriculum *c) {
    return c->spec.seq_len;
}

int curriculum_n_pools(const Curriculum *c) {
    return c->n_pools;
}

int curriculum_stage_pool(const Curriculum *c, int stage) {
    return stage >= 0 && stage < c->spec.n_stages ? c->ordinal[stage] : -1;
}

int curriculum_pool_stats(const Curriculum *c, int pool, PoolStats *st) {
    if (pool < 0 || pool >= c->n_pools) return -1;
    *st = c->pools[pool].st;
    return 0;
}

int curriculum_pool_item(const Curriculum *c, int pool, int item, PoolItemView *v) {
    if (pool < 0 || pool >= c->n_pools || item < 0 || item >= c->pools[pool].n_items) return -1;
    const Pool *p = &c->pools[pool];
    const PoolEntry *it = &p->items[item];
    *v = (PoolItemView){it->chain,
                        it->volatility,
                        p->texts + it->text_off,
                        p->tokens + it->tok_off,
                        p->roles + it->tok_off,
                        it->n_tokens};
    return 0;
}

const EvalItem *curriculum_eval(const Curriculum *c, EvalSplit s, int *n_items) {
    if (s < 0 || s >= EVAL_COUNT) {
        *n_items = 0;
        return NULL;
    }
    *n_items = c->evals[s].n_items;
    return c->evals[s].items;
}

const char *curriculum_library_hash(const Curriculum *c) {
    return c->lib->hash;
}

int curriculum_n_train_chains(const Curriculum *c) {
    return c->n_train;
}

int curriculum_n_heldout_chains(const Curriculum *c) {
    return c->n_heldout;
}

int curriculum_chain_heldout(const Curriculum *c, int chain) {
    return chain >= 0 && chain < c->lib->n_chains && c->heldout[chain];
}
