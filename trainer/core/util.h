/*
 * util.h — the small things every module needs: error values, checked allocation, and
 * crash-safe file writes.
 *
 * Error convention. Anything that reads input a user controls (a config, a weights file, a
 * token file, the command line) never exits and never asserts: it returns -1 and fills an Err
 * with one sentence in the form
 *
 *     <where>: <what is wrong>; <how to fix it>
 *
 * where <where> is "file:line" or "file: byte N". Only main() turns an Err into a message on
 * stderr and a non-zero exit. This keeps readers testable and fuzzable.
 *
 * Out-of-memory and internal invariants are different: they are not the user's input, so
 * xmalloc() prints and exits.
 */
#ifndef IMPRINT_UTIL_H
#define IMPRINT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ERR_MSG_MAX 1024

typedef struct Err {
    char msg[ERR_MSG_MAX];
} Err;

/* Formats into e->msg (if e is not NULL) and returns -1, so callers can write
 * `return err_set(e, "...")`. */
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message (for adding context on the way up). */
int err_prefix(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Out of memory or a broken internal invariant (never the user's input): prints
 * "imprint: fatal: <msg>" to stderr and exits with status 1. Errors in input go through Err. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that cannot fail quietly: prints what was being allocated and exits. Memory is
 * 64-byte aligned (one cache line, and what AVX-512 loads like) and zeroed. */
void *xmalloc(size_t bytes, const char *what);
void xfree(void *p);
/* realloc that cannot fail quietly (not aligned, not zeroed; free with free() or xfree()). */
void *xrealloc(void *p, size_t bytes, const char *what);

/* ---- files ---------------------------------------------------------------------------- */

/* Reads a whole file into a fresh buffer (NUL-terminated for convenience; *len excludes the
 * NUL). Returns NULL and fills e on failure. Caller frees with free(). */
char *file_read_all(const char *path, size_t *len, Err *e);

/* Crash-safe writer: data goes to "<path>.tmp.<pid>", is fsync'ed, then renamed over path and
 * the directory is fsync'ed. A crash at any point leaves either the old file or the new one,
 * never a mix. */
typedef struct AtomicFile {
    FILE *fp;
    char path[4096];
    char tmp[4200];
} AtomicFile;

int atomic_open(AtomicFile *af, const char *path, Err *e);
int atomic_commit(AtomicFile *af, Err *e); /* fflush + fsync + rename + fsync(dir) */
void atomic_abort(AtomicFile *af);         /* close and remove the temp file */
int file_write_atomic(const char *path, const void *data, size_t n, Err *e);

/* Reads and parses a JSON file; NULL with e filled ("path: byte N: not valid JSON") on failure.
 * Free with cJSON_Delete. */
typedef struct cJSON cJSON;
cJSON *json_read_file(const char *path, Err *e);

/* snprintf into a path buffer that refuses to truncate: -1 with e filled when the result does
 * not fit in cap bytes. */
int path_join(char *out, size_t cap, Err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* mkdir -p. */
int mkdir_p(const char *path, Err *e);
int fsync_dir(const char *dir, Err *e);

/* ---- small helpers -------------------------------------------------------------------- */

/* Levenshtein distance between two arrays of na and nb elements of elem bytes each (tokens,
 * bytes): the one edit distance of the project. */
int levenshtein(const void *a, size_t na, const void *b, size_t nb, size_t elem);
/* Levenshtein distance of two short strings, for "did you mean ...?" suggestions (1 << 20 when
 * either is longer than 255 bytes). */
int edit_distance(const char *a, const char *b);

/* FNV-1a 64-bit over bytes; used for quick consistency checks, never for security. */
uint64_t hash_fnv1a64(const void *data, size_t n, uint64_t h);

/* Wall clock in seconds (monotonic), for progress lines and benchmarks only. */
double now_seconds(void);

#endif
