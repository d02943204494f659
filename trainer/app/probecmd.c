/*
 * probecmd.c — `imprint probe`: can a base model copy what it has just seen?
 *
 *   imprint probe MODEL [--tokenizer DIR] [--text FILE] [--span N] [--reps N] [--seed N]
 *                 [--json OUT|-]
 *
 * MODEL is an HF GPT-2 directory or an llm.c .bin (as imprint generate takes). The tokenizer is
 * --tokenizer, else MODEL's own directory when it holds vocab.json; without one the random
 * sequences draw from every id and --text is refused. What is measured (trainer/eval/probe.h
 * has the exact definitions):
 *
 *   - on PROBE_RANDOM_SEQS random sequences of --span distinct tokens (no special tokens),
 *     each repeated --reps times: every head's previous-token and induction score, and the
 *     mean next-token loss of each copy;
 *   - every head's copying score, from the eigenvalues of its OV circuit;
 *   - with --text FILE: the documents of FILE (separated by blank lines, as imprint tokenize
 *     splits them), each encoded alone; the first --span tokens of every document that has
 *     that many, repeated --reps times: the loss of each copy. The project's target for a base
 *     model is a second-copy loss of at most PROBE_TARGET_NATS nats/token there.
 *
 * The report goes to stdout (to stderr with --json -); --json writes it as JSON, with the token
 * sequences used, so another implementation can replay them.
 */
#define _POSIX_C_SOURCE 200809L
#include "probecmd.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evalcmd.h"
#include "probe.h"
#include "tokenizer.h"
#include "tools.h"
#include "weights.h"

#define PROBE_RANDOM_SEQS 8   /* random sequences averaged over */
#define PROBE_ROWS        8   /* sequences per forward pass */
#define PROBE_TARGET_NATS 1.0 /* second-copy loss on repeated text a good base meets */
#define PROBE_HEAD_MIN    0.3 /* heads scoring above this are counted */

static const char USAGE_LINE[] = "usage: imprint probe MODEL [--tokenizer DIR] [--text FILE] "
                                 "[--span N] [--reps N] [--seed N] [--json OUT|-]";

typedef struct ProbeArgs {
    const char *model, *tokenizer, *text, *json;
    int span, reps;
    uint64_t seed;
} ProbeArgs;

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out, Err *e) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return err_set(e, "probe: %s must be an integer in [%d, %d], got '%s'", opt, lo, hi, s);
    *out = (int)v;
    return 0;
}

static int parse_args(ProbeArgs *a, int argc, char **argv, Err *e) {
    memset(a, 0, sizeof *a);
    a->span = 50;
    a->reps = 2;
    a->seed = 1;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        if (o[0] != '-' || !o[1]) {
            if (a->model)
                return err_set(e, "probe: unexpected argument '%s' (the model is already '%s'); %s",
                               o, a->model, USAGE_LINE);
            a->model = o;
            continue;
        }
        static const char *const known[] = {"--tokenizer", "--text", "--span",
                                            "--reps",      "--seed", "--json"};
        int k = -1;
        for (int j = 0; j < (int)(sizeof known / sizeof *known); j++)
            if (!strcmp(o, known[j])) k = j;
        if (k < 0) return err_set(e, "probe: unknown option '%s'; %s", o, USAGE_LINE);
        if (i + 1 >= argc) return err_set(e, "probe: %s needs a value; %s", o, USAGE_LINE);
        const char *v = argv[++i];
        if (k == 0)
            a->tokenizer = v;
        else if (k == 1)
            a->text = v;
        else if (k == 2 && parse_int(o, v, 2, 1 << 20, &a->span, e) != 0)
            return -1;
        else if (k == 3 && parse_int(o, v, 2, 1 << 20, &a->reps, e) != 0)
            return -1;
        else if (k == 4) {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (end == v || *end || errno || v[0] == '-')
                return err_set(e, "probe: --seed must be a non-negative integer, got '%s'", v);
            a->seed = s;
        } else if (k == 5)
            a->json = v;
    }
    if (!a->model) return err_set(e, "probe: no MODEL given; %s", USAGE_LINE);
    return 0;
}

/* What the probe holds: the model, the tokenizer, the sequences and the results. */
typedef struct Probe {
    GPT2 model;
    GPT2Config cfg;
    Tokenizer *tok;
    char tokdir[4200]; /* "" without a tokenizer */
    int32_t *random;   /* [PROBE_RANDOM_SEQS * span] */
    int32_t *text;     /* [n_text * span] */
    int n_text, n_docs, n_short, longest;
    int n_pool; /* ids random tokens are drawn from */
    ProbeHead *heads;
    double *random_loss, *text_loss; /* [reps] */
} Probe;

