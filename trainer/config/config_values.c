/*
 * config_values.c — reading one setting against its schema key: type and range checks, the
 * value stored into Config; and the messages: where a setting came from (file:line or --set),
 * what was expected, and the nearest valid key for an unknown one.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* Dotted path of a setting ("lora.rank"); list elements by index ("curriculum.stages.[2]"), the
 * syntax config_lookup() reads. */
void setting_path(const config_setting_t *s, char *buf, size_t n) {
    const config_setting_t *chain[16];
    int depth = 0;
    for (const config_setting_t *p = s; p && p->parent && depth < 16; p = p->parent)
        chain[depth++] = p;
    size_t o = 0;
    buf[0] = '\0';
    for (int i = depth - 1; i >= 0; i--) {
        char index[32];
        const char *name = chain[i]->name;
        if (!name) {
            snprintf(index, sizeof index, "[%d]", config_setting_index(chain[i]));
            name = index;
        }
        int w = snprintf(buf + o, n - o, "%s%s", o ? "." : "", name);
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
}

/* The override that produced the setting at `path`, if any (the latest one wins), as its --set
 * option wrote the key. */
const char *override_for(const Tree *t, const char *path) {
    size_t lp = strlen(path);
    for (int i = t->n_over - 1; i >= 0; i--) {
        const char *o = t->over[i];
        size_t lo = strlen(o);
        if (strcmp(o, path) == 0) return t->over_as[i];
        if (lp > lo && strncmp(path, o, lo) == 0 && path[lo] == '.')
            return t->over_as[i]; /* inside o */
        if (lo > lp && strncmp(o, path, lp) == 0 && o[lp] == '.')
            return t->over_as[i]; /* group of o */
    }
    return NULL;
}

/* "file:line" for a setting from a file, "--set key" for one from an override. */
const char *where_setting(const Loader *L, const config_setting_t *s, char *buf, size_t n) {
    if (s && s->line > 0) {
        const char *file = config_setting_source_file(s);
        snprintf(buf, n, "%s:%u", file ? file : L->cfg->source, s->line);
        return buf;
    }
    if (s) {
        char path[256];
        setting_path(s, path, sizeof path);
        const char *o = override_for(L->t, path);
        if (o) {
            snprintf(buf, n, "--set %s", o);
            return buf;
        }
    }
    snprintf(buf, n, "%s", L->cfg->source);
    return buf;
}

static const char *type_name(int type) {
    switch (type) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

/* "a float (8.5)", "a string ("x")", "a group". */
void describe_setting(const config_setting_t *s, char *buf, size_t n) {
    char v[160];
    switch (s->type) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(v, sizeof v, "%lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        fmt_float_literal(config_setting_get_float(s), v, sizeof v);
        break;
    case CONFIG_TYPE_STRING:
        fmt_string_literal(config_setting_get_string(s), v, sizeof v, 40);
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(v, sizeof v, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    default:
        snprintf(buf, n, "%s", type_name(s->type));
        return;
    }
    snprintf(buf, n, "%s (%s)", type_name(s->type), v);
}

const char *kind_wants(Kind k) {
    switch (k) {
    case K_GROUP:
    case K_FLAG_GROUP:
        return "a group";
    case K_INT:
    case K_U64:
        return "an integer";
    case K_FLOAT:
        return "a number";
    case K_BOOL:
        return "a boolean (true or false)";
    case K_STRING:
    case K_ENUM:
        return "a string";
    case K_MASK:
    case K_STRINGS:
        return "an array of strings";
    case K_INT_PAIR:
        return "an array of 2 integers";
    case K_FLOAT_PAIR:
        return "an array of 2 numbers";
    case K_LIST:
        return "a list of groups";
    }
    return "?";
}

/* `name` is the key as the message shows it: its path, with the element index inside a list
 * ("curriculum.stages.[2].band"). `at` gives the line, `bad` the offending value (an array
 * element, or the setting itself). */
static int type_error_at(const Loader *L, const Key *k, const char *name,
                         const config_setting_t *at, const config_setting_t *bad) {
    char where[CFG_PATH_MAX + 64], got[256];
    where_setting(L, at, where, sizeof where);
    describe_setting(bad, got, sizeof got);
    return err_set(L->e, "%s: '%s' must be %s, got %s; e.g. %s = %s;", where, name,
                   kind_wants(k->kind), got, leaf_of(k->path), example_of(k));
}

int type_error(const Loader *L, const Key *k, const char *name, const config_setting_t *s) {
    return type_error_at(L, k, name, s, s);
}

static void fmt_int_range(const Key *k, char *buf, size_t n) {
    snprintf(buf, n, "[%lld, %lld]", k->imin, k->imax);
}

static void fmt_float_range(const Key *k, char *buf, size_t n) {
    if (k->fmin == -DBL_MAX && k->fmax == DBL_MAX) {
        snprintf(buf, n, "(-inf, inf) (any finite number)");
        return;
    }
    char lo[64], hi[64];
    fmt_bound(k->fmin, lo, sizeof lo);
    fmt_bound(k->fmax, hi, sizeof hi);
    snprintf(buf, n, "%c%s, %s%c", k->fmin_open ? '(' : '[', lo, hi, k->fmax_open ? ')' : ']');
}

static int float_in_range(const Key *k, double v) {
    if (isnan(v)) return 0;
    if (k->fmin_open ? !(v > k->fmin) : !(v >= k->fmin)) return 0;
    if (k->fmax_open ? !(v < k->fmax) : !(v <= k->fmax)) return 0;
    return 1;
}

static int is_int_type(const config_setting_t *s) {
    return s->type == CONFIG_TYPE_INT || s->type == CONFIG_TYPE_INT64;
}

static int is_number_type(const config_setting_t *s) {
    return is_int_type(s) || s->type == CONFIG_TYPE_FLOAT;
}

/* config_setting_get_float() returns 0 for ints unless auto-convert is on: read it ourselves. */
static double number_of(const config_setting_t *s) {
    if (s->type == CONFIG_TYPE_FLOAT) return config_setting_get_float(s);
    return (double)config_setting_get_int64(s);
}

/* Fields live at an offset from a base: the Config, or for keys inside a list, the element. */
int *int_field(void *base, size_t off) {
    return (int *)(void *)((char *)base + off);
}
const int *int_field_c(const void *base, size_t off) {
    return (const int *)(const void *)((const char *)base + off);
}
static double *dbl_field(void *base, size_t off) {
    return (double *)(void *)((char *)base + off);
}
const double *dbl_field_c(const void *base, size_t off) {
    return (const double *)(const void *)((const char *)base + off);
}
size_t str_size(const Key *k) {
    return k->size ? k->size : CFG_PATH_MAX;
}

static int choice_index(const char *const *choices, const char *s) {
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], s) == 0) return i;
    return -1;
}

