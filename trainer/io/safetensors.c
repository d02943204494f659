/*
 * safetensors.c — the safetensors reader: dtype conversions, opening a file (the header is
 * checked by safetensors_header.c), looking tensors up and reading them as floats. The writer
 * is safetensors_write.c. See safetensors.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "io_util.h"
#include "safetensors_private.h"

/* ---- dtype conversions ---------------------------------------------------------------- */

float bf16_to_f32(uint16_t h) {
    return io_bits_f32((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f) {
    uint32_t u = io_f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) /* NaN: keep sign and top payload, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7FFFu + ((u >> 16) & 1u); /* round to nearest even; overflow carries into inf */
    return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) return io_bits_f32(sign | 0x7F800000u | (mant << 13)); /* inf / NaN */
    if (exp == 0) {
        if (mant == 0) return io_bits_f32(sign);
        /* subnormal: mant * 2^-24, normalised into an f32 */
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while ((mant & 0x400u) == 0);
        mant &= 0x3FFu;
        return io_bits_f32(sign | ((uint32_t)(112 - e) << 23) | (mant << 13));
    }
    return io_bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
    uint32_t u = io_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) /* NaN: quiet, keep the top payload bits */
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520 rounds to inf */
    if (a < 0x38800000u) {                                   /* below 2^-14: subnormal or 0 */
        if (a <= 0x33000000u) return sign;                   /* <= 2^-25 rounds to 0 (even) */
        uint32_t e = a >> 23;                                /* 102 .. 112 */
        uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126u - e; /* value = m * 2^(e-150) = (m >> shift) * 2^-24 */
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t h = (a - (112u << 23)) >> 13;
    uint32_t rem = a & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

/* ---- dtypes ----------------------------------------------------------------------------- */

static const DtypeInfo DTYPES[] = {
    {"F32", ST_F32, 4},           {"F16", ST_F16, 2},         {"BF16", ST_BF16, 2},
    {"F64", ST_F64, 8},           {"I64", ST_I64, 8},         {"I32", ST_I32, 4},
    {"I16", ST_I16, 2},           {"I8", ST_I8, 1},           {"U8", ST_U8, 1},
    {"BOOL", ST_BOOL, 1},         {"U16", ST_OTHER, 2},       {"U32", ST_OTHER, 4},
    {"U64", ST_OTHER, 8},         {"F8_E5M2", ST_OTHER, 1},   {"F8_E4M3", ST_OTHER, 1},
    {"F8_E8M0", ST_OTHER, 1},     {"F8_E4M3FN", ST_OTHER, 1}, {"F8_E5M2FNUZ", ST_OTHER, 1},
    {"F8_E4M3FNUZ", ST_OTHER, 1}, {"C64", ST_OTHER, 8},
};

const DtypeInfo *st_dtype_lookup(const char *s) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, s) == 0) return &DTYPES[i];
    return NULL;
}

int st_dtype_size(StDtype d) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dtype == d) return DTYPES[i].size;
    return 0;
}

const char *st_dtype_name(StDtype d) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dtype == d && d != ST_OTHER) return DTYPES[i].name;
    return "OTHER";
}

