/*
 * test_rng.c — Philox4x32-10 against the Random123 known-answer vectors, and the properties
 * the project relies on: draws are pure functions of (seed, stream, sub, index), slices of a
 * fill equal the whole, and the distributions have the right moments.
 */
#include <stdlib.h>

#include "rng.h"
#include "testlib.h"

static void kat(const uint32_t ctr[4], const uint32_t key[2], const uint32_t want[4]) {
    uint32_t out[4];
    philox4x32_10(ctr, key, out);
    for (int i = 0; i < 4; i++)
        CHECK(out[i] == want[i], "philox word %d: got %08x want %08x", i, out[i], want[i]);
}

int main(void) {
    /* Random123 kat_vectors, philox4x32 with 10 rounds */
    kat((uint32_t[]){0, 0, 0, 0}, (uint32_t[]){0, 0},
        (uint32_t[]){0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
    kat((uint32_t[]){0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
        (uint32_t[]){0xffffffff, 0xffffffff},
        (uint32_t[]){0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
    kat((uint32_t[]){0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
        (uint32_t[]){0xa4093822, 0x299f31d0},
        (uint32_t[]){0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});

    /* purity and separation */
    CHECK(rng_u64(7, 2, 3, 1000) == rng_u64(7, 2, 3, 1000), "same key, same draw");
    CHECK(rng_u64(7, 2, 3, 1000) != rng_u64(8, 2, 3, 1000), "seed separates");
    CHECK(rng_u64(7, 2, 3, 1000) != rng_u64(7, 1, 3, 1000), "stream separates");
    CHECK(rng_u64(7, 2, 3, 1000) != rng_u64(7, 2, 4, 1000), "sub separates");
    CHECK(rng_u64(7, 2, 3, 1ULL << 40) != rng_u64(7, 2, 3, 0), "high index bits count");

    /* a slice of a fill equals the same elements of the whole fill */
    enum { N = 1001 };
    static float whole[N], part[N], normal[N * 20];
    rng_fill_uniform(whole, N, -2.0f, 3.0f, 42, 9, 1, 0);
    rng_fill_uniform(part, 500, -2.0f, 3.0f, 42, 9, 1, 333);
    int same = 1;
    for (int i = 0; i < 500; i++) same &= part[i] == whole[333 + i];
    CHECK(same, "uniform fill slices agree");
    float lo = 1e9f, hi = -1e9f;
    double mean = 0;
    for (int i = 0; i < N; i++) {
        lo = whole[i] < lo ? whole[i] : lo;
        hi = whole[i] > hi ? whole[i] : hi;
        mean += whole[i] / N;
    }
    CHECK(lo >= -2.0f && hi < 3.0f, "uniform range [%g, %g)", lo, hi);
    CHECK_CLOSE(mean, 0.5, 0.0, 0.15, "uniform mean");

    rng_fill_normal(normal, N * 20, 0.5f, 1, 4, 0, 0);
    double m1 = 0, m2 = 0;
    for (int i = 0; i < N * 20; i++) {
        m1 += normal[i];
        m2 += (double)normal[i] * normal[i];
    }
    m1 /= N * 20;
    m2 /= N * 20;
    CHECK_CLOSE(m1, 0.0, 0.0, 0.02, "normal mean");
    CHECK_CLOSE(sqrt(m2 - m1 * m1), 0.5, 0.03, 0.0, "normal std");
    rng_fill_normal(part, 100, 0.5f, 1, 4, 0, 7);
    same = 1;
    for (int i = 0; i < 100; i++) same &= part[i] == normal[7 + i];
    CHECK(same, "normal fill slices agree");
    return tl_finish("test_rng");
}
