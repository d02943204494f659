/*
 * safetensors_header.c — checks a safetensors header before anyone can look at the data.
 *
 * The header is copied into a zero-padded buffer (so that the JSON parser can never run off the
 * end of it), parsed with cJSON, and every entry is checked. Overlaps and holes are found by
 * sorting the entries by offset; duplicate names by sorting them by name. Both sorts are
 * O(n log n).
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_util.h"
#include "safetensors_private.h"

/* A JSON number that is a non-negative integer a double holds exactly. Returns 0 on success,
 * otherwise a short description of what is wrong. */
static const char *json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return "is not a number";
    double v = item->valuedouble;
    if (!isfinite(v)) return "is not a finite number";
    if (v < 0) return "is negative";
    if (floor(v) != v) return "is not an integer";
    if (v > ST_MAX_EXACT) return "is too large (more than 2^53)";
    *out = (uint64_t)v;
    return NULL;
}

static char *dup_string(const char *s, const char *what) {
    size_t n = strlen(s);
    char *p = xmalloc(n + 1, what);
    memcpy(p, s, n + 1);
    return p;
}

/* ---- validation ------------------------------------------------------------------------- */

static int cmp_by_offset(const void *a, const void *b) {
    const StEntry *x = *(const StEntry *const *)a, *y = *(const StEntry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Parses one tensor entry into *en. `label` is the file's name for messages. */
static int parse_entry(const char *label, const cJSON *item, uint64_t data_size, StEntry *en,
                       Err *e) {
    char nm[160];
    io_safe_text(nm, sizeof nm, item->string);
    size_t name_len = strlen(item->string);
    if (name_len > TENSOR_NAME_MAX - 1)
        return err_set(e,
                       "%s: tensor '%s': the name is %zu bytes long but at most %d are supported; "
                       "rename the tensor",
                       label, nm, name_len, TENSOR_NAME_MAX - 1);
    memcpy(en->name, item->string, name_len + 1);
    if (!cJSON_IsObject(item))
        return err_set(e,
                       "%s: tensor '%s': the entry is not a JSON object; each tensor needs "
                       "{\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}",
                       label, nm);

    /* each field once: a repeated field would be read differently by different readers */
    static const char *const fields[3] = {"dtype", "shape", "data_offsets"};
    for (int k = 0; k < 3; k++) {
        int seen = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, item) {
            if (c->string && strcmp(c->string, fields[k]) == 0) seen++;
        }
        if (seen > 1)
            return err_set(e,
                           "%s: tensor '%s': \"%s\" appears %d times in the entry (duplicate "
                           "field); the file is corrupt",
                           label, nm, fields[k], seen);
    }

    /* dtype */
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!dt)
        return err_set(e, "%s: tensor '%s': missing \"dtype\"; the file is corrupt", label, nm);
    if (!cJSON_IsString(dt) || !dt->valuestring)
        return err_set(e, "%s: tensor '%s': \"dtype\" is not a string; the file is corrupt", label,
                       nm);
    char dn[64];
    io_safe_text(dn, sizeof dn, dt->valuestring);
    const char *ds = dt->valuestring;
    if (strcmp(ds, "F4") == 0 || strncmp(ds, "F4_", 3) == 0 || strcmp(ds, "F6") == 0 ||
        strncmp(ds, "F6_", 3) == 0)
        return err_set(e,
                       "%s: tensor '%s': dtype %s packs several values per byte and is not "
                       "supported; convert the tensor to F32, BF16 or F16",
                       label, nm, dn);
    const DtypeInfo *info = st_dtype_lookup(dt->valuestring);
    if (!info)
        return err_set(e,
                       "%s: tensor '%s': unknown dtype '%s'; expected one of F32, F16, BF16, F64, "
                       "I64, I32, I16, I8, U8, BOOL, U16, U32, U64, F8_E5M2, F8_E4M3",
                       label, nm, dn);
    en->dtype = info->dtype;
    snprintf(en->dtype_name, sizeof en->dtype_name, "%s", info->name);

    /* shape */
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!sh)
        return err_set(e, "%s: tensor '%s': missing \"shape\"; the file is corrupt", label, nm);
    if (!cJSON_IsArray(sh))
        return err_set(e, "%s: tensor '%s': \"shape\" is not an array; the file is corrupt", label,
                       nm);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > ST_MAX_DIMS)
        return err_set(e,
                       "%s: tensor '%s': shape has %d dimensions but at most %d are supported; "
                       "the file is corrupt or uses an unsupported layout",
                       label, nm, ndim, ST_MAX_DIMS);
    en->ndim = ndim;
    int d = 0, has_zero = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, sh) {
        uint64_t v = 0;
        const char *why = json_uint(dim, &v);
        if (why)
            return err_set(e,
                           "%s: tensor '%s': shape dimension %d %s; dimensions must be "
                           "non-negative integers",
                           label, nm, d, why);
        en->shape[d++] = (int64_t)v;
        if (v == 0) has_zero = 1;
    }
    uint64_t numel = 1;
    if (has_zero) {
        numel = 0;
    } else {
        for (int i = 0; i < ndim; i++) {
            uint64_t v = (uint64_t)en->shape[i];
            if (numel > UINT64_MAX / v) {
                char st[200];
                io_shape_text(st, sizeof st, en->shape, ndim);
                return err_set(e,
                               "%s: tensor '%s': shape %s has too many elements (overflows 64 "
                               "bits); the file is corrupt",
                               label, nm, st);
            }
            numel *= v;
        }
    }
    en->numel = numel;

    /* data_offsets */
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!off)
        return err_set(e, "%s: tensor '%s': missing \"data_offsets\"; the file is corrupt", label,
                       nm);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return err_set(e,
                       "%s: tensor '%s': \"data_offsets\" is not an array of two integers "
                       "[begin, end]; the file is corrupt",
                       label, nm);
    uint64_t begin = 0, end = 0;
    const char *why = json_uint(cJSON_GetArrayItem(off, 0), &begin);
    if (why)
        return err_set(e, "%s: tensor '%s': data_offsets begin %s; the file is corrupt", label, nm,
                       why);
    why = json_uint(cJSON_GetArrayItem(off, 1), &end);
    if (why)
        return err_set(e, "%s: tensor '%s': data_offsets end %s; the file is corrupt", label, nm,
                       why);
    if (begin > end)
        return err_set(e,
                       "%s: tensor '%s': data_offsets [%llu, %llu] has begin after end; the "
                       "file is corrupt",
                       label, nm, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return err_set(e,
                       "%s: tensor '%s': data_offsets [%llu, %llu] reach beyond the data section "
                       "(%llu bytes); the file is truncated or corrupt",
                       label, nm, (unsigned long long)begin, (unsigned long long)end,
                       (unsigned long long)data_size);
    uint64_t esize = (uint64_t)info->size;
    char st[200];
    io_shape_text(st, sizeof st, en->shape, ndim);
    if (numel > UINT64_MAX / esize)
        return err_set(e,
                       "%s: tensor '%s': dtype %s shape %s needs more than 2^64 bytes; the file "
                       "is corrupt",
                       label, nm, info->name, st);
    if (end - begin != numel * esize)
        return err_set(e,
                       "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but dtype %s "
                       "shape %s needs %llu; the file is corrupt",
                       label, nm, (unsigned long long)begin, (unsigned long long)end,
                       (unsigned long long)(end - begin), info->name, st,
                       (unsigned long long)(numel * esize));
    en->begin = begin;
    en->end = end;
    return 0;
}

