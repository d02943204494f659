/*
 * tokenizer_internal.h — what the tokenizer's files share; not part of the public API
 * (tokenizer.h is).
 *
 *   tokenizer.c        the Tokenizer: vocab and merges, GPT-2's byte map, lookups, specials,
 *                      decoding, load/free
 *   hashmap.c          two open-addressing hash maps: byte string -> int32, (id, id) -> int32
 *   bpe_encode.c       pre-tokenisation with PCRE2, BPE of one word, the per-word cache
 *   tokenizer_files.c  reading vocab.json (cJSON) and merges.txt, writing both
 *   bpe_train.c        tok_train: the BPE trainer
 */
#ifndef IMPRINT_TOKENIZER_INTERNAL_H
#define IMPRINT_TOKENIZER_INTERNAL_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"
#include "util.h"

/* ---- hash maps (hashmap.c) ---------------------------------------------------------------- */

/* FNV-1a with the high half folded in; the hash of BytesMap and of the encoder's cache. */
uint64_t hash_bytes(const char *p, size_t n);

/* Byte string -> int32. Keys are borrowed (must outlive the map). */
typedef struct {
    const char *key; /* NULL = empty */
    uint64_t hash;
    uint32_t len;
    int32_t val;
} BytesSlot;

typedef struct {
    BytesSlot *slot;
    size_t cap, count;
} BytesMap;

void bytes_map_init(BytesMap *m, size_t expect);
void bytes_map_free(BytesMap *m);
/* The value of key, -1 if absent. */
int32_t bytes_map_get(const BytesMap *m, const char *key, size_t len);
/* The slot's value pointer; *fresh tells whether the key was inserted (value 0). */
int32_t *bytes_map_put(BytesMap *m, const char *key, size_t len, int *fresh);

/* (id, id) -> int32 value, keys packed in a uint64; UINT64_MAX marks an empty slot. */
typedef struct {
    uint64_t key;
    int32_t val;
} PairSlot;

typedef struct {
    PairSlot *slot;
    size_t cap, count;
} PairMap;

void pair_map_init(PairMap *m, size_t expect);
void pair_map_free(PairMap *m);
/* The value of (a, b), -1 if absent. */
int32_t pair_map_get(const PairMap *m, int32_t a, int32_t b);
/* The slot's value pointer; *fresh tells whether the pair was inserted (value 0). */
int32_t *pair_map_put(PairMap *m, int32_t a, int32_t b, int *fresh);

/* ---- the tokenizer (tokenizer.c) ---------------------------------------------------------- */

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

typedef struct EncodeScratch EncodeScratch;

struct Tokenizer {
    Token *tok;
    int n_tok, cap_tok;
    int32_t byte_id[256];
    Merge *merge;
    int n_merge, cap_merge;
    PairMap rank; /* (a, b) -> merge index */
    int eot, sep;
    pcre2_code *re;
    EncodeScratch *s; /* mutable state of encoding (bpe_encode.c) */
};

/* An empty tokenizer with the regex compiled and the encoder's scratch allocated. */
Tokenizer *tok_new(Err *e);
/* Appends a token (taking str and bytes, which must come from xmalloc) / a merge. */
void vocab_append(Tokenizer *t, char *str, uint32_t str_len, char *bytes, uint32_t len,
                  int special);
void merges_append(Tokenizer *t, int32_t a, int32_t b, int32_t result, int line);
/* Builds t->rank from t->merge (the first of a repeated pair wins). */
void rank_build(Tokenizer *t);
/* 1 when s[0..n) is written "<|...|>". */
int special_form(const char *s, size_t n);
/* Sets t->eot / t->sep when token id is one of them. */
void note_special(Tokenizer *t, int id);
/* An xmalloc'd NUL-terminated copy of s[0..n). */
char *dup_bytes(const char *s, size_t n);

/* GPT-2's id order for the 256 byte tokens: the printable bytes ascending, then the rest. */
void gpt2_byte_order(int order[256]);
/* Bytes -> the byte-mapped UTF-8 string (xmalloc'd, NUL-terminated). */
char *bytes_to_mapped(const char *bytes, size_t n, uint32_t *out_len);
/* Decodes a byte-mapped string into out (n bytes at least); -1 (and the offending code point or
 * ill-formed byte in *bad) if a character is not one of the 256. */
int mapped_to_bytes(const char *s, size_t n, char *out, size_t *out_len, unsigned *bad);
/* A short printable rendering of s[0..n) for messages, in dst (valid UTF-8 kept, '"', '\\' and
 * control characters escaped, "..." when cut); returns dst. */
const char *quote_for_message(char *dst, size_t cap, const char *s, size_t n);

/* ---- encoding (bpe_encode.c) -------------------------------------------------------------- */

/* Compiles GPT-2's pattern into t->re and allocates t->s; -1 with e filled if PCRE2 cannot. */
int encoder_init(Tokenizer *t, Err *e);
void encoder_free(Tokenizer *t);

/* Splits text into GPT-2's pre-tokens (see tokenizer.h); they tile the text. */
typedef struct {
    const Tokenizer *t;
    const unsigned char *s;
    size_t len, pos;
    size_t run_start, run_end; /* current well-formed UTF-8 run */
} PreTokenizer;

void pretok_init(PreTokenizer *p, const Tokenizer *t, const char *text, size_t len);
/* Next pre-token [*a, *b); 0 at the end. */
int pretok_next(PreTokenizer *p, size_t *a, size_t *b);

#endif
