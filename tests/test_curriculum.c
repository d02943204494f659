/*
 * test_curriculum.c — chain libraries, operators, volatility and the schedule:
 *   - SHA-256 known answers and the library hash;
 *   - validation errors carry file:line and say what is wrong;
 *   - rendering: canonical text, {X^} (also Cyrillic), answer offset, byte roles, operators;
 *   - volatility on hand-made token sequences;
 *   - operators are deterministic, noise never touches the answer or connectives, the entity
 *     operator never uses the last tuple;
 *   - pools hold only in-band variants of training chains; held-out chains, entities and
 *     variants never reach a training pool;
 *   - rows are pure functions of (stage, step, i): any order and any rank slicing agree;
 *   - bridges move from the previous band to the next one; replay and order controls;
 *   - loss masks and anchor weights on a hand-checked row;
 *   - the real libraries (curriculum/chains/en.cfg, ru.cfg), when present: load and pool stats.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curriculum.h"
#include "library.h"
#include "sha256.h"
#include "testlib.h"
#include "chaintest.h"
#include "variants.h"

#define MINI    "tests/data/chains/mini.cfg"
#define MINI_RU "tests/data/chains/mini_ru.cfg"

/* ---- helpers -------------------------------------------------------------------------------- */

static char tmpdir[64];

static int load_one(const char *path, ChainLib **lib, Err *e) {
    const char *paths[] = {path};
    return chainlib_load(lib, paths, 1, e);
}

/* ---- SHA-256 and the library hash ----------------------------------------------------------- */

static void test_sha256(void) {
    char hex[65];
    sha256_hex("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
          "sha256(\"\") = %s", hex);
    sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "sha256(abc) = %s", hex);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(m, strlen(m), hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
          "sha256(448-bit message) = %s", hex);
    char *big = malloc(1000000);
    memset(big, 'a', 1000000);
    sha256_hex(big, 1000000, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "sha256(a x 1e6) = %s", hex);
    free(big);

    ChainLib *lib;
    Err e;
    const char *paths[] = {MINI, MINI_RU};
    CHECK(chainlib_load(&lib, paths, 2, &e) == 0, "load mini + mini_ru: %s", e.msg);
    if (!lib) return;
    CHECK(lib->n_files == 2 && lib->n_chains == 12, "2 files, 12 chains (got %d)", lib->n_chains);
    CHECK(chainlib_forms_covered(lib, 0) == 10, "mini covers all 10 forms");
    CHECK(chainlib_forms_covered(lib, 1) == 2, "mini_ru covers 2 forms");
    CHECK(chainlib_forms_covered(lib, -1) == 10, "together 10 forms");
    char want[65], digests[129];
    for (int f = 0; f < 2; f++) {
        size_t len;
        char *bytes = file_read_all(paths[f], &len, &e);
        sha256_hex(bytes, len, want);
        CHECK(strcmp(lib->files[f].sha256, want) == 0, "file %d hash is sha256 of its bytes", f);
        memcpy(digests + 64 * f, want, 64);
        free(bytes);
    }
    sha256_hex(digests, 128, want);
    CHECK(strcmp(chainlib_hash(lib), want) == 0, "library hash = sha256 of the hex digests");
    CHECK(strlen(chainlib_hash(lib)) == 64, "hash is 64 hex characters");
    CHECK(chainlib_find(lib, "ru-tr-vyshe") == 11 && chainlib_find(lib, "nope") == -1,
          "find by id");
    chainlib_free(lib);
}

/* ---- validation errors ---------------------------------------------------------------------- */

/* A valid library; each bad case changes one thing. Line numbers are in the comments. */
static const char *GOOD =
    "library = { name = \"t\"; lang = \"en\"; version = 1; };\n"                          /* 1 */
    "connectives = { if = [\"If\"]; then = [\"then\"]; therefore = [\"Therefore\"]; };\n" /* 2 */
    "chains = (\n"                                                                        /* 3 */
    "{ id = \"c1\"; form = \"modus-ponens\";\n"                                           /* 4 */
    "  fillers = ( { P = \"a\"; Q = \"b\"; }, { P = \"c\"; Q = \"d\"; },\n"               /* 5 */
    "              { P = \"e\"; Q = \"f\"; }, { P = \"g\"; Q = \"h\"; } );\n"             /* 6 */
    "  steps = ( { role = \"premise\"; text = \"{if} {P}, {then} {Q}.\"; },\n"            /* 7 */
    "            { role = \"premise\"; text = \"{P^}.\"; },\n"                            /* 8 */
    "            { role = \"conclusion\"; text = \"{therefore},| {Q}.\"; } );\n"          /* 9 */
    "}\n"                                                                                 /* 10 */
    ");\n";                                                                               /* 11 */

/* Writes GOOD with `from` replaced by `to`, loads it, checks the error has "bad.cfg:<line>:" and
 * every needle. */
static void expect_error(const char *what, const char *from, const char *to, int line,
                         const char *needle1, const char *needle2) {
    char path[128], where[160];
    snprintf(path, sizeof path, "%s/bad.cfg", tmpdir);
    char *text = replace(GOOD, from, to);
    write_file(path, text);
    free(text);
    ChainLib *lib = NULL;
    Err e = {{0}};
    int rc = load_one(path, &lib, &e);
    CHECK(rc != 0 && lib == NULL, "%s: load should fail", what);
    snprintf(where, sizeof where, "%s:%d: ", path, line);
    CHECK(strstr(e.msg, where) != NULL, "%s: message \"%s\" should start with \"%s\"", what, e.msg,
          where);
    if (needle1)
        CHECK(strstr(e.msg, needle1) != NULL, "%s: \"%s\" lacks \"%s\"", what, e.msg, needle1);
    if (needle2)
        CHECK(strstr(e.msg, needle2) != NULL, "%s: \"%s\" lacks \"%s\"", what, e.msg, needle2);
    chainlib_free(lib);
}

