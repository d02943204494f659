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

/* ---- per-item records ------------------------------------------------------------------------ */

void eval_records_init(EvalRecords *r, const EvalItem *items, int n, int decode) {
    memset(r, 0, sizeof *r);
    r->n = n;
    r->decode = decode;
    r->offset = xmalloc(sizeof(size_t) * ((size_t)n + 1), "eval records");
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        r->offset[i] = o;
        o += EVAL_REC_FIXED + 2 * (size_t)items[i].n_answer;
    }
    r->offset[n] = o;
    r->data = xmalloc(sizeof(double) * (o + 1), "eval records");
    r->work = xmalloc(sizeof(int) * ((size_t)n + 1), "eval records");
}

void eval_records_free(EvalRecords *r) {
    xfree(r->data);
    xfree(r->offset);
    xfree(r->work);
    memset(r, 0, sizeof *r);
}

const double *eval_record_correct(const EvalRecords *r, const EvalItem *items, int i) {
    (void)items;
    return r->data + r->offset[i] + EVAL_REC_FIXED;
}

const double *eval_record_greedy(const EvalRecords *r, const EvalItem *items, int i) {
    return r->data + r->offset[i] + EVAL_REC_FIXED + items[i].n_answer;
}

static double *record(EvalRecords *r, int i) {
    return r->data + r->offset[i];
}

/* Greedy decoding of the items list[0..n) past their first miss. Each record holds the answer's
 * flags and, from the scoring pass, the argmax after the true prefix at every answer position:
 * up to the first miss k that is the greedy completion (the answer's tokens, then the argmax at
 * k); from there the items are decoded together, one forward pass per token, each row holding
 * prompt + its completion so far. */
static int decode_rest(GPT2 *m, const Lora *lora, const EvalItem *items, int *list, int n,
                       int32_t eot, int32_t *tokens, EvalRecords *rec, Err *e) {
    const int V = m->cfg.vocab;
    int active = 0;
    for (int a = 0; a < n; a++) {
        const EvalItem *it = &items[list[a]];
        double *r = record(rec, list[a]), *g = r + EVAL_REC_FIXED + it->n_answer;
        const double *ok = r + EVAL_REC_FIXED;
        int k = 0;
        while (k < it->n_answer && ok[k] == 1.0) k++;
        if (k == it->n_answer) continue; /* no answer tokens */
        for (int j = k + 1; j < it->n_answer; j++) g[j] = 0.0;
        if ((int32_t)g[k] == eot) { /* the model ends the text there */
            g[k] = 0.0;
            r[EVAL_REC_N_GREEDY] = k;
            r[EVAL_REC_EOT] = 1.0;
            continue;
        }
        r[EVAL_REC_N_GREEDY] = k + 1;
        if (k + 1 < it->n_answer) list[active++] = list[a];
    }
    while (active > 0) {
        int T = 0;
        for (int a = 0; a < active; a++) {
            const EvalItem *it = &items[list[a]];
            int len = it->n_prompt + (int)record(rec, list[a])[EVAL_REC_N_GREEDY];
            if (len > T) T = len;
        }
        for (int a = 0; a < active; a++) {
            const EvalItem *it = &items[list[a]];
            const double *r = record(rec, list[a]), *g = r + EVAL_REC_FIXED + it->n_answer;
            const int have = (int)r[EVAL_REC_N_GREEDY];
            int32_t *row = tokens + (size_t)a * T;
            for (int j = 0; j < T; j++)
                row[j] = j < it->n_prompt          ? it->prompt[j]
                         : j < it->n_prompt + have ? (int32_t)g[j - it->n_prompt]
                                                   : eot;
        }
        Batch b = {tokens, NULL, NULL, active, T, 0, 0, 0};
        if (gpt2_forward(m, lora, &b, e) != 0) return -1;
        int still = 0;
        for (int a = 0; a < active; a++) {
            const EvalItem *it = &items[list[a]];
            double *r = record(rec, list[a]), *g = r + EVAL_REC_FIXED + it->n_answer;
            const int have = (int)r[EVAL_REC_N_GREEDY];
            const size_t pos = (size_t)a * T + (size_t)(it->n_prompt + have - 1);
            const int32_t next = gpt2_argmax(m->acts.logits->data + pos * V, V);
            if (next == eot) {
                r[EVAL_REC_EOT] = 1.0;
                continue;
            }
            g[have] = next;
            r[EVAL_REC_N_GREEDY] = have + 1;
            if (have + 1 < it->n_answer) list[still++] = list[a];
        }
        active = still;
    }
    return 0;
}

