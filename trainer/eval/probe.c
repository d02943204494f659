/*
 * probe.c — previous-token, induction and copying scores, and the loss of each copy of a
 * repeated sequence (see probe.h for exactly what is computed).
 */
#include "probe.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* LAPACK's dgeev from OpenBLAS (which ships the reference LAPACK routines), called through the
 * Fortran interface as LAPACKE itself does: arguments by reference, column-major matrices, the
 * lengths of the two character arguments at the end. Debian's OpenBLAS exports dgeev_ but no
 * LAPACKE wrappers; CMakeLists.txt checks the symbol. */
extern void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
                   double *wr, double *wi, double *vl, const int *ldvl, double *vr, const int *ldvr,
                   double *work, const int *lwork, int *info, size_t len_jobvl, size_t len_jobvr);

void probe_random_sequences(int32_t *out, int n_seqs, int span, const int32_t *pool, int n_pool,
                            int32_t *scratch, uint64_t seed) {
    for (int s = 0; s < n_seqs; s++) {
        memcpy(scratch, pool, sizeof(int32_t) * (size_t)n_pool);
        for (int i = 0; i < span; i++) { /* partial Fisher-Yates: scratch[0..i] is the draw */
            uint64_t r = rng_u64(seed, RNG_STREAM_PROBE, (uint32_t)s, (uint64_t)i);
            int j = i + (int)(r % (uint64_t)(n_pool - i));
            int32_t tmp = scratch[i];
            scratch[i] = scratch[j];
            scratch[j] = tmp;
            out[(size_t)s * span + i] = scratch[i];
        }
    }
}

/* ---- attention scores through the taps ------------------------------------------------------ */

typedef struct AttnSums {
    int span, n_head;
    double *prev, *induction; /* [n_layer * n_head] sums over rows and query positions */
} AttnSums;

static void on_attention(const TapView *v, void *user) {
    AttnSums *a = user;
    const int64_t B = v->shape[0], NH = v->shape[1], T = v->shape[2];
    for (int64_t h = 0; h < NH; h++) {
        double prev = 0.0, ind = 0.0;
        for (int64_t b = 0; b < B; b++) {
            const float *att = v->data + (size_t)((b * NH + h) * T * T);
            for (int64_t t = 1; t < T; t++) prev += att[t * T + t - 1];
            for (int64_t t = a->span; t < T; t++) ind += att[t * T + t - a->span + 1];
        }
        a->prev[v->layer * a->n_head + h] += prev;
        a->induction[v->layer * a->n_head + h] += ind;
    }
}

int probe_run(GPT2 *m, const int32_t *seqs, int n_seqs, int span, int reps, double *copy_loss,
              ProbeHead *heads, Err *e) {
    const int T = span * reps, rows = m->max_B, L = m->cfg.n_layer, NH = m->cfg.n_head;
    if (span < 2 || reps < 2 || n_seqs < 1)
        return err_set(e, "probe: needs span >= 2, reps >= 2 and a sequence (got %d, %d, %d)", span,
                       reps, n_seqs);
    if (T > m->max_T)
        return err_set(e, "probe: %d x %d = %d tokens do not fit the %d positions built", span,
                       reps, T, m->max_T);
    const size_t n = (size_t)rows * T;
    int32_t *inputs = xmalloc(sizeof(int32_t) * n, "probe inputs");
    int32_t *targets = xmalloc(sizeof(int32_t) * n, "probe targets");
    float *weights = xmalloc(sizeof(float) * n, "probe weights");
    double *sums = xmalloc(sizeof(double) * (size_t)(2 * L * NH), "probe sums");
    memset(sums, 0, sizeof(double) * (size_t)(2 * L * NH));
    AttnSums acc = {span, NH, sums, sums + L * NH};
    ModelTaps taps = {on_attention, &acc, 1u << TAP_ATTN_PROBS};
    for (int k = 0; k < reps; k++) copy_loss[k] = 0.0;
    const ModelTaps *own = m->taps;
    if (heads) gpt2_set_taps(m, &taps);
    int rc = 0;
    for (int first = 0; first < n_seqs && rc == 0; first += rows) {
        const int B = n_seqs - first < rows ? n_seqs - first : rows;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T; p++) {
                const size_t i = (size_t)b * T + p;
                inputs[i] = seqs[(size_t)(first + b) * span + p % span];
                targets[i] = p + 1 < T ? seqs[(size_t)(first + b) * span + (p + 1) % span] : -1;
                /* input p predicts token p + 1: counted unless that token starts a copy */
                weights[i] = (p + 1 < T && (p + 1) % span != 0) ? 1.0f : 0.0f;
                if (weights[i] == 0.0f) targets[i] = -1;
            }
        Batch batch = {inputs, targets, weights, B, T, 0, 0, 0};
        rc = gpt2_forward(m, NULL, &batch, e);
        if (rc != 0) break;
        gpt2_loss(m, &batch);
        const float *losses = m->acts.losses->data;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T; p++)
                if (weights[(size_t)b * T + p] != 0.0f)
                    copy_loss[(p + 1) / span] += losses[(size_t)b * T + p];
    }
    if (heads) gpt2_set_taps(m, own);
    if (rc == 0) {
        for (int k = 0; k < reps; k++) copy_loss[k] /= (double)n_seqs * (span - 1);
        for (int i = 0; heads && i < L * NH; i++) {
            heads[i].prev = acc.prev[i] / ((double)n_seqs * (T - 1));
            heads[i].induction = acc.induction[i] / ((double)n_seqs * (T - span));
        }
    }
    xfree(sums);
    xfree(weights);
    xfree(targets);
    xfree(inputs);
    return rc;
}

