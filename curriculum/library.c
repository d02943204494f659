/*
 * library.c — chain libraries: SHA-256, loading and validation (docs/chains.md), rendering.
 *
 * Layout: the hash, a small arena that owns everything a ChainLib holds, UTF-8 helpers (case of
 * a first letter, what counts as a letter), the loader, and the renderer.
 */
#define _POSIX_C_SOURCE 200809L
#include "library.h"
#include "sha256.h"

#include <libconfig.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: every string and array of a ChainLib ------------------------------------------- */

#define ARENA_HEADER 64
#define ARENA_BLOCK  (64 * 1024)

typedef struct ArenaBlock {
    struct ArenaBlock *next;
    size_t used, cap;
} ArenaBlock;

struct LibArena {
    ArenaBlock *head;
};

static void *arena_alloc(struct LibArena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->used + n > a->head->cap) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        ArenaBlock *b = xmalloc(ARENA_HEADER + cap, "chain library");
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)a->head + ARENA_HEADER + a->head->used;
    a->head->used += n;
    return p; /* zeroed: xmalloc zeroes the block */
}

static char *arena_strndup(struct LibArena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_free(struct LibArena *a) {
    if (!a) return;
    for (ArenaBlock *b = a->head, *next; b; b = next) {
        next = b->next;
        xfree(b);
    }
    xfree(a);
}

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/* Decodes the code point at s[0..n) (n >= 1) into *cp; returns its byte length (an invalid
 * byte decodes as itself, length 1). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n) {
        *cp = c;
        return 1;
    }
    if (len == 1) {
        *cp = c;
        return 1;
    }
    uint32_t v = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    *cp = v;
    return len;
}

static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(p + i, n - i, &cp);
        if (k == 1 && p[i] >= 0x80) return 0;
        i += k;
    }
    return 1;
}

/* Letters for word boundaries and noise: ASCII letters and digits, Latin-1 and Latin
 * Extended-A/B letters, Greek, Cyrillic. */
static int cp_is_letter(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp >= 0xc0 && cp <= 0x24f) return cp != 0xd7 && cp != 0xf7;
    return (cp >= 0x370 && cp <= 0x3ff) || (cp >= 0x400 && cp <= 0x52f);
}

/* Upper- (upper = 1) or lower-cases the first character of s[0..n) in place. Handles ASCII,
 * Latin-1, Greek and Cyrillic, whose cases have the same UTF-8 length; other text is kept. */
static void case_first(char *s, size_t n, int upper) {
    if (n == 0) return;
    unsigned char *p = (unsigned char *)s;
    if (p[0] < 0x80) {
        if (upper && p[0] >= 'a' && p[0] <= 'z') p[0] = (unsigned char)(p[0] - 32);
        if (!upper && p[0] >= 'A' && p[0] <= 'Z') p[0] = (unsigned char)(p[0] + 32);
        return;
    }
    uint32_t cp, to;
    if (utf8_decode(p, n, &cp) != 2) return;
    to = cp;
    if (upper) {
        if ((cp >= 0xe0 && cp <= 0xfe && cp != 0xf7) || (cp >= 0x430 && cp <= 0x44f) ||
            (cp >= 0x3b1 && cp <= 0x3c9 && cp != 0x3c2))
            to = cp - 0x20;
        else if (cp >= 0x450 && cp <= 0x45f)
            to = cp - 0x50;
    } else {
        if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x410 && cp <= 0x42f) ||
            (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2))
            to = cp + 0x20;
        else if (cp >= 0x400 && cp <= 0x40f)
            to = cp + 0x50;
    }
    p[0] = (unsigned char)(0xc0 | (to >> 6));
    p[1] = (unsigned char)(0x80 | (to & 0x3f));
}

/* ---- names ----------------------------------------------------------------------------------- */

static const char *const FORM_NAMES[FORM_COUNT] = {"if-then-but-however-therefore",
                                                   "modus-ponens",
                                                   "modus-tollens",
                                                   "syllogism",
                                                   "contrapositive",
                                                   "disjunctive-syllogism",
                                                   "cause-effect-exception",
                                                   "contradiction-theory",
                                                   "transitivity",
                                                   "analogy"};
static const char *const ROLE_NAMES[] = {"premise", "observation", "exception", "hypothesis",
                                         "conclusion"};

const char *chain_form_name(ChainForm f) {
    return f >= 0 && f < FORM_COUNT ? FORM_NAMES[f] : "?";
}

const char *step_role_name(StepRole r) {
    return r >= STEP_PREMISE && r <= STEP_CONCLUSION ? ROLE_NAMES[r] : "?";
}

/* The closest of names[0..n) to `s` if it is plausibly a typo, else NULL. */
static const char *closest(const char *s, const char *const *names, int n) {
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    return best;
}

static void join_names(char *out, size_t cap, const char *const *names, int n) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used + 1 < cap; i++) {
        int k = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (k < 0) break;
        used += (size_t)k;
    }
}

/* ---- the loader ------------------------------------------------------------------------------ */

typedef struct Loader {
    ChainLib *lib;
    int file;
    const char *path;
    Err *e;
} Loader;

static int line_of(const config_setting_t *s) {
    return s ? (int)config_setting_source_line(s) : 0;
}

/* "<path>:<line>: <message>" */
static int lerr(const Loader *L, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lerr(const Loader *L, const config_setting_t *at, const char *fmt, ...) {
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(L->e, "%s:%d: %s", L->path, line_of(at), msg);
}

/* Every child of `group` must be named in allowed[0..n). */
static int check_keys(const Loader *L, const config_setting_t *group, const char *what,
                      const char *const *allowed, int n) {
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        int ok = 0;
        for (int k = 0; k < n && !ok; k++) ok = strcmp(name, allowed[k]) == 0;
        if (ok) continue;
        char list[256];
        join_names(list, sizeof list, allowed, n);
        const char *near = closest(name, allowed, n);
        if (near)
            return lerr(L, s, "unknown key \"%s\" in %s; did you mean \"%s\"? (allowed: %s)", name,
                        what, near, list);
        return lerr(L, s, "unknown key \"%s\" in %s; allowed keys are: %s", name, what, list);
    }
    return 0;
}

