/*
 * curriculum.h — the schedule: which chain text a training row holds, and with which loss
 * weights, for every (stage, step, global sample index); plus the held-out evaluation sets.
 *
 * The curriculum knows nothing of the model, MPI or ranks. It is handed a tokenizer callback
 * (variants.h) and answers with token ids and per-token loss weights for GLOBAL sample indices:
 * every output is a pure function of (seed, library, spec, tokenizer), independent of call
 * order, so any cut of a global batch into rank slices sees the same rows.
 *
 * Splits, fixed by the seed:
 *   held-out chains    ceil(10%) of all chains, the lowest ranks under rng(seed, chain id): adding
 *                      a chain does not reshuffle the others; never in any training pool; one
 *                      item per filler tuple, typed slots drawn from the TRAINING partition
 *                      (training draw t for tuple t; a typed chain without fillers gets
 *                      CHAIN_MIN_TUPLES items, draws 0..3);
 *   held-out entities  the last filler tuple of every trained chain; never trained
 *                      (variants.h). A chain with typed slots is rendered with draws from the
 *                      HELD-OUT partition of its lexicons (lexicon.h), which no training row
 *                      ever uses: entity-disjoint. heldout_entity_draws items per typed chain
 *                      (draws 0, 1, ...; default 1);
 *   held-out variants  for trained chains, variants drawn with their own stream in the spec's
 *                      held-out band, minus every text that is in a training pool.
 *
 * Typed slots (docs/chains.md). A pool item of a chain with typed slots keeps its operator
 * choices (and its volatility, measured on its own rendering at build time), but every sample
 * renders it afresh with a new draw from the training partition, keyed on (seed, stage,
 * step_in_stage, i): so a chain is seen with a new tuple at nearly every sample. Such rows are
 * rendered and tokenized by curriculum_sample into buffers allocated at build (one set per
 * curriculum: call curriculum_sample for one curriculum from one thread at a time), with the
 * tokenizer given to curriculum_build, whose ctx must outlive the curriculum. At build, every
 * typed chain rendered with the longest entries (in tokens) of its slot types — canonically
 * for each partition, and every pool item with the longest training entries — must fit
 * seq_len, else curriculum_build fails naming the chain's file:line.
 *
 * Stages. A non-bridge stage trains on its band's pool: for every training chain, up to
 * variants_per_band distinct variants whose measured volatility lies in [band_lo, band_hi]. A
 * bridge stage has no band of its own: it draws from its previous neighbour's pool, or from its
 * next neighbour's with probability pacing(step_in_stage / steps) (linear x, root sqrt(x),
 * discrete floor(4x)/4). With probability `replay` a sample instead comes from the pool of an
 * earlier non-bridge stage (uniform over them; for a bridge, those before its previous
 * neighbour). The order control changes which pool a stage draws from:
 *   ORDER_CURRICULUM      as scheduled;
 *   ORDER_ANTI            the non-bridge bands reversed (the last band first), same steps;
 *   ORDER_SHUFFLED        every sample uniform over the union of all pool items, ignoring the
 *                         stage (its loss mask still applies);
 *   ORDER_GROWING_RANDOM  as scheduled, but non-bridge stage j uses the band of stage perm[j],
 *                         perm a seeded random permutation.
 *
 * Rows. For T = seq_len the row is the token sequence [EOT, chain tokens..., EOT, EOT pad...]
 * (T + 1 long): inputs = seq[0..T), targets = seq[1..T+1). weights[t] is the weight of
 * targets[t]:
 *   LOSS_TRAIL                   every chain token and the closing EOT;
 *   LOSS_CONNECTIVES_CONCLUSION  connective (anchor) tokens and answer tokens;
 *   LOSS_CONCLUSION              answer tokens only;
 * connective tokens are multiplied by the stage's anchor_weight; padding has weight 0.
 *
 * Token roles. A token's role is the highest ByteRole (library.h) among its bytes (answer >
 * connective > conclusion prompt > other step text), found from the byte lengths the TokenLenFn
 * reports (decode(encode(x)) == x). So " then" is a connective although its space is not, and
 * a token that reaches into the answer counts as answer.
 */
#ifndef IMPRINT_CURRICULUM_H
#define IMPRINT_CURRICULUM_H

#include <stddef.h>
#include <stdint.h>

#include "library.h"
#include "util.h"
#include "variants.h"

typedef enum { LOSS_TRAIL, LOSS_CONNECTIVES_CONCLUSION, LOSS_CONCLUSION } LossMask;
typedef enum { PACING_LINEAR, PACING_ROOT, PACING_DISCRETE } Pacing;
typedef enum { ORDER_CURRICULUM, ORDER_SHUFFLED, ORDER_ANTI, ORDER_GROWING_RANDOM } Order;

