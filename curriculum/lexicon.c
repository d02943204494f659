/*
 * lexicon.c — typed-slot lexicons (lexicon.h): reading and checking lexicon files, the held-out
 * partition, plurals and articles, the nonce generator, and the entity draws of a chain
 * (library.h, chain_draw_entities).
 */
#include "lexicon.h"
#include "library.h"
#include "library_internal.h"
#include "sha256.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- partition, plural, article ---------------------------------------------------------- */

static int heldout_of(const char *a, size_t na, const char *b, size_t nb) {
    char buf[LEX_TYPE_MAX + LEX_ENTRY_MAX + 2], hex[65];
    if (na + nb + 1 > sizeof buf) return 0; /* cannot happen for checked names */
    memcpy(buf, a, na);
    buf[na] = ':';
    memcpy(buf + na + 1, b, nb);
    sha256_hex(buf, na + nb + 1, hex);
    unsigned r = 0; /* the digest as a big-endian number, mod 100 */
    for (int i = 0; i < 64; i++) {
        char c = hex[i];
        unsigned d = c >= 'a' ? (unsigned)(c - 'a' + 10) : (unsigned)(c - '0');
        r = (r * 16 + d) % 100;
    }
    return r < LEX_HELDOUT_PERCENT;
}

int lex_is_heldout(const char *type, const char *singular) {
    return heldout_of(type, strlen(type), singular, strlen(singular));
}

static int is_vowel(char c) {
    return c && strchr("aeiouAEIOU", c) != NULL;
}

void lex_plural(const char *s, char *out, size_t cap) {
    size_t n = strlen(s);
    if (cap == 0) return;
    const char *end = "s";
    size_t keep = n;
    char last = n ? s[n - 1] : 0, prev = n > 1 ? s[n - 2] : 0;
    if (last == 's' || last == 'x' || last == 'z' || (last == 'h' && (prev == 'c' || prev == 's')))
        end = "es";
    else if (last == 'y' && n > 1 && !is_vowel(prev) && prev != ' ' && prev != '-') {
        keep = n - 1;
        end = "ies";
    }
    snprintf(out, cap, "%.*s%s", (int)keep, s, end);
}

const char *lex_article(const char *s) {
    return is_vowel(s[0]) ? "an" : "a";
}

/* ---- nonce ------------------------------------------------------------------------------- */

static const char ONSET[] = "bdfghjklmnprstvwz";
static const char VOWEL[] = "aeiou";
static const char CODA[] = "nmrlstkpgx";

/* One candidate word from 16 random bytes. */
static void nonce_candidate(const uint32_t w[4], char out[NONCE_MAX]) {
    const uint8_t *b = (const uint8_t *)w;
    int n_syl = (b[0] & 7) < 1 ? 1 : (b[0] & 7) < 5 ? 2 : 3, at = 1, len = 0; /* 1/8, 1/2, 3/8 */
    for (int s = 0; s < n_syl; s++) {
        out[len++] = ONSET[b[at++] % (sizeof ONSET - 1)];
        out[len++] = VOWEL[b[at++] % (sizeof VOWEL - 1)];
        uint8_t coda = b[at++];
        if (n_syl == 1 || coda < 77) out[len++] = CODA[(coda >> 1) % (sizeof CODA - 1)];
    }
    out[len] = '\0';
}

void nonce_word(uint64_t seed, int part, uint32_t k, char out[NONCE_MAX]) {
    part &= 1;
    for (uint64_t a = 0;; a++) { /* a word of the wrong partition is skipped: ~5 tries at most
                                    on average for the held-out part */
        uint32_t w[4];
        rng_words(seed, LEX_STREAM_NONCE, (uint32_t)part, ((uint64_t)k << 24) | (a & 0xffffff), w);
        nonce_candidate(w, out);
        if (heldout_of("nonce", 5, out, strlen(out)) == part || a == 0xffffff) return;
    }
}

int lex_size(const Lexicon *lx, int part) {
    return lx->nonce ? NONCE_PER_PART : lx->n[part & 1];
}

