/*
 * rng.c — Philox4x32-10 and the helpers built on it.
 */
#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void rng_words(uint64_t seed, uint32_t stream, uint32_t sub, uint64_t index, uint32_t out[4]) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), sub, stream};
    philox4x32_10(ctr, key, out);
}

static inline float u32_to_unit(uint32_t x) {
    return (float)(x >> 8) * (1.0f / 16777216.0f); /* 24 bits: exact in float, < 1 */
}

float rng_uniform(uint64_t seed, uint32_t stream, uint32_t sub, uint64_t index) {
    uint32_t w[4];
    rng_words(seed, stream, sub, index, w);
    return u32_to_unit(w[0]);
}

uint64_t rng_u64(uint64_t seed, uint32_t stream, uint32_t sub, uint64_t index) {
    uint32_t w[4];
    rng_words(seed, stream, sub, index, w);
    return ((uint64_t)w[1] << 32) | w[0];
}

void rng_fill_uniform(float *out, uint64_t n, float lo, float hi, uint64_t seed, uint32_t stream,
                      uint32_t sub, uint64_t first) {
    /* each element is a pure function of its index: any thread split gives the same bits */
#pragma omp parallel for schedule(static)
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i;
        uint32_t w[4];
        rng_words(seed, stream, sub, e / 4, w);
        out[i] = lo + (hi - lo) * u32_to_unit(w[e % 4]);
    }
}

void rng_fill_normal(float *out, uint64_t n, float std, uint64_t seed, uint32_t stream,
                     uint32_t sub, uint64_t first) {
#pragma omp parallel for schedule(static)
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = first + i;
        uint32_t w[4];
        rng_words(seed, stream, sub, e / 2, w);
        /* Box-Muller on (w0, w1) for even e, (w2, w3) for odd e, cosine branch only, so
         * every element is a pure function of its own index. */
        uint32_t a = w[2 * (e % 2)], b = w[2 * (e % 2) + 1];
        double u1 = ((double)(a >> 8) + 1.0) / 16777217.0; /* (0, 1] */
        double u2 = (double)(b >> 8) / 16777216.0;
        out[i] = (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}