static const char *nearest_choice(const char *const *choices, const char *s) {
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; choices[i]; i++) {
        int d = edit_distance(s, choices[i]);
        if (d < best_d) best_d = d, best = choices[i];
    }
    int len = (int)strlen(s);
    if (best && best_d <= 2 && best_d < len) return best;
    return NULL;
}

/* "x is not one of a, b, c; did you mean "b"?" for a string outside k->choices. */
static int choice_error(const Loader *L, const Key *k, const char *name, const config_setting_t *s,
                        const char *v) {
    char where[CFG_PATH_MAX + 64], range[512], val[160];
    const char *near = nearest_choice(k->choices, v);
    char hint[CFG_NAME_MAX + 32] = "";
    if (near) snprintf(hint, sizeof hint, "; did you mean \"%s\"?", near);
    fmt_choices(k->choices, range, sizeof range);
    fmt_string_literal(v, val, sizeof val, 40);
    return err_set(L->e, "%s: '%s' = %s is not one of %s%s",
                   where_setting(L, s, where, sizeof where), name, val, range, hint);
}

/* Checks and copies one string of a K_STRING / K_STRINGS key into dst (size bytes). */
static int store_string(const Loader *L, const Key *k, const char *name, const config_setting_t *at,
                        const config_setting_t *s, long long min_len, char *dst, size_t size) {
    char where[CFG_PATH_MAX + 64];
    if (s->type != CONFIG_TYPE_STRING) return type_error_at(L, k, name, at, s);
    const char *v = config_setting_get_string(s);
    size_t len = strlen(v);
    if (len >= size)
        return err_set(L->e, "%s: '%s' is %zu characters long; it must be shorter than %zu",
                       where_setting(L, at, where, sizeof where), name, len, size);
    if ((long long)len < min_len)
        return err_set(L->e, "%s: '%s' %s empty; give it a value, e.g. %s = %s;",
                       where_setting(L, at, where, sizeof where), name,
                       at == s ? "is" : "has an element that is", leaf_of(k->path), example_of(k));
    if (k->choices && choice_index(k->choices, v) < 0) return choice_error(L, k, name, at, v);
    memcpy(dst, v, len + 1);
    return 0;
}

