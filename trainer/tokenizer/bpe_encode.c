/*
 * bpe_encode.c — encoding: GPT-2's pre-tokeniser (PCRE2), BPE of one word (a heap of (rank,
 * position) over a linked list of symbols, O(L log L)) behind a per-word cache, and the special
 * tokens of tok_encode_special.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "utf8.h"

#define GPT2_PATTERN                                                                               \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Words longer than this are encoded but not cached; the cache is emptied when it holds
 * CACHE_MAX_WORDS words. */
#define CACHE_MAX_WORD  64
#define CACHE_MAX_WORDS (1u << 19)
/* A pre-token longer than this (1 MiB of letters, say) is merged in pieces of this size, which
 * bounds the scratch memory (about 40 bytes per byte); GPT-2 has no such limit. */
#define BPE_MAX_WORD (1u << 20)

/* Per-word cache: key bytes and value ids live in two arenas. */
typedef struct {
    uint64_t hash;
    uint32_t koff, klen; /* klen 0 = empty */
    uint32_t voff, vlen;
} CacheSlot;

typedef struct {
    CacheSlot *slot;
    size_t cap, count;
    char *kbuf;
    size_t kn, kcap;
    int32_t *vbuf;
    size_t vn, vcap;
} Cache;

/* Mutable state used by encoding (hence "one thread at a time"). */
struct EncodeScratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    Cache cache;
    /* BPE of one word */
    int32_t *sym, *prev, *next;
    uint64_t *heap;
    int32_t *touched;
    size_t wcap;
};

int encoder_init(Tokenizer *t, Err *e) {
    int ec;
    PCRE2_SIZE eo;
    t->re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                          &ec, &eo, NULL);
    if (!t->re) {
        char buf[256];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)buf, sizeof buf);
        return err_set(e,
                       "tokenizer: PCRE2 cannot compile GPT-2's pattern (%s at offset %zu); "
                       "install a PCRE2 built with Unicode support (libpcre2-dev)",
                       buf, (size_t)eo);
    }
    EncodeScratch *s = xmalloc(sizeof *s, "tokenizer scratch");
    t->s = s;
    int jit = pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE) == 0;
    s->md = pcre2_match_data_create_from_pattern(t->re, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    if (!s->md || !s->mctx) fatal("out of memory creating PCRE2 match data");
    if (jit) {
        /* long runs of spaces backtrack through \s+(?!\S); give JIT room for them */
        s->jstack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, NULL);
        if (s->jstack) pcre2_jit_stack_assign(s->mctx, NULL, s->jstack);
    }
    s->cache.cap = 1024;
    s->cache.slot = xmalloc(s->cache.cap * sizeof(CacheSlot), "tokenizer cache");
    return 0;
}

void encoder_free(Tokenizer *t) {
    EncodeScratch *s = t->s;
    if (s) {
        pcre2_match_data_free(s->md);
        pcre2_match_context_free(s->mctx);
        pcre2_jit_stack_free(s->jstack);
        xfree(s->cache.slot);
        free(s->cache.kbuf);
        free(s->cache.vbuf);
        free(s->sym);
        free(s->prev);
        free(s->next);
        free(s->heap);
        free(s->touched);
        xfree(s);
        t->s = NULL;
    }
    pcre2_code_free(t->re);
    t->re = NULL;
}

/* ---- pre-tokenisation --------------------------------------------------------------------- */

void pretok_init(PreTokenizer *p, const Tokenizer *t, const char *text, size_t len) {
    p->t = t;
    p->s = (const unsigned char *)text;
    p->len = len;
    p->pos = p->run_start = p->run_end = 0;
}

static size_t valid_run_end(const unsigned char *s, size_t from, size_t len) {
    size_t i = from;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int l = utf8_seq_len(s + i, len - i);
        if (!l) break;
        i += (size_t)l;
    }
    return i;
}

