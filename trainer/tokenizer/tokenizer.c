/*
 * tokenizer.c — byte-level BPE compatible with GPT-2 (see tokenizer.h for the rules).
 *
 * Layout: UTF-8 helpers and GPT-2's byte map; small open-addressing hash maps; the PCRE2
 * pre-tokeniser; BPE of one word (a heap of (rank, position) over a linked list of symbols,
 * O(L log L)) behind a per-word cache; loading (a strict little JSON reader that knows byte
 * offsets, and merges.txt) and saving; training (pair counts with an index from pairs to the
 * words holding them, and a lazy max-heap).
 */
#define _POSIX_C_SOURCE 200809L
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include "tokenizer.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GPT2_PATTERN                                                                               \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Words longer than this are encoded but not cached; the cache is emptied when it holds
 * CACHE_MAX_WORDS words. */
#define CACHE_MAX_WORD  64
#define CACHE_MAX_WORDS (1u << 19)
/* A pre-token longer than this (1 MiB of letters, say) is merged in pieces of this size, which
 * bounds the scratch memory (about 40 bytes per byte); GPT-2 has no such limit. */
#define BPE_MAX_WORD (1u << 20)

/* ---- UTF-8 and GPT-2's byte map ---------------------------------------------------------- */

/* Length (1..4) of the well-formed UTF-8 sequence at s (n bytes available), 0 if ill-formed.
 * Well-formed as in Unicode table 3-7 (no overlongs, surrogates or code points > U+10FFFF),
 * which is exactly what PCRE2 accepts. */
static int utf8_seq_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

/* Decodes the well-formed sequence of length k at s. */
static unsigned utf8_decode(const unsigned char *s, int k) {
    switch (k) {
    case 1:
        return s[0];
    case 2:
        return ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    case 3:
        return ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    default:
        return ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
               (s[3] & 0x3Fu);
    }
}

static int utf8_encode(unsigned cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Bytes GPT-2 keeps as themselves: '!'..'~', '¡'..'¬', '®'..'ÿ'. The other 68 (0x00..0x20,
 * 0x7F..0xA0, 0xAD) become U+0100 + n, n counting them in byte order. */
static int byte_printable(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

int tok_byte_to_unicode(int b) {
    if (b < 0 || b > 255) return -1;
    if (byte_printable(b)) return b;
    if (b <= 0x20) return 256 + b;
    if (b <= 0xA0) return 256 + 33 + (b - 0x7F);
    return 256 + 67; /* 0xAD */
}

int tok_unicode_to_byte(int cp) {
    if (cp >= 0 && cp < 256) return byte_printable(cp) ? cp : -1;
    int n = cp - 256;
    if (n < 0 || n >= 68) return -1;
    if (n < 33) return n;
    if (n < 67) return 0x7F + (n - 33);
    return 0xAD;
}

/* GPT-2's id order for the 256 byte tokens: the printable bytes ascending, then the rest. */
static void gpt2_byte_order(int order[256]) {
    int k = 0;
    for (int b = 0; b < 256; b++)
        if (byte_printable(b)) order[k++] = b;
    for (int b = 0; b < 256; b++)
        if (!byte_printable(b)) order[k++] = b;
}

/* Bytes -> the byte-mapped UTF-8 string (malloc'd, NUL-terminated). */
static char *bytes_to_mapped(const char *bytes, size_t n, uint32_t *out_len) {
    char *s = xmalloc(2 * n + 1, "token string");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)utf8_encode((unsigned)tok_byte_to_unicode((unsigned char)bytes[i]), s + k);
    s[k] = '\0';
    *out_len = (uint32_t)k;
    return s;
}

/* A short printable rendering of s for messages (valid UTF-8 kept, the rest escaped). */
static const char *show(char *dst, size_t cap, const char *s, size_t n) {
    size_t k = 0, i = 0;
    while (i < n && k + 8 < cap) {
        const unsigned char *u = (const unsigned char *)s + i;
        int l = utf8_seq_len(u, n - i);
        if (l == 1 && (u[0] < 0x20 || u[0] == 0x7F || u[0] == '"' || u[0] == '\\')) {
            if (u[0] == '"' || u[0] == '\\')
                k += (size_t)snprintf(dst + k, cap - k, "\\%c", u[0]);
            else
                k += (size_t)snprintf(dst + k, cap - k, "\\x%02X", u[0]);
            i++;
        } else if (l == 0) {
            k += (size_t)snprintf(dst + k, cap - k, "\\x%02X", u[0]);
            i++;
        } else {
            memcpy(dst + k, u, (size_t)l);
            k += (size_t)l;
            i += (size_t)l;
        }
    }
    if (i < n && k + 4 < cap) k += (size_t)snprintf(dst + k, cap - k, "...");
    dst[k] = '\0';
    return dst;
}

/* ---- hash maps ---------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Byte string -> int32. Keys are borrowed (must outlive the map). */
typedef struct {
    const char *key; /* NULL = empty */
    uint64_t hash;
    uint32_t len;
    int32_t val;
} BmSlot;

typedef struct {
    BmSlot *slot;
    size_t cap, count;
} BytesMap;

static void bm_init(BytesMap *m, size_t expect) {
    size_t cap = 64;
    while (cap < 2 * expect) cap *= 2;
    m->slot = xmalloc(cap * sizeof *m->slot, "hash map");
    m->cap = cap;
    m->count = 0;
}

static void bm_free(BytesMap *m) {
    xfree(m->slot);
    memset(m, 0, sizeof *m);
}

static size_t bm_find(const BytesMap *m, const char *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->slot[i].key) {
        const BmSlot *s = &m->slot[i];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return i;
        i = (i + 1) & mask;
    }
    return i;
}

static int32_t bm_get(const BytesMap *m, const char *key, size_t len) {
    size_t i = bm_find(m, key, len, hash_bytes(key, len));
    return m->slot[i].key ? m->slot[i].val : -1;
}