static const config_setting_t *need(const Loader *L, const config_setting_t *group, const char *key,
                                    const char *what, const char *example) {
    const config_setting_t *s = config_setting_get_member(group, key);
    if (!s)
        lerr(L, group, "%s has no \"%s\"; add %s = %s (see docs/chains.md)", what, key, key,
             example);
    return s;
}

/* A string setting (valid UTF-8, non-empty) copied into the arena. */
static int get_string(const Loader *L, const config_setting_t *s, const char *what,
                      const char **out) {
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return lerr(L, s, "%s must be a string in double quotes; write it as \"...\"", what);
    const char *v = config_setting_get_string(s);
    if (!v[0]) return lerr(L, s, "%s is empty; give it some text", what);
    if (!utf8_valid(v)) return lerr(L, s, "%s is not valid UTF-8; save the file as UTF-8", what);
    *out = arena_strndup(L->lib->arena, v, strlen(v));
    return 0;
}

static int is_list(const config_setting_t *s) {
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY;
}

/* An array or list of n_min or more strings. */
static int get_strings(const Loader *L, const config_setting_t *s, const char *what, int n_min,
                       const char ***out, int *n_out) {
    if (!is_list(s))
        return lerr(L, s, "%s must be a list of strings; write [\"...\", \"...\"]", what);
    int n = config_setting_length(s);
    if (n < n_min)
        return lerr(L, s, "%s has %d entr%s; it needs at least %d", what, n, n == 1 ? "y" : "ies",
                    n_min);
    const char **v = arena_alloc(L->lib->arena, sizeof *v * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        if (get_string(L, config_setting_get_elem(s, (unsigned)i), what, &v[i]) != 0) return -1;
    *out = v;
    *n_out = n;
    return 0;
}

static int name_ok(const char *s, int upper_first) {
    if (upper_first ? !(s[0] >= 'A' && s[0] <= 'Z') : !(s[0] >= 'a' && s[0] <= 'z')) return 0;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

static int load_header(const Loader *L, const config_setting_t *root, LibFile *f) {
    static const char *const ROOT_KEYS[] = {"library", "connectives", "synonyms", "insertions",
                                            "chains"};
    static const char *const LIB_KEYS[] = {"name", "lang", "version"};
    if (check_keys(L, root, "the library file", ROOT_KEYS, 5) != 0) return -1;
    const config_setting_t *lib = need(L, root, "library", "the library file",
                                       "{ name = \"...\"; lang = \"en\"; version = 1; }");
    if (!lib) return -1;
    if (!config_setting_is_group(lib))
        return lerr(L, lib, "library must be a group; write library = { name = ...; };");
    if (check_keys(L, lib, "library", LIB_KEYS, 3) != 0) return -1;
    const config_setting_t *s;
    if (!(s = need(L, lib, "name", "library", "\"...\"")) ||
        get_string(L, s, "library.name", &f->name) != 0)
        return -1;
    if (!(s = need(L, lib, "lang", "library", "\"en\"")) ||
        get_string(L, s, "library.lang", &f->lang) != 0)
        return -1;
    if (!(s = need(L, lib, "version", "library", "1"))) return -1;
    if (config_setting_type(s) != CONFIG_TYPE_INT)
        return lerr(L, s, "library.version must be an integer; write version = 1;");
    f->version = config_setting_get_int(s);
    return 0;
}

static int load_vocab(const Loader *L, const config_setting_t *root, LibFile *f) {
    const config_setting_t *conns =
        need(L, root, "connectives", "the library file", "{ if = [\"If\", \"Suppose\"]; ... }");
    if (!conns) return -1;
    if (!config_setting_is_group(conns))
        return lerr(L, conns, "connectives must be a group; write connectives = { if = [...]; };");
    f->n_conns = config_setting_length(conns);
    f->conns = arena_alloc(L->lib->arena, sizeof *f->conns * (size_t)(f->n_conns + 1));
    for (int i = 0; i < f->n_conns; i++) {
        const config_setting_t *c = config_setting_get_elem(conns, (unsigned)i);
        const char *name = config_setting_name(c);
        if (!name_ok(name, 0))
            return lerr(L, c,
                        "connective name \"%s\" must start with a lower-case letter "
                        "([a-z][A-Za-z0-9_]*); rename it",
                        name);
        char what[128];
        snprintf(what, sizeof what, "connective \"%s\"", name);
        f->conns[i].name = arena_strndup(L->lib->arena, name, strlen(name));
        if (get_strings(L, c, what, 1, &f->conns[i].forms, &f->conns[i].n_forms) != 0) return -1;
    }
    const config_setting_t *syn = config_setting_get_member(root, "synonyms");
    if (syn) {
        if (!is_list(syn))
            return lerr(L, syn,
                        "synonyms must be a list of groups; write ( [\"big\", "
                        "\"large\"], ... )");
        f->n_synonyms = config_setting_length(syn);
        f->synonyms = arena_alloc(L->lib->arena, sizeof *f->synonyms * (size_t)(f->n_synonyms + 1));
        for (int i = 0; i < f->n_synonyms; i++)
            if (get_strings(L, config_setting_get_elem(syn, (unsigned)i), "a synonym group", 2,
                            &f->synonyms[i].words, &f->synonyms[i].n_words) != 0)
                return -1;
    }
    const config_setting_t *ins = config_setting_get_member(root, "insertions");
    if (ins && get_strings(L, ins, "insertions", 0, &f->insertions, &f->n_insertions) != 0)
        return -1;
    return 0;
}

/* Slot index in the chain's slot list, adding the name if new; -1 if the list is full. */
static int slot_index(ChainLib *lib, Chain *ch, const char *name, size_t n) {
    for (int i = 0; i < ch->n_slots; i++)
        if (strlen(ch->slots[i]) == n && memcmp(ch->slots[i], name, n) == 0) return i;
    if (ch->n_slots == CHAIN_MAX_SLOTS) return -1;
    ch->slots[ch->n_slots] = arena_strndup(lib->arena, name, n);
    return ch->n_slots++;
}

/* Parses a template into pieces. bars: 1 = exactly one `|` required, 0 = none allowed. */
static int parse_template(const Loader *L, Chain *ch, const config_setting_t *at, const char *src,
                          const char *what, int bars, Template *t) {
    const LibFile *f = &L->lib->files[L->file];
    size_t n = strlen(src);
    t->src = src;
    t->line = line_of(at);
    t->pieces = arena_alloc(L->lib->arena, sizeof *t->pieces * (n + 1));
    if (src[0] == ' ' || src[n - 1] == ' ')
        return lerr(L, at,
                    "%s \"%s\" starts or ends with a space; remove it (steps are joined "
                    "with one space)",
                    what, src);
    if (!strchr(".?!", src[n - 1]))
        return lerr(L, at, "%s \"%s\" does not end with '.', '?' or '!'; end the sentence", what,
                    src);
    int n_bars = 0;
    for (size_t i = 0; i < n;) {
        Piece *p = &t->pieces[t->n_pieces];
        if (src[i] == '|') {
            p->kind = PIECE_BAR;
            n_bars++;
            i++;
        } else if (src[i] == '}') {
            return lerr(L, at, "%s \"%s\" has a '}' with no '{' before it; remove it", what, src);
        } else if (src[i] == '{') {
            const char *close = strchr(src + i, '}');
            const char *open2 = strchr(src + i + 1, '{');
            if (!close || (open2 && open2 < close))
                return lerr(L, at, "%s \"%s\" has a '{' that is not closed; write {Name}", what,
                            src);
            const char *name = src + i + 1;
            size_t len = (size_t)(close - name);
            if (len > 0 && name[len - 1] == '^') {
                p->cap = 1;
                len--;
            }
            char buf[128];
            if (len == 0 || len >= sizeof buf)
                return lerr(L, at,
                            "%s \"%s\" has an empty or over-long placeholder; write {Slot} "
                            "or {connective}",
                            what, src);
            memcpy(buf, name, len);
            buf[len] = '\0';
            if (name_ok(buf, 1)) {
                p->kind = PIECE_SLOT;
                p->idx = slot_index(L->lib, ch, buf, len);
                if (p->idx < 0)
                    return lerr(L, at, "chain \"%s\" uses more than %d slots; use fewer", ch->id,
                                CHAIN_MAX_SLOTS);
            } else if (name_ok(buf, 0)) {
                p->kind = PIECE_CONN;
                p->idx = -1;
                for (int k = 0; k < f->n_conns; k++)
                    if (strcmp(f->conns[k].name, buf) == 0) p->idx = k;
                if (p->idx < 0) {
                    const char *names[256];
                    int nn = f->n_conns < 256 ? f->n_conns : 256;
                    for (int k = 0; k < nn; k++) names[k] = f->conns[k].name;
                    const char *near = closest(buf, names, nn);
                    char hint[160] = "";
                    if (near) snprintf(hint, sizeof hint, " (did you mean {%s}?)", near);
                    return lerr(L, at,
                                "%s uses unknown connective {%s}%s; define %s in "
                                "connectives or fix the name",
                                what, buf, hint, buf);
                }
                t->n_conns++;
            } else {
                return lerr(L, at,
                            "%s has a bad placeholder {%s}; write {Slot} (upper-case "
                            "first letter) or {connective} (lower-case)",
                            what, buf);
            }
            i = (size_t)(close - src) + 1;
        } else {
            size_t j = i;
            while (j < n && !strchr("{}|", src[j])) j++;
            p->kind = PIECE_TEXT;
            p->text = src + i;
            p->len = j - i;
            i = j;
        }
        t->n_pieces++;
    }
    if (bars && n_bars != 1)
        return lerr(L, at,
                    "%s must contain exactly one '|' (found %d); put one '|' where the "
                    "answer starts",
                    what, n_bars);
    if (!bars && n_bars)
        return lerr(L, at, "%s contains '|'; only the conclusion and foils may, remove it", what);
    return 0;
}

static int parse_role(const Loader *L, const config_setting_t *s, StepRole *out) {
    const char *v =
        config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : "";
    for (int r = STEP_PREMISE; r <= STEP_CONCLUSION; r++)
        if (strcmp(v, ROLE_NAMES[r]) == 0) {
            *out = (StepRole)r;
            return 0;
        }
    return lerr(L, s,
                "unknown step role \"%s\"; use one of premise, observation, exception, "
                "hypothesis, conclusion",
                v);
}

static int load_steps(const Loader *L, Chain *ch, const config_setting_t *steps) {
    static const char *const STEP_KEYS[] = {"role", "text", "swap"};
    if (config_setting_type(steps) != CONFIG_TYPE_LIST)
        return lerr(L, steps,
                    "steps of chain \"%s\" must be a list of groups; write steps = ( { "
                    "role = ...; text = ...; }, ... )",
                    ch->id);
    ch->n_steps = config_setting_length(steps);
    if (ch->n_steps < 2 || ch->n_steps > CHAIN_MAX_STEPS)
        return lerr(L, steps,
                    "chain \"%s\" has %d steps; give 2 to %d (premises, then the "
                    "conclusion)",
                    ch->id, ch->n_steps, CHAIN_MAX_STEPS);
    ch->steps = arena_alloc(L->lib->arena, sizeof *ch->steps * (size_t)ch->n_steps);
    for (int k = 0; k < ch->n_steps; k++) {
        const config_setting_t *g = config_setting_get_elem(steps, (unsigned)k);
        Step *st = &ch->steps[k];
        char what[128];
        snprintf(what, sizeof what, "step %d of chain \"%s\"", k + 1, ch->id);
        if (!config_setting_is_group(g))
            return lerr(L, g, "%s must be a group; write { role = ...; text = ...; }", what);
        if (check_keys(L, g, what, STEP_KEYS, 3) != 0) return -1;
        const config_setting_t *role = need(L, g, "role", what, "\"premise\"");
        const config_setting_t *text = need(L, g, "text", what, "\"...\"");
        const char *src;
        if (!role || !text || parse_role(L, role, &st->role) != 0 ||
            get_string(L, text, what, &src) != 0)
            return -1;
        st->line = line_of(g);
        int last = k == ch->n_steps - 1;
        if (st->role == STEP_CONCLUSION && !last)
            return lerr(L, g,
                        "%s is the conclusion but not the last step; move it to the end "
                        "(the conclusion is always last)",
                        what);
        if (last && st->role != STEP_CONCLUSION)
            return lerr(L, g,
                        "the last step of chain \"%s\" has role \"%s\"; the conclusion must "
                        "be the last step",
                        ch->id, ROLE_NAMES[st->role]);
        if (parse_template(L, ch, text, src, what, last, &st->t) != 0) return -1;
        ch->n_conn_occ += st->t.n_conns;
        const config_setting_t *swap = config_setting_get_member(g, "swap");
        if (swap) {
            if (config_setting_type(swap) != CONFIG_TYPE_INT || config_setting_get_int(swap) < 1)
                return lerr(L, swap, "swap of %s must be an integer >= 1; write swap = 1;", what);
            if (last)
                return lerr(L, swap,
                            "the conclusion of chain \"%s\" has swap; the conclusion "
                            "never moves, remove it",
                            ch->id);
            st->swap = config_setting_get_int(swap);
        }
    }
    if (ch->n_conn_occ > CHAIN_MAX_CONNS)
        return lerr(L, steps,
                    "chain \"%s\" has %d connective occurrences; at most %d are "
                    "supported",
                    ch->id, ch->n_conn_occ, CHAIN_MAX_CONNS);
    for (int k = 0; k < ch->n_steps; k++) {
        int same = 0;
        for (int j = 0; j < ch->n_steps; j++) same += ch->steps[j].swap == ch->steps[k].swap;
        if (ch->steps[k].swap && same < 2)
            return lerr(L, config_setting_get_elem(steps, (unsigned)k),
                        "step %d of chain \"%s\" is the only step with swap = %d; give at least "
                        "two steps the same swap number, or remove it",
                        k + 1, ch->id, ch->steps[k].swap);
    }
    return 0;
}

/* The template text before its `|` (length). */
static size_t prompt_part(const char *src) {
    const char *bar = strchr(src, '|');
    return bar ? (size_t)(bar - src) : strlen(src);
}

static int load_foils(const Loader *L, Chain *ch, const config_setting_t *foils) {
    const char **src;
    if (get_strings(L, foils, "foils", 0, &src, &ch->n_foils) != 0) return -1;
    ch->foils = arena_alloc(L->lib->arena, sizeof *ch->foils * (size_t)(ch->n_foils + 1));
    const char *concl = ch->steps[ch->n_steps - 1].t.src;
    for (int k = 0; k < ch->n_foils; k++) {
        const config_setting_t *at = config_setting_get_elem(foils, (unsigned)k);
        char what[128];
        snprintf(what, sizeof what, "foil %d of chain \"%s\"", k + 1, ch->id);
        if (parse_template(L, ch, at, src[k], what, 1, &ch->foils[k]) != 0) return -1;
        size_t np = prompt_part(concl);
        if (prompt_part(src[k]) != np || memcmp(src[k], concl, np) != 0)
            return lerr(L, at,
                        "%s must start like the conclusion up to its '|' (\"%.*s|\"); only "
                        "the answer after '|' may differ",
                        what, (int)np, concl);
    }
    return 0;
}

static int load_fillers(const Loader *L, Chain *ch, const config_setting_t *fillers) {
    if (config_setting_type(fillers) != CONFIG_TYPE_LIST)
        return lerr(L, fillers,
                    "fillers of chain \"%s\" must be a list of groups; write fillers "
                    "= ( { P = \"...\"; }, ... )",
                    ch->id);
    ch->n_tuples = config_setting_length(fillers);
    if (ch->n_tuples < CHAIN_MIN_TUPLES)
        return lerr(L, fillers,
                    "chain \"%s\" has %d filler tuple%s; give at least %d (the first "
                    "is canonical, the last is held out)",
                    ch->id, ch->n_tuples, ch->n_tuples == 1 ? "" : "s", CHAIN_MIN_TUPLES);
    ch->values =
        arena_alloc(L->lib->arena, sizeof *ch->values * (size_t)(ch->n_tuples * ch->n_slots + 1));
    for (int t = 0; t < ch->n_tuples; t++) {
        const config_setting_t *g = config_setting_get_elem(fillers, (unsigned)t);
        if (!config_setting_is_group(g))
            return lerr(L, g,
                        "filler tuple %d of chain \"%s\" must be a group; write { P = "
                        "\"...\"; }",
                        t + 1, ch->id);
        for (int i = 0; i < config_setting_length(g); i++) {
            const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
            const char *name = config_setting_name(s);
            int slot = -1;
            for (int k = 0; k < ch->n_slots; k++)
                if (strcmp(ch->slots[k], name) == 0) slot = k;
            if (slot < 0)
                return lerr(L, s,
                            "filler tuple %d of chain \"%s\" binds slot %s, which no step "
                            "or foil uses; remove it or use {%s} in a template",
                            t + 1, ch->id, name, name);
            char what[160];
            snprintf(what, sizeof what, "slot %s of filler tuple %d of chain \"%s\"", name, t + 1,
                     ch->id);
            if (get_string(L, s, what, &ch->values[t * ch->n_slots + slot]) != 0) return -1;
        }
        for (int k = 0; k < ch->n_slots; k++)
            if (!ch->values[t * ch->n_slots + k])
                return lerr(L, g,
                            "filler tuple %d of chain \"%s\" does not bind slot %s; add %s "
                            "= \"...\" (every tuple binds every slot)",
                            t + 1, ch->id, ch->slots[k], ch->slots[k]);
    }
    return 0;
}

static int id_ok(const char *s) {
    if (!s[0] || strlen(s) >= CHAIN_ID_MAX) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
    return 1;
}

static int load_chain(const Loader *L, const config_setting_t *g, Chain *ch) {
    static const char *const CHAIN_KEYS[] = {"id", "form", "fillers", "steps", "foils"};
    ch->file = L->file;
    ch->line = line_of(g);
    if (!config_setting_is_group(g))
        return lerr(L, g, "a chain must be a group; write { id = ...; form = ...; ... }");
    const config_setting_t *id = need(L, g, "id", "a chain", "\"my-chain\"");
    if (!id) return -1;
    const char *v =
        config_setting_type(id) == CONFIG_TYPE_STRING ? config_setting_get_string(id) : "";
    if (!id_ok(v))
        return lerr(L, id,
                    "chain id \"%s\" is not valid; use 1 to %d characters from "
                    "[a-z0-9-]",
                    v, CHAIN_ID_MAX - 1);
    snprintf(ch->id, sizeof ch->id, "%s", v);
    char what[128];
    snprintf(what, sizeof what, "chain \"%s\"", ch->id);
    if (check_keys(L, g, what, CHAIN_KEYS, 5) != 0) return -1;
    for (Chain *o = L->lib->chains; o < ch; o++)
        if (strcmp(o->id, ch->id) == 0)
            return lerr(L, id,
                        "chain id \"%s\" is already used at %s:%d; ids must be unique "
                        "across all loaded libraries, rename one",
                        ch->id, L->lib->files[o->file].path, o->line);

    const config_setting_t *form = need(L, g, "form", what, "\"modus-ponens\"");
    if (!form) return -1;
    const char *fv =
        config_setting_type(form) == CONFIG_TYPE_STRING ? config_setting_get_string(form) : "";
    ch->form = FORM_COUNT;
    for (int k = 0; k < FORM_COUNT; k++)
        if (strcmp(fv, FORM_NAMES[k]) == 0) ch->form = (ChainForm)k;
    if (ch->form == FORM_COUNT) {
        const char *near = closest(fv, FORM_NAMES, FORM_COUNT);
        char list[512];
        join_names(list, sizeof list, FORM_NAMES, FORM_COUNT);
        if (near)
            return lerr(L, form, "unknown form \"%s\" in %s; did you mean \"%s\"? (forms: %s)", fv,
                        what, near, list);
        return lerr(L, form, "unknown form \"%s\" in %s; use one of: %s", fv, what, list);
    }

    ch->slots = arena_alloc(L->lib->arena, sizeof *ch->slots * CHAIN_MAX_SLOTS);
    const config_setting_t *steps = need(L, g, "steps", what, "( { role = ...; text = ...; } )");
    if (!steps || load_steps(L, ch, steps) != 0) return -1;
    const config_setting_t *foils = config_setting_get_member(g, "foils");
    if (foils && load_foils(L, ch, foils) != 0) return -1;
    const config_setting_t *fillers = need(L, g, "fillers", what, "( { P = \"...\"; }, ... )");
    if (!fillers || load_fillers(L, ch, fillers) != 0) return -1;
    return 0;
}

/* Parses one file's text; chains go to lib->chains[*n_chains ...). */
static int load_file(ChainLib *lib, int file, const char *text, int *n_chains, Err *e) {
    LibFile *f = &lib->files[file];
    Loader L = {lib, file, f->path, e};
    config_t cfg;
    config_init(&cfg);
    int rc = 0;
    if (config_read_string(&cfg, text) != CONFIG_TRUE) {
        const char *msg = config_error_text(&cfg);
        rc = err_set(e,
                     "%s:%d: %s; fix the syntax (libconfig: key = value; lists in ( ), arrays "
                     "in [ ])",
                     f->path, config_error_line(&cfg), msg ? msg : "syntax error");
    }
    const config_setting_t *root = config_root_setting(&cfg);
    if (rc == 0) rc = load_header(&L, root, f);
    if (rc == 0) rc = load_vocab(&L, root, f);
    const config_setting_t *chains = NULL;
    if (rc == 0 && !(chains = need(&L, root, "chains", "the library file", "( { id = ...; } )")))
        rc = -1;
    if (rc == 0 && config_setting_type(chains) != CONFIG_TYPE_LIST)
        rc = lerr(&L, chains, "chains must be a list of groups; write chains = ( { ... }, ... );");
    for (int i = 0; rc == 0 && i < config_setting_length(chains); i++)
        rc = load_chain(&L, config_setting_get_elem(chains, (unsigned)i),
                        &lib->chains[(*n_chains)++]);
    config_destroy(&cfg);
    return rc;
}

/* Counts the entries of the top-level "chains" list without validating anything else. */
static int count_chains(const char *text) {
    config_t cfg;
    config_init(&cfg);
    int n = 0;
    if (config_read_string(&cfg, text) == CONFIG_TRUE) {
        const config_setting_t *c = config_lookup(&cfg, "chains");
        if (c) n = config_setting_length(c);
    }
    config_destroy(&cfg);
    return n;
}

int chainlib_load(ChainLib **out, const char *const *paths, int n_paths, Err *e) {
    *out = NULL;
    if (n_paths < 1) return err_set(e, "chain library: no files given; name at least one");
    ChainLib *lib = xmalloc(sizeof *lib, "chain library");
    lib->arena = xmalloc(sizeof *lib->arena, "chain library");
    lib->n_files = n_paths;
    lib->files = arena_alloc(lib->arena, sizeof *lib->files * (size_t)n_paths);
    char **texts = xmalloc(sizeof *texts * (size_t)n_paths, "chain library texts");
    char *digests = xmalloc((size_t)n_paths * 64 + 1, "chain library digests");
    int rc = 0, total = 0;
    for (int i = 0; rc == 0 && i < n_paths; i++) {
        LibFile *f = &lib->files[i];
        f->path = arena_strndup(lib->arena, paths[i], strlen(paths[i]));
        size_t len = 0;
        texts[i] = file_read_all(paths[i], &len, e);
        if (!texts[i]) {
            rc = -1;
        } else if (strlen(texts[i]) != len) {
            rc = err_set(e, "%s: contains a NUL byte; a chain library must be a text file",
                         paths[i]);
        } else {
            sha256_hex(texts[i], len, f->sha256);
            memcpy(digests + 64 * i, f->sha256, 64);
            total += count_chains(texts[i]);
        }
    }
    if (rc == 0) {
        lib->chains = arena_alloc(lib->arena, sizeof *lib->chains * (size_t)(total + 1));
        for (int i = 0; rc == 0 && i < n_paths; i++)
            rc = load_file(lib, i, texts[i], &lib->n_chains, e);
        sha256_hex(digests, (size_t)n_paths * 64, lib->hash);
    }
    for (int i = 0; i < n_paths; i++) free(texts[i]);
    xfree(texts);
    xfree(digests);
    if (rc != 0) {
        chainlib_free(lib);
        return -1;
    }
    *out = lib;
    return 0;
}

void chainlib_free(ChainLib *lib) {
    if (!lib) return;
    arena_free(lib->arena);
    xfree(lib);
}

int chainlib_forms_covered(const ChainLib *lib, int file) {
    int seen[FORM_COUNT] = {0}, n = 0;
    for (int i = 0; i < lib->n_chains; i++)
        if (file < 0 || lib->chains[i].file == file) seen[lib->chains[i].form] = 1;
    for (int k = 0; k < FORM_COUNT; k++) n += seen[k];
    return n;
}

int chainlib_find(const ChainLib *lib, const char *id) {
    for (int i = 0; i < lib->n_chains; i++)
        if (strcmp(lib->chains[i].id, id) == 0) return i;
    return -1;
}

const char *chainlib_hash(const ChainLib *lib) {
    return lib->hash;
}

const char *chain_value(const Chain *ch, int tuple, const char *slot) {
    if (tuple < 0 || tuple >= ch->n_tuples) return NULL;
    for (int k = 0; k < ch->n_slots; k++)
        if (strcmp(ch->slots[k], slot) == 0) return ch->values[tuple * ch->n_slots + k];
    return NULL;
}

/* ---- rendering ------------------------------------------------------------------------------- */

/* The text being built: bytes with a role and a step (template index) each. Steps are kept
 * contiguous and in template order until the final join. */
typedef struct Work {
    char *b;
    uint8_t *role, *step;
    size_t n, cap;
} Work;

static void work_splice(Work *w, size_t pos, size_t del, const char *ins, size_t n_ins,
                        uint8_t role, uint8_t step) {
    size_t need = w->n - del + n_ins + 1;
    if (need > w->cap) {
        size_t cap = need * 2 + 256;
        char *b = xmalloc(cap, "render buffer");
        uint8_t *r = xmalloc(cap, "render roles"), *s = xmalloc(cap, "render steps");
        if (w->n) {
            memcpy(b, w->b, w->n);
            memcpy(r, w->role, w->n);
            memcpy(s, w->step, w->n);
        }
        xfree(w->b);
        xfree(w->role);
        xfree(w->step);
        w->b = b;
        w->role = r;
        w->step = s;
        w->cap = cap;
    }
    size_t tail = w->n - pos - del;
    memmove(w->b + pos + n_ins, w->b + pos + del, tail);
    memmove(w->role + pos + n_ins, w->role + pos + del, tail);
    memmove(w->step + pos + n_ins, w->step + pos + del, tail);
    if (n_ins) memmove(w->b + pos, ins, n_ins);
    memset(w->role + pos, role, n_ins);
    memset(w->step + pos, step, n_ins);
    w->n = w->n - del + n_ins;
}

/* Appends s[0..n), its first letter re-cased: case_mode +1 upper, -1 lower, 0 as is. */
static void work_push(Work *w, const char *s, size_t n, int case_mode, uint8_t role, uint8_t step) {
    size_t at = w->n;
    work_splice(w, at, 0, s, n, role, step);
    if (case_mode) case_first(w->b + at, n, case_mode > 0);
}

static void work_free(Work *w) {
    xfree(w->b);
    xfree(w->role);
    xfree(w->step);
}

/* Insertion sites of one template: its start (if it begins with a connective or a {X^} slot)
 * and after every connective before the `|`. */
static int template_start_site(const Template *t) {
    return t->n_pieces > 0 && (t->pieces[0].kind == PIECE_CONN ||
                               (t->pieces[0].kind == PIECE_SLOT && t->pieces[0].cap));
}

static int template_sites(const Template *t) {
    int n = template_start_site(t);
    for (int i = 0; i < t->n_pieces && t->pieces[i].kind != PIECE_BAR; i++)
        n += t->pieces[i].kind == PIECE_CONN;
    return n;
}

int chain_insert_sites(const ChainLib *lib, int chain) {
    const Chain *ch = &lib->chains[chain];
    int n = 0;
    for (int k = 0; k < ch->n_steps; k++) n += template_sites(&ch->steps[k].t);
    return n;
}

typedef struct Expander {
    const ChainLib *lib;
    const Chain *ch;
    const LibFile *f;
    const RenderSpec *spec;
    int n_sites; /* 0 if there is nothing to insert */
    int site;    /* running site number */
} Expander;

/* Appends the insertion phrases of the current site and moves to the next site. At a step's
 * start (at_start) they open the sentence ("In fact, "); after a connective they follow it
 * (" in fact"). Returns how many were added. */
static int emit_insertions(Expander *x, Work *w, int at_start, uint8_t role, uint8_t step) {
    int added = 0;
    if (x->n_sites > 0)
        for (int k = 0; k < x->spec->n_ins; k++) {
            if ((int)(x->spec->ins[k].site % (uint32_t)x->n_sites) != x->site) continue;
            const char *p = x->f->insertions[x->spec->ins[k].phrase % (uint32_t)x->f->n_insertions];
            if (at_start) {
                work_push(w, p, strlen(p), added == 0 ? 1 : 0, role, step);
                work_push(w, ", ", 2, 0, role, step);
            } else {
                work_push(w, " ", 1, 0, role, step);
                work_push(w, p, strlen(p), 0, role, step);
            }
            added++;
        }
    x->site++;
    return added;
}

/* Expands template t (step number `step`, connective occurrences from conn_base) into w. */
static void expand(Expander *x, Work *w, const Template *t, uint8_t step, int is_conclusion,
                   int conn_base) {
    uint8_t region = is_conclusion ? BYTE_PROMPT : BYTE_STEP;
    int decap = 0;
    if (template_start_site(t)) decap = emit_insertions(x, w, 1, region, step) > 0;
    int occ = conn_base;
    for (int i = 0; i < t->n_pieces; i++) {
        const Piece *p = &t->pieces[i];
        int case_mode = i == 0 && decap ? -1 : p->cap ? 1 : 0;
        if (p->kind == PIECE_TEXT) {
            work_push(w, p->text, p->len, 0, region, step);
        } else if (p->kind == PIECE_SLOT) {
            const char *v = x->ch->values[x->spec->tuple * x->ch->n_slots + p->idx];
            work_push(w, v, strlen(v), case_mode == -1 ? 0 : case_mode, region, step);
        } else if (p->kind == PIECE_CONN) {
            const Connective *c = &x->f->conns[p->idx];
            int choice = occ < CHAIN_MAX_CONNS ? x->spec->conn[occ] % c->n_forms : 0;
            const char *form = c->forms[choice];
            int in_answer = region == BYTE_ANSWER;
            work_push(w, form, strlen(form), case_mode, in_answer ? BYTE_ANSWER : BYTE_CONNECTIVE,
                      step);
            if (!in_answer) emit_insertions(x, w, 0, region, step);
            occ++;
        } else {
            region = BYTE_ANSWER;
        }
    }
}

static size_t prev_cp_start(const Work *w, size_t i) {
    size_t j = i - 1;
    while (j > 0 && ((unsigned char)w->b[j] & 0xc0) == 0x80) j--;
    return j;
}

static int letter_at(const Work *w, size_t i, size_t *len) {
    uint32_t cp;
    *len = utf8_decode((const unsigned char *)w->b + i, w->n - i, &cp);
    return cp_is_letter(cp);
}

/* Same role and step as byte i (a word may not cross either boundary). */
static int same_region(const Work *w, size_t i, size_t j) {
    return w->role[i] == w->role[j] && w->step[i] == w->step[j];
}

static int word_start(const Work *w, size_t i) {
    size_t len;
    if (i == 0) return 1;
    size_t j = prev_cp_start(w, i);
    return !same_region(w, i, j) || !letter_at(w, j, &len);
}

typedef struct SynMatch {
    size_t pos, len;
    int group, member, capitalised;
} SynMatch;

/* Does synonym `word` (or its capitalised form) occur at i as a whole word inside one region? */
static int syn_match_at(const Work *w, size_t i, const char *word, int *capitalised) {
    size_t n = strlen(word);
    if (i + n > w->n) return 0;
    for (size_t k = 1; k < n; k++)
        if (!same_region(w, i, i + k)) return 0;
    if (i + n < w->n) {
        size_t len;
        if (same_region(w, i, i + n) && letter_at(w, i + n, &len)) return 0;
    }
    if (memcmp(w->b + i, word, n) == 0) {
        *capitalised = 0;
        return 1;
    }
    char buf[256];
    if (n >= sizeof buf) return 0;
    memcpy(buf, word, n);
    case_first(buf, n, 1);
    if (memcmp(buf, word, n) != 0 && memcmp(w->b + i, buf, n) == 0) {
        *capitalised = 1;
        return 1;
    }
    return 0;
}

/* Counts synonym occurrences outside connectives and the answer; fills *m with number `want`
 * (if want >= 0). At each word start the longest matching member wins. */
static int find_synonyms(const Work *w, const LibFile *f, int want, SynMatch *m) {
    int count = 0;
    for (size_t i = 0; i < w->n;) {
        size_t step_len = 1;
        SynMatch best = {0, 0, -1, -1, 0};
        int eligible = w->role[i] == BYTE_STEP || w->role[i] == BYTE_PROMPT;
        if (eligible && word_start(w, i))
            for (int g = 0; g < f->n_synonyms; g++)
                for (int k = 0; k < f->synonyms[g].n_words; k++) {
                    const char *word = f->synonyms[g].words[k];
                    int cap;
                    if (strlen(word) > best.len && syn_match_at(w, i, word, &cap))
                        best = (SynMatch){i, strlen(word), g, k, cap};
                }
        if (best.group >= 0) {
            if (count == want) *m = best;
            count++;
            step_len = best.len;
        } else {
            letter_at(w, i, &step_len);
        }
        i += step_len;
    }
    return count;
}

static void apply_synonym(Work *w, const LibFile *f, const SynonymEdit *ed) {
    SynMatch m;
    int n = find_synonyms(w, f, -1, &m);
    if (n == 0) return;
    find_synonyms(w, f, (int)(ed->occurrence % (uint32_t)n), &m);
    const SynonymGroup *g = &f->synonyms[m.group];
    int k = (int)(ed->member % (uint32_t)(g->n_words - 1));
    if (k >= m.member) k++;
    const char *word = g->words[k];
    uint8_t role = w->role[m.pos], step = w->step[m.pos];
    work_splice(w, m.pos, m.len, word, strlen(word), role, step);
    if (m.capitalised) case_first(w->b + m.pos, strlen(word), 1);
}

/* Counts noise-eligible words (>= 3 letters, plain text of a non-conclusion step); fills
 * (*pos, *len) with word number `want`. */
static int find_words(const Work *w, int want, size_t *pos, size_t *len) {
    int count = 0;
    for (size_t i = 0; i < w->n;) {
        size_t l;
        int letter = letter_at(w, i, &l);
        if (w->role[i] != BYTE_STEP || !letter) {
            i += l;
            continue;
        }
        size_t j = i, chars = 0;
        while (j < w->n && same_region(w, i, j) && letter_at(w, j, &l)) {
            j += l;
            chars++;
        }
        if (chars >= 3) {
            if (count == want) {
                *pos = i;
                *len = j - i;
            }
            count++;
        }
        i = j;
    }
    return count;
}

static void apply_noise(Work *w, const NoiseEdit *ed) {
    size_t pos = 0, len = 0;
    int n = find_words(w, -1, &pos, &len);
    if (n == 0) return;
    find_words(w, (int)(ed->word % (uint32_t)n), &pos, &len);
    size_t starts[256], lens[256], chars = 0;
    for (size_t i = pos; i < pos + len && chars < 256; chars++) {
        starts[chars] = i;
        letter_at(w, i, &lens[chars]);
        i += lens[chars];
    }
    uint8_t role = w->role[pos], step = w->step[pos];
    if (ed->kind == NOISE_SWAP) {
        size_t c = ed->pos % (chars - 1);
        char tmp[8];
        size_t la = lens[c], lb = lens[c + 1];
        memcpy(tmp, w->b + starts[c], la);
        memmove(w->b + starts[c], w->b + starts[c + 1], lb);
        memcpy(w->b + starts[c] + lb, tmp, la);
    } else {
        size_t c = ed->pos % chars;
        if (ed->kind == NOISE_DROP) {
            work_splice(w, starts[c], lens[c], NULL, 0, role, step);
        } else {
            char tmp[8];
            memcpy(tmp, w->b + starts[c], lens[c]);
            work_splice(w, starts[c], 0, tmp, lens[c], role, step);
        }
    }
}

static int check_spec(const Chain *ch, const RenderSpec *s, Err *e) {
    if (s->tuple < 0 || s->tuple >= ch->n_tuples)
        return err_set(e, "chain \"%s\": tuple %d out of range (it has %d); pick 0..%d", ch->id,
                       s->tuple, ch->n_tuples, ch->n_tuples - 1);
    if (s->foil < -1 || s->foil >= ch->n_foils)
        return err_set(e,
                       "chain \"%s\": foil %d out of range (it has %d); use -1 for the true "
                       "conclusion",
                       ch->id, s->foil, ch->n_foils);
    if (s->n_syn < 0 || s->n_syn > RENDER_MAX_EDITS || s->n_ins < 0 ||
        s->n_ins > RENDER_MAX_EDITS || s->n_noise < 0 || s->n_noise > RENDER_MAX_EDITS)
        return err_set(e, "chain \"%s\": edit counts out of range; at most %d of each", ch->id,
                       RENDER_MAX_EDITS);
    if (!s->has_order) return 0;
    int seen[CHAIN_MAX_STEPS] = {0};
    for (int k = 0; k < ch->n_steps; k++) {
        int v = s->order[k];
        if (v < 0 || v >= ch->n_steps || seen[v]++)
            return err_set(e, "chain \"%s\": step order is not a permutation of 0..%d; fix it",
                           ch->id, ch->n_steps - 1);
    }
    if (s->order[ch->n_steps - 1] != ch->n_steps - 1)
        return err_set(e, "chain \"%s\": step order moves the conclusion; it must stay last",
                       ch->id);
    return 0;
}

int chain_render(const ChainLib *lib, int chain, const RenderSpec *spec, Rendered *out, Err *e) {
    if (chain < 0 || chain >= lib->n_chains)
        return err_set(e, "chain %d out of range (library has %d)", chain, lib->n_chains);
    const Chain *ch = &lib->chains[chain];
    if (check_spec(ch, spec, e) != 0) return -1;
    const LibFile *f = &lib->files[ch->file];
    Expander x = {lib, ch, f, spec, f->n_insertions > 0 ? chain_insert_sites(lib, chain) : 0, 0};
    Work w = {0};
    int occ = 0;
    for (int k = 0; k < ch->n_steps; k++) {
        int last = k == ch->n_steps - 1;
        const Template *t = last && spec->foil >= 0 ? &ch->foils[spec->foil] : &ch->steps[k].t;
        expand(&x, &w, t, (uint8_t)k, last, occ);
        occ += ch->steps[k].t.n_conns;
    }
    if (f->n_synonyms > 0)
        for (int k = 0; k < spec->n_syn; k++) apply_synonym(&w, f, &spec->syn[k]);
    for (int k = 0; k < spec->n_noise; k++) apply_noise(&w, &spec->noise[k]);

    /* join the steps in order, one space apart */
    size_t need = w.n + (size_t)ch->n_steps + 1;
    if (need > out->cap) {
        xfree(out->text);
        xfree(out->roles);
        out->cap = need * 2;
        out->text = xmalloc(out->cap, "rendered text");
        out->roles = xmalloc(out->cap, "rendered roles");
    }
    out->len = 0;
    for (int k = 0; k < ch->n_steps; k++) {
        int step = spec->has_order ? spec->order[k] : k;
        if (k > 0) {
            out->text[out->len] = ' ';
            out->roles[out->len++] = step == ch->n_steps - 1 ? BYTE_PROMPT : BYTE_STEP;
        }
        for (size_t i = 0; i < w.n; i++)
            if (w.step[i] == step) {
                out->text[out->len] = w.b[i];
                out->roles[out->len++] = w.role[i];
            }
    }
    out->text[out->len] = '\0';
    out->answer_start = out->len;
    for (size_t i = 0; i < out->len; i++)
        if (out->roles[i] == BYTE_ANSWER) {
            out->answer_start = i;
            break;
        }
    work_free(&w);
    return 0;
}

void render_spec_canonical(RenderSpec *s) {
    memset(s, 0, sizeof *s);
    s->foil = -1;
}

int chain_render_canonical(const ChainLib *lib, int chain, Rendered *out, Err *e) {
    RenderSpec s;
    render_spec_canonical(&s);
    return chain_render(lib, chain, &s, out, e);
}

void rendered_free(Rendered *r) {
    xfree(r->text);
    xfree(r->roles);
    memset(r, 0, sizeof *r);
}