static void test_validation(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/good.cfg", tmpdir);
    write_file(path, GOOD);
    ChainLib *lib = NULL;
    Err e;
    CHECK(load_one(path, &lib, &e) == 0, "the good library loads: %s", e.msg);
    CHECK(lib && chainlib_forms_covered(lib, -1) == 1, "one form covered (not a load error)");
    chainlib_free(lib);

    expect_error("unknown key", "form = \"modus-ponens\";", "form = \"modus-ponens\"; colour = 1;",
                 4, "unknown key \"colour\"", "allowed");
    expect_error("unknown top-level key", "chains = (", "chainz = (", 3, "unknown key \"chainz\"",
                 "did you mean \"chains\"");
    expect_error("missing key", "form = \"modus-ponens\";", "", 4, "has no \"form\"", "add form");
    expect_error("unknown form", "modus-ponens", "modus-ponenz", 4, "unknown form \"modus-ponenz\"",
                 "did you mean \"modus-ponens\"");
    expect_error("unbound slot", "{ P = \"c\"; Q = \"d\"; }", "{ P = \"c\"; }", 5, "filler tuple 2",
                 "does not bind slot Q");
    expect_error("extra slot", "{ P = \"e\"; Q = \"f\"; }", "{ P = \"e\"; Q = \"f\"; R = \"x\"; }",
                 6, "filler tuple 3", "binds slot R");
    expect_error("too few tuples", ", { P = \"g\"; Q = \"h\"; }", "", 5, "3 filler tuples",
                 "at least 4");
    expect_error("two bars", "{therefore},| {Q}.", "{therefore},| {Q}|.", 9, "exactly one '|'",
                 "found 2");
    expect_error("no bar", "{therefore},| {Q}.", "{therefore}, {Q}.", 9, "exactly one '|'",
                 "found 0");
    expect_error("bar outside the conclusion", "{P^}.", "{P^}|.", 8, "contains '|'", NULL);
    expect_error("conclusion not last", "role = \"premise\"; text = \"{P^}.\"",
                 "role = \"conclusion\"; text = \"{P^}|.\"", 8, "not the last step", NULL);
    expect_error("last step not a conclusion", "role = \"conclusion\"", "role = \"premise\"", 9,
                 "the conclusion must be the last step", NULL);
    expect_error("unknown connective", "{if} {P}", "{iff} {P}", 7, "unknown connective {iff}",
                 "did you mean {if}");
    expect_error("no final punctuation", "text = \"{P^}.\"", "text = \"{P^}\"", 8,
                 "does not end with", NULL);
    expect_error("swap on one step", "text = \"{P^}.\"", "text = \"{P^}.\"; swap = 2", 8,
                 "only step with swap = 2", NULL);
    expect_error("swap zero", "text = \"{P^}.\"", "text = \"{P^}.\"; swap = 0", 8,
                 "must be an integer >= 1", NULL);
    expect_error("swap on the conclusion", "text = \"{therefore},| {Q}.\"",
                 "text = \"{therefore},| {Q}.\"; swap = 1", 9, "never moves", NULL);
    expect_error("unknown role", "role = \"premise\"; text = \"{P^}.\"",
                 "role = \"premiss\"; text = \"{P^}.\"", 8, "unknown step role \"premiss\"", NULL);
    expect_error("bad id", "id = \"c1\"", "id = \"C_1\"", 4, "chain id \"C_1\" is not valid", NULL);
    expect_error("syntax", "version = 1;", "version = ;", 1, "fix the syntax", NULL);
    expect_error("foil prompt differs", "{therefore},| {Q}.\"; } );",
                 "{therefore},| {Q}.\"; } );\n  foils = [ \"{therefore} so,| no.\" ];", 10,
                 "must start like the conclusion", NULL);

    /* duplicate id, inside one file and across two */
    snprintf(path, sizeof path, "%s/dup.cfg", tmpdir);
    char *chain = malloc(strlen(GOOD));
    const char *start = strstr(GOOD, "{ id"), *end = strstr(GOOD, "}\n);");
    size_t n = (size_t)(end - start) + 2;
    memcpy(chain, start, n);
    chain[n] = '\0';
    char *twice = replace(GOOD, "}\n);\n", "},\n");
    size_t tl = strlen(twice);
    twice = realloc(twice, tl + n + 8);
    memcpy(twice + tl, chain, n);
    memcpy(twice + tl + n, ");\n", 4);
    write_file(path, twice);
    free(twice);
    free(chain);
    CHECK(load_one(path, &lib, &e) != 0, "duplicate id in one file fails");
    CHECK_CONTAINS(e.msg, "dup.cfg:11: chain id \"c1\" is already used at ");
    CHECK_CONTAINS(e.msg, "dup.cfg:4; ids must be unique");
    char good[128];
    snprintf(good, sizeof good, "%s/good.cfg", tmpdir);
    const char *both[] = {good, good};
    CHECK(chainlib_load(&lib, both, 2, &e) != 0, "the same library twice fails");
    char want[512];
    snprintf(want, sizeof want, "%s:4: chain id \"c1\" is already used at %s:4", good, good);
    CHECK_CONTAINS(e.msg, want);
    CHECK(load_one("/nonexistent/x.cfg", &lib, &e) != 0, "missing file fails");
    CHECK_CONTAINS(e.msg, "/nonexistent/x.cfg: cannot open");
}

/* ---- rendering ------------------------------------------------------------------------------ */

static ChainLib *load_mini(void) {
    ChainLib *lib = NULL;
    Err e;
    const char *paths[] = {MINI, MINI_RU};
    if (chainlib_load(&lib, paths, 2, &e) != 0) fprintf(stderr, "load: %s\n", e.msg);
    return lib;
}

/* Bytes of r with role `role`, concatenated. */
static void bytes_with_role(const Rendered *r, int role, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < r->len && n + 1 < cap; i++)
        if (r->roles[i] == role) out[n++] = r->text[i];
    out[n] = '\0';
}

