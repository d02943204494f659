/*
 * chaintest.h — what the chain-library and curriculum tests (test_curriculum, test_typed) share:
 * two tokenizers with no model behind them, a stage spec, and small file helpers.
 *
 * Words: an optional leading space plus a run of letters, digits, '-' (and '\'' when
 * `apostrophe` is set), or one other character. Ids are assigned in order of first appearance
 * (an open-addressing hash table), so they do not depend on the table's size. A WordTok is large:
 * allocate it zeroed (calloc) and release it with wordtok_free.
 * Bytes: id = byte value, EOT = BYTE_EOT.
 */
#ifndef IMPRINT_TESTS_CHAINTEST_H
#define IMPRINT_TESTS_CHAINTEST_H

#include <stddef.h>
#include <stdint.h>

#include "curriculum.h"
#include "util.h"

enum { WT_SLOTS = 1 << 18, BYTE_EOT = 256, WORD_EOT = 1 << 20 };

typedef struct WordTok {
    char *word[WT_SLOTS];
    size_t len[WT_SLOTS];
    int32_t slot_id[WT_SLOTS]; /* hash slot -> id + 1 */
    int32_t id_slot[WT_SLOTS]; /* id -> hash slot */
    int n;
    int apostrophe; /* '\'' is a word byte */
} WordTok;

/* The CurriculumTokenizer callbacks (ctx = the WordTok). */
int word_tokenize(void *ctx, const char *text, size_t len, int32_t *ids, int max_ids, int *n_ids,
                  Err *e);
size_t word_len(void *ctx, int32_t id);
/* The text of token id. */
const char *word_str(const WordTok *wt, int32_t id);
/* ids[0..n) as text into buf (NUL-terminated, cut at cap). */
void word_decode(const WordTok *wt, const int32_t *ids, int n, char *buf, size_t cap);
/* Frees the words and the WordTok. */
void wordtok_free(WordTok *wt);

/* The CurriculumTokenizer callbacks of the byte tokenizer (ctx unused). */
int byte_tokenize(void *ctx, const char *text, size_t len, int32_t *ids, int max_ids, int *n_ids,
                  Err *e);
size_t byte_len(void *ctx, int32_t id);

/* A stage: linear pacing, every layer, lr scale 1. */
StageSpec test_stage(const char *name, int bridge, double lo, double hi, int64_t steps,
                     double replay, LossMask loss, float anchor_weight);

/* Writes text to path (a test bug if it cannot: the later load fails and says so). */
void write_file(const char *path, const char *text);
/* A copy of s with the first occurrence of `from` replaced by `to` (caller frees; aborts if
 * `from` is not in s: a bug in the test). */
char *replace(const char *s, const char *from, const char *to);

#endif
