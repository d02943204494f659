/*
 * test_tokenizer.c — GPT-2's byte map, BPE semantics on hand-made vocabs (pre-token borders,
 * merge ranks, left-to-right merging), training determinism, save/load, round trips on the
 * sample file and on random valid and invalid UTF-8, special tokens, and a malformed file for
 * every check the loader makes. Parity with GPT-2 itself is tokenizer_parity.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include "tokenizer.h"
#include "testlib.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE "tests/data/tokenizer_sample.txt"

static char g_dir[64];

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint32_t rnd32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void write_file(const char *path, const char *data) {
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    fputs(data, fp);
    fclose(fp);
}

/* Appends the byte-mapped, JSON-escaped form of raw bytes s to dst. */
static void append_mapped(char *dst, size_t cap, const char *s, size_t n, int json) {
    size_t k = strlen(dst);
    for (size_t i = 0; i < n; i++) {
        int cp = tok_byte_to_unicode((unsigned char)s[i]);
        if (json && (cp == '"' || cp == '\\')) dst[k++] = '\\';
        if (cp < 0x80) {
            dst[k++] = (char)cp;
        } else {
            dst[k++] = (char)(0xC0 | (cp >> 6));
            dst[k++] = (char)(0x80 | (cp & 0x3F));
        }
        if (k + 8 >= cap) break;
    }
    dst[k] = '\0';
}

/* A vocab of the 256 bytes (ids = byte values), then the results of `merges` (raw bytes "a|b"),
 * then `specials`. Written to
 * g_dir/NAME.json and NAME.txt and loaded. */
static Tokenizer *make_tok(const char *name, const char *const *merges, int n_merges,
                           const char *const *specials, int n_specials, Err *e) {
    static char vj[1 << 16], mt[1 << 14];
    strcpy(vj, "{");
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        strcat(vj, b ? ", \"" : "\"");
        append_mapped(vj, sizeof vj, &c, 1, 1);
        snprintf(vj + strlen(vj), sizeof vj - strlen(vj), "\": %d", b);
    }
    strcpy(mt, "#version: 0.2\n");
    int id = 256;
    for (int m = 0; m < n_merges; m++) {
        const char *sp = strchr(merges[m], '|');
        char whole[256];
        snprintf(whole, sizeof whole, "%.*s%s", (int)(sp - merges[m]), merges[m], sp + 1);
        append_mapped(mt, sizeof mt, merges[m], (size_t)(sp - merges[m]), 0);
        strcat(mt, " ");
        append_mapped(mt, sizeof mt, sp + 1, strlen(sp + 1), 0);
        strcat(mt, "\n");
        /* skip results already listed (a merge may re-form a token) */
        int dup = 0;
        for (int p = 0; p < m; p++) {
            const char *sq = strchr(merges[p], '|');
            char w2[256];
            snprintf(w2, sizeof w2, "%.*s%s", (int)(sq - merges[p]), merges[p], sq + 1);
            dup |= strcmp(w2, whole) == 0;
        }
        if (dup) continue;
        strcat(vj, ", \"");
        append_mapped(vj, sizeof vj, whole, strlen(whole), 1);
        snprintf(vj + strlen(vj), sizeof vj - strlen(vj), "\": %d", id++);
    }
    for (int s = 0; s < n_specials; s++)
        snprintf(vj + strlen(vj), sizeof vj - strlen(vj), ", \"%s\": %d", specials[s], id++);
    strcat(vj, "}");
    char pv[128], pm[128], fn[64];
    snprintf(fn, sizeof fn, "%s.json", name);
    tmp_path(pv, sizeof pv, fn);
    snprintf(fn, sizeof fn, "%s.txt", name);
    tmp_path(pm, sizeof pm, fn);
    write_file(pv, vj);
    write_file(pm, mt);
    Tokenizer *t = NULL;
    if (tok_load(&t, pv, pm, e)) return NULL;
    return t;
}

/* Encodes s and compares with the tokens listed in `want` (raw bytes separated by '|'). */
static void expect_tokens(const Tokenizer *t, const char *s, const char *want, int line) {
    Err e = {{0}};
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(tok_encode(t, s, strlen(s), &ids, &n, &e) == 0, "line %d: encode: %s", line, e.msg);
    char got[512] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *b = tok_token_bytes(t, ids[i], &len);
        if (i) strcat(got, "|");
        strncat(got, b, len);
    }
    CHECK(strcmp(got, want) == 0, "line %d: encode(\"%s\") = \"%s\", want \"%s\"", line, s, got,
          want);
    free(ids);
}

