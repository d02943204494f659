/*
 * probe.h — can a base model copy? The measurements of Olsson et al. 2022 ("In-context
 * learning and induction heads") on imprint's GPT-2, for `imprint probe`.
 *
 * A probe sequence is `span` tokens repeated `reps` times: T = span * reps positions, token
 * x[t] = x[t mod span]. Over a set of such sequences (one forward pass each, attention read
 * through the activation taps of taps.h, never a second forward pass):
 *
 *   previous-token score of head (l, h): the mean over sequences and query positions
 *       t = 1 .. T-1 of att[t][t-1];
 *   induction score: the mean over sequences and query positions t = span .. T-1 (every copy
 *       after the first) of att[t][t-span+1], the position after the previous occurrence of
 *       x[t]. Meaningful when the tokens of one span are distinct (probe_random_sequences draws
 *       them so);
 *   loss of copy k (0-based): the mean next-token loss (nats) of the tokens at positions
 *       k*span+1 .. (k+1)*span-1, each predicted from every token before it. The first token of
 *       each copy is left out of every copy's mean: nothing before it predicts it (in the first
 *       copy there is no context; in later copies it follows the previous copy's last token).
 *
 * The copying score of a head (probe_copying) comes from its OV circuit, with LayerNorm and
 * biases ignored as Olsson et al. do. In the row-vector layout of the weights (HF Conv1D,
 * y = x W):
 *
 *   M_h = W_E W_V^h W_O^h W_U      [V x V]: row i = the logits added when the head attends to
 *                                   token i
 *   W_E = wte [V, C]; W_V^h = c_attn.weight[:, 2C + h*d .. 2C + (h+1)*d] [C, d];
 *   W_O^h = attn.c_proj.weight[h*d .. (h+1)*d, :] [d, C]; W_U = wte^T [C, V] (imprint's GPT-2
 *   ties the unembedding to the token embedding; an untied W_U would enter the same way).
 *
 * (Olsson's column-vector W_U W_O W_V W_E is M_h transposed: the same eigenvalues.) M_h has
 * rank <= d; its nonzero eigenvalues are those of the d x d matrix
 *
 *   K_h = W_O^h (W_U W_E) W_V^h = W_O^h G W_V^h,   G = wte^T wte [C x C] (tied),
 *
 * because the nonzero eigenvalues of A B equal those of B A (A = W_E W_V^h, B = W_O^h W_U). K_h
 * is formed in double precision and its d eigenvalues come from LAPACK's dgeev (OpenBLAS).
 * Those with |lambda| <= PROBE_EIG_ZERO * max |lambda| count as zero (K is rank-deficient only
 * when the head or the vocabulary is smaller than d; a trained head has d nonzero ones). The
 * copying score is the share of the nonzero ones with a positive real part (1 = the head raises
 * the logit of the token it attends to along every direction; a random matrix gives about 0.5;
 * 0 when all are zero); copy_ratio is Elhage et al.'s sum(lambda) / sum(|lambda|) over them
 * (in [-1, 1]; 0 when all are zero).
 *
 * Functions return 0, or -1 with e filled.
 */
#ifndef IMPRINT_PROBE_H
#define IMPRINT_PROBE_H

#include <stdint.h>

#include "model.h"
#include "util.h"

#define PROBE_EIG_ZERO 1e-9 /* relative to the largest |eigenvalue| of the head */

/* Per head, index l * n_head + h. */
typedef struct ProbeHead {
    double prev;       /* previous-token score */
    double induction;  /* induction score */
    double copying;    /* share of the OV circuit's nonzero eigenvalues with a positive real part */
    int copy_positive; /* how many eigenvalues of K_h have a positive real part */
    int copy_nonzero;  /* how many are nonzero (head_dim unless K_h is rank-deficient) */
    double copy_ratio; /* sum(lambda) / sum(|lambda|) */
} ProbeHead;

/* Draws n_seqs sequences of span tokens into out[n_seqs * span]: sequence s is a uniform draw
 * of span distinct tokens from pool[0..n_pool) in random order (a partial Fisher-Yates shuffle
 * keyed on (seed, RNG_STREAM_PROBE, s)). scratch holds n_pool ids. Needs span <= n_pool. */
void probe_random_sequences(int32_t *out, int n_seqs, int span, const int32_t *pool, int n_pool,
                            int32_t *scratch, uint64_t seed);

/* Runs the n_seqs sequences seqs[n_seqs * span], each repeated reps times, through the model
 * (m->max_B rows per forward pass; span * reps <= m->max_T). Overwrites:
 *   copy_loss[reps]: the mean loss of each copy over all sequences (nats/token);
 *   heads (may be NULL): prev and induction of every head. Leaves the copying fields alone.
 * When heads is not NULL the probe's taps replace the model's during the call; the model's own
 * are put back after. */
int probe_run(GPT2 *m, const int32_t *seqs, int n_seqs, int span, int reps, double *copy_loss,
              ProbeHead *heads, Err *e);

/* The copying score of every head (copying, copy_positive, copy_nonzero, copy_ratio), from the
 * weights. */
int probe_copying(const GPT2 *m, ProbeHead *heads, Err *e);

#endif
