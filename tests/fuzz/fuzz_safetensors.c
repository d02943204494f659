/* fuzz_safetensors.c — the safetensors reader on arbitrary bytes: it must refuse or accept,
 * never read out of bounds; accepted files are read back tensor by tensor. */
#include "fuzz_common.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    StFile f;
    Err e;
    if (st_open_memory(&f, data, n, "fuzz", &e) == 0) {
        for (int i = 0; i < f.count; i++) {
            const StEntry *t = &f.entries[i];
            if (t->numel > (1u << 20) || t->ndim > 4) continue;
            float *dst = malloc(sizeof(float) * (t->numel + 1));
            st_read_f32(&f, t->name, dst, t->shape, t->ndim, &e);
            free(dst);
        }
    }
    st_close(&f);
    return 0;
}
