/*
 * config_print.c — value text: numbers that read back bit-exactly, quoted strings, examples for
 * messages; and the resolved config (config_print, config_save), written from the schema.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* ---- small formatting helpers -------------------------------------------------------------- */

/* Shortest text that strtod() reads back to exactly v. */
static void fmt_double(double v, char *buf, size_t n) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
    snprintf(buf, n, "%.17g", v);
}

/* A number for a message: integral values without an exponent. */
void fmt_bound(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        fmt_double(v, buf, n);
}

/* A libconfig float literal that reads back bit-exactly (always has '.' or 'e'). */
void fmt_float_literal(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.1f", v); /* 1000000.0 rather than 1e+06 */
        return;
    }
    fmt_double(v, buf, n);
    if (!strpbrk(buf, ".eE")) {
        size_t len = strlen(buf);
        if (len + 3 <= n) memcpy(buf + len, ".0", 3);
    }
}

/* Appends a libconfig string literal of s (quoted, escaped) to buf. */
void fmt_string_literal(const char *s, char *buf, size_t n, size_t max_chars) {
    size_t o = 0, used = 0;
    if (n < 4) {
        if (n) buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, used++) {
        char tmp[8];
        if (max_chars && used >= max_chars) {
            snprintf(tmp, sizeof tmp, "...");
        } else if (*p == '"' || *p == '\\') {
            snprintf(tmp, sizeof tmp, "\\%c", *p);
        } else if (*p == '\n') {
            snprintf(tmp, sizeof tmp, "\\n");
        } else if (*p == '\t') {
            snprintf(tmp, sizeof tmp, "\\t");
        } else if (*p == '\r') {
            snprintf(tmp, sizeof tmp, "\\r");
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", *p);
        } else {
            tmp[0] = (char)*p;
            tmp[1] = '\0';
        }
        size_t l = strlen(tmp);
        if (o + l + 2 > n) break;
        memcpy(buf + o, tmp, l);
        o += l;
        if (max_chars && used >= max_chars) break;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

void fmt_choices(const char *const *choices, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i]; i++) {
        int w = snprintf(buf + o, n - o, "%s%s", i ? ", " : "", choices[i]);
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
}

/* "model.random.layers" + "12" -> "model = { random = { layers = 12; }; };" */
void fmt_nested_example(const char *path, const char *value, char *buf, size_t n) {
    char comps[8][CFG_NAME_MAX];
    int nc = 0;
    const char *p = path;
    while (*p && nc < 8) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l >= CFG_NAME_MAX) l = CFG_NAME_MAX - 1;
        memcpy(comps[nc], p, l);
        comps[nc][l] = '\0';
        nc++;
        if (!dot) break;
        p = dot + 1;
    }
    size_t o = 0;
    buf[0] = '\0';
#define APPEND(...)                                                                                \
    do {                                                                                           \
        int w_ = snprintf(buf + o, n - o, __VA_ARGS__);                                            \
        if (w_ < 0 || (size_t)w_ >= n - o) return;                                                 \
        o += (size_t)w_;                                                                           \
    } while (0)
    for (int i = 0; i < nc - 1; i++) APPEND("%s = { ", comps[i]);
    APPEND("%s = %s;", comps[nc - 1], value);
    for (int i = 0; i < nc - 1; i++) APPEND(" };");
#undef APPEND
}

const char *example_of(const Key *k) {
    if (k->example) return k->example;
    if (k->def) return k->def;
    return "...";
}

/* ---- the resolved config ----------------------------------------------------------------- */

/* Room for the longest value text: K_STRINGS at its fullest, every byte escaped (\xNN). */
#define VALUE_MAX (CFG_MAX_LIBRARIES * (4 * CFG_PATH_MAX + 4) + 16)

