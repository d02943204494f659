/*
 * config.c — the run configuration: load a libconfig file, apply --set overrides, validate every
 * key against the schema (config_schema.c), fill defaults; the public API of config.h.
 *
 * The other files of the layer are listed in config_internal.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"

/* ---- reading the tree -------------------------------------------------------------------------
 */

/* A default with "{i}" replaced by the element index (list children: "stage-{i}"). */
static void expand_index(const char *def, int index, char *buf, size_t n) {
    const char *at = strstr(def, "{i}");
    if (!at || index < 0)
        snprintf(buf, n, "%s", def);
    else
        snprintf(buf, n, "%.*s%d%s", (int)(at - def), def, index, at + 3);
}

/* Stores the defaults of the keys that belong to `list` (NULL: the keys outside every list) at
 * `base`, the Config or the list element number `index`. */
static int apply_defaults(Loader *L, const Key *list, void *base, int index) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!k->def || list_of(k->path) != list) continue;
        char def[256], text[300];
        expand_index(k->def, index, def, sizeof def);
        snprintf(text, sizeof text, "v = %s;", def);
        config_t scratch;
        config_init(&scratch);
        int rc = -1;
        if (config_read_string(&scratch, text) == CONFIG_TRUE)
            rc = store_value(L, k, k->path, config_lookup(&scratch, "v"), base);
        config_destroy(&scratch);
        if (rc != 0)
            return err_set(L->e, "internal error: the default of '%s' (%s) is invalid", k->path,
                           def);
    }
    return 0;
}

/* `root` is where the keys of `list` are looked up: the root setting (list NULL) or the list
 * element `shown` ("curriculum.stages.[1]"). */
static int missing_error(const Loader *L, const Key *k, const config_setting_t *root,
                         const Key *list, const char *shown) {
    char where[CFG_PATH_MAX + 64], ex[512], name[512];
    const char *rel = rel_path(k->path, list);
    /* Point at the enclosing group (or element) when it is there. */
    char group[CFG_NAME_MAX * 2];
    size_t pl = parent_len(rel);
    const config_setting_t *g = list ? root : NULL;
    if (pl > 0 && pl < sizeof group) {
        memcpy(group, rel, pl);
        group[pl] = '\0';
        g = config_setting_lookup((config_setting_t *)root, group);
    }
    where_setting(L, g, where, sizeof where);
    fmt_nested_example(rel, example_of(k), ex, sizeof ex);
    if (list)
        snprintf(name, sizeof name, "%s.%s", shown, rel);
    else
        snprintf(name, sizeof name, "%s", k->path);
    return err_set(L->e, "%s: missing required key '%s'; add it, e.g. %s", where, name, ex);
}

/* Required keys of `list` (NULL: outside every list) under `root` (see missing_error). */
int check_required(const Loader *L, const config_setting_t *root, const Key *list,
                   const char *shown) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (k->required == OPTIONAL || list_of(k->path) != list) continue;
        const char *rel = rel_path(k->path, list);
        int need;
        if (k->required == REQUIRED) {
            need = !(k->unless && config_lookup(&L->t->lc, k->unless));
        } else { /* REQUIRED_IF_GROUP: when the enclosing group is given */
            char group[CFG_NAME_MAX * 2];
            size_t pl = parent_len(rel);
            if (pl == 0 || pl >= sizeof group) {
                need = 1; /* directly in the element (or at the top level) */
            } else {
                memcpy(group, rel, pl);
                group[pl] = '\0';
                need = config_setting_lookup((config_setting_t *)root, group) != NULL;
            }
        }
        if (need && !config_setting_lookup((config_setting_t *)root, rel))
            return missing_error(L, k, root, list, shown);
    }
    return 0;
}

static int load_group(Loader *L, const config_setting_t *group, const char *prefix,
                      const char *shown, void *base);

/* A K_LIST: every element is a group, stored at base + off + i * size, with the list's own
 * defaults, keys and required keys. */
static int load_list(Loader *L, const Key *k, const config_setting_t *s, const char *shown,
                     void *base) {
    char where[CFG_PATH_MAX + 64], got[256];
    int n = config_setting_length(s);
    if (s->type != CONFIG_TYPE_LIST && !(s->type == CONFIG_TYPE_ARRAY && n == 0))
        return type_error(L, k, shown, s);
    if (n < k->imin)
        return err_set(L->e, "%s: '%s' is empty; give at least %lld, e.g. %s = %s;",
                       where_setting(L, s, where, sizeof where), shown, k->imin, leaf_of(k->path),
                       example_of(k));
    if (n > k->imax)
        return err_set(
            L->e, "%s: '%s' has %d elements; at most %lld are allowed, remove %lld",
            where_setting(L, config_setting_get_elem(s, (unsigned)k->imax), where, sizeof where),
            shown, n, k->imax, (long long)n - k->imax);
    for (int i = 0; i < n; i++) {
        const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
        char eshown[600];
        snprintf(eshown, sizeof eshown, "%s.[%d]", shown, i);
        if (el->type != CONFIG_TYPE_GROUP) {
            describe_setting(el, got, sizeof got);
            return err_set(L->e,
                           "%s: '%s' must be a group, got %s; the elements of '%s' are "
                           "groups, e.g. %s = %s;",
                           where_setting(L, el, where, sizeof where), eshown, got, shown,
                           leaf_of(k->path), example_of(k));
        }
        void *eb = (char *)base + k->off + (size_t)i * k->size;
        memset(eb, 0, k->size);
        if (apply_defaults(L, k, eb, i) != 0) return -1;
        if (load_group(L, el, k->path, eshown, eb) != 0) return -1;
        if (check_required(L, el, k, eshown) != 0) return -1;
    }
    *int_field(base, k->off2) = n;
    return 0;
}

