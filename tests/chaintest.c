/* chaintest.c — helpers shared by the chain-library and curriculum tests (chaintest.h). */
#include "chaintest.h"

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

void word_decode(const WordTok *wt, const int32_t *ids, int n, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *w = word_str(wt, ids[i]);
        size_t k = strlen(w);
        if (used + k + 1 > cap) break;
        memcpy(buf + used, w, k + 1);
        used += k;
    }
}

void wordtok_free(WordTok *wt) {
    for (int k = 0; k < WT_SLOTS; k++) free(wt->word[k]);
    free(wt);
}

int byte_tokenize(void *ctx, const char *text, size_t len, int32_t *ids, int max_ids, int *n_ids,
                  Err *e) {
    (void)ctx;
    if ((int)len > max_ids) return err_set(e, "byte tokenizer: %zu bytes > %d ids", len, max_ids);
    for (size_t i = 0; i < len; i++) ids[i] = (unsigned char)text[i];
    *n_ids = (int)len;
    return 0;
}

size_t byte_len(void *ctx, int32_t id) {
    (void)ctx;
    return id < 256 ? 1 : 0;
}

StageSpec test_stage(const char *name, int bridge, double lo, double hi, int64_t steps,
                     double replay, LossMask loss, float anchor_weight) {
    StageSpec s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.bridge = bridge;
    s.band_lo = lo;
    s.band_hi = hi;
    s.steps = steps;
    s.replay = replay;
    s.pacing = PACING_LINEAR;
    s.loss = loss;
    s.anchor_weight = anchor_weight;
    s.layer_last = -1;
    s.lr_scale = 1;
    return s;
}

void write_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    fputs(text, fp);
    fclose(fp);
}

char *replace(const char *s, const char *from, const char *to) {
    const char *at = strstr(s, from);
    if (!at) {
        fprintf(stderr, "test bug: \"%s\" not found\n", from);
        abort();
    }
    size_t a = (size_t)(at - s), nf = strlen(from), nt = strlen(to), ns = strlen(s);
    char *out = malloc(ns - nf + nt + 1);
    if (!out) abort();
    memcpy(out, s, a);
    memcpy(out + a, to, nt);
    memcpy(out + a + nt, at + nf, ns - a - nf + 1);
    return out;
}
