/*
 * manifest.h — RUN_DIR/manifest.json: what a curriculum run is (build, ranks, seed, hashes of
 * config, library and base model) and one entry per stage checkpoint with the SHA-256 of each
 * of its files. The entry is written last: a checkpoint counts once the manifest names it.
 */
#ifndef IMPRINT_MANIFEST_H
#define IMPRINT_MANIFEST_H

#include <stdint.h>

#include "checkpoint.h"
#include "util.h"

/* The manifest's "seed" is a JSON number up to 2^53 (every such integer is exact in a double);
 * a larger seed is written as a string of its decimal digits. */
#define MANIFEST_SEED_EXACT_MAX 9007199254740992ULL

/* What the manifest records about the run when it is created. */
typedef struct ManifestRun {
    const char *run_dir;
    const char *comm_info; /* comm_library_info() */
    const char *blas_info; /* openblas_get_config() */
    int ranks, threads_per_rank;
    uint64_t seed;
    int invariant, shard; /* reproducibility = "invariant" and batch.shard */
    const char *library_sha256;
    const char *base_model; /* model.path, or NULL for a random init */
} ManifestRun;

/* Adds the checkpoint in `rel` (relative to the run dir) with the SHA-256 of each of its files,
 * creating the manifest on the first call (a rewritten checkpoint replaces its entry). */
int manifest_add(const ManifestRun *run, const char *rel, const TrainState *st, Err *e);

/* The checkpoint to resume from: the newest one named in RUN_DIR/manifest.json, its checksums
 * verified. A corrupted one is refused, naming the file; with `fallback` the newest valid one
 * before it is taken instead, and (with `rewrite`) the manifest drops the entries after it,
 * listing them under "discarded" with the reason. *ranks gets the rank count it was written
 * on (0 when unknown). */
int manifest_pick(const char *run_dir, int fallback, int rewrite, int quiet, char *rel,
                  size_t n_rel, int *ranks, Err *e);

/* The newest checkpoint in RUN_DIR/manifest.json that ends a stage (mid-stage ones, written by a
 * stop signal, are passed over), its checksums verified; `imprint eval --adapter RUN_DIR`. */
int manifest_pick_stage(const char *run_dir, char *rel, size_t n_rel, Err *e);

/* SHA-256 of a file's bytes as 64 hex digits. */
int file_sha256(const char *path, char out[65], Err *e);

#endif