/* ---- scoring ------------------------------------------------------------------------------- */

int eval_items(GPT2 *m, const Lora *lora, const EvalItem *items, int first, int count, int32_t eot,
               int32_t *tokens, int32_t *targets, float *weights, EvalSums *out, EvalRecords *rec,
               Err *e) {
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
        /* the decoding starts from the argmax after the true prefix at each answer position */
        w = c;
        for (int r = 0; rec && rec->decode && r < rows; r++, cursor_next(items, &w)) {
            if (w.f >= 0) continue;
            const EvalItem *it = &items[w.q];
            double *g = record(rec, w.q) + EVAL_REC_FIXED + it->n_answer;
            for (int j = 0; j < it->n_answer; j++) {
                const size_t i = (size_t)r * T + (size_t)(it->n_prompt - 1 + j);
                g[j] = gpt2_argmax(m->acts.logits->data + i * V, V);
            }
        }
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
        int n_miss = 0; /* items of this pass to decode past their first miss */
        for (int r = 0; r < rows; r++, cursor_next(items, &c)) {
            const EvalItem *it = &items[c.q];
            double nll = 0.0;
            int g = 0, n = 0;
            double *rc = rec && c.f < 0 ? record(rec, c.q) : NULL; /* the true row's record */
            for (int j = 0; j < T; j++) {
                size_t i = (size_t)r * T + j;
                if (weights[i] == 0.0f) continue;
                nll += m->acts.losses->data[i];
                g += weights[i] == 1.0f;
                if (rc) rc[EVAL_REC_FIXED + n] = weights[i] == 1.0f;
                n++;
            }
            if (rc) rc[EVAL_REC_NLL] = nll;
            nll = n ? nll / n : 0.0;
            if (c.f < 0) {
                const int em = g == n && n > 0;
                true_nll = nll;
                foil_sum = 0.0;
                out->n += 1;
                out->em += em;
                out->nll += nll;
                out->greedy += n ? (double)g / n : 0.0;
                if (rc) {
                    rc[EVAL_REC_EM] = em;
                    rc[EVAL_REC_N_GREEDY] = n;
                    if (rec->decode && !em) rec->work[n_miss++] = c.q;
                }
            } else {
                foil_sum += nll - true_nll;
            }
            if (c.f == it->n_foils - 1 && it->n_foils > 0) { /* the item's last row */
                out->margin += foil_sum / it->n_foils;
                out->n_foil += 1;
                if (rec) record(rec, c.q)[EVAL_REC_MARGIN] = foil_sum / it->n_foils;
            }
        }
        if (n_miss > 0 && decode_rest(m, lora, items, rec->work, n_miss, eot, tokens, rec, e) != 0)
            return -1;
    }
    return 0;
}

void eval_form_sums(const EvalRecords *r, const EvalItem *items, int n, const ChainLib *lib,
                    EvalSums out[FORM_COUNT]) {
    memset(out, 0, sizeof(EvalSums) * FORM_COUNT);
    for (int i = 0; i < n; i++) {
        const EvalItem *it = &items[i];
        const double *rc = r->data + r->offset[i], *ok = rc + EVAL_REC_FIXED;
        EvalSums *s = &out[lib->chains[it->chain].form];
        int g = 0;
        for (int j = 0; j < it->n_answer; j++) g += ok[j] == 1.0;
        s->n += 1;
        s->em += rc[EVAL_REC_EM];
        s->nll += it->n_answer ? rc[EVAL_REC_NLL] / it->n_answer : 0.0;
        s->greedy += it->n_answer ? (double)g / it->n_answer : 0.0;
        if (it->n_foils > 0) {
            s->margin += rc[EVAL_REC_MARGIN];
            s->n_foil += 1;
        }
    }
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
