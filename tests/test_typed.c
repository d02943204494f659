/*
 * test_typed.c — typed slots and lexicons (docs/chains.md), on tests/data/chains/typed.cfg and
 * tests/data/lexicons/{animal,person}.txt:
 *   - plural and article rules, the held-out partition against Python's hashlib;
 *   - nonce words: deterministic, pronounceable, each in its own partition, disjoint;
 *   - rendering of {X}, {X^}, {X:pl}, {X:pl^}, {X:a}, {X:a^}; distinct same-typed entries;
 *   - every bad input gives its message with file:line;
 *   - the curriculum: training rows never hold a held-out entry, held-out-entities items only
 *     held-out ones (entity-disjoint), a fresh tuple at nearly every sample, the same rows on
 *     any rank split and call order, the worst-case length check;
 *   - untyped libraries give the same bits as before typed slots existed.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curriculum.h"
#include "lexicon.h"
#include "library.h"
#include "testlib.h"
#include "chaintest.h"
#include "variants.h"

#define TYPED "tests/data/chains/typed.cfg"

/* The text of a row's chain: inputs[1..] up to the first EOT. */
static void row_text(const WordTok *wt, const int32_t *in, int T, char *buf, size_t cap) {
    int end = 1;
    while (end < T && in[end] != WORD_EOT) end++;
    word_decode(wt, in + 1, end - 1, buf, cap);
}

/* ---- entity matching ------------------------------------------------------------------------ */

/* Counts whole-word, case-insensitive occurrences of entries of lx (singular or plural) in text,
 * by partition; with `last`, the last one found. */
static void match_entities(const Lexicon *lx, const char *text, int count[2], char *last,
                           size_t cap) {
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && isalpha((unsigned char)text[i - 1])) continue;
        size_t best = 0;
        int best_part = 0;
        const char *best_s = NULL;
        for (int p = 0; p < 2; p++)
            for (int k = 0; k < lx->n[p]; k++)
                for (int f = 0; f < 2; f++) {
                    const char *s = f ? lx->part[p][k].pl : lx->part[p][k].sg;
                    size_t m = strlen(s);
                    if (m <= best || i + m > n || strncasecmp(text + i, s, m) != 0 ||
                        (i + m < n && isalpha((unsigned char)text[i + m])))
                        continue;
                    best = m;
                    best_part = p;
                    best_s = s;
                }
        if (!best) continue;
        count[best_part]++;
        if (last) snprintf(last + strlen(last), cap - strlen(last), "%s/", best_s);
        i += best - 1;
    }
}

/* The two lexicons of typed.cfg. */
static const Lexicon *lexicon(const ChainLib *lib, const char *type) {
    for (int k = 0; k < lib->files[0].n_lex; k++)
        if (strcmp(lib->files[0].lex[k].type, type) == 0) return &lib->files[0].lex[k];
    return NULL;
}

/* Entities of both lexicons in text, by partition. */
static void entities(const ChainLib *lib, const char *text, int count[2], char *seq, size_t cap) {
    count[0] = count[1] = 0;
    if (seq) seq[0] = '\0';
    match_entities(lexicon(lib, "animal"), text, count, seq, cap);
    match_entities(lexicon(lib, "person"), text, count, seq, cap);
}

/* Nonce words of one partition under a seed, sorted, for lookups. */
typedef struct NonceSet {
    char w[NONCE_PER_PART][NONCE_MAX];
} NonceSet;

static int cmp_word(const void *a, const void *b) {
    return strcmp(a, b);
}

static void nonce_set(NonceSet *s, uint64_t seed, int part) {
    for (int k = 0; k < NONCE_PER_PART; k++) nonce_word(seed, part, (uint32_t)k, s->w[k]);
    qsort(s->w, NONCE_PER_PART, NONCE_MAX, cmp_word);
}

static int nonce_in(const NonceSet *s, const char *w) {
    return bsearch(w, s->w, NONCE_PER_PART, NONCE_MAX, cmp_word) != NULL;
}

/* The nonce word V of ty-nonce's conclusion "... Rex is a V." (the last sentence). */
static void nonce_answer(const char *text, char *out, size_t cap) {
    const char *at = NULL, *p = text;
    while ((p = strstr(p, "Rex is ")) != NULL) at = p++;
    out[0] = '\0';
    if (!at) return;
    at += strlen("Rex is ");
    if (strncmp(at, "not ", 4) == 0) at += 4;
    at = strchr(at, ' ');
    if (!at) return;
    at++;
    size_t n = strcspn(at, ".");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), at);
}

/* ---- rules ---------------------------------------------------------------------------------- */