/* Type-checks a non-group setting against its key, range-checks it and stores it at `base`
 * (the Config, or the list element the key belongs to). `name` is the key as messages show it. */
int store_value(const Loader *L, const Key *k, const char *name, const config_setting_t *s,
                void *base) {
    char where[CFG_PATH_MAX + 64], range[512], val[160];
    switch (k->kind) {
    case K_INT:
    case K_U64: {
        if (!is_int_type(s)) return type_error(L, k, name, s);
        long long v = config_setting_get_int64(s);
        if (v < k->imin || v > k->imax) {
            fmt_int_range(k, range, sizeof range);
            return err_set(L->e, "%s: '%s' = %lld is out of range; it must be in %s",
                           where_setting(L, s, where, sizeof where), name, v, range);
        }
        if (k->kind == K_INT)
            *int_field(base, k->off) = (int)v;
        else
            *(uint64_t *)(void *)((char *)base + k->off) = (uint64_t)v;
        return 0;
    }
    case K_FLOAT: {
        if (!is_number_type(s)) return type_error(L, k, name, s);
        double v = number_of(s);
        if (!float_in_range(k, v)) {
            fmt_bound(v, val, sizeof val);
            fmt_float_range(k, range, sizeof range);
            return err_set(L->e, "%s: '%s' = %s is out of range; it must be in %s",
                           where_setting(L, s, where, sizeof where), name, val, range);
        }
        *dbl_field(base, k->off) = v;
        return 0;
    }
    case K_BOOL:
        if (s->type != CONFIG_TYPE_BOOL) return type_error(L, k, name, s);
        *int_field(base, k->off) = config_setting_get_bool(s) ? 1 : 0;
        return 0;
    case K_STRING:
        return store_string(L, k, name, s, s, k->imin, (char *)base + k->off, str_size(k));
    case K_STRINGS: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST)
            return type_error(L, k, name, s);
        int n = config_setting_length(s);
        if (n < k->imin)
            return err_set(L->e, "%s: '%s' is empty; list at least %lld, e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), name, k->imin,
                           leaf_of(k->path), example_of(k));
        if (n > k->imax)
            return err_set(L->e, "%s: '%s' lists %d entries; at most %lld are allowed, remove %lld",
                           where_setting(L, s, where, sizeof where), name, n, k->imax,
                           (long long)n - k->imax);
        for (int i = 0; i < n; i++) {
            char *dst = (char *)base + k->off + (size_t)i * str_size(k);
            if (store_string(L, k, name, s, config_setting_get_elem(s, (unsigned)i), k->imin2, dst,
                             str_size(k)) != 0)
                return -1;
        }
        *int_field(base, k->off2) = n;
        return 0;
    }
    case K_ENUM: {
        if (s->type != CONFIG_TYPE_STRING) return type_error(L, k, name, s);
        const char *v = config_setting_get_string(s);
        int idx = choice_index(k->choices, v);
        if (idx < 0) return choice_error(L, k, name, s, v);
        *int_field(base, k->off) = idx;
        return 0;
    }
    case K_MASK: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST)
            return type_error(L, k, name, s);
        int n = config_setting_length(s), mask = 0;
        fmt_choices(k->choices, range, sizeof range);
        if (n == 0)
            return err_set(L->e, "%s: '%s' is empty; list at least one of %s, e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), name, range, leaf_of(k->path),
                           example_of(k));
        for (int i = 0; i < n; i++) {
            const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
            if (el->type != CONFIG_TYPE_STRING) return type_error_at(L, k, name, s, el);
            const char *v = config_setting_get_string(el);
            int idx = choice_index(k->choices, v);
            fmt_string_literal(v, val, sizeof val, 40);
            if (idx < 0)
                return err_set(L->e, "%s: '%s' element %s is not one of %s",
                               where_setting(L, s, where, sizeof where), name, val, range);
            if (mask & (1 << idx))
                return err_set(L->e, "%s: '%s' lists %s twice; list each one once",
                               where_setting(L, s, where, sizeof where), name, val);
            mask |= 1 << idx;
        }
        *int_field(base, k->off) = mask;
        return 0;
    }
    case K_INT_PAIR:
    case K_FLOAT_PAIR: {
        if (s->type != CONFIG_TYPE_ARRAY && s->type != CONFIG_TYPE_LIST)
            return type_error(L, k, name, s);
        int n = config_setting_length(s);
        if (n != 2)
            return err_set(L->e, "%s: '%s' must have 2 elements, got %d; e.g. %s = %s;",
                           where_setting(L, s, where, sizeof where), name, n, leaf_of(k->path),
                           example_of(k));
        long long iv[2] = {0, 0};
        double dv[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
            const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
            if (k->kind == K_INT_PAIR) {
                if (!is_int_type(el)) return type_error_at(L, k, name, s, el);
                long long v = config_setting_get_int64(el), lo = i ? k->imin2 : k->imin;
                if (v < lo || v > k->imax) {
                    snprintf(range, sizeof range, "[%lld, %lld]", lo, k->imax);
                    return err_set(L->e,
                                   "%s: '%s' element %d = %lld is out of range; it must be in %s",
                                   where_setting(L, s, where, sizeof where), name, i, v, range);
                }
                iv[i] = v;
            } else {
                if (!is_number_type(el)) return type_error_at(L, k, name, s, el);
                double v = number_of(el);
                if (!float_in_range(k, v)) {
                    fmt_bound(v, val, sizeof val);
                    fmt_float_range(k, range, sizeof range);
                    return err_set(L->e,
                                   "%s: '%s' element %d = %s is out of range; it must be in %s",
                                   where_setting(L, s, where, sizeof where), name, i, val, range);
                }
                dv[i] = v;
            }
        }
        if (k->kind == K_INT_PAIR) {
            int bad = k->pair != PAIR_ANY && iv[0] > iv[1] &&
                      !(k->pair == PAIR_ORDERED_OR_LAST && iv[1] == -1);
            if (bad)
                return err_set(L->e,
                               "%s: '%s' = [%lld, %lld] has first > last; write [first, last] "
                               "with first <= last%s",
                               where_setting(L, s, where, sizeof where), name, iv[0], iv[1],
                               k->pair == PAIR_ORDERED_OR_LAST ? ", or last = -1 for the last layer"
                                                               : "");
            *int_field(base, k->off) = (int)iv[0];
            *int_field(base, k->off2) = (int)iv[1];
        } else {
            if (k->pair != PAIR_ANY && dv[0] > dv[1]) {
                char a[64], b[64];
                fmt_bound(dv[0], a, sizeof a);
                fmt_bound(dv[1], b, sizeof b);
                return err_set(L->e,
                               "%s: '%s' = [%s, %s] has lo > hi; write [lo, hi] with lo <= hi",
                               where_setting(L, s, where, sizeof where), name, a, b);
            }
            *dbl_field(base, k->off) = dv[0];
            *dbl_field(base, k->off2) = dv[1];
        }
        return 0;
    }
    case K_GROUP:
    case K_FLAG_GROUP:
    case K_LIST:
        break;
    }
    return err_set(L->e, "%s: internal error: key '%s' has no value kind", L->cfg->source, k->path);
}

