/*
 * variants.c — operators on a RenderSpec, volatility, and the search for variants in a band.
 */
#include "variants.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ---- tokenizing -------------------------------------------------------------------------- */

int tokenize_alloc(TokenizeFn tok, void *ctx, const char *text, size_t len, int32_t **ids,
                   int *n_ids, Err *e) {
    int max_ids = (int)len + 16;
    *ids = xmalloc(sizeof **ids * (size_t)max_ids, "token ids");
    *n_ids = 0;
    if (tok(ctx, text, len, *ids, max_ids, n_ids, e) != 0 || *n_ids < 0 || *n_ids > max_ids) {
        xfree(*ids);
        *ids = NULL;
        if (*n_ids < 0 || *n_ids > max_ids)
            err_set(e, "tokenizer callback returned %d ids for %zu bytes; it must return 0..%d",
                    *n_ids, len, max_ids);
        return -1;
    }
    return 0;
}

/* ---- draws ------------------------------------------------------------------------------- */

/* Random words for one variant: a pure function of (seed, purpose, chain id, variant, draw). */
typedef struct Draws {
    uint64_t seed;
    uint32_t stream, sub;
    uint64_t variant;
    uint32_t next; /* draws used so far */
} Draws;

#define DRAWS_PER_VARIANT 4096 /* index = variant * DRAWS_PER_VARIANT + draw */

static void draw(Draws *d, uint32_t w[4]) {
    uint64_t index = d->variant * DRAWS_PER_VARIANT + (d->next++ % DRAWS_PER_VARIANT);
    rng_words(d->seed, d->stream, d->sub, index, w);
}

static Draws draws_for(const ChainLib *lib, int chain, uint64_t seed, VariantPurpose purpose,
                       uint64_t variant) {
    const char *id = lib->chains[chain].id;
    Draws d = {seed, (uint32_t)VARIANT_STREAM(purpose), (uint32_t)hash_fnv1a64(id, strlen(id), 0),
               variant, 0};
    return d;
}

/* ---- operators --------------------------------------------------------------------------- */

static const char *const OP_NAMES[OP_COUNT] = {"connective", "synonym", "entity",
                                               "insert",     "reorder", "noise"};

const char *variant_op_name(VariantOp op) {
    return op >= 0 && op < OP_COUNT ? OP_NAMES[op] : "?";
}

/* Connective occurrences (in template order) with more than one form: their number, and the
 * occurrence index / form count of number `want`. */
static int paraphrasable(const ChainLib *lib, const Chain *ch, int want, int *occ, int *n_forms) {
    const LibFile *f = &lib->files[ch->file];
    int count = 0, o = 0;
    for (int k = 0; k < ch->n_steps; k++)
        for (int i = 0; i < ch->steps[k].t.n_pieces; i++) {
            const Piece *p = &ch->steps[k].t.pieces[i];
            if (p->kind != PIECE_CONN) continue;
            int n = f->conns[p->idx].n_forms;
            if (n > 1) {
                if (count == want) {
                    *occ = o;
                    *n_forms = n;
                }
                count++;
            }
            o++;
        }
    return count;
}

/* Distinct swap groups of a chain; fills groups[]. */
static int swap_groups(const Chain *ch, int groups[CHAIN_MAX_STEPS]) {
    int n = 0;
    for (int k = 0; k < ch->n_steps; k++) {
        int g = ch->steps[k].swap, seen = 0;
        for (int j = 0; j < n; j++) seen |= groups[j] == g;
        if (g && !seen) groups[n++] = g;
    }
    return n;
}

int variant_op_available(const ChainLib *lib, int chain, VariantOp op) {
    const Chain *ch = &lib->chains[chain];
    const LibFile *f = &lib->files[ch->file];
    int occ, nf, groups[CHAIN_MAX_STEPS];
    switch (op) {
    case OP_CONNECTIVE:
        return paraphrasable(lib, ch, -1, &occ, &nf) > 0;
    case OP_SYNONYM:
        return f->n_synonyms > 0;
    case OP_ENTITY: /* another training tuple than tuple 0, or another draw of typed slots */
        return ch->n_tuples - 1 >= 2 || ch->n_typed > 0;
    case OP_INSERT:
        return f->n_insertions > 0 && chain_insert_sites(lib, chain) > 0;
    case OP_REORDER:
        return swap_groups(ch, groups) > 0;
    case OP_NOISE:
        return 1;
    default:
        return 0;
    }
}

