/*
 * config_set.c — command-line overrides (--set KEY=VALUE, the value in libconfig syntax; a
 * string may go without quotes), and the scan for integer literals libconfig would truncate.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* ---- integer literals libconfig 1.5 would truncate ---------------------------------------- */

/* libconfig 1.5 reads an int literal without the L suffix with atoi-like wrap-around
 * (4294967297 becomes 1) and clamps int64 literals. Scan the text for such literals so they are
 * an error instead of a silently different value. Returns 1 and fills line/lit when found. */
int find_truncated_int(const char *text, int *line, char *lit, size_t n) {
    int ln = 1;
    const char *p = text;
    while (*p) {
        char ch = *p;
        if (ch == '\n') {
            ln++;
            p++;
        } else if (ch == '#' || (ch == '/' && p[1] == '/')) {
            while (*p && *p != '\n') p++;
        } else if (ch == '/' && p[1] == '*') {
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/')) {
                if (*p == '\n') ln++;
                p++;
            }
            if (*p) p += 2;
        } else if (ch == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) p++;
                if (*p == '\n') ln++;
                p++;
            }
            if (*p) p++;
        } else if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '*' || ch == '@') {
            p++;
            while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '*')
                p++;
        } else if ((ch >= '0' && ch <= '9') ||
                   ((ch == '-' || ch == '+') && p[1] >= '0' && p[1] <= '9')) {
            const char *start = p;
            if (ch == '-' || ch == '+') p++;
            int is_float = 0, hex = 0;
            if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                hex = 1;
                p += 2;
                while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                       (*p >= 'A' && *p <= 'F'))
                    p++;
            } else {
                while (*p >= '0' && *p <= '9') p++;
                if (*p == '.') {
                    is_float = 1;
                    p++;
                    while (*p >= '0' && *p <= '9') p++;
                }
                if ((*p == 'e' || *p == 'E') &&
                    ((p[1] >= '0' && p[1] <= '9') ||
                     ((p[1] == '-' || p[1] == '+') && p[2] >= '0' && p[2] <= '9'))) {
                    is_float = 1;
                    p += 2;
                    while (*p >= '0' && *p <= '9') p++;
                }
            }
            int is64 = 0;
            if (!is_float && (*p == 'L' || *p == 'l')) {
                is64 = 1;
                p++;
                if (*p == 'L' || *p == 'l') p++;
            }
            if (is_float) continue;
            size_t len = (size_t)(p - start);
            char num[64];
            if (len >= sizeof num) len = sizeof num - 1;
            memcpy(num, start, len);
            num[len] = '\0';
            errno = 0;
            int bad;
            if (hex) {
                unsigned long long v = strtoull(num, NULL, 16);
                bad = errno == ERANGE || (!is64 && v > 0xffffffffULL) ||
                      (is64 && v > (unsigned long long)LLONG_MAX);
            } else {
                long long v = strtoll(num, NULL, 10);
                bad = errno == ERANGE || (!is64 && (v < INT_MIN || v > INT_MAX));
            }
            if (bad) {
                *line = ln;
                snprintf(lit, n, "%s", num);
                return 1;
            }
        } else {
            p++;
        }
    }
    return 0;
}

int truncated_int_error(Err *e, const char *where, const char *lit) {
    size_t len = strlen(lit);
    if (len && (lit[len - 1] == 'L' || lit[len - 1] == 'l'))
        return err_set(e, "%s: integer %s does not fit in 64 bits; use a smaller value", where,
                       lit);
    return err_set(e,
                   "%s: integer %s does not fit in 32 bits (libconfig would silently change it); "
                   "write it as %sL, or use a smaller value",
                   where, lit, lit);
}

/* libconfig's parse error text, with a hint for the one that surprises people. */
const char *parse_hint(const char *msg) {
    if (msg && strstr(msg, "mismatched element type"))
        return " (every element of [...] must have the same type: write [0.9, 1.0], not "
               "[0.9, 1])";
    return "";
}

/* ---- overrides ------------------------------------------------------------------------------ */

