/*
 * config_internal.h — what the files of the config layer share, and nothing outside it uses.
 *
 *   config_schema.c  the key table (KEYS[]): every key's path, type, default, range, help
 *   config_values.c  reading one setting against its key: type and range checks, messages
 *                    (where a setting came from, "did you mean" for unknown keys)
 *   config_set.c     --set KEY=VALUE overrides, and integer literals libconfig would truncate
 *   config.c         loading: the public API, defaults, required keys, the walk over the tree
 *   config_rules.c   rules across keys (model, batch, the curriculum's stages)
 *   config_print.c   value formatting, the resolved config (config_print, config_save)
 */
#ifndef IMPRINT_CONFIG_INTERNAL_H
#define IMPRINT_CONFIG_INTERNAL_H

#include <libconfig.h>

#include <stddef.h>

#include "config.h"

/* ---- the schema (config_schema.c) ------------------------------------------------------------ */

typedef enum {
    K_GROUP,      /* a group with no field of its own */
    K_FLAG_GROUP, /* a group whose presence sets an int field to 1 (model.random, curriculum) */
    K_INT,        /* int field; libconfig int or int64 */
    K_U64,        /* uint64_t field; libconfig int or int64 */
    K_FLOAT,      /* double field; libconfig float, int or int64 */
    K_BOOL,       /* int field; libconfig bool */
    K_STRING,     /* char[size] field; imin = minimum length; choices (optional) = allowed values */
    K_ENUM,       /* int-sized enum field = index into choices */
    K_MASK,       /* int field = OR of (1 << index) over an array of strings from choices */
    K_INT_PAIR,   /* two int fields (off, off2); each element in [imin, imax] */
    K_FLOAT_PAIR, /* two double fields (off, off2); each element in the float range */
    K_STRINGS,    /* char[imax][size] at off, int count at off2; imin..imax strings, each at
                     least imin2 characters long */
    K_LIST,       /* a list of groups: element i is stored at off + i * size (an array of
                     structs), the int count at off2; imin..imax elements. The children of the
                     list ("list.child") describe one element: their offsets are relative to
                     the element struct. */
} Kind;

enum {
    OPTIONAL = 0,
    REQUIRED = 1,          /* always (inside a list: in every element), unless `unless` is given */
    REQUIRED_IF_GROUP = 2, /* whenever its enclosing group is given (model.random.layers) */
};

/* K_INT_PAIR, K_FLOAT_PAIR: how the two elements must relate. */
enum { PAIR_ANY = 0, PAIR_ORDERED = 1, PAIR_ORDERED_OR_LAST = 2 /* or the second is -1 */ };

typedef struct Key {
    const char *path; /* inside a list, without the index: "curriculum.stages.band" */
    Kind kind;
    int required;
    const char *unless;   /* REQUIRED: not required when this key is in the tree */
    const char *def;      /* default as libconfig value text; in a list child "{i}" stands for the
                             element's index; NULL: no default */
    long long imin, imax; /* integer range (inclusive); K_STRING: imin = minimum length;
                             K_STRINGS, K_LIST: the element count range */
    long long imin2;      /* K_INT_PAIR: minimum of the second element (imin: of the first);
                             K_STRINGS: minimum length of each string */
    double fmin, fmax;    /* float range */
    int fmin_open, fmax_open;
    int pair;                   /* K_INT_PAIR, K_FLOAT_PAIR: PAIR_* */
    const char *const *choices; /* K_ENUM, K_MASK: NULL-terminated; K_STRING: optional */
    size_t off, off2;           /* where the value goes in Config (in a list: in the element) */
    size_t size;                /* K_STRING, K_STRINGS: bytes per string (0: CFG_PATH_MAX);
                                   K_LIST: bytes per element */
    int (*print_if)(const void *base); /* config_print() writes the key only when true */
    const char *example;               /* value text for messages; NULL: use def */
    const char *help;
} Key;
/* ---- the loaded tree ------------------------------------------------------------------------ */

extern const Key KEYS[];
extern const size_t N_KEYS;

/* Fills the until-metric names from the curriculum's split names; config_load() calls it. */
void metric_names_fill(void);

int kind_is_group(Kind k);
int kind_has_children(Kind k); /* a group, or a list (whose children describe one element) */
const Key *find_key(const char *path);
const char *leaf_of(const char *path);
size_t parent_len(const char *path); /* "lora.rank" -> 4, "seed" -> 0 */
const Key *list_of(const char *path);
const char *rel_path(const char *path, const Key *list);
int same_parent(const char *a, const char *b);
int is_child_of(const char *path, const char *group);

/* ---- the loaded tree ------------------------------------------------------------------------- */

/* cfg->tree points at one of these; its first member makes it usable as a config_t *. */
typedef struct Tree {
    config_t lc;
    int n_over;
    char over[CFG_MAX_OVERRIDES]
             [CFG_NAME_MAX];              /* keys set by overrides, in order; list
                                              elements by index: "curriculum.stages.[0].steps" */
    char over_as[CFG_MAX_OVERRIDES][256]; /* the same keys as the --set options wrote them */
} Tree;

typedef struct Loader {
    Config *cfg;
    Tree *t;
    Err *e;
} Loader;

/* ---- reading values (config_values.c) ------------------------------------------------------- */

void setting_path(const config_setting_t *s, char *buf, size_t n);
const char *override_for(const Tree *t, const char *path);
const char *where_setting(const Loader *L, const config_setting_t *s, char *buf, size_t n);
void describe_setting(const config_setting_t *s, char *buf, size_t n);
const char *kind_wants(Kind k);
int type_error(const Loader *L, const Key *k, const char *name, const config_setting_t *s);
int *int_field(void *base, size_t off);
const int *int_field_c(const void *base, size_t off);
const double *dbl_field_c(const void *base, size_t off);
size_t str_size(const Key *k);
/* Type-checks a non-group setting against its key, range-checks it and stores it at `base`. */
int store_value(const Loader *L, const Key *k, const char *name, const config_setting_t *s,
                void *base);
int unknown_key_error(Err *e, const char *where, const char *path, const char *shown);

/* ---- overrides and literals (config_set.c) -------------------------------------------------- */

int find_truncated_int(const char *text, int *line, char *lit, size_t n);
int truncated_int_error(Err *e, const char *where, const char *lit);
const char *parse_hint(const char *msg);
int apply_override(Loader *L, const char *ov);

/* ---- loading and rules (config.c, config_rules.c) ------------------------------------------- */

int check_required(const Loader *L, const config_setting_t *root, const Key *list,
                   const char *shown);
/* The rules across keys, after every key was read: model, batch, curriculum stages. */
int check_rules(Loader *L);

/* ---- formatting (config_print.c) ------------------------------------------------------------ */

void fmt_bound(double v, char *buf, size_t n);
void fmt_float_literal(double v, char *buf, size_t n);
void fmt_string_literal(const char *s, char *buf, size_t n, size_t max_chars);
void fmt_choices(const char *const *choices, char *buf, size_t n);
void fmt_nested_example(const char *path, const char *value, char *buf, size_t n);
const char *example_of(const Key *k);

#endif