static void probe_free(Probe *p) {
    if (p->model.params.set.items) gpt2_free(&p->model);
    if (p->tok) tok_free(p->tok);
    xfree(p->random);
    xfree(p->text);
    xfree(p->heads);
    xfree(p->random_loss);
    xfree(p->text_loss);
}

/* The tokenizer: --tokenizer, else MODEL's directory when it has vocab.json, else none. */
static int load_tokenizer(Probe *p, const ProbeArgs *a, Err *e) {
    struct stat sb;
    char vocab[4300];
    if (a->tokenizer)
        snprintf(p->tokdir, sizeof p->tokdir, "%s", a->tokenizer);
    else if (snprintf(vocab, sizeof vocab, "%s/vocab.json", a->model) < (int)sizeof vocab &&
             stat(vocab, &sb) == 0)
        snprintf(p->tokdir, sizeof p->tokdir, "%s", a->model);
    if (!p->tokdir[0]) return 0;
    if (tok_load_dir(&p->tok, p->tokdir, e) != 0)
        return err_prefix(e, "probe: %s", a->tokenizer ? "--tokenizer" : "the model's tokenizer");
    if (tok_vocab_size(p->tok) > p->cfg.vocab)
        return err_set(e,
                       "probe: %s: the tokenizer has %d tokens but the model %s only %d; give the "
                       "model's own tokenizer with --tokenizer",
                       p->tokdir, tok_vocab_size(p->tok), a->model, p->cfg.vocab);
    return 0;
}

/* The ids random sequences draw from: every id of the tokenizer but its special tokens
 * ("<|endoftext|>", "<|sep|>", ...), or every id of the model without a tokenizer. */
static int32_t *token_pool(const Probe *p, int *n) {
    const int V = p->tok ? tok_vocab_size(p->tok) : p->cfg.vocab;
    int32_t *pool = xmalloc(sizeof(int32_t) * (size_t)V, "probe token pool");
    *n = 0;
    for (int id = 0; id < V; id++) {
        size_t len = 0;
        const char *b = p->tok ? tok_token_bytes(p->tok, id, &len) : NULL;
        if (b && len >= 4 && len < 256 && !memcmp(b, "<|", 2) && !memcmp(b + len - 2, "|>", 2)) {
            char s[256];
            memcpy(s, b, len);
            s[len] = '\0';
            if (tok_special_id(p->tok, s) == id) continue;
        }
        pool[(*n)++] = id;
    }
    return pool;
}

