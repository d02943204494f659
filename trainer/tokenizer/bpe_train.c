/*
 * bpe_train.c — tok_train: byte-level BPE training (see tokenizer.h for the rules). Pair counts
 * over the unique pre-tokens, an index from each pair to the words holding it, and a lazy
 * max-heap of (count, pair).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

typedef struct {
    int32_t a, b;
    int64_t count;
    int32_t head;   /* list of words holding the pair (may hold stale entries and repeats) */
    uint32_t stamp; /* last merge step that changed it */
    int done;       /* merged already */
} PairStat;

typedef struct {
    int32_t word, next;
} ListNode;

typedef struct {
    int64_t count;
    int32_t pair;
} PairHeapEntry;

typedef struct {
    Tokenizer *t;
    /* words: symbols of unique pre-token w at sym[off[w] .. off[w] + wlen[w]) */
    int32_t *sym;
    size_t *off;
    int32_t *wlen;
    int64_t *wcount;
    uint32_t *wstamp;
    size_t n_words;
    /* pairs */
    PairMap index; /* (a, b) -> PairStat index */
    PairStat *ps;
    size_t n_ps, cap_ps;
    ListNode *ln;
    size_t n_ln, cap_ln;
    int32_t *changed;
    size_t n_changed, cap_changed;
    PairHeapEntry *heap;
    size_t nh, cap_h;
    uint32_t step;
} BpeTrainer;

static int bytes_cmp(const Token *x, const Token *y) {
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->bytes, y->bytes, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Does heap entry x come before y? Higher count, then smaller (left bytes, right bytes). */
static int pair_heap_before(const BpeTrainer *tr, PairHeapEntry x, PairHeapEntry y) {
    if (x.count != y.count) return x.count > y.count;
    const PairStat *px = &tr->ps[x.pair], *py = &tr->ps[y.pair];
    const Token *tk = tr->t->tok;
    int c = bytes_cmp(&tk[px->a], &tk[py->a]);
    if (c == 0) c = bytes_cmp(&tk[px->b], &tk[py->b]);
    return c < 0;
}

static void pair_heap_push(BpeTrainer *tr, PairHeapEntry x) {
    if (tr->nh == tr->cap_h) {
        tr->cap_h = tr->cap_h ? 2 * tr->cap_h : 4096;
        tr->heap = xrealloc(tr->heap, tr->cap_h * sizeof *tr->heap, "the BPE trainer's heap");
    }
    size_t i = tr->nh++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_heap_before(tr, x, tr->heap[up])) break;
        tr->heap[i] = tr->heap[up];
        i = up;
    }
    tr->heap[i] = x;
}

static PairHeapEntry pair_heap_pop(BpeTrainer *tr) {
    PairHeapEntry top = tr->heap[0], x = tr->heap[--tr->nh];
    size_t i = 0, m = tr->nh;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && pair_heap_before(tr, tr->heap[c + 1], tr->heap[c])) c++;
        if (!pair_heap_before(tr, tr->heap[c], x)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (m) tr->heap[i] = x;
    return top;
}

/* count(a, b) += delta; a positive delta records that word w holds the pair. */
static void pair_add(BpeTrainer *tr, int32_t a, int32_t b, int64_t delta, int32_t w) {
    int fresh;
    int32_t *slot = pair_map_put(&tr->index, a, b, &fresh);
    if (fresh) {
        if (tr->n_ps == tr->cap_ps) {
            tr->cap_ps = tr->cap_ps ? 2 * tr->cap_ps : 4096;
            tr->ps = xrealloc(tr->ps, tr->cap_ps * sizeof *tr->ps, "the BPE trainer's pairs");
        }
        *slot = (int32_t)tr->n_ps;
        tr->ps[tr->n_ps++] = (PairStat){a, b, 0, -1, 0, 0};
    }
    int32_t pi = *slot;
    PairStat *p = &tr->ps[pi];
    p->count += delta;
    if (delta <= 0) return;
    if (tr->n_ln == tr->cap_ln) {
        tr->cap_ln = tr->cap_ln ? 2 * tr->cap_ln : 65536;
        tr->ln = xrealloc(tr->ln, tr->cap_ln * sizeof *tr->ln, "the BPE trainer's pair lists");
    }
    tr->ln[tr->n_ln] = (ListNode){w, p->head};
    p->head = (int32_t)tr->n_ln++;
    if (p->stamp != tr->step) {
        p->stamp = tr->step;
        if (tr->n_changed == tr->cap_changed) {
            tr->cap_changed = tr->cap_changed ? 2 * tr->cap_changed : 4096;
            tr->changed = xrealloc(tr->changed, tr->cap_changed * sizeof *tr->changed,
                                   "the BPE trainer's changed pairs");
        }
        tr->changed[tr->n_changed++] = pi;
    }
}

