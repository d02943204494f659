/*
 * train.h — `imprint train`: LoRA training on a token file, data-parallel over ranks.
 */
#ifndef IMPRINT_TRAIN_H
#define IMPRINT_TRAIN_H

#include "comm.h"
#include "config.h"
#include "util.h"

typedef struct TrainOptions {
    int overwrite; /* replace checkpoints already in run.dir */
    int quiet;     /* no progress lines */
} TrainOptions;

/* Runs the whole job. Every rank calls it. Returns 0, or -1 with e filled on the rank(s) that
 * failed; setup errors are agreed collectively so every rank returns -1 together. */
int train_run(const Config *cfg, Comm *comm, const TrainOptions *opt, Err *e);

#endif
