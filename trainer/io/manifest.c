/*
 * manifest.c — RUN_DIR/manifest.json (see manifest.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "manifest.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(IMPRINT_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

#include "sha256.h"

#define MANIFEST_PATH_MAX 4096

int file_sha256(const char *path, char out[65], Err *e) {
    size_t n = 0;
    char *data = file_read_all(path, &n, e);
    if (!data) return -1;
    sha256_hex(data, n, out);
    free(data);
    return 0;
}

int manifest_add(const ManifestRun *run, const char *rel, const TrainState *st, Err *e) {
    char path[MANIFEST_PATH_MAX], fp[MANIFEST_PATH_MAX];
    if (path_join(path, sizeof path, e, "%s/manifest.json", run->run_dir) != 0) return -1;
    cJSON *m = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        m = json_read_file(path, e);
        if (!m) return err_prefix(e, "the manifest is damaged");
    } else {
        m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "imprint", IMPRINT_VERSION);
        cJSON_AddStringToObject(m, "git", IMPRINT_GIT);
        cJSON *b = cJSON_AddObjectToObject(m, "build");
        cJSON_AddStringToObject(b, "commit", IMPRINT_GIT);
#ifdef __VERSION__
        cJSON_AddStringToObject(b, "compiler", __VERSION__);
#endif
        cJSON_AddStringToObject(b, "blas", run->blas_info);
        cJSON_AddStringToObject(b, "comm", run->comm_info);
#if defined(IMPRINT_WITH_CUDA)
        cJSON_AddNumberToObject(b, "cuda_runtime", CUDART_VERSION);
#else
        cJSON_AddStringToObject(b, "cuda", "not built (CPU only)");
#endif
        cJSON_AddNumberToObject(m, "ranks", run->ranks);
        cJSON_AddNumberToObject(m, "threads_per_rank", run->threads_per_rank);
        /* a number, unless a double cannot hold it exactly (above 2^53): then its decimal
         * digits as a string */
        if (run->seed <= MANIFEST_SEED_EXACT_MAX) {
            cJSON_AddNumberToObject(m, "seed", (double)run->seed);
        } else {
            char seed[32];
            snprintf(seed, sizeof seed, "%llu", (unsigned long long)run->seed);
            cJSON_AddStringToObject(m, "seed", seed);
        }
        cJSON_AddStringToObject(m, "reproducibility", run->invariant ? "invariant" : "rank-count");
        cJSON_AddStringToObject(m, "promise",
                                run->invariant
                                    ? "identical bits for this config and seed on any rank count"
                                    : "identical bits for this config, seed and rank count");
        if (run->invariant) cJSON_AddNumberToObject(m, "shard", run->shard);
        char h[65];
        if (path_join(fp, sizeof fp, e, "%s/config.cfg", run->run_dir) != 0 ||
            file_sha256(fp, h, e) != 0) {
            cJSON_Delete(m);
            return -1;
        }
        cJSON_AddStringToObject(m, "config_sha256", h);
        cJSON_AddStringToObject(m, "library_sha256", run->library_sha256);
        cJSON_AddStringToObject(m, "base_model", run->base_model ? run->base_model : "random");
        if (run->base_model) {
            if (path_join(fp, sizeof fp, e, "%s/model.safetensors", run->base_model) != 0) {
                cJSON_Delete(m);
                return -1;
            }
            if (stat(fp, &sb) != 0) snprintf(fp, sizeof fp, "%s", run->base_model);
            if (file_sha256(fp, h, e) != 0) {
                cJSON_Delete(m);
                return -1;
            }
            cJSON_AddStringToObject(m, "base_model_sha256", h);
        }
        cJSON_AddArrayToObject(m, "checkpoints");
    }
    cJSON *list = cJSON_GetObjectItemCaseSensitive(m, "checkpoints");
    for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) { /* a rewritten checkpoint */
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, i), "dir");
        if (cJSON_IsString(d) && strcmp(d->valuestring, rel) == 0)
            cJSON_DeleteItemFromArray(list, i);
    }
    cJSON *entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "dir", rel);
    cJSON_AddNumberToObject(entry, "stage", st->stage);
    cJSON_AddStringToObject(entry, "stage_name", st->stage_name);
    cJSON_AddNumberToObject(entry, "step", (double)st->step);
    cJSON_AddNumberToObject(entry, "ranks", run->ranks);
    cJSON_AddNumberToObject(entry, "threads_per_rank", run->threads_per_rank);
    cJSON *files = cJSON_AddObjectToObject(entry, "sha256");
    const char *names[] = {"adapter.safetensors",
                           "optim.safetensors",
                           "state.json",
                           "eval.json",
                           "items.jsonl",
                           "peft/adapter_config.json",
                           "peft/adapter_model.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char h[65];
        int bad = path_join(fp, sizeof fp, e, "%s/%s/%s", run->run_dir, rel, names[i]) != 0;
        if (!bad && !st->stage_complete && stat(fp, &sb) != 0) continue; /* mid-stage: no eval */
        if (bad || file_sha256(fp, h, e) != 0) {
            cJSON_Delete(m);
            cJSON_Delete(entry);
            return -1;
        }
        cJSON_AddStringToObject(files, names[i], h);
    }
    cJSON_AddItemToArray(list, entry);
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    int rc = file_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

