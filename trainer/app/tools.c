/*
 * tools.c — the small verbs around training: train a tokenizer, tokenize text into token
 * shards, export a model, and greedy generation.
 *
 *   imprint tokenizer-train --vocab N --out DIR FILE...
 *   imprint tokenize --tokenizer DIR IN.txt OUT.bin
 *   imprint export MODEL OUTDIR [--bf16] [--tokenizer DIR]
 *   imprint generate MODEL [--tokenizer DIR] [--tokens N] PROMPT...
 *
 * Each returns 0, or -1 with e filled; main() prints.
 */
#define _POSIX_C_SOURCE 200809L
#include "tools.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "data.h"
#include "model.h"
#include "tokenizer.h"
#include "weights.h"

/* ---- small option parser ------------------------------------------------------------------- */

typedef struct Opts {
    const char *pos[64]; /* positional arguments */
    int n_pos;
    const char *vocab, *out, *tokenizer, *tokens;
    int bf16;
} Opts;

static int parse_opts(Opts *o, int argc, char **argv, const char *verb, const char *const *allowed,
                      Err *e) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-') {
            if (o->n_pos == 64) return err_set(e, "%s: too many arguments", verb);
            o->pos[o->n_pos++] = a;
            continue;
        }
        int ok = 0;
        for (int k = 0; allowed[k]; k++) ok |= !strcmp(a + 2, allowed[k]);
        if (!ok) return err_set(e, "%s: unknown option '%s'; see imprint --help", verb, a);
        if (!strcmp(a, "--bf16")) {
            o->bf16 = 1;
            continue;
        }
        if (i + 1 >= argc) return err_set(e, "%s: option %s needs a value", verb, a);
        const char *v = argv[++i];
        if (!strcmp(a, "--vocab"))
            o->vocab = v;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--tokenizer"))
            o->tokenizer = v;
        else if (!strcmp(a, "--tokens"))
            o->tokens = v;
    }
    return 0;
}

static int parse_int(const char *s, const char *what, int lo, int hi, int *out, Err *e) {
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || v < lo || v > hi)
        return err_set(e, "%s must be an integer in [%d, %d], got '%s'", what, lo, hi,
                       s ? s : "(nothing)");
    *out = (int)v;
    return 0;
}

/* ---- tokenizer-train --------------------------------------------------------------------------
 */

int tool_tokenizer_train(int argc, char **argv, Err *e) {
    static const char *const allowed[] = {"vocab", "out", NULL};
    Opts o;
    int vocab = 0;
    if (parse_opts(&o, argc, argv, "tokenizer-train", allowed, e) != 0) return -1;
    if (!o.out || o.n_pos == 0)
        return err_set(e, "usage: imprint tokenizer-train --vocab N --out DIR FILE...");
    if (parse_int(o.vocab, "--vocab", 258, 65536, &vocab, e) != 0) return -1;
    /* concatenate the corpus files */
    size_t total = 0;
    char *text = NULL;
    for (int i = 0; i < o.n_pos; i++) {
        size_t n = 0;
        char *part = file_read_all(o.pos[i], &n, e);
        if (!part) {
            free(text);
            return -1;
        }
        char *grown = realloc(text, total + n + 1);
        if (!grown) fatal("out of memory reading %s", o.pos[i]);
        text = grown;
        memcpy(text + total, part, n);
        total += n;
        text[total] = '\0';
        free(part);
    }
    Tokenizer *t = NULL;
    double t0 = now_seconds();
    int rc = tok_train(&t, text, total, vocab, e);
    free(text);
    if (rc != 0) return -1;
    rc = tok_save_dir(t, o.out, e);
    if (rc == 0)
        printf("tokenizer-train: %d tokens (%d merges) from %.1f MB in %.1f s -> %s/vocab.json, "
               "merges.txt\n",
               tok_vocab_size(t), tok_num_merges(t), total / 1e6, now_seconds() - t0, o.out);
    tok_free(t);
    return rc;
}

/* ---- tokenize
 * ------------------------------------------------------------------------------------ */

int text_next_document(const char *text, size_t n, size_t *start, size_t *end) {
    size_t s = *start;
    if (s > 0) /* the blank lines between documents; the text's own first byte starts one */
        while (s < n && text[s] == '\n') s++;
    if (s >= n) return 0;
    size_t x = s;
    while (x < n && !(text[x] == '\n' && x + 1 < n && text[x + 1] == '\n')) x++;
    if (x < n) x++; /* keep the document's own last newline */
    *start = s;
    *end = x;
    return 1;
}