void lex_entry(const Lexicon *lx, uint64_t seed, int part, uint32_t k, char buf[2][NONCE_MAX],
               LexEntry *out) {
    part &= 1;
    int n = lex_size(lx, part);
    if (n <= 0) {
        *out = (LexEntry){"", ""};
        return;
    }
    k %= (uint32_t)n;
    if (!lx->nonce) {
        *out = lx->part[part][k];
        return;
    }
    nonce_word(seed, part, k, buf[0]);
    lex_plural(buf[0], buf[1], NONCE_MAX);
    *out = (LexEntry){buf[0], buf[1]};
}

/* ---- reading files ----------------------------------------------------------------------- */

/* Checks one side of an entry: 1 to 3 words of letters, single spaces, hyphens and apostrophes
 * inside words. Returns NULL or what is wrong. */
static const char *entry_problem(const char *s, size_t n) {
    if (n == 0) return "is empty";
    if (n + 3 > LEX_ENTRY_MAX) return "is too long (at most 60 bytes)";
    if (!utf8_valid(s, n)) return "is not valid UTF-8";
    int words = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
        if (letter) continue;
        if (c == ' ') {
            if (i == 0 || i + 1 == n || s[i + 1] == ' ') return "has a stray space";
            words++;
        } else if (c == '-' || c == '\'') {
            if (i == 0 || i + 1 == n || s[i + 1] == ' ' || s[i - 1] == ' ')
                return "has a hyphen or apostrophe outside a word";
        } else {
            return "has a character other than letters, spaces, hyphens and apostrophes";
        }
    }
    if (words > 3) return "has more than 3 words";
    return NULL;
}

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r')) (*n)--;
}

typedef struct Seen {
    uint64_t *hash;
    int *line;
    const char **sg;
    size_t cap;
} Seen;

/* The line where sg was seen first, or 0 after recording it. */
static int seen_add(Seen *t, const char *sg, int line) {
    uint64_t h = hash_fnv1a64(sg, strlen(sg), 0) | 1;
    for (size_t k = h & (t->cap - 1);; k = (k + 1) & (t->cap - 1)) {
        if (!t->hash[k]) {
            t->hash[k] = h;
            t->line[k] = line;
            t->sg[k] = sg;
            return 0;
        }
        if (t->hash[k] == h && strcmp(t->sg[k], sg) == 0) return t->line[k];
    }
}