static int parse_metadata(StFile *f, const cJSON *meta, Err *e) {
    if (!cJSON_IsObject(meta))
        return err_set(e,
                       "%s: \"__metadata__\" is not a JSON object; it must map strings to "
                       "strings",
                       f->path);
    int n = cJSON_GetArraySize(meta);
    if (n == 0) return 0;
    f->meta_keys = xmalloc(sizeof(char *) * (size_t)n, "safetensors metadata keys");
    f->meta_values = xmalloc(sizeof(char *) * (size_t)n, "safetensors metadata values");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, meta) {
        char kn[160];
        io_safe_text(kn, sizeof kn, kv->string ? kv->string : "");
        if (!cJSON_IsString(kv) || !kv->valuestring)
            return err_set(e,
                           "%s: \"__metadata__\" key '%s' has a value that is not a string; "
                           "metadata must map strings to strings",
                           f->path, kn);
        f->meta_keys[f->meta_count] = dup_string(kv->string ? kv->string : "", "metadata key");
        f->meta_values[f->meta_count] = dup_string(kv->valuestring, "metadata value");
        f->meta_count++;
    }
    /* duplicate keys */
    char kn[160];
    if (st_find_duplicate((const char *const *)f->meta_keys, f->meta_count, kn, sizeof kn))
        return err_set(e,
                       "%s: \"__metadata__\" has a duplicate key '%s'; each key may appear only "
                       "once",
                       f->path, kn);
    return 0;
}