/* --text: the first span tokens of every document that has that many. */
static int load_passages(Probe *p, const ProbeArgs *a, Err *e) {
    if (!p->tok)
        return err_set(e,
                       "probe: --text %s needs the model's tokenizer, and %s has no vocab.json; "
                       "give it with --tokenizer DIR",
                       a->text, a->model);
    size_t n = 0;
    char *text = file_read_all(a->text, &n, e);
    if (!text) return err_prefix(e, "probe: --text");
    size_t start = 0, end = 0, cap = 0;
    int rc = 0;
    while (rc == 0 && text_next_document(text, n, &start, &end)) {
        size_t k = start;
        while (k < end && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\n'))
            k++;
        if (k == end) { /* only white space: not a document */
            start = end;
            continue;
        }
        int32_t *ids = NULL;
        size_t m = 0;
        rc = tok_encode(p->tok, text + start, end - start, &ids, &m, e);
        if (rc == 0 && m > 0) {
            p->n_docs++;
            if (m > (size_t)p->longest) p->longest = m > INT32_MAX ? INT32_MAX : (int)m;
            if (m < (size_t)a->span) {
                p->n_short++;
            } else {
                if ((size_t)p->n_text == cap) {
                    cap = cap ? 2 * cap : 64;
                    p->text = xrealloc(p->text, sizeof(int32_t) * cap * a->span, "passages");
                }
                memcpy(p->text + (size_t)p->n_text++ * a->span, ids, sizeof(int32_t) * a->span);
            }
        }
        free(ids);
        start = end;
    }
    free(text);
    if (rc != 0) return err_prefix(e, "probe: --text %s", a->text);
    if (p->n_docs == 0)
        return err_set(e,
                       "probe: --text %s: holds no text; give a file of documents separated by "
                       "blank lines",
                       a->text);
    if (p->n_text == 0 && p->longest >= 2)
        return err_set(e,
                       "probe: --text %s: none of its %d document%s has %d tokens (the longest has "
                       "%d); lower --span to at most %d or give longer documents",
                       a->text, p->n_docs, p->n_docs == 1 ? "" : "s", a->span, p->longest,
                       p->longest);
    if (p->n_text == 0)
        return err_set(e,
                       "probe: --text %s: none of its %d document%s has more than one token; "
                       "give documents of at least --span (%d) tokens",
                       a->text, p->n_docs, p->n_docs == 1 ? "" : "s", a->span);
    return 0;
}

static int probe_setup(Probe *p, const ProbeArgs *a, Err *e) {
    if (a->json && json_out_check(a->json, e) != 0) return -1;
    if (weights_probe(a->model, &p->cfg, NULL, e) != 0) return -1;
    const long long T = (long long)a->span * a->reps;
    if (T > p->cfg.n_ctx)
        return err_set(e,
                       "probe: --span %d x --reps %d = %lld tokens do not fit the context of %s "
                       "(%d positions); lower --span or --reps so that span x reps <= %d",
                       a->span, a->reps, T, a->model, p->cfg.n_ctx, p->cfg.n_ctx);
    if (load_tokenizer(p, a, e) != 0) return -1;
    int32_t *pool = token_pool(p, &p->n_pool);
    if (a->span > p->n_pool) {
        xfree(pool);
        return err_set(e,
                       "probe: --span %d is more than the %d distinct tokens a random sequence "
                       "can draw from; lower --span",
                       a->span, p->n_pool);
    }
    p->random = xmalloc(sizeof(int32_t) * PROBE_RANDOM_SEQS * a->span, "random sequences");
    int32_t *scratch = xmalloc(sizeof(int32_t) * (size_t)p->n_pool, "probe scratch");
    probe_random_sequences(p->random, PROBE_RANDOM_SEQS, a->span, pool, p->n_pool, scratch,
                           a->seed);
    xfree(scratch);
    xfree(pool);
    if (a->text && load_passages(p, a, e) != 0) return -1;
    gpt2_build(&p->model, &p->cfg, PROBE_ROWS, (int)T);
    if (weights_load(&p->model, a->model, e) != 0) return -1;
    const int H = p->cfg.n_layer * p->cfg.n_head;
    p->heads = xmalloc(sizeof(ProbeHead) * (size_t)H, "probe heads");
    memset(p->heads, 0, sizeof(ProbeHead) * (size_t)H);
    p->random_loss = xmalloc(sizeof(double) * (size_t)a->reps, "probe losses");
    p->text_loss = xmalloc(sizeof(double) * (size_t)a->reps, "probe losses");
    return 0;
}

/* ---- the report ------------------------------------------------------------------------------ */

typedef struct Best {
    int index;
    int n_over; /* heads over PROBE_HEAD_MIN */
} Best;

static Best best_of(const Probe *p, int induction) {
    Best b = {0, 0};
    const int H = p->cfg.n_layer * p->cfg.n_head;
    for (int i = 0; i < H; i++) {
        double s = induction ? p->heads[i].induction : p->heads[i].prev;
        double best = induction ? p->heads[b.index].induction : p->heads[b.index].prev;
        if (s > best) b.index = i;
        b.n_over += s > PROBE_HEAD_MIN;
    }
    return b;
}

static void print_losses(FILE *out, const char *what, const double *loss, int reps, int n,
                         const char *unit) {
    fprintf(out, "%s: first copy %.2f, second copy %.2f", what, loss[0], loss[1]);
    for (int k = 2; k < reps; k++) fprintf(out, ", copy %d %.2f", k + 1, loss[k]);
    fprintf(out, " nats/token (n=%d %s)\n", n, unit);
}

/* What a head that attends uniformly (to every position up to its own) would score. */
static void uniform_scores(int span, int reps, double *prev, double *induction) {
    const int T = span * reps;
    *prev = *induction = 0.0;
    for (int t = 1; t < T; t++) *prev += 1.0 / (t + 1);
    for (int t = span; t < T; t++) *induction += 1.0 / (t + 1);
    *prev /= T - 1;
    *induction /= T - span;
}

static void print_report(FILE *out, const Probe *p, const ProbeArgs *a) {
    const int NH = p->cfg.n_head, H = p->cfg.n_layer * NH;
    const int d = p->cfg.n_embd / NH;
    fprintf(out,
            "probe: %s (%d layers x %d heads, context %d), %d random sequences of %d tokens x %d "
            "copies, seed %llu\n",
            a->model, p->cfg.n_layer, NH, p->cfg.n_ctx, PROBE_RANDOM_SEQS, a->span, a->reps,
            (unsigned long long)a->seed);
    fprintf(out, "  head  prev-token  induction  copying (OV eigenvalues > 0 / nonzero, of %d)\n",
            d);
    for (int i = 0; i < H; i++)
        fprintf(out, "  %2d.%-2d     %6.3f     %6.3f     %5.3f (%d/%d)\n", i / NH, i % NH,
                p->heads[i].prev, p->heads[i].induction, p->heads[i].copying,
                p->heads[i].copy_positive, p->heads[i].copy_nonzero);
    double up, ui;
    uniform_scores(a->span, a->reps, &up, &ui);
    fprintf(out, "  (uniform attention would score previous-token %.3f, induction %.3f)\n", up, ui);
    print_losses(out, "random tokens", p->random_loss, a->reps, PROBE_RANDOM_SEQS, "sequences");
    if (a->text) {
        print_losses(out, "repeated text", p->text_loss, a->reps, p->n_text, "passages");
        if (p->n_short)
            fprintf(out, "  (%d of %d documents shorter than %d tokens left out)\n", p->n_short,
                    p->n_docs, a->span);
        fprintf(out, "target: second copy <= %.1f nats/token on repeated text: %s\n",
                PROBE_TARGET_NATS, p->text_loss[1] <= PROBE_TARGET_NATS ? "met" : "NOT met");
    }
    Best bi = best_of(p, 1), bp = best_of(p, 0);
    fprintf(out,
            "summary: best induction head %d.%d (%.3f), best previous-token head %d.%d (%.3f); "
            "%d heads with induction > %.1f, %d with previous-token > %.1f\n",
            bi.index / NH, bi.index % NH, p->heads[bi.index].induction, bp.index / NH,
            bp.index % NH, p->heads[bp.index].prev, bi.n_over, PROBE_HEAD_MIN, bp.n_over,
            PROBE_HEAD_MIN);
}

static cJSON *json_sequences(const int32_t *ids, int n, int span) {
    cJSON *arr = cJSON_CreateArray();
    for (int s = 0; s < n; s++) {
        cJSON *seq = cJSON_CreateArray();
        for (int i = 0; i < span; i++)
            cJSON_AddItemToArray(seq, cJSON_CreateNumber(ids[(size_t)s * span + i]));
        cJSON_AddItemToArray(arr, seq);
    }
    return arr;
}

static void json_losses(cJSON *parent, const double *loss, int reps, int n, const int32_t *ids,
                        int span) {
    cJSON_AddNumberToObject(parent, "n", n);
    cJSON_AddNumberToObject(parent, "first_copy", loss[0]);
    cJSON_AddNumberToObject(parent, "second_copy", loss[1]);
    cJSON *copies = cJSON_AddArrayToObject(parent, "copies");
    for (int k = 0; k < reps; k++) cJSON_AddItemToArray(copies, cJSON_CreateNumber(loss[k]));
    cJSON_AddItemToObject(parent, "sequences", json_sequences(ids, n, span));
}

static cJSON *json_head(int index, int n_head, double score) {
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "layer", index / n_head);
    cJSON_AddNumberToObject(h, "head", index % n_head);
    cJSON_AddNumberToObject(h, "score", score);
    return h;
}

