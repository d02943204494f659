/*
 * variants.h — the six surface operators of docs/chains.md, volatility, and band search.
 *
 * Operators (connective, synonym, entity, insert, reorder, noise) are applied to a RenderSpec
 * (library.h); the choices are Philox draws keyed by (seed, purpose, chain id, variant index),
 * so a variant is a pure function of those and of the library. The entity operator only picks
 * training tuples (never the last, held-out one) and, for typed slots, another draw from the
 * training partition; noise only touches plain words of non-conclusion steps; nothing touches
 * the answer but the entity and connective operators.
 *
 * Volatility = token Levenshtein distance between a variant and the canonical rendering of its
 * chain (variant_canonical: for typed slots draw 0 of the training partition under the seed),
 * divided by the longer token length: 0 for the canonical text, 1 for texts with nothing in
 * common position-wise.
 */
#ifndef IMPRINT_VARIANTS_H
#define IMPRINT_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "library.h"
#include "util.h"

/* The tokenizer, supplied by the caller. Writes at most max_ids ids of text[0..len) to ids and
 * their number to *n_ids; returns -1 with e filled on failure (including "more than max_ids":
 * callers pass max_ids = len + 16, enough for any tokenizer whose tokens are at least one byte).
 * decode(encode(x)) == x must hold. */
typedef int (*TokenizeFn)(void *ctx, const char *text, size_t len, int32_t *ids, int max_ids,
                          int *n_ids, Err *e);
/* Byte length of token `id` when decoded. */
typedef size_t (*TokenLenFn)(void *ctx, int32_t id);

/* Tokenizes text[0..len) into a fresh xmalloc'd array *ids (free with xfree). */
int tokenize_alloc(TokenizeFn tok, void *ctx, const char *text, size_t len, int32_t **ids,
                   int *n_ids, Err *e);

/* Which draws a variant uses: training pools and the held-out-variant split never share. */
typedef enum { VARIANT_PURPOSE_TRAIN = 0, VARIANT_PURPOSE_HELDOUT = 1 } VariantPurpose;
/* Philox streams (curriculum owns RNG_STREAM_CURRICULUM .. +15). */
#define VARIANT_STREAM(purpose) (RNG_STREAM_CURRICULUM + 1 + (purpose))

typedef enum {
    OP_CONNECTIVE,
    OP_SYNONYM,
    OP_ENTITY,
    OP_INSERT,
    OP_REORDER,
    OP_NOISE,
    OP_COUNT
} VariantOp;

const char *variant_op_name(VariantOp op);
/* Whether op can change this chain at all (e.g. reorder needs a swap group). */
int variant_op_available(const ChainLib *lib, int chain, VariantOp op);

/* The canonical spec under seed: render_spec_canonical, typed slots with draw 0 of the training
 * partition (chain_draw_entities). Every variant starts from it. */
void variant_canonical(const ChainLib *lib, int chain, uint64_t seed, RenderSpec *out);
/* The spec of variant `variant` of `chain`: 1..max_ops operators, each drawn uniformly from the
 * available ones, applied to the canonical spec. */
void variant_spec(const ChainLib *lib, int chain, uint64_t seed, VariantPurpose purpose,
                  uint64_t variant, int max_ops, RenderSpec *out);
/* The same with the operators given: ops[0..n_ops) in order (unavailable ones are skipped). */
void variant_spec_ops(const ChainLib *lib, int chain, uint64_t seed, VariantPurpose purpose,
                      uint64_t variant, const VariantOp *ops, int n_ops, RenderSpec *out);

/* Levenshtein distance of two token sequences (util.h's levenshtein) / max(na, nb) (0 if both
 * empty). */
double token_volatility(const int32_t *a, int na, const int32_t *b, int nb);

typedef struct Variant {
    RenderSpec spec;
    double volatility;
    Rendered r;      /* text and byte roles */
    int32_t *tokens; /* xmalloc'd */
    int n_tokens;
} Variant;

typedef struct BandQuery {
    double lo, hi; /* keep volatility in [lo, hi], both inclusive */
    int n_wanted;  /* stop after this many */
    uint64_t seed;
    VariantPurpose purpose;
    int max_attempts; /* 0: VARIANT_MAX_ATTEMPTS */
    /* optional: texts for which exclude() returns non-zero are skipped */
    int (*exclude)(void *ctx, const char *text, size_t len);
    void *exclude_ctx;
} BandQuery;

#define VARIANT_MAX_ATTEMPTS 400

/* Fills out[0..n_wanted) with distinct variants whose volatility lies in the band: first the
 * canonical text (volatility 0, so a band starting at 0 always has it), then variant 0, 1, ...
 * with max_ops growing with the attempt number, until n_wanted are found or the attempts run
 * out. *n_found may be less than n_wanted; the caller decides. Fails only if the tokenizer
 * does. Release with variants_free. */
int variants_for_band(const ChainLib *lib, int chain, const BandQuery *q, TokenizeFn tok,
                      void *tok_ctx, Variant *out, int *n_found, Err *e);
void variants_free(Variant *v, int n);

#endif
