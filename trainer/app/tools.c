/*
 * tools.c — the small verbs around training: train a tokenizer, tokenize text into token
 * shards, export a model, and generation (greedy or sampled, with an adapter or against it).
 *
 *   imprint tokenizer-train --vocab N --out DIR FILE...
 *   imprint tokenize --tokenizer DIR IN.txt OUT.bin
 *   imprint export MODEL OUTDIR [--bf16] [--tokenizer DIR]
 *   imprint generate MODEL [--tokenizer DIR] [--tokens N] [--adapter PATH [--compare]]
 *                    [--temperature T [--top-k K] [--seed N]] PROMPT...
 *
 * Each returns 0, or -1 with e filled; main() prints.
 */
#define _POSIX_C_SOURCE 200809L
#include "tools.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapter_arg.h"
#include "checkpoint.h"
#include "rng.h"
#include "data.h"
#include "model.h"
#include "tokenizer.h"
#include "weights.h"

/* ---- small option parser ------------------------------------------------------------------- */

typedef struct Opts {
    const char *pos[64]; /* positional arguments */
    int n_pos;
    const char *vocab, *out, *tokenizer, *tokens, *adapter, *temperature, *top_k, *seed;
    int bf16, compare;
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
        if (!strcmp(a, "--bf16") || !strcmp(a, "--compare")) {
            *(!strcmp(a, "--bf16") ? &o->bf16 : &o->compare) = 1;
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
        else if (!strcmp(a, "--adapter"))
            o->adapter = v;
        else if (!strcmp(a, "--temperature"))
            o->temperature = v;
        else if (!strcmp(a, "--top-k"))
            o->top_k = v;
        else if (!strcmp(a, "--seed"))
            o->seed = v;
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

/* A candidate token of a draw. */
typedef struct Cand {
    float z;
    int id;
} Cand;

/* How the next token is chosen. */
typedef struct Decoding {
    double temperature; /* 0: greedy */
    int top_k;          /* 0: every token */
    uint64_t seed;
    Cand *cand;   /* [vocab] */
    double *prob; /* [vocab] */
} Decoding;

/* Larger logit first; equal logits: the lower id first (a total order: the same on any libc). */
static int by_logit(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->z != y->z) return x->z > y->z ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The next token after logits z: the first largest at temperature 0 (as it always was), else a
 * draw from softmax(z / T) over the top_k likeliest tokens (every token when top_k = 0). The
 * draw's uniform number is rng(seed, RNG_STREAM_GENERATE, prompt, k): a pure function of the
 * seed, the prompt's index and the token's, so the same seed gives the same text, and the base
 * model and the adapter (--compare) draw against the same numbers. */
static int32_t next_token(const float *z, int V, Decoding *s, uint32_t prompt, uint64_t k) {
    if (s->temperature == 0.0) return gpt2_argmax(z, V);
    int n = V;
    for (int v = 0; v < V; v++) s->cand[v] = (Cand){z[v], v};
    if (s->top_k > 0 && s->top_k < V) {
        qsort(s->cand, (size_t)V, sizeof *s->cand, by_logit);
        n = s->top_k;
    }
    double top = -INFINITY, total = 0.0;
    for (int i = 0; i < n; i++)
        if (s->cand[i].z > top) top = s->cand[i].z;
    for (int i = 0; i < n; i++) {
        s->prob[i] = exp(((double)s->cand[i].z - top) / s->temperature);
        total += s->prob[i];
    }
    const double u = (double)rng_uniform(s->seed, RNG_STREAM_GENERATE, prompt, k) * total;
    double acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += s->prob[i];
        if (u < acc) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}

/* Continues ids[0..n) by up to n_new tokens (with the adapter, or the base model for lora NULL)
 * into all[0..*len): the prompt, then the continuation, which stops after <|endoftext|>. */
static int continue_ids(GPT2 *m, const Lora *lora, const int32_t *ids, size_t n, int n_new,
                        int32_t eot, Decoding *smp, uint32_t prompt, int32_t *buf, int32_t *all,
                        size_t *len, Err *e) {
    const GPT2Config *mc = &m->cfg;
    memcpy(all, ids, sizeof(int32_t) * n);
    *len = n;
    if (n == 0) return 0; /* nothing to continue */
    for (int k = 0; k < n_new; k++) {
        /* the last n_ctx tokens */
        size_t T = *len < (size_t)mc->n_ctx ? *len : (size_t)mc->n_ctx;
        memcpy(buf, all + *len - T, sizeof(int32_t) * T);
        Batch b = {buf, NULL, NULL, 1, (int)T, 0, 0, 0};
        if (gpt2_forward(m, lora, &b, e) != 0) return -1;
        const int32_t next = next_token(m->acts.logits->data + (T - 1) * (size_t)mc->vocab,
                                        mc->vocab, smp, prompt, (uint64_t)k);
        all[(*len)++] = next;
        if (next == eot) break;
    }
    return 0;
}

/* --compare: "prompt N: ..." and the two continuations under it, labelled; a continuation's
 * further lines are indented under its first. */
static void print_labelled(const char *label, const char *text, size_t n) {
    printf("  %-8s ", label);
    for (size_t i = 0; i < n; i++) {
        putchar(text[i]);
        if (text[i] == '\n' && i + 1 < n) printf("           ");
    }
    putchar('\n');
}

typedef struct GenerateArgs {
    int n_new;
    Decoding smp;
    const char *adapter;
    int compare;
} GenerateArgs;

static int generate_args(const Opts *o, GenerateArgs *g, Err *e) {
    memset(g, 0, sizeof *g);
    g->n_new = 40;
    g->smp.seed = 1337;
    g->adapter = o->adapter;
    g->compare = o->compare;
    if (o->tokens && parse_int(o->tokens, "--tokens", 1, 100000, &g->n_new, e) != 0) return -1;
    if (o->temperature) {
        char *end = NULL;
        g->smp.temperature = strtod(o->temperature, &end);
        if (end == o->temperature || *end || !isfinite(g->smp.temperature) ||
            g->smp.temperature < 0 || g->smp.temperature > 1000)
            return err_set(e, "--temperature must be a number in [0, 1000] (0: greedy), got '%s'",
                           o->temperature);
    }
    const int sampling = g->smp.temperature > 0;
    if (o->top_k && parse_int(o->top_k, "--top-k", 1, 1 << 30, &g->smp.top_k, e) != 0) return -1;
    if (o->top_k && !sampling)
        return err_set(e,
                       "--top-k %s only applies when sampling; add --temperature T > 0 (the "
                       "default 0 is greedy)",
                       o->top_k);
    if (o->seed) {
        char *end = NULL;
        errno = 0;
        g->smp.seed = strtoull(o->seed, &end, 10);
        if (end == o->seed || *end || errno || o->seed[0] == '-')
            return err_set(e, "--seed must be a non-negative integer below 2^64, got '%s'",
                           o->seed);
        if (!sampling)
            return err_set(e,
                           "--seed %s only applies when sampling; add --temperature T > 0 (the "
                           "default 0 is greedy)",
                           o->seed);
    }
    if (o->compare && !o->adapter)
        return err_set(e, "--compare needs --adapter PATH: the adapter whose continuations are "
                          "compared with the base model's");
    return 0;
}

int tool_generate(int argc, char **argv, Err *e) {
    static const char *const allowed[] = {"tokenizer",   "tokens", "adapter", "compare",
                                          "temperature", "top-k",  "seed",    NULL};
    static const char usage[] =
        "usage: imprint generate MODEL [--tokenizer DIR] [--tokens N] [--adapter PATH "
        "[--compare]] [--temperature T [--top-k K] [--seed N]] PROMPT...";
    Opts o;
    GenerateArgs g;
    if (parse_opts(&o, argc, argv, "generate", allowed, e) != 0) return -1;
    if (o.n_pos < 2) return err_set(e, "%s", usage);
    if (generate_args(&o, &g, e) != 0) return -1;
    char adapter[4400];
    if (g.adapter && adapter_resolve(g.adapter, adapter, sizeof adapter, e) != 0) return -1;
    const char *tokdir = o.tokenizer ? o.tokenizer : o.pos[0];
    Tokenizer *t = NULL;
    if (tok_load_dir(&t, tokdir, e) != 0) return -1;
    GPT2Config mc;
    WeightsFormat fmt;
    GPT2 m;
    Lora lora;
    memset(&lora, 0, sizeof lora);
    if (weights_probe(o.pos[0], &mc, &fmt, e) != 0) {
        tok_free(t);
        return -1;
    }
    if (g.smp.top_k > mc.vocab) {
        tok_free(t);
        return err_set(e, "--top-k %d: the model has only %d tokens", g.smp.top_k, mc.vocab);
    }
    gpt2_build(&m, &mc, 1, mc.n_ctx);
    int rc = weights_load(&m, o.pos[0], e);
    long long step = -1;
    if (rc == 0 && g.adapter)
        rc = adapter_open(&lora, adapter, &m, mc.n_ctx, NULL, 0, o.pos[0], &step, e);
    int32_t *buf = xmalloc(sizeof(int32_t) * (size_t)mc.n_ctx, "context");
    g.smp.cand = xmalloc(sizeof(Cand) * (size_t)mc.vocab, "sampling");
    g.smp.prob = xmalloc(sizeof(double) * (size_t)mc.vocab, "sampling");
    for (int p = 1; p < o.n_pos && rc == 0; p++) {
        int32_t *ids = NULL;
        size_t n = 0;
        rc = tok_encode(t, o.pos[p], strlen(o.pos[p]), &ids, &n, e);
        if (rc != 0) break;
        int32_t *all = xmalloc(sizeof(int32_t) * (n + (size_t)g.n_new + 1), "generated ids");
        const uint32_t prompt = (uint32_t)(p - 1);
        size_t len = 0;
        char *text = NULL;
        size_t tl = 0;
        if (!g.compare) { /* the prompt and its continuation, as one text */
            rc = continue_ids(&m, g.adapter ? &lora : NULL, ids, n, g.n_new, tok_eot(t), &g.smp,
                              prompt, buf, all, &len, e);
            if (rc == 0) rc = tok_decode(t, all, len, &text, &tl, e);
            if (rc == 0) printf("%.*s\n", (int)tl, text);
            free(text);
        } else {
            printf("%sprompt %d: %s\n", p > 1 ? "\n" : "", p, o.pos[p]);
            for (int k = 0; k < 2 && rc == 0; k++) {
                rc = continue_ids(&m, k ? &lora : NULL, ids, n, g.n_new, tok_eot(t), &g.smp, prompt,
                                  buf, all, &len, e);
                if (rc == 0) rc = tok_decode(t, all + n, len - n, &text, &tl, e);
                if (rc == 0) print_labelled(k ? "adapter:" : "base:", text, tl);
                free(text);
                text = NULL;
            }
        }
        free(ids);
        xfree(all);
    }
    fflush(stdout);
    xfree(buf);
    xfree(g.smp.cand);
    xfree(g.smp.prob);
    if (lora.ad) lora_free(&lora);
    gpt2_free(&m);
    tok_free(t);
    return rc;
}
