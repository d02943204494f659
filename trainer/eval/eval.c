/*
 * eval.c — the recall test (see eval.h).
 *
 * Items are packed whole into batches of rows: row 0 of an item is prompt + true answer, rows
 * 1.. are prompt + each foil. An item with more rows than one forward pass takes (few rows per
 * rank) is scored alone over several passes; its sums are the same, in the same order.
 */
#include "eval.h"

#include <string.h>

static int item_rows(const EvalItem *it) {
    return 1 + it->n_foils;
}

/* Writes one row (prompt + answer, shifted: inputs/targets) at row r of the batch buffers; the
 * answer's target positions get weight 1, everything else 0. */
static void put_row(const EvalItem *it, const int32_t *ans, int n_ans, int r, int T, int32_t eot,
                    int32_t *tokens, int32_t *targets, float *weights) {
    const int L = it->n_prompt + n_ans, T_row = L - 1;
    int32_t *in = tokens + (size_t)r * T, *tg = targets + (size_t)r * T;
    float *w = weights + (size_t)r * T;
    for (int j = 0; j < T; j++) {
        in[j] = eot;
        tg[j] = eot;
        w[j] = 0.0f;
    }
    for (int j = 0; j < T_row; j++) {
        in[j] = j < it->n_prompt ? it->prompt[j] : ans[j - it->n_prompt];
        int k = j + 1;
        tg[j] = k < it->n_prompt ? it->prompt[k] : ans[k - it->n_prompt];
        w[j] = k >= it->n_prompt ? 1.0f : 0.0f;
    }
}

int eval_chunk_end(const EvalItem *items, int n, int start, int max_B) {
    int rows = 0, k = start;
    while (k < n && rows + item_rows(&items[k]) <= max_B) rows += item_rows(&items[k++]);
    return k > start ? k : start + 1; /* an item too large is eval_items' error to report */
}

/* A position in the rows of a run of items: item q, answer f (-1: the true answer, else foil f).
 */
typedef struct RowCursor {
    int q, f;
} RowCursor;

static void cursor_next(const EvalItem *items, RowCursor *c) {
    if (++c->f >= items[c->q].n_foils) {
        c->q++;
        c->f = -1;
    }
}

/* The rows of the forward pass that starts at c: as many whole items as fit max_B rows; an item
 * that does not fit alone is split over passes of max_B rows of its own (true answer first, then
 * its foils in order), so that no batch size is too small for the eval. */
static int pass_rows(const EvalItem *items, int end, RowCursor c, int max_B) {
    if (c.f >= 0) { /* inside a split item: the rest of its foils */
        const int left = items[c.q].n_foils - c.f;
        return left < max_B ? left : max_B;
    }
    int rows = 0;
    for (int k = c.q; k < end && rows + item_rows(&items[k]) <= max_B; k++)
        rows += item_rows(&items[k]);
    return rows > 0 ? rows : max_B;
}

int eval_items(GPT2 *m, const Lora *lora, const EvalItem *items, int first, int count, int32_t eot,
               int32_t *tokens, int32_t *targets, float *weights, EvalSums *out, Err *e) {
    const int maxB = m->max_B, T = m->max_T, V = m->cfg.vocab, end = first + count;
    memset(out, 0, sizeof *out);
    double true_nll = 0.0, foil_sum = 0.0; /* of the item being scored (it may span passes) */
    RowCursor c = {first, -1};
    while (c.q < end) {
        const int rows = pass_rows(items, end, c, maxB);
        RowCursor w = c;
        for (int r = 0; r < rows; r++, cursor_next(items, &w)) {
            const EvalItem *it = &items[w.q];
            const int32_t *ans = w.f < 0 ? it->answer : it->foils[w.f];
            int n_ans = w.f < 0 ? it->n_answer : it->n_foil[w.f];
            if (it->n_prompt + n_ans - 1 > T)
                return err_set(e,
                               "eval: chain %d needs %d tokens but the model was built for %d "
                               "(batch.seq_len)",
                               it->chain, it->n_prompt + n_ans - 1, T);
            put_row(it, ans, n_ans, r, T, eot, tokens, targets, weights);
        }
        /* rows are laid out with stride T; the forward runs rows x T */
        Batch b = {tokens, targets, weights, rows, T, 0, 0, 0}; /* eval: no dropout */
        if (gpt2_forward(m, lora, &b, e) != 0) return -1;
        /* argmax at every answer position, before the loss turns logits into probabilities.
         * The verdict is kept in the weight itself: 1 = greedy, 2 = not greedy (the loss's
         * per-token values do not depend on the weights; only its weighted sum, unused here) */
        for (int i = 0; i < rows * T; i++) {
            if (weights[i] == 0.0f) continue;
            const float *z = m->acts.logits->data + (size_t)i * V;
            const float zt = z[targets[i]];
            int ok = 1;
            for (int v = 0; v < V && ok; v++)
                if (v != targets[i] && z[v] >= zt) ok = 0;
            weights[i] = ok ? 1.0f : 2.0f;
        }
        gpt2_loss(m, &b);
        for (int r = 0; r < rows; r++, cursor_next(items, &c)) {
            const EvalItem *it = &items[c.q];
            double nll = 0.0;
            int g = 0, n = 0;
            for (int j = 0; j < T; j++) {
                size_t i = (size_t)r * T + j;
                if (weights[i] == 0.0f) continue;
                nll += m->acts.losses->data[i];
                g += weights[i] == 1.0f;
                n++;
            }
            nll = n ? nll / n : 0.0;
            if (c.f < 0) {
                true_nll = nll;
                foil_sum = 0.0;
                out->n += 1;
                out->em += (g == n && n > 0);
                out->nll += nll;
                out->greedy += n ? (double)g / n : 0.0;
            } else {
                foil_sum += nll - true_nll;
            }
            if (c.f == it->n_foils - 1 && it->n_foils > 0) { /* the item's last row */
                out->margin += foil_sum / it->n_foils;
                out->n_foil += 1;
            }
        }
    }
    return 0;
}

EvalMetrics eval_metrics(const EvalSums *s) {
    EvalMetrics mt = {(int)s->n, 0, 0, 0, 0};
    if (s->n > 0) {
        mt.em = s->em / s->n;
        mt.nll = s->nll / s->n;
        mt.greedy = s->greedy / s->n;
    }
    if (s->n_foil > 0) mt.margin = s->margin / s->n_foil;
    return mt;
}