static void test_rules(void) {
    static const char *const PL[][2] = {{"cat", "cats"},
                                        {"fox", "foxes"},
                                        {"bus", "buses"},
                                        {"church", "churches"},
                                        {"dish", "dishes"},
                                        {"buzz", "buzzes"},
                                        {"pony", "ponies"},
                                        {"day", "days"},
                                        {"boy", "boys"},
                                        {"ice cream", "ice creams"},
                                        {"fly", "flies"},
                                        {"monarch", "monarches"},
                                        {"guinea pig", "guinea pigs"}};
    for (size_t i = 0; i < sizeof PL / sizeof *PL; i++) {
        char out[64];
        lex_plural(PL[i][0], out, sizeof out);
        CHECK(strcmp(out, PL[i][1]) == 0, "plural of %s: %s (want %s)", PL[i][0], out, PL[i][1]);
    }
    CHECK(strcmp(lex_article("owl"), "an") == 0 && strcmp(lex_article("Eagle"), "an") == 0 &&
              strcmp(lex_article("umpire"), "an") == 0 && strcmp(lex_article("cat"), "a") == 0 &&
              strcmp(lex_article("hour"), "a") == 0 && strcmp(lex_article("unicorn"), "an") == 0,
          "article: the vowel-letter rule (so \"a hour\", \"an unicorn\", as documented)");
    /* the partition, against Python: int(sha256(b"animal:horse").hexdigest(), 16) % 100 < 20 */
    static const char *const HELD[] = {"horse",  "goose", "camel",  "donkey",
                                       "salmon", "snake", "spider", "trout"};
    for (size_t i = 0; i < sizeof HELD / sizeof *HELD; i++)
        CHECK(lex_is_heldout("animal", HELD[i]), "animal:%s is held out", HELD[i]);
    CHECK(!lex_is_heldout("animal", "cat") && !lex_is_heldout("animal", "owl") &&
              !lex_is_heldout("person", "umpire") && lex_is_heldout("person", "baker") &&
              lex_is_heldout("person", "chief of police") && !lex_is_heldout("animal", "doctor"),
          "partition keyed on type:singular");
}

static int nonce_shape(const char *w) {
    static const char *ON = "bdfghjklmnprstvwz", *VO = "aeiou", *CO = "nmrlstkpgx";
    int syl = 0;
    size_t i = 0, n = strlen(w);
    while (i < n) {
        if (!strchr(ON, w[i]) || i + 1 >= n || !strchr(VO, w[i + 1])) return 0;
        i += 2;
        if (i < n && strchr(CO, w[i]) && (i + 1 >= n || !strchr(VO, w[i + 1]))) i++;
        syl++;
    }
    return syl >= 1 && syl <= 3 && n >= 3;
}

static void test_nonce(void) {
    static NonceSet tr, ho, tr2;
    nonce_set(&tr, 7, LEX_TRAIN);
    nonce_set(&ho, 7, LEX_HELDOUT);
    nonce_set(&tr2, 7, LEX_TRAIN);
    CHECK(memcmp(&tr, &tr2, sizeof tr) == 0, "nonce words are a pure function of (seed, k)");
    char a[NONCE_MAX], b[NONCE_MAX];
    int differ = 0, shape = 1, part = 1, distinct = 0, both = 0;
    for (int k = 0; k < 200; k++) {
        nonce_word(7, LEX_TRAIN, (uint32_t)k, a);
        nonce_word(8, LEX_TRAIN, (uint32_t)k, b);
        differ += strcmp(a, b) != 0;
    }
    CHECK(differ > 190, "another seed, other words (%d of 200 differ)", differ);
    for (int k = 0; k < NONCE_PER_PART; k++) {
        shape &= nonce_shape(tr.w[k]) && nonce_shape(ho.w[k]);
        part &= !lex_is_heldout("nonce", tr.w[k]) && lex_is_heldout("nonce", ho.w[k]);
        distinct += k == 0 || strcmp(tr.w[k], tr.w[k - 1]) != 0;
        both += nonce_in(&ho, tr.w[k]);
    }
    CHECK(shape, "nonce words are 1 to 3 CV(C) syllables (e.g. %s, %s)", tr.w[0], ho.w[0]);
    CHECK(part, "each nonce word lies in its own partition (hash of \"nonce:\" word)");
    CHECK(both == 0, "training and held-out nonce words are disjoint (%d shared)", both);
    CHECK(distinct > NONCE_PER_PART * 9 / 10, "%d of %d training nonce words distinct", distinct,
          NONCE_PER_PART);
}

/* ---- loading and rendering ------------------------------------------------------------------ */

/* Index of singular sg in partition part of lx, -1 if absent. */
static int entry_index(const Lexicon *lx, int part, const char *sg) {
    for (int k = 0; k < lx->n[part]; k++)
        if (strcmp(lx->part[part][k].sg, sg) == 0) return k;
    return -1;
}