int pretok_next(PreTokenizer *p, size_t *a, size_t *b) {
    if (p->pos >= p->len) return 0;
    if (p->pos >= p->run_end) {
        if (utf8_seq_len(p->s + p->pos, p->len - p->pos) == 0) {
            *a = p->pos;
            *b = ++p->pos; /* an ill-formed byte is a pre-token of its own */
            return 1;
        }
        p->run_start = p->pos;
        p->run_end = valid_run_end(p->s, p->pos, p->len);
    }
    EncodeScratch *sc = p->t->s;
    int rc = pcre2_match(p->t->re, p->s + p->run_start, p->run_end - p->run_start,
                         p->pos - p->run_start, PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
    size_t ms = p->pos, me = p->pos;
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        ms = p->run_start + ov[0];
        me = p->run_start + ov[1];
    }
    if (rc < 0 || me <= ms || ms < p->pos) {
        /* no match or a PCRE2 error (cannot happen: every character matches some branch) */
        me = p->pos + (size_t)utf8_seq_len(p->s + p->pos, p->len - p->pos);
        ms = p->pos;
    } else if (ms > p->pos) {
        me = ms; /* a gap the pattern skipped (also cannot happen); keep it as text */
        ms = p->pos;
    }
    *a = ms;
    *b = me;
    p->pos = me;
    return 1;
}

/* ---- BPE of one word ---------------------------------------------------------------------- */

typedef struct {
    int32_t *p;
    size_t n, cap;
} IdVec;

static void idvec_push(IdVec *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 256;
        v->p = xrealloc(v->p, v->cap * sizeof *v->p, "the token ids");
    }
    v->p[v->n++] = id;
}

static void heap_push_u64(uint64_t *h, size_t *n, uint64_t x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (h[up] <= x) break;
        h[i] = h[up];
        i = up;
    }
    h[i] = x;
}

static uint64_t heap_pop_u64(uint64_t *h, size_t *n) {
    uint64_t top = h[0], x = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1] < h[c]) c++;
        if (h[c] >= x) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = x;
    return top;
}

static void scratch_reserve(EncodeScratch *s, size_t L) {
    if (L <= s->wcap) return;
    size_t cap = s->wcap ? s->wcap : 64;
    while (cap < L) cap *= 2;
    s->sym = xrealloc(s->sym, cap * sizeof *s->sym, "the BPE scratch of a word");
    s->prev = xrealloc(s->prev, cap * sizeof *s->prev, "the BPE scratch of a word");
    s->next = xrealloc(s->next, cap * sizeof *s->next, "the BPE scratch of a word");
    s->touched = xrealloc(s->touched, cap * sizeof *s->touched, "the BPE scratch of a word");
    /* L-1 pairs + 2 per merge */
    s->heap = xrealloc(s->heap, 3 * cap * sizeof *s->heap, "the BPE scratch of a word");
    s->wcap = cap;
}

/* GPT-2's bpe(): repeatedly take the lowest-ranked adjacent pair and merge all its occurrences
 * left to right. Here each round pops every heap entry of that rank (they come in position
 * order), skips the stale ones, and pushes the pairs the merges created. */