static void test_render(ChainLib *lib) {
    Rendered r = {0};
    Err e;
    int mp = chainlib_find(lib, "mp-rain");
    const char *canon =
        "If it rains, then the street gets wet. It rains. Therefore, the street gets wet.";
    CHECK(chain_render_canonical(lib, mp, &r, &e) == 0, "render: %s", e.msg);
    CHECK(strcmp(r.text, canon) == 0, "canonical text: \"%s\"", r.text);
    CHECK(r.len == strlen(canon), "length");
    size_t answer = strlen("If it rains, then the street gets wet. It rains. Therefore,");
    CHECK(r.answer_start == answer, "answer starts at %zu (got %zu)", answer, r.answer_start);
    CHECK(strcmp(r.text + r.answer_start, " the street gets wet.") == 0, "answer text");
    char buf[512];
    bytes_with_role(&r, BYTE_CONNECTIVE, buf, sizeof buf);
    CHECK(strcmp(buf, "IfthenTherefore") == 0, "connective bytes: \"%s\"", buf);
    bytes_with_role(&r, BYTE_PROMPT, buf, sizeof buf);
    CHECK(strcmp(buf, " ,") == 0, "conclusion prompt bytes: \"%s\"", buf);
    bytes_with_role(&r, BYTE_ANSWER, buf, sizeof buf);
    CHECK(strcmp(buf, " the street gets wet.") == 0, "answer bytes: \"%s\"", buf);
    CHECK(r.roles[2] == BYTE_STEP && r.roles[3] == BYTE_STEP, "premise text is step text");

    /* {X^}: capitalised slots, also Cyrillic (и -> И, ё -> Ё) */
    RenderSpec s;
    render_spec_canonical(&s);
    s.tuple = 2;
    chain_render(lib, chainlib_find(lib, "syl-mortal"), &s, &r, &e);
    CHECK(strcmp(r.text, "All birds are feathered. The robin is one of the birds. Therefore, the "
                         "robin is feathered.") == 0,
          "syllogism tuple 2: \"%s\"", r.text);
    int ru = chainlib_find(lib, "ru-mp-dozhd");
    chain_render_canonical(lib, ru, &r, &e);
    CHECK(strcmp(r.text, "Если идёт дождь, то улица мокрая. Идёт дождь. Следовательно, улица "
                         "мокрая.") == 0,
          "Cyrillic capital: \"%s\"", r.text);
    s.tuple = 4;
    chain_render(lib, ru, &s, &r, &e);
    CHECK(strstr(r.text, " Ёж выходит из норы.") != NULL, "ё -> Ё: \"%s\"", r.text);

    /* connective choices */
    render_spec_canonical(&s);
    s.conn[0] = 1;
    s.conn[2] = 3;
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strcmp(r.text, "Suppose it rains, then the street gets wet. It rains. Thus, the street "
                         "gets wet.") == 0,
          "connective paraphrases: \"%s\"", r.text);
    s.conn[1] = 1 + 3; /* taken modulo the 3 forms: "it follows that" */
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strstr(r.text, ", it follows that the street") != NULL, "choice modulo forms: \"%s\"",
          r.text);
    bytes_with_role(&r, BYTE_CONNECTIVE, buf, sizeof buf);
    CHECK(strcmp(buf, "Supposeit follows thatThus") == 0, "paraphrases are connectives: \"%s\"",
          buf);

    /* foils: same prompt, other answer */
    Rendered f = {0};
    render_spec_canonical(&s);
    s.foil = 0;
    chain_render(lib, mp, &s, &f, &e);
    chain_render_canonical(lib, mp, &r, &e);
    CHECK(f.answer_start == r.answer_start && memcmp(f.text, r.text, r.answer_start) == 0,
          "foil keeps the prompt");
    CHECK(strcmp(f.text + f.answer_start, " it is not true that the street gets wet.") == 0,
          "foil answer: \"%s\"", f.text + f.answer_start);
    s.foil = 1;
    CHECK(chain_render(lib, mp, &s, &f, &e) != 0, "foil out of range fails");
    CHECK_CONTAINS(e.msg, "foil 1 out of range");
    rendered_free(&f);

    /* insertions: sites are the start of step 1 ({if}), after if, after then, the start of step 2
     * ({P^}), the start of the conclusion ({therefore}), after therefore */
    CHECK(chain_insert_sites(lib, mp) == 6, "mp-rain has 6 insertion sites (got %d)",
          chain_insert_sites(lib, mp));
    render_spec_canonical(&s);
    s.n_ins = 4;
    s.ins[0] = (InsertEdit){0, 0};
    s.ins[1] = (InsertEdit){2, 2};
    s.ins[2] = (InsertEdit){3, 1};
    s.ins[3] = (InsertEdit){5 + 6, 3}; /* site modulo 6 */
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strcmp(r.text, "In fact, if it rains, then of course the street gets wet. As it "
                         "happens, it rains. Therefore clearly, the street gets wet.") == 0,
          "insertions: \"%s\"", r.text);
    CHECK(strcmp(r.text + r.answer_start, " the street gets wet.") == 0,
          "insertions keep the answer");
    bytes_with_role(&r, BYTE_CONNECTIVE, buf, sizeof buf);
    CHECK(strcmp(buf, "ifthenTherefore") == 0, "lower-cased connective is still one: \"%s\"", buf);

    s.ins[0] = (InsertEdit){0, 1}; /* Cyrillic: "на самом деле" opens the sentence */
    s.n_ins = 1;
    chain_render(lib, ru, &s, &r, &e);
    CHECK(strncmp(r.text, "На самом деле, если идёт дождь, то",
                  strlen("На самом деле, если идёт дождь, то")) == 0,
          "Cyrillic insertion: \"%s\"", r.text);

    /* synonyms: whole words outside connectives and the answer; case kept */
    render_spec_canonical(&s);
    s.n_syn = 1;
    s.syn[0] = (SynonymEdit){0, 0};
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strcmp(r.text, "If it rains, then the street gets damp. It rains. Therefore, the street "
                         "gets wet.") == 0,
          "synonym: \"%s\"", r.text);
    s.syn[0] = (SynonymEdit){1, 0}; /* the only other "wet" is in the answer: wraps to the first */
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strstr(r.text, "gets damp. It") && strstr(r.text, "Therefore, the street gets wet."),
          "synonym never in the answer: \"%s\"", r.text);
    int cee = chainlib_find(lib, "cee-grass");
    render_spec_canonical(&s);
    s.n_syn = 1;
    s.syn[0] = (SynonymEdit){0, 0};
    chain_render(lib, cee, &s, &r, &e);
    CHECK(strncmp(r.text, "Normally, the grass grows", 25) == 0, "capitalised synonym: \"%s\"",
          r.text);

    /* noise: words of >= 3 letters in non-conclusion steps */
    render_spec_canonical(&s);
    s.n_noise = 1;
    s.noise[0] = (NoiseEdit){0, 0, NOISE_DROP};
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strncmp(r.text, "If it ains, then", 16) == 0, "drop: \"%s\"", r.text);
    s.noise[0] = (NoiseEdit){1, 2, NOISE_DOUBLE}; /* "the" -> "thee" */
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strncmp(r.text, "If it rains, then thee street", 29) == 0, "double: \"%s\"", r.text);
    s.noise[0] = (NoiseEdit){5, 1, NOISE_SWAP}; /* word 5 = step 2's "rains" -> "rians" */
    chain_render(lib, mp, &s, &r, &e);
    CHECK(strstr(r.text, "wet. It rians. Therefore") != NULL, "swap: \"%s\"", r.text);
    s.noise[0] = (NoiseEdit){0, 0, NOISE_SWAP};
    chain_render(lib, ru, &s, &r, &e);
    CHECK(strncmp(r.text, "Если диёт дождь", strlen("Если диёт дождь")) == 0,
          "swap of UTF-8 characters: \"%s\"", r.text);

    /* reorder */
    int syl = chainlib_find(lib, "syl-mortal");
    render_spec_canonical(&s);
    s.has_order = 1;
    s.order[0] = 1;
    s.order[1] = 0;
    s.order[2] = 2;
    chain_render(lib, syl, &s, &r, &e);
    CHECK(strcmp(r.text, "Socrates is one of the men. All men are mortal. Therefore, Socrates is "
                         "mortal.") == 0,
          "reorder: \"%s\"", r.text);
    s.order[1] = 2;
    s.order[2] = 0;
    CHECK(chain_render(lib, syl, &s, &r, &e) != 0, "moving the conclusion fails");
    CHECK_CONTAINS(e.msg, "must stay last");
    rendered_free(&r);
}

/* ---- volatility ----------------------------------------------------------------------------- */

static void test_volatility(void) {
    const int32_t a[] = {1, 2, 3, 4}, sub[] = {1, 9, 3, 4}, other[] = {5, 6, 7, 8};
    const int32_t ins[] = {1, 2, 7, 3, 4}, ins2[] = {0, 1, 2, 3, 4, 5};
    CHECK_CLOSE(token_volatility(a, 4, a, 4), 0.0, 0, 0, "identical");
    CHECK_CLOSE(token_volatility(a, 4, sub, 4), 0.25, 0, 1e-12, "one substitution in 4");
    CHECK_CLOSE(token_volatility(a, 4, other, 4), 1.0, 0, 1e-12, "completely different");
    CHECK_CLOSE(token_volatility(a, 4, ins, 5), 0.2, 0, 1e-12, "one insertion: 1/5");
    CHECK_CLOSE(token_volatility(ins, 5, a, 4), 0.2, 0, 1e-12, "one deletion: 1/5");
    CHECK_CLOSE(token_volatility(a, 4, ins2, 6), 2.0 / 6, 0, 1e-12, "two insertions: 2/6");
    CHECK_CLOSE(token_volatility(a, 4, a + 2, 2), 0.5, 0, 1e-12, "prefix dropped: 2/4");
    CHECK_CLOSE(token_volatility(a, 0, a, 0), 0.0, 0, 0, "both empty");
    CHECK_CLOSE(token_volatility(a, 0, a, 3), 1.0, 0, 0, "one empty");
    CHECK(levenshtein(a, 4, other, 4, sizeof(int32_t)) == 4, "distance 4");

    /* through the word tokenizer */
    WordTok *wt = calloc(1, sizeof *wt);
    Err e;
    int32_t *x, *y;
    int nx, ny;
    const char *s1 = "the cat sat on the mat.", *s2 = "the dog sat on the mat.";
    tokenize_alloc(word_tokenize, wt, s1, strlen(s1), &x, &nx, &e);
    tokenize_alloc(word_tokenize, wt, s2, strlen(s2), &y, &ny, &e);
    CHECK(nx == 7 && ny == 7, "7 word tokens (got %d)", nx);
    CHECK_CLOSE(token_volatility(x, nx, y, ny), 1.0 / 7, 0, 1e-12, "one word of 7");
    xfree(x);
    xfree(y);
    wordtok_free(wt);
}

/* ---- operators ------------------------------------------------------------------------------ */

