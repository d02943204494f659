/*
 * stage_names.c — the names the curriculum's enums are written with in configs and results (one
 * table each: loss masks, pacings, orders, eval splits), and the rule for where a bridge stage
 * may stand. The config layer validates with these; nothing else keeps a copy.
 */
#include "curriculum.h"

#include <string.h>

const char *const LOSS_MASK_NAMES[] = {"trail", "connectives+conclusion", "conclusion", NULL};
const char *const PACING_NAMES[] = {"linear", "root", "discrete", NULL};
const char *const ORDER_NAMES[] = {"curriculum", "shuffled", "anti", "growing-random", NULL};

_Static_assert(sizeof LOSS_MASK_NAMES / sizeof *LOSS_MASK_NAMES == LOSS_CONCLUSION + 2,
               "one name per LossMask");
_Static_assert(sizeof PACING_NAMES / sizeof *PACING_NAMES == PACING_DISCRETE + 2,
               "one name per Pacing");
_Static_assert(sizeof ORDER_NAMES / sizeof *ORDER_NAMES == ORDER_GROWING_RANDOM + 2,
               "one name per Order");

/* The index of name in a NULL-terminated table, or -1. */
static int name_index(const char *const *names, const char *name) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

const char *loss_mask_name(LossMask m) {
    return (unsigned)m <= LOSS_CONCLUSION ? LOSS_MASK_NAMES[m] : "?";
}

int loss_mask_from_name(const char *name, LossMask *out) {
    int i = name_index(LOSS_MASK_NAMES, name);
    if (i < 0) return -1;
    *out = (LossMask)i;
    return 0;
}

const char *pacing_name(Pacing p) {
    return (unsigned)p <= PACING_DISCRETE ? PACING_NAMES[p] : "?";
}

int pacing_from_name(const char *name, Pacing *out) {
    int i = name_index(PACING_NAMES, name);
    if (i < 0) return -1;
    *out = (Pacing)i;
    return 0;
}

const char *order_name(Order o) {
    return (unsigned)o <= ORDER_GROWING_RANDOM ? ORDER_NAMES[o] : "?";
}

int order_from_name(const char *name, Order *out) {
    int i = name_index(ORDER_NAMES, name);
    if (i < 0) return -1;
    *out = (Order)i;
    return 0;
}

BridgeRule stage_bridge_rule(const StageSpec *stages, int n_stages, int k, int *neighbour) {
    if (!stages[k].bridge) return BRIDGE_OK;
    if (k == 0) return BRIDGE_FIRST;
    if (k == n_stages - 1) return BRIDGE_LAST;
    if (!stages[k - 1].bridge && !stages[k + 1].bridge) return BRIDGE_OK;
    if (neighbour) *neighbour = stages[k - 1].bridge ? k - 1 : k + 1;
    return BRIDGE_BESIDE_BRIDGE;
}

int stages_count_banded(const StageSpec *stages, int n_stages) {
    int n = 0;
    for (int k = 0; k < n_stages; k++) n += !stages[k].bridge;
    return n;
}

static const char *const SPLIT_NAMES[EVAL_COUNT + 1] = {"train", "heldout_variants",
                                                        "heldout_entities", "heldout_chains", NULL};

const char *eval_split_name(EvalSplit s) {
    return s >= 0 && s < EVAL_COUNT ? SPLIT_NAMES[s] : "?";
}

int eval_split_from_name(const char *name, EvalSplit *out) {
    int i = name_index(SPLIT_NAMES, name);
    if (i < 0) return -1;
    *out = (EvalSplit)i;
    return 0;
}
