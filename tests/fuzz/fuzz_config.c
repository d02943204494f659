/* fuzz_config.c — the config loader (libconfig + schema validation) on arbitrary text; a
 * config that loads is printed and must load again. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *path = fuzz_file("cfg", data, n);
    Config cfg;
    Err e;
    if (config_load(&cfg, path, NULL, 0, &e) == 0) {
        char *text = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&text, &len);
        config_print(&cfg, fp);
        fclose(fp);
        const char *again = fuzz_file("cfg2", (const uint8_t *)text, len);
        Config back;
        if (config_load(&back, again, NULL, 0, &e) != 0) abort(); /* print -> load must work */
        config_free(&back);
        free(text);
    }
    config_free(&cfg);
    return 0;
}
