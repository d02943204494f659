/*
 * safetensors.h — reader and writer for the safetensors format (Hugging Face).
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data section.
 * Each JSON entry is "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} with
 * offsets relative to the data section; an optional "__metadata__" maps strings to strings.
 *
 * The reader trusts nothing: header length against file size (and a 100 MB cap), JSON syntax,
 * known dtypes, non-negative shapes without overflow, end - begin == numel * dtype size,
 * offsets inside the data section, no overlaps, no holes, no duplicate names. Every error
 * names the file and the byte offset or tensor concerned. Only F32, BF16 and F16 tensors can
 * be converted to float; other dtypes are accepted in a file but refused on read.
 */
#ifndef IMPRINT_SAFETENSORS_H
#define IMPRINT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"
#include "util.h"

typedef enum {
    ST_F32 = 0,
    ST_F16,
    ST_BF16,
    ST_F64,
    ST_I64,
    ST_I32,
    ST_I16,
    ST_I8,
    ST_U8,
    ST_BOOL,
    ST_OTHER /* a dtype we recognise but never convert (U16, U32, U64, F8_*, ...) */
} StDtype;

typedef struct StEntry {
    char name[TENSOR_NAME_MAX];
    StDtype dtype;
    char dtype_name[16];
    int ndim;
    int64_t shape[8];
    uint64_t numel;
    uint64_t begin, end; /* offsets into the data section */
} StEntry;

typedef struct StFile {
    char path[4096]; /* the path st_open was given (too long a path is refused), or the label */
    unsigned char *bytes; /* the whole file */
    size_t size;
    size_t data_start; /* 8 + N */
    StEntry *entries;
    int count;
    /* __metadata__ as parallel arrays (may be empty) */
    char **meta_keys;
    char **meta_values;
    int meta_count;
} StFile;

/* Opens and validates a file. On failure returns -1, fills e, and leaves f safe to close. */
int st_open(StFile *f, const char *path, Err *e);

/* Same validation on an in-memory image (used by st_open, tests and the fuzzer). The buffer is
 * copied. `label` names it in messages. */
int st_open_memory(StFile *f, const void *bytes, size_t size, const char *label, Err *e);

void st_close(StFile *f);

/* The entry with this name, or NULL. */
const StEntry *st_find(const StFile *f, const char *name);

/* Metadata value for key, or NULL. */
const char *st_meta(const StFile *f, const char *key);

/* Converts entry `name` to float into dst, checking that its shape equals `shape[0..ndim)`.
 * Errors name the file, the tensor, and both shapes. */
int st_read_f32(const StFile *f, const char *name, float *dst, const int64_t *shape, int ndim,
                Err *e);

/* Reads a Tensor by its own name and shape. */
int st_read_tensor(const StFile *f, Tensor *t, Err *e);

/* ---- writing ------------------------------------------------------------------------- */

typedef struct StWriteItem {
    const char *name;
    const float *data; /* host floats */
    int ndim;
    const int64_t *shape;
    StDtype dtype; /* ST_F32 or ST_BF16 (round to nearest even) or ST_F16 */
} StWriteItem;

/* Writes items (in the given order) plus optional metadata pairs, atomically (temp file,
 * fsync, rename). The header is padded with spaces so the data section is 8-byte aligned. */
int st_write(const char *path, const StWriteItem *items, int n_items, const char *const *meta_keys,
             const char *const *meta_values, int n_meta, Err *e);

/* Convenience: write a list of tensors as F32. */
int st_write_tensors(const char *path, const Tensor *tensors, int n, const char *const *meta_keys,
                     const char *const *meta_values, int n_meta, Err *e);

/* dtype conversions (exposed for tests) */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

#endif
