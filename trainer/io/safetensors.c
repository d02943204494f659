/*
 * safetensors.c — reader and writer for the safetensors format. See safetensors.h.
 *
 * The reader loads the whole file into one buffer, copies the header into a zero-padded buffer
 * (so that the JSON parser can never run off the end of it), parses it with cJSON and checks
 * every entry before anyone can look at the data. Overlaps and holes are found by sorting the
 * entries by offset; duplicate names by sorting them by name. Both sorts are O(n log n).
 */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER 100000000ULL
#define ST_MAX_DIMS   8
/* Largest integer a JSON number (a double in cJSON) holds exactly. */
#define ST_MAX_EXACT 9007199254740992.0

/* ---- dtype conversions ---------------------------------------------------------------- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float bf16_to_f32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) /* NaN: keep sign and top payload, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7FFFu + ((u >> 16) & 1u); /* round to nearest even; overflow carries into inf */
    return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (mant << 13)); /* inf / NaN */
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        /* subnormal: mant * 2^-24, normalised into an f32 */
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while ((mant & 0x400u) == 0);
        mant &= 0x3FFu;
        return bits_f32(sign | ((uint32_t)(112 - e) << 23) | (mant << 13));
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
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

typedef struct {
    const char *name;
    StDtype dtype;
    int size;
} DtypeInfo;

static const DtypeInfo DTYPES[] = {
    {"F32", ST_F32, 4},           {"F16", ST_F16, 2},         {"BF16", ST_BF16, 2},
    {"F64", ST_F64, 8},           {"I64", ST_I64, 8},         {"I32", ST_I32, 4},
    {"I16", ST_I16, 2},           {"I8", ST_I8, 1},           {"U8", ST_U8, 1},
    {"BOOL", ST_BOOL, 1},         {"U16", ST_OTHER, 2},       {"U32", ST_OTHER, 4},
    {"U64", ST_OTHER, 8},         {"F8_E5M2", ST_OTHER, 1},   {"F8_E4M3", ST_OTHER, 1},
    {"F8_E8M0", ST_OTHER, 1},     {"F8_E4M3FN", ST_OTHER, 1}, {"F8_E5M2FNUZ", ST_OTHER, 1},
    {"F8_E4M3FNUZ", ST_OTHER, 1}, {"C64", ST_OTHER, 8},
};

static const DtypeInfo *dtype_lookup(const char *s) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, s) == 0) return &DTYPES[i];
    return NULL;
}

static int dtype_size_of(StDtype d) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dtype == d) return DTYPES[i].size;
    return 0;
}

static const char *dtype_name_of(StDtype d) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dtype == d && d != ST_OTHER) return DTYPES[i].name;
    return "OTHER";
}

/* ---- small helpers -------------------------------------------------------------------- */

/* A printable copy of untrusted text for messages: control and non-ASCII bytes become '?',
 * long text is cut with "...". */
static const char *safe_text(char *buf, size_t cap, const char *s) {
    size_t i = 0, limit = cap - 4;
    for (; s[i] && i < limit; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static void shape_text(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

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

static int cmp_by_name(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

/* Parses one tensor entry into *en. `label` is the file's name for messages. */
static int parse_entry(const char *label, const cJSON *item, uint64_t data_size, StEntry *en,
                       Err *e) {
    char nm[160];
    safe_text(nm, sizeof nm, item->string);
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
    safe_text(dn, sizeof dn, dt->valuestring);
    const char *ds = dt->valuestring;
    if (strcmp(ds, "F4") == 0 || strncmp(ds, "F4_", 3) == 0 || strcmp(ds, "F6") == 0 ||
        strncmp(ds, "F6_", 3) == 0)
        return err_set(e,
                       "%s: tensor '%s': dtype %s packs several values per byte and is not "
                       "supported; convert the tensor to F32, BF16 or F16",
                       label, nm, dn);
    const DtypeInfo *info = dtype_lookup(dt->valuestring);
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
                shape_text(st, sizeof st, en->shape, ndim);
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
    shape_text(st, sizeof st, en->shape, ndim);
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
        safe_text(kn, sizeof kn, kv->string ? kv->string : "");
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
    const char **sorted = xmalloc(sizeof(char *) * (size_t)n, "metadata key sort");
    for (int i = 0; i < n; i++) sorted[i] = f->meta_keys[i];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_by_name);
    for (int i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            char kn[160];
            safe_text(kn, sizeof kn, sorted[i]);
            xfree(sorted);
            return err_set(e,
                           "%s: \"__metadata__\" has a duplicate key '%s'; each key may appear "
                           "only once",
                           f->path, kn);
        }
    }
    xfree(sorted);
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
    const char **names = xmalloc(sizeof(char *) * (size_t)n, "safetensors name sort");
    for (int i = 0; i < n; i++) names[i] = f->entries[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_by_name);
    for (int i = 1; i < n; i++) {
        if (strcmp(names[i - 1], names[i]) == 0) {
            char nm[160];
            safe_text(nm, sizeof nm, names[i]);
            xfree(names);
            return err_set(e,
                           "%s: tensor '%s' appears more than once in the header (duplicate "
                           "name); the file is corrupt",
                           f->path, nm);
        }
    }
    xfree(names);

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
                         safe_text(a, sizeof a, prev->name), (unsigned long long)prev->begin,
                         (unsigned long long)prev->end, safe_text(b, sizeof b, cur->name),
                         (unsigned long long)cur->begin, (unsigned long long)cur->end);
        } else if (cur->begin > prev_end) {
            char after[200];
            if (prev)
                snprintf(after, sizeof after, "after tensor '%s'",
                         safe_text(a, sizeof a, prev->name));
            else
                snprintf(after, sizeof after, "at the start of the data section");
            rc = err_set(e,
                         "%s: byte %llu: data section bytes [%llu, %llu) %s belong to no tensor "
                         "(a hole before tensor '%s'); the file is corrupt",
                         f->path, (unsigned long long)(f->data_start + prev_end),
                         (unsigned long long)prev_end, (unsigned long long)cur->begin, after,
                         safe_text(b, sizeof b, cur->name));
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
                     safe_text(a, sizeof a, prev->name));
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

/* Validates f->bytes[0..f->size) (already owned by f). */
static int parse_file(StFile *f, Err *e) {
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

/* Takes ownership of buf (malloc'ed, size bytes). */
static int open_owned(StFile *f, unsigned char *buf, size_t size, const char *label, Err *e) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", label ? label : "(memory)");
    f->bytes = buf;
    f->size = size;
    if (parse_file(f, e) != 0) {
        free_contents(f);
        return -1;
    }
    return 0;
}

int st_open(StFile *f, const char *path, Err *e) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    size_t len = 0;
    char *buf = file_read_all(path, &len, e);
    if (!buf) return -1;
    return open_owned(f, (unsigned char *)buf, len, path, e);
}

