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

/* --json OUT|- of the commands that report (eval, probe). json_out_check refuses a path whose
 * directory is missing or not writable, or that is a directory, before any work is done ("-" is
 * stdout and always fine); json_out_write writes text there (atomically for a file). */
int json_out_check(const char *path, Err *e);
int json_out_write(const char *path, const char *text, Err *e);

#endif
