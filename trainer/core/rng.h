/*
 * rng.h — the project's one source of randomness: Philox4x32-10, a counter-based generator
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 *
 * A draw is a pure function of (seed, stream, index): no state advances, nothing depends on
 * the order in which draws are made, the thread that makes them, or the rank that runs them.
 * That is what lets a LoRA init, a dropout mask or a sample order come out bit-identical on
 * 1 or 64 ranks. Streams name what is drawn; indices say which element.
 */
#ifndef IMPRINT_RNG_H
#define IMPRINT_RNG_H

#include <stdint.h>

/* Streams. New users take a new number; never reuse one for a different purpose, or two
 * draws that should be independent become the same. */
enum RngStream {
    RNG_STREAM_MODEL_INIT = 1, /* random base-model init (tests, pretraining from scratch) */
    RNG_STREAM_LORA_INIT = 2,  /* LoRA A matrices, keyed by (layer, target) */
    RNG_STREAM_DATA = 3,       /* token-file sample offsets, keyed by global sample index */
    RNG_STREAM_DROPOUT = 4,    /* LoRA dropout masks, keyed by (step, sample, layer, target) */
    RNG_STREAM_PROBE = 5,      /* imprint probe's random token sequences, keyed by sequence */
    RNG_STREAM_GENERATE = 6,   /* imprint generate's sampling, keyed by (prompt, token) */
    RNG_STREAM_CURRICULUM = 16 /* curriculum/ owns 16..31 */
};

/* The raw block function: 4 x 32-bit counter, 2 x 32-bit key -> 4 x 32-bit output. */
void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* 4 random words for (seed, stream, sub, index). `sub` separates sub-streams inside a stream
 * (e.g. a tensor id), `index` is the element or sample number. */
void rng_words(uint64_t seed, uint32_t stream, uint32_t sub, uint64_t index, uint32_t out[4]);

/* One uniform float in [0, 1) with 24 random bits, from word 0 of the block. */
float rng_uniform(uint64_t seed, uint32_t stream, uint32_t sub, uint64_t index);

/* One uniform 64-bit integer from words 0 and 1 of the block. */
uint64_t rng_u64(uint64_t seed, uint32_t stream, uint32_t sub, uint64_t index);

/* Fills out[0..n) with uniform floats in [lo, hi); element i uses index first+i/4, word i%4,
 * so any slice of a tensor can be drawn independently of the rest. */
void rng_fill_uniform(float *out, uint64_t n, float lo, float hi, uint64_t seed, uint32_t stream,
                      uint32_t sub, uint64_t first);

/* Fills out[0..n) with normal(0, std) floats (Box-Muller on pairs of words). */
void rng_fill_normal(float *out, uint64_t n, float std, uint64_t seed, uint32_t stream,
                     uint32_t sub, uint64_t first);

#endif
