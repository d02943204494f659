/*
 * tokenizer.c — byte-level BPE compatible with GPT-2 (see tokenizer.h for the rules): the
 * Tokenizer's vocab and merges, GPT-2's byte map, lookups, special tokens, decoding, and
 * tok_free. Encoding is in bpe_encode.c, the files in tokenizer_files.c, training in
 * bpe_train.c (tokenizer_internal.h lists them).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "utf8.h"

/* ---- GPT-2's byte map ----------------------------------------------------------------------- */

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

void gpt2_byte_order(int order[256]) {
    int k = 0;
    for (int b = 0; b < 256; b++)
        if (byte_printable(b)) order[k++] = b;
    for (int b = 0; b < 256; b++)
        if (!byte_printable(b)) order[k++] = b;
}

char *bytes_to_mapped(const char *bytes, size_t n, uint32_t *out_len) {
    char *s = xmalloc(2 * n + 1, "token string");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)utf8_encode((unsigned)tok_byte_to_unicode((unsigned char)bytes[i]), s + k);
    s[k] = '\0';
    *out_len = (uint32_t)k;
    return s;
}

const char *quote_for_message(char *dst, size_t cap, const char *s, size_t n) {
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

int mapped_to_bytes(const char *s, size_t n, char *out, size_t *out_len, unsigned *bad) {
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

/* ---- the tokenizer ------------------------------------------------------------------------ */

void vocab_append(Tokenizer *t, char *str, uint32_t str_len, char *bytes, uint32_t len,
                  int special) {
    if (t->n_tok == t->cap_tok) {
        t->cap_tok = t->cap_tok ? 2 * t->cap_tok : 512;
        t->tok = xrealloc(t->tok, (size_t)t->cap_tok * sizeof *t->tok, "the vocab");
    }
    Token *k = &t->tok[t->n_tok++];
    k->str = str;
    k->str_len = str_len;
    k->bytes = bytes;
    k->len = len;
    k->special = special;
}

void merges_append(Tokenizer *t, int32_t a, int32_t b, int32_t result, int line) {
    if (t->n_merge == t->cap_merge) {
        t->cap_merge = t->cap_merge ? 2 * t->cap_merge : 512;
        t->merge = xrealloc(t->merge, (size_t)t->cap_merge * sizeof *t->merge, "the merges");
    }
    t->merge[t->n_merge++] = (Merge){a, b, result, line};
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_tok; i++) {
        xfree(t->tok[i].str);
        xfree(t->tok[i].bytes);
    }
    free(t->tok);
    free(t->merge);
    pair_map_free(&t->rank);
    encoder_free(t);
    xfree(t);
}

Tokenizer *tok_new(Err *e) {
    Tokenizer *t = xmalloc(sizeof *t, "tokenizer");
    t->eot = t->sep = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    pair_map_init(&t->rank, 1024);
    if (encoder_init(t, e)) {
        tok_free(t);
        return NULL;
    }
    return t;
}

void rank_build(Tokenizer *t) {
    pair_map_free(&t->rank);
    pair_map_init(&t->rank, (size_t)t->n_merge);
    for (int i = 0; i < t->n_merge; i++) {
        int fresh;
        int32_t *v = pair_map_put(&t->rank, t->merge[i].a, t->merge[i].b, &fresh);
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

int special_form(const char *s, size_t n) {
    return n >= 5 && memcmp(s, "<|", 2) == 0 && memcmp(s + n - 2, "|>", 2) == 0;
}

void note_special(Tokenizer *t, int id) {
    const Token *k = &t->tok[id];
    if (k->len == strlen(TOK_EOT_STR) && memcmp(k->bytes, TOK_EOT_STR, k->len) == 0) t->eot = id;
    if (k->len == strlen(TOK_SEP_STR) && memcmp(k->bytes, TOK_SEP_STR, k->len) == 0) t->sep = id;
}

char *dup_bytes(const char *s, size_t n) {
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
                       quote_for_message(shown, sizeof shown, s, n));
    if (!utf8_valid(s, n))
        return err_set(e, "tok_add_special: \"%s\" is not valid UTF-8; use a UTF-8 name",
                       quote_for_message(shown, sizeof shown, s, n));
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
    vocab_append(t, dup_bytes(s, n), (uint32_t)n, dup_bytes(s, n), (uint32_t)n, 1);
    note_special(t, t->n_tok - 1);
    return t->n_tok - 1;
}

/* ---- decoding ----------------------------------------------------------------------------- */

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
