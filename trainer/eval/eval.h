/*
 * eval.h — the recall test: given a chain's premises (the prompt), does the model complete the
 * conclusion (the answer)?
 *
 * For each item, one teacher-forced forward pass over prompt + answer gives everything:
 *   - exact match: greedy decoding reproduces the answer token for token. Greedy decoding picks
 *     the argmax after the prefix it has produced; if every answer token is the argmax after the
 *     true prefix, greedy decoding never leaves the true prefix and yields exactly the answer,
 *     and if one is not, the first such token is where greedy decoding departs. So exact match
 *     = "every answer position is the argmax" (ties count as misses).
 *   - span NLL: mean negative log-likelihood of the answer tokens;
 *   - is-greedy: the fraction of answer tokens that are the argmax;
 *   - margin: mean over foils of (mean NLL of the foil's answer - mean NLL of the true answer);
 *     positive when the model prefers the right conclusion.
 * The model knows nothing of ranks: callers hand each rank a slice of the items and add the
 * sums.
 */
#ifndef IMPRINT_EVAL_H
#define IMPRINT_EVAL_H

#include "curriculum.h"
#include "lora.h"
#include "model.h"

typedef struct EvalSums {
    double n;      /* items */
    double em;     /* items whose greedy completion equals the answer */
    double nll;    /* sum over items of the mean answer-token NLL */
    double greedy; /* sum over items of the fraction of greedy answer tokens */
    double margin; /* sum over items with foils of their mean margin */
    double n_foil; /* items with at least one foil */
} EvalSums;

#define EVAL_SUMS_N 6 /* doubles in EvalSums, for one all-reduce */

/* Per-item results (the form breakdown, items.jsonl). Item i of a set owns the doubles
 * data[offset[i] .. offset[i + 1]):
 *   EVAL_REC_NLL       sum of its answer-token NLLs
 *   EVAL_REC_MARGIN    mean over its foils of (foil mean NLL - answer mean NLL); 0 without foils
 *   EVAL_REC_EM        1 when every answer token is the argmax after the true prefix
 *   EVAL_REC_N_GREEDY  (decode) tokens of the greedy completion: n_answer, or fewer when the
 *                      model chose <|endoftext|> first (EVAL_REC_EOT = 1; it is not counted)
 *   then n_answer 0/1 flags (answer token j is the argmax after the true prefix: teacher-forced,
 *   the "greedy tokens" rate), then (decode) the greedy completion's n_answer token ids (unused
 *   slots 0).
 * The greedy completion is real greedy decoding: up to the first miss it is the answer plus the
 * argmax there (eval.h's argument), past it the model continues from its own tokens (extra
 * forward passes, only for items that miss). Offsets are a function of the items alone, so every
 * rank knows where every item's record lies: ranks fill disjoint parts of a zeroed buffer and a
 * sum over ranks gathers the records exactly (each value is added to zeros only). */
enum {
    EVAL_REC_NLL,
    EVAL_REC_MARGIN,
    EVAL_REC_EM,
    EVAL_REC_N_GREEDY,
    EVAL_REC_EOT,
    EVAL_REC_FIXED
};

typedef struct EvalRecords {
    double *data;
    size_t *offset; /* [n + 1] */
    int n;
    int decode; /* 1: greedy completions too (items.jsonl); 0: the rest only */
    int *work;  /* [n]: scratch of the decoding */
} EvalRecords;

void eval_records_init(EvalRecords *r, const EvalItem *items, int n, int decode);
void eval_records_free(EvalRecords *r);
/* Item i's 0/1 flags and greedy completion (n_answer entries each). */
const double *eval_record_correct(const EvalRecords *r, const EvalItem *items, int i);
const double *eval_record_greedy(const EvalRecords *r, const EvalItem *items, int i);

/* Scores items [first, first + count) with the model and adapter (lora may be NULL or have
 * scale 0 for the base model). Uses the model's activation buffers: up to max_B rows of max_T
 * tokens per forward pass; an item with more rows (1 + its foils) than max_B is scored alone over
 * several passes, so any max_B >= 1 scores any item. tokens/targets/weights are scratch of
 * max_B * max_T entries. rec (NULL: none) gets the records of these items (records of the set
 * the items belong to: item indices are the same). */
int eval_items(GPT2 *m, const Lora *lora, const EvalItem *items, int first, int count, int32_t eot,
               int32_t *tokens, int32_t *targets, float *weights, EvalSums *out, EvalRecords *rec,
               Err *e);

/* The end of the forward pass eval_items makes for the items from `start`: as many whole items
 * as fit max_B rows (at least one: an item too large is scored alone, over several passes). Cutting
 * a split with it from item 0 gives batches that do not depend on how the items are later divided
 * over ranks. */
int eval_chunk_end(const EvalItem *items, int n, int start, int max_B);

/* Means of a split's sums. */
typedef struct EvalMetrics {
    int n;
    double em, nll, greedy, margin;
} EvalMetrics;

EvalMetrics eval_metrics(const EvalSums *s);

/* The sums of items [0, n) by the logical form of their chain (lib: the library the items
 * were built from), from their records with eval_items' own arithmetic per item: a form's sums
 * are the split's restricted to its items, and the forms' sums add up to the split's. */
void eval_form_sums(const EvalRecords *r, const EvalItem *items, int n, const ChainLib *lib,
                    EvalSums out[FORM_COUNT]);

#endif