/* Shuffles the steps of one swap group among the positions they hold in the current order;
 * a shuffle that changes nothing becomes a rotation by one. */
static void reorder(const Chain *ch, Draws *d, uint32_t pick, RenderSpec *s) {
    int groups[CHAIN_MAX_STEPS];
    int n_groups = swap_groups(ch, groups);
    int g = groups[pick % (uint32_t)n_groups];
    if (!s->has_order) {
        for (int k = 0; k < ch->n_steps; k++) s->order[k] = (int8_t)k;
        s->has_order = 1;
    }
    int pos[CHAIN_MAX_STEPS], val[CHAIN_MAX_STEPS], n = 0;
    for (int k = 0; k < ch->n_steps; k++)
        if (ch->steps[s->order[k]].swap == g) {
            pos[n] = k;
            val[n++] = s->order[k];
        }
    int changed = 0;
    for (int i = n - 1; i > 0; i--) {
        uint32_t w[4];
        draw(d, w);
        int j = (int)(w[0] % (uint32_t)(i + 1)), t = val[i];
        val[i] = val[j];
        val[j] = t;
    }
    for (int i = 0; i < n; i++) changed |= s->order[pos[i]] != val[i];
    for (int i = 0; i < n; i++) s->order[pos[i]] = (int8_t)(changed ? val[i] : val[(i + 1) % n]);
}

static int apply_op(const ChainLib *lib, int chain, VariantOp op, Draws *d, RenderSpec *s) {
    const Chain *ch = &lib->chains[chain];
    if (!variant_op_available(lib, chain, op)) return 0;
    uint32_t w[4];
    draw(d, w);
    switch (op) {
    case OP_CONNECTIVE: {
        int occ = 0, n_forms = 1;
        int n = paraphrasable(lib, ch, -1, &occ, &n_forms);
        paraphrasable(lib, ch, (int)(w[0] % (uint32_t)n), &occ, &n_forms);
        s->conn[occ] = (uint8_t)(1 + w[1] % (uint32_t)(n_forms - 1));
        return 1;
    }
    case OP_SYNONYM:
        if (s->n_syn == RENDER_MAX_EDITS) return 0;
        s->syn[s->n_syn++] = (SynonymEdit){w[0], w[1]};
        return 1;
    case OP_ENTITY: /* training tuples other than 0: 1 .. n_tuples - 2; typed slots: a new draw
                       from the training partition (draw 0 is the canonical one) */
        if (ch->n_tuples - 1 >= 2) s->tuple = 1 + (int)(w[0] % (uint32_t)(ch->n_tuples - 2));
        if (ch->n_typed > 0)
            chain_draw_entities(lib, chain, d->seed, LEX_TRAIN,
                                1 + ((((uint64_t)w[1] << 32) | w[2]) >> 1), s);
        return 1;
    case OP_INSERT:
        if (s->n_ins == RENDER_MAX_EDITS) return 0;
        s->ins[s->n_ins++] = (InsertEdit){w[0], w[1]};
        return 1;
    case OP_REORDER:
        reorder(ch, d, w[0], s);
        return 1;
    case OP_NOISE:
        if (s->n_noise == RENDER_MAX_EDITS) return 0;
        s->noise[s->n_noise++] = (NoiseEdit){w[0], w[1], (NoiseKind)(w[2] % 3)};
        return 1;
    default:
        return 0;
    }
}

void variant_canonical(const ChainLib *lib, int chain, uint64_t seed, RenderSpec *out) {
    render_spec_canonical(out);
    chain_draw_entities(lib, chain, seed, LEX_TRAIN, 0, out);
}

void variant_spec_ops(const ChainLib *lib, int chain, uint64_t seed, VariantPurpose purpose,
                      uint64_t variant, const VariantOp *ops, int n_ops, RenderSpec *out) {
    variant_canonical(lib, chain, seed, out);
    Draws d = draws_for(lib, chain, seed, purpose, variant);
    for (int i = 0; i < n_ops; i++) apply_op(lib, chain, ops[i], &d, out);
}

