/*
 * safetensors_write.c — the safetensors writer: checks the items, builds the header (padded so
 * that the data section is 8-byte aligned) and writes the file atomically. See safetensors.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io_util.h"
#include "safetensors_private.h"

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} StrBuf;

static void sb_grow(StrBuf *s, size_t extra) {
    if (s->len + extra + 1 <= s->cap) return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + extra + 1) cap *= 2;
    char *p = xmalloc(cap, "safetensors header");
    if (s->len) memcpy(p, s->p, s->len);
    xfree(s->p);
    s->p = p;
    s->cap = cap;
}

static void sb_add(StrBuf *s, const char *t, size_t n) {
    sb_grow(s, n);
    memcpy(s->p + s->len, t, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void sb_str(StrBuf *s, const char *t) {
    sb_add(s, t, strlen(t));
}

static void sb_json_string(StrBuf *s, const char *t) {
    sb_add(s, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
        char esc[8];
        if (*p == '"') {
            sb_add(s, "\\\"", 2);
        } else if (*p == '\\') {
            sb_add(s, "\\\\", 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_add(s, esc, 6);
        } else {
            sb_add(s, (const char *)p, 1);
        }
    }
    sb_add(s, "\"", 1);
}

static int write_all(FILE *fp, const void *p, size_t n) {
    return n == 0 || fwrite(p, 1, n, fp) == n;
}

static int write_item_data(FILE *fp, const StWriteItem *it, size_t numel) {
    enum { CHUNK = 16384 };
    unsigned char buf[CHUNK * 4];
    if (it->dtype == ST_F32 && io_host_little_endian()) return write_all(fp, it->data, numel * 4);
    for (size_t i = 0; i < numel; i += CHUNK) {
        size_t m = numel - i < CHUNK ? numel - i : CHUNK;
        size_t bytes = 0;
        for (size_t j = 0; j < m; j++) {
            float v = it->data[i + j];
            if (it->dtype == ST_F32) {
                io_store_u32le(buf + bytes, io_f32_bits(v));
                bytes += 4;
            } else {
                uint16_t h = it->dtype == ST_BF16 ? f32_to_bf16(v) : f32_to_f16(v);
                buf[bytes++] = (unsigned char)h;
                buf[bytes++] = (unsigned char)(h >> 8);
            }
        }
        if (!write_all(fp, buf, bytes)) return 0;
    }
    return 1;
}

int st_write(const char *path, const StWriteItem *items, int n_items, const char *const *meta_keys,
             const char *const *meta_values, int n_meta, Err *e) {
    if (n_items < 0 || n_meta < 0)
        return err_set(e, "%s: negative item count; this is a bug in the caller", path);
    /* check the items and compute sizes before creating anything */
    uint64_t *sizes = xmalloc(sizeof(uint64_t) * (size_t)(n_items + 1), "safetensors sizes");
    const char **names = xmalloc(sizeof(char *) * (size_t)(n_items + 1), "safetensors names");
    int rc = 0;
    for (int i = 0; i < n_items && rc == 0; i++) {
        const StWriteItem *it = &items[i];
        if (!it->name) {
            rc = err_set(e, "%s: item %d has no name; every tensor needs a name", path, i);
            break;
        }
        char nm[160];
        io_safe_text(nm, sizeof nm, it->name);
        size_t len = strlen(it->name);
        if (len > TENSOR_NAME_MAX - 1 || strcmp(it->name, "__metadata__") == 0) {
            rc = err_set(e,
                         "%s: tensor name '%s' is reserved or longer than %d bytes; rename the "
                         "tensor",
                         path, nm, TENSOR_NAME_MAX - 1);
            break;
        }
        if (it->dtype != ST_F32 && it->dtype != ST_BF16 && it->dtype != ST_F16) {
            rc = err_set(e,
                         "%s: tensor '%s': cannot write dtype %s; only F32, BF16 and F16 can be "
                         "written",
                         path, nm, st_dtype_name(it->dtype));
            break;
        }
        if (it->ndim < 0 || it->ndim > ST_MAX_DIMS || (it->ndim > 0 && !it->shape)) {
            rc = err_set(e, "%s: tensor '%s': %d dimensions; between 0 and %d are supported", path,
                         nm, it->ndim, ST_MAX_DIMS);
            break;
        }
        uint64_t numel = 1;
        int zero = 0;
        for (int d = 0; d < it->ndim; d++) {
            if (it->shape[d] < 0) {
                rc = err_set(e, "%s: tensor '%s': dimension %d is negative (%lld)", path, nm, d,
                             (long long)it->shape[d]);
                break;
            }
            if (it->shape[d] == 0) zero = 1;
        }
        if (rc) break;
        if (zero) {
            numel = 0;
        } else {
            for (int d = 0; d < it->ndim && rc == 0; d++) {
                uint64_t v = (uint64_t)it->shape[d];
                if (numel > (UINT64_MAX / 8) / v)
                    rc = err_set(e, "%s: tensor '%s': shape too large", path, nm);
                numel *= v;
            }
        }
        if (rc) break;
        if (numel > SIZE_MAX / 4) {
            rc = err_set(e, "%s: tensor '%s': shape too large", path, nm);
            break;
        }
        if (numel > 0 && !it->data) {
            rc = err_set(e, "%s: tensor '%s': no data", path, nm);
            break;
        }
        sizes[i] = numel * (uint64_t)st_dtype_size(it->dtype);
        names[i] = it->name;
    }
    char nm[160];
    if (rc == 0 && st_find_duplicate(names, n_items, nm, sizeof nm))
        rc =
            err_set(e, "%s: tensor '%s' is given twice (duplicate name); each name may appear once",
                    path, nm);
    for (int i = 0; i < n_meta && rc == 0; i++)
        if (!meta_keys[i] || !meta_values[i])
            rc = err_set(e, "%s: metadata pair %d is missing its key or value", path, i);
    xfree(names);
    if (rc) {
        xfree(sizes);
        return -1;
    }

    /* header */
    StrBuf h = {0};
    sb_str(&h, "{");
    int first = 1;
    if (n_meta > 0) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, meta_keys[i]);
            sb_str(&h, ":");
            sb_json_string(&h, meta_values[i]);
        }
        sb_str(&h, "}");
        first = 0;
    }
    uint64_t offset = 0;
    for (int i = 0; i < n_items; i++) {
        const StWriteItem *it = &items[i];
        char num[64];
        if (!first) sb_str(&h, ",");
        first = 0;
        sb_json_string(&h, it->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, st_dtype_name(it->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < it->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)it->shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)(offset + sizes[i]));
        sb_str(&h, num);
        offset += sizes[i];
    }
    sb_str(&h, "}");
    while ((8 + h.len) % 8 != 0) sb_str(&h, " ");

    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++) lenbytes[i] = (unsigned char)((uint64_t)h.len >> (8 * i));

    AtomicFile af;
    if (atomic_open(&af, path, e) != 0) {
        xfree(h.p);
        xfree(sizes);
        return -1;
    }
    int ok = write_all(af.fp, lenbytes, 8) && write_all(af.fp, h.p, h.len);
    for (int i = 0; ok && i < n_items; i++)
        ok = write_item_data(af.fp, &items[i],
                             (size_t)(sizes[i] / (uint64_t)st_dtype_size(items[i].dtype)));
    xfree(h.p);
    xfree(sizes);
    if (!ok) {
        int saved = errno;
        atomic_abort(&af);
        return err_set(e, "%s: write failed: %s; check free disk space", path, strerror(saved));
    }
    return atomic_commit(&af, e);
}

int st_write_tensors(const char *path, const Tensor *tensors, int n, const char *const *meta_keys,
                     const char *const *meta_values, int n_meta, Err *e) {
    if (n < 0) return err_set(e, "%s: negative tensor count; this is a bug in the caller", path);
    StWriteItem *items = xmalloc(sizeof(StWriteItem) * (size_t)(n + 1), "safetensors items");
    for (int i = 0; i < n; i++) {
        items[i].name = tensors[i].name;
        items[i].data = tensors[i].data;
        items[i].ndim = tensors[i].ndim;
        items[i].shape = tensors[i].shape;
        items[i].dtype = ST_F32;
    }
    int rc = st_write(path, items, n, meta_keys, meta_values, n_meta, e);
    xfree(items);
    return rc;
}
