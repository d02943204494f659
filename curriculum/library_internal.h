/*
 * library_internal.h — what the parts of the chain library share and nobody else sees:
 * library.c (the arena, the name tables, lookups), library_load.c (reading and validating
 * libconfig files) and library_render.c (turning a chain and a RenderSpec into text).
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

#endif
