/*
 * test_safetensors.c — round trips, dtype rounding, and a corrupt file for every check the
 * reader makes.
 */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"
#include "testlib.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
}

static float fbits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bitsf(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* ---- building files in memory ------------------------------------------------------------ */

typedef struct {
    unsigned char *p;
    size_t n;
} Bytes;

/* 8-byte length + header text + data_len bytes of data (filled with a pattern). */
static Bytes make_file(const char *header, size_t data_len) {
    size_t hl = strlen(header);
    Bytes b;
    b.n = 8 + hl + data_len;
    b.p = malloc(b.n ? b.n : 1);
    for (int i = 0; i < 8; i++) b.p[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b.p + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b.p[8 + hl + i] = (unsigned char)(i * 7);
    return b;
}

/* Expects opening `header` + data to fail with a message containing `phrase`. */
static void expect_bad(const char *header, size_t data_len, const char *phrase, int line) {
    Bytes b = make_file(header, data_len);
    StFile f;
    Err e = {{0}};
    int rc = st_open_memory(&f, b.p, b.n, "bad.safetensors", &e);
    CHECK(rc != 0, "line %d: header %s should be rejected", line, header);
    if (rc != 0) {
        CHECK(strstr(e.msg, phrase) != NULL, "line %d: message \"%s\" should contain \"%s\"", line,
              e.msg, phrase);
        CHECK(strncmp(e.msg, "bad.safetensors: ", 17) == 0,
              "line %d: message \"%s\" names the file", line, e.msg);
        CHECK(f.entries == NULL && f.bytes == NULL && f.count == 0, "line %d: f is left empty",
              line);
    }
    st_close(&f);
    free(b.p);
}
#define EXPECT_BAD(h, n, phrase) expect_bad(h, n, phrase, __LINE__)

static void expect_good(const char *header, size_t data_len, int want_count, int line) {
    Bytes b = make_file(header, data_len);
    StFile f;
    Err e = {{0}};
    int rc = st_open_memory(&f, b.p, b.n, "good.safetensors", &e);
    CHECK(rc == 0, "line %d: header %s should be accepted: %s", line, header, e.msg);
    if (rc == 0)
        CHECK(f.count == want_count, "line %d: %d tensors, want %d", line, f.count, want_count);
    st_close(&f);
    free(b.p);
}
#define EXPECT_GOOD(h, n, c) expect_good(h, n, c, __LINE__)

/* ---- dtype conversions -------------------------------------------------------------------- */

static void test_conversions(void) {
    /* bf16 */
    CHECK(f32_to_bf16(1.0f) == 0x3F80, "bf16(1) = 0x%04x", f32_to_bf16(1.0f));
    CHECK(f32_to_bf16(-2.0f) == 0xC000, "bf16(-2) = 0x%04x", f32_to_bf16(-2.0f));
    CHECK(f32_to_bf16(0.0f) == 0x0000, "bf16(0)");
    CHECK(f32_to_bf16(-0.0f) == 0x8000, "bf16(-0)");
    /* 1 + 2^-8 is exactly half an ulp above 1: ties to even (0x3F80) */
    CHECK(f32_to_bf16(1.00390625f) == 0x3F80, "bf16(1.00390625) = 0x%04x",
          f32_to_bf16(1.00390625f));
    /* 1 + 3*2^-8 is half-way between 0x3F81 (odd) and 0x3F82: ties to even (0x3F82) */
    CHECK(f32_to_bf16(1.01171875f) == 0x3F82, "bf16(1.01171875) = 0x%04x",
          f32_to_bf16(1.01171875f));
    /* just above the tie rounds up */
    CHECK(f32_to_bf16(fbits(0x3F808001u)) == 0x3F81, "bf16 above tie");
    CHECK(f32_to_bf16(fbits(0x3F807FFFu)) == 0x3F80, "bf16 below tie");
    CHECK(f32_to_bf16(INFINITY) == 0x7F80, "bf16(inf)");
    CHECK(f32_to_bf16(-INFINITY) == 0xFF80, "bf16(-inf)");
    CHECK(f32_to_bf16(fbits(0x7F7FFFFFu)) == 0x7F80, "bf16(FLT_MAX) rounds to inf");
    uint16_t bn = f32_to_bf16(NAN);
    CHECK((bn & 0x7F80) == 0x7F80 && (bn & 0x7F) != 0, "bf16(NaN) = 0x%04x is NaN", bn);
    /* a NaN whose payload lives only in the low 16 bits must not become inf */
    uint16_t bn2 = f32_to_bf16(fbits(0x7F800001u));
    CHECK(isnan(bf16_to_f32(bn2)), "bf16 of low-payload NaN = 0x%04x stays NaN", bn2);
    CHECK(isnan(bf16_to_f32(f32_to_bf16(fbits(0xFF800001u)))), "negative low-payload NaN");
    CHECK(bf16_to_f32(0x3F80) == 1.0f, "bf16 0x3F80 -> 1");
    CHECK(bf16_to_f32(0xC049) == -3.140625f, "bf16 0xC049 -> -3.140625");

    /* f16 */
    CHECK(f32_to_f16(1.0f) == 0x3C00, "f16(1) = 0x%04x", f32_to_f16(1.0f));
    CHECK(f32_to_f16(-2.0f) == 0xC000, "f16(-2) = 0x%04x", f32_to_f16(-2.0f));
    CHECK(f32_to_f16(65504.0f) == 0x7BFF, "f16(65504) = 0x%04x", f32_to_f16(65504.0f));
    CHECK(f32_to_f16(65519.0f) == 0x7BFF, "f16(65519) = 0x%04x", f32_to_f16(65519.0f));
    CHECK(f32_to_f16(65520.0f) == 0x7C00, "f16(65520) overflows to inf: 0x%04x",
          f32_to_f16(65520.0f));
    CHECK(f32_to_f16(1e9f) == 0x7C00, "f16(1e9) = inf");
    CHECK(f32_to_f16(-1e9f) == 0xFC00, "f16(-1e9) = -inf");
    CHECK(f32_to_f16(INFINITY) == 0x7C00, "f16(inf)");
    /* 1 + 2^-11 is a tie: to even (1.0); 1 + 3*2^-11 ties up to 0x3C02 */
    CHECK(f32_to_f16(1.00048828125f) == 0x3C00, "f16 tie to even (down)");
    CHECK(f32_to_f16(1.00146484375f) == 0x3C02, "f16 tie to even (up)");
    /* subnormals */
    CHECK(f32_to_f16(ldexpf(1.0f, -24)) == 0x0001, "f16 smallest subnormal");
    CHECK(f32_to_f16(ldexpf(1.0f, -25)) == 0x0000, "f16 2^-25 ties to 0");
    CHECK(f32_to_f16(ldexpf(1.5f, -25)) == 0x0001, "f16 1.5*2^-25 -> 1");
    CHECK(f32_to_f16(ldexpf(1.5f, -24)) == 0x0002, "f16 1.5*2^-24 ties to 2");
    CHECK(f32_to_f16(ldexpf(2.5f, -24)) == 0x0002, "f16 2.5*2^-24 ties to 2");
    CHECK(f32_to_f16(ldexpf(1.0f, -14)) == 0x0400, "f16 smallest normal");
    CHECK(f32_to_f16(ldexpf(1023.5f, -24)) == 0x0400, "f16 subnormal rounds up into normal");
    CHECK(f32_to_f16(-ldexpf(1.0f, -30)) == 0x8000, "f16 tiny negative -> -0");
    uint16_t hn = f32_to_f16(NAN);
    CHECK((hn & 0x7C00) == 0x7C00 && (hn & 0x3FF) != 0, "f16(NaN) = 0x%04x is NaN", hn);
    CHECK(isnan(f16_to_f32(f32_to_f16(fbits(0x7F800001u)))), "f16 low-payload NaN stays NaN");
    CHECK(f16_to_f32(0x3C00) == 1.0f, "f16 0x3C00 -> 1");
    CHECK(f16_to_f32(0x7BFF) == 65504.0f, "f16 0x7BFF -> 65504");
    CHECK(f16_to_f32(0x0001) == ldexpf(1.0f, -24), "f16 0x0001 -> 2^-24");
    CHECK(f16_to_f32(0x03FF) == ldexpf(1023.0f, -24), "f16 0x03FF");
    CHECK(isinf(f16_to_f32(0xFC00)) && f16_to_f32(0xFC00) < 0, "f16 0xFC00 -> -inf");

    /* exhaustive: every non-NaN half / bfloat16 survives a round trip through float */
    int bad_h = 0, bad_b = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float fh = f16_to_f32((uint16_t)h), fb = bf16_to_f32((uint16_t)h);
        if (isnan(fh) ? !isnan(f16_to_f32(f32_to_f16(fh))) : f32_to_f16(fh) != h) bad_h++;
        if (isnan(fb) ? !isnan(bf16_to_f32(f32_to_bf16(fb))) : f32_to_bf16(fb) != h) bad_b++;
    }
    CHECK(bad_h == 0, "%d f16 values failed the round trip", bad_h);
    CHECK(bad_b == 0, "%d bf16 values failed the round trip", bad_b);

    /* random floats: the result is a nearest representable value, ties to even */
    int bad_near_h = 0, bad_near_b = 0;
    for (int i = 0; i < 200000; i++) {
        float x = fbits(rnd32());
        if (i & 1)
            x = ldexpf(fbits((rnd32() & 0x807FFFFFu) | 0x3F800000u), (int)(rnd32() % 44) - 28);
        if (isnan(x)) continue;
        uint16_t h = f32_to_f16(x);
        double d = fabs((double)f16_to_f32(h) - (double)x);
        if (!isinf(f16_to_f32(h)) || fabs(x) < 65520.0) {
            for (int s = -1; s <= 1; s += 2) {
                uint16_t o = (uint16_t)(h + s);
                if ((o & 0x7FFF) > 0x7C00 || ((o ^ h) & 0x8000)) continue; /* NaN or sign flip */
                double od = fabs((double)f16_to_f32(o) - (double)x);
                if (od < d || (od == d && (o & 1) == 0)) bad_near_h++;
            }
        }
        uint16_t b = f32_to_bf16(x);
        double db = fabs((double)bf16_to_f32(b) - (double)x);
        if (!isinf(bf16_to_f32(b))) {
            for (int s = -1; s <= 1; s += 2) {
                uint16_t o = (uint16_t)(b + s);
                if ((o & 0x7FFF) > 0x7F80 || ((o ^ b) & 0x8000)) continue;
                double od = fabs((double)bf16_to_f32(o) - (double)x);
                if (isinf(bf16_to_f32(o))) continue;
                if (od < db || (od == db && (o & 1) == 0)) bad_near_b++;
            }
        }
    }
    CHECK(bad_near_h == 0, "%d random floats not rounded to the nearest-even f16", bad_near_h);
    CHECK(bad_near_b == 0, "%d random floats not rounded to the nearest-even bf16", bad_near_b);
}

/* ---- round trip --------------------------------------------------------------------------- */

static void test_round_trip(void) {
    char path[128];
    tmp_path(path, sizeof path, "rt.safetensors");
    float a[12], b[6], c[5], s = 3.25f;
    for (int i = 0; i < 12; i++) a[i] = (float)i * 0.1f - 0.37f;
    a[3] = fbits(0x00000001u); /* a denormal survives F32 exactly */
    a[4] = -0.0f;
    b[0] = 1.0f;
    b[1] = 1.00390625f;
    b[2] = 1.01171875f;
    b[3] = NAN;
    b[4] = -3.14159f;
    b[5] = 1e38f;
    c[0] = 65504.0f;
    c[1] = 1.00048828125f;
    c[2] = 1e6f;
    c[3] = ldexpf(1.0f, -24);
    c[4] = -0.333333f;
    int64_t sa[2] = {3, 4}, sb[1] = {6}, sc[3] = {1, 5, 1}, sz[2] = {0, 7};
    StWriteItem items[5] = {
        {"h.0.attn.c_attn.lora_A.weight", a, 2, sa, ST_F32},
        {"bf", b, 1, sb, ST_BF16},
        {"half \"quoted\"\\name", c, 3, sc, ST_F16},
        {"scalar", &s, 0, NULL, ST_F32},
        {"empty", NULL, 2, sz, ST_BF16},
    };
    const char *keys[2] = {"format", "note"};
    const char *vals[2] = {"pt", "line1\nline2 \"q\" \x01"};
    Err e = {{0}};
    int rc = st_write(path, items, 5, keys, vals, 2, &e);
    CHECK(rc == 0, "st_write: %s", e.msg);
    char tmpname[200];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmpname, F_OK) != 0, "temp file %s is gone after commit", tmpname);

    StFile f;
    rc = st_open(&f, path, &e);
    CHECK(rc == 0, "st_open: %s", e.msg);
    if (rc != 0) return;
    CHECK(f.count == 5, "5 tensors, got %d", f.count);
    CHECK(f.meta_count == 2, "2 metadata pairs, got %d", f.meta_count);
    CHECK(st_meta(&f, "format") && strcmp(st_meta(&f, "format"), "pt") == 0, "meta format");
    CHECK(st_meta(&f, "note") && strcmp(st_meta(&f, "note"), vals[1]) == 0,
          "meta note survives escaping");
    CHECK(st_meta(&f, "missing") == NULL, "absent meta key");
    CHECK(st_find(&f, "nope") == NULL, "absent tensor");

    /* layout: 8-byte length, 8-aligned data, items in order */
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | f.bytes[i];
    CHECK(f.data_start == 8 + n, "data_start %zu = 8 + %llu", f.data_start, (unsigned long long)n);
    CHECK((8 + n) % 8 == 0, "(8 + N) %% 8 == 0, N = %llu", (unsigned long long)n);
    CHECK(f.bytes[8] == '{', "header starts with {");
    CHECK(memcmp(f.bytes + 8, "{\"__metadata__\":", 16) == 0, "metadata first");
    CHECK(f.size == 8 + n + 48 + 12 + 10 + 4 + 0, "file size %zu", f.size);
    CHECK(strcmp(f.entries[0].name, items[0].name) == 0 && strcmp(f.entries[4].name, "empty") == 0,
          "entries in write order");
    const StEntry *ea = st_find(&f, items[0].name);
    CHECK(ea && ea->begin == 0 && ea->end == 48 && ea->dtype == ST_F32 && ea->ndim == 2 &&
              ea->shape[0] == 3 && ea->shape[1] == 4 && ea->numel == 12,
          "entry A");
    const StEntry *eb = st_find(&f, "bf");
    CHECK(eb && eb->begin == 48 && eb->end == 60 && eb->dtype == ST_BF16 &&
              strcmp(eb->dtype_name, "BF16") == 0,
          "entry bf");
    const StEntry *es = st_find(&f, "scalar");
    CHECK(es && es->ndim == 0 && es->numel == 1 && es->end - es->begin == 4, "scalar entry");
    const StEntry *ez = st_find(&f, "empty");
    CHECK(ez && ez->numel == 0 && ez->begin == ez->end && ez->ndim == 2 && ez->shape[0] == 0 &&
              ez->shape[1] == 7,
          "empty entry");

    float ga[12], gb[6], gc[5], gs = 0, gz[1] = {42};
    CHECK(st_read_f32(&f, items[0].name, ga, sa, 2, &e) == 0, "read A: %s", e.msg);
    CHECK(memcmp(ga, a, sizeof a) == 0, "F32 values exact (bits)");
    CHECK(st_read_f32(&f, "bf", gb, sb, 1, &e) == 0, "read bf: %s", e.msg);
    CHECK(bitsf(gb[0]) == 0x3F800000u, "bf16 1.0");
    CHECK(gb[1] == 1.0f, "bf16 1.00390625 ties to 1.0, got %.9g", gb[1]);
    CHECK(gb[2] == 1.015625f, "bf16 1.01171875 ties to 1.015625, got %.9g", gb[2]);
    CHECK(isnan(gb[3]), "bf16 NaN stays NaN");
    CHECK(gb[4] == bf16_to_f32(f32_to_bf16(-3.14159f)) && gb[4] == -3.140625f,
          "bf16 -3.14159 -> %.9g", gb[4]);
    CHECK(gb[5] == bf16_to_f32(f32_to_bf16(1e38f)), "bf16 1e38");
    CHECK(st_read_f32(&f, "half \"quoted\"\\name", gc, sc, 3, &e) == 0, "read half: %s", e.msg);
    CHECK(gc[0] == 65504.0f, "f16 65504 exact");
    CHECK(gc[1] == 1.0f, "f16 tie to even");
    CHECK(isinf(gc[2]) && gc[2] > 0, "f16 1e6 -> inf");
    CHECK(gc[3] == ldexpf(1.0f, -24), "f16 subnormal");
    CHECK(gc[4] == f16_to_f32(f32_to_f16(-0.333333f)), "f16 -1/3");
    CHECK_CLOSE(gc[4], -0.333333f, 1e-3, 0, "f16 -1/3 close");
    CHECK(st_read_f32(&f, "scalar", &gs, NULL, 0, &e) == 0 && gs == 3.25f, "scalar: %s", e.msg);
    CHECK(st_read_f32(&f, "empty", gz, sz, 2, &e) == 0 && gz[0] == 42.0f, "empty: %s", e.msg);

    /* st_read_tensor */
    float buf[12] = {0};
    Tensor t = {.data = buf, .ndim = 2, .shape = {3, 4}, .numel = 12};
    snprintf(t.name, sizeof t.name, "%s", items[0].name);
    CHECK(st_read_tensor(&f, &t, &e) == 0 && memcmp(buf, a, sizeof a) == 0, "st_read_tensor: %s",
          e.msg);

    /* shape mismatch names both shapes */
    int64_t wrong[2] = {4, 3};
    rc = st_read_f32(&f, items[0].name, ga, wrong, 2, &e);
    CHECK(rc != 0, "shape mismatch refused");
    CHECK_CONTAINS(e.msg, "tensor 'h.0.attn.c_attn.lora_A.weight' has shape [3, 4] but the model "
                          "expects [4, 3]; the checkpoint was made for a different model shape");
    CHECK_CONTAINS(e.msg, path);
    rc = st_read_f32(&f, "bf", gb, sa, 2, &e);
    CHECK(rc != 0, "ndim mismatch refused");
    CHECK_CONTAINS(e.msg, "has shape [6] but the model expects [3, 4]");
    rc = st_read_f32(&f, "scalar", &gs, sb, 1, &e);
    CHECK(rc != 0, "scalar vs vector refused");
    CHECK_CONTAINS(e.msg, "has shape [] but the model expects [6]");
    rc = st_read_f32(&f, "bg", gb, sb, 1, &e);
    CHECK(rc != 0, "missing tensor refused");
    CHECK_CONTAINS(e.msg, "no tensor named 'bg'");
    CHECK_CONTAINS(e.msg, "did you mean 'bf'");
    st_close(&f);
    CHECK(f.bytes == NULL && f.entries == NULL, "st_close clears");
    st_close(&f); /* twice is harmless */
    unlink(path);

    /* st_write_tensors: F32 */
    float w1[6] = {1, 2, 3, 4, 5, 6}, w2[2] = {-1, 0.5f};
    Tensor ts[2] = {{.data = w1, .ndim = 2, .shape = {2, 3}, .numel = 6},
                    {.data = w2, .ndim = 1, .shape = {2}, .numel = 2}};
    snprintf(ts[0].name, sizeof ts[0].name, "wte.weight");
    snprintf(ts[1].name, sizeof ts[1].name, "ln_f.bias");
    tmp_path(path, sizeof path, "tensors.safetensors");
    CHECK(st_write_tensors(path, ts, 2, NULL, NULL, 0, &e) == 0, "st_write_tensors: %s", e.msg);
    rc = st_open(&f, path, &e);
    CHECK(rc == 0, "open tensors file: %s", e.msg);
    if (rc == 0) {
        CHECK(f.meta_count == 0 && f.count == 2, "2 tensors, no meta");
        CHECK(f.bytes[8] == '{' && f.bytes[9] == '"' && f.bytes[10] == 'w', "no metadata entry");
        CHECK((f.data_start % 8) == 0, "aligned data");
        float r1[6], r2[2];
        int64_t big[2] = {4, 3};
        CHECK(st_read_f32(&f, "wte.weight", r1, ts[0].shape, 2, &e) == 0 &&
                  memcmp(r1, w1, sizeof w1) == 0,
              "wte.weight");
        CHECK(st_read_f32(&f, "ln_f.bias", r2, ts[1].shape, 1, &e) == 0 &&
                  memcmp(r2, w2, sizeof w2) == 0,
              "ln_f.bias");
        CHECK(st_read_f32(&f, "wte.weight", r1, big, 2, &e) != 0, "wte shape mismatch");
        CHECK_CONTAINS(e.msg, "tensor 'wte.weight' has shape [2, 3] but the model expects [4, 3]");
        st_close(&f);
    }
    unlink(path);

    /* an empty file: no tensors at all */
    tmp_path(path, sizeof path, "none.safetensors");
    CHECK(st_write(path, NULL, 0, NULL, NULL, 0, &e) == 0, "write no tensors: %s", e.msg);
    rc = st_open(&f, path, &e);
    CHECK(rc == 0 && f.count == 0 && f.size == 16, "open no tensors: %s", e.msg);
    st_close(&f);
    unlink(path);

    /* writer refuses what the reader would refuse */
    tmp_path(path, sizeof path, "refused.safetensors");
    StWriteItem dup[2] = {{"x", a, 1, sb, ST_F32}, {"x", b, 1, sb, ST_F32}};
    CHECK(st_write(path, dup, 2, NULL, NULL, 0, &e) != 0, "duplicate names refused");
    CHECK_CONTAINS(e.msg, "duplicate");
    StWriteItem i64[1] = {{"x", a, 1, sb, ST_I64}};
    CHECK(st_write(path, i64, 1, NULL, NULL, 0, &e) != 0, "I64 write refused");
    CHECK_CONTAINS(e.msg, "only F32, BF16 and F16");
    int64_t neg[1] = {-1};
    StWriteItem negi[1] = {{"x", a, 1, neg, ST_F32}};
    CHECK(st_write(path, negi, 1, NULL, NULL, 0, &e) != 0, "negative dim refused");
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    StWriteItem longi[1] = {{longname, a, 1, sb, ST_F32}};
    CHECK(st_write(path, longi, 1, NULL, NULL, 0, &e) != 0, "long name refused");
    CHECK(access(path, F_OK) != 0, "nothing written on refusal");
    char tmpn[200];
    snprintf(tmpn, sizeof tmpn, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmpn, F_OK) != 0, "no temp file left on refusal");

    /* writing into a missing directory fails cleanly */
    tmp_path(path, sizeof path, "no/such/dir/x.safetensors");
    StWriteItem one[1] = {{"x", a, 1, sb, ST_F32}};
    CHECK(st_write(path, one, 1, NULL, NULL, 0, &e) != 0, "missing directory refused");
    CHECK_CONTAINS(e.msg, "cannot create");

    /* opening a missing file */
    tmp_path(path, sizeof path, "missing.safetensors");
    rc = st_open(&f, path, &e);
    CHECK(rc != 0 && f.bytes == NULL, "missing file refused");
    CHECK_CONTAINS(e.msg, "missing.safetensors");
    st_close(&f);
}