static void test_load_render(const ChainLib *lib) {
    const Lexicon *an = lexicon(lib, "animal"), *pe = lexicon(lib, "person");
    CHECK(an && pe && an->n[0] == 42 && an->n[1] == 8 && pe->n[0] == 26 && pe->n[1] == 8,
          "animal 42 + 8, person 26 + 8 (training + held out)");
    if (!an || !pe) return;
    int ok = 1;
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < an->n[p]; k++) ok &= lex_is_heldout("animal", an->part[p][k].sg) == p;
    CHECK(ok, "the loaded partitions follow lex_is_heldout");
    CHECK(entry_index(an, LEX_HELDOUT, "goose") >= 0 && entry_index(an, LEX_TRAIN, "mouse") >= 0,
          "goose held out, mouse trained");
    int mouse = entry_index(an, LEX_TRAIN, "mouse"), fox = entry_index(an, LEX_TRAIN, "fox");
    CHECK(strcmp(an->part[0][mouse].pl, "mice") == 0 && strcmp(an->part[0][fox].pl, "foxes") == 0,
          "explicit plural mice, derived plural foxes");
    int chief = entry_index(pe, LEX_HELDOUT, "chief of police");
    CHECK(chief >= 0 && strcmp(pe->part[1][chief].pl, "chiefs of police") == 0,
          "a three-word entry with its plural");
    CHECK(strcmp(chainlib_hash(lib), lib->files[0].sha256) != 0, "lexicons count in the hash");

    int forms = chainlib_find(lib, "ty-forms");
    const Chain *ch = &lib->chains[forms];
    CHECK(ch->n_typed == 3 && ch->n_slots == 3 && !ch->has_fillers && ch->n_tuples == 1,
          "ty-forms: 3 typed slots, no fillers, one empty tuple");
    RenderSpec s;
    render_spec_canonical(&s);
    s.ent[0] = (uint32_t)entry_index(an, 0, "owl"); /* slots in order of first use: A, B, X */
    s.ent[1] = (uint32_t)mouse;
    s.ent[2] = (uint32_t)entry_index(pe, 0, "umpire");
    Rendered r = {0};
    Err e;
    CHECK(chain_render(lib, forms, &s, &r, &e) == 0, "render: %s", e.msg);
    const char *want = "If an owl chases a mouse, then the mouse runs. An owl chases a mouse. Owls "
                       "chase mice near umpires. Umpires watch the owl. Umpire waits and Mouse "
                       "hides. An umpire calls. Therefore, the mouse runs from the owl.";
    CHECK(strcmp(r.text, want) == 0, "every template form: \"%s\"", r.text);
    CHECK(strcmp(r.text + r.answer_start, " the mouse runs from the owl.") == 0, "answer");
    s.foil = 0;
    chain_render(lib, forms, &s, &r, &e);
    CHECK(strcmp(r.text + r.answer_start, " the owl runs from the mouse.") == 0, "foil");
    s.foil = -1;
    s.n_ins = 2; /* site 3: the start of step 2 ({A:a^}); site 7: step 6 ({X:a^}) */
    s.ins[0] = (InsertEdit){3, 0};
    s.ins[1] = (InsertEdit){7, 1};
    chain_render(lib, forms, &s, &r, &e);
    CHECK(strstr(r.text, " In fact, an owl chases a mouse. ") &&
              strstr(r.text, " Of course, an umpire calls. "),
          "an insertion before {X:a^} lower-cases the article: \"%s\"", r.text);
    s.n_ins = 0;
    s.ent_part = LEX_HELDOUT;
    s.ent[0] = (uint32_t)entry_index(an, 1, "goose");
    s.ent[1] = (uint32_t)entry_index(an, 1, "trout");
    s.ent[2] = (uint32_t)chief;
    chain_render(lib, forms, &s, &r, &e);
    CHECK(strstr(r.text, "Geese chase trout near chiefs of police.") &&
              strstr(r.text, "Chief of police waits and Trout hides. A chief of police calls."),
          "held-out partition, irregular plurals, phrases: \"%s\"", r.text);

    /* draws: same-typed slots distinct; pure function; partition respected */
    int distinct = 1, part_ok = 1, same = 1, tuples = 0;
    char seen[64][96];
    for (uint64_t d = 0; d < 2000; d++) {
        RenderSpec a, b;
        render_spec_canonical(&a);
        render_spec_canonical(&b);
        chain_draw_entities(lib, forms, 5, (int)(d & 1), d, &a);
        chain_draw_entities(lib, forms, 5, (int)(d & 1), d, &b);
        same &= memcmp(&a, &b, sizeof a) == 0;
        distinct &= a.ent[0] % (uint32_t)an->n[d & 1] != a.ent[1] % (uint32_t)an->n[d & 1];
        part_ok &= a.ent_part == (int)(d & 1);
        if (d < 128 && (d & 1) == 0) {
            chain_render(lib, forms, &a, &r, &e);
            int dup = 0;
            for (int k = 0; k < tuples; k++) dup |= strcmp(seen[k], r.text + r.answer_start) == 0;
            if (!dup) snprintf(seen[tuples++], sizeof seen[0], "%s", r.text + r.answer_start);
        }
    }
    CHECK(same, "chain_draw_entities is a pure function");
    CHECK(distinct, "two animal slots of one chain never get the same animal");
    CHECK(part_ok, "draws take the partition asked for");
    CHECK(tuples >= 58, "64 draws give %d distinct (A, B) answers", tuples);
    /* a partition as small as the slots that need it still gives distinct entries */
    int nonce = chainlib_find(lib, "ty-nonce");
    RenderSpec ns;
    render_spec_canonical(&ns);
    chain_draw_entities(lib, nonce, 3, LEX_HELDOUT, 11, &ns);
    chain_render(lib, nonce, &ns, &r, &e);
    char v[NONCE_MAX];
    nonce_answer(r.text, v, sizeof v);
    CHECK(strlen(v) >= 3 && lex_is_heldout("nonce", v), "held-out nonce answer: \"%s\"", r.text);
    rendered_free(&r);
}

