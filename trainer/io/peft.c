/*
 * peft.c — PEFT export and import (see peft.h for the mapping).
 */
#define _POSIX_C_SOURCE 200809L
#include "peft.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_util.h"
#include "safetensors.h"

#define PEFT_PREFIX "base_model.model.transformer."

static int popcount4(int m) {
    return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1) + ((m >> 3) & 1);
}

/* ---- export -------------------------------------------------------------------------------- */

static int write_config(const Lora *lo, const char *path, const char *base_model, int R,
                        int has_attn, int has_proj, Err *e) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "peft_type", "LORA");
    cJSON_AddStringToObject(o, "task_type", "CAUSAL_LM");
    if (base_model && base_model[0])
        cJSON_AddStringToObject(o, "base_model_name_or_path", base_model);
    else
        cJSON_AddNullToObject(o, "base_model_name_or_path");
    cJSON_AddNullToObject(o, "revision");
    cJSON_AddNumberToObject(o, "r", R);
    cJSON_AddNumberToObject(o, "lora_alpha", (double)lo->scale * R);
    cJSON_AddBoolToObject(o, "use_rslora", 0);
    cJSON_AddNumberToObject(o, "lora_dropout", lo->spec.dropout);
    cJSON *targets = cJSON_AddArrayToObject(o, "target_modules");
    if (has_attn) cJSON_AddItemToArray(targets, cJSON_CreateString("attn.c_attn"));
    if (has_proj) cJSON_AddItemToArray(targets, cJSON_CreateString("attn.c_proj"));
    cJSON *layers = cJSON_AddArrayToObject(o, "layers_to_transform");
    for (int l = lo->spec.layer_first; l <= lo->spec.layer_last; l++)
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(l));
    cJSON_AddStringToObject(o, "layers_pattern", "h");
    cJSON_AddBoolToObject(o, "fan_in_fan_out", 1); /* GPT-2's Conv1D; A and B stay [r,in]/[out,r] */
    cJSON_AddStringToObject(o, "bias", "none");
    cJSON_AddBoolToObject(o, "use_dora", 0);
    cJSON_AddBoolToObject(o, "init_lora_weights", 1);
    cJSON_AddBoolToObject(o, "inference_mode", 1);
    cJSON_AddItemToObject(o, "rank_pattern", cJSON_CreateObject());
    cJSON_AddItemToObject(o, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(o, "modules_to_save");
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    int rc = file_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

int peft_export(const Lora *lo, const char *dir, const char *base_model,
                const char *const *meta_keys, const char *const *meta_values, int n_meta, Err *e) {
    const int r = lo->spec.rank, C = lo->n_embd;
    const int qkv = lo->spec.targets & 7, n_qkv = popcount4(qkv);
    const int has_o = (lo->spec.targets >> LORA_TARGET_O) & 1;
    const int R = (n_qkv > 0 ? n_qkv : 1) * r;
    const int n_layers = lo->spec.layer_last - lo->spec.layer_first + 1;
    if (mkdir_p(dir, e) != 0) return -1;

    /* one buffer for every exported tensor, zero-padded */
    const size_t attn_floats = n_qkv ? (size_t)R * C + (size_t)3 * C * R : 0;
    const size_t proj_floats = has_o ? (size_t)R * C + (size_t)C * R : 0;
    float *buf =
        xmalloc(sizeof(float) * (attn_floats + proj_floats) * (size_t)n_layers + 1, "PEFT export");
    const int n_items = n_layers * (2 * (n_qkv > 0) + 2 * has_o);
    StWriteItem *items = xmalloc(sizeof(StWriteItem) * (size_t)n_items + 1, "PEFT items");
    char(*names)[TENSOR_NAME_MAX] = xmalloc((size_t)n_items * TENSOR_NAME_MAX + 1, "PEFT names");
    int64_t(*shapes)[2] = xmalloc(sizeof(int64_t[2]) * (size_t)n_items + 1, "PEFT shapes");
    float *p = buf;
    int k = 0;
    for (int l = lo->spec.layer_first; l <= lo->spec.layer_last; l++) {
        if (n_qkv) {
            float *A = p, *B = p + (size_t)R * C;
            p += attn_floats;
            int j = 0;
            for (int t = LORA_TARGET_Q; t <= LORA_TARGET_V; t++) {
                const LoraAdapter *a = lora_get(lo, l, t);
                if (!a) continue;
                memcpy(A + (size_t)j * r * C, a->A->data, sizeof(float) * (size_t)r * C);
                for (int i = 0; i < C; i++)
                    memcpy(B + ((size_t)t * C + i) * R + (size_t)j * r, a->B->data + (size_t)i * r,
                           sizeof(float) * r);
                j++;
            }
            snprintf(names[k], TENSOR_NAME_MAX, PEFT_PREFIX "h.%d.attn.c_attn.lora_A.weight", l);
            shapes[k][0] = R, shapes[k][1] = C;
            items[k] = (StWriteItem){names[k], A, 2, shapes[k], ST_F32};
            k++;
            snprintf(names[k], TENSOR_NAME_MAX, PEFT_PREFIX "h.%d.attn.c_attn.lora_B.weight", l);
            shapes[k][0] = 3 * C, shapes[k][1] = R;
            items[k] = (StWriteItem){names[k], B, 2, shapes[k], ST_F32};
            k++;
        }
        if (has_o) {
            const LoraAdapter *a = lora_get(lo, l, LORA_TARGET_O);
            float *A = p, *B = p + (size_t)R * C;
            p += proj_floats;
            memcpy(A, a->A->data, sizeof(float) * (size_t)r * C);
            for (int i = 0; i < C; i++)
                memcpy(B + (size_t)i * R, a->B->data + (size_t)i * r, sizeof(float) * r);
            snprintf(names[k], TENSOR_NAME_MAX, PEFT_PREFIX "h.%d.attn.c_proj.lora_A.weight", l);
            shapes[k][0] = R, shapes[k][1] = C;
            items[k] = (StWriteItem){names[k], A, 2, shapes[k], ST_F32};
            k++;
            snprintf(names[k], TENSOR_NAME_MAX, PEFT_PREFIX "h.%d.attn.c_proj.lora_B.weight", l);
            shapes[k][0] = C, shapes[k][1] = R;
            items[k] = (StWriteItem){names[k], B, 2, shapes[k], ST_F32};
            k++;
        }
    }
    /* metadata: PEFT writes {"format": "pt"}; our provenance rides along */
    const char *keys[16 + 1] = {"format"}, *vals[16 + 1] = {"pt"};
    int nm = 1;
    for (int i = 0; i < n_meta && nm < 16; i++, nm++)
        keys[nm] = meta_keys[i], vals[nm] = meta_values[i];
    char path[IO_PATH_CAP];
    int rc = path_join(path, sizeof path, e, "%s/adapter_model.safetensors", dir);
    if (rc == 0) rc = st_write(path, items, k, keys, vals, nm, e);
    if (rc == 0) rc = path_join(path, sizeof path, e, "%s/adapter_config.json", dir);
    if (rc == 0) rc = write_config(lo, path, base_model, R, n_qkv > 0, has_o, e);
    xfree(shapes);
    xfree(names);
    xfree(items);
    xfree(buf);
    return rc;
}

/* ---- import -------------------------------------------------------------------------------- */

/* Parses "[base_model.model.][transformer.]h.<l>.attn.<c_attn|c_proj>.lora_<A|B>.weight". */
static int parse_name(const char *name, int *layer, int *is_proj, char *which) {
    const char *s = name;
    if (!strncmp(s, "base_model.model.", 17)) s += 17;
    if (!strncmp(s, "transformer.", 12)) s += 12;
    char mod[16], ab;
    int l, used = 0;
    if (sscanf(s, "h.%d.attn.%15[a-z_].lora_%c.weight%n", &l, mod, &ab, &used) != 3) return -1;
    if (s[used] != '\0' || l < 0 || (ab != 'A' && ab != 'B')) return -1;
    if (!strcmp(mod, "c_attn"))
        *is_proj = 0;
    else if (!strcmp(mod, "c_proj"))
        *is_proj = 1;
    else
        return -1;
    *layer = l;
    *which = ab;
    return 0;
}

int peft_import(Lora *lo, const char *dir, int n_layer, int n_embd, int max_rows, Err *e) {
    char path[IO_PATH_CAP];
    if (path_join(path, sizeof path, e, "%s/adapter_config.json", dir) != 0) return -1;
    cJSON *cfg = json_read_file(path, e);
    if (!cfg) return -1;
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return err_set(e, "%s: not a JSON object; is this a PEFT adapter directory?", path);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(cfg, "peft_type");
    const cJSON *jr = cJSON_GetObjectItemCaseSensitive(cfg, "r");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(cfg, "lora_alpha");
    const cJSON *jrs = cJSON_GetObjectItemCaseSensitive(cfg, "use_rslora");
    const cJSON *jdora = cJSON_GetObjectItemCaseSensitive(cfg, "use_dora");
    const cJSON *jrp = cJSON_GetObjectItemCaseSensitive(cfg, "rank_pattern");
    const cJSON *jap = cJSON_GetObjectItemCaseSensitive(cfg, "alpha_pattern");
    int rc = 0;
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "LORA") != 0)
        rc = err_set(e, "%s: peft_type must be \"LORA\"", path);
    else if (!cJSON_IsNumber(jr) || jr->valuedouble < 1 || jr->valuedouble != (int)jr->valuedouble)
        rc = err_set(e, "%s: 'r' must be a positive integer", path);
    else if (!cJSON_IsNumber(ja))
        rc = err_set(e, "%s: 'lora_alpha' must be a number", path);
    else if (cJSON_IsTrue(jdora))
        rc = err_set(e, "%s: DoRA adapters (use_dora) are not supported", path);
    else if ((jrp && cJSON_GetArraySize(jrp) > 0) || (jap && cJSON_GetArraySize(jap) > 0))
        rc = err_set(e, "%s: rank_pattern/alpha_pattern are not supported; use one r and alpha",
                     path);
    const int R = rc == 0 ? jr->valueint : 0;
    const double alpha = rc == 0 ? ja->valuedouble : 0;
    const double scale = cJSON_IsTrue(jrs) ? alpha / sqrt((double)R) : alpha / R;
    cJSON_Delete(cfg);
    if (rc != 0) return -1;

    if (path_join(path, sizeof path, e, "%s/adapter_model.safetensors", dir) != 0) return -1;
    StFile f;
    if (st_open(&f, path, e) != 0) return -1;
    /* which layers and modules are present */
    int lo_l = n_layer, hi_l = -1, attn = 0, proj = 0;
    for (int i = 0; i < f.count; i++) {
        int l, is_proj;
        char which;
        if (parse_name(f.entries[i].name, &l, &is_proj, &which) != 0 || l >= n_layer) {
            rc = err_set(e,
                         "%s: tensor '%s' is not a LoRA tensor of GPT-2's attention (layers 0..%d)",
                         path, f.entries[i].name, n_layer - 1);
            break;
        }
        lo_l = l < lo_l ? l : lo_l;
        hi_l = l > hi_l ? l : hi_l;
        attn |= !is_proj;
        proj |= is_proj;
    }
    if (rc == 0 && hi_l < 0) rc = err_set(e, "%s: holds no LoRA tensors", path);
    if (rc != 0) {
        st_close(&f);
        return -1;
    }
    /* read the fused tensors layer by layer; a q/k/v block whose B rows are zero in every
     * layer was not adapted */
    const int C = n_embd, nl = hi_l - lo_l + 1;
    float *Aa = xmalloc(sizeof(float) * (size_t)nl * R * C, "PEFT c_attn A");
    float *Ba = xmalloc(sizeof(float) * (size_t)nl * 3 * C * R, "PEFT c_attn B");
    float *Ap = xmalloc(sizeof(float) * (size_t)nl * R * C, "PEFT c_proj A");
    float *Bp = xmalloc(sizeof(float) * (size_t)nl * C * R, "PEFT c_proj B");
    char nm[TENSOR_NAME_MAX];
    int used[3] = {0, 0, 0};
    for (int l = lo_l; l <= hi_l && rc == 0; l++) {
        const size_t o = (size_t)(l - lo_l);
        struct {
            int on;
            const char *mod;
            char which;
            float *dst;
            int64_t shape[2];
        } want[4] = {{attn, "c_attn", 'A', Aa + o * R * C, {R, C}},
                     {attn, "c_attn", 'B', Ba + o * 3 * C * R, {3 * C, R}},
                     {proj, "c_proj", 'A', Ap + o * R * C, {R, C}},
                     {proj, "c_proj", 'B', Bp + o * C * R, {C, R}}};
        for (int w = 0; w < 4 && rc == 0; w++) {
            if (!want[w].on) continue;
            snprintf(nm, sizeof nm, PEFT_PREFIX "h.%d.attn.%s.lora_%c.weight", l, want[w].mod,
                     want[w].which);
            if (!st_find(&f, nm)) /* also accept names without the prefixes */
                snprintf(nm, sizeof nm, "h.%d.attn.%s.lora_%c.weight", l, want[w].mod,
                         want[w].which);
            rc = st_read_f32(&f, nm, want[w].dst, want[w].shape, 2, e);
        }
        for (int t = 0; t < 3 && rc == 0 && attn; t++)
            for (size_t i = 0; i < (size_t)C * R && !used[t]; i++)
                used[t] |= Ba[o * 3 * C * R + (size_t)t * C * R + i] != 0.0f;
    }
    st_close(&f);
    if (rc != 0) {
        xfree(Aa), xfree(Ba), xfree(Ap), xfree(Bp);
        return -1;
    }
    int targets = (proj ? 1 << LORA_TARGET_O : 0);
    for (int t = 0; t < 3; t++) targets |= (attn && used[t]) ? 1 << t : 0;
    if (attn && !(targets & 7)) targets |= 7; /* an untrained (B = 0) c_attn adapter */
    LoraSpec spec = {.rank = R,
                     .alpha = (float)(scale * R),
                     .rslora = 0,
                     .dropout = 0.0f,
                     .targets = targets,
                     .layer_first = lo_l,
                     .layer_last = hi_l};
    lora_build(lo, &spec, n_layer, n_embd, max_rows, 0);
    lo->scale = (float)scale;
    for (int l = lo_l; l <= hi_l; l++) {
        const size_t o = (size_t)(l - lo_l);
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            LoraAdapter *a = lora_get(lo, l, t);
            if (!a) continue;
            if (t == LORA_TARGET_O) {
                memcpy(a->A->data, Ap + o * R * C, sizeof(float) * (size_t)R * C);
                memcpy(a->B->data, Bp + o * C * R, sizeof(float) * (size_t)C * R);
            } else {
                memcpy(a->A->data, Aa + o * R * C, sizeof(float) * (size_t)R * C);
                memcpy(a->B->data, Ba + o * 3 * C * R + (size_t)t * C * R,
                       sizeof(float) * (size_t)C * R);
            }
        }
    }
    xfree(Aa), xfree(Ba), xfree(Ap), xfree(Bp);
    return 0;
}
