/*
 * bench_step.c — time LoRA training steps of a GPT-2-124M-shaped model on the CPU.
 *
 * Model: 12 layers, 12 heads, width 768, vocab 50257, context 1024, random weights.
 * Step:  B=4 x T=64 tokens, forward + weighted cross-entropy + backward (base frozen) + AdamW
 *        on rank-8 adapters on q, k, v, o of every layer.
 *
 * usage: bench_step [--threads N] [--steps N] [--warmup N] [--batch B] [--seq T] [--rank R]
 * The last line is machine-readable:  ms/step=<x> tok/s=<y> rss_mb=<z>
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "model.h"
#include "optim.h"
#include "rng.h"

static double peak_rss_mb(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp) return 0.0;
    char line[256];
    double kb = 0.0;
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    fclose(fp);
    return kb / 1024.0;
}

int main(int argc, char **argv) {
    int threads = 2, steps = 10, warmup = 2, B = 4, T = 64, rank = 8;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--threads"))
            threads = v;
        else if (!strcmp(argv[i], "--steps"))
            steps = v;
        else if (!strcmp(argv[i], "--warmup"))
            warmup = v;
        else if (!strcmp(argv[i], "--batch"))
            B = v;
        else if (!strcmp(argv[i], "--seq"))
            T = v;
        else if (!strcmp(argv[i], "--rank"))
            rank = v;
        else
            fatal("unknown option %s (see the comment at the top of bench/bench_step.c)", argv[i]);
    }
    if (threads < 1 || steps < 1 || warmup < 0 || B < 1 || T < 1 || T > 1024 || rank < 1)
        fatal("bad option value");
    omp_set_num_threads(threads);

    GPT2Config cfg = {12, 12, 768, 50257, 1024, 1e-5f};
    GPT2 m;
    gpt2_build(&m, &cfg, B, T);
    gpt2_init_random(&m, 0.02f, 1);
    LoraSpec spec = {rank, 2.0f * rank, 0, 0.0f, 0xF, 0, 11};
    Lora lo;
    lora_build(&lo, &spec, cfg.n_layer, cfg.n_embd, B * T, 1);
    AdamW opt;
    adamw_build(&opt, &lo.params, 0.9f, 0.999f, 1e-8f, 0.0f);

    const int n = B * T;
    int32_t *inputs = xmalloc(sizeof(int32_t) * n, "inputs");
    int32_t *targets = xmalloc(sizeof(int32_t) * n, "targets");
    float *weights = xmalloc(sizeof(float) * n, "weights");
    for (int i = 0; i < n; i++) {
        inputs[i] = (int32_t)(rng_u64(1, 99, 0, (uint64_t)i) % (uint64_t)cfg.vocab);
        targets[i] = (int32_t)(rng_u64(1, 99, 1, (uint64_t)i) % (uint64_t)cfg.vocab);
        weights[i] = 1.0f;
    }
    printf("bench_step: GPT-2 124M shape (%.1fM params), B=%d T=%d, LoRA r=%d on q,k,v,o x 12 "
           "layers, %d thread%s\n",
           gpt2_num_params(&m) / 1e6, B, T, rank, threads, threads == 1 ? "" : "s");

    double total = 0.0, best = 1e30;
    float loss = 0.0f;
    for (int s = 0; s < warmup + steps; s++) {
        Batch b = {inputs, targets, weights, B, T, 0, (uint64_t)s, 1};
        Err e;
        double t0 = now_seconds();
        if (gpt2_forward(&m, &lo, &b, &e) != 0) fatal("%s", e.msg);
        loss = (float)(gpt2_loss(&m, &b) / n);
        lora_zero_grad(&lo);
        gpt2_backward(&m, &lo, &b, 1.0f / n);
        double norm = grad_global_norm(&lo.grads);
        grad_clip(&lo.grads, norm, 1.0f);
        adamw_step(&opt, &lo.params, &lo.grads, NULL, 1e-3f);
        double dt = now_seconds() - t0;
        if (s >= warmup) {
            total += dt;
            if (dt < best) best = dt;
        }
        printf("step %2d%s: %7.1f ms  loss %.4f\n", s, s < warmup ? " (warmup)" : "", 1000 * dt,
               loss);
    }
    double ms = 1000.0 * total / steps;
    printf("mean %.1f ms/step, best %.1f ms/step over %d steps\n", ms, 1000 * best, steps);
    printf("ms/step=%.1f tok/s=%.0f rss_mb=%.0f\n", ms, n / (ms / 1000.0), peak_rss_mb());
    adamw_free(&opt);
    lora_free(&lo);
    gpt2_free(&m);
    xfree(inputs);
    xfree(targets);
    xfree(weights);
    return 0;
}
