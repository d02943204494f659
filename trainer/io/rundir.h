/*
 * rundir.h — what a run directory holds, for the decisions made about it: may a new run take it
 * over, what does a refusal say, and which checkpoints a newer one supersedes.
 *
 * A checkpoint counts (is committed) when
 *   curriculum runs   manifest.json names it (its entry is written last, manifest.h);
 *   token-file runs   checkpoints/step-N exists (renamed into place whole, checkpoint.h).
 * Nothing else a run leaves behind is a checkpoint: config.cfg, metrics.jsonl, an empty
 * stages/ or checkpoints/, a half-written "*.tmp" directory, a stage directory the manifest
 * does not name (a crash before the commit). A directory with no committed checkpoint holds
 * nothing to resume, so a new run may take it over without --overwrite.
 */
#ifndef IMPRINT_RUNDIR_H
#define IMPRINT_RUNDIR_H

#include <stdint.h>

#include "util.h"

typedef struct RunDirInfo {
    int exists;           /* the directory exists */
    int manifest_damaged; /* manifest.json exists but is not a readable manifest */
    int n_stages;         /* stage checkpoints manifest.json names (mid-stage ones included) */
    int n_steps;          /* checkpoints/step-N directories */
    char newest[300];     /* the newest committed checkpoint, relative to the run dir; "" */
    int64_t step;         /* its step */
    char damage[512];     /* with manifest_damaged: why */
} RunDirInfo;

/* Looks at run_dir (which need not exist). Only I/O errors other than "not there" fail. */
int rundir_inspect(const char *run_dir, RunDirInfo *info, Err *e);

/* 1 when the directory holds a committed checkpoint (or a manifest that cannot be read). */
int rundir_committed(const RunDirInfo *info);

/* "runs/x holds 2 stage checkpoints of an earlier run (newest: stages/01-bridge, step 500)" */
void rundir_describe(const char *run_dir, const RunDirInfo *info, char *out, size_t n);

/* Clears what an earlier run that committed nothing left behind: checkpoints/step-*, the
 * stage directories stages/NN-* and manifest.json. Other files are left alone (run.dir may be
 * a directory that holds more than runs). */
int rundir_clean_uncommitted(const char *run_dir, Err *e);

/* After a complete stage checkpoint is committed: every mid-stage checkpoint
 * (stages/NN-name.step-N) is older than it, so the manifest drops their entries (atomically,
 * first) and then their directories are removed (also ones a --fallback resume left unnamed).
 * *removed gets the number of directories removed. */
int rundir_prune_mid_stage(const char *run_dir, int *removed, Err *e);

#endif