static config_setting_t *copy_setting(config_setting_t *parent, const char *name,
                                      const config_setting_t *src) {
    config_setting_t *d = config_setting_add(parent, name, src->type);
    if (!d) return NULL;
    config_setting_set_format(d, config_setting_get_format(src));
    switch (src->type) {
    case CONFIG_TYPE_INT:
        config_setting_set_int(d, config_setting_get_int(src));
        break;
    case CONFIG_TYPE_INT64:
        config_setting_set_int64(d, config_setting_get_int64(src));
        break;
    case CONFIG_TYPE_FLOAT:
        config_setting_set_float(d, config_setting_get_float(src));
        break;
    case CONFIG_TYPE_BOOL:
        config_setting_set_bool(d, config_setting_get_bool(src));
        break;
    case CONFIG_TYPE_STRING:
        config_setting_set_string(d, config_setting_get_string(src));
        break;
    case CONFIG_TYPE_GROUP:
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST: {
        int n = config_setting_length(src);
        for (int i = 0; i < n; i++) {
            const config_setting_t *el = config_setting_get_elem(src, (unsigned)i);
            const char *el_name = src->type == CONFIG_TYPE_GROUP ? el->name : NULL;
            if (!copy_setting(d, el_name, el)) return NULL;
        }
        break;
    }
    default:
        break;
    }
    return d;
}

static void trim(char *s) {
    size_t len = strlen(s), a = 0;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        s[--len] = '\0';
    while (s[a] == ' ' || s[a] == '\t') a++;
    if (a) memmove(s, s + a, len - a + 1);
}

/* Puts `src` (or, when src is NULL, the string raw) into the tree at `key`, a schema path whose
 * list elements are given by index ("curriculum.stages.[0].steps"; the element must exist). */
static int put_override(Loader *L, const char *key, const config_setting_t *src, const char *raw) {
    char where[CFG_PATH_MAX + 64];
    config_setting_t *parent = config_root_setting(&L->t->lc);
    char comp[CFG_NAME_MAX];
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l >= sizeof comp)
            return err_set(L->e, "--set %s: malformed key; write it like lora.rank=16", key);
        memcpy(comp, p, l);
        comp[l] = '\0';
        if (!dot) break;
        config_setting_t *child;
        if (comp[0] == '[') { /* a list element, checked by the caller */
            child = config_setting_get_elem(parent, (unsigned)atoi(comp + 1));
            if (!child) return err_set(L->e, "--set %s: no element %s", key, comp);
        } else {
            child = config_setting_get_member(parent, comp);
        }
        if (!child) {
            child = config_setting_add(parent, comp, CONFIG_TYPE_GROUP);
            if (!child) return err_set(L->e, "--set %s: cannot create group '%s'", key, comp);
        } else if (child->type != CONFIG_TYPE_GROUP &&
                   !(child->type == CONFIG_TYPE_LIST && dot[1] == '[')) {
            char path[256];
            setting_path(child, path, sizeof path);
            const Key *gk = find_key(path);
            if (gk) return type_error(L, gk, path, child);
            return err_set(L->e, "%s: '%s' must be a group to set '%s'",
                           where_setting(L, child, where, sizeof where), path, key);
        }
        parent = child;
        p = dot + 1;
    }
    if (config_setting_get_member(parent, comp)) config_setting_remove(parent, comp);
    config_setting_t *d;
    if (src) {
        d = copy_setting(parent, comp, src);
    } else {
        d = config_setting_add(parent, comp, CONFIG_TYPE_STRING);
        if (d) config_setting_set_string(d, raw);
    }
    if (!d) return err_set(L->e, "--set %s: cannot store the value", key);
    return 0;
}

/* The name of list element i: its name key, or the default ("stage-{i}"). */
static void element_name(const Key *list, const config_setting_t *el, int i, char *buf, size_t n) {
    const char *name = NULL;
    if (el) config_setting_lookup_string(el, "name", &name);
    if (name) {
        snprintf(buf, n, "%s", name);
        return;
    }
    char kp[CFG_NAME_MAX * 2];
    snprintf(kp, sizeof kp, "%s.name", list->path);
    const Key *nk = find_key(kp);
    const char *def = nk && nk->def ? nk->def : "\"{i}\"";
    const char *at = strstr(def, "{i}");
    size_t dl = strlen(def);
    if (dl >= 2 && def[0] == '"') def++, dl -= 2; /* the default is a string literal */
    if (at && at >= def && at < def + dl)
        snprintf(buf, n, "%.*s%d%.*s", (int)(at - def), def, i, (int)(def + dl - at - 3), at + 3);
    else
        snprintf(buf, n, "%.*s", (int)dl, def);
}