static void bpe_word(const Tokenizer *t, const unsigned char *w, size_t L, IdVec *out) {
    if (L == 1) {
        idvec_push(out, t->byte_id[w[0]]);
        return;
    }
    EncodeScratch *s = t->s;
    scratch_reserve(s, L);
    int32_t *sym = s->sym, *prv = s->prev, *nxt = s->next;
    uint64_t *heap = s->heap;
    size_t nh = 0;
    for (size_t i = 0; i < L; i++) {
        sym[i] = t->byte_id[w[i]];
        prv[i] = (int32_t)i - 1;
        nxt[i] = i + 1 < L ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < L; i++) {
        int32_t r = pair_map_get(&t->rank, sym[i], sym[i + 1]);
        if (r >= 0) heap_push_u64(heap, &nh, ((uint64_t)r << 32) | i);
    }
    while (nh > 0) {
        uint32_t r = (uint32_t)(heap[0] >> 32);
        const Merge *m = &t->merge[r];
        size_t nt = 0;
        while (nh > 0 && (uint32_t)(heap[0] >> 32) == r) {
            int32_t p = (int32_t)(uint32_t)heap_pop_u64(heap, &nh);
            /* stale if p was absorbed (sym -1) or its pair changed */
            if (sym[p] != m->a || nxt[p] < 0 || sym[nxt[p]] != m->b) continue;
            int32_t q = nxt[p];
            sym[p] = m->result;
            sym[q] = -1;
            nxt[p] = nxt[q];
            if (nxt[q] >= 0) prv[nxt[q]] = p;
            s->touched[nt++] = p;
        }
        for (size_t k = 0; k < nt; k++) {
            int32_t p = s->touched[k];
            if (prv[p] >= 0) {
                int32_t r2 = pair_map_get(&t->rank, sym[prv[p]], sym[p]);
                if (r2 >= 0) heap_push_u64(heap, &nh, ((uint64_t)r2 << 32) | (uint32_t)prv[p]);
            }
            if (nxt[p] >= 0) {
                int32_t r2 = pair_map_get(&t->rank, sym[p], sym[nxt[p]]);
                if (r2 >= 0) heap_push_u64(heap, &nh, ((uint64_t)r2 << 32) | (uint32_t)p);
            }
        }
    }
    for (int32_t p = 0; p >= 0; p = nxt[p]) idvec_push(out, sym[p]);
}

static void cache_clear(Cache *c) {
    memset(c->slot, 0, c->cap * sizeof *c->slot);
    c->count = c->kn = c->vn = 0;
}

static size_t cache_find(const Cache *c, const char *key, size_t len, uint64_t h) {
    size_t mask = c->cap - 1, i = (size_t)h & mask;
    while (c->slot[i].klen) {
        const CacheSlot *s = &c->slot[i];
        if (s->hash == h && s->klen == len && memcmp(c->kbuf + s->koff, key, len) == 0) return i;
        i = (i + 1) & mask;
    }
    return i;
}

static void cache_insert(Cache *c, const char *key, size_t len, uint64_t h, const int32_t *ids,
                         size_t n) {
    if (c->count + 1 >= CACHE_MAX_WORDS) cache_clear(c);
    if (2 * (c->count + 1) > c->cap) {
        Cache big = *c;
        big.cap = 2 * c->cap;
        big.slot = xmalloc(big.cap * sizeof *big.slot, "tokenizer cache");
        for (size_t i = 0; i < c->cap; i++)
            if (c->slot[i].klen) big.slot[cache_find(&big, NULL, 0, c->slot[i].hash)] = c->slot[i];
        xfree(c->slot);
        *c = big;
    }
    if (c->kn + len > c->kcap) {
        size_t cap = c->kcap ? c->kcap : 4096;
        while (cap < c->kn + len) cap *= 2;
        c->kbuf = xrealloc(c->kbuf, cap, "the tokenizer cache");
        c->kcap = cap;
    }
    if (c->vn + n > c->vcap) {
        size_t cap = c->vcap ? c->vcap : 4096;
        while (cap < c->vn + n) cap *= 2;
        c->vbuf = xrealloc(c->vbuf, cap * sizeof *c->vbuf, "the tokenizer cache");
        c->vcap = cap;
    }
    size_t i = cache_find(c, key, len, h);
    memcpy(c->kbuf + c->kn, key, len);
    memcpy(c->vbuf + c->vn, ids, n * sizeof *ids);
    c->slot[i] = (CacheSlot){h, (uint32_t)c->kn, (uint32_t)len, (uint32_t)c->vn, (uint32_t)n};
    c->kn += len;
    c->vn += n;
    c->count++;
}