/* Replaces every (a, b) in word w, left to right, by r, and updates the neighbours' counts. */
static void merge_in_word(BpeTrainer *tr, int32_t w, int32_t a, int32_t b, int32_t r) {
    int32_t *s = tr->sym + tr->off[w];
    int32_t n = tr->wlen[w], i = 0, j = 0;
    int64_t c = tr->wcount[w];
    while (i < n) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (j > 0) {
                pair_add(tr, s[j - 1], a, -c, w);
                pair_add(tr, s[j - 1], r, c, w);
            }
            if (i + 2 < n) {
                pair_add(tr, b, s[i + 2], -c, w);
                pair_add(tr, r, s[i + 2], c, w);
            }
            s[j++] = r;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    tr->wlen[w] = j;
}

static void bpe_trainer_free(BpeTrainer *tr) {
    xfree(tr->sym);
    xfree(tr->off);
    xfree(tr->wlen);
    xfree(tr->wcount);
    xfree(tr->wstamp);
    if (tr->index.slot) pair_map_free(&tr->index);
    free(tr->ps);
    free(tr->ln);
    free(tr->changed);
    free(tr->heap);
}

int tok_train(Tokenizer **out, const char *text, size_t len, int vocab_size, Err *e) {
    if (!out || (!text && len)) return err_set(e, "tok_train: NULL argument");
    *out = NULL;
    if (vocab_size < 258 || vocab_size > (1 << 24))
        return err_set(e,
                       "tok_train: vocab_size %d is out of range; it must be 258..16777216 (256 "
                       "byte tokens + 2 special tokens at least)",
                       vocab_size);
    if (len > INT32_MAX)
        return err_set(e, "tok_train: the corpus has %zu bytes; train on at most 2 GiB", len);
    Tokenizer *t = tok_new(e);
    if (!t) return -1;
    int order[256];
    gpt2_byte_order(order);
    for (int i = 0; i < 256; i++) {
        char c = (char)order[i];
        uint32_t sl;
        char *str = bytes_to_mapped(&c, 1, &sl);
        vocab_append(t, str, sl, dup_bytes(&c, 1), 1, 0);
        t->byte_id[order[i]] = i;
    }

    /* unique pre-tokens and their counts */
    BpeTrainer tr = {.t = t};
    BytesMap words;
    bytes_map_init(&words, 1 << 16);
    int64_t *cnt = NULL;
    size_t cap_w = 0, total_syms = 0;
    PreTokenizer p;
    pretok_init(&p, t, text, len);
    size_t a, b;
    while (pretok_next(&p, &a, &b)) {
        int fresh;
        int32_t *slot = bytes_map_put(&words, text + a, b - a, &fresh);
        if (fresh) {
            if (tr.n_words == cap_w) {
                cap_w = cap_w ? 2 * cap_w : 1 << 16;
                cnt = xrealloc(cnt, cap_w * sizeof *cnt, "the BPE trainer's word counts");
            }
            *slot = (int32_t)tr.n_words;
            cnt[tr.n_words++] = 0;
            total_syms += b - a;
        }
        cnt[*slot]++;
    }
    size_t nw = tr.n_words;
    tr.sym = xmalloc((total_syms + 1) * sizeof *tr.sym, "the BPE trainer's words");
    tr.off = xmalloc((nw + 1) * sizeof *tr.off, "the BPE trainer's words");
    tr.wlen = xmalloc((nw + 1) * sizeof *tr.wlen, "the BPE trainer's words");
    tr.wcount = xmalloc((nw + 1) * sizeof *tr.wcount, "the BPE trainer's words");
    tr.wstamp = xmalloc((nw + 1) * sizeof *tr.wstamp, "the BPE trainer's words");
    size_t k = 0;
    for (size_t s = 0; s < words.cap; s++) {
        if (!words.slot[s].key) continue;
        int32_t w = words.slot[s].val;
        tr.off[w] = k;
        tr.wlen[w] = (int32_t)words.slot[s].len;
        tr.wcount[w] = cnt[w];
        for (uint32_t i = 0; i < words.slot[s].len; i++)
            tr.sym[k++] = t->byte_id[(unsigned char)words.slot[s].key[i]];
    }
    bytes_map_free(&words);
    free(cnt);

    pair_map_init(&tr.index, 1 << 16);
    tr.step = 1;
    for (size_t w = 0; w < nw; w++) {
        const int32_t *s = tr.sym + tr.off[w];
        for (int32_t i = 0; i + 1 < tr.wlen[w]; i++)
            pair_add(&tr, s[i], s[i + 1], tr.wcount[w], (int32_t)w);
    }
    for (size_t i = 0; i < tr.n_ps; i++)
        pair_heap_push(&tr, (PairHeapEntry){tr.ps[i].count, (int32_t)i});

    /* token bytes -> id, to reuse the id of a merge result that already exists */
    BytesMap vocab;
    bytes_map_init(&vocab, (size_t)vocab_size);
    for (int i = 0; i < 256; i++) {
        int fresh;
        *bytes_map_put(&vocab, t->tok[i].bytes, 1, &fresh) = i;
    }
    int target = vocab_size - 2;
    while (t->n_tok < target && tr.nh > 0) {
        PairHeapEntry top = pair_heap_pop(&tr);
        PairStat *ps = &tr.ps[top.pair];
        if (ps->done || ps->count <= 0) continue;
        if (ps->count != top.count) {
            if (ps->count < top.count) pair_heap_push(&tr, (PairHeapEntry){ps->count, top.pair});
            continue; /* a larger count has its own entry */
        }
        int32_t pa = ps->a, pb = ps->b, head = ps->head;
        const Token *ta = &t->tok[pa], *tb = &t->tok[pb];
        size_t nl = (size_t)ta->len + tb->len;
        char *bytes = xmalloc(nl + 1, "token bytes");
        memcpy(bytes, ta->bytes, ta->len);
        memcpy(bytes + ta->len, tb->bytes, tb->len);
        int32_t r = bytes_map_get(&vocab, bytes, nl);
        if (r < 0) {
            uint32_t sl;
            char *str = bytes_to_mapped(bytes, nl, &sl);
            r = t->n_tok;
            vocab_append(t, str, sl, bytes, (uint32_t)nl, 0);
            int fresh;
            *bytes_map_put(&vocab, t->tok[r].bytes, nl, &fresh) = r;
        } else {
            xfree(bytes);
        }
        merges_append(t, pa, pb, r, 0);
        tr.step++;
        tr.n_changed = 0;
        for (int32_t l = head; l >= 0; l = tr.ln[l].next) {
            int32_t w = tr.ln[l].word;
            if (tr.wstamp[w] == tr.step) continue;
            tr.wstamp[w] = tr.step;
            merge_in_word(&tr, w, pa, pb, r);
        }
        ps = &tr.ps[top.pair];
        ps->count = 0;
        ps->done = 1;
        ps->head = -1;
        for (size_t c = 0; c < tr.n_changed; c++) {
            const PairStat *q = &tr.ps[tr.changed[c]];
            if (!q->done && q->count > 0)
                pair_heap_push(&tr, (PairHeapEntry){q->count, tr.changed[c]});
        }
    }
    bytes_map_free(&vocab);
    bpe_trainer_free(&tr);

    static const char *const specials[2] = {TOK_EOT_STR, TOK_SEP_STR};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(specials[i]);
        vocab_append(t, dup_bytes(specials[i], n), (uint32_t)n, dup_bytes(specials[i], n),
                     (uint32_t)n, 1);
        note_special(t, t->n_tok - 1);
    }
    rank_build(t);
    *out = t;
    return 0;
}