static void test_operators(ChainLib *lib) {
    Rendered a = {0}, b = {0}, canon = {0};
    Err e;
    int mp = chainlib_find(lib, "mp-rain");
    RenderSpec s1, s2;
    variant_spec(lib, mp, 7, VARIANT_PURPOSE_TRAIN, 3, 6, &s1);
    variant_spec(lib, mp, 7, VARIANT_PURPOSE_TRAIN, 3, 6, &s2);
    CHECK(memcmp(&s1, &s2, sizeof s1) == 0, "same (seed, chain, variant): same spec");
    chain_render(lib, mp, &s1, &a, &e);
    chain_render(lib, mp, &s2, &b, &e);
    CHECK(strcmp(a.text, b.text) == 0, "same (seed, chain, variant): same text");
    int distinct = 0;
    char seen[20][512];
    for (int v = 0; v < 20; v++) {
        variant_spec(lib, mp, 7, VARIANT_PURPOSE_TRAIN, (uint64_t)v, 6, &s1);
        chain_render(lib, mp, &s1, &a, &e);
        int dup = 0;
        for (int k = 0; k < distinct; k++) dup |= strcmp(seen[k], a.text) == 0;
        if (!dup) snprintf(seen[distinct++], sizeof seen[0], "%s", a.text);
    }
    CHECK(distinct >= 12, "20 variant indices give >= 12 distinct texts (got %d)", distinct);
    variant_spec(lib, mp, 7, VARIANT_PURPOSE_HELDOUT, 3, 6, &s2);
    variant_spec(lib, mp, 7, VARIANT_PURPOSE_TRAIN, 3, 6, &s1);
    CHECK(memcmp(&s1, &s2, sizeof s1) != 0, "purposes draw differently");
    variant_spec(lib, mp, 8, VARIANT_PURPOSE_TRAIN, 3, 6, &s2);
    CHECK(memcmp(&s1, &s2, sizeof s1) != 0, "seeds draw differently");

    int ok_answer = 1, ok_prompt = 1, ok_conn = 1, ok_tuple = 1, changed = 0, n_checked = 0;
    int tuple_seen[8] = {0};
    for (int ch = 0; ch < lib->n_chains; ch++) {
        const Chain *c = &lib->chains[ch];
        chain_render_canonical(lib, ch, &canon, &e);
        char cp[512], cc[512], vp[512], vc[512];
        bytes_with_role(&canon, BYTE_PROMPT, cp, sizeof cp);
        bytes_with_role(&canon, BYTE_CONNECTIVE, cc, sizeof cc);
        for (int v = 0; v < 60; v++) {
            const VariantOp noise[5] = {OP_NOISE, OP_NOISE, OP_NOISE, OP_NOISE, OP_NOISE};
            variant_spec_ops(lib, ch, 11, VARIANT_PURPOSE_TRAIN, (uint64_t)v, noise, 5, &s1);
            chain_render(lib, ch, &s1, &a, &e);
            bytes_with_role(&a, BYTE_PROMPT, vp, sizeof vp);
            bytes_with_role(&a, BYTE_CONNECTIVE, vc, sizeof vc);
            ok_answer &= strcmp(a.text + a.answer_start, canon.text + canon.answer_start) == 0;
            ok_prompt &= strcmp(vp, cp) == 0;
            ok_conn &= strcmp(vc, cc) == 0;
            changed += strcmp(a.text, canon.text) != 0;
            n_checked++;

            const VariantOp ent[1] = {OP_ENTITY};
            variant_spec_ops(lib, ch, 11, VARIANT_PURPOSE_TRAIN, (uint64_t)v, ent, 1, &s1);
            ok_tuple &= s1.tuple >= 1 && s1.tuple < c->n_tuples - 1;
            if (ch == mp) tuple_seen[s1.tuple]++;
            variant_spec(lib, ch, 11, VARIANT_PURPOSE_HELDOUT, (uint64_t)v, 24, &s1);
            ok_tuple &= s1.tuple < c->n_tuples - 1;
        }
    }
    CHECK(ok_answer, "noise never touches the answer");
    CHECK(ok_prompt, "noise never touches the conclusion's prompt part");
    CHECK(ok_conn, "noise never touches a connective");
    CHECK(changed > n_checked * 9 / 10, "noise changes the text (%d of %d)", changed, n_checked);
    CHECK(ok_tuple, "the entity operator never uses tuple 0 again or the last tuple");
    CHECK(tuple_seen[1] > 10 && tuple_seen[2] > 10 && tuple_seen[3] > 10 && tuple_seen[4] == 0,
          "entity swaps cover training tuples 1..3 of mp-rain (%d %d %d), never 4", tuple_seen[1],
          tuple_seen[2], tuple_seen[3]);

    /* reorder permutes only within swap groups; the conclusion stays */
    int cee = chainlib_find(lib, "cee-grass");
    const VariantOp re[1] = {OP_REORDER};
    variant_spec_ops(lib, cee, 1, VARIANT_PURPOSE_TRAIN, 0, re, 1, &s1);
    CHECK(s1.has_order && s1.order[0] == 0 && s1.order[1] == 2 && s1.order[2] == 1 &&
              s1.order[3] == 3,
          "cee-grass reorder swaps steps 2 and 3");
    CHECK(!variant_op_available(lib, mp, OP_REORDER), "mp-rain has no swap group");
    CHECK(variant_op_available(lib, mp, OP_INSERT) && variant_op_available(lib, mp, OP_CONNECTIVE),
          "mp-rain can take insertions and paraphrases");
    rendered_free(&a);
    rendered_free(&b);
    rendered_free(&canon);
}

static void test_band_search(ChainLib *lib) {
    WordTok *wt = calloc(1, sizeof *wt);
    Err e;
    Variant v[10];
    int n;
    int mp = chainlib_find(lib, "mp-rain");
    BandQuery q = {0, 0, 5, 3, VARIANT_PURPOSE_TRAIN, 0, NULL, NULL};
    CHECK(variants_for_band(lib, mp, &q, word_tokenize, wt, v, &n, &e) == 0, "band [0,0]");
    CHECK(n == 1 && v[0].volatility == 0, "band [0, 0] holds only the canonical text (%d)", n);
    CHECK(n == 1 && strcmp(v[0].r.text, "If it rains, then the street gets wet. It rains. "
                                        "Therefore, the street gets wet.") == 0,
          "it is the canonical text");
    variants_free(v, n);
    for (int ch = 0; ch < lib->n_chains; ch++) {
        q = (BandQuery){0.1, 0.3, 8, 3, VARIANT_PURPOSE_TRAIN, 0, NULL, NULL};
        CHECK(variants_for_band(lib, ch, &q, word_tokenize, wt, v, &n, &e) == 0, "search");
        CHECK(n >= 4 && n <= 8, "chain %s: %d variants in [0.1, 0.3]", lib->chains[ch].id, n);
        int ok = 1, distinct = 1;
        Rendered canon = {0};
        int32_t *ct;
        int nct;
        chain_render_canonical(lib, ch, &canon, &e);
        tokenize_alloc(word_tokenize, wt, canon.text, canon.len, &ct, &nct, &e);
        for (int i = 0; i < n; i++) {
            double vol = token_volatility(v[i].tokens, v[i].n_tokens, ct, nct);
            ok &= vol >= 0.1 && vol <= 0.3 && vol == v[i].volatility;
            for (int j = 0; j < i; j++) distinct &= strcmp(v[i].r.text, v[j].r.text) != 0;
        }
        CHECK(ok, "chain %s: measured volatility is in the band", lib->chains[ch].id);
        CHECK(distinct, "chain %s: texts are distinct", lib->chains[ch].id);
        xfree(ct);
        rendered_free(&canon);
        variants_free(v, n);
    }
    wordtok_free(wt);
}

/* ---- the curriculum ------------------------------------------------------------------------- */