/* ---- unknown keys ------------------------------------------------------------------------- */

static int suggestion_ok(int score, const char *leaf) {
    int len = (int)strlen(leaf);
    if (score <= 1) return score < len || len > 1;
    if (score == 2) return len >= 4;
    return score * 3 <= len;
}

/* The schema key nearest to an unknown path, or NULL when nothing is close. Compares the whole
 * path and the last component (a key from another group costs one extra edit), so 'lora.rnk'
 * finds 'lora.rank', 'lora_rank' finds 'lora.rank' and 'lora.lr' finds 'optim.lr'. Keys inside
 * a list are only suggested for paths inside the same list (they cannot be written elsewhere). */
static const char *nearest_key(const char *path) {
    const char *leaf = leaf_of(path);
    const Key *in_list = list_of(path);
    const char *best = NULL;
    int best_score = 1 << 30;
    for (int pass = 0; pass < 2; pass++) { /* siblings first, so they win ties */
        for (size_t i = 0; i < N_KEYS; i++) {
            const char *cand = KEYS[i].path;
            size_t lc = strlen(cand);
            if (strncmp(path, cand, lc) == 0 && path[lc] == '.') continue; /* an ancestor */
            if (list_of(cand) != in_list) continue;
            int sib = same_parent(cand, path);
            if (sib != (pass == 0)) continue;
            int score = edit_distance(path, cand);
            int leaf_score = edit_distance(leaf, leaf_of(cand)) + (sib ? 0 : 1);
            if (leaf_score < score) score = leaf_score;
            if (score < best_score) best_score = score, best = cand;
        }
    }
    return best && suggestion_ok(best_score, leaf) ? best : NULL;
}