int lexicon_read(struct LibArena *a, Lexicon *lx, Err *e) {
    size_t len = 0;
    char *text = file_read_all(lx->path, &len, e);
    if (!text) return -1;
    sha256_hex(text, len, lx->sha256);
    int rc = 0;
    if (strlen(text) != len) rc = err_set(e, "%s: contains a NUL byte; save it as text", lx->path);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    size_t cap = 16;
    while (cap < 2 * lines) cap *= 2;
    Seen seen = {xmalloc(sizeof(uint64_t) * cap, "lexicon"), xmalloc(sizeof(int) * cap, "lexicon"),
                 xmalloc(sizeof(char *) * cap, "lexicon"), cap};
    for (int p = 0; p < 2; p++) lx->part[p] = lib_arena_alloc(a, sizeof(LexEntry) * lines);
    const char *s = text;
    for (int line = 1; rc == 0 && s < text + len; line++) {
        const char *nl = memchr(s, '\n', (size_t)(text + len - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(text + len - s);
        const char *next = nl ? nl + 1 : text + len;
        trim(&s, &n);
        if (n == 0 || s[0] == '#') {
            s = next;
            continue;
        }
        const char *bar = memchr(s, '|', n), *ps = NULL;
        size_t ns = bar ? (size_t)(bar - s) : n, np = 0;
        if (bar) {
            ps = bar + 1;
            np = (size_t)(s + n - ps);
            trim(&ps, &np);
        }
        trim(&s, &ns);
        const char *bad = entry_problem(s, ns);
        const char *side = "entry";
        if (!bad && bar && memchr(ps, '|', np)) bad = "has more than one '|'";
        if (!bad && bar) {
            bad = entry_problem(ps, np);
            side = "plural of the entry";
        }
        if (bad) {
            rc = err_set(e,
                         "%s:%d: %s \"%.*s\" %s; write `singular` or `singular | plural`, 1 to 3 "
                         "words of letters, hyphens or apostrophes (docs/chains.md)",
                         lx->path, line, side, (int)(bar ? n : ns), s, bad);
            break;
        }
        LexEntry en;
        en.sg = lib_arena_strndup(a, s, ns);
        if (bar) {
            en.pl = lib_arena_strndup(a, ps, np);
        } else {
            char pl[LEX_ENTRY_MAX];
            lex_plural(en.sg, pl, sizeof pl);
            en.pl = lib_arena_strndup(a, pl, strlen(pl));
        }
        int first = seen_add(&seen, en.sg, line);
        if (first) {
            rc = err_set(e, "%s:%d: \"%s\" is already listed at line %d; remove one of them",
                         lx->path, line, en.sg, first);
            break;
        }
        int p = lex_is_heldout(lx->type, en.sg);
        lx->part[p][lx->n[p]++] = en;
        size_t b = strlen(en.sg) > strlen(en.pl) ? strlen(en.sg) : strlen(en.pl);
        if (b > lx->max_bytes) lx->max_bytes = b;
        s = next;
    }
    xfree(seen.hash);
    xfree(seen.line);
    xfree(seen.sg);
    free(text);
    return rc;
}

/* ---- entity draws of a chain ------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Does entry cand of lx clash with the entry of an earlier slot of the same type? */
static int clashes(const Chain *ch, const Lexicon *lx, int lex, const RenderSpec *s, int slot,
                   uint32_t cand) {
    char a[2][NONCE_MAX], b[2][NONCE_MAX];
    LexEntry ea, eb;
    for (int k = 0; k < slot; k++) {
        if (ch->slot_lex[k] != lex) continue;
        if (s->ent[k] == cand) return 1;
        if (!lx->nonce) continue;
        lex_entry(lx, s->ent_seed, s->ent_part, cand, a, &ea);
        lex_entry(lx, s->ent_seed, s->ent_part, s->ent[k], b, &eb);
        if (strcmp(ea.sg, eb.sg) == 0) return 1;
    }
    return 0;
}

void chain_draw_entities(const ChainLib *lib, int chain, uint64_t seed, int part, uint64_t draw,
                         RenderSpec *s) {
    const Chain *ch = &lib->chains[chain];
    if (ch->n_typed == 0) return;
    s->ent_part = part & 1;
    s->ent_seed = seed;
    const Lexicon *lexes = lib->files[ch->file].lex;
    uint32_t sub = (uint32_t)hash_fnv1a64(ch->id, strlen(ch->id), 0);
    uint64_t base = mix64(draw);
    uint32_t w[4];
    int used = 4, block = 0;
    for (int k = 0; k < ch->n_slots; k++) {
        int lex = ch->slot_lex[k];
        if (lex < 0) continue;
        const Lexicon *lx = &lexes[lex];
        uint32_t n = (uint32_t)lex_size(lx, part);
        if (n == 0) {
            s->ent[k] = 0;
            continue;
        }
        uint32_t cand = 0;
        int found = 0;
        for (int attempt = 0; attempt < 64 && !found; attempt++) {
            if (used == 4) {
                rng_words(seed, (uint32_t)LEX_STREAM_DRAW(part & 1), sub, base + (uint64_t)block++,
                          w);
                used = 0;
            }
            cand = w[used++] % n;
            found = !clashes(ch, lx, lex, s, k, cand);
        }
        /* a partition as small as the slots that need it: the next free entry, in order */
        for (uint32_t step = 0; !found && step < n; step++) {
            cand = (cand + 1) % n;
            found = !clashes(ch, lx, lex, s, k, cand);
        }
        s->ent[k] = cand;
    }
}
