/*
 * curriculum_typed.c — typed slots in the curriculum (curriculum.h): at build, the longest
 * entries (in tokens) of every lexicon partition a chain uses, the check that every typed chain
 * and every typed pool item still fits seq_len with them, and the buffers for rows rendered per
 * sample; per sample, the fresh draw and its rendering.
 */
#include "curriculum.h"
#include "curriculum_internal.h"

#include <stdio.h>
#include <string.h>

/* The longest entries of one lexicon partition: top[0] the longest. */
typedef struct LongEntries {
    uint32_t top[CHAIN_MAX_SLOTS];
    int n_top, need; /* need: the most slots of this type in one chain (0: unused) */
} LongEntries;

typedef struct TypedState TypedState;

struct TypedState {
    int *lex_base;             /* per file: its first lexicon in longest[] */
    LongEntries (*longest)[2]; /* per lexicon (all files), per partition */
    RenderScratch rs;          /* sample-time buffers, sized at build */
    Rendered r;
    int32_t *ids;
    uint8_t *roles;
    int max_ids;
};

static LongEntries *longest_of(const Curriculum *c, const Chain *ch, int slot, int part) {
    return &c->typed->longest[c->typed->lex_base[ch->file] + ch->slot_lex[slot]][part];
}

/* Ranks the entries of one partition by tokens(" " singular) + tokens(" " plural); keeps the
 * `need` longest (ties: more bytes, then the lower index). */
static int rank_partition(const Curriculum *c, const Lexicon *lx, int part, LongEntries *le,
                          Err *e) {
    int32_t ids[2 * LEX_ENTRY_MAX + 32];
    int cost[CHAIN_MAX_SLOTS];
    size_t bytes[CHAIN_MAX_SLOTS];
    int n = lex_size(lx, part);
    le->n_top = 0;
    for (int k = 0; k < n; k++) {
        char buf[2][NONCE_MAX], text[LEX_ENTRY_MAX + 2];
        LexEntry en;
        lex_entry(lx, c->spec.seed, part, (uint32_t)k, buf, &en);
        int tokens = 0;
        for (int form = 0; form < 2; form++) {
            int m = snprintf(text, sizeof text, " %s", form ? en.pl : en.sg), got = 0;
            if (c->tok.tokenize(c->tok.ctx, text, (size_t)m, ids, (int)(sizeof ids / sizeof *ids),
                                &got, e) != 0)
                return err_prefix(e, "lexicon \"%s\"", lx->type);
            tokens += got;
        }
        size_t b = strlen(en.sg) + strlen(en.pl);
        int at = le->n_top;
        while (at > 0 && (tokens > cost[at - 1] || (tokens == cost[at - 1] && b > bytes[at - 1])))
            at--;
        if (at >= le->need) continue;
        int last = le->n_top < le->need ? le->n_top++ : le->n_top - 1;
        for (int j = last; j > at; j--) {
            le->top[j] = le->top[j - 1];
            cost[j] = cost[j - 1];
            bytes[j] = bytes[j - 1];
        }
        le->top[at] = (uint32_t)k;
        cost[at] = tokens;
        bytes[at] = b;
    }
    return 0;
}

/* Gives the typed slots of s the longest entries of partition `part` (distinct per type). */
static void worst_entities(const Curriculum *c, const Chain *ch, int part, RenderSpec *s) {
    s->ent_part = part;
    s->ent_seed = c->spec.seed;
    for (int k = 0; k < ch->n_slots; k++) {
        if (ch->slot_lex[k] < 0) continue;
        int rank = 0;
        for (int j = 0; j < k; j++) rank += ch->slot_lex[j] == ch->slot_lex[k];
        const LongEntries *le = longest_of(c, ch, k, part);
        s->ent[k] = le->n_top > 0 ? le->top[rank % le->n_top] : 0;
    }
}

