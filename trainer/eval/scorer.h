/*
 * scorer.h — the recall test over ranks: a split's items are divided over the ranks, each rank
 * scores its share with eval_items (eval.h), and the sums are added (comm/).
 *
 * reproducibility = "rank-count": item slices per rank, float all-reduce of the sums.
 * reproducibility = "invariant": the split is cut into forward passes from item 0
 * (eval_chunk_end), whole chunks go to ranks and the chunks' sums are added exactly
 * (comm_sum_exact_f64), so the result does not depend on the rank count.
 *
 * Every call is collective: every rank takes part in every reduction, even after a local error,
 * and all ranks return -1 together when any failed (only the lowest failing rank keeps its
 * message, so it is printed once).
 */
#ifndef IMPRINT_SCORER_H
#define IMPRINT_SCORER_H

#include "comm.h"
#include "eval.h"

typedef struct Scorer {
    GPT2 *model; /* the forward pass: up to model->max_B rows of model->max_T tokens */
    Lora *lora;  /* the adapter; scored with scale 0 for the base model (NULL: base only) */
    Comm *comm;
    int32_t eot;
    int invariant;
    int32_t *inputs, *targets; /* scratch of max_B * max_T entries, owned by the caller */
    float *weights;
    double *parts;                  /* invariant: the sums of every chunk this rank scores */
    int64_t exact_acc[EVAL_SUMS_N]; /* invariant: scratch of the exact sums */
} Scorer;

/* Prepares a scorer for the item sets sets[0..n_sets) (sizes n_items[]): in invariant mode it
 * allocates room for the sums of the most chunks any of them gives this rank. */
void scorer_init(Scorer *s, GPT2 *model, Lora *lora, Comm *comm, int32_t eot, int invariant,
                 int32_t *inputs, int32_t *targets, float *weights, const EvalItem *const *sets,
                 const int *n_items, int n_sets);
void scorer_free(Scorer *s);

/* Scores items[0..n) with the adapter (use_adapter) or the base model. rec (NULL: none; made
 * for these items by eval_records_init) gets every item's record on every rank: each rank fills
 * the records of the items it scores, and one sum over ranks gathers them (eval.h). Collective;
 * every rank passes rec or none. */
int scorer_run(Scorer *s, int use_adapter, const EvalItem *items, int n, EvalSums *out,
               EvalRecords *rec, Err *e);

#endif