/* ---- other dtypes -------------------------------------------------------------------------- */

static void test_other_dtypes(void) {
    const char *h = "{\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                    "\"u\":{\"dtype\":\"U16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                    "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[22,24]},"
                    "\"f8b\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[24,25]},"
                    "\"b\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[25,26]},"
                    "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[26,34]},"
                    "\"x\":{\"dtype\":\"U64\",\"shape\":[],\"data_offsets\":[34,42]},"
                    "\"y\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[42,46]},"
                    "\"z\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[46,47]},"
                    "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[47,48]},"
                    "\"v\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[48,50]},"
                    "\"t\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[50,54]}}";
    Bytes b = make_file(h, 54);
    StFile f;
    Err e = {{0}};
    int rc = st_open_memory(&f, b.p, b.n, "other.safetensors", &e);
    CHECK(rc == 0, "file of other dtypes opens: %s", e.msg);
    if (rc == 0) {
        CHECK(f.count == 12, "12 entries");
        const StEntry *u = st_find(&f, "u");
        CHECK(u && u->dtype == ST_OTHER && strcmp(u->dtype_name, "U16") == 0, "U16 is ST_OTHER");
        const StEntry *f8 = st_find(&f, "f8");
        CHECK(f8 && f8->dtype == ST_OTHER && strcmp(f8->dtype_name, "F8_E4M3") == 0, "F8");
        CHECK(st_find(&f, "i")->dtype == ST_I64 && st_find(&f, "b")->dtype == ST_BOOL &&
                  st_find(&f, "d")->dtype == ST_F64 && st_find(&f, "z")->dtype == ST_I8 &&
                  st_find(&f, "w")->dtype == ST_U8 && st_find(&f, "v")->dtype == ST_I16 &&
                  st_find(&f, "t")->dtype == ST_I32,
              "dtype enums");
        float out[4];
        int64_t s2[1] = {2};
        rc = st_read_f32(&f, "i", out, s2, 1, &e);
        CHECK(rc != 0, "I64 read as float refused");
        CHECK_CONTAINS(e.msg, "dtype I64");
        CHECK_CONTAINS(e.msg, "only F32, BF16 and F16");
        st_close(&f);
    }
    free(b.p);
    EXPECT_BAD("{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1,
               "not supported");
    EXPECT_BAD("{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}", 3,
               "not supported");
}