/* The names the config file uses, one table per enum, indexed by the enum, NULL-terminated:
 * "trail", "connectives+conclusion", "conclusion"; "linear", "root", "discrete"; "curriculum",
 * "shuffled", "anti", "growing-random". *_name() returns "?" out of range; *_from_name()
 * returns 0 and sets *out, or -1 for a name not in the table. */
extern const char *const LOSS_MASK_NAMES[];
extern const char *const PACING_NAMES[];
extern const char *const ORDER_NAMES[];
const char *loss_mask_name(LossMask m);
int loss_mask_from_name(const char *name, LossMask *out);
const char *pacing_name(Pacing p);
int pacing_from_name(const char *name, Pacing *out);
const char *order_name(Order o);
int order_from_name(const char *name, Order *out);

/* One stage, as the config file gives it (the config holds these directly). */
typedef struct StageSpec {
    char name[64];
    int bridge;              /* 1: a bridge between its two neighbours (band ignored) */
    double band_lo, band_hi; /* volatility band, 0 <= lo <= hi <= 1 */
    int steps; /* >= 1; a bridge's progress is step_in_stage / steps; with an until rule: the cap */
    double replay; /* probability of drawing from an earlier stage's pool, [0, 1] */
    Pacing pacing; /* bridges only */
    LossMask loss;
    double anchor_weight; /* >= 0: multiplies the weight of connective tokens (used as float) */
    /* knobs for the trainer, carried through untouched */
    int layer_first, layer_last; /* adapters that learn in this stage; [0, -1] = all */
    int targets;                 /* LORA_Q | ... (config.h) that learn in this stage */
    double lr_scale;             /* multiplies the learning rate (the trainer uses it as float) */
    /* advancement rule, evaluated by the trainer */
    char until_metric[64];  /* "" = fixed length; e.g. "heldout_entities.em" */
    double until_threshold; /* advance when the metric reaches this */
} StageSpec;

/* The bridge rule: a bridge needs a non-bridge stage on each side. For stage k of n (a bridge),
 * BRIDGE_FIRST / BRIDGE_LAST when it has no stage before / after it, BRIDGE_BESIDE_BRIDGE when a
 * neighbour is a bridge too (*neighbour: that stage, the one before when both are), else
 * BRIDGE_OK (also for every non-bridge stage). */
typedef enum { BRIDGE_OK, BRIDGE_FIRST, BRIDGE_LAST, BRIDGE_BESIDE_BRIDGE } BridgeRule;
BridgeRule stage_bridge_rule(const StageSpec *stages, int n_stages, int k, int *neighbour);
/* Stages that are not bridges (a curriculum needs at least one). */
int stages_count_banded(const StageSpec *stages, int n_stages);

typedef struct CurriculumSpec {
    const StageSpec *stages; /* copied by curriculum_build */
    int n_stages;
    Order order;
    int variants_per_band; /* per training chain and band, 1..32 (5..10 intended) */
    uint64_t seed;
    int seq_len; /* T: a chain needs EOT + tokens + EOT <= T + 1 */
    double heldout_variant_band_lo, heldout_variant_band_hi;
    int heldout_variants_per_chain; /* 0: 2 */
    /* For the message about a chain too long for seq_len (neither changes what is built): */
    const char *seq_len_name; /* how the caller's user sets seq_len ("batch.seq_len"); NULL:
                                 "seq_len" */
    int context;              /* the most seq_len may be raised to (the model's context); 0:
                                 unknown */
    int heldout_entity_draws; /* items per trained typed chain in heldout_entities; 0: 1 */
} CurriculumSpec;

typedef struct CurriculumTokenizer {
    TokenizeFn tokenize;
    TokenLenFn token_len;
    void *ctx;
    int32_t eot; /* BOS, EOS and padding */
} CurriculumTokenizer;

typedef struct Curriculum Curriculum;

/* Validates spec (messages name the stage by index and name), splits the chains, generates and
 * tokenizes every pool and eval set. lib must outlive the curriculum. This is the only place
 * that allocates. */
int curriculum_build(Curriculum **out, const ChainLib *lib, const CurriculumSpec *spec,
                     const CurriculumTokenizer *tok, Err *e);
void curriculum_free(Curriculum *c);

/* ---- samples --------------------------------------------------------------------------------- */

typedef struct SamplePick {
    int pool;      /* pool index (curriculum_pool_stats) */
    int item;      /* item within the pool */
    int chain;     /* library chain index */
    int replay;    /* 1: drawn by replay from an earlier stage */
    int next_band; /* bridges: 1 if drawn from the next neighbour's band */
} SamplePick;