/* Is `needle` in any training pool text? */
static int in_pools(const Curriculum *c, const char *needle, int exact) {
    for (int p = 0; p < curriculum_n_pools(c); p++) {
        PoolStats st;
        curriculum_pool_stats(c, p, &st);
        for (int i = 0; i < st.n_items; i++) {
            PoolItemView v;
            curriculum_pool_item(c, p, i, &v);
            if (exact ? strcmp(v.text, needle) == 0 : strstr(v.text, needle) != NULL) return 1;
        }
    }
    return 0;
}

/* Whether a held-out value is distinctive: not inside any training-tuple value, template text
 * or word the operators may add. */
static int distinctive(const ChainLib *lib, const char *value) {
    if (strlen(value) < 5) return 0;
    for (int ch = 0; ch < lib->n_chains; ch++) {
        const Chain *c = &lib->chains[ch];
        for (int t = 0; t < c->n_tuples - 1; t++)
            for (int k = 0; k < c->n_slots; k++)
                if (strstr(c->values[t * c->n_slots + k], value)) return 0;
        for (int k = 0; k < c->n_steps; k++)
            if (strstr(c->steps[k].t.src, value)) return 0;
    }
    return 1;
}

static void test_splits(const Curriculum *c, const ChainLib *lib, WordTok *wt) {
    int n_train = curriculum_n_train_chains(c), n_out = curriculum_n_heldout_chains(c);
    CHECK(n_out == 2 && n_train == 10, "12 chains: 2 held out (ceil 10%%), 10 trained");
    int counted = 0;
    for (int ch = 0; ch < lib->n_chains; ch++) counted += curriculum_chain_heldout(c, ch);
    CHECK(counted == 2, "two chains flagged held out");

    /* pools: training chains only, in-band volatility, measured again here */
    int ok_chain = 1, ok_band = 1, ok_measured = 1, ok_roles = 1;
    Err e;
    for (int p = 0; p < curriculum_n_pools(c); p++) {
        PoolStats st;
        curriculum_pool_stats(c, p, &st);
        CHECK(st.n_items > 0 && st.n_chains_full + st.n_chains_short + st.n_chains_empty == 10,
              "pool %d: %d items over 10 chains", p, st.n_items);
        CHECK(st.vol_min >= st.band_lo && st.vol_max <= st.band_hi && st.vol_mean >= st.vol_min &&
                  st.vol_mean <= st.vol_max,
              "pool %d stats inside [%g, %g]: %g %g %g", p, st.band_lo, st.band_hi, st.vol_min,
              st.vol_mean, st.vol_max);
        for (int i = 0; i < st.n_items; i++) {
            PoolItemView v;
            curriculum_pool_item(c, p, i, &v);
            ok_chain &= !curriculum_chain_heldout(c, v.chain);
            ok_band &= v.volatility >= st.band_lo && v.volatility <= st.band_hi;
            Rendered canon = {0};
            int32_t *ct;
            int nct;
            chain_render_canonical(lib, v.chain, &canon, &e);
            tokenize_alloc(word_tokenize, wt, canon.text, canon.len, &ct, &nct, &e);
            ok_measured &= token_volatility(v.tokens, v.n_tokens, ct, nct) == v.volatility;
            int has_answer = 0;
            for (int k = 0; k < v.n_tokens; k++) has_answer |= v.roles[k] == BYTE_ANSWER;
            ok_roles &= has_answer && v.roles[v.n_tokens - 1] == BYTE_ANSWER;
            xfree(ct);
            rendered_free(&canon);
        }
    }
    CHECK(ok_chain, "held-out chains are in no training pool");
    CHECK(ok_band, "every pool item's volatility lies in its stage band");
    CHECK(ok_measured, "stored volatility equals the measured one");
    CHECK(ok_roles, "every pool item ends in answer tokens");

    /* held-out chains by text, held-out entities by value */
    int ok_text = 1, n_values = 0, ok_values = 1;
    Rendered r = {0};
    for (int ch = 0; ch < lib->n_chains; ch++) {
        const Chain *cc = &lib->chains[ch];
        if (curriculum_chain_heldout(c, ch)) {
            chain_render_canonical(lib, ch, &r, &e);
            ok_text &= !in_pools(c, r.text, 1);
            for (int k = 0; k < cc->n_slots; k++)
                if (distinctive(lib, cc->values[k])) ok_text &= !in_pools(c, cc->values[k], 0);
        }
        for (int k = 0; k < cc->n_slots; k++) {
            const char *v = cc->values[(cc->n_tuples - 1) * cc->n_slots + k];
            if (!distinctive(lib, v)) continue;
            n_values++;
            ok_values &= !in_pools(c, v, 0);
        }
    }
    rendered_free(&r);
    CHECK(ok_text, "held-out chains' texts and values are in no pool");
    CHECK(n_values >= 20, "%d distinctive held-out values checked", n_values);
    CHECK(ok_values, "last-tuple values never appear in training pool texts");

    /* eval sets */
    int n;
    const EvalItem *it = curriculum_eval(c, EVAL_TRAIN, &n);
    CHECK(n == 10, "train eval: one canonical item per trained chain (%d)", n);
    char buf[2048], ans[1024];
    int ok_decode = 1, ok_foils = 1;
    for (int s = 0; s < EVAL_COUNT; s++) {
        it = curriculum_eval(c, (EvalSplit)s, &n);
        for (int i = 0; i < n; i++) {
            ok_decode &= it[i].prompt[0] == WORD_EOT;
            word_decode(wt, it[i].prompt + 1, it[i].n_prompt - 1, buf, sizeof buf);
            word_decode(wt, it[i].answer, it[i].n_answer, ans, sizeof ans);
            ok_decode &= strlen(buf) == it[i].answer_start &&
                         strncmp(buf, it[i].text, it[i].answer_start) == 0 &&
                         strcmp(ans, it[i].text + it[i].answer_start) == 0;
            ok_foils &= it[i].n_foils == lib->chains[it[i].chain].n_foils;
            for (int k = 0; k < it[i].n_foils; k++) {
                word_decode(wt, it[i].foils[k], it[i].n_foil[k], buf, sizeof buf);
                ok_foils &= strcmp(buf, ans) != 0 && it[i].n_foil[k] > 0;
            }
        }
    }
    CHECK(ok_decode, "eval prompts start with EOT and decode to prompt / answer");
    CHECK(ok_foils, "eval items carry every foil, each different from the answer");
    it = curriculum_eval(c, EVAL_HELDOUT_ENTITIES, &n);
    int ok_ent = n == 10;
    for (int i = 0; i < n; i++)
        ok_ent &= it[i].tuple == lib->chains[it[i].chain].n_tuples - 1 &&
                  !curriculum_chain_heldout(c, it[i].chain);
    CHECK(ok_ent, "held-out entities: the last tuple of each trained chain (%d)", n);
    it = curriculum_eval(c, EVAL_HELDOUT_CHAINS, &n);
    int ok_hc = n == 10; /* two chains x five tuples */
    for (int i = 0; i < n; i++) ok_hc &= curriculum_chain_heldout(c, it[i].chain);
    CHECK(ok_hc, "held-out chains: every tuple of both (%d items)", n);
    it = curriculum_eval(c, EVAL_HELDOUT_VARIANTS, &n);
    int ok_hv = n >= 12;
    for (int i = 0; i < n; i++)
        ok_hv &= !curriculum_chain_heldout(c, it[i].chain) && !in_pools(c, it[i].text, 1) &&
                 it[i].volatility >= 0.05 && it[i].volatility <= 0.3 &&
                 it[i].tuple < lib->chains[it[i].chain].n_tuples - 1;
    CHECK(ok_hv, "held-out variants: %d in band, of trained chains, in no training pool", n);
    CHECK(strcmp(curriculum_library_hash(c), chainlib_hash(lib)) == 0, "library hash passes");
}