/* Verifies the SHA-256 of every file of a manifest entry. */
static int entry_verify(const char *run_dir, const cJSON *entry, Err *e) {
    char fp[MANIFEST_PATH_MAX];
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(entry, "dir");
    const cJSON *sums = cJSON_GetObjectItemCaseSensitive(entry, "sha256");
    if (!cJSON_IsString(dir) || !cJSON_IsObject(sums))
        return err_set(e, "%s/manifest.json: a checkpoint entry is malformed", run_dir);
    for (const cJSON *f = sums->child; f; f = f->next) {
        char h[65];
        if (path_join(fp, sizeof fp, e, "%s/%s/%s", run_dir, dir->valuestring, f->string) != 0 ||
            file_sha256(fp, h, e) != 0)
            return err_prefix(e, "checkpoint %s", dir->valuestring);
        if (!cJSON_IsString(f) || strcmp(h, f->valuestring) != 0)
            return err_set(e,
                           "%s: checksum mismatch (sha256 %s, manifest.json says %s): the "
                           "checkpoint is corrupted",
                           fp, h, cJSON_IsString(f) ? f->valuestring : "?");
    }
    return 0;
}

/* A checkpoint that ends a stage: it has the stage's eval.json (a mid-stage one has none). */
static int entry_complete(const cJSON *entry) {
    const cJSON *sums = cJSON_GetObjectItemCaseSensitive(entry, "sha256");
    return cJSON_GetObjectItemCaseSensitive(sums, "eval.json") != NULL;
}

/* manifest_pick, over every checkpoint or (complete_only) over those that end a stage. */
static int choose(const char *run_dir, int fallback, int rewrite, int quiet, int complete_only,
                  char *rel, size_t n_rel, int *ranks, Err *e) {
    char path[MANIFEST_PATH_MAX];
    if (path_join(path, sizeof path, e, "%s/manifest.json", run_dir) != 0) return -1;
    if (stat(path, &(struct stat){0}) != 0)
        return err_set(e, "--resume %s: no manifest, so no finished stage to resume from", run_dir);
    cJSON *m = json_read_file(path, e);
    if (!m) return err_prefix(e, "--resume %s: the manifest is damaged", run_dir);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(m, "checkpoints");
    int count = cJSON_GetArraySize(list);
    if (!m || count == 0) {
        cJSON_Delete(m);
        return err_set(e, "%s: names no checkpoint; nothing to resume from", path);
    }
    int pick = -1, rc = 0;
    Err why = {{0}};
    for (int i = count - 1; i >= 0 && pick < 0; i--) {
        const cJSON *entry = cJSON_GetArrayItem(list, i);
        if (complete_only && !entry_complete(entry)) continue;
        if (entry_verify(run_dir, entry, &why) == 0) {
            pick = i;
            break;
        }
        if (!fallback) {
            rc = err_set(e,
                         "%s; it is not resumed. Pass --fallback to resume from the newest "
                         "valid checkpoint before it",
                         why.msg);
            break;
        }
        if (!quiet) printf("resume: %s; falling back to the checkpoint before it\n", why.msg);
        if (rewrite) {
            cJSON *gone = cJSON_GetObjectItemCaseSensitive(m, "discarded");
            if (!gone) gone = cJSON_AddArrayToObject(m, "discarded");
            cJSON *g = cJSON_CreateObject();
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(entry, "dir");
            cJSON_AddStringToObject(g, "dir", cJSON_IsString(d) ? d->valuestring : "?");
            cJSON_AddStringToObject(g, "reason", why.msg);
            cJSON_AddItemToArray(gone, g);
        }
    }
    if (rc == 0 && pick < 0 && complete_only && why.msg[0] == '\0')
        rc = err_set(e, "%s: names no finished stage yet", path);
    else if (rc == 0 && pick < 0)
        rc = err_set(e, "%s: no checkpoint verifies (the newest: %s); nothing to resume from", path,
                     why.msg);
    if (rc == 0) {
        const cJSON *entry = cJSON_GetArrayItem(list, pick);
        snprintf(rel, n_rel, "%s", cJSON_GetObjectItemCaseSensitive(entry, "dir")->valuestring);
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(entry, "ranks");
        if (!cJSON_IsNumber(r)) r = cJSON_GetObjectItemCaseSensitive(m, "ranks");
        *ranks = cJSON_IsNumber(r) ? r->valueint : 0;
        if (rewrite && pick < count - 1) {
            while (cJSON_GetArraySize(list) > pick + 1)
                cJSON_DeleteItemFromArray(list, cJSON_GetArraySize(list) - 1);
            char *out = cJSON_Print(m);
            rc = file_write_atomic(path, out, strlen(out), e);
            free(out);
        }
    }
    cJSON_Delete(m);
    return rc;
}

int manifest_pick(const char *run_dir, int fallback, int rewrite, int quiet, char *rel,
                  size_t n_rel, int *ranks, Err *e) {
    return choose(run_dir, fallback, rewrite, quiet, 0, rel, n_rel, ranks, e);
}

int manifest_pick_stage(const char *run_dir, char *rel, size_t n_rel, Err *e) {
    int ranks = 0;
    return choose(run_dir, 0, 0, 1, 1, rel, n_rel, &ranks, e);
}