/* The resolved value of a (non-group) key as libconfig text; `base` as for store_value(). */
static void fmt_value(const void *base, const Key *k, char *buf, size_t n) {
    char a[64], b[64];
    switch (k->kind) {
    case K_INT:
        snprintf(buf, n, "%d", *int_field_c(base, k->off));
        return;
    case K_U64: {
        uint64_t v = *(const uint64_t *)(const void *)((const char *)base + k->off);
        snprintf(buf, n, v > (uint64_t)INT_MAX ? "%lluL" : "%llu", (unsigned long long)v);
        return;
    }
    case K_FLOAT:
        fmt_float_literal(*dbl_field_c(base, k->off), buf, n);
        return;
    case K_BOOL:
        snprintf(buf, n, "%s", *int_field_c(base, k->off) ? "true" : "false");
        return;
    case K_STRING:
        fmt_string_literal((const char *)base + k->off, buf, n, 0);
        return;
    case K_STRINGS: {
        int count = *int_field_c(base, k->off2);
        size_t o = 0;
        buf[o++] = '[';
        for (int i = 0; i < count && o + 8 < n; i++) {
            if (i) {
                memcpy(buf + o, ", ", 2);
                o += 2;
            }
            fmt_string_literal((const char *)base + k->off + (size_t)i * str_size(k), buf + o,
                               n - o - 2, 0);
            o += strlen(buf + o);
        }
        buf[o++] = ']';
        buf[o] = '\0';
        return;
    }
    case K_ENUM: {
        int v = *int_field_c(base, k->off);
        int count = 0;
        while (k->choices[count]) count++;
        snprintf(buf, n, "\"%s\"", v >= 0 && v < count ? k->choices[v] : "?");
        return;
    }
    case K_MASK: {
        int mask = *int_field_c(base, k->off);
        size_t o = 0;
        o += (size_t)snprintf(buf, n, "[");
        for (int i = 0; k->choices[i] && o < n; i++)
            if (mask & (1 << i))
                o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"", o > 1 ? ", " : "", k->choices[i]);
        if (o < n) snprintf(buf + o, n - o, "]");
        return;
    }
    case K_INT_PAIR:
        snprintf(buf, n, "[%d, %d]", *int_field_c(base, k->off), *int_field_c(base, k->off2));
        return;
    case K_FLOAT_PAIR:
        fmt_float_literal(*dbl_field_c(base, k->off), a, sizeof a);
        fmt_float_literal(*dbl_field_c(base, k->off2), b, sizeof b);
        snprintf(buf, n, "[%s, %s]", a, b);
        return;
    case K_GROUP:
    case K_FLAG_GROUP:
    case K_LIST:
        break;
    }
    snprintf(buf, n, "?");
}

/* Writes the children of `group` (schema path) whose fields are at `base`. `comments`: add the
 * help lines (list elements after the first go without, to keep the file short). */
static void print_group(const void *base, FILE *fp, const char *group, int depth, int comments,
                        char *val) {
    int first = 1;
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!is_child_of(k->path, group)) continue;
        if (k->print_if && !k->print_if(base)) continue;
        int indent = 4 * depth;
        if (depth == 0 && !first) fputc('\n', fp);
        if (kind_is_group(k->kind)) {
            if (depth == 0) fprintf(fp, "// %s\n", k->help);
            fprintf(fp, "%*s%s = {", indent, "", leaf_of(k->path));
            if (depth > 0 && comments) fprintf(fp, " // %s", k->help);
            fputc('\n', fp);
            print_group(base, fp, k->path, depth + 1, comments, val);
            fprintf(fp, "%*s};\n", indent, "");
        } else if (k->kind == K_LIST) {
            if (depth == 0) fprintf(fp, "// %s\n", k->help);
            fprintf(fp, "%*s%s = (", indent, "", leaf_of(k->path));
            if (depth > 0 && comments) fprintf(fp, " // %s", k->help);
            fputc('\n', fp);
            int count = *int_field_c(base, k->off2);
            for (int j = 0; j < count; j++) {
                const void *eb = (const char *)base + k->off + (size_t)j * k->size;
                fprintf(fp, "%*s{ // [%d]\n", indent + 4, "", j);
                print_group(eb, fp, k->path, depth + 2, comments && j == 0, val);
                fprintf(fp, "%*s}%s\n", indent + 4, "", j + 1 < count ? "," : "");
            }
            fprintf(fp, "%*s);\n", indent, "");
        } else {
            fmt_value(base, k, val, VALUE_MAX);
            int w = fprintf(fp, "%*s%s = %s;", indent, "", leaf_of(k->path), val);
            if (comments)
                fprintf(fp, "%*s // %s\n", w < 40 ? 40 - w : 0, "", k->help);
            else
                fputc('\n', fp);
        }
        first = 0;
    }
}

void config_print(const Config *cfg, FILE *fp) {
    fprintf(fp, "// imprint resolved configuration: every key, defaults included.\n");
    fprintf(fp, "// Loading this file gives the same run configuration.\n");
    fprintf(fp, "// source: ");
    for (const unsigned char *p = (const unsigned char *)cfg->source; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, fp);
    fprintf(fp, "\n\n");
    char *val = xmalloc(VALUE_MAX, "config value text");
    print_group(cfg, fp, "", 0, 1, val);
    free(val);
}

