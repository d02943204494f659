/*
 * wordtok.h — a word tokenizer for curriculum tests (no model, no BPE): an optional leading
 * space plus a run of letters, digits, '-' (and '\'' when `apostrophe` is set), or one other
 * character. Ids are assigned in order of first appearance (an open-addressing hash table), so
 * they do not depend on the table's size. Allocate a WordTok zeroed (calloc): it is large.
 */
#ifndef IMPRINT_TESTS_WORDTOK_H
#define IMPRINT_TESTS_WORDTOK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum { WT_SLOTS = 1 << 18 };

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
/* Frees the words (not the WordTok itself). */
void wordtok_free_words(WordTok *wt);

#endif