static int typed_too_long(const Curriculum *c, const Chain *ch, const char *what, int need,
                          const RenderSpec *s, Err *e) {
    const CurriculumSpec *sp = &c->spec;
    const char *name = sp->seq_len_name ? sp->seq_len_name : "seq_len";
    const LibFile *f = &c->lib->files[ch->file];
    char entries[320] = "", ctx[160] = "";
    size_t used = 0;
    for (int k = 0; k < ch->n_slots && used + 1 < sizeof entries; k++) {
        if (ch->slot_lex[k] < 0) continue;
        char buf[2][NONCE_MAX];
        LexEntry en;
        lex_entry(&f->lex[ch->slot_lex[k]], s->ent_seed, s->ent_part, s->ent[k], buf, &en);
        int m = snprintf(entries + used, sizeof entries - used, "%s%s = \"%s\"", used ? ", " : "",
                         ch->slots[k], en.sg);
        if (m < 0) break;
        used += (size_t)m;
    }
    char raise[160];
    snprintf(raise, sizeof raise, ", or raise %s to at least %d", name, need);
    if (sp->context > 0 && need <= sp->context)
        snprintf(ctx, sizeof ctx, " (the model's context is %d)", sp->context);
    else if (sp->context > 0) {
        snprintf(ctx, sizeof ctx, " (the model's context is %d, too short for it as well)",
                 sp->context);
        raise[0] = '\0';
    }
    return err_set(e,
                   "%s:%d: chain \"%s\" (%s) rendered with the longest entries of its slot "
                   "types (%s) needs %d tokens with its EOT, but %s is %d%s; shorten its "
                   "templates%sfilter the longest entries out of its lexicons%s",
                   f->path, ch->line, ch->id, what, entries, need, name, sp->seq_len, ctx,
                   raise[0] ? ", " : " or ", raise);
}

/* Renders spec and tokenizes it; *n_tokens, and the rendered length in *bytes. */
static int measure(const Curriculum *c, int chain, const RenderSpec *spec, int *n_tokens,
                   size_t *bytes, Err *e) {
    Rendered r = {0};
    int32_t *ids = NULL;
    int rc = chain_render(c->lib, chain, spec, &r, e);
    if (rc == 0) rc = tokenize_alloc(c->tok.tokenize, c->tok.ctx, r.text, r.len, &ids, n_tokens, e);
    *bytes = r.len;
    xfree(ids);
    rendered_free(&r);
    return rc;
}

/* Renders spec with the longest entries of `part`; fails if it does not fit a row. Grows
 * *bound to what a rendering of spec with any entries may take (bytes). */
static int check_worst(const Curriculum *c, int chain, RenderSpec spec, int part, const char *what,
                       size_t *bound, Err *e) {
    const Chain *ch = &c->lib->chains[chain];
    const LibFile *f = &c->lib->files[ch->file];
    worst_entities(c, ch, part, &spec);
    int n = 0;
    size_t bytes = 0;
    if (measure(c, chain, &spec, &n, &bytes, e) != 0) return -1;
    if (n + 2 > c->spec.seq_len + 1) return typed_too_long(c, ch, what, n + 1, &spec, e);
    size_t per_slot = 0, syn = 0;
    int pieces = 0;
    for (int k = 0; k < ch->n_slots; k++)
        if (ch->slot_lex[k] >= 0 && f->lex[ch->slot_lex[k]].max_bytes > per_slot)
            per_slot = f->lex[ch->slot_lex[k]].max_bytes;
    for (int s = 0; s < ch->n_steps; s++)
        for (int i = 0; i < ch->steps[s].t.n_pieces; i++) {
            const Piece *p = &ch->steps[s].t.pieces[i];
            pieces += p->kind == PIECE_SLOT && ch->slot_lex[p->idx] >= 0;
        }
    for (int g = 0; g < f->n_synonyms; g++)
        for (int k = 0; k < f->synonyms[g].n_words; k++)
            if (strlen(f->synonyms[g].words[k]) > syn) syn = strlen(f->synonyms[g].words[k]);
    size_t b = bytes + (size_t)pieces * (per_slot + 4) + (size_t)spec.n_syn * syn + 64;
    if (b > *bound) *bound = b;
    return 0;
}

