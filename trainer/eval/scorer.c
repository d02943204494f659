/*
 * scorer.c — the recall test over ranks (see scorer.h).
 */
#include "scorer.h"

#include <string.h>

static int chunk_count(const EvalItem *items, int n, int max_B) {
    int chunks = 0;
    for (int k = 0; k < n; chunks++) k = eval_chunk_end(items, n, k, max_B);
    return chunks;
}

void scorer_init(Scorer *s, GPT2 *model, Lora *lora, Comm *comm, int32_t eot, int invariant,
                 int32_t *inputs, int32_t *targets, float *weights, const EvalItem *const *sets,
                 const int *n_items, int n_sets) {
    memset(s, 0, sizeof *s);
    *s = (Scorer){.model = model,
                  .lora = lora,
                  .comm = comm,
                  .eot = eot,
                  .invariant = invariant,
                  .inputs = inputs,
                  .targets = targets,
                  .weights = weights};
    if (!invariant) return;
    int most = 1;
    for (int i = 0; i < n_sets; i++) {
        int chunks = chunk_count(sets[i], n_items[i], model->max_B);
        int per_rank = (chunks + comm->size - 1) / comm->size;
        if (per_rank > most) most = per_rank;
    }
    s->parts = xmalloc(sizeof(double) * EVAL_SUMS_N * (size_t)most, "eval sums");
}

void scorer_free(Scorer *s) {
    xfree(s->parts);
    s->parts = NULL;
}

static void sums_to_array(const EvalSums *x, double v[EVAL_SUMS_N]) {
    const double a[EVAL_SUMS_N] = {x->n, x->em, x->nll, x->greedy, x->margin, x->n_foil};
    memcpy(v, a, sizeof a);
}

static EvalSums sums_from_array(const double v[EVAL_SUMS_N]) {
    return (EvalSums){v[0], v[1], v[2], v[3], v[4], v[5]};
}

/* Whole chunks per rank, exact sums of the chunks' sums. */
static int score_invariant(Scorer *s, const EvalItem *items, int n, EvalSums *out, EvalRecords *rec,
                           Err *e) {
    const int max_B = s->model->max_B;
    const int chunks = chunk_count(items, n, max_B);
    int64_t first, count;
    comm_slice(chunks, s->comm->rank, s->comm->size, &first, &count);
    int rc = 0, c = 0, j = 0;
    for (int k = 0; k < n && c < first + count; c++) {
        int end = eval_chunk_end(items, n, k, max_B);
        if (c >= first && rc == 0) {
            EvalSums cs;
            rc = eval_items(s->model, s->lora, items, k, end - k, s->eot, s->inputs, s->targets,
                            s->weights, &cs, rec, e);
            double *p = s->parts + (size_t)j++ * EVAL_SUMS_N;
            sums_to_array(&cs, p);
            if (rc != 0) memset(p, 0, sizeof(double) * EVAL_SUMS_N);
        }
        k = end;
    }
    /* every rank takes part in the sum, even after a local error */
    double sums[EVAL_SUMS_N] = {0};
    comm_sum_exact_f64(s->comm, s->parts, j, EVAL_SUMS_N, EVAL_SUMS_N, chunks, s->exact_acc, sums);
    *out = sums_from_array(sums);
    return rc;
}

/* Item slices per rank, float all-reduce of the sums. */
static int score_rank_count(Scorer *s, const EvalItem *items, int n, EvalSums *out,
                            EvalRecords *rec, Err *e) {
    int64_t first, count;
    comm_slice(n, s->comm->rank, s->comm->size, &first, &count);
    EvalSums local = {0};
    int rc = eval_items(s->model, s->lora, items, (int)first, (int)count, s->eot, s->inputs,
                        s->targets, s->weights, &local, rec, e);
    double sums[EVAL_SUMS_N];
    sums_to_array(&local, sums);
    comm_allreduce_sum_f64(s->comm, sums, EVAL_SUMS_N);
    *out = sums_from_array(sums);
    return rc;
}

/* Every rank holds zeros but in the records of the items it scored: the sum over ranks adds each
 * value to zeros only, which is exact in any order (a -0 is made +0 first, so that the bytes do
 * not depend on how many zeros it meets). */
static void gather_records(Scorer *s, EvalRecords *rec) {
    const size_t n = rec->offset[rec->n];
    for (size_t i = 0; i < n; i++)
        if (rec->data[i] == 0.0) rec->data[i] = 0.0;
    comm_allreduce_sum_f64(s->comm, rec->data, n);
}

int scorer_run(Scorer *s, int use_adapter, const EvalItem *items, int n, EvalSums *out,
               EvalRecords *rec, Err *e) {
    float keep = 0.0f;
    if (s->lora) {
        keep = s->lora->scale;
        if (!use_adapter) s->lora->scale = 0.0f; /* the base model, same code path */
    }
    if (rec) memset(rec->data, 0, sizeof(double) * rec->offset[rec->n]);
    int rc = s->invariant ? score_invariant(s, items, n, out, rec, e)
                          : score_rank_count(s, items, n, out, rec, e);
    if (rec) gather_records(s, rec);
    if (s->lora) s->lora->scale = keep;
    /* the lowest failing rank keeps its message, the others clear theirs: printed once */
    const int bad = comm_first_failure(s->comm, rc != 0);
    if (bad < 0) return 0;
    if (s->comm->rank != bad) e->msg[0] = '\0';
    return -1;
}