/* ---- bad input ------------------------------------------------------------------------------ */

static char tmpdir[64];

static const char *GOOD =
    "library = { name = \"t\"; lang = \"en\"; version = 1; };\n"                          /* 1 */
    "lexicons = { animal = \"lex/animal.txt\"; person = \"lex/person.txt\"; };\n"         /* 2 */
    "connectives = { if = [\"If\"]; then = [\"then\"]; therefore = [\"Therefore\"]; };\n" /* 3 */
    "chains = (\n"                                                                        /* 4 */
    "{ id = \"c1\"; form = \"modus-ponens\";\n"                                           /* 5 */
    "  slots = { A = \"animal\"; X = \"person\"; };\n"                                    /* 6 */
    "  steps = ( { role = \"premise\"; text = \"{if} {A:a} sees {X:a}, {then} {X} waves.\"; },\n"
    "            { role = \"premise\"; text = \"{A:a^} sees {X:a}.\"; },\n"                /* 8 */
    "            { role = \"conclusion\"; text = \"{therefore},| the {X} waves.\"; } );\n" /* 9 */
    "}\n"                                                                                  /* 10 */
    ");\n";                                                                                /* 11 */

/* Writes GOOD with `from` replaced by `to` as bad.cfg, loads it, checks the message has
 * "<file>:<line>: " (file: bad.cfg, or the lexicon named) and both needles. */
static void expect_error(const char *what, const char *from, const char *to, const char *file,
                         int line, const char *needle1, const char *needle2) {
    char path[128], where[192];
    snprintf(path, sizeof path, "%s/bad.cfg", tmpdir);
    char *text = replace(GOOD, from, to);
    write_file(path, text);
    free(text);
    ChainLib *lib = NULL;
    Err e = {{0}};
    const char *paths[] = {path};
    int rc = chainlib_load(&lib, paths, 1, &e);
    CHECK(rc != 0 && lib == NULL, "%s: load should fail", what);
    snprintf(where, sizeof where, "%s/%s:%d: ", tmpdir, file ? file : "bad.cfg", line);
    CHECK(strstr(e.msg, where) == e.msg, "%s: message \"%s\" should start with \"%s\"", what, e.msg,
          where);
    if (needle1) CHECK(strstr(e.msg, needle1), "%s: \"%s\" lacks \"%s\"", what, e.msg, needle1);
    if (needle2) CHECK(strstr(e.msg, needle2), "%s: \"%s\" lacks \"%s\"", what, e.msg, needle2);
    chainlib_free(lib);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    Err e;
    char *text = file_read_all(from, &n, &e);
    if (text) write_file(to, text);
    free(text);
}

