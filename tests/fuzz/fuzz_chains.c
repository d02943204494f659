/* fuzz_chains.c — the chain-library reader on arbitrary text; every chain of a library that
 * loads must render with every filler tuple and foil. */
#include "fuzz_common.h"
#include "library.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *path = fuzz_file("chains.cfg", data, n);
    ChainLib *lib = NULL;
    Err e;
    if (chainlib_load(&lib, &path, 1, &e) == 0) {
        Rendered r = {0};
        for (int c = 0; c < lib->n_chains; c++)
            for (int t = 0; t < lib->chains[c].n_tuples; t++)
                for (int f = -1; f < lib->chains[c].n_foils; f++) {
                    RenderSpec s;
                    render_spec_canonical(&s);
                    s.tuple = t;
                    s.foil = f;
                    if (chain_render(lib, c, &s, &r, &e) != 0) abort();
                    if (r.answer_start > r.len) abort();
                }
        rendered_free(&r);
        chainlib_free(lib);
    }
    return 0;
}