static int validate_layout(StFile *f, uint64_t data_size, Err *e) {
    int n = f->count;
    if (n == 0) {
        if (data_size != 0)
            return err_set(e,
                           "%s: byte %zu: the file has no tensors but %llu bytes of data that "
                           "belong to no tensor (a hole); the file is corrupt",
                           f->path, f->data_start, (unsigned long long)data_size);
        return 0;
    }
    /* duplicate names */
    const char **names = xmalloc(sizeof(char *) * (size_t)n, "safetensors names");
    for (int i = 0; i < n; i++) names[i] = f->entries[i].name;
    char nm[160];
    int dup = st_find_duplicate(names, n, nm, sizeof nm);
    xfree(names);
    if (dup)
        return err_set(e,
                       "%s: tensor '%s' appears more than once in the header (duplicate name); "
                       "the file is corrupt",
                       f->path, nm);

    /* overlaps and holes */
    const StEntry **ord = xmalloc(sizeof(StEntry *) * (size_t)n, "safetensors offset sort");
    for (int i = 0; i < n; i++) ord[i] = &f->entries[i];
    qsort(ord, (size_t)n, sizeof *ord, cmp_by_offset);
    uint64_t prev_end = 0;
    const StEntry *prev = NULL;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const StEntry *cur = ord[i];
        char a[160], b[160];
        if (cur->begin < prev_end) {
            rc = err_set(e,
                         "%s: byte %llu: tensors '%s' data_offsets [%llu, %llu] and '%s' "
                         "data_offsets [%llu, %llu] overlap; the file is corrupt",
                         f->path, (unsigned long long)(f->data_start + cur->begin),
                         io_safe_text(a, sizeof a, prev->name), (unsigned long long)prev->begin,
                         (unsigned long long)prev->end, io_safe_text(b, sizeof b, cur->name),
                         (unsigned long long)cur->begin, (unsigned long long)cur->end);
        } else if (cur->begin > prev_end) {
            char after[200];
            if (prev)
                snprintf(after, sizeof after, "after tensor '%s'",
                         io_safe_text(a, sizeof a, prev->name));
            else
                snprintf(after, sizeof after, "at the start of the data section");
            rc = err_set(e,
                         "%s: byte %llu: data section bytes [%llu, %llu) %s belong to no tensor "
                         "(a hole before tensor '%s'); the file is corrupt",
                         f->path, (unsigned long long)(f->data_start + prev_end),
                         (unsigned long long)prev_end, (unsigned long long)cur->begin, after,
                         io_safe_text(b, sizeof b, cur->name));
        }
        prev_end = cur->end;
        prev = cur;
    }
    if (rc == 0 && prev_end != data_size) {
        char a[160];
        rc = err_set(e,
                     "%s: byte %llu: data section bytes [%llu, %llu) after the last tensor '%s' "
                     "belong to no tensor (a hole at the end); the file is corrupt",
                     f->path, (unsigned long long)(f->data_start + prev_end),
                     (unsigned long long)prev_end, (unsigned long long)data_size,
                     io_safe_text(a, sizeof a, prev->name));
    }
    xfree(ord);
    return rc;
}

/* Offset of the first "\u0000" escape in valid JSON text, or len if there is none. */
static size_t find_escaped_nul(const char *h, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (h[i] != '\\') continue;
        if (h[i + 1] == 'u' && i + 5 < len && h[i + 2] == '0' && h[i + 3] == '0' &&
            h[i + 4] == '0' && h[i + 5] == '0')
            return i;
        i++; /* skip the escaped character, so "\\u0000" is not a NUL */
    }
    return len;
}

