/*
 * weights_llmc.c — llm.c GPT-2 checkpoints (.bin): version 3 (fp32) and 5 (bf16) are read,
 * version 3 is written. Linear weights are stored [out, in] in the file and [in, out] (Conv1D)
 * in the model, so they are transposed on the way in and out. See weights.h.
 */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "io_util.h"
#include "safetensors.h"
#include "weights_private.h"

#define LLMC_MAGIC        20240326
#define LLMC_HEADER_INTS  256
#define LLMC_HEADER_BYTES 1024
#define LLMC_VOCAB_PAD    128

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* A file of a Hugging Face directory given where the directory was meant. */
static int hf_file(const char *path) {
    return ends_with(path, ".json") || ends_with(path, ".safetensors");
}

/* ---- header ------------------------------------------------------------------------------ */

typedef struct LlmcHeader {
    int version; /* 3: fp32, 5: bf16 */
    int dsize;   /* bytes per value */
    int maxT, V, L, NH, C, Vp;
    uint64_t count; /* parameters in the file */
} LlmcHeader;

/* Parameters of an llm.c file of this shape, or -1 on overflow. */
static int llmc_count(const LlmcHeader *h, uint64_t *out) {
    const uint64_t C = (uint64_t)h->C, L = (uint64_t)h->L;
    uint64_t a, b, c, d, per_layer, total;
    /* per layer: 12 C^2 + 13 C; plus Vp C + maxT C + 2 C */
    if (__builtin_mul_overflow(C, C, &a) || __builtin_mul_overflow(a, (uint64_t)12, &a) ||
        __builtin_add_overflow(a, 13 * C, &per_layer) || __builtin_mul_overflow(per_layer, L, &b) ||
        __builtin_mul_overflow((uint64_t)h->Vp, C, &c) ||
        __builtin_mul_overflow((uint64_t)h->maxT, C, &d) || __builtin_add_overflow(b, c, &total) ||
        __builtin_add_overflow(total, d, &total) || __builtin_add_overflow(total, 2 * C, &total))
        return -1;
    *out = total;
    return 0;
}

/* Opens an llm.c checkpoint and checks its header and size; on success *fpp is positioned at
 * the first parameter (or closed if fpp is NULL). */
static int llmc_open(const char *path, LlmcHeader *h, FILE **fpp, Err *e) {
    memset(h, 0, sizeof *h);
    if (fpp) *fpp = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return err_set(e, "%s: cannot open: %s; check the path", path, strerror(errno));
    int rc = 0;
    off_t size = -1;
    if (fseeko(fp, 0, SEEK_END) != 0 || (size = ftello(fp)) < 0 || fseeko(fp, 0, SEEK_SET) != 0) {
        rc = err_set(e, "%s: cannot determine the file size: %s", path, strerror(errno));
        goto done;
    }
    if (size < LLMC_HEADER_BYTES) {
        const char *hint = hf_file(path) ? "; for a Hugging Face model pass the directory that "
                                           "holds config.json and model.safetensors"
                                         : "";
        rc = err_set(e,
                     "%s: the file is %lld bytes, shorter than the %d-byte llm.c header; it is "
                     "truncated or not an llm.c GPT-2 checkpoint%s",
                     path, (long long)size, LLMC_HEADER_BYTES, hint);
        goto done;
    }
    unsigned char raw[LLMC_HEADER_BYTES];
    if (fread(raw, 1, sizeof raw, fp) != sizeof raw) {
        rc = err_set(e, "%s: cannot read the header: %s", path, strerror(errno));
        goto done;
    }
    int32_t hd[LLMC_HEADER_INTS];
    for (int i = 0; i < LLMC_HEADER_INTS; i++) hd[i] = (int32_t)io_load_u32le(raw + 4 * i);
    if (hd[0] != LLMC_MAGIC) {
        const char *hint = hf_file(path) ? " (for a Hugging Face model pass the directory that "
                                           "holds config.json and model.safetensors)"
                                         : "";
        rc = err_set(e,
                     "%s: byte 0: bad magic %d, expected %d; this is not an llm.c GPT-2 "
                     "checkpoint%s",
                     path, hd[0], LLMC_MAGIC, hint);
        goto done;
    }
    if (hd[1] != 3 && hd[1] != 5) {
        rc = err_set(e,
                     "%s: byte 4: version %d is not supported; expected 3 (fp32) or 5 (bf16) "
                     "GPT-2 weights from llm.c's train_gpt2",
                     path, hd[1]);
        goto done;
    }
    h->version = hd[1];
    h->dsize = hd[1] == 3 ? 4 : 2;
    static const char *const what[] = {"max sequence length", "vocabulary size",
                                       "layer count",         "head count",
                                       "channel count",       "padded vocabulary size"};
    for (int i = 2; i <= 7; i++)
        if (hd[i] < 1) {
            rc = err_set(e,
                         "%s: byte %d: the %s (header[%d]) is %d but must be positive; the file "
                         "is corrupt",
                         path, 4 * i, what[i - 2], i, hd[i]);
            goto done;
        }
    h->maxT = hd[2];
    h->V = hd[3];
    h->L = hd[4];
    h->NH = hd[5];
    h->C = hd[6];
    h->Vp = hd[7];
    if (h->Vp < h->V) {
        rc = err_set(e,
                     "%s: byte 28: the padded vocabulary size %d is smaller than the vocabulary "
                     "size %d; the file is corrupt",
                     path, h->Vp, h->V);
        goto done;
    }
    GPT2Config cfg = {h->L, h->NH, h->C, h->V, h->maxT, 1e-5f};
    if (weights_config_check(&cfg, path, "the header is corrupt or not from llm.c", e) != 0) {
        rc = -1;
        goto done;
    }
    if (llmc_count(h, &h->count) != 0 ||
        h->count > (UINT64_MAX - LLMC_HEADER_BYTES) / (uint64_t)h->dsize) {
        rc = err_set(e,
                     "%s: the header describes a model too large to address; the file is "
                     "corrupt",
                     path);
        goto done;
    }
    uint64_t expect = LLMC_HEADER_BYTES + h->count * (uint64_t)h->dsize;
    if ((uint64_t)size != expect) {
        rc = err_set(e,
                     "%s: the header describes %llu %s parameters, so the file should be %llu "
                     "bytes, but it is %lld bytes (%s); the file is %s",
                     path, (unsigned long long)h->count, h->version == 3 ? "fp32" : "bf16",
                     (unsigned long long)expect, (long long)size,
                     (uint64_t)size < expect ? "too short" : "extra bytes at the end",
                     (uint64_t)size < expect ? "truncated" : "corrupt or not an llm.c checkpoint");
        goto done;
    }
done:
    if (rc == 0 && fpp)
        *fpp = fp;
    else
        fclose(fp);
    return rc;
}

