/*
 * library_typed.c — the loader's part for typed slots (docs/chains.md): a file's `lexicons`
 * declaration (each lexicon read by lexicon.c), a chain's `slots` declaration, and the checks
 * once its templates are parsed. Errors as in library_load.c: "<file>:<line>: what; how to fix".
 */
#define _POSIX_C_SOURCE 200809L
#include "lexicon.h"
#include "library.h"
#include "library_internal.h"

#include <libconfig.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The types docs/chains.md ships lexicons for (curriculum/lexicons/<type>.txt). */
static const char *const SHIPPED_TYPES[] = {"person", "animal", "object",    "food",
                                            "place",  "plant",  "substance", "property"};
#define N_SHIPPED ((int)(sizeof SHIPPED_TYPES / sizeof *SHIPPED_TYPES))

static int type_ok(const char *s) {
    return strlen(s) < LEX_TYPE_MAX && ld_name_ok(s, 0);
}

/* `lexicons = { type = "path"; ... }`: reads every declared lexicon. */
int ld_lexicons(const Loader *L, const config_setting_t *root, LibFile *f) {
    const config_setting_t *g = config_setting_get_member(root, "lexicons");
    int n = g ? config_setting_length(g) : 0;
    f->lex = lib_arena_alloc(L->lib->arena, sizeof *f->lex * (size_t)(n + 1)); /* + nonce */
    if (!g) return 0;
    if (!config_setting_is_group(g))
        return ld_lerr(L, g,
                       "lexicons must be a group; write lexicons = { animal = "
                       "\"../lexicons/animal.txt\"; };");
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *type = config_setting_name(s), *v;
        if (!type_ok(type))
            return ld_lerr(L, s,
                           "lexicon type \"%s\" must be a lower-case name ([a-z][A-Za-z0-9_]*, at "
                           "most %d characters); rename it",
                           type, LEX_TYPE_MAX - 1);
        char what[96];
        snprintf(what, sizeof what, "lexicon \"%s\"", type);
        if (ld_get_string(L, s, what, &v) != 0) return -1;
        Lexicon *lx = &f->lex[f->n_lex++];
        lx->type = lib_arena_strndup(L->lib->arena, type, strlen(type));
        lx->line = ld_line_of(s);
        if (strcmp(type, "nonce") == 0) {
            if (strcmp(v, "nonce") != 0)
                return ld_lerr(L, s,
                               "nonce is built in and reads no file; write nonce = \"nonce\"; or "
                               "leave it out");
            lx->nonce = 1;
            lx->max_bytes = NONCE_MAX - 1;
            continue;
        }
        char path[4096];
        const char *slash = strrchr(L->path, '/');
        int dir = v[0] == '/' || !slash ? 0 : (int)(slash - L->path) + 1;
        if (path_join(path, sizeof path, L->e, "%.*s%s", dir, L->path, v) != 0)
            return ld_lerr(L, s, "the path of %s is too long; shorten it", what);
        lx->path = lib_arena_strndup(L->lib->arena, path, strlen(path));
        Err le;
        struct stat sb;
        if (access(path, R_OK) != 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            return ld_lerr(
                L, s,
                "lexicon file \"%s\" for type \"%s\" is missing, unreadable or not a file; "
                "fix the path (it is relative to this library file)",
                path, type);
        if (lexicon_read(L->lib->arena, lx, &le) != 0) {
            size_t np = strlen(path);
            if (strncmp(le.msg, path, np) == 0 && le.msg[np] == ':' &&
                isdigit((unsigned char)le.msg[np + 1]))
                return err_set(L->e, "%s", le.msg); /* a bad line: <lexicon>:<line>: ... */
            return ld_lerr(
                L, s, "lexicon for type \"%s\": %s (the path is relative to this library file)",
                type, le.msg);
        }
        if (lx->n[LEX_TRAIN] + lx->n[LEX_HELDOUT] == 0)
            return ld_lerr(L, s,
                           "lexicon file \"%s\" for type \"%s\" has no entries; add entries, one "
                           "per line",
                           path, type);
    }
    return 0;
}

/* The lexicon of `type` in file f, adding the built-in nonce on first use; -1 if none. */
static int lexicon_of(const Loader *L, LibFile *f, const char *type) {
    for (int i = 0; i < f->n_lex; i++)
        if (strcmp(f->lex[i].type, type) == 0) return i;
    if (strcmp(type, "nonce") != 0) return -1;
    Lexicon *lx = &f->lex[f->n_lex];
    lx->type = lib_arena_strndup(L->lib->arena, "nonce", 5);
    lx->nonce = 1;
    lx->max_bytes = NONCE_MAX - 1;
    return f->n_lex++;
}

