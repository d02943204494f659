/*
 * evalcmd.h — `imprint eval` (see evalcmd.c).
 */
#ifndef IMPRINT_EVALCMD_H
#define IMPRINT_EVALCMD_H

#include "comm.h"
#include "config.h"
#include "util.h"

#define EVAL_MAX_CHAIN_FILES 8

typedef struct EvalOptions {
    const char *adapter; /* adapter.safetensors or a stage directory; NULL: base only */
    const char *chains[EVAL_MAX_CHAIN_FILES];
    int n_chains;      /* external chain libraries; 0: the config's curriculum splits */
    const char *json;  /* write the results here too */
    const char *items; /* write the per-item results (items.jsonl lines) here */
} EvalOptions;

int eval_command(const Config *cfg, Comm *comm, const EvalOptions *o, Err *e);

#endif
