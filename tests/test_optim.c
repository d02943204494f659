/*
 * test_optim.c — the learning-rate schedule, gradient clipping and AdamW against values
 * computed here in double from the textbook formulas (PyTorch's update order), and the promise
 * that an inactive (frozen) tensor is left completely alone.
 */
#include <math.h>
#include <string.h>

#include "model.h"
#include "optim.h"
#include "testlib.h"

static double lr_ref(double lr, int warmup, double min_ratio, int sched, int step, int total) {
    if (step < warmup) return lr * (step + 1) / warmup;
    double p = (double)(step - warmup) / (total - warmup);
    if (p > 1) p = 1;
    double lo = lr * min_ratio;
    if (sched == SCHED_COSINE) return lo + (lr - lo) * 0.5 * (1 + cos(3.141592653589793 * p));
    if (sched == SCHED_LINEAR) return lr - (lr - lo) * p;
    return lr;
}

int main(void) {
    /* schedule */
    OptimConfig oc = {.lr = 3e-3, .warmup = 10, .min_lr_ratio = 0.1};
    for (int sched = 0; sched < 3; sched++) {
        oc.schedule = (Schedule)sched;
        for (int s = 0; s < 120; s += 7)
            CHECK_CLOSE(lr_at(&oc, s, 100), lr_ref(3e-3, 10, 0.1, sched, s, 100), 1e-6, 0,
                        "learning rate");
    }
    oc.schedule = SCHED_COSINE;
    CHECK_CLOSE(lr_at(&oc, 0, 100), 3e-4, 1e-6, 0, "first warmup step is lr/warmup");
    CHECK_CLOSE(lr_at(&oc, 9, 100), 3e-3, 1e-6, 0, "warmup reaches lr");
    CHECK_CLOSE(lr_at(&oc, 99, 100),
                3e-3 * 0.1 + 2.7e-3 * 0.5 * (1 + cos(3.141592653589793 * 89 / 90.0)), 1e-6, 0,
                "last step");
    oc.warmup = 0;
    CHECK_CLOSE(lr_at(&oc, 0, 100), 3e-3, 1e-6, 0, "no warmup starts at lr");

    /* two tensors: one active, one frozen */
    TensorSet p, g;
    tensorset_init(&p, 2);
    tensorset_init(&g, 2);
    tensorset_add(&p, "a", 1, (const int64_t[]){5});
    tensorset_add(&p, "b", 1, (const int64_t[]){3});
    tensorset_add(&g, "a", 1, (const int64_t[]){5});
    tensorset_add(&g, "b", 1, (const int64_t[]){3});
    tensorset_alloc(&p, "params");
    tensorset_alloc(&g, "grads");
    const float p0[5] = {0.5f, -1.0f, 2.0f, 0.0f, 1e-3f};
    memcpy(p.items[0].data, p0, sizeof p0);
    for (int i = 0; i < 3; i++) p.items[1].data[i] = 7.0f + i;

    /* clipping: norm of (3, 4) is 5 */
    memset(g.memory, 0, sizeof(float) * g.numel);
    g.items[0].data[0] = 3.0f;
    g.items[1].data[2] = 4.0f;
    double norm = grad_global_norm(&g);
    CHECK_CLOSE(norm, 5.0, 1e-12, 0, "global norm over all tensors");
    float coef = grad_clip(&g, norm, 1.0f);
    CHECK_CLOSE(coef, 1.0 / (5.0 + 1e-6), 1e-6, 0, "clip coefficient");
    CHECK_CLOSE(grad_global_norm(&g), 1.0, 1e-5, 0, "norm after clipping");
    CHECK(grad_clip(&g, 0.5, 1.0f) == 1.0f, "no clipping below the bound");
    CHECK(grad_clip(&g, 50.0, 0.0f) == 1.0f, "clip 0 disables clipping");

    /* AdamW, three steps with changing gradients, against double-precision formulas */
    AdamW o;
    adamw_build(&o, &p, 0.9f, 0.95f, 1e-8f, 0.1f);
    const uint8_t active[2] = {1, 0};
    double ref[5], m[5] = {0}, v[5] = {0};
    for (int i = 0; i < 5; i++) ref[i] = p0[i];
    for (int t = 1; t <= 3; t++) {
        double lr = 1e-2 * t;
        for (int i = 0; i < 5; i++) g.items[0].data[i] = (float)(0.1 * (i - 2) * t + 0.01);
        for (int i = 0; i < 3; i++) g.items[1].data[i] = 1.0f;
        adamw_step(&o, &p, &g, active, (float)lr);
        for (int i = 0; i < 5; i++) {
            double gi = g.items[0].data[i];
            ref[i] *= 1 - lr * 0.1;
            m[i] = 0.9 * m[i] + 0.1 * gi;
            v[i] = 0.95 * v[i] + 0.05 * gi * gi;
            double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.95, t));
            ref[i] -= lr * mh / (sqrt(vh) + 1e-8);
        }
    }
    for (int i = 0; i < 5; i++) CHECK_CLOSE(p.items[0].data[i], ref[i], 1e-5, 1e-7, "AdamW weight");
    CHECK(o.t == 3, "step count %lld", (long long)o.t);
    for (int i = 0; i < 3; i++) {
        CHECK(p.items[1].data[i] == 7.0f + i, "frozen tensor untouched");
        CHECK(o.m.items[1].data[i] == 0.0f && o.v.items[1].data[i] == 0.0f,
              "frozen moments untouched");
    }
    CHECK(!strcmp(o.m.items[0].name, "a") && !strcmp(o.v.items[1].name, "b"),
          "moments named like params");
    adamw_free(&o);
    tensorset_free(&p);
    tensorset_free(&g);
    return tl_finish("test_optim");
}
