/*
 * test_data.c — token files: the llm.c shard round trip, byte files, validation errors with
 * the promised messages, and sampling that depends only on (seed, global sample index), so
 * any cut of a global batch into rank slices sees the same rows.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "testlib.h"

int main(void) {
    char dir[] = "/tmp/imprint-data-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char shard[256], text[256], bad[256];
    snprintf(shard, sizeof shard, "%s/toks.bin", dir);
    snprintf(text, sizeof text, "%s/text.txt", dir);
    snprintf(bad, sizeof bad, "%s/bad.bin", dir);
    Err e;

    enum { N = 1000 };
    uint16_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (uint16_t)((i * 7919) % 50000);
    CHECK(data_write_llmc(shard, toks, N, &e) == 0, "write shard: %s", e.msg);
    TokenData d;
    CHECK(data_open(&d, shard, DATA_LLMC, SAMPLE_SEQUENTIAL, 1, &e) == 0, "open shard: %s", e.msg);
    CHECK(d.n_tokens == N, "token count %lld", (long long)d.n_tokens);
    CHECK(data_check(&d, 16, 50000, &e) == 0, "fits vocab 50000");
    CHECK(data_check(&d, 16, 40000, &e) != 0, "does not fit vocab 40000");
    CHECK_CONTAINS(e.msg, "vocabulary has 40000 entries");
    CHECK(data_check(&d, N, 50000, &e) != 0, "window longer than the file");
    CHECK_CONTAINS(e.msg, "needs batch.seq_len + 1");

    /* sequential sampling: sample g starts at g*T (mod positions) */
    int32_t in[4 * 16], tg[4 * 16];
    float w[4 * 16];
    data_fill(&d, 2, 4, 16, in, tg, w);
    int ok = 1;
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 16; t++) {
            int off = ((2 + s) * 16) % (N - 16);
            ok &= in[s * 16 + t] == toks[off + t] && tg[s * 16 + t] == toks[off + t + 1] &&
                  w[s * 16 + t] == 1.0f;
        }
    CHECK(ok, "sequential windows and shifted targets");
    data_close(&d);

    /* random sampling: a slice equals the same rows of the whole batch */
    CHECK(data_open(&d, shard, DATA_LLMC, SAMPLE_RANDOM, 42, &e) == 0, "open: %s", e.msg);
    int32_t all_in[10 * 8], all_tg[10 * 8], part_in[3 * 8], part_tg[3 * 8];
    float all_w[10 * 8], part_w[3 * 8];
    data_fill(&d, 100, 10, 8, all_in, all_tg, all_w);
    data_fill(&d, 104, 3, 8, part_in, part_tg, part_w);
    CHECK(!memcmp(part_in, all_in + 4 * 8, sizeof part_in) &&
              !memcmp(part_tg, all_tg + 4 * 8, sizeof part_tg),
          "rank slice = rows of the global batch");
    TokenData d2;
    CHECK(data_open(&d2, shard, DATA_LLMC, SAMPLE_RANDOM, 43, &e) == 0, "open: %s", e.msg);
    data_fill(&d2, 104, 3, 8, part_in, part_tg, part_w);
    CHECK(memcmp(part_in, all_in + 4 * 8, sizeof part_in) != 0, "another seed, other windows");
    data_close(&d2);
    data_close(&d);

    /* bytes */
    FILE *fp = fopen(text, "wb");
    fputs("hello, imprint", fp);
    fclose(fp);
    CHECK(data_open(&d, text, DATA_BYTES, SAMPLE_SEQUENTIAL, 1, &e) == 0, "bytes: %s", e.msg);
    CHECK(d.n_tokens == 14 && d.max_token == 't', "byte tokens");
    data_close(&d);

    /* errors */
    CHECK(data_open(&d, text, DATA_LLMC, SAMPLE_RANDOM, 1, &e) != 0, "text is not a shard");
    CHECK_CONTAINS(e.msg, "less than the 1024-byte header");
    CHECK_CONTAINS(e.msg, "set data.format = \"bytes\"");
    data_close(&d);
    /* a token shard read as bytes would train on garbage: refused, naming the fix */
    CHECK(data_open(&d, shard, DATA_BYTES, SAMPLE_RANDOM, 1, &e) != 0, "shard read as bytes");
    CHECK_CONTAINS(e.msg, "magic 20240520 of an llm.c token shard");
    CHECK_CONTAINS(e.msg, "set data.format = \"llmc\"");
    data_close(&d);
    char *raw = malloc(1024 + 2 * N);
    fp = fopen(shard, "rb");
    CHECK(fread(raw, 1, 1024 + 2 * N, fp) == 1024 + 2 * N, "read shard");
    fclose(fp);
    fp = fopen(bad, "wb");
    fwrite(raw, 1, 1024 + 2 * N - 1, fp); /* truncated */
    fclose(fp);
    CHECK(data_open(&d, bad, DATA_LLMC, SAMPLE_RANDOM, 1, &e) != 0, "truncated shard");
    CHECK_CONTAINS(e.msg, "byte 8: header says 1000 tokens");
    data_close(&d);
    raw[0] ^= 1;
    fp = fopen(bad, "wb");
    fwrite(raw, 1, 1024 + 2 * N, fp);
    fclose(fp);
    CHECK(data_open(&d, bad, DATA_LLMC, SAMPLE_RANDOM, 1, &e) != 0, "bad magic");
    CHECK_CONTAINS(e.msg, "byte 0: bad magic");
    CHECK_CONTAINS(e.msg, "set data.format = \"bytes\"");
    data_close(&d);
    CHECK(data_open(&d, "/nonexistent/x.bin", DATA_LLMC, SAMPLE_RANDOM, 1, &e) != 0, "missing");
    CHECK_CONTAINS(e.msg, "/nonexistent/x.bin: cannot open");
    data_close(&d);
    free(raw);
    unlink(shard);
    unlink(text);
    unlink(bad);
    rmdir(dir);
    return tl_finish("test_data");
}