int st_parse_header(StFile *f, Err *e) {
    const unsigned char *b = f->bytes;
    size_t size = f->size;
    if (size < 8)
        return err_set(e,
                       "%s: byte 0: the file is only %zu bytes, shorter than the 8-byte header "
                       "length; the file is truncated or not a safetensors file",
                       f->path, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n > (uint64_t)(size - 8))
        return err_set(e,
                       "%s: byte 0: header length %llu exceeds the file size %zu - 8; the file "
                       "is truncated or not a safetensors file",
                       f->path, (unsigned long long)n, size);
    if (n > ST_MAX_HEADER)
        return err_set(e,
                       "%s: byte 0: header length %llu exceeds the limit of %llu bytes; the file "
                       "is corrupt or not a safetensors file",
                       f->path, (unsigned long long)n, ST_MAX_HEADER);
    if (n == 0 || b[8] != '{') {
        if (n == 0)
            return err_set(e,
                           "%s: byte 8: the header is empty, it should be a JSON object starting "
                           "with '{'; the file is corrupt or not a safetensors file",
                           f->path);
        return err_set(e,
                       "%s: byte 8: the header starts with byte 0x%02x, not '{'; the file is "
                       "corrupt or not a safetensors file",
                       f->path, b[8]);
    }
    size_t hlen = (size_t)n;
    f->data_start = 8 + hlen;
    uint64_t data_size = (uint64_t)(size - f->data_start);

    /* A zero-padded private copy: cJSON never sees bytes past the header. */
    char *hdr = malloc(hlen + 16);
    if (!hdr) return err_set(e, "%s: out of memory copying a %zu-byte header", f->path, hlen);
    memcpy(hdr, b + 8, hlen);
    memset(hdr + hlen, 0, 16);

    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &parse_end, 0);
    if (!root) {
        size_t at = 0;
        if (parse_end && parse_end >= hdr && parse_end <= hdr + hlen)
            at = (size_t)(parse_end - hdr);
        free(hdr);
        return err_set(e,
                       "%s: byte %zu: the header is not valid JSON; the file is corrupt or not a "
                       "safetensors file",
                       f->path, 8 + at);
    }
    if (parse_end && parse_end >= hdr && parse_end <= hdr + hlen) {
        for (const char *p = parse_end; p < hdr + hlen; p++) {
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                size_t at = (size_t)(p - hdr);
                unsigned char bad = (unsigned char)*p;
                cJSON_Delete(root);
                free(hdr);
                return err_set(e,
                               "%s: byte %zu: unexpected byte 0x%02x after the header's JSON "
                               "object (only trailing spaces are allowed); the file is corrupt",
                               f->path, 8 + at, bad);
            }
        }
    }
    /* cJSON cuts strings at an escaped NUL, which would silently rename a tensor */
    size_t nul_at = find_escaped_nul(hdr, hlen);
    free(hdr);
    int rc = 0;
    if (nul_at < hlen) {
        rc = err_set(e,
                     "%s: byte %zu: the header contains an escaped NUL character (\\u0000), "
                     "which names and metadata cannot hold; the file is corrupt",
                     f->path, 8 + nul_at);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        rc =
            err_set(e, "%s: byte 8: the header is not a JSON object; the file is corrupt", f->path);
        goto done;
    }

    int total = cJSON_GetArraySize(root);
    int n_meta = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (!item->string) {
            rc = err_set(e,
                         "%s: byte 8: the header has an entry without a name; the file is corrupt",
                         f->path);
            goto done;
        }
        if (strcmp(item->string, "__metadata__") == 0) n_meta++;
    }
    if (n_meta > 1) {
        rc = err_set(e,
                     "%s: the header has \"__metadata__\" %d times (duplicate); the file is "
                     "corrupt",
                     f->path, n_meta);
        goto done;
    }
    int n_tensors = total - n_meta;
    if (n_tensors > 0)
        f->entries = xmalloc(sizeof(StEntry) * (size_t)n_tensors, "safetensors entries");
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if ((rc = parse_metadata(f, item, e)) != 0) goto done;
            continue;
        }
        if ((rc = parse_entry(f->path, item, data_size, &f->entries[f->count], e)) != 0) goto done;
        f->count++;
    }
    rc = validate_layout(f, data_size, e);
done:
    cJSON_Delete(root);
    return rc;
}