static void test_errors(void) {
    char path[160];
    snprintf(path, sizeof path, "%s/lex", tmpdir);
    mkdir(path, 0700);
    const char *files[][2] = {
        {"empty.txt", "# source: nothing\n\n   \n"}, {"bad.txt", "cat\ndog2\n"},
        {"dup.txt", "cat\ndog\n# again:\ncat\n"},    {"bars.txt", "cat | cats | catz\n"},
        {"tiny.txt", "# one entry\nsailor\n"},       {"words.txt", "cat\nthe big red dog\n"}};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/lex/%s", tmpdir, files[i][0]);
        write_file(path, files[i][1]);
    }
    snprintf(path, sizeof path, "%s/lex/animal.txt", tmpdir);
    copy_file("tests/data/lexicons/animal.txt", path);
    snprintf(path, sizeof path, "%s/lex/person.txt", tmpdir);
    copy_file("tests/data/lexicons/person.txt", path);
    snprintf(path, sizeof path, "%s/good.cfg", tmpdir);
    write_file(path, GOOD);
    ChainLib *lib = NULL;
    Err e;
    const char *paths[] = {path};
    CHECK(chainlib_load(&lib, paths, 1, &e) == 0, "the good typed library loads: %s", e.msg);
    chainlib_free(lib);

    expect_error("unknown slot type", "A = \"animal\";", "A = \"anmal\";", NULL, 6,
                 "unknown slot type \"anmal\"", "did you mean \"animal\"");
    expect_error("type without a lexicon", "X = \"person\"", "X = \"food\"", NULL, 6,
                 "type \"food\", but this library declares no lexicon for it",
                 "add food = \"../lexicons/food.txt\"; to lexicons");
    expect_error("lexicon file missing", "lex/animal.txt", "lex/nope.txt", NULL, 2,
                 "lex/nope.txt\" for type \"animal\" is missing, unreadable or not a file",
                 "relative to this library file");
    expect_error("lexicon is a directory", "lex/animal.txt\"", "lex\"", NULL, 2,
                 "lex\" for type \"animal\" is missing, unreadable or not a file", NULL);
    expect_error("slot type not a string", "A = \"animal\";", "A = 3;", NULL, 6,
                 "slot A of chain \"c1\" must name its type as a string", NULL);
    expect_error("empty lexicon", "lex/animal.txt", "lex/empty.txt", NULL, 2,
                 "for type \"animal\" has no entries", NULL);
    expect_error("bad entry", "lex/animal.txt", "lex/bad.txt", "lex/bad.txt", 2,
                 "entry \"dog2\" has a character other than letters", "singular | plural");
    expect_error("duplicate entry", "lex/animal.txt", "lex/dup.txt", "lex/dup.txt", 4,
                 "\"cat\" is already listed at line 1", "remove one");
    expect_error("two bars", "lex/animal.txt", "lex/bars.txt", "lex/bars.txt", 1,
                 "has more than one '|'", NULL);
    expect_error("four words", "lex/animal.txt", "lex/words.txt", "lex/words.txt", 2,
                 "has more than 3 words", NULL);
    expect_error("partition too small", "lex/person.txt", "lex/tiny.txt", NULL, 6,
                 "slot type \"person\" too small for its split", "needs 1 distinct entries, but");
    expect_error(":a on an untyped slot", "slots = { A = \"animal\"; X = \"person\"; };",
                 "slots = { A = \"animal\"; };", NULL, 7, "uses {X:a} on the untyped slot X",
                 ":pl and :a need a typed slot");
    expect_error("a tuple binds a typed slot", "X = \"person\"; };",
                 "X = \"person\"; };\n  fillers = ( { A = \"cat\"; }, { A = \"b\"; }, { A = "
                 "\"c\"; }, { A = \"d\"; } );",
                 NULL, 7, "filler tuple 1 of chain \"c1\" binds slot A, which is typed",
                 "drawn from its lexicon");
    expect_error("unknown slot form", "{A:a^} sees", "{A:the^} sees", NULL, 8,
                 "unknown slot form {A:the}", "{X:pl}");
    expect_error(":pl on a connective", "{if} {A:a}", "{if:pl} {A:a}", NULL, 7,
                 ":pl and :a apply to typed slots only", NULL);
    expect_error("typed slot unused", "X = \"person\"; };", "X = \"person\"; B = \"animal\"; };",
                 NULL, 6, "slot B of chain \"c1\" is typed in slots, but no step or foil uses {B}",
                 NULL);
    expect_error("untyped slot without fillers", "the {X} waves.\"", "the {X} waves {P}.\"", NULL,
                 5, "has no fillers, but not all of its slots are typed", "fillers = (");
    expect_error("nonce with a path", "person = \"lex/person.txt\";",
                 "person = \"lex/person.txt\"; nonce = \"lex/x.txt\";", NULL, 2,
                 "nonce is built in", NULL);
    expect_error("bad type name", "animal = \"lex/animal.txt\"", "Animal = \"lex/animal.txt\"",
                 NULL, 2, "lexicon type \"Animal\" must be a lower-case name", NULL);
}

/* ---- the curriculum ---------------------------------------------------------------------------
 */

enum { T = 160 };

/* Three stages (easy, bridge, hard), or with canon_only one stage of canonical texts. */
static Curriculum *build(const ChainLib *lib, uint64_t seed, WordTok *wt, int seq_len,
                         int canon_only, Err *e) {
    static StageSpec s[3];
    s[0] = test_stage("easy", 0, 0.0, canon_only ? 0 : 0.15, 40, 0, LOSS_TRAIL, 1);
    s[1] = test_stage("bridge", 1, 0, 0, 40, 0, LOSS_TRAIL, 1);
    s[2] = test_stage("hard", 0, 0.1, 0.5, 40, 0.3, LOSS_CONCLUSION, 1);
    CurriculumSpec spec = {
        s, canon_only ? 1 : 3, ORDER_CURRICULUM, 6, seed, seq_len, 0.05, 0.3, 2, "batch.seq_len", 0,
        3};
    CurriculumTokenizer tok = {word_tokenize, word_len, wt, WORD_EOT};
    Curriculum *c = NULL;
    curriculum_build(&c, lib, &spec, &tok, e);
    return c;
}