static int rows_equal(const int32_t *a, const int32_t *b, const float *wa, const float *wb,
                      size_t n) {
    return memcmp(a, b, n * sizeof *a) == 0 && memcmp(wa, wb, n * sizeof *wa) == 0;
}

static void test_sharding(const Curriculum *c) {
    enum { G = 24, T = 128 };
    static int32_t in_a[G * T], tg_a[G * T], in_b[G * T], tg_b[G * T];
    static float w_a[G * T], w_b[G * T];
    for (int stage_i = 0; stage_i < curriculum_n_stages(c); stage_i++) {
        int64_t step = 37 + stage_i;
        for (int i = 0; i < G; i++)
            curriculum_sample(c, stage_i, step, i, G, in_a + i * T, tg_a + i * T, w_a + i * T);
        for (int i = G - 1; i >= 0; i--)
            curriculum_sample(c, stage_i, step, i, G, in_b + i * T, tg_b + i * T, w_b + i * T);
        CHECK(rows_equal(in_a, in_b, w_a, w_b, G * T) && memcmp(tg_a, tg_b, sizeof tg_a) == 0,
              "stage %d: reverse order gives the same rows", stage_i);
        for (int N = 1; N <= 4; N *= 2) {
            memset(in_b, 0xff, sizeof in_b);
            for (int rank = N - 1; rank >= 0; rank--) {
                int64_t lo = (int64_t)rank * G / N, hi = (int64_t)(rank + 1) * G / N;
                for (int64_t i = lo; i < hi; i++)
                    curriculum_sample(c, stage_i, step, i, G, in_b + i * T, tg_b + i * T,
                                      w_b + i * T);
            }
            CHECK(rows_equal(in_a, in_b, w_a, w_b, G * T) && memcmp(tg_a, tg_b, sizeof tg_a) == 0,
                  "stage %d: %d rank slices give the same rows", stage_i, N);
        }
        int varied = 0;
        for (int i = 1; i < G; i++) varied |= memcmp(in_a, in_a + i * T, T * sizeof *in_a) != 0;
        CHECK(varied, "stage %d: rows of one batch differ", stage_i);
    }
    int32_t in[T], tg[T];
    float w[T];
    CHECK(curriculum_sample(c, 0, 0, G, G, in, tg, w) != 0, "i >= global_batch is refused");
    CHECK(curriculum_sample(c, 9, 0, 0, G, in, tg, w) != 0, "unknown stage is refused");
}

static void test_schedule(const Curriculum *c) {
    enum { N = 400 };
    SamplePick pk;
    int next = 0, replay = 0, prev_pool = 1, next_pool = 1;
    /* stage 1 bridges pool 0 ("easy") and pool 1 ("mid"), linear over 1000 steps */
    for (int i = 0; i < N; i++) {
        curriculum_pick(c, 1, 0, i, N, &pk);
        next += pk.next_band;
        replay += pk.replay;
        prev_pool &= pk.pool == 0;
    }
    CHECK(next == 0 && replay == 0 && prev_pool, "bridge step 0: all from the previous band");
    next = 0;
    for (int i = 0; i < N; i++) {
        curriculum_pick(c, 1, 995, i, N, &pk);
        next += pk.next_band;
        next_pool &= pk.next_band ? pk.pool == 1 : pk.pool == 0;
    }
    CHECK(next >= N * 97 / 100 && next_pool, "bridge near its end: %d of %d from the next band",
          next, N);
    next = 0;
    for (int i = 0; i < N; i++) {
        curriculum_pick(c, 1, 500, i, N, &pk);
        next += pk.next_band;
    }
    CHECK(next > N * 40 / 100 && next < N * 60 / 100, "bridge midway: %d of %d", next, N);

    /* replay: stage 3 ("hard", pool 2) replays pools 0 and 1 a quarter of the time */
    int from[3] = {0, 0, 0}, ok = 1;
    replay = 0;
    for (int i = 0; i < 4 * N; i++) {
        curriculum_pick(c, 3, 7, i, 4 * N, &pk);
        replay += pk.replay;
        from[pk.pool]++;
        ok &= pk.replay ? pk.pool < 2 : pk.pool == 2;
    }
    CHECK(ok, "replayed samples come from earlier pools, others from the stage's own");
    CHECK(replay > 4 * N * 20 / 100 && replay < 4 * N * 30 / 100 && from[0] > 0 && from[1] > 0,
          "replay 0.25: %d of %d (%d from easy, %d from mid)", replay, 4 * N, from[0], from[1]);
    /* stage 0 has replay 0.5 but nothing earlier */
    replay = 0;
    for (int i = 0; i < N; i++) {
        curriculum_pick(c, 0, 3, i, N, &pk);
        replay += pk.replay + (pk.pool != 0);
    }
    CHECK(replay == 0, "the first stage has nothing to replay");
    CHECK(curriculum_stage_pool(c, 1) == -1 && curriculum_stage_pool(c, 2) == 1,
          "stage -> pool map");
}

static Curriculum *build(const ChainLib *lib, StageSpec *stages, int n_stages, Order order,
                         uint64_t seed, WordTok *wt, int variants, Err *e) {
    CurriculumSpec spec = {stages, n_stages, order, variants, seed, 128, 0.05, 0.3, 2, NULL, 0, 0};
    CurriculumTokenizer tok = {word_tokenize, word_len, wt, WORD_EOT};
    Curriculum *c = NULL;
    if (curriculum_build(&c, lib, &spec, &tok, e) != 0) return NULL;
    return c;
}

static void main_stages(StageSpec s[4]) {
    s[0] = test_stage("easy", 0, 0.0, 0.12, 100, 0.5, LOSS_TRAIL, 1);
    s[1] = test_stage("bridge", 1, 0, 0, 1000, 0, LOSS_TRAIL, 1);
    s[2] = test_stage("mid", 0, 0.12, 0.3, 100, 0, LOSS_CONNECTIVES_CONCLUSION, 2);
    s[3] = test_stage("hard", 0, 0.3, 0.7, 100, 0.25, LOSS_CONCLUSION, 1);
}

static void test_orders(const ChainLib *lib, WordTok *wt) {
    StageSpec s[4];
    main_stages(s);
    s[0].replay = s[3].replay = 0;
    Err e;
    SamplePick pk;
    enum { N = 300 };

    Curriculum *anti = build(lib, s, 4, ORDER_ANTI, 5, wt, 5, &e);
    CHECK(anti != NULL, "anti build: %s", e.msg);
    if (anti) {
        int ok0 = 1, ok3 = 1;
        for (int i = 0; i < N; i++) {
            curriculum_pick(anti, 0, 1, i, N, &pk);
            ok0 &= pk.pool == 2;
            curriculum_pick(anti, 3, 1, i, N, &pk);
            ok3 &= pk.pool == 0;
        }
        CHECK(ok0 && ok3, "anti: the first stage draws the last band, the last stage the first");
        curriculum_free(anti);
    }

    Curriculum *shuf = build(lib, s, 4, ORDER_SHUFFLED, 5, wt, 5, &e);
    CHECK(shuf != NULL, "shuffled build: %s", e.msg);
    if (shuf) {
        int hits[3] = {0, 0, 0}, total = 0;
        for (int i = 0; i < 6 * N; i++) {
            curriculum_pick(shuf, i % 4, 2, i, 6 * N, &pk);
            hits[pk.pool]++;
        }
        PoolStats st[3];
        for (int p = 0; p < 3; p++) {
            curriculum_pool_stats(shuf, p, &st[p]);
            total += st[p].n_items;
        }
        int ok = 1;
        for (int p = 0; p < 3; p++) {
            double want = 6.0 * N * st[p].n_items / total;
            ok &= hits[p] > 0.75 * want && hits[p] < 1.25 * want;
        }
        CHECK(ok, "shuffled: pools hit in proportion to their size (%d %d %d)", hits[0], hits[1],
              hits[2]);
        curriculum_free(shuf);
    }

    Curriculum *grow = build(lib, s, 4, ORDER_GROWING_RANDOM, 5, wt, 5, &e);
    CHECK(grow != NULL, "growing-random build: %s", e.msg);
    if (grow) {
        int used[3] = {-1, -1, -1}, ok = 1, stages_nb[3] = {0, 2, 3};
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < N; i++) {
                curriculum_pick(grow, stages_nb[j], 4, i, N, &pk);
                if (used[j] < 0) used[j] = pk.pool;
                ok &= pk.pool == used[j];
            }
        int perm = used[0] != used[1] && used[1] != used[2] && used[0] != used[2];
        CHECK(ok && perm, "growing-random: each stage one band, a permutation (%d %d %d)", used[0],
              used[1], used[2]);
        curriculum_free(grow);
    }
}

