/*
 * step.c — one data-parallel optimizer step, and validation on a token file.
 *
 * One step, on every rank:
 *   1. cut the global batch: rank r computes samples [first, first + count) of it
 *   2. agree on the global sum of loss weights W (one tiny all-reduce)
 *   3. forward, loss, backward with dloss = 1/W: local gradients are already normalised
 *   4. all-reduce the flat gradient buffer of what learns (the LoRA tensors, or every base
 *      tensor when pretraining); comm/ is the only place it crosses ranks
 *   5. global norm (after the all-reduce, so every rank sees the same), clip, AdamW
 * Every rank ends the step holding bit-identical adapters; checkpoints verify that.
 */
#include <math.h>
#include <string.h>

#include "source.h"
#include "train.h"

/* Fills rows [0, count) of the batch buffers with global samples [first, first + count) of
 * step `step`, from the batch source. */
static void fill_rows(Trainer *tr, int64_t step, int64_t first, int64_t count) {
    tr->source->ops->fill(tr->source, step, first, count, tr->cfg->batch.seq_len, tr->inputs,
                          tr->targets, tr->weights);
}

/* Positions with a loss weight: the tokens a step scores (the rest it only reads). */
static int64_t scored_count(const float *w, int64_t n) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) k += w[i] != 0.0f;
    return k;
}

static double weight_sum(const float *w, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += w[i];
    return s;
}

/* reproducibility = "rank-count": one forward/backward over this rank's slice of the batch,
 * float all-reduces. Returns 1 when loss and gradients are finite. */
static int step_rank_count(Trainer *tr, int64_t step, double *loss, double *wsum, int64_t *scored,
                           Err *e) {
    const Config *cfg = tr->cfg;
    Comm *comm = tr->comm;
    const int T = cfg->batch.seq_len, global = cfg->batch.global;
    int64_t first, count;
    comm_slice(global, comm->rank, comm->size, &first, &count);
    Batch b = {.inputs = tr->inputs,
               .targets = tr->targets,
               .weights = tr->weights,
               .B = (int)count,
               .T = T,
               .first_sample = (uint64_t)(step * (int64_t)global + first),
               .step = (uint64_t)step,
               .train = 1};
    double local[2] = {0.0, 0.0}; /* weighted loss, weight */
    if (count > 0) {
        fill_rows(tr, step, first, count);
        local[1] = weight_sum(tr->weights, count * T);
        *scored = scored_count(tr->weights, count * T);
    }
    *wsum = local[1];
    comm_allreduce_sum_f64(comm, wsum, 1);
    if (*wsum <= 0.0)
        return err_set(e, "step %lld: the global batch has no token with a loss weight",
                       (long long)step);
    Lora *lora = tr->full ? NULL : &tr->lora;
    memset(tr->grads->memory, 0, sizeof(float) * tr->grads->numel);
    if (count > 0) {
        if (gpt2_forward(&tr->model, lora, &b, e) != 0) return -1;
        local[0] = gpt2_loss(&tr->model, &b);
        gpt2_backward(&tr->model, lora, &b, (float)(1.0 / *wsum));
    }
    if (fault_planned(&tr->faults, FAULT_NAN, step + 1, comm->rank)) tr->grads->memory[0] = NAN;
    fault_in_step(&tr->faults, step + 1, comm->rank);
    comm_allreduce_sum_f32(comm, tr->grads->memory, tr->grads->numel);
    *loss = local[0];
    comm_allreduce_sum_f64(comm, loss, 1);
    *loss /= *wsum;
    return isfinite(*loss); /* a NaN or Inf in a gradient reaches every rank through the sum */
}

/* reproducibility = "invariant": each of this rank's virtual shards computed alone, then exact
 * fixed-point sums over all shards of all ranks (weights, gradients, loss). */
static int step_invariant(Trainer *tr, int64_t step, double *loss, double *wsum, int64_t *scored,
                          Err *e) {
    const Config *cfg = tr->cfg;
    Comm *comm = tr->comm;
    const int T = cfg->batch.seq_len, S = cfg->batch.shard, global = cfg->batch.global;
    const size_t numel = tr->grads->numel;
    int64_t first, count; /* shards */
    comm_slice(tr->shards.n_shards, comm->rank, comm->size, &first, &count);
    if (count > 0) fill_rows(tr, step, first * S, count * S);
    *scored = scored_count(tr->weights, count * S * T);
    for (int64_t j = 0; j < count; j++)
        tr->shards.stats[2 * j] = weight_sum(tr->weights + j * S * T, (int64_t)S * T);
    comm_sum_exact_f64(comm, tr->shards.stats, count, 2, 1, tr->shards.n_shards,
                       tr->shards.exact_acc, wsum);
    if (*wsum <= 0.0)
        return err_set(e, "step %lld: the global batch has no token with a loss weight",
                       (long long)step);
    Lora *lora = tr->full ? NULL : &tr->lora;
    for (int64_t j = 0; j < count; j++) {
        const size_t off = (size_t)(j * S * T);
        Batch b = {.inputs = tr->inputs + off,
                   .targets = tr->targets + off,
                   .weights = tr->weights + off,
                   .B = S,
                   .T = T,
                   .first_sample = (uint64_t)(step * (int64_t)global + (first + j) * S),
                   .step = (uint64_t)step,
                   .train = 1};
        memset(tr->grads->memory, 0, sizeof(float) * numel);
        if (gpt2_forward(&tr->model, lora, &b, e) != 0) return -1;
        tr->shards.stats[2 * j + 1] = gpt2_loss(&tr->model, &b);
        gpt2_backward(&tr->model, lora, &b, (float)(1.0 / *wsum));
        memcpy(tr->shards.grads + (size_t)j * numel, tr->grads->memory, sizeof(float) * numel);
    }
    if (count > 0 && fault_planned(&tr->faults, FAULT_NAN, step + 1, comm->rank))
        tr->shards.grads[0] = NAN;
    fault_in_step(&tr->faults, step + 1, comm->rank);
    int finite = comm_sum_exact_f32(comm, tr->shards.grads, count, numel, numel,
                                    tr->shards.n_shards, tr->shards.exact_acc, tr->grads->memory);
    finite &= comm_sum_exact_f64(comm, tr->shards.stats + 1, count, 2, 1, tr->shards.n_shards,
                                 tr->shards.exact_acc, loss);
    *loss = finite ? *loss / *wsum : NAN;
    return finite && isfinite(*loss);
}

