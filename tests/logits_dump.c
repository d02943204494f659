/*
 * logits_dump.c — loads a model with imprint's loader (HF dir or llm.c .bin), runs the forward
 * pass on a fixed pseudo-random token sequence, and writes the tokens and logits to a
 * safetensors file for tests/base_model_parity.py.
 *
 * usage: logits_dump MODEL OUT.safetensors [T]
 */
#include <stdlib.h>

#include "model.h"
#include "rng.h"
#include "safetensors.h"
#include "weights.h"

int main(int argc, char **argv) {
    if (argc < 3) fatal("usage: logits_dump MODEL OUT.safetensors [T]");
    Err e;
    GPT2Config mc;
    WeightsFormat fmt;
    if (weights_probe(argv[1], &mc, &fmt, &e) != 0) fatal("%s", e.msg);
    int T = argc > 3 ? atoi(argv[3]) : mc.n_ctx;
    if (T < 1 || T > mc.n_ctx) fatal("T must be in [1, %d]", mc.n_ctx);
    GPT2 m;
    gpt2_build(&m, &mc, 2, T);
    if (weights_load(&m, argv[1], &e) != 0) fatal("%s", e.msg);
    int32_t *tok = xmalloc(sizeof(int32_t) * 2 * T, "tokens");
    float *ftok = xmalloc(sizeof(float) * 2 * T, "tokens as floats");
    for (int i = 0; i < 2 * T; i++) {
        tok[i] = (int32_t)(rng_u64(7, 99, 0, (uint64_t)i) % (uint64_t)mc.vocab);
        ftok[i] = (float)tok[i];
    }
    Batch b = {tok, NULL, NULL, 2, T, 0, 0, 0};
    if (gpt2_forward(&m, NULL, &b, &e) != 0) fatal("%s", e.msg);
    const int64_t st[2] = {2, T}, sl[3] = {2, T, mc.vocab};
    StWriteItem items[2] = {{"tokens", ftok, 2, st, ST_F32},
                            {"logits", m.acts.logits->data, 3, sl, ST_F32}};
    if (st_write(argv[2], items, 2, NULL, NULL, 0, &e) != 0) fatal("%s", e.msg);
    xfree(tok);
    xfree(ftok);
    gpt2_free(&m);
    return 0;
}