static void test_curriculum(const ChainLib *lib, WordTok *wt) {
    Err e;
    Curriculum *c = NULL;
    int forms = chainlib_find(lib, "ty-forms"), nonce = chainlib_find(lib, "ty-nonce");
    uint64_t seed = 1;
    for (; seed < 100; seed++) { /* ty-forms and ty-nonce trained, a typed chain held out */
        c = build(lib, seed, wt, T, 0, &e);
        CHECK(c != NULL, "typed curriculum builds: %s", e.msg);
        if (!c) return;
        int typed_out = 0;
        for (int ch = 0; ch < lib->n_chains; ch++)
            typed_out |= curriculum_chain_heldout(c, ch) && lib->chains[ch].n_typed > 0;
        if (typed_out && !curriculum_chain_heldout(c, forms) && !curriculum_chain_heldout(c, nonce))
            break;
        curriculum_free(c);
        c = NULL;
    }
    CHECK(c != NULL, "a seed with a typed held-out chain");
    if (!c) return;
    static NonceSet ntr, nho;
    nonce_set(&ntr, seed, LEX_TRAIN);
    nonce_set(&nho, seed, LEX_HELDOUT);

    /* training rows */
    static int32_t in[T], tg[T];
    static float w[T];
    static char text[4096], seq[512], v[NONCE_MAX];
    static char keys[1000][512];
    int n_rows = 0, leaks = 0, none = 0, nonce_bad = 0, n_nonce = 0, redrawn = 0, n_keys = 0;
    int64_t G = 100;
    for (int st = 0; st < 3; st++)
        for (int64_t step = 0; step < 40; step++)
            for (int64_t i = 0; i < G; i++) {
                SamplePick pk;
                curriculum_pick(c, st, step, i, G, &pk);
                if (lib->chains[pk.chain].n_typed == 0) continue;
                curriculum_sample(c, st, step, i, G, in, tg, w);
                row_text(wt, in, T, text, sizeof text);
                n_rows++;
                PoolItemView pv;
                curriculum_pool_item(c, pk.pool, pk.item, &pv);
                redrawn += strcmp(pv.text, text) != 0;
                if (pk.chain == nonce) {
                    nonce_answer(text, v, sizeof v);
                    nonce_bad += !nonce_in(&ntr, v) || nonce_in(&nho, v);
                    n_nonce++;
                    continue;
                }
                int cnt[2];
                entities(lib, text, cnt, seq, sizeof seq);
                leaks += cnt[LEX_HELDOUT] > 0;
                none += cnt[LEX_TRAIN] == 0;
                if (leaks == 1 && cnt[LEX_HELDOUT] > 0) fprintf(stderr, "leak: %s\n", text);
                if (pk.chain == forms && n_keys < 1000) memcpy(keys[n_keys++], seq, sizeof seq);
            }
    CHECK(n_rows > 3000 && n_nonce > 200, "%d typed rows (%d of ty-nonce)", n_rows, n_nonce);
    CHECK(leaks == 0, "no training row holds a held-out entry (%d do)", leaks);
    CHECK(none == 0, "every typed training row holds a training entry (%d do not)", none);
    CHECK(nonce_bad == 0, "ty-nonce rows: training nonce words only (%d bad)", nonce_bad);
    CHECK(redrawn > n_rows * 9 / 10, "rows are drawn afresh: %d of %d differ from their pool item",
          redrawn, n_rows);
    qsort(keys, (size_t)n_keys, sizeof keys[0], cmp_word);
    int distinct = n_keys > 0;
    for (int k = 1; k < n_keys; k++) distinct += strcmp(keys[k], keys[k - 1]) != 0;
    CHECK(n_keys == 1000 && distinct >= 950,
          "fresh tuples: %d distinct (A, B, X) of %d ty-forms samples", distinct, n_keys);

    /* eval sets */
    int n, bad = 0, per_chain[16] = {0};
    const EvalItem *it = curriculum_eval(c, EVAL_HELDOUT_ENTITIES, &n);
    for (int k = 0; k < n; k++) {
        const Chain *ch = &lib->chains[it[k].chain];
        per_chain[it[k].chain]++;
        if (ch->n_typed == 0) {
            bad += it[k].tuple != ch->n_tuples - 1;
            continue;
        }
        if (it[k].chain == nonce) {
            nonce_answer(it[k].text, v, sizeof v);
            bad += !nonce_in(&nho, v) || nonce_in(&ntr, v);
            continue;
        }
        int cnt[2];
        entities(lib, it[k].text, cnt, NULL, 0);
        bad += cnt[LEX_TRAIN] > 0 || cnt[LEX_HELDOUT] == 0;
        if (cnt[LEX_TRAIN] > 0)
            fprintf(stderr, "held-out item with a training entry: %s\n", it[k].text);
    }
    CHECK(bad == 0, "heldout_entities: typed chains only held-out entries, untyped the last tuple");
    int counts_ok = 1;
    for (int ch = 0; ch < lib->n_chains; ch++)
        counts_ok &= per_chain[ch] == (curriculum_chain_heldout(c, ch) ? 0
                                       : lib->chains[ch].n_typed > 0   ? 3
                                                                       : 1);
    CHECK(counts_ok, "heldout_entity_draws = 3 items per trained typed chain, 1 per untyped one");
    int splits[3] = {EVAL_TRAIN, EVAL_HELDOUT_VARIANTS, EVAL_HELDOUT_CHAINS};
    int typed_out = 0;
    for (int s = 0; s < 3; s++) {
        it = curriculum_eval(c, (EvalSplit)splits[s], &n);
        bad = 0;
        for (int k = 0; k < n; k++) { /* variants: the answer, which noise never touches */
            if (lib->chains[it[k].chain].n_typed == 0 || it[k].chain == nonce) continue;
            int cnt[2];
            const char *txt =
                it[k].text + (splits[s] == EVAL_HELDOUT_VARIANTS ? it[k].answer_start : 0);
            entities(lib, txt, cnt, NULL, 0);
            bad += cnt[LEX_HELDOUT] > 0 || cnt[LEX_TRAIN] == 0;
            typed_out += splits[s] == EVAL_HELDOUT_CHAINS;
        }
        CHECK(bad == 0, "%s: typed chains drawn from the training partition",
              eval_split_name((EvalSplit)splits[s]));
        if (bad)
            for (int k = 0; k < n; k++) {
                if (lib->chains[it[k].chain].n_typed == 0 || it[k].chain == nonce) continue;
                int cnt[2];
                entities(lib,
                         it[k].text + (splits[s] == EVAL_HELDOUT_VARIANTS ? it[k].answer_start : 0),
                         cnt, seq, sizeof seq);
                if (cnt[LEX_HELDOUT] > 0 || cnt[LEX_TRAIN] == 0)
                    fprintf(stderr, "  %s [%s]\n", it[k].text, seq);
            }
    }
    CHECK(typed_out == CHAIN_MIN_TUPLES, "a typed held-out chain without fillers: %d items (4)",
          typed_out);

    /* same rows on any rank split and call order, and after a rebuild */
    enum { GB = 48 };
    static int32_t a_in[GB][T], b_in[GB][T], a_tg[GB][T], b_tg[GB][T];
    static float a_w[GB][T], b_w[GB][T];
    Curriculum *c2 = build(lib, seed, wt, T, 0, &e);
    int same = c2 != NULL;
    for (int st = 0; same && st < 3; st++)
        for (int64_t step = 0; step < 6; step++) {
            for (int i = 0; i < GB; i++)
                curriculum_sample(c, st, step, i, GB, a_in[i], a_tg[i], a_w[i]);
            for (int r = 0; r < 3; r++) /* 3 "ranks", each its slice, last rank first */
                for (int i = (2 - r) * GB / 3; i < (3 - r) * GB / 3; i++)
                    curriculum_sample(r == 1 ? c2 : c, st, step, i, GB, b_in[i], b_tg[i], b_w[i]);
            same &= memcmp(a_in, b_in, sizeof a_in) == 0 && memcmp(a_tg, b_tg, sizeof a_tg) == 0 &&
                    memcmp(a_w, b_w, sizeof a_w) == 0;
        }
    CHECK(same, "typed rows: the same on any rank split, call order or rebuild");
    curriculum_free(c2);
    curriculum_free(c);
}

