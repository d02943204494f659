/*
 * safetensors_private.h — what the safetensors reader (safetensors.c), its header parser
 * (safetensors_header.c) and its writer (safetensors_write.c) share. Not for use outside
 * trainer/io.
 */
#ifndef IMPRINT_SAFETENSORS_PRIVATE_H
#define IMPRINT_SAFETENSORS_PRIVATE_H

#include "safetensors.h"

#define ST_MAX_HEADER 100000000ULL
#define ST_MAX_DIMS   8
/* Largest integer a JSON number (a double in cJSON) holds exactly. */
#define ST_MAX_EXACT 9007199254740992.0

typedef struct {
    const char *name;
    StDtype dtype;
    int size;
} DtypeInfo;

/* The dtype named s ("F32", ...), or NULL. */
const DtypeInfo *st_dtype_lookup(const char *s);
/* Bytes per element, and the name written in headers ("OTHER" for ST_OTHER). */
int st_dtype_size(StDtype d);
const char *st_dtype_name(StDtype d);

/* 1 when a name appears twice among names[0..n) (the array is left as it is), with a printable
 * copy of it in buf; 0 otherwise. */
int st_find_duplicate(const char *const *names, int n, char *buf, size_t cap);

/* Validates f->bytes[0..f->size) (already owned by f) and fills the entries and metadata; on
 * failure the caller frees what was filled. */
int st_parse_header(StFile *f, Err *e);

#endif
