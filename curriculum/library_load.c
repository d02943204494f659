/*
 * library_load.c — reading chain library files (docs/chains.md): libconfig parsing, validation
 * with "<file>:<line>: <what is wrong>; <how to fix it>" messages, and the library hash.
 */
#define _POSIX_C_SOURCE 200809L
#include "library.h"
#include "library_internal.h"
#include "sha256.h"
#include "utf8.h"

#include <libconfig.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names: suggestions for a misspelt key or form ------------------------------------------- */

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

/* ---- the loader (library_internal.h shares its helpers with library_typed.c) ------------- */

int ld_line_of(const config_setting_t *s) {
    return s ? (int)config_setting_source_line(s) : 0;
}

int ld_lerr(const Loader *L, const config_setting_t *at, const char *fmt, ...) {
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(L->e, "%s:%d: %s", L->path, ld_line_of(at), msg);
}

int ld_unknown_name(const Loader *L, const config_setting_t *at, const char *kind, const char *s,
                    const char *what, const char *const *names, int n, const char *list_label,
                    const char *no_match) {
    char list[512];
    join_names(list, sizeof list, names, n);
    const char *near = closest(s, names, n);
    if (near)
        return ld_lerr(L, at, "unknown %s \"%s\" in %s; did you mean \"%s\"? (%s: %s)", kind, s,
                       what, near, list_label, list);
    return ld_lerr(L, at, "unknown %s \"%s\" in %s; %s: %s", kind, s, what, no_match, list);
}

/* Every child of `group` must be named in allowed[0..n). */
static int check_keys(const Loader *L, const config_setting_t *group, const char *what,
                      const char *const *allowed, int n) {
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        if (name_index(name, allowed, n) < 0)
            return ld_unknown_name(L, s, "key", name, what, allowed, n, "allowed",
                                   "allowed keys are");
    }
    return 0;
}

static const config_setting_t *need(const Loader *L, const config_setting_t *group, const char *key,
                                    const char *what, const char *example) {
    const config_setting_t *s = config_setting_get_member(group, key);
    if (!s)
        ld_lerr(L, group, "%s has no \"%s\"; add %s = %s (see docs/chains.md)", what, key, key,
                example);
    return s;
}