void variant_spec(const ChainLib *lib, int chain, uint64_t seed, VariantPurpose purpose,
                  uint64_t variant, int max_ops, RenderSpec *out) {
    variant_canonical(lib, chain, seed, out);
    VariantOp avail[OP_COUNT];
    int n_avail = 0;
    for (int op = 0; op < OP_COUNT; op++)
        if (variant_op_available(lib, chain, (VariantOp)op)) avail[n_avail++] = (VariantOp)op;
    Draws d = draws_for(lib, chain, seed, purpose, variant);
    uint32_t w[4];
    draw(&d, w);
    int m = 1 + (int)(w[0] % (uint32_t)(max_ops > 0 ? max_ops : 1));
    for (int i = 0; i < m; i++) {
        draw(&d, w);
        apply_op(lib, chain, avail[w[0] % (uint32_t)n_avail], &d, out);
    }
}

/* ---- volatility -------------------------------------------------------------------------- */

double token_volatility(const int32_t *a, int na, const int32_t *b, int nb) {
    int longer = na > nb ? na : nb;
    if (longer == 0) return 0.0;
    return (double)levenshtein(a, (size_t)na, b, (size_t)nb, sizeof(int32_t)) / longer;
}

/* ---- band search ------------------------------------------------------------------------- */

/* max_ops for attempt a: 1 at first, growing by one every 16 attempts, at most 24. */
static int ops_for_attempt(int a) {
    int k = 1 + a / 16;
    return k < 24 ? k : 24;
}

static int seen_text(const Variant *v, int n, const Rendered *r) {
    for (int i = 0; i < n; i++)
        if (v[i].r.len == r->len && memcmp(v[i].r.text, r->text, r->len) == 0) return 1;
    return 0;
}

int variants_for_band(const ChainLib *lib, int chain, const BandQuery *q, TokenizeFn tok,
                      void *tok_ctx, Variant *out, int *n_found, Err *e) {
    *n_found = 0;
    int attempts = q->max_attempts > 0 ? q->max_attempts : VARIANT_MAX_ATTEMPTS;
    Rendered canon = {0}, cand = {0};
    int32_t *canon_ids = NULL;
    int n_canon = 0, rc = 0;
    RenderSpec canon_spec;
    variant_canonical(lib, chain, q->seed, &canon_spec);
    if (chain_render(lib, chain, &canon_spec, &canon, e) != 0 ||
        tokenize_alloc(tok, tok_ctx, canon.text, canon.len, &canon_ids, &n_canon, e) != 0)
        rc = -1;
    for (int a = -1; rc == 0 && a < attempts && *n_found < q->n_wanted; a++) {
        RenderSpec spec;
        if (a < 0)
            spec = canon_spec;
        else
            variant_spec(lib, chain, q->seed, q->purpose, (uint64_t)a, ops_for_attempt(a), &spec);
        if (chain_render(lib, chain, &spec, &cand, e) != 0) {
            rc = -1;
            break;
        }
        if (seen_text(out, *n_found, &cand)) continue;
        if (q->exclude && q->exclude(q->exclude_ctx, cand.text, cand.len)) continue;
        int32_t *ids;
        int n_ids;
        if (tokenize_alloc(tok, tok_ctx, cand.text, cand.len, &ids, &n_ids, e) != 0) {
            rc = -1;
            break;
        }
        double vol = token_volatility(ids, n_ids, canon_ids, n_canon);
        if (vol < q->lo || vol > q->hi) {
            xfree(ids);
            continue;
        }
        Variant *v = &out[(*n_found)++];
        v->spec = spec;
        v->volatility = vol;
        v->r = cand;
        v->tokens = ids;
        v->n_tokens = n_ids;
        memset(&cand, 0, sizeof cand); /* the variant owns its buffers now */
    }
    rendered_free(&canon);
    rendered_free(&cand);
    xfree(canon_ids);
    if (rc != 0) {
        variants_free(out, *n_found);
        *n_found = 0;
        return err_prefix(e, "chain \"%s\"", lib->chains[chain].id);
    }
    return 0;
}

void variants_free(Variant *v, int n) {
    for (int i = 0; i < n; i++) {
        rendered_free(&v[i].r);
        xfree(v[i].tokens);
        v[i].tokens = NULL;
    }
}