/* Returns the slot's value pointer; *fresh tells whether the key was inserted (value 0). */
static int32_t *bm_put(BytesMap *m, const char *key, size_t len, int *fresh) {
    if (2 * (m->count + 1) > m->cap) {
        BytesMap big;
        big.cap = m->cap * 2;
        big.slot = xmalloc(big.cap * sizeof *big.slot, "hash map");
        big.count = m->count;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i].key) big.slot[bm_find(&big, NULL, 0, m->slot[i].hash)] = m->slot[i];
        xfree(m->slot);
        *m = big;
    }
    uint64_t h = hash_bytes(key, len);
    size_t i = bm_find(m, key, len, h);
    *fresh = m->slot[i].key == NULL;
    if (*fresh) {
        m->slot[i].key = key;
        m->slot[i].len = (uint32_t)len;
        m->slot[i].hash = h;
        m->slot[i].val = 0;
        m->count++;
    }
    return &m->slot[i].val;
}

/* (id, id) -> int32 value, keys packed in a uint64; UINT64_MAX marks an empty slot. */
typedef struct {
    uint64_t key;
    int32_t val;
} PmSlot;

typedef struct {
    PmSlot *slot;
    size_t cap, count;
} PairMap;

static uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

static void pm_init(PairMap *m, size_t expect) {
    size_t cap = 64;
    while (cap < 2 * expect) cap *= 2;
    m->slot = xmalloc(cap * sizeof *m->slot, "pair map");
    for (size_t i = 0; i < cap; i++) m->slot[i].key = UINT64_MAX;
    m->cap = cap;
    m->count = 0;
}

static void pm_free(PairMap *m) {
    xfree(m->slot);
    memset(m, 0, sizeof *m);
}

static size_t pm_find(const PairMap *m, uint64_t key) {
    size_t mask = m->cap - 1, i = (size_t)hash_u64(key) & mask;
    while (m->slot[i].key != UINT64_MAX && m->slot[i].key != key) i = (i + 1) & mask;
    return i;
}

static int32_t pm_get(const PairMap *m, int32_t a, int32_t b) {
    const PmSlot *s = &m->slot[pm_find(m, pair_key(a, b))];
    return s->key == UINT64_MAX ? -1 : s->val;
}

static int32_t *pm_put(PairMap *m, int32_t a, int32_t b, int *fresh) {
    if (2 * (m->count + 1) > m->cap) {
        PairMap big;
        pm_init(&big, m->cap); /* doubles */
        big.count = m->count;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i].key != UINT64_MAX) big.slot[pm_find(&big, m->slot[i].key)] = m->slot[i];
        xfree(m->slot);
        *m = big;
    }
    uint64_t key = pair_key(a, b);
    size_t i = pm_find(m, key);
    *fresh = m->slot[i].key == UINT64_MAX;
    if (*fresh) {
        m->slot[i].key = key;
        m->slot[i].val = 0;
        m->count++;
    }
    return &m->slot[i].val;
}

/* ---- the tokenizer ------------------------------------------------------------------------ */

typedef struct {
    char *str;   /* as written in vocab.json (byte-mapped form; specials literally) */
    char *bytes; /* what it decodes to */
    uint32_t str_len, len;
    int special;
} Token;

typedef struct {
    int32_t a, b, result;
    int line; /* merges.txt line, for messages */
} Merge;

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
typedef struct {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    Cache cache;
    /* BPE of one word */
    int32_t *sym, *prev, *next;
    uint64_t *heap;
    int32_t *touched;
    size_t wcap;
} Scratch;

struct Tokenizer {
    Token *tok;
    int n_tok, cap_tok;
    int32_t byte_id[256];
    Merge *merge;
    int n_merge, cap_merge;
    PairMap rank; /* (a, b) -> merge index */
    int eot, sep;
    pcre2_code *re;
    Scratch *s;
};

static void tok_push(Tokenizer *t, char *str, uint32_t str_len, char *bytes, uint32_t len,
                     int special) {
    if (t->n_tok == t->cap_tok) {
        int cap = t->cap_tok ? 2 * t->cap_tok : 512;
        Token *p = realloc(t->tok, (size_t)cap * sizeof *p);
        if (!p) fatal("out of memory growing the vocab");
        t->tok = p;
        t->cap_tok = cap;
    }
    Token *k = &t->tok[t->n_tok++];
    k->str = str;
    k->str_len = str_len;
    k->bytes = bytes;
    k->len = len;
    k->special = special;
}

static void merge_push(Tokenizer *t, int32_t a, int32_t b, int32_t r, int line) {
    if (t->n_merge == t->cap_merge) {
        int cap = t->cap_merge ? 2 * t->cap_merge : 512;
        Merge *p = realloc(t->merge, (size_t)cap * sizeof *p);
        if (!p) fatal("out of memory growing the merges");
        t->merge = p;
        t->cap_merge = cap;
    }
    t->merge[t->n_merge++] = (Merge){a, b, r, line};
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_tok; i++) {
        xfree(t->tok[i].str);
        xfree(t->tok[i].bytes);
    }
    free(t->tok);
    free(t->merge);
    pm_free(&t->rank);
    if (t->s) {
        Scratch *s = t->s;
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
    }
    pcre2_code_free(t->re);
    xfree(t);
}

/* An empty tokenizer with the regex compiled and the scratch allocated. */
static Tokenizer *tok_new(Err *e) {
    Tokenizer *t = xmalloc(sizeof *t, "tokenizer");
    t->eot = t->sep = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    pm_init(&t->rank, 1024);
    int ec;
    PCRE2_SIZE eo;
    t->re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                          &ec, &eo, NULL);
    if (!t->re) {
        char buf[256];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)buf, sizeof buf);
        tok_free(t);
        err_set(e,
                "tokenizer: PCRE2 cannot compile GPT-2's pattern (%s at offset %zu); install "
                "a PCRE2 built with Unicode support (libpcre2-dev)",
                buf, (size_t)eo);
        return NULL;
    }
    Scratch *s = xmalloc(sizeof *s, "tokenizer scratch");
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
    return t;
}

static void rank_build(Tokenizer *t) {
    pm_free(&t->rank);
    pm_init(&t->rank, (size_t)t->n_merge);
    for (int i = 0; i < t->n_merge; i++) {
        int fresh;
        int32_t *v = pm_put(&t->rank, t->merge[i].a, t->merge[i].b, &fresh);
        if (fresh) *v = i;
    }
}