/* Which pool item sample i (0 <= i < global_batch) of (stage, step_in_stage) gets. The choice
 * is rng(seed, stream, sub = stage, index = hash(step_in_stage, i)). Returns -1 for arguments
 * out of range. */
int curriculum_pick(const Curriculum *c, int stage, int64_t step_in_stage, int64_t i,
                    int64_t global_batch, SamplePick *pick);
/* Writes that sample's row: inputs[T], targets[T], weights[T] (T = seq_len). Allocates
 * nothing. Returns -1 for arguments out of range. */
int curriculum_sample(const Curriculum *c, int stage, int64_t step_in_stage, int64_t i,
                      int64_t global_batch, int32_t *inputs, int32_t *targets, float *weights);

/* ---- accessors ------------------------------------------------------------------------------- */

int curriculum_n_stages(const Curriculum *c);
const StageSpec *curriculum_stage(const Curriculum *c, int stage);
int curriculum_seq_len(const Curriculum *c);
/* Pools: one per non-bridge stage, in stage order, each built from that stage's band. */
int curriculum_n_pools(const Curriculum *c);
/* The pool built from this stage's band (-1 for a bridge). Under ORDER_ANTI and
 * ORDER_GROWING_RANDOM a stage draws from another pool: see curriculum_pick. */
int curriculum_stage_pool(const Curriculum *c, int stage);

typedef struct PoolStats {
    int stage; /* the stage whose band built it */
    double band_lo, band_hi;
    int n_items;
    int n_chains_full;  /* training chains with variants_per_band variants */
    int n_chains_short; /* with fewer, but at least one */
    int n_chains_empty; /* with none in the band */
    double vol_min, vol_mean, vol_max;
} PoolStats;

int curriculum_pool_stats(const Curriculum *c, int pool, PoolStats *st);

typedef struct PoolItemView {
    int chain;
    double volatility;
    const char *text; /* NUL-terminated */
    const int32_t *tokens;
    const uint8_t *roles; /* ByteRole per token */
    int n_tokens;
} PoolItemView;

int curriculum_pool_item(const Curriculum *c, int pool, int item, PoolItemView *v);

typedef enum {
    EVAL_TRAIN,            /* canonical rendering of every trained chain (reference) */
    EVAL_HELDOUT_VARIANTS, /* trained chains, unseen variants in the held-out band */
    EVAL_HELDOUT_ENTITIES, /* trained chains with their last (never trained) tuple; typed slots
                              from the held-out partition */
    EVAL_HELDOUT_CHAINS,   /* held-out chains, every tuple (typed: training draws) */
    EVAL_COUNT
} EvalSplit;

/* The split names, one table indexed by EvalSplit: "train", "heldout_variants",
 * "heldout_entities", "heldout_chains". eval_split_name() returns "?" out of range;
 * eval_split_from_name() returns 0 and sets *out, or -1 for an unknown name. */
const char *eval_split_name(EvalSplit s);
int eval_split_from_name(const char *name, EvalSplit *out);

/* The model scores answer (and each foil) after prompt; prompt starts with EOT and
 * prompt + answer fits seq_len + 1, like a training row. */
typedef struct EvalItem {
    int chain, tuple;
    double volatility; /* of the text against the canonical one (0 for canonical items) */
    const char *text;  /* the full true text */
    size_t answer_start;
    const int32_t *prompt; /* [EOT, tokens of text[0..answer_start)] */
    int n_prompt;
    const int32_t *answer; /* tokens of text[answer_start..] */
    int n_answer;
    int n_foils;
    const int32_t *const *foils; /* tokens of each foil's answer, after the same prompt */
    const int *n_foil;
} EvalItem;

const EvalItem *curriculum_eval(const Curriculum *c, EvalSplit s, int *n_items);

/* Eval items for every (chain, tuple) of a library in its canonical wording, each with its
 * foils (typed slots: training draw t for tuple t under seed 0; a typed chain without fillers
 * gets CHAIN_MIN_TUPLES draws): how `imprint eval --chains FILE` scores chains of anyone's own,
 * through the same builder and the same checks (every rendering fits seq_len + 1 tokens) as the
 * curriculum's splits. *items is set (and must be freed with curriculum_eval_items_free) even on
 * failure. */
int curriculum_eval_library(const ChainLib *lib, const CurriculumTokenizer *tok, int seq_len,
                            EvalItem **items, int *n_items, Err *e);
void curriculum_eval_items_free(EvalItem *items, int n);

const char *curriculum_library_hash(const Curriculum *c);
int curriculum_n_train_chains(const Curriculum *c);
int curriculum_n_heldout_chains(const Curriculum *c);
int curriculum_chain_heldout(const Curriculum *c, int chain);

#endif