/* `slots = { X = "animal"; ... }` of chain ch into *L->decl. */
int ld_slot_decl(const Loader *L, Chain *ch, const config_setting_t *g) {
    SlotDecl *d = L->decl;
    LibFile *f = &L->lib->files[L->file];
    d->n = 0;
    if (!g) return 0;
    ch->slots_line = ld_line_of(g);
    if (!config_setting_is_group(g))
        return ld_lerr(L, g,
                       "slots of chain \"%s\" must be a group; write slots = { X = \"animal\"; };",
                       ch->id);
    if (config_setting_length(g) > CHAIN_MAX_SLOTS)
        return ld_lerr(L, g, "slots of chain \"%s\" types more than %d slots; type fewer", ch->id,
                       CHAIN_MAX_SLOTS);
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        if (!ld_name_ok(name, 1))
            return ld_lerr(
                L, s,
                "slot name \"%s\" in slots of chain \"%s\" must start with an upper-case "
                "letter ([A-Z][A-Za-z0-9_]*); rename it",
                name, ch->id);
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return ld_lerr(L, s,
                           "slot %s of chain \"%s\" must name its type as a string; write %s = "
                           "\"animal\";",
                           name, ch->id, name);
        const char *type = config_setting_get_string(s);
        int lex = lexicon_of(L, f, type);
        if (lex < 0 && name_index(type, SHIPPED_TYPES, N_SHIPPED) >= 0)
            return ld_lerr(L, s,
                           "slot %s of chain \"%s\" has type \"%s\", but this library declares no "
                           "lexicon for it; add %s = \"../lexicons/%s.txt\"; to lexicons = { ... } "
                           "(paths are relative to this file)",
                           name, ch->id, type, type, type);
        if (lex < 0) {
            const char *names[64];
            int nn = 0;
            for (int k = 0; k < f->n_lex && nn < 54; k++) names[nn++] = f->lex[k].type;
            for (int k = 0; k < N_SHIPPED; k++)
                if (name_index(SHIPPED_TYPES[k], names, nn) < 0) names[nn++] = SHIPPED_TYPES[k];
            if (name_index("nonce", names, nn) < 0) names[nn++] = "nonce";
            char what[128];
            snprintf(what, sizeof what, "slots of chain \"%s\"", ch->id);
            return ld_unknown_name(L, s, "slot type", type, what, names, nn, "types",
                                   "declare it in lexicons = { ... } or use one of");
        }
        d->name[d->n] = name;
        d->lex[d->n] = lex;
        d->at[d->n++] = s;
    }
    return 0;
}

/* After the templates: every declared slot is used, and each partition of each type has as
 * many entries as the chain has slots of that type. */
int ld_check_typed(const Loader *L, Chain *ch) {
    const SlotDecl *d = L->decl;
    const LibFile *f = &L->lib->files[L->file];
    for (int i = 0; i < d->n; i++)
        if (name_index(d->name[i], ch->slots, ch->n_slots) < 0)
            return ld_lerr(L, d->at[i],
                           "slot %s of chain \"%s\" is typed in slots, but no step or foil uses "
                           "{%s}; remove it or use it in a template",
                           d->name[i], ch->id, d->name[i]);
    for (int k = 0; k < ch->n_slots; k++) {
        int lex = ch->slot_lex[k], same = 0;
        if (lex < 0) continue;
        for (int j = 0; j < ch->n_slots; j++) same += ch->slot_lex[j] == lex;
        const Lexicon *lx = &f->lex[lex];
        if (lx->nonce || (same <= lx->n[LEX_TRAIN] && same <= lx->n[LEX_HELDOUT])) continue;
        return ld_lerr(L, d->at[name_index(ch->slots[k], d->name, d->n)],
                       "slot type \"%s\" too small for its split: chain \"%s\" needs %d distinct "
                       "entries, but %s has %d in its training and %d in its held-out partition; "
                       "add entries to the lexicon or give the chain fewer %s slots",
                       lx->type, ch->id, same, lx->path, lx->n[LEX_TRAIN], lx->n[LEX_HELDOUT],
                       lx->type);
    }
    return 0;
}