int tok_vocab_size(const Tokenizer *t) {
    return t ? t->n_tok : 0;
}
int tok_num_merges(const Tokenizer *t) {
    return t ? t->n_merge : 0;
}
int tok_eot(const Tokenizer *t) {
    return t ? t->eot : -1;
}
int tok_sep(const Tokenizer *t) {
    return t ? t->sep : -1;
}

int tok_special_id(const Tokenizer *t, const char *s) {
    if (!t || !s) return -1;
    size_t n = strlen(s);
    for (int i = t->n_tok - 1; i >= 0; i--)
        if (t->tok[i].special && t->tok[i].len == n && memcmp(t->tok[i].bytes, s, n) == 0) return i;
    return -1;
}

const char *tok_token_bytes(const Tokenizer *t, int id, size_t *len) {
    if (!t || id < 0 || id >= t->n_tok) return NULL;
    if (len) *len = t->tok[id].len;
    return t->tok[id].bytes;
}

static int special_form(const char *s, size_t n) {
    return n >= 5 && memcmp(s, "<|", 2) == 0 && memcmp(s + n - 2, "|>", 2) == 0;
}

static void note_special(Tokenizer *t, int id) {
    const Token *k = &t->tok[id];
    if (k->len == strlen(TOK_EOT_STR) && memcmp(k->bytes, TOK_EOT_STR, k->len) == 0) t->eot = id;
    if (k->len == strlen(TOK_SEP_STR) && memcmp(k->bytes, TOK_SEP_STR, k->len) == 0) t->sep = id;
}

static char *dup_bytes(const char *s, size_t n) {
    char *p = xmalloc(n + 1, "token bytes");
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int tok_add_special(Tokenizer *t, const char *s, Err *e) {
    if (!t || !s) return err_set(e, "tok_add_special: NULL argument");
    size_t n = strlen(s);
    char shown[96];
    if (!special_form(s, n) || n > 256)
        return err_set(e, "tok_add_special: \"%s\" is not a special token; write it as <|name|>",
                       show(shown, sizeof shown, s, n));
    for (size_t i = 0; i < n;) {
        int l = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (!l)
            return err_set(e, "tok_add_special: \"%s\" is not valid UTF-8; use a UTF-8 name",
                           show(shown, sizeof shown, s, n));
        i += (size_t)l;
    }
    for (int i = 0; i < t->n_tok; i++) {
        const Token *k = &t->tok[i];
        if (k->str_len == n && memcmp(k->str, s, n) == 0) {
            if (k->special) return i;
            return err_set(e,
                           "tok_add_special: \"%s\" is already an ordinary token (id %d); pick "
                           "another name",
                           s, i);
        }
    }
    tok_push(t, dup_bytes(s, n), (uint32_t)n, dup_bytes(s, n), (uint32_t)n, 1);
    note_special(t, t->n_tok - 1);
    return t->n_tok - 1;
}

/* ---- pre-tokenisation --------------------------------------------------------------------- */

typedef struct {
    const Tokenizer *t;
    const unsigned char *s;
    size_t len, pos;
    size_t run_start, run_end; /* current well-formed UTF-8 run */
} Pre;

static void pre_init(Pre *p, const Tokenizer *t, const char *text, size_t len) {
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

/* Next pre-token [*a, *b); 0 at the end. Pre-tokens tile the text. */
static int pre_next(Pre *p, size_t *a, size_t *b) {
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
    Scratch *sc = p->t->s;
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
        size_t cap = v->cap ? 2 * v->cap : 256;
        int32_t *q = realloc(v->p, cap * sizeof *q);
        if (!q) fatal("out of memory growing the token ids");
        v->p = q;
        v->cap = cap;
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

static void scratch_reserve(Scratch *s, size_t L) {
    if (L <= s->wcap) return;
    size_t cap = s->wcap ? s->wcap : 64;
    while (cap < L) cap *= 2;
    s->sym = realloc(s->sym, cap * sizeof *s->sym);
    s->prev = realloc(s->prev, cap * sizeof *s->prev);
    s->next = realloc(s->next, cap * sizeof *s->next);
    s->touched = realloc(s->touched, cap * sizeof *s->touched);
    s->heap = realloc(s->heap, 3 * cap * sizeof *s->heap); /* L-1 pairs + 2 per merge */
    if (!s->sym || !s->prev || !s->next || !s->touched || !s->heap)
        fatal("out of memory for a %zu-byte word", L);
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
    Scratch *s = t->s;
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
        int32_t r = pm_get(&t->rank, sym[i], sym[i + 1]);
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
                int32_t r2 = pm_get(&t->rank, sym[prv[p]], sym[p]);
                if (r2 >= 0) heap_push_u64(heap, &nh, ((uint64_t)r2 << 32) | (uint32_t)prv[p]);
            }
            if (nxt[p] >= 0) {
                int32_t r2 = pm_get(&t->rank, sym[p], sym[nxt[p]]);
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
        char *p = realloc(c->kbuf, cap);
        if (!p) fatal("out of memory growing the tokenizer cache");
        c->kbuf = p;
        c->kcap = cap;
    }
    if (c->vn + n > c->vcap) {
        size_t cap = c->vcap ? c->vcap : 4096;
        while (cap < c->vn + n) cap *= 2;
        int32_t *p = realloc(c->vbuf, cap * sizeof *p);
        if (!p) fatal("out of memory growing the tokenizer cache");
        c->vbuf = p;
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
    Pre p;
    pre_init(&p, t, text, len);
    size_t a, b;
    while (pre_next(&p, &a, &b)) encode_word(t, text + a, b - a, out);
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
    v.p = malloc(v.cap * sizeof *v.p);
    if (!v.p) fatal("out of memory for token ids");
    size_t pos = 0;
    if (special) {
        /* next occurrence of each special-token string at or after pos (len if none) */
        int ns = 0;
        for (int i = 0; i < t->n_tok; i++) ns += t->tok[i].special;
        int32_t *sid = malloc(((size_t)ns + 1) * sizeof *sid);
        size_t *next = malloc(((size_t)ns + 1) * sizeof *next);
        if (!sid || !next) fatal("out of memory encoding");
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
        free(sid);
        free(next);
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

int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len, Err *e) {
    if (!t || !out || (!ids && n)) return err_set(e, "tok_decode: NULL argument");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_tok)
            return err_set(e,
                           "tok_decode: token id %d at position %zu is outside the vocab "
                           "(0..%d); decode with the tokenizer the ids were made with",
                           (int)ids[i], i, t->n_tok - 1);
        total += t->tok[ids[i]].len;
    }
    char *buf = malloc(total + 1);
    if (!buf) fatal("out of memory decoding %zu bytes", total);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + k, t->tok[ids[i]].bytes, t->tok[ids[i]].len);
        k += t->tok[ids[i]].len;
    }
    buf[k] = '\0';
    *out = buf;
    if (len) *len = k;
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------ */

static int line_of(const char *buf, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off; i++) line += buf[i] == '\n';
    return line;
}