/* Validates and stores the settings of `group`: `prefix` is its schema path ("" at the top,
 * "curriculum.stages" in a stage), `shown` the same with list indices, for messages, and `base`
 * where its fields go (the Config, or the list element). */
static int load_group(Loader *L, const config_setting_t *group, const char *prefix,
                      const char *shown, void *base) {
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char path[512], name[512];
        const char *leaf = s->name ? s->name : "?";
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", leaf);
        snprintf(name, sizeof name, "%s%s%s", shown, shown[0] ? "." : "", leaf);
        const Key *k = find_key(path);
        if (!k) {
            char where[CFG_PATH_MAX + 64];
            return unknown_key_error(L->e, where_setting(L, s, where, sizeof where), path, name);
        }
        if (kind_is_group(k->kind)) {
            if (s->type != CONFIG_TYPE_GROUP) return type_error(L, k, name, s);
            if (k->kind == K_FLAG_GROUP) *int_field(base, k->off) = 1;
            if (load_group(L, s, path, name, base) != 0) return -1;
        } else if (k->kind == K_LIST) {
            if (load_list(L, k, s, name, base) != 0) return -1;
        } else if (store_value(L, k, name, s, base) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- public API ---------------------------------------------------------------------------- */

static void tree_free(Tree *t) {
    if (!t) return;
    config_destroy(&t->lc);
    free(t);
}

int config_load(Config *cfg, const char *path, const char *const *overrides, int n_overrides,
                Err *e) {
    memset(cfg, 0, sizeof *cfg);
    if (!path || !path[0])
        return err_set(e, "config: no config file given; pass the path of a .cfg file");
    if (strlen(path) >= sizeof cfg->source)
        return err_set(e, "%.64s...: config path too long; use a shorter path", path);
    snprintf(cfg->source, sizeof cfg->source, "%s", path);

    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set(e, "%s: is a directory; pass the path of a .cfg file", path);
    size_t len = 0;
    char *text = file_read_all(path, &len, e);
    if (!text) return -1;
    if (strlen(text) != len) {
        free(text);
        return err_set(e, "%s: contains a NUL byte; a config must be a text file", path);
    }

    Tree *t = xmalloc(sizeof *t, "config tree");
    memset(t, 0, sizeof *t);
    config_init(&t->lc);
    {
        char dir[sizeof cfg->source]; /* path fits: its length was checked above */
        memcpy(dir, path, strlen(path) + 1);
        char *slash = strrchr(dir, '/');
        if (slash) {
            slash[slash == dir ? 1 : 0] = '\0';
            config_set_include_dir(&t->lc, dir);
        }
    }
    metric_names_fill();
    Loader L = {cfg, t, e};
    int rc = 0;
    int line;
    char lit[64];
    if (config_read_string(&t->lc, text) != CONFIG_TRUE) {
        const char *file = config_error_file(&t->lc);
        const char *msg = config_error_text(&t->lc);
        rc = err_set(e, "%s:%d: %s%s; fix the syntax", file ? file : path,
                     config_error_line(&t->lc), msg ? msg : "syntax error", parse_hint(msg));
    } else if (find_truncated_int(text, &line, lit, sizeof lit)) {
        char where[CFG_PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%d", path, line);
        rc = truncated_int_error(e, where, lit);
    }
    free(text);

    for (int i = 0; rc == 0 && i < n_overrides; i++) rc = apply_override(&L, overrides[i]);
    if (rc == 0) rc = apply_defaults(&L, NULL, cfg, -1);
    if (rc == 0) rc = load_group(&L, config_root_setting(&t->lc), "", "", cfg);
    if (rc == 0) rc = check_rules(&L);
    if (rc != 0) {
        tree_free(t);
        cfg->tree = NULL;
        return -1;
    }
    cfg->tree = t;
    return 0;
}

void config_free(Config *cfg) {
    if (!cfg) return;
    tree_free(cfg->tree);
    cfg->tree = NULL;
}

const char *config_where(const Config *cfg, const char *key, char *buf, size_t n) {
    if (!buf || n == 0) return buf;
    const Tree *t = cfg->tree;
    const config_setting_t *s = t ? config_lookup(&t->lc, key) : NULL;
    if (s && s->line > 0) {
        const char *file = config_setting_source_file(s);
        snprintf(buf, n, "%s:%u", file ? file : cfg->source, s->line);
        return buf;
    }
    if (s) {
        const char *o = override_for(t, key);
        if (o) {
            snprintf(buf, n, "--set %s", o);
            return buf;
        }
    }
    snprintf(buf, n, "%s (default)", cfg->source);
    return buf;
}

double lora_scale(const LoraConfig *lc) {
    if (lc->rank <= 0) return 0.0;
    return lc->rslora ? lc->alpha / sqrt((double)lc->rank) : lc->alpha / (double)lc->rank;
}