/* The worst case: ty-forms with "deep sea diver" (3 tokens) where its canonical draw fits. */
static void test_length_check(const ChainLib *lib, WordTok *wt) {
    int forms = chainlib_find(lib, "ty-forms");
    Err e;
    for (uint64_t seed = 1; seed < 50; seed++) {
        RenderSpec s;
        variant_canonical(lib, forms, seed, &s);
        Rendered r = {0};
        int32_t *ids;
        int n;
        chain_render(lib, forms, &s, &r, &e);
        tokenize_alloc(word_tokenize, wt, r.text, r.len, &ids, &n, &e);
        int long_entry = strstr(r.text, "diver") || strstr(r.text, "driver") ||
                         strstr(r.text, "guinea") || strstr(r.text, "polar");
        rendered_free(&r);
        xfree(ids);
        if (long_entry) continue;
        int seq_len = n + 1; /* the canonical draw fits exactly (EOT, n tokens, EOT) */
        Curriculum *c = build(lib, seed, wt, seq_len, 1, &e);
        CHECK(c == NULL, "a typed chain too long with its longest entries fails the build");
        CHECK(strstr(e.msg,
                     "tests/data/chains/typed.cfg:25: chain \"ty-forms\" (tuple 0, training "
                     "partition) rendered with the longest entries of its slot types (") == e.msg,
              "names file:line, chain and split: %s", e.msg);
        CHECK_CONTAINS(e.msg, "X = \"deep sea diver\")");
        CHECK_CONTAINS(e.msg, "guinea pig");
        CHECK_CONTAINS(e.msg, "polar bear");
        char want[128];
        snprintf(want, sizeof want,
                 "but batch.seq_len is %d; shorten its templates, filter the "
                 "longest entries out of its lexicons, or raise batch.seq_len",
                 seq_len);
        CHECK_CONTAINS(e.msg, want);
        curriculum_free(c);
        c = build(lib, seed, wt, seq_len + 80, 1, &e);
        CHECK(c != NULL, "with room for the longest entries it builds: %s", e.msg);
        curriculum_free(c);
        return;
    }
    CHECK(0, "no seed with a short canonical draw");
}

