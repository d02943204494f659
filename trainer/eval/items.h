/*
 * items.h — the per-item results as JSON lines (items.jsonl in a stage directory, and
 * `imprint eval --items OUT`): one line per scored item, splits in order, items in the order of
 * their split (the same on any rank count: the records are gathered in global item order, and in
 * reproducibility = "invariant" their values are too).
 *
 *   {"split": "train", "index": 0, "chain": "mp-rain", "form": "modus-ponens", "tuple": 0,
 *    "variant": null, "volatility": 0, "prompt": "If it rains, ...", "answer": " the ground ...",
 *    "answer_tokens": 5, "foils": 2,
 *    "base":    {"completion": " the sky ...", "eot": false, "correct": [1, 0, 0, 1, 0],
 *                "nll": 12.1, "nll_mean": 2.42, "margin": 0.08, "em": false},
 *    "adapter": {...}}
 *
 * variant numbers a chain's held-out variants (the heldout_variants split; null elsewhere).
 * completion is the greedy completion (eval.h: as many tokens as the answer has, fewer when the
 * model chose <|endoftext|>, then "eot" is true); correct flags each answer token that is the
 * argmax after the true prefix; nll is the answer's summed token NLL, nll_mean its mean; margin
 * is null for an item without foils; em is exact match. "adapter" is null when only the base
 * model was scored. Text that is not well-formed UTF-8 (a completion may end inside a
 * character) has U+FFFD for each ill-formed byte.
 */
#ifndef IMPRINT_ITEMS_H
#define IMPRINT_ITEMS_H

#include <stddef.h>

#include "eval.h"
#include "tokenizer.h"

/* One split's items and their records (made with decode = 1). */
typedef struct ItemsSet {
    const char *split;
    int variants; /* 1: the items are held-out variants (numbered per chain) */
    const EvalItem *items;
    int n;
    const EvalRecords *base, *adapter; /* adapter NULL: the base model alone */
} ItemsSet;

/* The lines of sets[0..n_sets), in that order: a malloc'd text (*len bytes, NUL-terminated). */
char *items_jsonl(const ItemsSet *sets, int n_sets, const ChainLib *lib, const Tokenizer *tok,
                  size_t *len, Err *e);

#endif