static void encode_word(const Tokenizer *t, const char *w, size_t L, IdVec *out) {
    if (L == 1) {
        idvec_push(out, t->byte_id[(unsigned char)w[0]]);
        return;
    }
    if (L > CACHE_MAX_WORD) {
        for (size_t o = 0; o < L; o += BPE_MAX_WORD)
            bpe_word(t, (const unsigned char *)w + o, L - o < BPE_MAX_WORD ? L - o : BPE_MAX_WORD,
                     out);
        return;
    }
    Cache *c = &t->s->cache;
    uint64_t h = hash_bytes(w, L);
    size_t i = cache_find(c, w, L, h);
    if (c->slot[i].klen) {
        const CacheSlot *s = &c->slot[i];
        for (uint32_t k = 0; k < s->vlen; k++) idvec_push(out, c->vbuf[s->voff + k]);
        return;
    }
    size_t first = out->n;
    bpe_word(t, (const unsigned char *)w, L, out);
    cache_insert(c, w, L, h, out->p + first, out->n - first);
}

static void encode_plain(const Tokenizer *t, const char *text, size_t len, IdVec *out) {
    PreTokenizer p;
    pretok_init(&p, t, text, len);
    size_t a, b;
    while (pretok_next(&p, &a, &b)) encode_word(t, text + a, b - a, out);
}

/* First position >= from where needle occurs in hay[0..n), n if none. */
static size_t find_bytes(const char *hay, size_t n, size_t from, const char *needle, size_t k) {
    if (k == 0 || k > n) return n;
    for (size_t i = from; i + k <= n;) {
        const char *q = memchr(hay + i, needle[0], n - k + 1 - i);
        if (!q) return n;
        i = (size_t)(q - hay);
        if (memcmp(q, needle, k) == 0) return i;
        i++;
    }
    return n;
}

static int encode_common(const Tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                         int special, Err *e) {
    if (!t || !ids || !n || (!text && len)) return err_set(e, "tok_encode: NULL argument");
    IdVec v = {0};
    v.cap = len / 3 + 16;
    v.p = xrealloc(NULL, v.cap * sizeof *v.p, "the token ids");
    size_t pos = 0;
    if (special) {
        /* next occurrence of each special-token string at or after pos (len if none) */
        int ns = 0;
        for (int i = 0; i < t->n_tok; i++) ns += t->tok[i].special;
        int32_t *sid = xmalloc(((size_t)ns + 1) * sizeof *sid, "the special tokens");
        size_t *next = xmalloc(((size_t)ns + 1) * sizeof *next, "the special tokens");
        ns = 0;
        for (int i = 0; i < t->n_tok; i++)
            if (t->tok[i].special) {
                sid[ns] = i;
                next[ns++] = find_bytes(text, len, pos, t->tok[i].bytes, t->tok[i].len);
            }
        for (;;) {
            int best = -1;
            for (int i = 0; i < ns; i++)
                if (next[i] < len &&
                    (best < 0 || next[i] < next[best] ||
                     (next[i] == next[best] && t->tok[sid[i]].len > t->tok[sid[best]].len)))
                    best = i;
            if (best < 0) break;
            const Token *k = &t->tok[sid[best]];
            encode_plain(t, text + pos, next[best] - pos, &v);
            idvec_push(&v, sid[best]);
            pos = next[best] + k->len;
            for (int i = 0; i < ns; i++)
                if (next[i] < pos)
                    next[i] = find_bytes(text, len, pos, t->tok[sid[i]].bytes, t->tok[sid[i]].len);
        }
        xfree(sid);
        xfree(next);
    }
    if (pos < len) encode_plain(t, text + pos, len - pos, &v);
    *ids = v.p;
    *n = v.n;
    return 0;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n, Err *e) {
    return encode_common(t, text, len, ids, n, 0, e);
}

int tok_encode_special(const Tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       Err *e) {
    return encode_common(t, text, len, ids, n, 1, e);
}
