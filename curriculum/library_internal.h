/*
 * library_internal.h — what the parts of the chain library share and nobody else sees:
 * library.c (the arena, the name tables, lookups), library_load.c (reading and validating
 * libconfig files), library_typed.c (lexicon declarations and typed slots, for the loader),
 * lexicon.c (lexicon files, entity draws) and library_render.c (turning a chain and a
 * RenderSpec into text).
 */
#ifndef IMPRINT_LIBRARY_INTERNAL_H
#define IMPRINT_LIBRARY_INTERNAL_H

#include <stddef.h>

#include "library.h"

/* ---- arena: every string and array of a ChainLib -------------------------------------------- */

struct LibArena;

/* n zeroed bytes (16-byte aligned) that live until lib_arena_free. */
void *lib_arena_alloc(struct LibArena *a, size_t n);
/* A NUL-terminated copy of s[0..n). */
char *lib_arena_strndup(struct LibArena *a, const char *s, size_t n);
/* A new, empty arena. */
struct LibArena *lib_arena_new(void);
void lib_arena_free(struct LibArena *a);

/* ---- names -------------------------------------------------------------------------------- */

extern const char *const CHAIN_FORM_NAMES[FORM_COUNT];
extern const char *const STEP_ROLE_NAMES[STEP_CONCLUSION + 1];

/* Index of the first of names[0..n) equal to s, -1 if none. */
int name_index(const char *s, const char *const *names, int n);

/* ---- the loader: library_load.c's helpers, used by library_typed.c ----------------------------
 */

struct config_setting_t; /* libconfig */

/* The `slots` declaration of the chain being loaded. */
typedef struct SlotDecl {
    int n;
    const char *name[CHAIN_MAX_SLOTS];
    int lex[CHAIN_MAX_SLOTS];
    const struct config_setting_t *at[CHAIN_MAX_SLOTS];
} SlotDecl;

typedef struct Loader {
    ChainLib *lib;
    int file;
    const char *path;
    Err *e;
    SlotDecl *decl;
} Loader;

int ld_line_of(const struct config_setting_t *s);
/* "<path>:<line>: <message>" into L->e; returns -1. */
int ld_lerr(const Loader *L, const struct config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A name that is not in names[0..n): "unknown <kind> "<s>" in <what>; did you mean "<near>"?
 * (<list_label>: <names>)" when one is close, else "...; <no_match>: <names>". */
int ld_unknown_name(const Loader *L, const struct config_setting_t *at, const char *kind,
                    const char *s, const char *what, const char *const *names, int n,
                    const char *list_label, const char *no_match);
/* A string setting (valid UTF-8, non-empty) copied into the arena. */
int ld_get_string(const Loader *L, const struct config_setting_t *s, const char *what,
                  const char **out);
/* [A-Z] (upper_first) or [a-z], then [A-Za-z0-9_]*. */
int ld_name_ok(const char *s, int upper_first);

/* library_typed.c: `lexicons = { ... }` of a file (reads every lexicon), `slots = { ... }` of a
 * chain (into *L->decl, before its templates), and the checks after its templates. */
int ld_lexicons(const Loader *L, const struct config_setting_t *root, LibFile *f);
int ld_slot_decl(const Loader *L, Chain *ch, const struct config_setting_t *slots);
int ld_check_typed(const Loader *L, Chain *ch);

#endif
