/*
 * rundir.c — what a run directory holds (see rundir.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "rundir.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "io_util.h"

/* "NN-name.step-DIGITS", optionally with ".tmp" or ".old" (a write in progress, or moved
 * aside): a mid-stage checkpoint directory. */
static int is_mid_stage(const char *name) {
    const char *p = strstr(name, ".step-"), *q;
    if (!p) return 0;
    while ((q = strstr(p + 1, ".step-"))) p = q; /* the last one: a stage name may hold it */
    p += 6;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return *p == '\0' || !strcmp(p, ".tmp") || !strcmp(p, ".old");
}

/* "NN-...": a stage checkpoint directory (complete, mid-stage, or being written). */
static int is_stage_dir(const char *name) {
    return isdigit((unsigned char)name[0]) && isdigit((unsigned char)name[1]) && name[2] == '-';
}

static const char *base_name(const char *rel) {
    const char *slash = strrchr(rel, '/');
    return slash ? slash + 1 : rel;
}

int rundir_inspect(const char *run_dir, RunDirInfo *info, Err *e) {
    char path[IO_PATH_CAP];
    struct stat sb;
    memset(info, 0, sizeof *info);
    if (stat(run_dir, &sb) != 0) return 0;
    info->exists = 1;
    /* curriculum runs: the manifest names the committed checkpoints, oldest first */
    if (path_join(path, sizeof path, e, "%s/manifest.json", run_dir) != 0) return -1;
    if (stat(path, &sb) == 0) {
        Err why = {{0}};
        cJSON *m = json_read_file(path, &why);
        const cJSON *list = m ? cJSON_GetObjectItemCaseSensitive(m, "checkpoints") : NULL;
        if (!m || !cJSON_IsArray(list)) {
            info->manifest_damaged = 1;
            snprintf(info->damage, sizeof info->damage, "%.500s",
                     m ? "it has no \"checkpoints\" list" : why.msg);
        } else if ((info->n_stages = cJSON_GetArraySize(list)) > 0) {
            const cJSON *last = cJSON_GetArrayItem(list, info->n_stages - 1);
            const cJSON *dir = cJSON_GetObjectItemCaseSensitive(last, "dir");
            const cJSON *step = cJSON_GetObjectItemCaseSensitive(last, "step");
            snprintf(info->newest, sizeof info->newest, "%s",
                     cJSON_IsString(dir) ? dir->valuestring : "?");
            info->step = cJSON_IsNumber(step) ? (int64_t)step->valuedouble : 0;
        }
        cJSON_Delete(m);
    }
    /* token-file runs: every checkpoints/step-N is complete (a write goes to step-N.tmp) */
    if (path_join(path, sizeof path, e, "%s/checkpoints", run_dir) != 0) return -1;
    DIR *d = opendir(path);
    if (d) {
        long long best = -1;
        char best_name[256] = "";
        for (struct dirent *de; (de = readdir(d));) {
            long long n;
            char tail;
            if (sscanf(de->d_name, "step-%lld%c", &n, &tail) != 1) continue;
            info->n_steps++;
            if (n > best) {
                best = n;
                snprintf(best_name, sizeof best_name, "%s", de->d_name);
            }
        }
        closedir(d);
        if (info->n_steps > 0 && info->n_stages == 0 && !info->manifest_damaged) {
            snprintf(info->newest, sizeof info->newest, "checkpoints/%s", best_name);
            info->step = best;
        }
    }
    return 0;
}

int rundir_committed(const RunDirInfo *info) {
    return info->manifest_damaged || info->n_stages > 0 || info->n_steps > 0;
}

void rundir_describe(const char *run_dir, const RunDirInfo *info, char *out, size_t n) {
    if (info->manifest_damaged)
        snprintf(out, n, "%s holds a manifest.json that cannot be read (%s)", run_dir,
                 info->damage);
    else if (info->n_stages > 0)
        snprintf(out, n, "%s holds %d stage checkpoint%s of an earlier run (newest: %s, step %lld)",
                 run_dir, info->n_stages, info->n_stages == 1 ? "" : "s", info->newest,
                 (long long)info->step);
    else if (info->n_steps > 0)
        snprintf(out, n, "%s holds %d checkpoint%s of an earlier run (newest: %s, step %lld)",
                 run_dir, info->n_steps, info->n_steps == 1 ? "" : "s", info->newest,
                 (long long)info->step);
    else
        snprintf(out, n, "%s holds no checkpoint (the run stopped before its first one)", run_dir);
}

/* Removes the entries of dir/sub whose names `match` accepts; *count gets how many. */
static int remove_matching(const char *dir, const char *sub, int (*match)(const char *), int *count,
                           Err *e) {
    char path[IO_PATH_CAP], entry[IO_PATH_CAP];
    if (path_join(path, sizeof path, e, "%s/%s", dir, sub) != 0) return -1;
    DIR *d = opendir(path);
    if (!d) return 0;
    int rc = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d));) {
        if (!match(de->d_name)) continue;
        rc = path_join(entry, sizeof entry, e, "%s/%s", path, de->d_name) != 0 ||
                     remove_tree(entry, e) != 0
                 ? -1
                 : 0;
        if (rc == 0 && count) (*count)++;
    }
    closedir(d);
    return rc;
}

static int is_step_dir(const char *name) {
    return !strncmp(name, "step-", 5);
}

int rundir_clean_uncommitted(const char *run_dir, Err *e) {
    char path[IO_PATH_CAP];
    if (path_join(path, sizeof path, e, "%s/manifest.json", run_dir) != 0) return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return err_set(e, "%s: cannot remove: %s", path, strerror(errno));
    if (remove_matching(run_dir, "checkpoints", is_step_dir, NULL, e) != 0) return -1;
    return remove_matching(run_dir, "stages", is_stage_dir, NULL, e);
}

static int is_mid_stage_dir(const char *name) {
    return is_stage_dir(name) && is_mid_stage(name);
}

int rundir_prune_mid_stage(const char *run_dir, int *removed, Err *e) {
    char path[IO_PATH_CAP];
    *removed = 0;
    if (path_join(path, sizeof path, e, "%s/manifest.json", run_dir) != 0) return -1;
    cJSON *m = json_read_file(path, e);
    if (!m) return -1;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(m, "checkpoints");
    int dropped = 0;
    for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, i), "dir");
        if (cJSON_IsString(d) && is_mid_stage(base_name(d->valuestring))) {
            cJSON_DeleteItemFromArray(list, i);
            dropped++;
        }
    }
    int rc = 0;
    if (dropped) { /* the manifest first: a directory it names is never missing */
        char *text = cJSON_Print(m);
        rc = file_write_atomic(path, text, strlen(text), e);
        free(text);
    }
    cJSON_Delete(m);
    if (rc != 0) return -1;
    return remove_matching(run_dir, "stages", is_mid_stage_dir, removed, e);
}
