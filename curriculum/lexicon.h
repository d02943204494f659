/*
 * lexicon.h — typed-slot lexicons (docs/chains.md, "Typed slots and lexicons"): word lists a
 * chain's typed slots draw from, the built-in nonce generator, the held-out partition, and the
 * English plural and article rules.
 *
 * Files. One entry per line, `singular` or `singular | plural`; `#` at the start of a line
 * begins a comment; blank lines are ignored. Entries are 1 to 3 words of letters (ASCII or any
 * non-ASCII UTF-8 letter), joined by single spaces, with hyphens and apostrophes allowed inside;
 * no duplicate singulars. Errors are "<lexicon file>:<line>: what; how to fix".
 *
 * Partition. An entry is held out iff SHA-256(type ":" singular), read as one 256-bit big-endian
 * number, is < 20 mod 100 (type = the name the library declares it under). The held-out part is
 * used only by the held-out-entities split; the rest is the training part.
 *
 * Nonce. The type "nonce" needs no file: word k (0 <= k < NONCE_PER_PART) of partition p is
 * built from Philox draws keyed on (run seed, LEX_STREAM_NONCE, p, k): 1 to 3 pronounceable
 * consonant-vowel(-consonant) syllables ("dax", "wugon", "belimor"); a word whose hash
 * ("nonce:" word) falls in the other partition is skipped, the next attempt is taken. Words of
 * different k may coincide (chain_draw_entities keeps the words of one chain distinct).
 *
 * Plural (when a file gives none, and for nonce words): ...s, ...x, ...z, ...ch, ...sh -> +es;
 * consonant + y -> ies; otherwise +s (applied to the last word of a phrase). Article: "an" when
 * the singular starts with a vowel letter (a, e, i, o, u, either case), else "a" — a spelling
 * rule, so "an hour" and "a unicorn" come out as "a hour" and "an unicorn": lexicon authors
 * avoid such entries.
 */
#ifndef IMPRINT_LEXICON_H
#define IMPRINT_LEXICON_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "util.h"

#define LEX_TRAIN           0
#define LEX_HELDOUT         1
#define LEX_HELDOUT_PERCENT 20
#define LEX_ENTRY_MAX       64   /* bytes of a singular or plural, NUL included */
#define LEX_TYPE_MAX        32   /* bytes of a type name, NUL included */
#define NONCE_MAX           24   /* bytes of a nonce word or its plural, NUL included */
#define NONCE_PER_PART      4096 /* nonce words per partition */

/* Philox streams (curriculum/ owns RNG_STREAM_CURRICULUM .. +15; see curriculum.c). */
#define LEX_STREAM_NONCE (RNG_STREAM_CURRICULUM + 5)
#define LEX_STREAM_DRAW(part)                                                                      \
    (RNG_STREAM_CURRICULUM + 6 + (part)) /* + 6 training, + 7 held out                             \
                                          */

typedef struct LexEntry {
    const char *sg, *pl;
} LexEntry;

typedef struct Lexicon {
    const char *type;  /* as declared in the library ("animal"); "nonce" for the generator */
    const char *path;  /* the file, resolved against the library's directory; NULL: nonce */
    int line;          /* line of its declaration in the library file (0: implicit nonce) */
    int nonce;         /* 1: the built-in generator, no entries below */
    char sha256[65];   /* of the file's bytes ("" for nonce) */
    LexEntry *part[2]; /* entries of each partition (LEX_TRAIN, LEX_HELDOUT), in file order */
    int n[2];
    size_t max_bytes; /* longest singular or plural (nonce: NONCE_MAX - 1) */
} Lexicon;

struct LibArena;

/* Reads lx->path into lx (entries live in the arena). lx->type must be set. */
int lexicon_read(struct LibArena *a, Lexicon *lx, Err *e);

/* Entries of a partition: lx->n[part], or NONCE_PER_PART for nonce. */
int lex_size(const Lexicon *lx, int part);
/* Entry k (taken modulo the partition's size) of partition `part` (taken modulo 2). Nonce words
 * are written to buf (so *out is valid while buf is); `seed` only matters for nonce. An empty
 * partition gives an empty entry. */
void lex_entry(const Lexicon *lx, uint64_t seed, int part, uint32_t k, char buf[2][NONCE_MAX],
               LexEntry *out);

/* 1 if (type, singular) is held out. */
int lex_is_heldout(const char *type, const char *singular);
/* The English plural of s into out[0..cap) (truncated to fit). */
void lex_plural(const char *s, char *out, size_t cap);
/* "an" or "a" for s. */
const char *lex_article(const char *s);
/* Nonce word k of partition part under seed (the singular; NUL-terminated). */
void nonce_word(uint64_t seed, int part, uint32_t k, char out[NONCE_MAX]);

#endif