static const char DEFINITIONS[] =
    "Each probe sequence is span tokens repeated reps times. prev_token: mean attention from "
    "position t to t-1 (t >= 1). induction: mean attention from each position t in copies 2.. "
    "to t-span+1, the token after the previous occurrence of the current token (random "
    "sequences of distinct tokens). copying: share of the nonzero eigenvalues of the head's OV "
    "circuit W_E W_V W_O W_U (tied W_U = W_E^T, LayerNorm and biases ignored) with a positive "
    "real part, computed as the head_dim eigenvalues of W_O (W_E^T W_E) W_V (|lambda| <= 1e-9 "
    "max|lambda| counts as zero); copying_positive and copying_nonzero count them; "
    "copying_ratio = sum(lambda)/sum(|lambda|) over them. Losses: mean next-token loss in "
    "nats of the tokens of each copy after its first (predicted from everything before them).";

static int write_json(const Probe *p, const ProbeArgs *a, Err *e) {
    const int NH = p->cfg.n_head, H = p->cfg.n_layer * NH;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", a->model);
    if (p->tok)
        cJSON_AddStringToObject(j, "tokenizer", p->tokdir);
    else
        cJSON_AddNullToObject(j, "tokenizer");
    cJSON_AddNumberToObject(j, "n_layer", p->cfg.n_layer);
    cJSON_AddNumberToObject(j, "n_head", NH);
    cJSON_AddNumberToObject(j, "head_dim", p->cfg.n_embd / NH);
    cJSON_AddNumberToObject(j, "n_ctx", p->cfg.n_ctx);
    cJSON_AddNumberToObject(j, "vocab", p->cfg.vocab);
    cJSON_AddNumberToObject(j, "seed", (double)a->seed);
    cJSON_AddNumberToObject(j, "span", a->span);
    cJSON_AddNumberToObject(j, "reps", a->reps);
    cJSON_AddStringToObject(j, "definitions", DEFINITIONS);
    cJSON *heads = cJSON_AddArrayToObject(j, "heads");
    for (int i = 0; i < H; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "layer", i / NH);
        cJSON_AddNumberToObject(h, "head", i % NH);
        cJSON_AddNumberToObject(h, "prev_token", p->heads[i].prev);
        cJSON_AddNumberToObject(h, "induction", p->heads[i].induction);
        cJSON_AddNumberToObject(h, "copying", p->heads[i].copying);
        cJSON_AddNumberToObject(h, "copying_positive", p->heads[i].copy_positive);
        cJSON_AddNumberToObject(h, "copying_nonzero", p->heads[i].copy_nonzero);
        cJSON_AddNumberToObject(h, "copying_ratio", p->heads[i].copy_ratio);
        cJSON_AddItemToArray(heads, h);
    }
    json_losses(cJSON_AddObjectToObject(j, "random"), p->random_loss, a->reps, PROBE_RANDOM_SEQS,
                p->random, a->span);
    cJSON *target = cJSON_AddObjectToObject(j, "target");
    cJSON_AddNumberToObject(target, "second_copy_max", PROBE_TARGET_NATS);
    if (a->text) {
        cJSON *t = cJSON_AddObjectToObject(j, "text");
        cJSON_AddStringToObject(t, "file", a->text);
        cJSON_AddNumberToObject(t, "documents", p->n_docs);
        cJSON_AddNumberToObject(t, "too_short", p->n_short);
        json_losses(t, p->text_loss, a->reps, p->n_text, p->text, a->span);
        cJSON_AddBoolToObject(target, "met", p->text_loss[1] <= PROBE_TARGET_NATS);
    } else {
        cJSON_AddNullToObject(j, "text");
        cJSON_AddNullToObject(target, "met"); /* no --text: not measured */
    }
    double up, ui;
    uniform_scores(a->span, a->reps, &up, &ui);
    cJSON *u = cJSON_AddObjectToObject(j, "uniform"); /* what uniform attention scores */
    cJSON_AddNumberToObject(u, "prev_token", up);
    cJSON_AddNumberToObject(u, "induction", ui);
    Best bi = best_of(p, 1), bp = best_of(p, 0);
    cJSON *s = cJSON_AddObjectToObject(j, "summary");
    cJSON_AddItemToObject(s, "best_induction",
                          json_head(bi.index, NH, p->heads[bi.index].induction));
    cJSON_AddItemToObject(s, "best_prev_token", json_head(bp.index, NH, p->heads[bp.index].prev));
    cJSON_AddNumberToObject(s, "threshold", PROBE_HEAD_MIN);
    cJSON_AddNumberToObject(s, "induction_heads", bi.n_over);
    cJSON_AddNumberToObject(s, "prev_token_heads", bp.n_over);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = json_out_write(a->json, text, e);
    free(text);
    return rc;
}

int probe_command(int argc, char **argv, Err *e) {
    ProbeArgs a;
    if (parse_args(&a, argc, argv, e) != 0) return -1;
    Probe p;
    memset(&p, 0, sizeof p);
    int rc = probe_setup(&p, &a, e);
    if (rc == 0)
        rc = probe_run(&p.model, p.random, PROBE_RANDOM_SEQS, a.span, a.reps, p.random_loss,
                       p.heads, e);
    if (rc == 0) rc = probe_copying(&p.model, p.heads, e);
    if (rc == 0 && a.text)
        rc = probe_run(&p.model, p.text, p.n_text, a.span, a.reps, p.text_loss, NULL, e);
    if (rc == 0) {
        FILE *out = a.json && !strcmp(a.json, "-") ? stderr : stdout;
        print_report(out, &p, &a);
        fflush(out);
        if (a.json) rc = write_json(&p, &a, e);
    }
    probe_free(&p);
    return rc;
}