int st_open_memory(StFile *f, const void *bytes, size_t size, const char *label, Err *e) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", label ? label : "(memory)");
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return err_set(e, "%s: out of memory copying %zu bytes", f->path, size);
    if (size) memcpy(buf, bytes, size);
    return open_owned(f, buf, size, label, e);
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

static int host_little_endian(void) {
    const uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

int st_read_f32(const StFile *f, const char *name, float *dst, const int64_t *shape, int ndim,
                Err *e) {
    char nm[160];
    safe_text(nm, sizeof nm, name);
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
                           f->path, nm, safe_text(bn, sizeof bn, best));
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
        shape_text(have, sizeof have, en->shape, en->ndim);
        shape_text(want, sizeof want, shape, ndim < 0 ? 0 : ndim);
        return err_set(e,
                       "%s: tensor '%s' has shape %s but the model expects %s; the checkpoint "
                       "was made for a different model shape",
                       f->path, nm, have, want);
    }
    const unsigned char *src = f->bytes + f->data_start + en->begin;
    size_t n = (size_t)en->numel;
    switch (en->dtype) {
    case ST_F32:
        if (host_little_endian()) {
            if (n) memcpy(dst, src, n * 4);
        } else {
            for (size_t i = 0; i < n; i++) {
                const unsigned char *p = src + 4 * i;
                uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24;
                dst[i] = bits_f32(u);
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
    if (it->dtype == ST_F32 && host_little_endian()) return write_all(fp, it->data, numel * 4);
    for (size_t i = 0; i < numel; i += CHUNK) {
        size_t m = numel - i < CHUNK ? numel - i : CHUNK;
        size_t bytes = 0;
        for (size_t j = 0; j < m; j++) {
            float v = it->data[i + j];
            if (it->dtype == ST_F32) {
                uint32_t u = f32_bits(v);
                buf[bytes++] = (unsigned char)u;
                buf[bytes++] = (unsigned char)(u >> 8);
                buf[bytes++] = (unsigned char)(u >> 16);
                buf[bytes++] = (unsigned char)(u >> 24);
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
        safe_text(nm, sizeof nm, it->name);
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
                         path, nm, dtype_name_of(it->dtype));
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
        sizes[i] = numel * (uint64_t)dtype_size_of(it->dtype);
        names[i] = it->name;
    }
    if (rc == 0 && n_items > 1) {
        qsort(names, (size_t)n_items, sizeof *names, cmp_by_name);
        for (int i = 1; i < n_items; i++) {
            if (strcmp(names[i - 1], names[i]) == 0) {
                char nm[160];
                rc = err_set(e,
                             "%s: tensor '%s' is given twice (duplicate name); each name may "
                             "appear once",
                             path, safe_text(nm, sizeof nm, names[i]));
                break;
            }
        }
    }
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
        sb_str(&h, dtype_name_of(it->dtype));
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
                             (size_t)(sizes[i] / (uint64_t)dtype_size_of(items[i].dtype)));
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
