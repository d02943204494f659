/*
 * library.c — chain libraries (library.h): the arena that owns everything a ChainLib holds,
 * the form and role names, and lookups in a loaded library. Loading and validation are in
 * library_load.c, rendering in library_render.c.
 */
#include "library.h"
#include "library_internal.h"

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

void *lib_arena_alloc(struct LibArena *a, size_t n) {
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

char *lib_arena_strndup(struct LibArena *a, const char *s, size_t n) {
    char *p = lib_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

struct LibArena *lib_arena_new(void) {
    return xmalloc(sizeof(struct LibArena), "chain library");
}

void lib_arena_free(struct LibArena *a) {
    if (!a) return;
    for (ArenaBlock *b = a->head, *next; b; b = next) {
        next = b->next;
        xfree(b);
    }
    xfree(a);
}

/* ---- names ----------------------------------------------------------------------------------- */

const char *const CHAIN_FORM_NAMES[FORM_COUNT] = {"if-then-but-however-therefore",
                                                  "modus-ponens",
                                                  "modus-tollens",
                                                  "syllogism",
                                                  "contrapositive",
                                                  "disjunctive-syllogism",
                                                  "cause-effect-exception",
                                                  "contradiction-theory",
                                                  "transitivity",
                                                  "analogy"};
const char *const STEP_ROLE_NAMES[STEP_CONCLUSION + 1] = {"premise", "observation", "exception",
                                                          "hypothesis", "conclusion"};

const char *chain_form_name(ChainForm f) {
    return f >= 0 && f < FORM_COUNT ? CHAIN_FORM_NAMES[f] : "?";
}

const char *step_role_name(StepRole r) {
    return r >= STEP_PREMISE && r <= STEP_CONCLUSION ? STEP_ROLE_NAMES[r] : "?";
}

int name_index(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

void chainlib_free(ChainLib *lib) {
    if (!lib) return;
    lib_arena_free(lib->arena);
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
    int k = name_index(slot, ch->slots, ch->n_slots);
    return k < 0 ? NULL : ch->values[tuple * ch->n_slots + k];
}
