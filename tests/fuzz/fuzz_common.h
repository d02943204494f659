/*
 * fuzz_common.h — helpers shared by the libFuzzer targets: the readers under test take paths,
 * so each input is written to a per-process temporary file first.
 */
#ifndef IMPRINT_FUZZ_COMMON_H
#define IMPRINT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes data to /tmp/imprint-fuzz-<pid>-<tag> and returns that path (static storage). */
static inline const char *fuzz_file(const char *tag, const uint8_t *data, size_t n) {
    static char path[4][128];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 128, "/tmp/imprint-fuzz-%ld-%s", (long)getpid(), tag);
    FILE *fp = fopen(p, "wb");
    if (!fp) abort();
    if (n && fwrite(data, 1, n, fp) != n) abort();
    fclose(fp);
    return p;
}

#endif
