/*
 * checkpoint.c — crash-safe checkpoint directories.
 */
#define _XOPEN_SOURCE 700
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_util.h"
#include "peft.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "weights.h"

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

int remove_tree(const char *path, Err *e) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_set(e, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

static int write_optim(const char *path, const AdamW *opt, Err *e) {
    const int n = opt->m.count;
    StWriteItem *items = xmalloc(sizeof(StWriteItem) * (size_t)(2 * n + 1), "optimizer items");
    char(*names)[TENSOR_NAME_MAX + 2] =
        xmalloc((size_t)(2 * n + 1) * (TENSOR_NAME_MAX + 2), "optimizer names");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const Tensor *t = k == 0 ? &opt->m.items[i] : &opt->v.items[i];
            snprintf(names[2 * i + k], TENSOR_NAME_MAX + 2, "%c.%s", k == 0 ? 'm' : 'v', t->name);
            items[2 * i + k] = (StWriteItem){names[2 * i + k], t->data, t->ndim, t->shape, ST_F32};
        }
    char t_str[32];
    snprintf(t_str, sizeof t_str, "%lld", (long long)opt->t);
    const char *keys[] = {"format", "t"};
    const char *vals[] = {"imprint-adamw", t_str};
    int rc = st_write(path, items, 2 * n, keys, vals, 2, e);
    xfree(names);
    xfree(items);
    return rc;
}

static int write_state(const char *path, const TrainState *st, Err *e) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)st->step);
    cJSON_AddNumberToObject(o, "tokens_seen", (double)st->tokens_seen);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)st->seed);
    cJSON_AddStringToObject(o, "seed", seed); /* a string: JSON numbers lose 64-bit seeds */
    cJSON_AddNumberToObject(o, "loss", st->loss);
    cJSON_AddNumberToObject(o, "lr", st->lr);
    cJSON_AddNumberToObject(o, "skipped_steps", (double)st->skipped_steps);
    if (st->stage >= 0 && st->stage_name[0]) {
        cJSON_AddNumberToObject(o, "stage", st->stage);
        cJSON_AddStringToObject(o, "stage_name", st->stage_name);
        cJSON_AddNumberToObject(o, "stage_steps", (double)st->stage_steps);
        cJSON_AddBoolToObject(o, "stage_complete", st->stage_complete);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    int rc = file_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

int file_copy(const char *from, const char *to, Err *e) {
    size_t n = 0;
    char *data = file_read_all(from, &n, e);
    if (!data) return -1;
    int rc = file_write_atomic(to, data, n, e);
    free(data);
    return rc;
}

int tokenizer_dir_eot(const char *dir, int *eot, Err *e) {
    Tokenizer *t = NULL;
    if (tok_load_dir(&t, dir, e) != 0) return -1;
    *eot = tok_eot(t) >= 0 ? tok_eot(t) : WEIGHTS_EOT_NONE;
    tok_free(t);
    return 0;
}

int tokenizer_copy(const char *from_dir, const char *to_dir, Err *e) {
    const char *files[] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        char from[IO_PATH_CAP], to[IO_PATH_CAP];
        if (path_join(from, sizeof from, e, "%s/%s", from_dir, files[i]) != 0 ||
            path_join(to, sizeof to, e, "%s/%s", to_dir, files[i]) != 0 ||
            file_copy(from, to, e) != 0)
            return -1;
    }
    return 0;
}