int config_save(const Config *cfg, const char *path, Err *e) {
    AtomicFile af;
    if (atomic_open(&af, path, e) != 0) return -1;
    config_print(cfg, af.fp);
    return atomic_commit(&af, e);
}

/* ---- differences between two resolved configs -------------------------------------------- */

typedef struct Entry {
    char path[CFG_NAME_MAX * 2]; /* "curriculum.stages.[0].steps" */
    char *value;                 /* as config_print() writes it */
} Entry;

typedef struct Entries {
    Entry *e;
    int n, cap;
} Entries;

/* Every value config_print() writes under `group` (schema path; `shown`: with list indices). */
static void collect(const void *base, const char *group, const char *shown, Entries *out,
                    char *val) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!is_child_of(k->path, group)) continue;
        if (k->print_if && !k->print_if(base)) continue;
        char name[CFG_NAME_MAX * 2];
        snprintf(name, sizeof name, "%s%s%s", shown, shown[0] ? "." : "", leaf_of(k->path));
        if (kind_is_group(k->kind)) {
            collect(base, k->path, name, out, val);
        } else if (k->kind == K_LIST) {
            int count = *int_field_c(base, k->off2);
            for (int j = 0; j < count; j++) {
                char el[CFG_NAME_MAX * 2 + 16];
                snprintf(el, sizeof el, "%s.[%d]", name, j);
                collect((const char *)base + k->off + (size_t)j * k->size, k->path, el, out, val);
            }
        } else {
            fmt_value(base, k, val, VALUE_MAX);
            if (out->n == out->cap) {
                out->cap = out->cap ? 2 * out->cap : 64;
                Entry *grown = realloc(out->e, sizeof *out->e * (size_t)out->cap);
                if (!grown) fatal("out of memory comparing configs");
                out->e = grown;
            }
            Entry *en = &out->e[out->n++];
            snprintf(en->path, sizeof en->path, "%s", name);
            size_t len = strlen(val);
            en->value = xmalloc(len + 1, "config value text");
            memcpy(en->value, val, len + 1);
        }
    }
}

static const Entry *entry_find(const Entries *es, const char *path) {
    for (int i = 0; i < es->n; i++)
        if (strcmp(es->e[i].path, path) == 0) return &es->e[i];
    return NULL;
}

/* Appends "path: old -> new" to out (o: used so far); "..." when it does not fit. */
static void diff_add(char *out, size_t n, size_t *o, int *count, const char *path, const char *old,
                     const char *new_) {
    if (!n) return;
    if (*o + 4 >= n) return;
    char item[512];
    snprintf(item, sizeof item, "%s%s: %.120s -> %.120s", *count ? "; " : "", path, old, new_);
    size_t l = strlen(item);
    if (*o + l + 5 < n) {
        memcpy(out + *o, item, l + 1);
        *o += l;
    } else if (!strstr(out, "...")) {
        snprintf(out + *o, n - *o, "%s...", *count ? "; " : "");
        *o += strlen(out + *o);
    }
    (*count)++;
}

int config_diff(const Config *a, const Config *b, char *out, size_t n) {
    Entries ea = {0}, eb = {0};
    char *val = xmalloc(VALUE_MAX, "config value text");
    collect(a, "", "", &ea, val);
    collect(b, "", "", &eb, val);
    free(val);
    size_t o = 0;
    int count = 0;
    if (n) out[0] = '\0';
    for (int i = 0; i < ea.n; i++) {
        const Entry *other = entry_find(&eb, ea.e[i].path);
        if (!other)
            diff_add(out, n, &o, &count, ea.e[i].path, ea.e[i].value, "(not given)");
        else if (strcmp(other->value, ea.e[i].value) != 0)
            diff_add(out, n, &o, &count, ea.e[i].path, ea.e[i].value, other->value);
    }
    for (int i = 0; i < eb.n; i++)
        if (!entry_find(&ea, eb.e[i].path))
            diff_add(out, n, &o, &count, eb.e[i].path, "(not given)", eb.e[i].value);
    for (int i = 0; i < ea.n; i++) free(ea.e[i].value);
    for (int i = 0; i < eb.n; i++) free(eb.e[i].value);
    free(ea.e);
    free(eb.e);
    return count;
}