/* `path` is the schema path of the unknown key ("curriculum.stages.stpes"), `shown` the same
 * with list indices, as the message shows it ("curriculum.stages.[1].stpes"). */
int unknown_key_error(Err *e, const char *where, const char *path, const char *shown) {
    const char *near = nearest_key(path);
    size_t shown_parent = parent_len(shown);
    if (near) {
        if (same_parent(near, path) && shown_parent > 0) /* name the sibling in the same element */
            return err_set(e, "%s: unknown key '%s'; did you mean '%.*s.%s'?", where, shown,
                           (int)shown_parent, shown, leaf_of(near));
        return err_set(e, "%s: unknown key '%s'; did you mean '%s'?", where, shown, near);
    }

    /* List the valid keys of the deepest known group that contains the path. */
    char group[CFG_NAME_MAX * 2] = "";
    size_t pl = parent_len(path);
    while (pl > 0) {
        if (pl >= sizeof group) pl = sizeof group - 1;
        memcpy(group, path, pl);
        group[pl] = '\0';
        const Key *g = find_key(group);
        if (g) {
            if (kind_has_children(g->kind)) break;
            return err_set(e, "%s: unknown key '%s'; '%s' is %s, not a group", where, shown, group,
                           kind_wants(g->kind));
        }
        pl = parent_len(group);
        group[0] = '\0';
    }
    char list[512];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!is_child_of(KEYS[i].path, group)) continue;
        int w = snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", leaf_of(KEYS[i].path));
        if (w < 0 || (size_t)w >= sizeof list - o) break;
        o += (size_t)w;
    }
    if (group[0] && pl == parent_len(path) && shown_parent > 0) /* the element, with its index */
        return err_set(e, "%s: unknown key '%s'; valid keys in '%.*s' are: %s", where, shown,
                       (int)shown_parent, shown, list);
    if (group[0])
        return err_set(e, "%s: unknown key '%s'; valid keys in '%s' are: %s", where, shown, group,
                       list);
    return err_set(e, "%s: unknown key '%s'; valid top-level keys are: %s", where, shown, list);
}
