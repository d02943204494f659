/*
 * data.h — token files for plain language-model training (before the curriculum exists, and
 * for pretraining).
 *
 * Formats:
 *   llmc   llm.c's token shard: a header of 256 little-endian int32 (magic 20240520, version 1,
 *          token count), then that many uint16 token ids. Any tokenizer up to 65,536 ids.
 *   bytes  any file; each byte is one token (vocabulary 256). Handy for tests and demos.
 *
 * Sampling: global sample g (step * batch.global + i) is the window of seq_len + 1 tokens at
 * an offset that depends only on (seed, g): uniformly random ("random") or g * seq_len
 * wrapping around ("sequential"). Which rank computes sample g never matters.
 */
#ifndef IMPRINT_DATA_H
#define IMPRINT_DATA_H

#include <stdint.h>

#include "config.h"
#include "util.h"

typedef struct TokenData {
    char path[CFG_PATH_MAX];
    DataFormat format;
    Sampling sampling;
    uint64_t seed;
    unsigned char *raw; /* the file */
    size_t raw_size;
    const unsigned char *tokens; /* first token */
    int64_t n_tokens;
    int token_bytes; /* 1 (bytes) or 2 (llmc) */
    int max_token;   /* largest id in the file */
} TokenData;

int data_open(TokenData *d, const char *path, DataFormat fmt, Sampling sampling, uint64_t seed,
              Err *e);
void data_close(TokenData *d);

/* Checks the file can serve windows of T+1 tokens and fits a vocabulary of `vocab`. */
int data_check(const TokenData *d, int T, int vocab, Err *e);

/* Fills rows for global samples first .. first+count-1: inputs/targets [count*T], weights 1. */
void data_fill(const TokenData *d, int64_t first, int count, int T, int32_t *inputs,
               int32_t *targets, float *weights);

/* Writes an llm.c token shard (atomically). */
int data_write_llmc(const char *path, const uint16_t *tokens, int64_t n, Err *e);

#endif