/* ---- untyped libraries: the bits of before -----------------------------------------------------
 */

/* Pools, eval sets and rows of tests/data/chains/mini*.cfg under a byte tokenizer, hashed; the
 * constant was computed with the code before typed slots (commit c9dd3d4). */
static void test_untyped_unchanged(void) {
    const char *paths[] = {"tests/data/chains/mini.cfg", "tests/data/chains/mini_ru.cfg"};
    ChainLib *lib;
    Err e;
    if (chainlib_load(&lib, paths, 2, &e) != 0) {
        CHECK(0, "mini libraries load: %s", e.msg);
        return;
    }
    StageSpec s[3];
    const double b[3][2] = {{0, 0.15}, {0, 0}, {0.1, 0.5}};
    for (int k = 0; k < 3; k++) {
        s[k] = test_stage("s", k == 1, b[k][0], b[k][1], 50, k == 2 ? 0.3 : 0, (LossMask)k, 1);
        snprintf(s[k].name, sizeof s[k].name, "s%d", k);
        s[k].anchor_weight = 2;
        s[k].lr_scale = 0;
    }
    CurriculumSpec spec = {.stages = s,
                           .n_stages = 3,
                           .order = ORDER_CURRICULUM,
                           .variants_per_band = 6,
                           .seed = 77,
                           .seq_len = 256,
                           .heldout_variant_band_lo = 0.05,
                           .heldout_variant_band_hi = 0.3};
    CurriculumTokenizer tok = {byte_tokenize, byte_len, NULL, BYTE_EOT};
    Curriculum *c;
    CHECK(curriculum_build(&c, lib, &spec, &tok, &e) == 0, "untyped build: %s", e.msg);
    uint64_t h = 0;
    for (int p = 0; p < curriculum_n_pools(c); p++) {
        PoolStats st;
        curriculum_pool_stats(c, p, &st);
        for (int i = 0; i < st.n_items; i++) {
            PoolItemView v;
            curriculum_pool_item(c, p, i, &v);
            h = hash_fnv1a64(v.text, strlen(v.text) + 1, h);
            h = hash_fnv1a64(&v.volatility, 8, h);
        }
    }
    for (int sp = 0; sp < EVAL_COUNT; sp++) {
        int n;
        const EvalItem *it = curriculum_eval(c, (EvalSplit)sp, &n);
        for (int i = 0; i < n; i++) {
            h = hash_fnv1a64(it[i].text, strlen(it[i].text) + 1, h);
            h = hash_fnv1a64(&it[i].tuple, 4, h);
        }
    }
    static int32_t in[256], tg[256];
    static float w[256];
    for (int st = 0; st < 3; st++)
        for (int step = 0; step < 20; step++)
            for (int i = 0; i < 16; i++) {
                curriculum_sample(c, st, step, i, 16, in, tg, w);
                h = hash_fnv1a64(in, sizeof in, h);
                h = hash_fnv1a64(tg, sizeof tg, h);
                h = hash_fnv1a64(w, sizeof w, h);
            }
    CHECK(h == 0x3796acd6655b218fULL, "untyped pools, evals and rows as before: %016llx",
          (unsigned long long)h);
    curriculum_free(c);
    chainlib_free(lib);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/imprint-typed-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
    test_rules();
    test_nonce();
    test_errors();
    const char *paths[] = {TYPED};
    ChainLib *lib = NULL;
    Err e;
    CHECK(chainlib_load(&lib, paths, 1, &e) == 0, "typed.cfg loads: %s", e.msg);
    if (lib) {
        test_load_render(lib);
        WordTok *wt = calloc(1, sizeof *wt);
        if (wt) wt->apostrophe = 1; /* a lexicon entry with an apostrophe stays one word */
        test_curriculum(lib, wt);
        test_length_check(lib, wt);
        wordtok_free(wt);
        chainlib_free(lib);
    }
    test_untyped_unchanged();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0, "remove %s", tmpdir);
    return tl_finish("test_typed");
}
