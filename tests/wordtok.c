/* wordtok.c — the word tokenizer of the curriculum tests (wordtok.h). */
#include "wordtok.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wordbyte(const WordTok *wt, unsigned char c) {
    return isalnum(c) || c >= 0x80 || c == '-' || (wt->apostrophe && c == '\'');
}

static int32_t word_id(WordTok *wt, const char *s, size_t n) {
    uint64_t h = hash_fnv1a64(s, n, 0);
    if (wt->n > WT_SLOTS / 2) {
        fprintf(stderr, "test bug: word tokenizer table full\n");
        abort();
    }
    for (size_t k = h % WT_SLOTS;; k = (k + 1) % WT_SLOTS) {
        if (!wt->slot_id[k]) {
            wt->word[k] = malloc(n + 1);
            if (!wt->word[k]) abort();
            memcpy(wt->word[k], s, n);
            wt->word[k][n] = '\0';
            wt->len[k] = n;
            wt->id_slot[wt->n] = (int32_t)k;
            wt->slot_id[k] = ++wt->n;
            return wt->n - 1;
        }
        if (wt->len[k] == n && memcmp(wt->word[k], s, n) == 0) return wt->slot_id[k] - 1;
    }
}

int word_tokenize(void *ctx, const char *text, size_t len, int32_t *ids, int max_ids, int *n_ids,
                  Err *e) {
    WordTok *wt = ctx;
    int n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        if (text[j] == ' ' && j + 1 < len && text[j + 1] != ' ') j++;
        if (wordbyte(wt, (unsigned char)text[j]))
            while (j < len && wordbyte(wt, (unsigned char)text[j])) j++;
        else
            j++;
        if (n == max_ids) return err_set(e, "word tokenizer: more than %d ids", max_ids);
        ids[n++] = word_id(wt, text + i, j - i);
        i = j;
    }
    *n_ids = n;
    return 0;
}

size_t word_len(void *ctx, int32_t id) {
    WordTok *wt = ctx;
    return id >= 0 && id < wt->n ? wt->len[wt->id_slot[id]] : 0;
}

const char *word_str(const WordTok *wt, int32_t id) {
    return wt->word[wt->id_slot[id]];
}

void wordtok_free_words(WordTok *wt) {
    for (int i = 0; i < wt->n; i++) free(wt->word[wt->id_slot[i]]);
}