static int cmp_by_name(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

int st_find_duplicate(const char *const *names, int n, char *buf, size_t cap) {
    if (n < 2) return 0;
    const char **sorted = xmalloc(sizeof(char *) * (size_t)n, "name sort");
    memcpy(sorted, names, sizeof(char *) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_by_name);
    int found = 0;
    for (int i = 1; i < n && !found; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            io_safe_text(buf, cap, sorted[i]);
            found = 1;
        }
    xfree(sorted);
    return found;
}

/* ---- opening ---------------------------------------------------------------------------- */

static void free_contents(StFile *f) {
    free(f->bytes);
    xfree(f->entries);
    for (int i = 0; i < f->meta_count; i++) {
        xfree(f->meta_keys[i]);
        xfree(f->meta_values[i]);
    }
    xfree(f->meta_keys);
    xfree(f->meta_values);
    f->bytes = NULL;
    f->entries = NULL;
    f->meta_keys = f->meta_values = NULL;
    f->count = f->meta_count = 0;
    f->size = f->data_start = 0;
}

/* Takes ownership of buf (malloc'ed, size bytes); f->path is already set. */
static int open_owned(StFile *f, unsigned char *buf, size_t size, Err *e) {
    f->bytes = buf;
    f->size = size;
    if (st_parse_header(f, e) != 0) {
        free_contents(f);
        return -1;
    }
    return 0;
}

int st_open(StFile *f, const char *path, Err *e) {
    memset(f, 0, sizeof *f);
    if (path_join(f->path, sizeof f->path, e, "%s", path) != 0) return -1;
    size_t len = 0;
    char *buf = file_read_all(path, &len, e);
    if (!buf) return -1;
    return open_owned(f, (unsigned char *)buf, len, e);
}

int st_open_memory(StFile *f, const void *bytes, size_t size, const char *label, Err *e) {
    memset(f, 0, sizeof *f);
    if (path_join(f->path, sizeof f->path, e, "%s", label ? label : "(memory)") != 0) return -1;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return err_set(e, "%s: out of memory copying %zu bytes", f->path, size);
    if (size) memcpy(buf, bytes, size);
    return open_owned(f, buf, size, e);
}

void st_close(StFile *f) {
    if (!f) return;
    free_contents(f);
}

const StEntry *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->entries[i].name, name) == 0) return &f->entries[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

/* ---- reading ---------------------------------------------------------------------------- */

int st_read_f32(const StFile *f, const char *name, float *dst, const int64_t *shape, int ndim,
                Err *e) {
    char nm[160];
    io_safe_text(nm, sizeof nm, name);
    const StEntry *en = st_find(f, name);
    if (!en) {
        const char *best = NULL;
        int best_d = 1 << 30;
        for (int i = 0; i < f->count; i++) {
            int d = edit_distance(name, f->entries[i].name);
            if (d < best_d) {
                best_d = d;
                best = f->entries[i].name;
            }
        }
        if (best && best_d <= 3) {
            char bn[160];
            return err_set(e,
                           "%s: no tensor named '%s' (did you mean '%s'?); the checkpoint does "
                           "not match this model",
                           f->path, nm, io_safe_text(bn, sizeof bn, best));
        }
        return err_set(e,
                       "%s: no tensor named '%s' among its %d tensors; the checkpoint does not "
                       "match this model",
                       f->path, nm, f->count);
    }
    int same = en->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = en->shape[i] == shape[i];
    if (!same) {
        char have[200], want[200];
        io_shape_text(have, sizeof have, en->shape, en->ndim);
        io_shape_text(want, sizeof want, shape, ndim < 0 ? 0 : ndim);
        return err_set(e,
                       "%s: tensor '%s' has shape %s but the model expects %s; the checkpoint "
                       "was made for a different model shape",
                       f->path, nm, have, want);
    }
    const unsigned char *src = f->bytes + f->data_start + en->begin;
    size_t n = (size_t)en->numel;
    switch (en->dtype) {
    case ST_F32:
        if (io_host_little_endian()) {
            if (n) memcpy(dst, src, n * 4);
        } else {
            for (size_t i = 0; i < n; i++) {
                const unsigned char *p = src + 4 * i;
                uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24;
                dst[i] = io_bits_f32(u);
            }
        }
        return 0;
    case ST_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = bf16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
        return 0;
    case ST_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = f16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
        return 0;
    default:
        return err_set(e,
                       "%s: tensor '%s' has dtype %s, which cannot be read as floats; only F32, "
                       "BF16 and F16 are supported, so convert the checkpoint",
                       f->path, nm, en->dtype_name);
    }
}

int st_read_tensor(const StFile *f, Tensor *t, Err *e) {
    return st_read_f32(f, t->name, t->data, t->shape, t->ndim, e);
}
