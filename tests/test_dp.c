/*
 * test_dp.c — data parallelism: under `mpirun -np 2`, a few optimizer steps over the same
 * global batches give the same LoRA adapters as one rank doing all the work (within float
 * tolerance: the rows are summed in a different order), and every rank ends with bit-identical
 * adapters.
 *
 * The global batch (5 sequences) does not divide evenly by 2 ranks, so uneven slices and the
 * global loss normalisation are exercised too. LoRA dropout is on, so the masks must come out
 * the same whichever rank draws them.
 */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "config.h"
#include "testlib.h"
#include "train.h"

enum { STEPS = 4 };

/* failures summed over ranks, closing line on rank 0, the same status everywhere */
static int finish(Comm *c) {
    int64_t counts[2] = {tl_passed, tl_failed};
    comm_allreduce_sum_i64(c, counts, 2);
    if (c->rank == 0)
        printf("test_dp: %lld passed, %lld failed\n", (long long)counts[0], (long long)counts[1]);
    return counts[1] == 0 && counts[0] > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    Comm world, self;
    comm_init(&world, &argc, &argv);
    CHECK(world.size >= 2, "run under mpirun -np 2 or more (size %d)", world.size);

    const char *overrides[] = {"batch.global=5",         "batch.seq_len=16", "lora.dropout=0.1",
                               "optim.lr=0.01",          "optim.warmup=1",   "run.steps=4",
                               "optim.weight_decay=0.01"};
    Config cfg;
    Err e;
    if (config_load(&cfg, "configs/tiny.cfg", overrides, 7, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    TrainOptions opt = {.quiet = 1};

    /* the data-parallel run, and on rank 0 the same steps alone, interleaved step by step */
    Trainer dp, one;
    CHECK(train_setup(&dp, &cfg, &world, &opt, 0, &e) == 0, "setup (world): %s", e.msg);
    const int expect_rows = (5 + world.size - 1) / world.size;
    CHECK(dp.max_rows == expect_rows, "slice: %d rows, want %d", dp.max_rows, expect_rows);
    if (world.rank == 0) {
        comm_init_self(&self);
        CHECK(train_setup(&one, &cfg, &self, &opt, 0, &e) == 0, "setup (self): %s", e.msg);
        CHECK(one.max_rows == 5, "alone: %d rows, want 5", one.max_rows);
    }
    const size_t n = dp.lora.params.numel;
    for (int s = 0; s < STEPS; s++) {
        StepStats a, b;
        CHECK(train_step(&dp, s, &a, &e) == 0, "dp step %d: %s", s, e.msg);
        if (world.rank != 0) continue;
        CHECK(train_step(&one, s, &b, &e) == 0, "solo step %d: %s", s, e.msg);
        /* the same step up to float summation order (~1e-7 relative per sum) */
        CHECK_CLOSE(a.loss, b.loss, 1e-6, 0.0, "loss, 2 ranks vs 1");
        CHECK_CLOSE(a.grad_norm, b.grad_norm, 1e-5, 0.0, "gradient norm, 2 ranks vs 1");
        CHECK(a.weight == b.weight, "global weight %g vs %g", a.weight, b.weight);
        double gdiff = 0, gscale = 0, pdiff = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)dp.lora.grads.memory[i] - one.lora.grads.memory[i]);
            gdiff = d > gdiff ? d : gdiff;
            gscale =
                fabs(one.lora.grads.memory[i]) > gscale ? fabs(one.lora.grads.memory[i]) : gscale;
            d = fabs((double)dp.lora.params.memory[i] - one.lora.params.memory[i]);
            pdiff = d > pdiff ? d : pdiff;
        }
        CHECK(gdiff <= 1e-5 * gscale, "step %d all-reduced gradient: max diff %.3g (scale %.3g)", s,
              gdiff, gscale);
        /* AdamW moves each weight by about lr = 1e-2 per step; a lost or doubled slice of the
         * batch changes updates by that order. Summation-order noise, amplified where
         * gradients are tiny, stays far below: allow 1% of one step. */
        CHECK(pdiff <= 1e-4, "step %d adapters: max diff %.3g", s, pdiff);
        printf("test_dp: step %d  loss %.6f vs %.6f  grad diff %.2e (scale %.2e)  adapter diff "
               "%.2e\n",
               s, a.loss, b.loss, gdiff, gscale, pdiff);
    }

    /* every rank holds the same bits */
    float *mine = malloc(sizeof(float) * n), *root = malloc(sizeof(float) * n);
    memcpy(mine, dp.lora.params.memory, sizeof(float) * n);
    memcpy(root, mine, sizeof(float) * n);
    comm_broadcast(&world, root, sizeof(float) * n, 0);
    CHECK(memcmp(mine, root, sizeof(float) * n) == 0, "rank %d adapter differs from rank 0's",
          world.rank);
    if (world.rank == 0) {
        train_teardown(&one);
        comm_finalize(&self);
    }
    free(mine);
    free(root);
    train_teardown(&dp);
    config_free(&cfg);
    int rc = finish(&world);
    comm_finalize(&world);
    return rc;
}