static void test_loss_masks(const ChainLib *lib, WordTok *wt) {
    StageSpec s[3];
    s[0] = test_stage("trail", 0, 0, 0, 10, 0, LOSS_TRAIL, 2);
    s[1] = test_stage("anchors", 0, 0, 0, 10, 0, LOSS_CONNECTIVES_CONCLUSION, 3);
    s[2] = test_stage("answer", 0, 0, 0, 10, 0, LOSS_CONCLUSION, 5);
    Err e;
    Curriculum *c = NULL;
    int mp = chainlib_find(lib, "mp-rain");
    uint64_t seed = 1;
    for (; seed < 50 && !c; seed++) { /* a seed that trains mp-rain */
        c = build(lib, s, 3, ORDER_CURRICULUM, seed, wt, 1, &e);
        CHECK(c != NULL, "loss-mask build: %s", e.msg);
        if (c && curriculum_chain_heldout(c, mp)) {
            curriculum_free(c);
            c = NULL;
        }
    }
    if (!c) return;
    PoolStats st;
    curriculum_pool_stats(c, 0, &st);
    CHECK(st.n_items == 10 && st.vol_max == 0, "band [0, 0]: the canonical text of each chain");
    enum { T = 128, G = 1000 };
    int32_t in[T], tg[T];
    float w[T];
    /* If it rains , then the street gets wet . It rains . Therefore , | the street gets wet . */
    const int n = 20, conn[3] = {0, 4, 13};
    for (int k = 0; k < 3; k++) {
        SamplePick pk;
        int64_t i = 0;
        while (i < G && (curriculum_pick(c, k, 0, i, G, &pk), pk.chain != mp)) i++;
        CHECK(i < G, "stage %d draws mp-rain", k);
        curriculum_sample(c, k, 0, i, G, in, tg, w);
        PoolItemView v;
        curriculum_pool_item(c, pk.pool, pk.item, &v);
        CHECK(v.n_tokens == n, "mp-rain is %d word tokens", v.n_tokens);
        int ok_rows = in[0] == WORD_EOT && tg[n] == WORD_EOT;
        for (int t = 0; t < n; t++) ok_rows &= in[t + 1] == v.tokens[t] && tg[t] == v.tokens[t];
        for (int t = n + 1; t < T; t++) ok_rows &= in[t] == WORD_EOT && tg[t] == in[t];
        CHECK(ok_rows, "stage %d: row = EOT, tokens, EOT, EOT padding", k);
        CHECK(strcmp(word_str(wt, v.tokens[4]), " then") == 0 && v.roles[4] == BYTE_CONNECTIVE,
              "\" then\" is a connective token");
        CHECK(v.roles[14] == BYTE_PROMPT && v.roles[15] == BYTE_ANSWER && v.roles[10] == BYTE_STEP,
              "token roles: prompt ',', answer ' the', step ' It'");
        float want[T];
        for (int t = 0; t < T; t++) {
            int is_conn = t == conn[0] || t == conn[1] || t == conn[2],
                is_answer = t >= 15 && t < n;
            if (k == 0) want[t] = t < n ? (is_conn ? 2.0f : 1.0f) : t == n ? 1.0f : 0.0f;
            if (k == 1) want[t] = is_conn ? 3.0f : is_answer ? 1.0f : 0.0f;
            if (k == 2) want[t] = is_answer ? 1.0f : 0.0f;
        }
        CHECK(memcmp(w, want, sizeof w) == 0, "stage %d (%s): weights as expected", k, s[k].name);
        if (memcmp(w, want, sizeof w) != 0)
            for (int t = 0; t <= n; t++)
                fprintf(stderr, "  t=%d got %g want %g\n", t, w[t], want[t]);
    }
    curriculum_free(c);
}

static void test_spec_errors(const ChainLib *lib, WordTok *wt) {
    StageSpec s[4];
    Err e;
    main_stages(s);
    s[2].band_lo = 0.5;
    CHECK(build(lib, s, 4, ORDER_CURRICULUM, 1, wt, 5, &e) == NULL, "lo > hi fails");
    CHECK_CONTAINS(e.msg, "curriculum stage 2 (\"mid\"): band [0.5, 0.3]");
    main_stages(s);
    s[3].band_hi = 1.5;
    CHECK(build(lib, s, 4, ORDER_CURRICULUM, 1, wt, 5, &e) == NULL, "band above 1 fails");
    CHECK_CONTAINS(e.msg, "curriculum stage 3 (\"hard\")");
    main_stages(s);
    CHECK(build(lib, s + 1, 3, ORDER_CURRICULUM, 1, wt, 5, &e) == NULL, "leading bridge fails");
    CHECK_CONTAINS(e.msg, "curriculum stage 0 (\"bridge\"): a bridge needs a non-bridge stage");
    s[2].bridge = 1;
    CHECK(build(lib, s, 4, ORDER_CURRICULUM, 1, wt, 5, &e) == NULL, "two bridges in a row fail");
    CHECK_CONTAINS(e.msg, "stage 1 (\"bridge\")");
    main_stages(s);
    s[2].steps = 0;
    CHECK(build(lib, s, 4, ORDER_CURRICULUM, 1, wt, 5, &e) == NULL, "zero steps fail");
    CHECK_CONTAINS(e.msg, "curriculum stage 2 (\"mid\"): steps = 0");
    main_stages(s);
    s[0].replay = 1.5;
    CHECK(build(lib, s, 4, ORDER_CURRICULUM, 1, wt, 5, &e) == NULL, "replay > 1 fails");
    CHECK_CONTAINS(e.msg, "replay = 1.5");
    main_stages(s);
    CHECK(build(lib, s, 4, ORDER_CURRICULUM, 1, wt, 0, &e) == NULL, "0 variants per band fails");
    CHECK_CONTAINS(e.msg, "variants_per_band = 0");
    main_stages(s);
    s[3].band_lo = 0.97;
    s[3].band_hi = 1.0;
    CHECK(build(lib, s, 4, ORDER_CURRICULUM, 1, wt, 5, &e) == NULL, "an unreachable band fails");
    CHECK_CONTAINS(e.msg, "curriculum stage 3 (\"hard\"): no training chain has a variant");

    CurriculumSpec spec = {s, 4, ORDER_CURRICULUM, 5, 1, 24, 0.05, 0.3, 2, NULL, 0, 0};
    CurriculumTokenizer tok = {word_tokenize, word_len, wt, WORD_EOT};
    Curriculum *c = NULL;
    main_stages(s);
    CHECK(curriculum_build(&c, lib, &spec, &tok, &e) != 0 && !c, "too short seq_len fails");
    CHECK_CONTAINS(e.msg, "tokens with its EOT but seq_len is 24 (raise seq_len to at least ");
    CHECK_CONTAINS(e.msg, ", or shorten the chain)");
    CHECK(strstr(e.msg, "chain \"") == e.msg, "names the chain: %s", e.msg);
    /* with the caller's name for seq_len and the model's context: which limit, what to raise */
    spec.seq_len_name = "batch.seq_len";
    spec.context = 128;
    CHECK(curriculum_build(&c, lib, &spec, &tok, &e) != 0 && !c, "too short seq_len fails");
    CHECK_CONTAINS(e.msg, "tokens with its EOT but batch.seq_len is 24 (the model's context is "
                          "128: raise batch.seq_len up to 128, or shorten the chain)");
    spec.context = 25; /* shorter than the chain needs */
    CHECK(curriculum_build(&c, lib, &spec, &tok, &e) != 0 && !c, "too short seq_len fails");
    CHECK_CONTAINS(e.msg, "but batch.seq_len is 24 (the model's context is 25, too short for it as "
                          "well: shorten the chain)");
}