/* ---- copying: eigenvalues of the OV circuit ---------------------------------------------------
 */

int probe_copying(const GPT2 *m, ProbeHead *heads, Err *e) {
    const int V = m->cfg.vocab, C = m->cfg.n_embd, NH = m->cfg.n_head, L = m->cfg.n_layer;
    const int d = C / NH;
    const float *wte = m->params.wte->data;
    /* G = W_U W_E = wte^T wte (tied), in double */
    double *E = xmalloc(sizeof(double) * (size_t)V * C, "probe embedding");
    for (size_t i = 0; i < (size_t)V * C; i++) E[i] = wte[i];
    double *G = xmalloc(sizeof(double) * (size_t)C * C, "probe G");
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, C, V, 1.0, E, C, E, C, 0.0, G, C);
    xfree(E);
    double *Wv = xmalloc(sizeof(double) * (size_t)C * d, "probe W_V");
    double *Wo = xmalloc(sizeof(double) * (size_t)d * C, "probe W_O");
    double *GWv = xmalloc(sizeof(double) * (size_t)C * d, "probe G W_V");
    double *K = xmalloc(sizeof(double) * (size_t)d * d, "probe K");
    double *wr = xmalloc(sizeof(double) * (size_t)d, "probe eigenvalues");
    double *wi = xmalloc(sizeof(double) * (size_t)d, "probe eigenvalues");
    double dummy = 0.0, query = 0.0;
    int one = 1, lwork = -1, info = 0;
    dgeev_("N", "N", &d, K, &d, wr, wi, &dummy, &one, &dummy, &one, &query, &lwork, &info, 1, 1);
    lwork = info == 0 && query >= 4.0 * d ? (int)query : 4 * d;
    double *work = xmalloc(sizeof(double) * (size_t)lwork, "probe LAPACK workspace");
    int rc = 0;
    for (int l = 0; l < L && rc == 0; l++) {
        const float *attn_w = m->params.layers[l].attn_w->data; /* [C, 3C] */
        const float *proj_w = m->params.layers[l].proj_w->data; /* [C, C] */
        for (int h = 0; h < NH; h++) {
            for (int i = 0; i < C; i++)
                for (int j = 0; j < d; j++)
                    Wv[(size_t)i * d + j] = attn_w[(size_t)i * 3 * C + 2 * C + h * d + j];
            for (int i = 0; i < d; i++)
                for (int j = 0; j < C; j++)
                    Wo[(size_t)i * C + j] = proj_w[(size_t)(h * d + i) * C + j];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, d, C, 1.0, G, C, Wv, d, 0.0,
                        GWv, d);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, C, 1.0, Wo, C, GWv, d, 0.0,
                        K, d);
            /* K is row-major; dgeev reads it as K^T, which has the same eigenvalues */
            dgeev_("N", "N", &d, K, &d, wr, wi, &dummy, &one, &dummy, &one, work, &lwork, &info, 1,
                   1);
            if (info != 0) {
                rc = err_set(e,
                             "probe: LAPACK dgeev failed on the OV circuit of layer %d head %d "
                             "(info %d); the weights may hold NaN or Inf",
                             l, h, info);
                break;
            }
            double top = 0.0;
            for (int i = 0; i < d; i++) top = fmax(top, hypot(wr[i], wi[i]));
            int pos = 0, nonzero = 0;
            double sum = 0.0, mod = 0.0;
            for (int i = 0; i < d; i++) {
                const double r = hypot(wr[i], wi[i]);
                if (!(r > PROBE_EIG_ZERO * top)) continue; /* K is rank-deficient there */
                nonzero++;
                pos += wr[i] > 0.0;
                sum += wr[i];
                mod += r;
            }
            ProbeHead *ph = &heads[l * NH + h];
            ph->copy_positive = pos;
            ph->copy_nonzero = nonzero;
            ph->copying = nonzero ? (double)pos / nonzero : 0.0;
            ph->copy_ratio = mod > 0.0 ? sum / mod : 0.0;
        }
    }
    xfree(work);
    xfree(wi);
    xfree(wr);
    xfree(K);
    xfree(GWv);
    xfree(Wo);
    xfree(Wv);
    xfree(G);
    return rc;
}