int weights_probe_llmc(const char *path, GPT2Config *cfg, Err *e) {
    LlmcHeader h;
    if (llmc_open(path, &h, NULL, e) != 0) return -1;
    cfg->n_layer = h.L;
    cfg->n_head = h.NH;
    cfg->n_embd = h.C;
    cfg->vocab = h.V;
    cfg->n_ctx = h.maxT;
    cfg->ln_eps = 1e-5f;
    return 0;
}

/* ---- parameters -------------------------------------------------------------------------- */

/* The per-layer tensors in llm.c's file order (the same as GPT2Layer's field order); the four
 * matrices are stored [out, in] in the file and [in, out] in the model. */
static const struct {
    size_t offset;
    int transposed;
} LLMC_LAYER_FIELDS[] = {
    {offsetof(GPT2Layer, ln1_w), 0},  {offsetof(GPT2Layer, ln1_b), 0},
    {offsetof(GPT2Layer, attn_w), 1}, {offsetof(GPT2Layer, attn_b), 0},
    {offsetof(GPT2Layer, proj_w), 1}, {offsetof(GPT2Layer, proj_b), 0},
    {offsetof(GPT2Layer, ln2_w), 0},  {offsetof(GPT2Layer, ln2_b), 0},
    {offsetof(GPT2Layer, fc_w), 1},   {offsetof(GPT2Layer, fc_b), 0},
    {offsetof(GPT2Layer, fc2_w), 1},  {offsetof(GPT2Layer, fc2_b), 0},
};
#define LLMC_N_LAYER_FIELDS ((int)(sizeof LLMC_LAYER_FIELDS / sizeof LLMC_LAYER_FIELDS[0]))

static Tensor *layer_field(const GPT2 *m, int l, int field) {
    const char *base = (const char *)&m->params.layers[l];
    Tensor *t;
    memcpy(&t, base + LLMC_LAYER_FIELDS[field].offset, sizeof t);
    return t;
}

typedef struct BinIO {
    FILE *fp;
    const char *path;
    int dsize;
    uint64_t offset; /* bytes from the start of the file */
    unsigned char buf[1 << 16];
} BinIO;

static int bin_read(BinIO *r, float *dst, size_t n, Err *e) {
    const size_t per = sizeof r->buf / (size_t)r->dsize;
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        size_t bytes = k * (size_t)r->dsize;
        if (fread(r->buf, 1, bytes, r->fp) != bytes)
            return err_set(e,
                           "%s: byte %llu: unexpected end of file or read error; the file is "
                           "truncated or was changed while reading",
                           r->path, (unsigned long long)r->offset);
        if (r->dsize == 4)
            for (size_t j = 0; j < k; j++) dst[i + j] = io_bits_f32(io_load_u32le(r->buf + 4 * j));
        else
            for (size_t j = 0; j < k; j++)
                dst[i + j] = bf16_to_f32((uint16_t)(r->buf[2 * j] | (r->buf[2 * j + 1] << 8)));
        r->offset += bytes;
    }
    return 0;
}

static int bin_skip(BinIO *r, uint64_t n, Err *e) {
    uint64_t bytes = n * (uint64_t)r->dsize;
    if (fseeko(r->fp, (off_t)(r->offset + bytes), SEEK_SET) != 0)
        return err_set(e, "%s: byte %llu: cannot seek: %s", r->path, (unsigned long long)r->offset,
                       strerror(errno));
    r->offset += bytes;
    return 0;
}

