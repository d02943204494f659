/*
 * curriculum_internal.h — what the parts of the curriculum share and nobody else sees:
 * curriculum.c (spec, splits, pools, samples), curriculum_eval.c (the eval sets) and
 * curriculum_typed.c (typed slots: the worst-case length check, rows drawn per sample).
 */
#ifndef IMPRINT_CURRICULUM_INTERNAL_H
#define IMPRINT_CURRICULUM_INTERNAL_H

#include "curriculum.h"

/* Philox streams of the curriculum: + 0 split, + 1 / + 2 variants (variants.h), + 3 sample,
 * + 4 order, + 5 nonce words, + 6 / + 7 entity draws (lexicon.h). */
#define STREAM_SPLIT  (RNG_STREAM_CURRICULUM + 0)
#define STREAM_SAMPLE (RNG_STREAM_CURRICULUM + 3)
#define STREAM_ORDER  (RNG_STREAM_CURRICULUM + 4)

typedef struct PoolEntry {
    int chain;
    int n_tokens;
    double volatility;
    size_t tok_off;  /* into Pool.tokens / Pool.roles */
    size_t text_off; /* into Pool.texts */
    int spec;        /* typed chain: its RenderSpec in Pool.specs (redrawn per sample); else -1 */
} PoolEntry;

typedef struct Pool {
    int stage;
    int n_items;
    PoolEntry *items;
    int32_t *tokens;
    uint8_t *roles;
    char *texts;
    RenderSpec *specs; /* of the typed items */
    int n_specs;
    PoolStats st;
} Pool;

typedef struct EvalSet {
    EvalItem *items;
    int n_items;
} EvalSet;

struct TypedState;

struct Curriculum {
    const ChainLib *lib;
    CurriculumSpec spec;
    StageSpec *stages; /* copy of spec.stages */
    int32_t eot;
    CurriculumTokenizer tok; /* typed rows are rendered and tokenized per sample */
    int *ordinal;            /* per stage: its non-bridge ordinal, or -1 for a bridge */
    int *prev, *next;        /* per bridge stage: ordinals of its neighbours */
    int *band_of;            /* per non-bridge ordinal: the pool it draws from under spec.order */
    Pool *pools;             /* one per non-bridge ordinal */
    int n_pools;
    int64_t union_items; /* sum of pool sizes (ORDER_SHUFFLED) */
    uint8_t *heldout;    /* per chain */
    int n_train, n_heldout;
    EvalSet evals[EVAL_COUNT];
    struct TypedState *typed; /* NULL when no chain has typed slots */
};

/* Role of each token: the highest byte role among its bytes. */
int cur_token_roles(const CurriculumTokenizer *tok, const Rendered *r, const int32_t *ids, int n,
                    uint8_t *out, Err *e);
/* The message for a chain that needs seq_len >= need (its tokens with the leading EOT). */
int cur_too_long(const CurriculumSpec *sp, const char *id, const char *what, int need, Err *e);
uint64_t cur_splitmix64(uint64_t x);

/* curriculum_eval.c: every eval set (after the pools: held-out variants exclude their texts). */
int cur_build_evals(Curriculum *c, const CurriculumTokenizer *tok, Err *e);
void cur_eval_item_free(EvalItem *it);
/* Entity draws per item of a typed chain: in heldout_entities (spec knob, default 1) and in
 * heldout_chains / curriculum_eval_library without fillers (CHAIN_MIN_TUPLES). */
int cur_heldout_entity_draws(const CurriculumSpec *sp);

/* curriculum_typed.c: after the pools, for libraries with typed chains: checks that every typed
 * chain (canonical, with the longest entries of each partition) and every typed pool item (with
 * the longest training entries) fits seq_len, and sets up the per-sample buffers. */
int cur_typed_prepare(Curriculum *c, const CurriculumTokenizer *tok, Err *e);
void cur_typed_free(Curriculum *c);
/* The tokens and roles of typed pool item `it` for this sample: its spec with a fresh draw from
 * the training partition keyed on the sample; falls back to the item's own rendering if that
 * does not fit (the length check makes that not happen) or the tokenizer fails. */
void cur_typed_row(const Curriculum *c, const Pool *p, const PoolEntry *it, int stage,
                   int64_t step_in_stage, int64_t i, const int32_t **tok, const uint8_t **role,
                   int *n);

#endif
