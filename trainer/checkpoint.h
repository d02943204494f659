/*
 * checkpoint.h — a training checkpoint is a directory:
 *
 *   adapter.safetensors   the LoRA A/B tensors (see weights.h: lora_save)
 *   optim.safetensors     AdamW moments as "m.<name>" / "v.<name>", metadata "t" = updates
 *   state.json            step, tokens seen, seed, last loss and learning rate
 *
 * It is written into "<dir>.tmp", every file fsync'ed, and renamed into place; an older
 * checkpoint of the same name is moved aside first and removed only after the rename. A crash
 * at any point leaves a complete checkpoint under <dir> or none at all.
 */
#ifndef IMPRINT_CHECKPOINT_H
#define IMPRINT_CHECKPOINT_H

#include <stdint.h>

#include "lora.h"
#include "optim.h"
#include "util.h"

typedef struct TrainState {
    int64_t step;        /* optimizer steps completed */
    int64_t tokens_seen; /* sum of loss weights seen, all ranks */
    uint64_t seed;
    double loss; /* loss of the last step */
    double lr;   /* learning rate of the last step */
} TrainState;

int checkpoint_write(const char *dir, const Lora *lo, const AdamW *opt, const TrainState *st,
                     Err *e);

/* Removes a directory tree (files and sub-directories). */
int remove_tree(const char *path, Err *e);

#endif