int ld_get_string(const Loader *L, const config_setting_t *s, const char *what, const char **out) {
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return ld_lerr(L, s, "%s must be a string in double quotes; write it as \"...\"", what);
    const char *v = config_setting_get_string(s);
    if (!v[0]) return ld_lerr(L, s, "%s is empty; give it some text", what);
    if (!utf8_valid(v, strlen(v)))
        return ld_lerr(L, s, "%s is not valid UTF-8; save the file as UTF-8", what);
    *out = lib_arena_strndup(L->lib->arena, v, strlen(v));
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
        return ld_lerr(L, s, "%s must be a list of strings; write [\"...\", \"...\"]", what);
    int n = config_setting_length(s);
    if (n < n_min)
        return ld_lerr(L, s, "%s has %d entr%s; it needs at least %d", what, n,
                       n == 1 ? "y" : "ies", n_min);
    const char **v = lib_arena_alloc(L->lib->arena, sizeof *v * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        if (ld_get_string(L, config_setting_get_elem(s, (unsigned)i), what, &v[i]) != 0) return -1;
    *out = v;
    *n_out = n;
    return 0;
}

int ld_name_ok(const char *s, int upper_first) {
    if (upper_first ? !(s[0] >= 'A' && s[0] <= 'Z') : !(s[0] >= 'a' && s[0] <= 'z')) return 0;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

static int load_header(const Loader *L, const config_setting_t *root, LibFile *f) {
    static const char *const ROOT_KEYS[] = {"library",    "connectives", "synonyms",
                                            "insertions", "lexicons",    "chains"};
    static const char *const LIB_KEYS[] = {"name", "lang", "version"};
    if (check_keys(L, root, "the library file", ROOT_KEYS, 6) != 0) return -1;
    const config_setting_t *lib = need(L, root, "library", "the library file",
                                       "{ name = \"...\"; lang = \"en\"; version = 1; }");
    if (!lib) return -1;
    if (!config_setting_is_group(lib))
        return ld_lerr(L, lib, "library must be a group; write library = { name = ...; };");
    if (check_keys(L, lib, "library", LIB_KEYS, 3) != 0) return -1;
    const config_setting_t *s;
    if (!(s = need(L, lib, "name", "library", "\"...\"")) ||
        ld_get_string(L, s, "library.name", &f->name) != 0)
        return -1;
    if (!(s = need(L, lib, "lang", "library", "\"en\"")) ||
        ld_get_string(L, s, "library.lang", &f->lang) != 0)
        return -1;
    if (!(s = need(L, lib, "version", "library", "1"))) return -1;
    if (config_setting_type(s) != CONFIG_TYPE_INT)
        return ld_lerr(L, s, "library.version must be an integer; write version = 1;");
    f->version = config_setting_get_int(s);
    return 0;
}

static int load_vocab(const Loader *L, const config_setting_t *root, LibFile *f) {
    const config_setting_t *conns =
        need(L, root, "connectives", "the library file", "{ if = [\"If\", \"Suppose\"]; ... }");
    if (!conns) return -1;
    if (!config_setting_is_group(conns))
        return ld_lerr(L, conns,
                       "connectives must be a group; write connectives = { if = [...]; };");
    f->n_conns = config_setting_length(conns);
    f->conns = lib_arena_alloc(L->lib->arena, sizeof *f->conns * (size_t)(f->n_conns + 1));
    for (int i = 0; i < f->n_conns; i++) {
        const config_setting_t *c = config_setting_get_elem(conns, (unsigned)i);
        const char *name = config_setting_name(c);
        if (!ld_name_ok(name, 0))
            return ld_lerr(L, c,
                           "connective name \"%s\" must start with a lower-case letter "
                           "([a-z][A-Za-z0-9_]*); rename it",
                           name);
        char what[128];
        snprintf(what, sizeof what, "connective \"%s\"", name);
        f->conns[i].name = lib_arena_strndup(L->lib->arena, name, strlen(name));
        if (get_strings(L, c, what, 1, &f->conns[i].forms, &f->conns[i].n_forms) != 0) return -1;
    }
    const config_setting_t *syn = config_setting_get_member(root, "synonyms");
    if (syn) {
        if (!is_list(syn))
            return ld_lerr(L, syn,
                           "synonyms must be a list of groups; write ( [\"big\", "
                           "\"large\"], ... )");
        f->n_synonyms = config_setting_length(syn);
        f->synonyms =
            lib_arena_alloc(L->lib->arena, sizeof *f->synonyms * (size_t)(f->n_synonyms + 1));
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

/* Slot index in the chain's slot list, adding the name if new (typed per L->decl); -1 if the
 * list is full. */
static int slot_index(const Loader *L, Chain *ch, const char *name, size_t n) {
    for (int i = 0; i < ch->n_slots; i++)
        if (strlen(ch->slots[i]) == n && memcmp(ch->slots[i], name, n) == 0) return i;
    if (ch->n_slots == CHAIN_MAX_SLOTS) return -1;
    ch->slots[ch->n_slots] = lib_arena_strndup(L->lib->arena, name, n);
    int d = name_index(ch->slots[ch->n_slots], L->decl->name, L->decl->n);
    ch->slot_lex[ch->n_slots] = d < 0 ? -1 : L->decl->lex[d];
    ch->n_typed += d >= 0;
    return ch->n_slots++;
}

/* Parses a template into pieces. bars: 1 = exactly one `|` required, 0 = none allowed. */
static int parse_template(const Loader *L, Chain *ch, const config_setting_t *at, const char *src,
                          const char *what, int bars, Template *t) {
    const LibFile *f = &L->lib->files[L->file];
    size_t n = strlen(src);
    t->src = src;
    t->line = ld_line_of(at);
    t->pieces = lib_arena_alloc(L->lib->arena, sizeof *t->pieces * (n + 1));
    if (src[0] == ' ' || src[n - 1] == ' ')
        return ld_lerr(L, at,
                       "%s \"%s\" starts or ends with a space; remove it (steps are joined "
                       "with one space)",
                       what, src);
    if (!strchr(".?!", src[n - 1]))
        return ld_lerr(L, at, "%s \"%s\" does not end with '.', '?' or '!'; end the sentence", what,
                       src);
    int n_bars = 0;
    for (size_t i = 0; i < n;) {
        Piece *p = &t->pieces[t->n_pieces];
        if (src[i] == '|') {
            p->kind = PIECE_BAR;
            n_bars++;
            i++;
        } else if (src[i] == '}') {
            return ld_lerr(L, at, "%s \"%s\" has a '}' with no '{' before it; remove it", what,
                           src);
        } else if (src[i] == '{') {
            const char *close = strchr(src + i, '}');
            const char *open2 = strchr(src + i + 1, '{');
            if (!close || (open2 && open2 < close))
                return ld_lerr(L, at, "%s \"%s\" has a '{' that is not closed; write {Name}", what,
                               src);
            const char *name = src + i + 1;
            size_t len = (size_t)(close - name);
            if (len > 0 && name[len - 1] == '^') {
                p->cap = 1;
                len--;
            }
            char buf[128];
            if (len == 0 || len >= sizeof buf)
                return ld_lerr(L, at,
                               "%s \"%s\" has an empty or over-long placeholder; write {Slot} "
                               "or {connective}",
                               what, src);
            memcpy(buf, name, len);
            buf[len] = '\0';
            char *colon = strchr(buf, ':');
            if (colon) {
                if (strcmp(colon + 1, "pl") == 0)
                    p->form = SLOT_PLURAL;
                else if (strcmp(colon + 1, "a") == 0)
                    p->form = SLOT_ARTICLE;
                else
                    return ld_lerr(L, at,
                                   "%s has an unknown slot form {%s}; write {X}, {X:pl} or {X:a} "
                                   "(^ last to capitalise: {X:a^})",
                                   what, buf);
                *colon = '\0';
                len = (size_t)(colon - buf);
                if (!ld_name_ok(buf, 1))
                    return ld_lerr(L, at,
                                   "%s writes {%s:%s}, but :pl and :a apply to typed slots only "
                                   "(upper-case names); write {%s}",
                                   what, buf, colon + 1, buf);
            }
            if (ld_name_ok(buf, 1)) {
                p->kind = PIECE_SLOT;
                p->idx = slot_index(L, ch, buf, len);
                if (p->idx < 0)
                    return ld_lerr(L, at, "chain \"%s\" uses more than %d slots; use fewer", ch->id,
                                   CHAIN_MAX_SLOTS);
                if (p->form != SLOT_PLAIN && ch->slot_lex[p->idx] < 0)
                    return ld_lerr(
                        L, at,
                        "%s uses {%s:%s} on the untyped slot %s; :pl and :a need a typed "
                        "slot: declare slots = { %s = \"animal\"; } (any type) or write "
                        "{%s}",
                        what, buf, colon + 1, buf, buf, buf);
            } else if (ld_name_ok(buf, 0)) {
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
                    return ld_lerr(L, at,
                                   "%s uses unknown connective {%s}%s; define %s in "
                                   "connectives or fix the name",
                                   what, buf, hint, buf);
                }
                t->n_conns++;
            } else {
                return ld_lerr(L, at,
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
        return ld_lerr(L, at,
                       "%s must contain exactly one '|' (found %d); put one '|' where the "
                       "answer starts",
                       what, n_bars);
    if (!bars && n_bars)
        return ld_lerr(L, at, "%s contains '|'; only the conclusion and foils may, remove it",
                       what);
    return 0;
}

static int parse_role(const Loader *L, const config_setting_t *s, StepRole *out) {
    const char *v =
        config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : "";
    int r = name_index(v, STEP_ROLE_NAMES, STEP_CONCLUSION + 1);
    if (r >= 0) {
        *out = (StepRole)r;
        return 0;
    }
    return ld_lerr(L, s,
                   "unknown step role \"%s\"; use one of premise, observation, exception, "
                   "hypothesis, conclusion",
                   v);
}

static int load_steps(const Loader *L, Chain *ch, const config_setting_t *steps) {
    static const char *const STEP_KEYS[] = {"role", "text", "swap"};
    if (config_setting_type(steps) != CONFIG_TYPE_LIST)
        return ld_lerr(L, steps,
                       "steps of chain \"%s\" must be a list of groups; write steps = ( { "
                       "role = ...; text = ...; }, ... )",
                       ch->id);
    ch->n_steps = config_setting_length(steps);
    if (ch->n_steps < 2 || ch->n_steps > CHAIN_MAX_STEPS)
        return ld_lerr(L, steps,
                       "chain \"%s\" has %d steps; give 2 to %d (premises, then the "
                       "conclusion)",
                       ch->id, ch->n_steps, CHAIN_MAX_STEPS);
    ch->steps = lib_arena_alloc(L->lib->arena, sizeof *ch->steps * (size_t)ch->n_steps);
    for (int k = 0; k < ch->n_steps; k++) {
        const config_setting_t *g = config_setting_get_elem(steps, (unsigned)k);
        Step *st = &ch->steps[k];
        char what[128];
        snprintf(what, sizeof what, "step %d of chain \"%s\"", k + 1, ch->id);
        if (!config_setting_is_group(g))
            return ld_lerr(L, g, "%s must be a group; write { role = ...; text = ...; }", what);
        if (check_keys(L, g, what, STEP_KEYS, 3) != 0) return -1;
        const config_setting_t *role = need(L, g, "role", what, "\"premise\"");
        const config_setting_t *text = need(L, g, "text", what, "\"...\"");
        const char *src;
        if (!role || !text || parse_role(L, role, &st->role) != 0 ||
            ld_get_string(L, text, what, &src) != 0)
            return -1;
        st->line = ld_line_of(g);
        int last = k == ch->n_steps - 1;
        if (st->role == STEP_CONCLUSION && !last)
            return ld_lerr(L, g,
                           "%s is the conclusion but not the last step; move it to the end "
                           "(the conclusion is always last)",
                           what);
        if (last && st->role != STEP_CONCLUSION)
            return ld_lerr(L, g,
                           "the last step of chain \"%s\" has role \"%s\"; the conclusion must "
                           "be the last step",
                           ch->id, STEP_ROLE_NAMES[st->role]);
        if (parse_template(L, ch, text, src, what, last, &st->t) != 0) return -1;
        ch->n_conn_occ += st->t.n_conns;
        const config_setting_t *swap = config_setting_get_member(g, "swap");
        if (swap) {
            if (config_setting_type(swap) != CONFIG_TYPE_INT || config_setting_get_int(swap) < 1)
                return ld_lerr(L, swap, "swap of %s must be an integer >= 1; write swap = 1;",
                               what);
            if (last)
                return ld_lerr(L, swap,
                               "the conclusion of chain \"%s\" has swap; the conclusion "
                               "never moves, remove it",
                               ch->id);
            st->swap = config_setting_get_int(swap);
        }
    }
    if (ch->n_conn_occ > CHAIN_MAX_CONNS)
        return ld_lerr(L, steps,
                       "chain \"%s\" has %d connective occurrences; at most %d are "
                       "supported",
                       ch->id, ch->n_conn_occ, CHAIN_MAX_CONNS);
    for (int k = 0; k < ch->n_steps; k++) {
        int same = 0;
        for (int j = 0; j < ch->n_steps; j++) same += ch->steps[j].swap == ch->steps[k].swap;
        if (ch->steps[k].swap && same < 2)
            return ld_lerr(L, config_setting_get_elem(steps, (unsigned)k),
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
    ch->foils = lib_arena_alloc(L->lib->arena, sizeof *ch->foils * (size_t)(ch->n_foils + 1));
    const char *concl = ch->steps[ch->n_steps - 1].t.src;
    for (int k = 0; k < ch->n_foils; k++) {
        const config_setting_t *at = config_setting_get_elem(foils, (unsigned)k);
        char what[128];
        snprintf(what, sizeof what, "foil %d of chain \"%s\"", k + 1, ch->id);
        if (parse_template(L, ch, at, src[k], what, 1, &ch->foils[k]) != 0) return -1;
        size_t np = prompt_part(concl);
        if (prompt_part(src[k]) != np || memcmp(src[k], concl, np) != 0)
            return ld_lerr(L, at,
                           "%s must start like the conclusion up to its '|' (\"%.*s|\"); only "
                           "the answer after '|' may differ",
                           what, (int)np, concl);
    }
    return 0;
}

static int load_fillers(const Loader *L, Chain *ch, const config_setting_t *fillers) {
    if (config_setting_type(fillers) != CONFIG_TYPE_LIST)
        return ld_lerr(L, fillers,
                       "fillers of chain \"%s\" must be a list of groups; write fillers "
                       "= ( { P = \"...\"; }, ... )",
                       ch->id);
    ch->n_tuples = config_setting_length(fillers);
    if (ch->n_tuples < CHAIN_MIN_TUPLES)
        return ld_lerr(L, fillers,
                       "chain \"%s\" has %d filler tuple%s; give at least %d (the first "
                       "is canonical, the last is held out)",
                       ch->id, ch->n_tuples, ch->n_tuples == 1 ? "" : "s", CHAIN_MIN_TUPLES);
    ch->values = lib_arena_alloc(L->lib->arena,
                                 sizeof *ch->values * (size_t)(ch->n_tuples * ch->n_slots + 1));
    for (int t = 0; t < ch->n_tuples; t++) {
        const config_setting_t *g = config_setting_get_elem(fillers, (unsigned)t);
        if (!config_setting_is_group(g))
            return ld_lerr(L, g,
                           "filler tuple %d of chain \"%s\" must be a group; write { P = "
                           "\"...\"; }",
                           t + 1, ch->id);
        for (int i = 0; i < config_setting_length(g); i++) {
            const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
            const char *name = config_setting_name(s);
            int slot = name_index(name, ch->slots, ch->n_slots);
            if (slot < 0)
                return ld_lerr(L, s,
                               "filler tuple %d of chain \"%s\" binds slot %s, which no step "
                               "or foil uses; remove it or use {%s} in a template",
                               t + 1, ch->id, name, name);
            if (ch->slot_lex[slot] >= 0)
                return ld_lerr(L, s,
                               "filler tuple %d of chain \"%s\" binds slot %s, which is typed "
                               "(\"%s\") and drawn from its lexicon; remove %s from the tuple or "
                               "from slots",
                               t + 1, ch->id, name,
                               L->lib->files[L->file].lex[ch->slot_lex[slot]].type, name);
            char what[160];
            snprintf(what, sizeof what, "slot %s of filler tuple %d of chain \"%s\"", name, t + 1,
                     ch->id);
            if (ld_get_string(L, s, what, &ch->values[t * ch->n_slots + slot]) != 0) return -1;
        }
        for (int k = 0; k < ch->n_slots; k++)
            if (!ch->values[t * ch->n_slots + k] && ch->slot_lex[k] < 0)
                return ld_lerr(L, g,
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
    static const char *const CHAIN_KEYS[] = {"id", "form", "fillers", "steps", "foils", "slots"};
    ch->file = L->file;
    ch->line = ld_line_of(g);
    if (!config_setting_is_group(g))
        return ld_lerr(L, g, "a chain must be a group; write { id = ...; form = ...; ... }");
    const config_setting_t *id = need(L, g, "id", "a chain", "\"my-chain\"");
    if (!id) return -1;
    const char *v =
        config_setting_type(id) == CONFIG_TYPE_STRING ? config_setting_get_string(id) : "";
    if (!id_ok(v))
        return ld_lerr(L, id,
                       "chain id \"%s\" is not valid; use 1 to %d characters from "
                       "[a-z0-9-]",
                       v, CHAIN_ID_MAX - 1);
    snprintf(ch->id, sizeof ch->id, "%s", v);
    char what[128];
    snprintf(what, sizeof what, "chain \"%s\"", ch->id);
    if (check_keys(L, g, what, CHAIN_KEYS, 6) != 0) return -1;
    for (Chain *o = L->lib->chains; o < ch; o++)
        if (strcmp(o->id, ch->id) == 0)
            return ld_lerr(L, id,
                           "chain id \"%s\" is already used at %s:%d; ids must be unique "
                           "across all loaded libraries, rename one",
                           ch->id, L->lib->files[o->file].path, o->line);

    const config_setting_t *form = need(L, g, "form", what, "\"modus-ponens\"");
    if (!form) return -1;
    const char *fv =
        config_setting_type(form) == CONFIG_TYPE_STRING ? config_setting_get_string(form) : "";
    int form_index = name_index(fv, CHAIN_FORM_NAMES, FORM_COUNT);
    if (form_index < 0)
        return ld_unknown_name(L, form, "form", fv, what, CHAIN_FORM_NAMES, FORM_COUNT, "forms",
                               "use one of");
    ch->form = (ChainForm)form_index;

    ch->slots = lib_arena_alloc(L->lib->arena, sizeof *ch->slots * CHAIN_MAX_SLOTS);
    ch->slot_lex = lib_arena_alloc(L->lib->arena, sizeof *ch->slot_lex * CHAIN_MAX_SLOTS);
    if (ld_slot_decl(L, ch, config_setting_get_member(g, "slots")) != 0) return -1;
    const config_setting_t *steps = need(L, g, "steps", what, "( { role = ...; text = ...; } )");
    if (!steps || load_steps(L, ch, steps) != 0) return -1;
    const config_setting_t *foils = config_setting_get_member(g, "foils");
    if (foils && load_foils(L, ch, foils) != 0) return -1;
    if (ld_check_typed(L, ch) != 0) return -1;
    const config_setting_t *fillers = config_setting_get_member(g, "fillers");
    if (!fillers && ch->n_typed > 0 && ch->n_typed < ch->n_slots)
        return ld_lerr(
            L, g,
            "%s has no fillers, but not all of its slots are typed; bind the untyped ones "
            "in fillers = ( { P = \"...\"; }, ... ) or type them in slots",
            what);
    if (!fillers && ch->n_typed > 0) { /* every slot typed: one empty tuple */
        ch->n_tuples = 1;
        ch->values = lib_arena_alloc(L->lib->arena, sizeof *ch->values * (size_t)ch->n_slots);
        return 0;
    }
    ch->has_fillers = 1;
    fillers = need(L, g, "fillers", what, "( { P = \"...\"; }, ... )");
    if (!fillers || load_fillers(L, ch, fillers) != 0) return -1;
    return 0;
}

/* Parses one file's text; chains go to lib->chains[*n_chains ...). */
static int load_file(ChainLib *lib, int file, const char *text, int *n_chains, Err *e) {
    LibFile *f = &lib->files[file];
    SlotDecl decl = {0};
    Loader L = {lib, file, f->path, e, &decl};
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
    if (rc == 0) rc = ld_lexicons(&L, root, f);
    const config_setting_t *chains = NULL;
    if (rc == 0 && !(chains = need(&L, root, "chains", "the library file", "( { id = ...; } )")))
        rc = -1;
    if (rc == 0 && config_setting_type(chains) != CONFIG_TYPE_LIST)
        rc = ld_lerr(&L, chains,
                     "chains must be a list of groups; write chains = ( { ... }, ... );");
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
    lib->arena = lib_arena_new();
    lib->n_files = n_paths;
    lib->files = lib_arena_alloc(lib->arena, sizeof *lib->files * (size_t)n_paths);
    char **texts = xmalloc(sizeof *texts * (size_t)n_paths, "chain library texts");
    char *digests = xmalloc((size_t)n_paths * 64 + 1, "chain library digests");
    int rc = 0, total = 0;
    for (int i = 0; rc == 0 && i < n_paths; i++) {
        LibFile *f = &lib->files[i];
        f->path = lib_arena_strndup(lib->arena, paths[i], strlen(paths[i]));
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
        lib->chains = lib_arena_alloc(lib->arena, sizeof *lib->chains * (size_t)(total + 1));
        for (int i = 0; rc == 0 && i < n_paths; i++)
            rc = load_file(lib, i, texts[i], &lib->n_chains, e);
        sha256_hex(digests, (size_t)n_paths * 64, lib->hash);
    }
    int n_lex_files = 0;
    for (int i = 0; rc == 0 && i < n_paths; i++)
        for (int k = 0; k < lib->files[i].n_lex; k++) n_lex_files += !lib->files[i].lex[k].nonce;
    if (rc == 0 && n_lex_files > 0) { /* each file's digest, then its lexicons' */
        char *all = xmalloc((size_t)(n_paths + n_lex_files) * 64 + 1, "library digests");
        size_t at = 0;
        for (int i = 0; i < n_paths; i++) {
            memcpy(all + at, lib->files[i].sha256, 64);
            at += 64;
            for (int k = 0; k < lib->files[i].n_lex; k++)
                if (!lib->files[i].lex[k].nonce) {
                    memcpy(all + at, lib->files[i].lex[k].sha256, 64);
                    at += 64;
                }
        }
        sha256_hex(all, at, lib->hash);
        xfree(all);
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
