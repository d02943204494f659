/*
 * test_peft.c — the PEFT export: tensor names and shapes PEFT expects on GPT-2's attention,
 * adapter_config.json values (rank, alpha keeping the scale, attention-only targets, layers),
 * and the adapter re-imported from the PEFT files giving the same logits as the original.
 *
 * usage: test_peft [OUTDIR]   with OUTDIR, also leaves model/, peft/ and logits for
 *                              tests/peft_torch.py (PyTorch applies PEFT's merge math).
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "model.h"
#include "peft.h"
#include "rng.h"
#include "safetensors.h"
#include "testlib.h"
#include "weights.h"

enum { L = 3, NH = 2, C = 16, V = 37, CTX = 12, B = 2, T = 10, R0 = 4 };

int main(int argc, char **argv) {
    char tmpl[] = "/tmp/imprint-peft-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    char peft_dir[512], path[600];
    snprintf(peft_dir, sizeof peft_dir, "%s/peft", dir);
    Err e;
    GPT2Config cfg = {L, NH, C, V, CTX, 1e-5f};
    GPT2 m;
    gpt2_build(&m, &cfg, B, T);
    gpt2_init_random(&m, 0.2f, 3);
    /* q, v and o on layers 1..2, rsLoRA: exercises block placement, padding and scale */
    LoraSpec spec = {R0, 6.0f, 1, 0.0f, 1 | 4 | 8, 1, 2};
    Lora lo;
    lora_build(&lo, &spec, L, C, B * T, 9);
    for (int i = 0; i < lo.params.count; i++) {
        Tensor *t = &lo.params.items[i];
        if (t->name[strlen(t->name) - 1] == 'B')
            rng_fill_uniform(t->data, t->numel, -0.5f, 0.5f, 9, 50, (uint32_t)i, 0);
    }
    int32_t tok[B * T];
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)(rng_u64(4, 4, 0, (uint64_t)i) % V);
    Batch b = {tok, NULL, NULL, B, T, 0, 0, 0};
    CHECK(gpt2_forward(&m, &lo, &b, &e) == 0, "forward: %s", e.msg);
    float *ref = malloc(sizeof(float) * B * T * V);
    memcpy(ref, m.acts.logits->data, sizeof(float) * B * T * V);

    const char *mk[] = {"imprint_stage"}, *mv[] = {"anchor"};
    CHECK(peft_export(&lo, peft_dir, "models/brown-gpt2-small", mk, mv, 1, &e) == 0, "export: %s",
          e.msg);

    /* names and shapes */
    StFile f;
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", peft_dir);
    CHECK(st_open(&f, path, &e) == 0, "open: %s", e.msg);
    const int R = 2 * R0; /* q and v stacked */
    CHECK(f.count == 2 * 4, "8 tensors (2 layers x c_attn/c_proj x A/B), got %d", f.count);
    const StEntry *a = st_find(&f, "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight");
    const StEntry *bb = st_find(&f, "base_model.model.transformer.h.2.attn.c_attn.lora_B.weight");
    const StEntry *pa = st_find(&f, "base_model.model.transformer.h.2.attn.c_proj.lora_A.weight");
    const StEntry *pb = st_find(&f, "base_model.model.transformer.h.1.attn.c_proj.lora_B.weight");
    CHECK(a && a->ndim == 2 && a->shape[0] == R && a->shape[1] == C, "c_attn lora_A [R, d]");
    CHECK(bb && bb->shape[0] == 3 * C && bb->shape[1] == R, "c_attn lora_B [3d, R]");
    CHECK(pa && pa->shape[0] == R && pa->shape[1] == C, "c_proj lora_A [R, d]");
    CHECK(pb && pb->shape[0] == C && pb->shape[1] == R, "c_proj lora_B [d, R]");
    CHECK(!st_find(&f, "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"),
          "layer 0 not adapted");
    for (int i = 0; i < f.count; i++)
        CHECK(strstr(f.entries[i].name, "mlp") == NULL, "no MLP tensor: %s", f.entries[i].name);
    CHECK(st_meta(&f, "format") && !strcmp(st_meta(&f, "format"), "pt"), "format pt");
    CHECK(st_meta(&f, "imprint_stage") && !strcmp(st_meta(&f, "imprint_stage"), "anchor"),
          "provenance metadata");
    st_close(&f);

    /* adapter_config.json */
    snprintf(path, sizeof path, "%s/adapter_config.json", peft_dir);
    size_t n;
    char *text = file_read_all(path, &n, &e);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    CHECK(j != NULL, "adapter_config.json parses");
    if (j) {
        const cJSON *tm = cJSON_GetObjectItem(j, "target_modules");
        CHECK(cJSON_GetArraySize(tm) == 2 &&
                  !strcmp(cJSON_GetArrayItem(tm, 0)->valuestring, "attn.c_attn") &&
                  !strcmp(cJSON_GetArrayItem(tm, 1)->valuestring, "attn.c_proj"),
              "target_modules = attn.c_attn, attn.c_proj (never a bare c_proj)");
        CHECK(cJSON_GetObjectItem(j, "r")->valueint == R, "r = %d", R);
        CHECK_CLOSE(cJSON_GetObjectItem(j, "lora_alpha")->valuedouble / R, lo.scale, 1e-6, 0,
                    "lora_alpha / r = imprint's scale");
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "use_rslora")), "use_rslora false");
        CHECK(!strcmp(cJSON_GetObjectItem(j, "peft_type")->valuestring, "LORA"), "peft_type");
        const cJSON *lt = cJSON_GetObjectItem(j, "layers_to_transform");
        CHECK(cJSON_GetArraySize(lt) == 2 && cJSON_GetArrayItem(lt, 0)->valueint == 1,
              "layers_to_transform [1, 2]");
    }
    cJSON_Delete(j);
    free(text);

    /* re-import: same logits */
    Lora back;
    CHECK(peft_import(&back, peft_dir, L, C, B * T, &e) == 0, "import: %s", e.msg);
    CHECK(back.spec.rank == R && back.spec.targets == (1 | 4 | 8) && back.spec.layer_first == 1 &&
              back.spec.layer_last == 2,
          "imported spec: rank %d targets %d layers %d-%d", back.spec.rank, back.spec.targets,
          back.spec.layer_first, back.spec.layer_last);
    CHECK(gpt2_forward(&m, &back, &b, &e) == 0, "forward: %s", e.msg);
    double worst = 0, scale = 0;
    for (int i = 0; i < B * T * V; i++) {
        double d = fabs((double)m.acts.logits->data[i] - ref[i]);
        worst = d > worst ? d : worst;
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    }
    CHECK(worst <= 1e-5 * scale, "re-imported logits differ by %.3g (scale %.3g)", worst, scale);
    printf("test_peft: re-imported adapter logits max |diff| %.3g (scale %.3g)\n", worst, scale);

    /* a corrupted config is refused with its path */
    if (argc <= 1) {
        file_write_atomic(path, "{\"peft_type\": \"LORA\", \"r\": 0}", 30, &e);
        Lora bad;
        CHECK(peft_import(&bad, peft_dir, L, C, B * T, &e) != 0, "r = 0 refused");
        CHECK_CONTAINS(e.msg, "adapter_config.json: 'r' must be a positive integer");
    }

    if (argc > 1) { /* files for tests/peft_torch.py */
        snprintf(path, sizeof path, "%s/model", dir);
        CHECK(weights_save_hf(&m, path, 0, WEIGHTS_EOT_UNKNOWN, &e) == 0, "save model: %s", e.msg);
        float ftok[B * T];
        for (int i = 0; i < B * T; i++) ftok[i] = (float)tok[i];
        const int64_t st[2] = {B, T}, sl[3] = {B, T, V};
        StWriteItem items[2] = {{"tokens", ftok, 2, st, ST_F32}, {"logits", ref, 3, sl, ST_F32}};
        snprintf(path, sizeof path, "%s/logits.safetensors", dir);
        CHECK(st_write(path, items, 2, NULL, NULL, 0, &e) == 0, "write logits: %s", e.msg);
    } else {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0, "cleanup");
    }
    lora_free(&back);
    lora_free(&lo);
    gpt2_free(&m);
    free(ref);
    return tl_finish("test_peft");
}
