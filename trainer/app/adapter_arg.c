/*
 * adapter_arg.c — the --adapter argument (see adapter_arg.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "adapter_arg.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "manifest.h"
#include "weights.h"

int adapter_resolve(const char *arg, char *path, size_t n, Err *e) {
    struct stat sb;
    char probe[CFG_PATH_MAX + 64], rel[256];
    if (stat(arg, &sb) != 0)
        return err_set(e,
                       "--adapter %s: %s; give a run directory, a stage directory or an "
                       "adapter.safetensors",
                       arg, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(path, n, "%s", arg);
        return 0;
    }
    if (path_join(probe, sizeof probe, e, "%s/manifest.json", arg) != 0) return -1;
    if (stat(probe, &sb) == 0) { /* a run directory */
        if (manifest_pick_stage(arg, rel, sizeof rel, e) != 0) return -1;
        return path_join(path, n, e, "%s/%s/adapter.safetensors", arg, rel);
    }
    return path_join(path, n, e, "%s/adapter.safetensors", arg);
}

int adapter_open(Lora *lo, const char *path, const GPT2 *model, int max_rows,
                 const LoraSpec *fallback, uint64_t seed, const char *model_name, long long *step,
                 Err *e) {
    LoraSpec spec;
    int has_scale = 0;
    if (lora_read_spec(path, &spec, &has_scale, step, e) != 0) return -1;
    if (!has_scale && !fallback)
        return err_set(
            e,
            "%s: the adapter's metadata states no alpha and rslora; score it with "
            "imprint eval and the config it was trained with (its lora group gives them)",
            path);
    if (!has_scale) {
        spec.alpha = fallback->alpha;
        spec.rslora = fallback->rslora;
    }
    spec.dropout = 0.0f; /* inference: no dropout */
    if (lora_spec_check(&spec, model->cfg.n_layer, e) != 0)
        return err_prefix(e, "%s: the adapter does not fit the model %s", path, model_name);
    lora_build(lo, &spec, model->cfg.n_layer, model->cfg.n_embd, max_rows, seed);
    return lora_load(lo, path, e);
}