/* ---- corrupt files ------------------------------------------------------------------------ */

#define T1(rest) "{\"a\":{" rest "}}"

static void test_corrupt(void) {
    Err e = {{0}};
    StFile f;
    /* shorter than 8 bytes */
    unsigned char tiny[5] = {1, 2, 3, 4, 5};
    CHECK(st_open_memory(&f, tiny, 5, "tiny.safetensors", &e) != 0, "5-byte file refused");
    CHECK_CONTAINS(e.msg, "tiny.safetensors: byte 0:");
    CHECK_CONTAINS(e.msg, "shorter than the 8-byte header length");
    CHECK(st_open_memory(&f, NULL, 0, "zero.safetensors", &e) != 0, "empty file refused");

    /* header length beyond the file */
    unsigned char hl[16] = {0x7f, 0x96, 0x98, 0x00, 0, 0, 0, 0, '{', '}'};
    CHECK(st_open_memory(&f, hl, sizeof hl, "model.safetensors", &e) != 0, "long header refused");
    CHECK_CONTAINS(e.msg, "model.safetensors: byte 0: header length 9999999 exceeds the file size "
                          "16 - 8; the file is truncated or not a safetensors file");
    unsigned char huge[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK(st_open_memory(&f, huge, 8, "huge", &e) != 0, "2^64-1 header length refused");
    CHECK_CONTAINS(e.msg, "exceeds the file size");

    /* header length over the 100 MB cap (file really that big) */
    size_t big = 100000001 + 8;
    unsigned char *bp = calloc(big, 1);
    uint64_t bn = 100000001;
    for (int i = 0; i < 8; i++) bp[i] = (unsigned char)(bn >> (8 * i));
    bp[8] = '{';
    CHECK(st_open_memory(&f, bp, big, "big", &e) != 0, "100 MB header refused");
    CHECK_CONTAINS(e.msg, "exceeds the limit");
    free(bp);

    /* header syntax */
    EXPECT_BAD("", 0, "byte 8: the header is empty");
    EXPECT_BAD("[1, 2]", 0, "byte 8: the header starts with byte 0x5b, not '{'");
    EXPECT_BAD(" {}", 0, "not '{'");
    EXPECT_BAD("{\"a\":", 0, "not valid JSON");
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4,
               "not valid JSON");
    EXPECT_BAD("{\"a\" 1}", 0, "byte ");
    EXPECT_BAD("{}x", 0, "byte 10: unexpected byte 0x78 after the header's JSON object");
    EXPECT_GOOD("{}", 0, 0);
    EXPECT_GOOD("{}      ", 0, 0);
    EXPECT_GOOD("{\"__metadata__\":{\"k\":\"v\"}}  ", 0, 0);

    /* entries */
    EXPECT_BAD("{\"a\":1}", 0, "tensor 'a': the entry is not a JSON object");
    EXPECT_BAD("{\"a\":[1]}", 0, "not a JSON object");
    EXPECT_BAD(T1("\"shape\":[1],\"data_offsets\":[0,4]"), 4, "tensor 'a': missing \"dtype\"");
    EXPECT_BAD(T1("\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]"), 4,
               "\"dtype\" is not a string");
    EXPECT_BAD(T1("\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]"), 4,
               "unknown dtype 'F33'");
    EXPECT_BAD(T1("\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]"), 4, "unknown dtype");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4, "missing \"shape\"");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]"), 4,
               "\"shape\" is not an array");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]"), 4,
               "shape dimension 0 is negative");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]"), 4,
               "is not an integer");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]"), 4,
               "is not a number");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1, null],\"data_offsets\":[0,4]"), 4,
               "shape dimension 1 is not a number");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]"), 4, "too large");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]"), 4,
               "overflows");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]"), 4,
               "too large");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[2147483648,2147483648,2],\"data_offsets\":[0,4]"),
               4, "more than 2^64 bytes");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"), 4,
               "9 dimensions but at most 8");
    EXPECT_GOOD(T1("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"), 4, 1);
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1]"), 4, "missing \"data_offsets\"");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]"), 4,
               "not an array of two integers");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]"), 8,
               "not an array of two integers");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":0}"), 4,
               "not an array of two integers");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]"), 4,
               "data_offsets begin is negative");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]"), 4,
               "data_offsets end is not an integer");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]"), 4,
               "data_offsets end is not a number");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]"), 4,
               "has begin after end");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"), 4,
               "data_offsets [0, 8] reach beyond the data section (4 bytes)");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]"), 4,
               "too large");
    EXPECT_BAD("{\"h.0.attn.c_attn.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[4,8],"
               "\"data_offsets\":[0,100]}}",
               100,
               "bad.safetensors: tensor 'h.0.attn.c_attn.lora_A.weight': data_offsets [0, 100] "
               "hold 100 bytes but dtype F32 shape [4, 8] needs 128; the file is corrupt");
    EXPECT_BAD(T1("\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,4]"), 4,
               "hold 4 bytes but dtype BF16 shape [3] needs 6");

    /* layout: overlap, holes, trailing bytes */
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "overlap");
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, "overlap");
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
               16, "overlap");
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
               20, "data section bytes [8, 12) after tensor 'a' belong to no tensor (a hole");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]"), 8,
               "at the start of the data section");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"), 8,
               "after the last tensor 'a' belong to no tensor");
    EXPECT_BAD("{}", 4, "no tensors but 4 bytes");
    EXPECT_BAD("{\"__metadata__\":{}}", 1, "belong to no tensor");
    /* zero-sized tensors anywhere on the boundaries are fine, in any header order */
    EXPECT_GOOD("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
                "\"y\":{\"dtype\":\"F16\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]}}",
                16, 5);
    EXPECT_GOOD(T1("\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296],"
                   "\"data_offsets\":[0,0]"),
                0, 1);

    /* duplicates */
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, "tensor 'a' appears more than once in the header (duplicate name)");
    EXPECT_BAD("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate");
    EXPECT_BAD("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate key 'k'");

    /* names */
    char hdr[512];
    char nm[TENSOR_NAME_MAX + 1];
    memset(nm, 'x', TENSOR_NAME_MAX);
    nm[TENSOR_NAME_MAX] = '\0';
    snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             nm);
    EXPECT_BAD(hdr, 4, "at most 95 are supported");
    nm[TENSOR_NAME_MAX - 1] = '\0'; /* exactly 95: fine */
    snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             nm);
    EXPECT_GOOD(hdr, 4, 1);

    /* escaped NUL would silently shorten a name; an escaped backslash before u0000 is fine */
    EXPECT_BAD("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "byte 11: the header contains an escaped NUL");
    EXPECT_BAD("{\"__metadata__\":{\"k\":\"v\\u0000w\"}}", 0, "escaped NUL");
    EXPECT_GOOD("{\"a\\\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 1);
    EXPECT_GOOD("{\"\\u00e9\\ud83d\\ude00\":{\"dtype\":\"F32\",\"shape\":[1],"
                "\"data_offsets\":[0,4]}}",
                4, 1);
    /* fields: unknown ones are ignored, repeated ones refused */
    EXPECT_GOOD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":[1]"), 4, 1);
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"dtype\":\"I32\""), 4,
               "\"dtype\" appears 2 times in the entry (duplicate field)");
    EXPECT_BAD(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"shape\":[1]"), 4,
               "duplicate field");

    /* metadata */
    EXPECT_BAD("{\"__metadata__\":[]}", 0, "\"__metadata__\" is not a JSON object");
    EXPECT_BAD("{\"__metadata__\":\"x\"}", 0, "not a JSON object");
    EXPECT_BAD("{\"__metadata__\":{\"k\":1}}", 0, "key 'k' has a value that is not a string");
    EXPECT_BAD("{\"__metadata__\":{\"k\":{}}}", 0, "not a string");

    /* top level */
    EXPECT_BAD("{\"a\":{\"dtype\":\"F32\"", 0, "not valid JSON");
}