int checkpoint_write(const char *dir, const CheckpointContent *c, Err *e) {
    const TrainState *st = &c->state;
    char tmp[IO_PATH_CAP], old[IO_PATH_CAP], path[IO_PATH_CAP];
    if (path_join(tmp, sizeof tmp, e, "%s.tmp", dir) != 0 ||
        path_join(old, sizeof old, e, "%s.old", dir) != 0)
        return -1;
    if (remove_tree(tmp, e) != 0 || mkdir_p(tmp, e) != 0) return -1;

    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)st->step);
    const char *keys[] = {"step"};
    const char *vals[] = {step};
    if (c->lora) {
        if (path_join(path, sizeof path, e, "%s/adapter.safetensors", tmp) != 0 ||
            lora_save(c->lora, path, keys, vals, 1, e) != 0)
            return -1;
    }
    if (c->fault_crash) { /* fault injection: the process dies with the checkpoint half written */
        fprintf(stderr, "imprint: fault injection: killed while writing %s\n", tmp);
        fflush(NULL);
        raise(SIGKILL);
    }
    if (c->model) { /* config.json names the end token of the tokenizer that goes with it */
        int eot = WEIGHTS_EOT_UNKNOWN;
        if (c->tokenizer && c->tokenizer[0] && tokenizer_dir_eot(c->tokenizer, &eot, e) != 0)
            return -1;
        if (weights_save_hf(c->model, tmp, 0, eot, e) != 0) return -1;
    }
    if (c->tokenizer && c->tokenizer[0] && tokenizer_copy(c->tokenizer, tmp, e) != 0) return -1;
    if (path_join(path, sizeof path, e, "%s/optim.safetensors", tmp) != 0 ||
        write_optim(path, c->opt, e) != 0)
        return -1;
    if (path_join(path, sizeof path, e, "%s/state.json", tmp) != 0 || write_state(path, st, e) != 0)
        return -1;
    if (c->eval_json) {
        if (path_join(path, sizeof path, e, "%s/eval.json", tmp) != 0 ||
            file_write_atomic(path, c->eval_json, strlen(c->eval_json), e) != 0)
            return -1;
    }
    if (c->items_jsonl) {
        if (path_join(path, sizeof path, e, "%s/items.jsonl", tmp) != 0 ||
            file_write_atomic(path, c->items_jsonl, c->items_len, e) != 0)
            return -1;
    }
    if (c->lora && c->peft_base) {
        char peft[IO_PATH_CAP];
        if (path_join(peft, sizeof peft, e, "%s/peft", tmp) != 0) return -1;
        char step_s[32], stage_s[16];
        snprintf(step_s, sizeof step_s, "%lld", (long long)st->step);
        snprintf(stage_s, sizeof stage_s, "%d", st->stage);
        const char *mk[] = {"imprint_step", "imprint_stage", "imprint_stage_name"};
        const char *mv[] = {step_s, stage_s, st->stage_name};
        if (peft_export(c->lora, peft, c->peft_base, mk, mv, 3, e) != 0) return -1;
        if (fsync_dir(peft, e) != 0) return -1;
    }
    if (fsync_dir(tmp, e) != 0) return -1;

    /* swap into place: dir -> dir.old, tmp -> dir, remove dir.old */
    struct stat sb;
    int had_old = stat(dir, &sb) == 0;
    if (had_old) {
        if (remove_tree(old, e) != 0) return -1;
        if (rename(dir, old) != 0)
            return err_set(e, "%s: cannot move the previous checkpoint aside: %s", dir,
                           strerror(errno));
    }
    if (rename(tmp, dir) != 0)
        return err_set(e, "%s: cannot rename the new checkpoint into place: %s", dir,
                       strerror(errno));
    char parent[IO_PATH_CAP];
    if (path_join(parent, sizeof parent, e, "%s", dir) != 0 || fsync_dir(dirname(parent), e) != 0)
        return -1;
    if (had_old && remove_tree(old, e) != 0) return -1;
    return 0;
}

/* ---- reading back --------------------------------------------------------------------------- */

int checkpoint_read_state(const char *dir, TrainState *st, Err *e) {
    char path[IO_PATH_CAP];
    if (path_join(path, sizeof path, e, "%s/state.json", dir) != 0) return -1;
    memset(st, 0, sizeof *st);
    st->stage = -1;
    cJSON *o = json_read_file(path, e);
    if (!o) return -1;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(o, "tokens_seen");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
    const cJSON *stage = cJSON_GetObjectItemCaseSensitive(o, "stage");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "stage_name");
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(o, "stage_steps");
    if (!cJSON_IsNumber(step) || !cJSON_IsNumber(tok) || !cJSON_IsString(seed)) {
        cJSON_Delete(o);
        return err_set(e,
                       "%s: not a valid imprint state (needs step, tokens_seen, seed); the "
                       "checkpoint is damaged",
                       path);
    }
    st->step = (int64_t)step->valuedouble;
    st->tokens_seen = (int64_t)tok->valuedouble;
    st->seed = strtoull(seed->valuestring, NULL, 10);
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(o, "loss");
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(o, "lr");
    st->loss = cJSON_IsNumber(loss) ? loss->valuedouble : 0.0;
    st->lr = cJSON_IsNumber(lr) ? lr->valuedouble : 0.0;
    const cJSON *skipped = cJSON_GetObjectItemCaseSensitive(o, "skipped_steps");
    st->skipped_steps = cJSON_IsNumber(skipped) ? (int64_t)skipped->valuedouble : 0;
    if (cJSON_IsNumber(stage) && cJSON_IsString(name) && cJSON_IsNumber(ss)) {
        st->stage = stage->valueint;
        snprintf(st->stage_name, sizeof st->stage_name, "%s", name->valuestring);
        st->stage_steps = (int64_t)ss->valuedouble;
        const cJSON *done = cJSON_GetObjectItemCaseSensitive(o, "stage_complete");
        st->stage_complete = !cJSON_IsFalse(done);
    }
    cJSON_Delete(o);
    return 0;
}

int checkpoint_read_optim(const char *dir, AdamW *opt, Err *e) {
    char path[IO_PATH_CAP], name[TENSOR_NAME_MAX + 2];
    if (path_join(path, sizeof path, e, "%s/optim.safetensors", dir) != 0) return -1;
    StFile f;
    if (st_open(&f, path, e) != 0) return -1;
    int rc = 0;
    const char *t = st_meta(&f, "t");
    if (!t)
        rc = err_set(e, "%s: no 't' (update count) in the metadata; the file is damaged", path);
    else
        opt->t = strtoll(t, NULL, 10);
    for (int i = 0; rc == 0 && i < opt->m.count; i++)
        for (int k = 0; rc == 0 && k < 2; k++) {
            Tensor *x = k == 0 ? &opt->m.items[i] : &opt->v.items[i];
            snprintf(name, sizeof name, "%c.%s", k == 0 ? 'm' : 'v', x->name);
            rc = st_read_f32(&f, name, x->data, x->shape, x->ndim, e);
        }
    st_close(&f);
    return rc;
}