int train_step(Trainer *tr, int64_t step, StepStats *out, Err *e) {
    const Config *cfg = tr->cfg;
    double loss = 0.0, wsum = 0.0;
    int64_t scored = 0;
    int finite = tr->shards.on ? step_invariant(tr, step, &loss, &wsum, &scored, e)
                               : step_rank_count(tr, step, &loss, &wsum, &scored, e);
    if (finite < 0) return -1;
    comm_allreduce_sum_i64(tr->comm, &scored, 1); /* integers: exact in any order */
    const int64_t processed = (int64_t)cfg->batch.global * cfg->batch.seq_len;
    float lr = lr_at(&cfg->optim, step, tr->total_steps) * tr->lr_scale;
    double norm = finite ? grad_global_norm(tr->grads) : NAN;
    if (!isfinite(norm)) finite = 0;
    if (!finite) {
        /* every rank reaches the same verdict: the sums carry the NaN or Inf to all */
        if (cfg->optim.nonfinite == NONFINITE_SKIP) {
            *out = (StepStats){loss, wsum, NAN, lr, 1, processed, scored};
            return 0;
        }
        char where[CFG_PATH_MAX + 64];
        if (tr->comm->rank != 0) { /* rank 0 reports it */
            e->msg[0] = '\0';
            return -1;
        }
        return err_set(e,
                       "step %lld: the loss or a gradient is not finite (loss %g); the run stops "
                       "(%s: optim.nonfinite = \"abort\"). Lower optim.lr, check the data, or "
                       "set optim.nonfinite = \"skip\" to skip such steps",
                       (long long)step + 1, loss,
                       config_where(cfg, "optim.nonfinite", where, sizeof where));
    }
    grad_clip(tr->grads, norm, (float)cfg->optim.clip);
    adamw_step(&tr->opt, tr->params, tr->grads, tr->active, lr);
    *out = (StepStats){loss, wsum, norm, lr, 0, processed, scored};
    return 0;
}

int train_validate(Trainer *tr, double *loss, Err *e) {
    const Config *cfg = tr->cfg;
    Comm *comm = tr->comm;
    const int T = cfg->batch.seq_len, global = cfg->batch.global;
    if (!tr->val.raw) return err_set(e, "no validation data; set data.val_path");
    if (tr->shards.on) { /* shard by shard, exact sums (see step_invariant) */
        const int S = cfg->batch.shard;
        int64_t first, count;
        comm_slice(tr->shards.n_shards, comm->rank, comm->size, &first, &count);
        double total[2] = {0.0, 0.0}; /* weight, weighted loss */
        for (int j = 0; j < cfg->run.eval_batches; j++) {
            if (count > 0)
                data_fill(&tr->val, (int64_t)j * global + first * S, (int)(count * S), T,
                          tr->inputs, tr->targets, tr->weights);
            for (int64_t i = 0; i < count; i++) {
                const size_t off = (size_t)(i * S * T);
                Batch b = {tr->inputs + off, tr->targets + off, tr->weights + off, S, T, 0, 0, 0};
                tr->shards.stats[2 * i] = weight_sum(b.weights, (int64_t)S * T);
                if (gpt2_forward(&tr->model, tr->full ? NULL : &tr->lora, &b, e) != 0) return -1;
                tr->shards.stats[2 * i + 1] = gpt2_loss(&tr->model, &b);
            }
            double sums[2] = {NAN, NAN};
            comm_sum_exact_f64(comm, tr->shards.stats, count, 2, 2, tr->shards.n_shards,
                               tr->shards.exact_acc, sums);
            total[0] += sums[0];
            total[1] += sums[1];
        }
        *loss = total[1] / total[0];
        return 0;
    }
    int64_t first, count;
    comm_slice(global, comm->rank, comm->size, &first, &count);
    double sums[2] = {0.0, 0.0}; /* weighted loss, weight */
    for (int j = 0; j < cfg->run.eval_batches; j++) {
        if (count == 0) continue;
        const int64_t sample0 = (int64_t)j * global + first;
        Batch b = {tr->inputs, tr->targets, tr->weights, (int)count, T, (uint64_t)sample0, 0, 0};
        data_fill(&tr->val, sample0, (int)count, T, tr->inputs, tr->targets, tr->weights);
        for (int64_t i = 0; i < count * T; i++) sums[1] += tr->weights[i];
        if (gpt2_forward(&tr->model, tr->full ? NULL : &tr->lora, &b, e) != 0) return -1;
        sums[0] += gpt2_loss(&tr->model, &b);
    }
    comm_allreduce_sum_f64(comm, sums, 2);
    *loss = sums[0] / sums[1];
    return 0;
}