/* The real libraries, when present: they load, and the pools per band with a byte tokenizer. */
/* The hand-written evaluation set (tests/data/handwritten-chains.cfg): 40 chains, the ten forms
 * four times each, one foil each, loadable as an `imprint eval --chains` library. */
static void test_handwritten_set(void) {
    const char *path = "tests/data/handwritten-chains.cfg";
    ChainLib *lib = NULL;
    Err e;
    CHECK(chainlib_load(&lib, &path, 1, &e) == 0, "hand-written set loads: %s", e.msg);
    if (!lib) return;
    int per_form[FORM_COUNT] = {0};
    CHECK(lib->n_chains == 40, "hand-written set: %d chains, want 40", lib->n_chains);
    for (int ch = 0; ch < lib->n_chains; ch++) {
        per_form[lib->chains[ch].form]++;
        CHECK(lib->chains[ch].n_foils == 1, "%s has %d foils, want 1", lib->chains[ch].id,
              lib->chains[ch].n_foils);
    }
    for (int f = 0; f < FORM_COUNT; f++)
        CHECK(per_form[f] == 4, "hand-written set: form %s has %d chains, want 4",
              chain_form_name((ChainForm)f), per_form[f]);
    chainlib_free(lib);
}

static void test_real_libraries(void) {
    const char *en = "curriculum/chains/en.cfg", *ru = "curriculum/chains/ru.cfg";
    const char *typed = "curriculum/chains/en-typed.cfg";
    const char *paths[3];
    int n = 0;
    if (access(en, R_OK) == 0) paths[n++] = en;
    if (access(ru, R_OK) == 0) paths[n++] = ru;
    if (access(typed, R_OK) == 0) paths[n++] = typed;
    if (n == 0) {
        printf("real libraries: not present yet, skipped\n");
        return;
    }
    ChainLib *lib = NULL;
    Err e;
    CHECK(chainlib_load(&lib, paths, n, &e) == 0, "real libraries load: %s", e.msg);
    if (!lib) return;
    for (int f = 0; f < lib->n_files; f++) {
        int chains = 0;
        for (int ch = 0; ch < lib->n_chains; ch++) chains += lib->chains[ch].file == f;
        printf("%s: %d chains, %d forms, sha256 %s\n", lib->files[f].path, chains,
               chainlib_forms_covered(lib, f), lib->files[f].sha256);
        CHECK(chainlib_forms_covered(lib, f) >= CHAIN_FORMS_REQUIRED, "%s covers >= 8 forms",
              lib->files[f].path);
    }
    StageSpec s[5];
    s[0] = test_stage("b0", 0, 0.0, 0.1, 1, 0, LOSS_TRAIL, 1);
    s[1] = test_stage("b1", 0, 0.1, 0.2, 1, 0, LOSS_TRAIL, 1);
    s[2] = test_stage("b2", 0, 0.2, 0.35, 1, 0, LOSS_TRAIL, 1);
    s[3] = test_stage("b3", 0, 0.35, 0.5, 1, 0, LOSS_TRAIL, 1);
    s[4] = test_stage("b4", 0, 0.5, 0.8, 1, 0, LOSS_TRAIL, 1);
    CurriculumSpec spec = {s, 5, ORDER_CURRICULUM, 8, 1234, 1024, 0.05, 0.3, 2, NULL, 0, 0};
    CurriculumTokenizer tok = {byte_tokenize, byte_len, NULL, BYTE_EOT};
    Curriculum *c = NULL;
    CHECK(curriculum_build(&c, lib, &spec, &tok, &e) == 0, "real curriculum builds: %s", e.msg);
    if (c) {
        printf("library hash %s: %d trained, %d held-out chains\n", curriculum_library_hash(c),
               curriculum_n_train_chains(c), curriculum_n_heldout_chains(c));
        for (int p = 0; p < curriculum_n_pools(c); p++) {
            PoolStats st;
            curriculum_pool_stats(c, p, &st);
            printf("  band [%.2f, %.2f]: %4d items; chains full %d, short %d, empty %d; "
                   "volatility min %.3f mean %.3f max %.3f\n",
                   st.band_lo, st.band_hi, st.n_items, st.n_chains_full, st.n_chains_short,
                   st.n_chains_empty, st.vol_min, st.vol_mean, st.vol_max);
        }
        for (int sp = 0; sp < EVAL_COUNT; sp++) {
            int ni;
            curriculum_eval(c, (EvalSplit)sp, &ni);
            printf("  eval %s: %d items\n", eval_split_name((EvalSplit)sp), ni);
        }
        curriculum_free(c);
    }
    chainlib_free(lib);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/imprint-curriculum-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
    test_sha256();
    test_validation();
    ChainLib *lib = load_mini();
    CHECK(lib != NULL, "mini libraries load");
    if (!lib) return tl_finish("test_curriculum");
    test_render(lib);
    test_volatility();
    test_operators(lib);
    test_band_search(lib);

    WordTok *wt = calloc(1, sizeof *wt);
    StageSpec s[4];
    main_stages(s);
    Err e;
    Curriculum *c = build(lib, s, 4, ORDER_CURRICULUM, 42, wt, 6, &e);
    CHECK(c != NULL, "curriculum builds: %s", e.msg);
    if (c) {
        test_splits(c, lib, wt);
        test_sharding(c);
        test_schedule(c);
        /* a second build with the same inputs gives the same rows */
        Curriculum *c2 = build(lib, s, 4, ORDER_CURRICULUM, 42, wt, 6, &e);
        int32_t a[128], b[128], ta[128], tb[128];
        float wa[128], wb[128];
        int same = c2 != NULL;
        for (int i = 0; same && i < 50; i++) {
            curriculum_sample(c, i % 4, i, i, 50, a, ta, wa);
            curriculum_sample(c2, i % 4, i, i, 50, b, tb, wb);
            same &= rows_equal(a, b, wa, wb, 128) && memcmp(ta, tb, sizeof ta) == 0;
        }
        CHECK(same, "rebuilding gives the same rows");
        curriculum_free(c2);
        curriculum_free(c);
    }
    test_orders(lib, wt);
    test_loss_masks(lib, wt);
    test_spec_errors(lib, wt);
    wordtok_free(wt);
    chainlib_free(lib);
    test_real_libraries();
    test_handwritten_set();

    char path[160];
    snprintf(path, sizeof path, "%s/good.cfg", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/bad.cfg", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/dup.cfg", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return tl_finish("test_curriculum");
}