typedef struct {
    const char *path;
    const char *p;
    size_t n, i;
    Err *e;
    char *sbuf; /* decoded string */
    size_t slen, scap;
} Json;

static int json_err(Json *j, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int json_err(Json *j, size_t at, const char *fmt, ...) {
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(j->e, "%s:%d: byte %zu: %s", j->path, line_of(j->p, at), at, msg);
}

static void json_ws(Json *j) {
    while (j->i < j->n &&
           (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r'))
        j->i++;
}

static void sbuf_put(Json *j, const char *s, size_t n) {
    if (j->slen + n + 1 > j->scap) {
        size_t cap = j->scap ? 2 * j->scap : 256;
        while (cap < j->slen + n + 1) cap *= 2;
        char *q = realloc(j->sbuf, cap);
        if (!q) fatal("out of memory reading JSON");
        j->sbuf = q;
        j->scap = cap;
    }
    memcpy(j->sbuf + j->slen, s, n);
    j->slen += n;
    j->sbuf[j->slen] = '\0';
}

static int hex4(const char *s, unsigned *v) {
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *v = x;
    return 0;
}

/* A JSON string at j->i (which is '"') into j->sbuf. */
static int json_string(Json *j) {
    size_t start = j->i++;
    j->slen = 0;
    sbuf_put(j, "", 0);
    for (;;) {
        if (j->i >= j->n) return json_err(j, start, "unterminated string; close it with '\"'");
        unsigned char c = (unsigned char)j->p[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20)
            return json_err(j, j->i,
                            "raw control character 0x%02X in a string; write it as "
                            "\\u00%02x",
                            c, c);
        if (c == '\\') {
            if (j->i + 1 >= j->n)
                return json_err(j, j->i, "unterminated escape; finish the string");
            char x = j->p[j->i + 1], o;
            switch (x) {
            case '"':
                o = '"';
                break;
            case '\\':
                o = '\\';
                break;
            case '/':
                o = '/';
                break;
            case 'b':
                o = '\b';
                break;
            case 'f':
                o = '\f';
                break;
            case 'n':
                o = '\n';
                break;
            case 'r':
                o = '\r';
                break;
            case 't':
                o = '\t';
                break;
            case 'u':
                o = 0;
                break;
            default:
                return json_err(j, j->i,
                                "invalid escape \\%c; JSON allows \\\" \\\\ \\/ \\b \\f "
                                "\\n \\r \\t \\uXXXX",
                                x);
            }
            if (x != 'u') {
                sbuf_put(j, &o, 1);
                j->i += 2;
                continue;
            }
            unsigned cp, lo;
            if (j->i + 6 > j->n || hex4(j->p + j->i + 2, &cp))
                return json_err(j, j->i, "\\u must be followed by 4 hex digits");
            size_t at = j->i;
            j->i += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return json_err(j, at, "lone low surrogate \\u%04x; fix the escape", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->i + 6 > j->n || j->p[j->i] != '\\' || j->p[j->i + 1] != 'u' ||
                    hex4(j->p + j->i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return json_err(j, at,
                                    "high surrogate \\u%04x without a low surrogate; "
                                    "fix the escape",
                                    cp);
                j->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) return json_err(j, at, "\\u0000 in a string; tokens cannot contain NUL");
            char u[4];
            sbuf_put(j, u, (size_t)utf8_encode(cp, u));
            continue;
        }
        int l = utf8_seq_len((const unsigned char *)j->p + j->i, j->n - j->i);
        if (!l) return json_err(j, j->i, "invalid UTF-8 byte 0x%02X; save the file as UTF-8", c);
        sbuf_put(j, j->p + j->i, (size_t)l);
        j->i += (size_t)l;
    }
}

typedef struct {
    char *str;
    uint32_t len;
    int32_t id;
    size_t off; /* where the key starts */
} VEntry;

/* Reads {"token": id, ...} into entries (file order). */
static int json_vocab(Json *j, VEntry **out, size_t *n_out) {
    VEntry *v = NULL;
    size_t n = 0, cap = 0;
    json_ws(j);
    if (j->i >= j->n || j->p[j->i] != '{') {
        json_err(j, j->i, "expected '{': vocab.json must be a JSON object {\"token\": id, ...}");
        goto fail;
    }
    j->i++;
    json_ws(j);
    if (j->i < j->n && j->p[j->i] == '}') {
        j->i++;
    } else {
        for (;;) {
            json_ws(j);
            if (j->i >= j->n || j->p[j->i] != '"') {
                json_err(j, j->i, "expected a token string in double quotes; fix the JSON syntax");
                goto fail;
            }
            size_t off = j->i;
            if (json_string(j)) goto fail;
            char shown[96];
            show(shown, sizeof shown, j->sbuf, j->slen);
            json_ws(j);
            if (j->i >= j->n || j->p[j->i] != ':') {
                json_err(j, j->i, "expected ':' after token \"%s\"; fix the JSON syntax", shown);
                goto fail;
            }
            j->i++;
            json_ws(j);
            size_t vat = j->i;
            if (j->i < j->n && j->p[j->i] == '-') {
                json_err(j, vat, "token \"%s\" has a negative id; ids must be 0..N-1", shown);
                goto fail;
            }
            if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') {
                json_err(j, vat,
                         "token \"%s\": id must be a non-negative integer; ids must be 0..N-1",
                         shown);
                goto fail;
            }
            long long id = 0;
            while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') {
                id = id * 10 + (j->p[j->i] - '0');
                if (id > INT32_MAX) {
                    json_err(j, vat, "token \"%s\": id is too large; ids must be 0..N-1", shown);
                    goto fail;
                }
                j->i++;
            }
            if (j->i < j->n && (j->p[j->i] == '.' || j->p[j->i] == 'e' || j->p[j->i] == 'E')) {
                json_err(j, vat,
                         "token \"%s\": id must be a non-negative integer; ids must be 0..N-1",
                         shown);
                goto fail;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                VEntry *q = realloc(v, cap * sizeof *q);
                if (!q) fatal("out of memory reading vocab.json");
                v = q;
            }
            v[n].str = dup_bytes(j->sbuf, j->slen);
            v[n].len = (uint32_t)j->slen;
            v[n].id = (int32_t)id;
            v[n].off = off;
            n++;
            json_ws(j);
            if (j->i < j->n && j->p[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->i < j->n && j->p[j->i] == '}') {
                j->i++;
                break;
            }
            json_err(j, j->i,
                     "expected ',' or '}' after the id of token \"%s\"; fix the JSON syntax",
                     shown);
            goto fail;
        }
    }
    json_ws(j);
    if (j->i < j->n) {
        json_err(j, j->i, "unexpected data after the closing '}'; remove it");
        goto fail;
    }
    *out = v;
    *n_out = n;
    return 0;
fail:
    for (size_t k = 0; k < n; k++) xfree(v[k].str);
    free(v);
    return -1;
}

/* Decodes a byte-mapped string; -1 (and the offending code point) if a character is not one of
 * the 256. */
static int mapped_to_bytes(const char *s, size_t n, char *out, size_t *out_len, unsigned *bad) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int l = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (!l) {
            *bad = (unsigned char)s[i];
            return -1;
        }
        unsigned cp = utf8_decode((const unsigned char *)s + i, l);
        int b = tok_unicode_to_byte((int)cp);
        if (b < 0) {
            *bad = cp;
            return -1;
        }
        out[k++] = (char)b;
        i += (size_t)l;
    }
    *out_len = k;
    return 0;
}

static int load_vocab(Tokenizer *t, const char *path, BytesMap *map, size_t **offsets, char **file,
                      Err *e) {
    size_t n_file;
    char *buf = file_read_all(path, &n_file, e);
    if (!buf) return -1;
    Json j = {.path = path, .p = buf, .n = n_file, .e = e};
    VEntry *v = NULL;
    size_t n = 0;
    int rc = json_vocab(&j, &v, &n);
    free(j.sbuf);
    if (rc) {
        free(buf);
        return -1;
    }
    char shown[96];
    int32_t *holder = NULL;
    if (n == 0) {
        err_set(e, "%s:1: the vocab is empty; a byte-level BPE vocab needs the 256 byte tokens",
                path);
        goto fail;
    }
    holder = malloc(n * sizeof *holder);
    if (!holder) fatal("out of memory reading vocab.json");
    for (size_t k = 0; k < n; k++) holder[k] = -1;
    bm_init(map, n);
    for (size_t k = 0; k < n; k++) {
        show(shown, sizeof shown, v[k].str, v[k].len);
        if (v[k].len == 0) {
            err_set(e, "%s:%d: byte %zu: empty token \"\"; remove it", path, line_of(buf, v[k].off),
                    v[k].off);
            goto fail;
        }
        int fresh;
        int32_t *slot = bm_put(map, v[k].str, v[k].len, &fresh);
        if (!fresh) {
            err_set(e,
                    "%s:%d: byte %zu: duplicate token \"%s\" (first at byte %zu); each token "
                    "must appear once",
                    path, line_of(buf, v[k].off), v[k].off, shown, v[*slot].off);
            goto fail;
        }
        *slot = (int32_t)k;
        if ((size_t)v[k].id >= n) {
            err_set(e,
                    "%s:%d: byte %zu: token \"%s\" has id %d but the vocab has %zu tokens; ids "
                    "must be 0..%zu",
                    path, line_of(buf, v[k].off), v[k].off, shown, (int)v[k].id, n, n - 1);
            goto fail;
        }
        if (holder[v[k].id] >= 0) {
            char other[96];
            size_t h = (size_t)holder[v[k].id];
            err_set(e,
                    "%s:%d: byte %zu: token \"%s\" has id %d, already used by token \"%s\"; "
                    "ids must be unique",
                    path, line_of(buf, v[k].off), v[k].off, shown, (int)v[k].id,
                    show(other, sizeof other, v[h].str, v[h].len));
            goto fail;
        }
        holder[v[k].id] = (int32_t)k;
    }
    /* tokens by id; the map now points at ids */
    *offsets = xmalloc(n * sizeof **offsets, "vocab offsets");
    for (size_t id = 0; id < n; id++) {
        VEntry *x = &v[holder[id]];
        char *bytes = xmalloc((size_t)x->len + 1, "token bytes");
        size_t bl = 0;
        unsigned bad;
        if (mapped_to_bytes(x->str, x->len, bytes, &bl, &bad)) {
            /* only special tokens may leave the byte alphabet; checked after the merges */
            memcpy(bytes, x->str, x->len);
            bl = x->len;
        }
        bytes[bl] = '\0';
        tok_push(t, x->str, x->len, bytes, (uint32_t)bl, 0);
        x->str = NULL;
        (*offsets)[id] = x->off;
    }
    for (size_t s = 0; s < map->cap; s++)
        if (map->slot[s].key) {
            int32_t id = v[map->slot[s].val].id;
            map->slot[s].val = id;
            map->slot[s].key = t->tok[id].str;
        }
    for (int b = 0; b < 256; b++) {
        char u[4];
        int l = utf8_encode((unsigned)tok_byte_to_unicode(b), u);
        t->byte_id[b] = bm_get(map, u, (size_t)l);
        if (t->byte_id[b] < 0) {
            err_set(e,
                    "%s: no token for byte 0x%02X (\"%.*s\"); a byte-level BPE vocab needs all 256 "
                    "single-byte tokens",
                    path, b, l, u);
            goto fail;
        }
    }
    free(holder);
    for (size_t k = 0; k < n; k++) xfree(v[k].str);
    free(v);
    *file = buf;
    return 0;
fail:
    free(holder);
    for (size_t k = 0; k < n; k++) xfree(v[k].str);
    free(v);
    free(buf);
    return -1;
}

static int load_merges(Tokenizer *t, const char *path, const BytesMap *map, Err *e) {
    size_t n;
    char *buf = file_read_all(path, &n, e);
    if (!buf) return -1;
    char *formed = xmalloc((size_t)t->n_tok, "merge check");
    for (int b = 0; b < 256; b++) formed[t->byte_id[b]] = 1;
    PairMap seen; /* pair -> merge index */
    pm_init(&seen, n / 8);
    char *cat = NULL;
    size_t cat_cap = 0;
    int line = 0, rc = -1;
    char sa[96], sb[96];
    for (size_t i = 0; i < n;) {
        line++;
        const char *ln = buf + i;
        const char *nl = memchr(ln, '\n', n - i);
        size_t len = nl ? (size_t)(nl - ln) : n - i;
        i += len + (nl ? 1 : 0);
        if (len > 0 && ln[len - 1] == '\r') len--;
        if (line == 1 && len >= 8 && memcmp(ln, "#version", 8) == 0) continue;
        if (len == 0) {
            err_set(e, "%s:%d: empty line; merges.txt needs one merge \"a b\" per line", path,
                    line);
            goto out;
        }
        const char *sp = memchr(ln, ' ', len);
        size_t fields = 1;
        for (size_t k = 0; k < len; k++) fields += ln[k] == ' ';
        if (fields != 2 || sp == ln || sp == ln + len - 1) {
            err_set(e,
                    "%s:%d: expected two symbols separated by one space (\"a b\"), found \"%s\"; "
                    "fix the line",
                    path, line, show(sa, sizeof sa, ln, len));
            goto out;
        }
        size_t la = (size_t)(sp - ln), lb = len - la - 1;
        const char *pa = ln, *pb = sp + 1;
        int32_t ida = bm_get(map, pa, la), idb = bm_get(map, pb, lb);
        if (ida < 0 || idb < 0) {
            const char *p = ida < 0 ? pa : pb;
            size_t l = ida < 0 ? la : lb;
            err_set(e,
                    "%s:%d: unknown symbol \"%s\": it is not in vocab.json; merges must use "
                    "vocab tokens",
                    path, line, show(sa, sizeof sa, p, l));
            goto out;
        }
        if (!formed[ida] || !formed[idb]) {
            int32_t id = !formed[ida] ? ida : idb;
            err_set(e,
                    "%s:%d: symbol \"%s\" cannot be formed: it is not a single byte and no earlier "
                    "merge produces it; merges must be in the order they were learned",
                    path, line, show(sa, sizeof sa, t->tok[id].str, t->tok[id].str_len));
            goto out;
        }
        int fresh;
        int32_t *first = pm_put(&seen, ida, idb, &fresh);
        if (!fresh) {
            err_set(e, "%s:%d: duplicate merge \"%s %s\" (first on line %d); remove this line",
                    path, line, show(sa, sizeof sa, pa, la), show(sb, sizeof sb, pb, lb),
                    t->merge[*first].line);
            goto out;
        }
        *first = t->n_merge;
        if (la + lb > cat_cap) {
            cat_cap = 2 * (la + lb);
            char *q = realloc(cat, cat_cap);
            if (!q) fatal("out of memory reading merges.txt");
            cat = q;
        }
        memcpy(cat, pa, la);
        memcpy(cat + la, pb, lb);
        int32_t r = bm_get(map, cat, la + lb);
        if (r < 0) {
            err_set(e,
                    "%s:%d: merge result \"%s\" is not in vocab.json; add it to the vocab or "
                    "remove the merge",
                    path, line, show(sa, sizeof sa, cat, la + lb));
            goto out;
        }
        formed[r] = 1;
        merge_push(t, ida, idb, r, line);
    }
    rc = 0;
out:
    free(cat);
    pm_free(&seen);
    xfree(formed);
    free(buf);
    return rc;
}

/* Marks special tokens and rejects tokens outside the byte alphabet that are not special. */
static int classify(Tokenizer *t, const char *vpath, const char *vfile, const size_t *offsets,
                    Err *e) {
    char *formed = xmalloc((size_t)t->n_tok, "vocab check");
    for (int b = 0; b < 256; b++) formed[t->byte_id[b]] = 1;
    for (int m = 0; m < t->n_merge; m++) formed[t->merge[m].result] = 1;
    int rc = 0;
    for (int id = 0; id < t->n_tok && rc == 0; id++) {
        Token *k = &t->tok[id];
        if (!formed[id] && special_form(k->str, k->str_len)) {
            memcpy(k->bytes, k->str, k->str_len); /* literal text, not byte-mapped */
            k->len = k->str_len;
            k->bytes[k->len] = '\0';
            k->special = 1;
            note_special(t, id);
            continue;
        }
        size_t bl;
        unsigned bad = 0;
        char *scratch = xmalloc((size_t)k->str_len + 1, "vocab check");
        int r = mapped_to_bytes(k->str, k->str_len, scratch, &bl, &bad);
        xfree(scratch);
        if (r) {
            char shown[96];
            rc = err_set(e,
                         "%s:%d: byte %zu: token \"%s\" (id %d) contains U+%04X, which is not "
                         "in GPT-2's byte-to-unicode alphabet; write tokens in byte-mapped form "
                         "(a space is \"\\u0120\") or name a special token <|...|>",
                         vpath, line_of(vfile, offsets[id]), offsets[id],
                         show(shown, sizeof shown, k->str, k->str_len), id, bad);
        }
    }
    xfree(formed);
    return rc;
}

int tok_load(Tokenizer **out, const char *vocab_json, const char *merges_txt, Err *e) {
    if (!out || !vocab_json || !merges_txt) return err_set(e, "tok_load: NULL argument");
    *out = NULL;
    Tokenizer *t = tok_new(e);
    if (!t) return -1;
    BytesMap map = {0};
    size_t *offsets = NULL;
    char *vfile = NULL;
    int rc = load_vocab(t, vocab_json, &map, &offsets, &vfile, e);
    if (rc == 0) rc = load_merges(t, merges_txt, &map, e);
    if (rc == 0) rc = classify(t, vocab_json, vfile, offsets, e);
    if (map.slot) bm_free(&map);
    if (offsets) xfree(offsets);
    free(vfile);
    if (rc) {
        tok_free(t);
        return -1;
    }
    rank_build(t);
    *out = t;
    return 0;
}

static void join_path(char *dst, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    snprintf(dst, cap, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

int tok_load_dir(Tokenizer **t, const char *dir, Err *e) {
    if (!dir) return err_set(e, "tok_load_dir: NULL argument");
    char v[4200], m[4200];
    join_path(v, sizeof v, dir, "vocab.json");
    join_path(m, sizeof m, dir, "merges.txt");
    return tok_load(t, v, m, e);
}

/* ---- saving ------------------------------------------------------------------------------- */

/* Python's json.dumps(ensure_ascii=True) string escaping. */
static void json_put_string(FILE *fp, const char *s, size_t n) {
    fputc('"', fp);
    for (size_t i = 0; i < n;) {
        const unsigned char *u = (const unsigned char *)s + i;
        int l = utf8_seq_len(u, n - i);
        unsigned cp = l ? utf8_decode(u, l) : u[0]; /* strings are valid UTF-8 */
        i += l ? (size_t)l : 1;
        switch (cp) {
        case '"':
            fputs("\\\"", fp);
            continue;
        case '\\':
            fputs("\\\\", fp);
            continue;
        case '\n':
            fputs("\\n", fp);
            continue;
        case '\r':
            fputs("\\r", fp);
            continue;
        case '\t':
            fputs("\\t", fp);
            continue;
        case '\b':
            fputs("\\b", fp);
            continue;
        case '\f':
            fputs("\\f", fp);
            continue;
        default:
            break;
        }
        if (cp >= 0x20 && cp <= 0x7E) {
            fputc((int)cp, fp);
        } else if (cp < 0x10000) {
            fprintf(fp, "\\u%04x", cp);
        } else {
            unsigned v = cp - 0x10000;
            fprintf(fp, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        }
    }
    fputc('"', fp);
}

int tok_save(const Tokenizer *t, const char *vocab_json, const char *merges_txt, Err *e) {
    if (!t || !vocab_json || !merges_txt) return err_set(e, "tok_save: NULL argument");
    AtomicFile af;
    if (atomic_open(&af, vocab_json, e)) return -1;
    fputc('{', af.fp);
    for (int id = 0; id < t->n_tok; id++) {
        if (id) fputs(", ", af.fp);
        json_put_string(af.fp, t->tok[id].str, t->tok[id].str_len);
        fprintf(af.fp, ": %d", id);
    }
    fputc('}', af.fp);
    if (atomic_commit(&af, e)) return -1;
    if (atomic_open(&af, merges_txt, e)) return -1;
    fputs("#version: 0.2\n", af.fp);
    for (int m = 0; m < t->n_merge; m++) {
        const Token *a = &t->tok[t->merge[m].a], *b = &t->tok[t->merge[m].b];
        fwrite(a->str, 1, a->str_len, af.fp);
        fputc(' ', af.fp);
        fwrite(b->str, 1, b->str_len, af.fp);
        fputc('\n', af.fp);
    }
    return atomic_commit(&af, e);
}

int tok_save_dir(const Tokenizer *t, const char *dir, Err *e) {
    if (!t || !dir) return err_set(e, "tok_save_dir: NULL argument");
    if (mkdir_p(dir, e)) return -1;
    char v[4200], m[4200];
    join_path(v, sizeof v, dir, "vocab.json");
    join_path(m, sizeof m, dir, "merges.txt");
    return tok_save(t, v, m, e);
}

/* ---- training ----------------------------------------------------------------------------- */

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
} HeapEnt;

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
    HeapEnt *heap;
    size_t nh, cap_h;
    uint32_t step;
} Trainer;

static int bytes_cmp(const Token *x, const Token *y) {
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->bytes, y->bytes, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Does heap entry x come before y? Higher count, then smaller (left bytes, right bytes). */
static int ent_before(const Trainer *tr, HeapEnt x, HeapEnt y) {
    if (x.count != y.count) return x.count > y.count;
    const PairStat *px = &tr->ps[x.pair], *py = &tr->ps[y.pair];
    const Token *tk = tr->t->tok;
    int c = bytes_cmp(&tk[px->a], &tk[py->a]);
    if (c == 0) c = bytes_cmp(&tk[px->b], &tk[py->b]);
    return c < 0;
}

static void th_push(Trainer *tr, HeapEnt x) {
    if (tr->nh == tr->cap_h) {
        tr->cap_h = tr->cap_h ? 2 * tr->cap_h : 4096;
        HeapEnt *q = realloc(tr->heap, tr->cap_h * sizeof *q);
        if (!q) fatal("out of memory in BPE training");
        tr->heap = q;
    }
    size_t i = tr->nh++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!ent_before(tr, x, tr->heap[up])) break;
        tr->heap[i] = tr->heap[up];
        i = up;
    }
    tr->heap[i] = x;
}

static HeapEnt th_pop(Trainer *tr) {
    HeapEnt top = tr->heap[0], x = tr->heap[--tr->nh];
    size_t i = 0, m = tr->nh;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && ent_before(tr, tr->heap[c + 1], tr->heap[c])) c++;
        if (!ent_before(tr, tr->heap[c], x)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (m) tr->heap[i] = x;
    return top;
}

/* count(a, b) += delta; a positive delta records that word w holds the pair. */
static void pair_add(Trainer *tr, int32_t a, int32_t b, int64_t delta, int32_t w) {
    int fresh;
    int32_t *slot = pm_put(&tr->index, a, b, &fresh);
    if (fresh) {
        if (tr->n_ps == tr->cap_ps) {
            tr->cap_ps = tr->cap_ps ? 2 * tr->cap_ps : 4096;
            PairStat *q = realloc(tr->ps, tr->cap_ps * sizeof *q);
            if (!q) fatal("out of memory in BPE training");
            tr->ps = q;
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
        ListNode *q = realloc(tr->ln, tr->cap_ln * sizeof *q);
        if (!q) fatal("out of memory in BPE training");
        tr->ln = q;
    }
    tr->ln[tr->n_ln] = (ListNode){w, p->head};
    p->head = (int32_t)tr->n_ln++;
    if (p->stamp != tr->step) {
        p->stamp = tr->step;
        if (tr->n_changed == tr->cap_changed) {
            tr->cap_changed = tr->cap_changed ? 2 * tr->cap_changed : 4096;
            int32_t *q = realloc(tr->changed, tr->cap_changed * sizeof *q);
            if (!q) fatal("out of memory in BPE training");
            tr->changed = q;
        }
        tr->changed[tr->n_changed++] = pi;
    }
}

/* Replaces every (a, b) in word w, left to right, by r, and updates the neighbours' counts. */
static void merge_in_word(Trainer *tr, int32_t w, int32_t a, int32_t b, int32_t r) {
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

static void trainer_free(Trainer *tr) {
    free(tr->sym);
    free(tr->off);
    free(tr->wlen);
    free(tr->wcount);
    free(tr->wstamp);
    if (tr->index.slot) pm_free(&tr->index);
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
        tok_push(t, str, sl, dup_bytes(&c, 1), 1, 0);
        t->byte_id[order[i]] = i;
    }

    /* unique pre-tokens and their counts */
    Trainer tr = {.t = t};
    BytesMap words;
    bm_init(&words, 1 << 16);
    int64_t *cnt = NULL;
    size_t cap_w = 0, total_syms = 0;
    Pre p;
    pre_init(&p, t, text, len);
    size_t a, b;
    while (pre_next(&p, &a, &b)) {
        int fresh;
        int32_t *slot = bm_put(&words, text + a, b - a, &fresh);
        if (fresh) {
            if (tr.n_words == cap_w) {
                cap_w = cap_w ? 2 * cap_w : 1 << 16;
                int64_t *q = realloc(cnt, cap_w * sizeof *q);
                if (!q) fatal("out of memory in BPE training");
                cnt = q;
            }
            *slot = (int32_t)tr.n_words;
            cnt[tr.n_words++] = 0;
            total_syms += b - a;
        }
        cnt[*slot]++;
    }
    size_t nw = tr.n_words;
    tr.sym = malloc((total_syms + 1) * sizeof *tr.sym);
    tr.off = malloc((nw + 1) * sizeof *tr.off);
    tr.wlen = malloc((nw + 1) * sizeof *tr.wlen);
    tr.wcount = malloc((nw + 1) * sizeof *tr.wcount);
    tr.wstamp = calloc(nw + 1, sizeof *tr.wstamp);
    if (!tr.sym || !tr.off || !tr.wlen || !tr.wcount || !tr.wstamp)
        fatal("out of memory in BPE training");
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
    bm_free(&words);
    free(cnt);

    pm_init(&tr.index, 1 << 16);
    tr.step = 1;
    for (size_t w = 0; w < nw; w++) {
        const int32_t *s = tr.sym + tr.off[w];
        for (int32_t i = 0; i + 1 < tr.wlen[w]; i++)
            pair_add(&tr, s[i], s[i + 1], tr.wcount[w], (int32_t)w);
    }
    for (size_t i = 0; i < tr.n_ps; i++) th_push(&tr, (HeapEnt){tr.ps[i].count, (int32_t)i});

    /* token bytes -> id, to reuse the id of a merge result that already exists */
    BytesMap vocab;
    bm_init(&vocab, (size_t)vocab_size);
    for (int i = 0; i < 256; i++) {
        int fresh;
        *bm_put(&vocab, t->tok[i].bytes, 1, &fresh) = i;
    }
    int target = vocab_size - 2;
    while (t->n_tok < target && tr.nh > 0) {
        HeapEnt top = th_pop(&tr);
        PairStat *ps = &tr.ps[top.pair];
        if (ps->done || ps->count <= 0) continue;
        if (ps->count != top.count) {
            if (ps->count < top.count) th_push(&tr, (HeapEnt){ps->count, top.pair});
            continue; /* a larger count has its own entry */
        }
        int32_t pa = ps->a, pb = ps->b, head = ps->head;
        const Token *ta = &t->tok[pa], *tb = &t->tok[pb];
        size_t nl = (size_t)ta->len + tb->len;
        char *bytes = xmalloc(nl + 1, "token bytes");
        memcpy(bytes, ta->bytes, ta->len);
        memcpy(bytes + ta->len, tb->bytes, tb->len);
        int32_t r = bm_get(&vocab, bytes, nl);
        if (r < 0) {
            uint32_t sl;
            char *str = bytes_to_mapped(bytes, nl, &sl);
            r = t->n_tok;
            tok_push(t, str, sl, bytes, (uint32_t)nl, 0);
            int fresh;
            *bm_put(&vocab, t->tok[r].bytes, nl, &fresh) = r;
        } else {
            xfree(bytes);
        }
        merge_push(t, pa, pb, r, 0);
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
            if (!q->done && q->count > 0) th_push(&tr, (HeapEnt){q->count, tr.changed[c]});
        }
    }
    bm_free(&vocab);
    trainer_free(&tr);

    static const char *const specials[2] = {TOK_EOT_STR, TOK_SEP_STR};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(specials[i]);
        tok_push(t, dup_bytes(specials[i], n), (uint32_t)n, dup_bytes(specials[i], n), (uint32_t)n,
                 1);
        note_special(t, t->n_tok - 1);
    }
    rank_build(t);
    *out = t;
    return 0;
}
