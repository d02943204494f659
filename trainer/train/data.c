/*
 * data.c — token files and deterministic sampling.
 */
#include "data.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define LLMC_TOKENS_MAGIC 20240520
#define LLMC_HEADER_BYTES 1024

static int32_t read_i32le(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static int token_at(const TokenData *d, int64_t i) {
    const unsigned char *p = d->tokens + (size_t)i * d->token_bytes;
    return d->token_bytes == 1 ? p[0] : (int)(p[0] | p[1] << 8);
}

int data_open(TokenData *d, const char *path, DataFormat fmt, Sampling sampling, uint64_t seed,
              Err *e) {
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    d->format = fmt;
    d->sampling = sampling;
    d->seed = seed;
    d->raw = (unsigned char *)file_read_all(path, &d->raw_size, e);
    if (!d->raw) return -1;
    if (fmt == DATA_BYTES) {
        if (d->raw_size >= LLMC_HEADER_BYTES && read_i32le(d->raw) == LLMC_TOKENS_MAGIC)
            return err_set(e,
                           "%s: byte 0: starts with the magic %d of an llm.c token shard, but "
                           "data.format = \"bytes\" would train on its header and token ids as "
                           "text; set data.format = \"llmc\"",
                           path, LLMC_TOKENS_MAGIC);
        d->tokens = d->raw;
        d->n_tokens = (int64_t)d->raw_size;
        d->token_bytes = 1;
    } else {
        if (d->raw_size < LLMC_HEADER_BYTES)
            return err_set(e,
                           "%s: byte 0: file has %zu bytes, less than the 1024-byte header of an "
                           "llm.c token shard; for raw text set data.format = \"bytes\"",
                           path, d->raw_size);
        int32_t magic = read_i32le(d->raw), version = read_i32le(d->raw + 4);
        int64_t n = read_i32le(d->raw + 8);
        if (magic != LLMC_TOKENS_MAGIC)
            return err_set(e,
                           "%s: byte 0: bad magic %d, expected %d; this is not an llm.c token "
                           "shard; for raw text set data.format = \"bytes\"",
                           path, magic, LLMC_TOKENS_MAGIC);
        if (version != 1)
            return err_set(e, "%s: byte 4: unsupported version %d; only version 1 (uint16) is read",
                           path, version);
        if (n < 0 || (uint64_t)d->raw_size != LLMC_HEADER_BYTES + 2 * (uint64_t)n)
            return err_set(e,
                           "%s: byte 8: header says %lld tokens (%llu bytes) but the file has %zu "
                           "bytes; the file is truncated or corrupt",
                           path, (long long)n, (unsigned long long)(LLMC_HEADER_BYTES + 2 * n),
                           d->raw_size);
        d->tokens = d->raw + LLMC_HEADER_BYTES;
        d->n_tokens = n;
        d->token_bytes = 2;
    }
    for (int64_t i = 0; i < d->n_tokens; i++) {
        int t = token_at(d, i);
        if (t > d->max_token) d->max_token = t;
    }
    return 0;
}

void data_close(TokenData *d) {
    free(d->raw);
    memset(d, 0, sizeof *d);
}

int data_check(const TokenData *d, int T, int vocab, Err *e) {
    if (d->n_tokens < (int64_t)T + 1)
        return err_set(e,
                       "%s: has %lld tokens but one sample needs batch.seq_len + 1 = %d; use a "
                       "larger file or a shorter batch.seq_len",
                       d->path, (long long)d->n_tokens, T + 1);
    if (d->max_token >= vocab)
        return err_set(e,
                       "%s: holds token id %d but the model's vocabulary has %d entries; the file "
                       "was made with a different tokenizer",
                       d->path, d->max_token, vocab);
    return 0;
}

void data_fill(const TokenData *d, int64_t first, int count, int T, int32_t *inputs,
               int32_t *targets, float *weights) {
    const uint64_t positions = (uint64_t)(d->n_tokens - T); /* valid window starts */
    for (int s = 0; s < count; s++) {
        const uint64_t g = (uint64_t)(first + s);
        uint64_t off = d->sampling == SAMPLE_RANDOM
                           ? rng_u64(d->seed, RNG_STREAM_DATA, 0, g) % positions
                           : (g * (uint64_t)T) % positions;
        for (int t = 0; t < T; t++) {
            inputs[s * T + t] = token_at(d, (int64_t)off + t);
            targets[s * T + t] = token_at(d, (int64_t)off + t + 1);
            weights[s * T + t] = 1.0f;
        }
    }
}

int data_write_llmc(const char *path, const uint16_t *tokens, int64_t n, Err *e) {
    if (n < 0 || n > INT32_MAX)
        return err_set(e, "%s: %lld tokens do not fit one llm.c shard", path, (long long)n);
    AtomicFile af;
    if (atomic_open(&af, path, e) != 0) return -1;
    unsigned char header[LLMC_HEADER_BYTES] = {0};
    const int32_t fields[3] = {LLMC_TOKENS_MAGIC, 1, (int32_t)n};
    for (int f = 0; f < 3; f++)
        for (int b = 0; b < 4; b++)
            header[4 * f + b] = (unsigned char)((uint32_t)fields[f] >> (8 * b));
    int ok = fwrite(header, 1, sizeof header, af.fp) == sizeof header;
    for (int64_t i = 0; ok && i < n; i++) {
        unsigned char le[2] = {(unsigned char)tokens[i], (unsigned char)(tokens[i] >> 8)};
        ok = fwrite(le, 1, 2, af.fp) == 2;
    }
    if (!ok) {
        atomic_abort(&af);
        return err_set(e, "%s: write failed; check free disk space", path);
    }
    return atomic_commit(&af, e);
}
