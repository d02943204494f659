/*
 * tok_dump.c — a small CLI for tokenizer checks (used by tokenizer_parity.sh).
 *
 *   tok_dump encode VOCAB_JSON MERGES_TXT FILE     ids of FILE, one per line
 *   tok_dump decode VOCAB_JSON MERGES_TXT IDS OUT  writes the bytes of the ids in IDS to OUT
 *   tok_dump save   VOCAB_JSON MERGES_TXT DIR      loads and saves again into DIR
 *   tok_dump train  FILE VOCAB_SIZE DIR            trains on FILE and saves into DIR (timed)
 *   tok_dump bench  VOCAB_JSON MERGES_TXT FILE     encodes FILE and prints MB/s
 */
#define _POSIX_C_SOURCE 200809L
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: tok_dump encode|decode|save|bench VOCAB MERGES ARG [OUT]\n"
                    "       tok_dump train FILE VOCAB_SIZE DIR\n");
    return 2;
}

int main(int argc, char **argv) {
    Err e = {{0}};
    if (argc < 5) return usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "train") == 0) {
        size_t n;
        char *text = file_read_all(argv[2], &n, &e);
        if (!text) fatal("%s", e.msg);
        Tokenizer *t;
        double t0 = now_seconds();
        if (tok_train(&t, text, n, atoi(argv[3]), &e)) fatal("%s", e.msg);
        double dt = now_seconds() - t0;
        if (tok_save_dir(t, argv[4], &e)) fatal("%s", e.msg);
        printf("trained %d tokens (%d merges) on %zu bytes in %.2f s\n", tok_vocab_size(t),
               tok_num_merges(t), n, dt);
        tok_free(t);
        free(text);
        return 0;
    }
    Tokenizer *t;
    if (tok_load(&t, argv[2], argv[3], &e)) fatal("%s", e.msg);
    int rc = 0;
    if (strcmp(cmd, "encode") == 0 || strcmp(cmd, "bench") == 0) {
        size_t n, nid;
        char *text = file_read_all(argv[4], &n, &e);
        if (!text) fatal("%s", e.msg);
        int32_t *ids;
        double t0 = now_seconds();
        if (tok_encode(t, text, n, &ids, &nid, &e)) fatal("%s", e.msg);
        double dt = now_seconds() - t0;
        if (cmd[0] == 'e') {
            for (size_t i = 0; i < nid; i++) printf("%d\n", (int)ids[i]);
        } else {
            printf("encoded %zu bytes to %zu tokens in %.3f s: %.1f MB/s\n", n, nid, dt,
                   (double)n / 1e6 / dt);
        }
        free(ids);
        free(text);
    } else if (strcmp(cmd, "decode") == 0) {
        if (argc < 6) return usage();
        size_t n;
        char *txt = file_read_all(argv[4], &n, &e);
        if (!txt) fatal("%s", e.msg);
        size_t cap = 1024, nid = 0;
        int32_t *ids = malloc(cap * sizeof *ids);
        char *p = txt, *end;
        for (;;) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            if (nid == cap) ids = realloc(ids, (cap *= 2) * sizeof *ids);
            ids[nid++] = (int32_t)v;
            p = end;
        }
        char *out;
        size_t len;
        if (tok_decode(t, ids, nid, &out, &len, &e)) fatal("%s", e.msg);
        if (file_write_atomic(argv[5], out, len, &e)) fatal("%s", e.msg);
        free(out);
        free(ids);
        free(txt);
    } else if (strcmp(cmd, "save") == 0) {
        if (tok_save_dir(t, argv[4], &e)) fatal("%s", e.msg);
    } else {
        rc = usage();
    }
    tok_free(t);
    return rc;
}