int cur_typed_prepare(Curriculum *c, const CurriculumTokenizer *tok, Err *e) {
    (void)tok; /* c->tok is the same */
    const ChainLib *lib = c->lib;
    int any = 0, n_lex = 0;
    for (int ch = 0; ch < lib->n_chains; ch++) any |= lib->chains[ch].n_typed > 0;
    if (!any) return 0;
    TypedState *ts = xmalloc(sizeof *ts, "typed slots");
    c->typed = ts;
    ts->lex_base = xmalloc(sizeof *ts->lex_base * (size_t)lib->n_files, "typed slots");
    for (int f = 0; f < lib->n_files; f++) {
        ts->lex_base[f] = n_lex;
        n_lex += lib->files[f].n_lex;
    }
    ts->longest = xmalloc(sizeof *ts->longest * (size_t)(n_lex + 1), "typed slots");
    for (int ch = 0; ch < lib->n_chains; ch++) {
        const Chain *chain = &lib->chains[ch];
        for (int k = 0; k < chain->n_slots; k++) {
            if (chain->slot_lex[k] < 0) continue;
            int same = 0;
            for (int j = 0; j < chain->n_slots; j++)
                same += chain->slot_lex[j] == chain->slot_lex[k];
            for (int part = 0; part < 2; part++) {
                LongEntries *le = longest_of(c, chain, k, part);
                if (same > le->need) le->need = same;
            }
        }
    }
    int rc = 0;
    for (int f = 0; rc == 0 && f < lib->n_files; f++)
        for (int l = 0; rc == 0 && l < lib->files[f].n_lex; l++)
            for (int part = 0; rc == 0 && part < 2; part++) {
                LongEntries *le = &ts->longest[ts->lex_base[f] + l][part];
                if (le->need > 0) rc = rank_partition(c, &lib->files[f].lex[l], part, le, e);
            }

    /* every typed chain in its canonical wording, every tuple, with each partition's longest
     * entries; then every typed pool item with the training partition's */
    size_t bound = 0;
    for (int ch = 0; rc == 0 && ch < lib->n_chains; ch++) {
        if (lib->chains[ch].n_typed == 0) continue;
        for (int t = 0; rc == 0 && t < lib->chains[ch].n_tuples; t++)
            for (int part = 0; rc == 0 && part < 2; part++) {
                RenderSpec spec;
                variant_canonical(lib, ch, c->spec.seed, &spec);
                spec.tuple = t;
                char what[96];
                snprintf(what, sizeof what, "tuple %d, %s partition", t,
                         part == LEX_TRAIN ? "training" : "held-out");
                rc = check_worst(c, ch, spec, part, what, &bound, e);
            }
    }
    for (int p = 0; rc == 0 && p < c->n_pools; p++)
        for (int i = 0; rc == 0 && i < c->pools[p].n_items; i++) {
            const PoolEntry *it = &c->pools[p].items[i];
            if (it->spec < 0) continue;
            char what[128];
            snprintf(what, sizeof what, "variant %d in stage %d \"%.40s\"", i, c->pools[p].stage,
                     c->stages[c->pools[p].stage].name);
            rc = check_worst(c, it->chain, c->pools[p].specs[it->spec], LEX_TRAIN, what, &bound, e);
        }
    if (rc != 0) return -1;
    size_t cap = 2 * bound + 256;
    render_reserve(&ts->rs, &ts->r, cap);
    ts->max_ids = (int)cap + 16;
    ts->ids = xmalloc(sizeof *ts->ids * (size_t)ts->max_ids, "typed rows");
    ts->roles = xmalloc((size_t)ts->max_ids, "typed rows");
    return 0;
}

void cur_typed_free(Curriculum *c) {
    TypedState *ts = c->typed;
    if (!ts) return;
    xfree(ts->lex_base);
    xfree(ts->longest);
    render_scratch_free(&ts->rs);
    rendered_free(&ts->r);
    xfree(ts->ids);
    xfree(ts->roles);
    xfree(ts);
    c->typed = NULL;
}

void cur_typed_row(const Curriculum *c, const Pool *p, const PoolEntry *it, int stage,
                   int64_t step_in_stage, int64_t i, const int32_t **tok, const uint8_t **role,
                   int *n) {
    TypedState *ts = c->typed;
    if (!ts || ts->max_ids == 0) return;
    RenderSpec spec = p->specs[it->spec];
    uint64_t draw = cur_splitmix64(
        cur_splitmix64((uint64_t)step_in_stage ^ cur_splitmix64((uint64_t)i)) ^ (uint64_t)stage);
    chain_draw_entities(c->lib, it->chain, c->spec.seed, LEX_TRAIN, draw, &spec);
    Err e;
    int got = 0;
    if (chain_render_scratch(c->lib, it->chain, &spec, &ts->r, &ts->rs, &e) != 0 ||
        ts->r.len + 16 > (size_t)ts->max_ids ||
        c->tok.tokenize(c->tok.ctx, ts->r.text, ts->r.len, ts->ids, ts->max_ids, &got, &e) != 0 ||
        got < 0 || got + 2 > c->spec.seq_len + 1 ||
        cur_token_roles(&c->tok, &ts->r, ts->ids, got, ts->roles, &e) != 0)
        return; /* the item's own rendering, which fits */
    *tok = ts->ids;
    *role = ts->roles;
    *n = got;
}