/* "0 anchor, 1 bridge-1, 2 drift" */
static void element_names(const Key *list, const config_setting_t *ls, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = '\0';
    int count = config_setting_length(ls);
    for (int i = 0; i < count; i++) {
        char name[CFG_NAME_MAX];
        element_name(list, config_setting_get_elem(ls, (unsigned)i), i, name, sizeof name);
        int w = snprintf(buf + o, n - o, "%s%d %s", i ? ", " : "", i, name);
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
}

/* A key inside the list `lk`: "curriculum.stages.0.steps", "curriculum.stages[0].steps",
 * "curriculum.stages.[0].steps" or "curriculum.stages.anchor.steps" (an element by its name).
 * Writes the key with the element's index ("curriculum.stages.[0].steps") into canon and the
 * schema path ("curriculum.stages.steps") into schema. */
static int list_key(Loader *L, const Key *lk, const char *key, const char *where, char *canon,
                    size_t ncanon, char *schema, size_t nschema) {
    Err *e = L->e;
    const char *p = key + strlen(lk->path);
    const char *leaf = leaf_of(lk->path); /* "stages"; one of them: "stage" */
    int one = (int)strlen(leaf) - (leaf[0] && leaf[strlen(leaf) - 1] == 's' ? 1 : 0);
    char sel[CFG_NAME_MAX];
    const char *rest;
    int bracket = 0;
    if (*p == '.') p++;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || close == p + 1 || (close[1] != '.' && close[1] != '\0'))
            return err_set(e,
                           "%s: malformed element index; write it like --set %s.0.%s=... or "
                           "%s[0].%s=...",
                           where, lk->path, "steps", lk->path, "steps");
        snprintf(sel, sizeof sel, "%.*s", (int)(close - p - 1), p + 1);
        rest = close[1] ? close + 2 : close + 1;
        bracket = 1;
    } else {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l >= sizeof sel) l = sizeof sel - 1;
        snprintf(sel, sizeof sel, "%.*s", (int)l, p);
        rest = dot ? dot + 1 : p + l;
    }
    char kp[CFG_NAME_MAX * 2];
    snprintf(kp, sizeof kp, "%s.%s", lk->path, sel);
    if (!bracket && !rest[0] && find_key(kp))
        return err_set(e,
                       "%s: name the element of '%s' whose key to set, by index or by name, "
                       "e.g. --set %s.0.%s=... or --set %s.NAME.%s=...",
                       where, lk->path, lk->path, sel, lk->path, sel);
    if (!rest[0])
        return err_set(e,
                       "%s: a whole element of '%s' cannot be set with --set; set its keys one "
                       "by one, e.g. --set %s.%s.steps=...",
                       where, lk->path, lk->path, sel);
    const config_setting_t *ls = config_lookup(&L->t->lc, lk->path);
    if (!ls || ls->type != CONFIG_TYPE_LIST || config_setting_length(ls) == 0)
        return err_set(e,
                       "%s: the config has no %s ('%s') to set a key in; add them to the "
                       "config file",
                       where, leaf, lk->path);
    int n = config_setting_length(ls), index = -1;
    char names[1024];
    element_names(lk, ls, names, sizeof names);
    int numeric = sel[0] != '\0';
    for (const char *q = sel; *q; q++) numeric &= *q >= '0' && *q <= '9';
    if (numeric) {
        long v = strlen(sel) > 6 ? 1000000 : strtol(sel, NULL, 10);
        if (v >= n)
            return err_set(e,
                           "%s: the config has %d %.*s%s (%s); there is no %.*s %s (the first "
                           "is 0)",
                           where, n, one, leaf, n == 1 ? "" : "s", names, one, leaf, sel);
        index = (int)v;
    } else if (bracket) {
        return err_set(e, "%s: '[%s]' is not an index; write a number, 0 to %d (%s)", where, sel,
                       n - 1, names);
    } else {
        const char *near = NULL;
        int best = 1 << 30;
        char name[CFG_NAME_MAX], near_buf[CFG_NAME_MAX];
        for (int i = 0; i < n && index < 0; i++) {
            element_name(lk, config_setting_get_elem(ls, (unsigned)i), i, name, sizeof name);
            if (strcmp(name, sel) == 0) index = i;
            int d = edit_distance(sel, name);
            if (d < best) {
                best = d;
                snprintf(near_buf, sizeof near_buf, "%s", name);
                near = near_buf;
            }
        }
        if (index < 0) {
            char hint[CFG_NAME_MAX + 32] = "";
            if (near && best <= 2 && best < (int)strlen(sel))
                snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
            return err_set(e, "%s: no %.*s is named '%s'; name one by index or by name (%s)%s",
                           where, one, leaf, sel, names, hint);
        }
    }
    snprintf(canon, ncanon, "%s.[%d].%s", lk->path, index, rest);
    snprintf(schema, nschema, "%s.%s", lk->path, rest);
    return 0;
}