int tool_tokenize(int argc, char **argv, Err *e) {
    static const char *const allowed[] = {"tokenizer", NULL};
    Opts o;
    if (parse_opts(&o, argc, argv, "tokenize", allowed, e) != 0) return -1;
    if (!o.tokenizer || o.n_pos != 2)
        return err_set(e, "usage: imprint tokenize --tokenizer DIR IN.txt OUT.bin");
    Tokenizer *t = NULL;
    if (tok_load_dir(&t, o.tokenizer, e) != 0) return -1;
    if (tok_vocab_size(t) > 65536) {
        tok_free(t);
        return err_set(e, "%s: %d tokens do not fit llm.c's uint16 token shards", o.tokenizer,
                       tok_vocab_size(t));
    }
    size_t n = 0;
    char *text = file_read_all(o.pos[0], &n, e);
    if (!text) {
        tok_free(t);
        return -1;
    }
    /* documents are separated by blank lines; each is encoded alone and followed by the
     * end-of-text token, so no merge crosses a document boundary */
    const int eot = tok_eot(t);
    size_t cap = n / 2 + 1024, count = 0, docs = 0;
    uint16_t *ids = xmalloc(sizeof(uint16_t) * cap, "token ids");
    size_t start = 0, end = 0;
    int rc = 0;
    while (rc == 0 && text_next_document(text, n, &start, &end)) {
        int32_t *doc = NULL;
        size_t m = 0;
        rc = tok_encode(t, text + start, end - start, &doc, &m, e);
        if (rc == 0 && m > 0) {
            if (count + m + 1 > cap) {
                cap = 2 * (count + m + 1);
                uint16_t *grown = realloc(ids, sizeof(uint16_t) * cap);
                if (!grown) fatal("out of memory tokenizing %s", o.pos[0]);
                ids = grown;
            }
            for (size_t i = 0; i < m; i++) ids[count++] = (uint16_t)doc[i];
            if (eot >= 0) ids[count++] = (uint16_t)eot;
            docs++;
        }
        free(doc);
        start = end;
    }
    if (rc == 0) rc = data_write_llmc(o.pos[1], ids, (int64_t)count, e);
    if (rc == 0)
        printf("tokenize: %s: %zu documents, %.2f MB -> %zu tokens (%.2f bytes/token) -> %s\n",
               o.pos[0], docs, n / 1e6, count, count ? (double)n / count : 0.0, o.pos[1]);
    free(ids);
    free(text);
    tok_free(t);
    return rc;
}

/* ---- export
 * -------------------------------------------------------------------------------------- */

static int has_tokenizer(const char *dir) {
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    return stat(p, &sb) == 0;
}

int tool_export(int argc, char **argv, Err *e) {
    static const char *const allowed[] = {"bf16", "tokenizer", NULL};
    Opts o;
    if (parse_opts(&o, argc, argv, "export", allowed, e) != 0) return -1;
    if (o.n_pos != 2)
        return err_set(e, "usage: imprint export MODEL OUTDIR [--bf16] [--tokenizer DIR]");
    GPT2Config mc;
    WeightsFormat fmt;
    if (weights_probe(o.pos[0], &mc, &fmt, e) != 0) return -1;
    GPT2 m;
    gpt2_build(&m, &mc, 1, 1);
    int rc = weights_load(&m, o.pos[0], e);
    /* config.json names the end token of the tokenizer that goes with the model */
    const char *tok = o.tokenizer ? o.tokenizer : (has_tokenizer(o.pos[0]) ? o.pos[0] : NULL);
    int eot = WEIGHTS_EOT_UNKNOWN;
    if (rc == 0 && tok) rc = tokenizer_dir_eot(tok, &eot, e);
    if (rc == 0) rc = weights_save_hf(&m, o.pos[1], o.bf16, eot, e);
    if (rc == 0 && tok) rc = tokenizer_copy(tok, o.pos[1], e);
    if (rc == 0)
        printf("export: %s -> %s (%s%s)\n", o.pos[0], o.pos[1], o.bf16 ? "BF16" : "F32",
               tok ? ", with tokenizer" : "");
    gpt2_free(&m);
    return rc;
}

/* ---- generate
 * ------------------------------------------------------------------------------------ */

int tool_generate(int argc, char **argv, Err *e) {
    static const char *const allowed[] = {"tokenizer", "tokens", NULL};
    Opts o;
    int n_new = 40;
    if (parse_opts(&o, argc, argv, "generate", allowed, e) != 0) return -1;
    if (o.n_pos < 2)
        return err_set(e, "usage: imprint generate MODEL [--tokenizer DIR] [--tokens N] PROMPT...");
    if (o.tokens && parse_int(o.tokens, "--tokens", 1, 100000, &n_new, e) != 0) return -1;
    const char *tokdir = o.tokenizer ? o.tokenizer : o.pos[0];
    Tokenizer *t = NULL;
    if (tok_load_dir(&t, tokdir, e) != 0) return -1;
    GPT2Config mc;
    WeightsFormat fmt;
    GPT2 m;
    if (weights_probe(o.pos[0], &mc, &fmt, e) != 0) {
        tok_free(t);
        return -1;
    }
    gpt2_build(&m, &mc, 1, mc.n_ctx);
    int rc = weights_load(&m, o.pos[0], e);
    int32_t *buf = xmalloc(sizeof(int32_t) * (size_t)mc.n_ctx, "context");
    for (int p = 1; p < o.n_pos && rc == 0; p++) {
        int32_t *ids = NULL;
        size_t n = 0;
        rc = tok_encode(t, o.pos[p], strlen(o.pos[p]), &ids, &n, e);
        if (rc != 0) break;
        int32_t *all = xmalloc(sizeof(int32_t) * (n + (size_t)n_new + 1), "generated ids");
        memcpy(all, ids, sizeof(int32_t) * n);
        size_t len = n;
        free(ids);
        for (int k = 0; k < n_new && rc == 0 && len > 0; k++) {
            /* the last n_ctx tokens, greedy argmax of the next one */
            size_t T = len < (size_t)mc.n_ctx ? len : (size_t)mc.n_ctx;
            memcpy(buf, all + len - T, sizeof(int32_t) * T);
            Batch b = {buf, NULL, NULL, 1, (int)T, 0, 0, 0};
            rc = gpt2_forward(&m, NULL, &b, e);
            const float *z = m.acts.logits->data + (T - 1) * (size_t)mc.vocab;
            int best = 0;
            for (int v = 1; v < mc.vocab; v++)
                if (z[v] > z[best]) best = v;
            all[len++] = best;
            if (best == tok_eot(t)) break;
        }
        char *text = NULL;
        size_t tl = 0;
        if (rc == 0 && tok_decode(t, all, len, &text, &tl, e) == 0) {
            printf("%.*s\n", (int)tl, text);
            free(text);
        }
        xfree(all);
    }
    xfree(buf);
    gpt2_free(&m);
    tok_free(t);
    return rc;
}