/* ---- truncation and byte flips ------------------------------------------------------------ */

static Bytes small_valid_file(void) {
    char path[128];
    tmp_path(path, sizeof path, "small.safetensors");
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t s23[2] = {2, 3}, s2[1] = {2}, s0[1] = {0};
    StWriteItem items[4] = {{"w", v, 2, s23, ST_F32},
                            {"b", v, 1, s2, ST_BF16},
                            {"h", v, 1, s2, ST_F16},
                            {"e", NULL, 1, s0, ST_F32}};
    const char *k[1] = {"format"}, *val[1] = {"pt"};
    Err e = {{0}};
    Bytes b = {NULL, 0};
    if (st_write(path, items, 4, k, val, 1, &e) != 0) {
        CHECK(0, "write small file: %s", e.msg);
        return b;
    }
    size_t len = 0;
    char *buf = file_read_all(path, &len, &e);
    unlink(path);
    CHECK(buf != NULL, "read small file back: %s", e.msg);
    b.p = (unsigned char *)buf;
    b.n = len;
    return b;
}

static void test_truncation_and_flips(void) {
    Bytes b = small_valid_file();
    if (!b.p) return;
    Err e = {{0}};
    StFile f;
    CHECK(st_open_memory(&f, b.p, b.n, "small", &e) == 0, "small file valid: %s", e.msg);
    st_close(&f);

    /* every truncation fails with a message */
    int trunc_ok = 0, trunc_msg = 0;
    for (size_t len = 0; len < b.n; len++) {
        e.msg[0] = '\0';
        if (st_open_memory(&f, b.p, len, "small", &e) != 0) trunc_ok++;
        if (strncmp(e.msg, "small: ", 7) == 0) trunc_msg++;
        st_close(&f);
    }
    CHECK(trunc_ok == (int)b.n, "%d of %zu truncations refused", trunc_ok, b.n);
    CHECK(trunc_msg == (int)b.n, "%d of %zu truncations explained", trunc_msg, b.n);
    /* an extra byte at the end is refused too */
    unsigned char *longer = malloc(b.n + 1);
    memcpy(longer, b.p, b.n);
    longer[b.n] = 0;
    CHECK(st_open_memory(&f, longer, b.n + 1, "small", &e) != 0, "trailing byte refused");
    CHECK_CONTAINS(e.msg, "belong to no tensor");
    free(longer);

    /* flip every byte of the length field and header to a few other values: fail with a
     * message or succeed, and never crash (run under ASan) */
    size_t hdr_end = 8;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b.p[i];
    hdr_end += (size_t)n;
    const unsigned char vals[] = {0x00, 0xff, '"', '{', '}',  '[', ']', ',',  ':',
                                  '0',  '9',  '-', ' ', '\\', 'e', 'x', 0x80, 0x01};
    unsigned char *m = malloc(b.n);
    int runs = 0, failed = 0, unexplained = 0, succeeded = 0;
    for (size_t i = 0; i < hdr_end; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            if (vals[v] == b.p[i]) continue;
            memcpy(m, b.p, b.n);
            m[i] = vals[v];
            e.msg[0] = '\0';
            runs++;
            if (st_open_memory(&f, m, b.n, "flip", &e) != 0) {
                failed++;
                if (strncmp(e.msg, "flip: ", 6) != 0) unexplained++;
            } else {
                succeeded++;
                /* whatever was accepted must be readable within bounds */
                for (int t = 0; t < f.count; t++) {
                    const StEntry *en = &f.entries[t];
                    if (en->end > f.size - f.data_start) unexplained++;
                    if (en->dtype == ST_F32 || en->dtype == ST_BF16 || en->dtype == ST_F16) {
                        float *dst = malloc((size_t)en->numel * sizeof(float) + 4);
                        if (st_read_f32(&f, en->name, dst, en->shape, en->ndim, &e) != 0)
                            unexplained++;
                        free(dst);
                    }
                }
            }
            st_close(&f);
        }
    }
    CHECK(runs > 1000 && failed > 0, "%d flips, %d refused", runs, failed);
    CHECK(unexplained == 0, "%d flips gave no message or bad entries", unexplained);
    CHECK(succeeded > 0, "some flips (e.g. in names) still give a valid file: %d", succeeded);

    /* random multi-byte garbage in the header, same rules */
    int garbage_bad = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(m, b.p, b.n);
        int k = 1 + (int)(rnd32() % 4);
        for (int j = 0; j < k; j++) m[8 + rnd32() % (uint32_t)n] = (unsigned char)rnd32();
        e.msg[0] = '\0';
        if (st_open_memory(&f, m, b.n, "garbage", &e) != 0 && strncmp(e.msg, "garbage: ", 9) != 0)
            garbage_bad++;
        st_close(&f);
    }
    CHECK(garbage_bad == 0, "%d garbage headers gave no message", garbage_bad);
    free(m);
    free(b.p);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/imprint-st-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_conversions();
    test_round_trip();
    test_other_dtypes();
    test_corrupt();
    test_truncation_and_flips();
    CHECK(rmdir(g_dir) == 0, "temp directory %s is empty at the end", g_dir);
    return tl_finish("test_safetensors");
}