/* decode(encode(s)) == s; returns 1 if it held. */
static int round_trip(const Tokenizer *t, const char *s, size_t n) {
    Err e = {{0}};
    int32_t *ids = NULL;
    size_t nid = 0, len = 0;
    char *out = NULL;
    int ok = tok_encode(t, s, n, &ids, &nid, &e) == 0 &&
             tok_decode(t, ids, nid, &out, &len, &e) == 0 && len == n && memcmp(out, s, n) == 0;
    free(ids);
    free(out);
    return ok;
}

static int files_equal(const char *a, const char *b) {
    Err e = {{0}};
    size_t na, nb;
    char *pa = file_read_all(a, &na, &e), *pb = file_read_all(b, &nb, &e);
    int eq = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return eq;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_byte_map(void) {
    int seen[324] = {0}, distinct = 1, round = 1, printable_same = 1;
    for (int b = 0; b < 256; b++) {
        int cp = tok_byte_to_unicode(b);
        if (cp < 0 || cp >= 324 || seen[cp]++) distinct = 0;
        if (tok_unicode_to_byte(cp) != b) round = 0;
        if (b >= '!' && b <= '~' && cp != b) printable_same = 0;
    }
    CHECK(distinct, "byte map: 256 distinct code points below U+0144");
    CHECK(round, "byte map: unicode_to_byte inverts byte_to_unicode");
    CHECK(printable_same, "byte map: '!'..'~' map to themselves");
    CHECK(tok_byte_to_unicode(' ') == 0x120, "space is U+0120 (Ġ)");
    CHECK(tok_byte_to_unicode('\n') == 0x10A, "newline is U+010A (Ċ)");
    CHECK(tok_byte_to_unicode(0) == 0x100, "byte 0 is U+0100");
    CHECK(tok_byte_to_unicode(0x7F) == 0x121, "DEL is U+0121");
    CHECK(tok_byte_to_unicode(0xAD) == 0x143, "soft hyphen is U+0143");
    CHECK(tok_byte_to_unicode(0xE9) == 0xE9, "é stays");
    int bad = 0;
    for (int cp = 0; cp < 0x200; cp++)
        if (tok_unicode_to_byte(cp) >= 0 && tok_byte_to_unicode(tok_unicode_to_byte(cp)) != cp)
            bad++;
    CHECK(bad == 0, "unicode_to_byte only accepts the 256 mapped code points");
    CHECK(tok_unicode_to_byte(' ') == -1 && tok_unicode_to_byte(0x144) == -1 &&
              tok_byte_to_unicode(256) == -1,
          "out-of-map values give -1");
}

static void test_bpe_semantics(void) {
    Err e = {{0}};
    /* pre-token borders: merges across GPT-2's split points never apply */
    static const char *const m1[] = {"a| ", "n|'", "'|t", " |b", " |c", " | "};
    Tokenizer *t = make_tok("sem1", m1, 6, NULL, 0, &e);
    CHECK(t != NULL, "sem1 loads: %s", e.msg);
    if (t) {
        expect_tokens(t, "a b", "a| b", __LINE__);        /* "a" | " b" */
        expect_tokens(t, "don't", "d|o|n|'t", __LINE__);  /* "don" | "'t" */
        expect_tokens(t, "a  b", "a| | b", __LINE__);     /* "a" | " " | " b" */
        expect_tokens(t, "a   c", "a|  | c", __LINE__);   /* "  " then " c" */
        expect_tokens(t, "x   ", "x|  | ", __LINE__);     /* the trailing run is one pre-token */
        expect_tokens(t, "DON'T", "D|O|N|'|T", __LINE__); /* contractions are case-sensitive */
        expect_tokens(t, "a 12", "a| |1|2", __LINE__);    /* " 12" is one pre-token */
        CHECK(tok_eot(t) == -1 && tok_sep(t) == -1, "no special tokens in sem1");
        tok_free(t);
    }
    /* ranks: the lowest-ranked pair merges first; all its occurrences left to right */
    static const char *const m2[] = {"b|c", "a|b", "a|bc", "a|a", "aa|a", "x|y", "y|z", "xy|z"};
    t = make_tok("sem2", m2, 8, NULL, 0, &e);
    CHECK(t != NULL, "sem2 loads: %s", e.msg);
    if (t) {
        expect_tokens(t, "abc", "abc", __LINE__);      /* (b c) first, then (a bc) */
        expect_tokens(t, "abd", "ab|d", __LINE__);     /* (a b) */
        expect_tokens(t, "aaa", "aaa", __LINE__);      /* (a a) left to right -> aa a -> aaa */
        expect_tokens(t, "aaaa", "aa|aa", __LINE__);   /* aa aa: no merge (aa aa) */
        expect_tokens(t, "aaaaa", "aa|aaa", __LINE__); /* aa aa a -> aa aaa */
        expect_tokens(t, "xyz", "xyz", __LINE__);      /* (x y) then (xy z), (y z) never seen */
        expect_tokens(t, "yz", "yz", __LINE__);
        tok_free(t);
    }
    /* a merge list that forms one token two ways loads and encodes fine */
    static const char *const m3[] = {"a|b", "b|c", "ab|c", "a|bc"};
    t = make_tok("sem3", m3, 4, NULL, 0, &e);
    CHECK(t != NULL, "sem3 (a result formed twice) loads: %s", e.msg);
    if (t) {
        expect_tokens(t, "abc", "abc", __LINE__);
        CHECK(tok_vocab_size(t) == 259 && tok_num_merges(t) == 4, "sem3: 259 tokens, 4 merges");
        tok_free(t);
    }
}

static void test_specials(const Tokenizer *trained) {
    Err e = {{0}};
    int V = tok_vocab_size(trained);
    CHECK(V == 300, "trained vocab has 300 tokens (got %d)", V);
    CHECK(tok_eot(trained) == V - 2, "trained <|endoftext|> is id V-2 (got %d)", tok_eot(trained));
    CHECK(tok_sep(trained) == V - 1, "trained <|sep|> is id V-1 (got %d)", tok_sep(trained));
    CHECK(tok_special_id(trained, "<|endoftext|>") == V - 2, "special lookup by name");
    CHECK(tok_special_id(trained, "<|nope|>") == -1, "unknown special gives -1");
    CHECK(tok_special_id(trained, "a") == -1, "ordinary token is not special");

    const char *txt = "one<|endoftext|>two<|sep|><|sep|>three<|endoftext";
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(tok_encode(trained, txt, strlen(txt), &ids, &n, &e) == 0, "encode: %s", e.msg);
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= ids[i] >= V - 2;
    CHECK(!found, "tok_encode treats special-token strings as plain text");
    CHECK(round_trip(trained, txt, strlen(txt)), "plain-text specials round trip");
    free(ids);
    CHECK(tok_encode_special(trained, txt, strlen(txt), &ids, &n, &e) == 0, "encode_special: %s",
          e.msg);
    int n_eot = 0, n_sep = 0, adjacent = 0;
    for (size_t i = 0; i < n; i++) {
        n_eot += ids[i] == V - 2;
        n_sep += ids[i] == V - 1;
        if (i && ids[i] == V - 1 && ids[i - 1] == V - 1) adjacent = 1;
    }
    CHECK(n_eot == 1 && n_sep == 2 && adjacent, "tok_encode_special: 1 eot and 2 adjacent seps");
    char *out = NULL;
    size_t len = 0;
    CHECK(tok_decode(trained, ids, n, &out, &len, &e) == 0 && len == strlen(txt) &&
              memcmp(out, txt, len) == 0,
          "specials decode to their text");
    free(out);
    free(ids);

    /* GPT-2 style: <|endoftext|> in the file; <|sep|> added on top */
    static const char *const m[] = {"h|e", "l|l", "he|ll", "hell|o"};
    static const char *const sp[] = {"<|endoftext|>"};
    Tokenizer *t = make_tok("gpt2like", m, 4, sp, 1, &e);
    CHECK(t != NULL, "gpt2like loads: %s", e.msg);
    if (!t) return;
    CHECK(tok_eot(t) == 260 && tok_sep(t) == -1, "file's <|endoftext|> found, no <|sep|>");
    CHECK(tok_add_special(t, "<|sep|>", &e) == 261 && tok_sep(t) == 261, "<|sep|> added as 261");
    CHECK(tok_add_special(t, "<|sep|>", &e) == 261, "adding it again returns the same id");
    CHECK(tok_add_special(t, "sep", &e) == -1, "a name not written <|...|> is refused");
    CHECK_CONTAINS(e.msg, "<|name|>");
    CHECK(tok_add_special(t, "hello", &e) == -1, "an ordinary token is refused");
    expect_tokens(t, "hello", "hello", __LINE__);
    char dir[128];
    tmp_path(dir, sizeof dir, "gpt2like_saved");
    CHECK(tok_save_dir(t, dir, &e) == 0, "save: %s", e.msg);
    Tokenizer *u = NULL;
    CHECK(tok_load_dir(&u, dir, &e) == 0, "reload: %s", e.msg);
    if (u) {
        CHECK(tok_vocab_size(u) == 262 && tok_eot(u) == 260 && tok_sep(u) == 261,
              "specials survive save/load");
        tok_free(u);
    }
    int32_t bad[2] = {5, 262};
    CHECK(tok_decode(t, bad, 2, &out, &len, &e) == -1, "decode rejects an id past the vocab");
    CHECK_CONTAINS(e.msg, "position 1");
    tok_free(t);
}

static void random_utf8(char *buf, size_t *len, int max_cps) {
    size_t k = 0;
    int n = (int)(rnd32() % (uint32_t)(max_cps + 1));
    static const char ascii[] = "aeiou tnsrlAZ'\n\t  .,!?0123456789sdmtlrev'";
    for (int i = 0; i < n; i++) {
        uint32_t r = rnd32() % 100, cp;
        if (r < 45)
            cp = (unsigned char)ascii[rnd32() % (sizeof ascii - 1)];
        else if (r < 55)
            cp = rnd32() % 0x80;
        else if (r < 70)
            cp = 0x80 + rnd32() % (0x800 - 0x80);
        else if (r < 90) {
            do cp = 0x800 + rnd32() % (0x10000 - 0x800);
            while (cp >= 0xD800 && cp < 0xE000);
        } else
            cp = 0x10000 + rnd32() % (0x110000 - 0x10000);
        if (cp < 0x80)
            buf[k++] = (char)cp;
        else if (cp < 0x800) {
            buf[k++] = (char)(0xC0 | (cp >> 6));
            buf[k++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            buf[k++] = (char)(0xE0 | (cp >> 12));
            buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[k++] = (char)(0x80 | (cp & 0x3F));
        } else {
            buf[k++] = (char)(0xF0 | (cp >> 18));
            buf[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    *len = k;
}

static void test_round_trips(const Tokenizer *t, const char *sample, size_t n_sample) {
    CHECK(round_trip(t, sample, n_sample), "sample file round trips");
    CHECK(round_trip(t, "", 0), "empty text round trips");
    char buf[1024];
    int ok = 0;
    for (int i = 0; i < 2000; i++) {
        size_t len;
        random_utf8(buf, &len, 80);
        ok += round_trip(t, buf, len);
    }
    CHECK(ok == 2000, "2000 random UTF-8 strings round trip (%d did)", ok);
    ok = 0;
    for (int i = 0; i < 1000; i++) {
        size_t len = rnd32() % 200;
        for (size_t k = 0; k < len; k++) {
            static const char some[] = "ab '\n\xc3\xa9\xe2\x82";
            uint32_t r = rnd32() % 10;
            if (r < 3)
                buf[k] = (char)(0x80 + rnd32() % 0x80); /* stray continuation/lead */
            else if (r < 6)
                buf[k] = (char)(rnd32() % 256);
            else
                buf[k] = some[rnd32() % (sizeof some - 1)];
        }
        ok += round_trip(t, buf, len);
    }
    CHECK(ok == 1000, "1000 random byte strings (mostly invalid UTF-8) round trip (%d did)", ok);
    /* the classic ill-formed sequences */
    static const char *const bad[] = {"\xc0\xaf",        "\xed\xa0\x80x",  "\xf4\x90\x80\x80",
                                      "\xe2\x82",        "ok \xff\xfe ok", "\xf0\x9f\x99",
                                      " \x80 \x80\x80  "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(round_trip(t, bad[i], strlen(bad[i])), "ill-formed case %zu round trips", i);
    /* NUL bytes are ordinary bytes */
    CHECK(round_trip(t, "a\0b\0\0 c", 7), "NUL bytes round trip");
}

static void test_training(const char *sample, size_t n) {
    Err e = {{0}};
    Tokenizer *a = NULL, *b = NULL, *big = NULL;
    CHECK(tok_train(&a, sample, n, 300, &e) == 0, "train 300: %s", e.msg);
    CHECK(tok_train(&b, sample, n, 300, &e) == 0, "train 300 again: %s", e.msg);
    CHECK(tok_train(&big, sample, n, 400, &e) == 0, "train 400: %s", e.msg);
    if (!a || !b || !big) return;
    char da[128], db[128], dbig[128], dre[128], f1[160], f2[160];
    tmp_path(da, sizeof da, "train_a");
    tmp_path(db, sizeof db, "train_b");
    tmp_path(dbig, sizeof dbig, "train_big");
    tmp_path(dre, sizeof dre, "train_resaved");
    CHECK(tok_save_dir(a, da, &e) == 0, "save a: %s", e.msg);
    CHECK(tok_save_dir(b, db, &e) == 0, "save b: %s", e.msg);
    CHECK(tok_save_dir(big, dbig, &e) == 0, "save big: %s", e.msg);
    snprintf(f1, sizeof f1, "%s/vocab.json", da);
    snprintf(f2, sizeof f2, "%s/vocab.json", db);
    CHECK(files_equal(f1, f2), "training twice gives identical vocab.json");
    snprintf(f1, sizeof f1, "%s/merges.txt", da);
    snprintf(f2, sizeof f2, "%s/merges.txt", db);
    CHECK(files_equal(f1, f2), "training twice gives identical merges.txt");
    {
        size_t n1, n2;
        snprintf(f2, sizeof f2, "%s/merges.txt", dbig);
        char *p1 = file_read_all(f1, &n1, &e), *p2 = file_read_all(f2, &n2, &e);
        CHECK(p1 && p2 && n1 < n2 && memcmp(p1, p2, n1) == 0,
              "the 300-token merges are a prefix of the 400-token merges");
        CHECK(p1 && strncmp(p1, "#version: 0.2\n", 14) == 0, "merges.txt starts with the header");
        free(p1);
        free(p2);
    }
    CHECK(tok_num_merges(a) == 300 - 258, "300 tokens = 256 bytes + 42 merges + 2 specials");
    /* ids 0..255 are the bytes in GPT-2's order */
    size_t len;
    const char *s0 = tok_token_bytes(a, 0, &len);
    CHECK(s0 && len == 1 && s0[0] == '!', "id 0 is '!'");
    s0 = tok_token_bytes(a, 188, &len);
    CHECK(s0 && len == 1 && s0[0] == 0, "id 188 is byte 0");
    s0 = tok_token_bytes(a, 220, &len);
    CHECK(s0 && len == 1 && s0[0] == ' ', "id 220 is the space, as in GPT-2");
    s0 = tok_token_bytes(a, 255, &len);
    CHECK(s0 && len == 1 && (unsigned char)s0[0] == 0xAD, "id 255 is byte 0xAD");
    CHECK(tok_token_bytes(a, 300, &len) == NULL && tok_token_bytes(a, -1, &len) == NULL,
          "token_bytes out of range is NULL");
    {
        /* the first merge is the most frequent pair of the sample */
        const char *m = tok_token_bytes(a, 256, &len);
        CHECK(m && len == 2, "id 256 is a two-byte merge");
    }

    /* save -> load -> same encodings, and saving again gives the same bytes */
    Tokenizer *re = NULL;
    CHECK(tok_load_dir(&re, da, &e) == 0, "load trained: %s", e.msg);
    if (re) {
        int32_t *i1 = NULL, *i2 = NULL;
        size_t n1 = 0, n2 = 0;
        tok_encode(a, sample, n, &i1, &n1, &e);
        tok_encode(re, sample, n, &i2, &n2, &e);
        CHECK(n1 == n2 && n1 > 0 && memcmp(i1, i2, n1 * sizeof *i1) == 0,
              "trained and reloaded tokenizers encode the sample alike");
        CHECK(n1 < n, "the trained vocab compresses (%zu tokens for %zu bytes)", n1, n);
        free(i1);
        free(i2);
        CHECK(tok_vocab_size(re) == 300 && tok_eot(re) == 298 && tok_sep(re) == 299,
              "reloaded: 300 tokens, specials at 298 and 299");
        CHECK(tok_save_dir(re, dre, &e) == 0, "save reloaded: %s", e.msg);
        snprintf(f1, sizeof f1, "%s/vocab.json", da);
        snprintf(f2, sizeof f2, "%s/vocab.json", dre);
        CHECK(files_equal(f1, f2), "load + save reproduces vocab.json");
        snprintf(f1, sizeof f1, "%s/merges.txt", da);
        snprintf(f2, sizeof f2, "%s/merges.txt", dre);
        CHECK(files_equal(f1, f2), "load + save reproduces merges.txt");
        test_round_trips(re, sample, n);
        tok_free(re);
    }
    test_specials(a);

    /* a corpus that runs out of pairs stops early; specials still come last */
    Tokenizer *tiny = NULL;
    CHECK(tok_train(&tiny, "ab ab ab", 8, 1000, &e) == 0, "train tiny: %s", e.msg);
    if (tiny) {
        CHECK(tok_vocab_size(tiny) == 256 + 2 + 2, "tiny corpus: 2 merges (ab, Ġab): got %d",
              tok_vocab_size(tiny));
        CHECK(tok_eot(tiny) == tok_vocab_size(tiny) - 2, "tiny: eot is V-2");
        expect_tokens(tiny, "ab ab", "ab| ab", __LINE__);
        tok_free(tiny);
    }
    /* the most frequent pair wins; ties go to the smallest (left bytes, right bytes) */
    CHECK(tok_train(&tiny, "ab ab cd", 8, 259, &e) == 0, "train: %s", e.msg);
    if (tiny) {
        const char *m = tok_token_bytes(tiny, 256, &len);
        CHECK(m && len == 2 && memcmp(m, "ab", 2) == 0, "most frequent pair (a, b) merges first");
        tok_free(tiny);
    }
    CHECK(tok_train(&tiny, "xy ab", 5, 261, &e) == 0, "train: %s", e.msg);
    if (tiny) {
        static const char *const want[3] = {" a", " ab", "xy"};
        for (int i = 0; i < 3; i++) {
            const char *m = tok_token_bytes(tiny, 256 + i, &len);
            CHECK(m && len == strlen(want[i]) && memcmp(m, want[i], len) == 0,
                  "tie-break: merge %d is \"%s\"", i, want[i]);
        }
        tok_free(tiny);
    }
    CHECK(tok_train(&tiny, "x", 1, 257, &e) == -1, "vocab_size 257 is refused");
    CHECK_CONTAINS(e.msg, "vocab_size 257");
    tok_free(a);
    tok_free(b);
    tok_free(big);
}

/* ---- malformed files ---------------------------------------------------------------------- */

/* Writes g_dir/bad_vocab.json and bad_merges.txt. The base vocab: 256 bytes (ids = byte values,
 * byte b on line b + 1) + "he" (256, line 257), "hel" (257, line 258), then `vocab_tail` inside
 * the object, unless `vocab_whole` replaces it all; the base merges are "h e" and "he l". */
static void write_case(const char *vocab_whole, const char *vocab_tail, const char *merges,
                       char *pv, char *pm, size_t cap) {
    static char vj[1 << 16];
    tmp_path(pv, cap, "bad_vocab.json");
    tmp_path(pm, cap, "bad_merges.txt");
    if (vocab_whole) {
        write_file(pv, vocab_whole);
    } else {
        strcpy(vj, "{");
        for (int b = 0; b < 256; b++) {
            char c = (char)b;
            strcat(vj, b ? ",\n\"" : "\"");
            append_mapped(vj, sizeof vj, &c, 1, 1);
            snprintf(vj + strlen(vj), sizeof vj - strlen(vj), "\": %d", b);
        }
        strcat(vj, ",\n\"he\": 256,\n\"hel\": 257");
        strcat(vj, vocab_tail ? vocab_tail : "");
        strcat(vj, "\n}\n");
        write_file(pv, vj);
    }
    write_file(pm, merges ? merges : "#version: 0.2\nh e\nhe l\n");
}

/* Expects loading the case to fail with a message containing want1 (and want2). */
static void bad_case(const char *vocab_whole, const char *vocab_tail, const char *merges,
                     const char *want1, const char *want2, int line) {
    char pv[128], pm[128];
    write_case(vocab_whole, vocab_tail, merges, pv, pm, sizeof pv);
    Err e = {{0}};
    Tokenizer *t = (Tokenizer *)1;
    int rc = tok_load(&t, pv, pm, &e);
    CHECK(rc == -1 && t == NULL, "line %d: malformed files are refused", line);
    if (rc == 0) tok_free(t);
    CHECK(strstr(e.msg, want1) != NULL, "line %d: \"%s\" should contain \"%s\"", line, e.msg,
          want1);
    if (want2)
        CHECK(strstr(e.msg, want2) != NULL, "line %d: \"%s\" should contain \"%s\"", line, e.msg,
              want2);
}

static void test_malformed(void) {
    /* sanity: the base case loads */
    {
        char pv[128], pm[128];
        write_case(NULL, NULL, NULL, pv, pm, sizeof pv);
        Err e = {{0}};
        Tokenizer *t = NULL;
        CHECK(tok_load(&t, pv, pm, &e) == 0 && tok_vocab_size(t) == 258,
              "the base case of the malformed tests loads: %s", e.msg);
        tok_free(t);
    }
    /* vocab.json: syntax (line and byte offset) */
    bad_case("", NULL, NULL, "bad_vocab.json:1: byte 0:", "expected '{'", __LINE__);
    bad_case("[1, 2]", NULL, NULL, "bad_vocab.json:1: byte 0:", "expected '{'", __LINE__);
    bad_case("{\"a\": 1", NULL, NULL, "bad_vocab.json:1: byte 7:", "not valid JSON", __LINE__);
    bad_case("{\n\n  \"a\" 1}", NULL, NULL, "bad_vocab.json:3: byte 9:", "not valid JSON",
             __LINE__);
    bad_case("{\"a\": 0} x", NULL, NULL, "bad_vocab.json:1:", "unexpected data after", __LINE__);
    bad_case("{\"a\": 0, }", NULL, NULL, "bad_vocab.json:1:", "not valid JSON", __LINE__);
    bad_case("{\"a\\q\": 0}", NULL, NULL, "bad_vocab.json:1:", "invalid escape", __LINE__);
    bad_case("{\"a\\u12\": 0}", NULL, NULL, "bad_vocab.json:1:", "invalid escape", __LINE__);
    bad_case("{\"a\\ud800\": 0}", NULL, NULL, "bad_vocab.json:1:", "invalid escape", __LINE__);
    bad_case("{\"a\tb\": 0}", NULL, NULL, "bad_vocab.json:1:", "raw control character", __LINE__);
    bad_case("{\"a\xff\": 0}", NULL, NULL, "bad_vocab.json:1:", "invalid UTF-8", __LINE__);
    bad_case("{\"abc", NULL, NULL, "bad_vocab.json:1:", "not valid JSON", __LINE__);
    bad_case("{}", NULL, NULL, "bad_vocab.json:1:", "empty", __LINE__);
    /* what cJSON lets through: \u0000 (it would cut the token), control bytes between tokens */
    bad_case("{\"a\\u0000b\": 0}", NULL, NULL, "bad_vocab.json:1: byte 3:", "cannot contain NUL",
             __LINE__);
    bad_case("{\x01\"a\": 0}", NULL, NULL, "bad_vocab.json:1: byte 1:", "control character 0x01",
             __LINE__);
    bad_case("{\"a\": 0,\n\"b\": 1} x", NULL, NULL,
             "bad_vocab.json:2: byte 17:", "unexpected data after", __LINE__);
    /* vocab.json: content (the token is named) */
    bad_case(NULL, ",\n\"x1\": \"258\"", NULL, "bad_vocab.json:259:", "\"x1\": id must be",
             __LINE__);
    bad_case(NULL, ",\n\"x1\": -3", NULL, "bad_vocab.json:259:", "negative id", __LINE__);
    bad_case(NULL, ",\n\"x1\": 258.5", NULL, "bad_vocab.json:259:", "non-negative integer",
             __LINE__);
    bad_case(NULL, ",\n\"x1\": 2e2", NULL, "bad_vocab.json:259:", "non-negative integer", __LINE__);
    bad_case(NULL, ",\n\"x1\": 99999999999", NULL, "bad_vocab.json:259:", "too large", __LINE__);
    bad_case(NULL, ",\n\"x1\": 300", NULL,
             "bad_vocab.json:259:", "token \"x1\" has id 300 but the vocab has 259 tokens",
             __LINE__);
    bad_case(NULL, ",\n\"x1\": 257", NULL,
             "bad_vocab.json:259:", "has id 257, already used by token \"hel\"", __LINE__);
    bad_case(NULL, ",\n\"he\": 258", NULL,
             "bad_vocab.json:259:", "duplicate token \"he\" (first at byte", __LINE__);
    bad_case(NULL, ",\n\"a b\": 258", NULL, "bad_vocab.json:259:",
             "contains U+0020, which is not in GPT-2's byte-to-unicode alphabet", __LINE__);
    bad_case(NULL, ",\n\"\": 258", NULL, "bad_vocab.json:259:", "empty token", __LINE__);
    bad_case("{\"a\": 0, \"b\": 1}", NULL, NULL, "bad_vocab.json: no token for byte 0x00",
             "all 256", __LINE__);
    /* merges.txt (line numbers count the header) */
    bad_case(NULL, NULL, "#version: 0.2\nh e\nhe l x\n",
             "bad_merges.txt:3:", "expected two symbols separated by one space", __LINE__);
    bad_case(NULL, NULL, "#version: 0.2\nh  e\n",
             "bad_merges.txt:2:", "expected two symbols separated by one space", __LINE__);
    bad_case(NULL, NULL, "#version: 0.2\nhe\n", "bad_merges.txt:2:", "expected two symbols",
             __LINE__);
    bad_case(NULL, NULL, "#version: 0.2\nh e\n\nhe l\n", "bad_merges.txt:3:", "empty line",
             __LINE__);
    bad_case(NULL, NULL, "#version: 0.2\nh e\nhe zz\n",
             "bad_merges.txt:3:", "unknown symbol \"zz\"", __LINE__);
    bad_case(NULL, NULL, "#version: 0.2\nhe l\nh e\n",
             "bad_merges.txt:2:", "symbol \"he\" cannot be formed", __LINE__);
    bad_case(NULL, NULL, "#version: 0.2\nh e\nhe l\nh e\n",
             "bad_merges.txt:4:", "duplicate merge \"h e\" (first on line 2)", __LINE__);
    bad_case(NULL, NULL, "#version: 0.2\nh e\nhe l\nhel o\n",
             "bad_merges.txt:4:", "merge result \"helo\" is not in vocab.json", __LINE__);
    bad_case(NULL, NULL, "h e\nhe l\nx y\n", "bad_merges.txt:3:", "merge result \"xy\"",
             __LINE__); /* no header: line 1 is a merge */
    /* a token outside the alphabet that is not a special token */
    bad_case(NULL, ",\n\"<|x y|>\": 258,\n\"x y\": 259", NULL, "bad_vocab.json:260:", "U+0020",
             __LINE__);
    /* missing files */
    {
        Err e = {{0}};
        Tokenizer *t = NULL;
        char pv[128];
        tmp_path(pv, sizeof pv, "nope/vocab.json");
        CHECK(tok_load(&t, pv, pv, &e) == -1 && t == NULL, "a missing vocab.json is refused");
        CHECK_CONTAINS(e.msg, "nope/vocab.json");
        CHECK_CONTAINS(e.msg, "cannot open");
        tmp_path(pv, sizeof pv, "nope");
        CHECK(tok_load_dir(&t, pv, &e) == -1, "a missing directory is refused");
        CHECK_CONTAINS(e.msg, "nope: no such directory"); /* the directory, not vocab.json */
    }
    /* a special token <|...|> outside the alphabet loads (it is literal text) */
    {
        char pv[128], pm[128];
        write_case(NULL, ",\n\"<|my token|>\": 258", NULL, pv, pm, sizeof pv);
        Err e = {{0}};
        Tokenizer *t = NULL;
        CHECK(tok_load(&t, pv, pm, &e) == 0, "a special with a space loads: %s", e.msg);
        if (t) {
            CHECK(tok_special_id(t, "<|my token|>") == 258, "it is special token 258");
            const char *txt = "x<|my token|>y";
            int32_t *ids;
            size_t n;
            tok_encode_special(t, txt, strlen(txt), &ids, &n, &e);
            CHECK(n == 3 && ids[1] == 258, "encode_special finds it");
            free(ids);
            tok_free(t);
        }
    }
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/test_tokenizer_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    Err e = {{0}};
    size_t n = 0;
    char *sample = file_read_all(SAMPLE, &n, &e);
    CHECK(sample != NULL, "read the sample (run from the repo root): %s", e.msg);

    test_byte_map();
    test_bpe_semantics();
    if (sample) test_training(sample, n);
    test_malformed();
    free(sample);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_dir);
    return tl_finish("test_tokenizer");
}