int apply_override(Loader *L, const char *ov) {
    Err *e = L->e;
    const char *eq = strchr(ov, '=');
    if (!eq)
        return err_set(e, "--set %s: expected key=value; write it like --set lora.rank=16", ov);
    size_t klen = (size_t)(eq - ov);
    char key[256];
    if (klen >= sizeof key) klen = sizeof key - 1;
    memcpy(key, ov, klen);
    key[klen] = '\0';
    trim(key);
    if (!key[0])
        return err_set(e, "--set %s: the key before '=' is empty; write it like lora.rank=16", ov);
    char where[300];
    snprintf(where, sizeof where, "--set %s", key);
    char canon[320], schema[320];
    snprintf(canon, sizeof canon, "%s", key);
    snprintf(schema, sizeof schema, "%s", key);
    for (size_t i = 0; i < N_KEYS; i++) { /* a list, or a key inside one */
        const Key *lk = &KEYS[i];
        size_t ll = strlen(lk->path);
        if (lk->kind != K_LIST || strncmp(key, lk->path, ll) != 0) continue;
        if (key[ll] == '\0')
            return err_set(e,
                           "%s: the list '%s' cannot be set with --set; edit it in the config "
                           "file, or set the keys of one element, e.g. --set %s.0.%s",
                           where, lk->path, lk->path, "steps=10");
        if (key[ll] != '.' && key[ll] != '[') continue;
        if (list_key(L, lk, key, where, canon, sizeof canon, schema, sizeof schema) != 0) return -1;
        break;
    }
    const Key *k = find_key(schema);
    if (!k) return unknown_key_error(e, where, schema, canon);
    if (strlen(canon) >= CFG_NAME_MAX)
        return err_set(e, "%s: the key is too long (at most %d characters)", where,
                       CFG_NAME_MAX - 1);

    size_t vlen = strlen(eq + 1);
    char *val = xmalloc(vlen + 1, "--set value");
    char *text = xmalloc(vlen + 16, "--set value");
    memcpy(val, eq + 1, vlen + 1);
    trim(val);
    snprintf(text, vlen + 16, "v = %s;", val);

    config_t scratch;
    config_init(&scratch);
    int ok = config_read_string(&scratch, text) == CONFIG_TRUE;
    const config_setting_t *src = NULL;
    if (ok && config_setting_length(config_root_setting(&scratch)) == 1)
        src = config_lookup(&scratch, "v");
    int stringy = k->kind == K_STRING || k->kind == K_ENUM;
    int rc = 0;
    int line;
    char lit[64];
    if (stringy && (!src || src->type != CONFIG_TYPE_STRING)) {
        rc = put_override(L, canon, NULL, val); /* an unquoted string: take the text as it is */
    } else if (!src) {
        char ex[256];
        fmt_nested_example(key, example_of(k), ex, sizeof ex);
        const char *why = ok ? "more than one value" : config_error_text(&scratch);
        rc =
            err_set(e, "%s: cannot parse value '%s' (%s%s); use libconfig syntax, e.g. --set %s=%s",
                    where, val, why ? why : "syntax error", parse_hint(why), key, example_of(k));
    } else if (find_truncated_int(text, &line, lit, sizeof lit)) {
        rc = truncated_int_error(e, where, lit);
    } else {
        rc = put_override(L, canon, src, NULL);
    }
    config_destroy(&scratch);
    free(val);
    free(text);
    if (rc != 0) return rc;

    Tree *t = L->t;
    if (t->n_over >= CFG_MAX_OVERRIDES)
        return err_set(e, "%s: too many overrides (at most %d)", where, CFG_MAX_OVERRIDES);
    if (strlen(canon) >= sizeof t->over[0]) /* checked to fit above; kept for the compiler */
        return err_set(e, "%s: the key is too long", where);
    memcpy(t->over[t->n_over], canon, strlen(canon) + 1);
    snprintf(t->over_as[t->n_over], sizeof t->over_as[0], "%s", key);
    t->n_over++;
    return 0;
}