static int bin_write(BinIO *w, const float *src, size_t n, Err *e) {
    const size_t per = sizeof w->buf / 4;
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        for (size_t j = 0; j < k; j++)
            io_store_u32le(w->buf + 4 * j, src ? io_f32_bits(src[i + j]) : 0);
        if (fwrite(w->buf, 1, 4 * k, w->fp) != 4 * k)
            return err_set(e, "%s: write failed: %s; check free disk space", w->path,
                           strerror(errno));
        w->offset += 4 * k;
    }
    return 0;
}

int weights_load_llmc(GPT2 *m, const char *path, Err *e) {
    LlmcHeader h;
    FILE *fp = NULL;
    if (llmc_open(path, &h, &fp, e) != 0) return -1;
    BinIO *r = xmalloc(sizeof *r, "checkpoint read buffer");
    r->fp = fp;
    r->path = path;
    r->dsize = h.dsize;
    r->offset = LLMC_HEADER_BYTES;
    const size_t C = (size_t)h.C;
    float *scratch = xmalloc(sizeof(float) * 4 * C * C, "transpose buffer");
    GPT2Params *p = &m->params;
    int rc = bin_read(r, p->wte->data, (size_t)h.V * C, e);
    if (rc == 0) rc = bin_skip(r, (uint64_t)(h.Vp - h.V) * C, e);
    if (rc == 0) rc = bin_read(r, p->wpe->data, (size_t)h.maxT * C, e);
    for (int f = 0; f < LLMC_N_LAYER_FIELDS && rc == 0; f++)
        for (int l = 0; l < h.L && rc == 0; l++) {
            Tensor *t = layer_field(m, l, f);
            if (!LLMC_LAYER_FIELDS[f].transposed) {
                rc = bin_read(r, t->data, t->numel, e);
                continue;
            }
            const size_t in = (size_t)t->shape[0], out = (size_t)t->shape[1];
            rc = bin_read(r, scratch, in * out, e); /* [out, in] */
            for (size_t o = 0; rc == 0 && o < out; o++)
                for (size_t i = 0; i < in; i++) t->data[i * out + o] = scratch[o * in + i];
        }
    if (rc == 0) rc = bin_read(r, p->lnf_w->data, C, e);
    if (rc == 0) rc = bin_read(r, p->lnf_b->data, C, e);
    xfree(scratch);
    xfree(r);
    fclose(fp);
    return rc;
}
int weights_save_llmc(const GPT2 *m, const char *path, Err *e) {
    const GPT2Config *c = &m->cfg;
    const size_t C = (size_t)c->n_embd;
    const int Vp = (c->vocab + LLMC_VOCAB_PAD - 1) / LLMC_VOCAB_PAD * LLMC_VOCAB_PAD;
    unsigned char hdr[LLMC_HEADER_BYTES];
    memset(hdr, 0, sizeof hdr);
    const int32_t vals[8] = {LLMC_MAGIC, 3,         c->n_ctx,  c->vocab,
                             c->n_layer, c->n_head, c->n_embd, Vp};
    for (int i = 0; i < 8; i++) io_store_u32le(hdr + 4 * i, (uint32_t)vals[i]);
    AtomicFile af;
    if (atomic_open(&af, path, e) != 0) return -1;
    BinIO *w = xmalloc(sizeof *w, "checkpoint write buffer");
    w->fp = af.fp;
    w->path = path;
    w->dsize = 4;
    float *scratch = xmalloc(sizeof(float) * 4 * C * C, "transpose buffer");
    const GPT2Params *p = &m->params;
    int rc = 0;
    if (fwrite(hdr, 1, sizeof hdr, af.fp) != sizeof hdr)
        rc = err_set(e, "%s: write failed: %s; check free disk space", path, strerror(errno));
    w->offset = LLMC_HEADER_BYTES;
    if (rc == 0) rc = bin_write(w, p->wte->data, (size_t)c->vocab * C, e);
    if (rc == 0) rc = bin_write(w, NULL, (size_t)(Vp - c->vocab) * C, e); /* padding rows */
    if (rc == 0) rc = bin_write(w, p->wpe->data, (size_t)c->n_ctx * C, e);
    for (int f = 0; f < LLMC_N_LAYER_FIELDS && rc == 0; f++)
        for (int l = 0; l < c->n_layer && rc == 0; l++) {
            const Tensor *t = layer_field(m, l, f);
            if (!LLMC_LAYER_FIELDS[f].transposed) {
                rc = bin_write(w, t->data, t->numel, e);
                continue;
            }
            const size_t in = (size_t)t->shape[0], out = (size_t)t->shape[1];
            for (size_t o = 0; o < out; o++)
                for (size_t i = 0; i < in; i++) scratch[o * in + i] = t->data[i * out + o];
            rc = bin_write(w, scratch, in * out, e);
        }
    if (rc == 0) rc = bin_write(w, p->lnf_w->data, C, e);
    if (rc == 0) rc = bin_write(w, p->lnf_b->data, C, e);
    xfree(scratch);
    xfree(w);
    if (rc != 0) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, e);
}
