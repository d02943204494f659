/*
 * items.c — the per-item results as JSON lines (see items.h).
 */
#include "items.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* s[0..n) as a NUL-terminated string of well-formed UTF-8: an ill-formed byte (and a NUL, which
 * would end the string) becomes U+FFFD. Malloc'd. */
static char *clean_text(const char *s, size_t n) {
    char *o = xmalloc(3 * n + 1, "item text");
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int len = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (len == 0 || s[i] == '\0') {
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
            continue;
        }
        memcpy(o + k, s + i, (size_t)len);
        k += (size_t)len;
        i += (size_t)len;
    }
    o[k] = '\0';
    return o;
}

static void add_text(cJSON *o, const char *key, const char *s, size_t n) {
    char *t = clean_text(s, n);
    cJSON_AddStringToObject(o, key, t);
    free(t);
}

/* {"completion", "eot", "correct", "nll", "nll_mean", "margin", "em"} of item i. */
static int add_model(cJSON *parent, const char *key, const EvalRecords *r, const EvalItem *items,
                     int i, const Tokenizer *tok, int32_t *ids, Err *e) {
    const EvalItem *it = &items[i];
    const double *rc = r->data + r->offset[i];
    const double *ok = eval_record_correct(r, items, i), *g = eval_record_greedy(r, items, i);
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    const int n_greedy = (int)rc[EVAL_REC_N_GREEDY];
    for (int j = 0; j < n_greedy; j++) ids[j] = (int32_t)g[j];
    char *text = NULL;
    size_t len = 0;
    if (tok_decode(tok, ids, (size_t)n_greedy, &text, &len, e) != 0)
        return err_prefix(e, "items: chain %d, the greedy completion", it->chain);
    add_text(o, "completion", text, len);
    free(text);
    cJSON_AddBoolToObject(o, "eot", rc[EVAL_REC_EOT] != 0.0);
    cJSON *flags = cJSON_AddArrayToObject(o, "correct");
    for (int j = 0; j < it->n_answer; j++)
        cJSON_AddItemToArray(flags, cJSON_CreateNumber(ok[j] == 1.0 ? 1 : 0));
    cJSON_AddNumberToObject(o, "nll", rc[EVAL_REC_NLL]);
    cJSON_AddNumberToObject(o, "nll_mean", it->n_answer ? rc[EVAL_REC_NLL] / it->n_answer : 0.0);
    if (it->n_foils > 0)
        cJSON_AddNumberToObject(o, "margin", rc[EVAL_REC_MARGIN]);
    else
        cJSON_AddNullToObject(o, "margin");
    cJSON_AddBoolToObject(o, "em", rc[EVAL_REC_EM] != 0.0);
    return 0;
}

/* One line (without its newline), malloc'd. */
static char *item_line(const ItemsSet *s, int i, int variant, const ChainLib *lib,
                       const Tokenizer *tok, int32_t *ids, Err *e) {
    const EvalItem *it = &s->items[i];
    const Chain *ch = &lib->chains[it->chain];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "split", s->split);
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddStringToObject(o, "chain", ch->id);
    cJSON_AddStringToObject(o, "form", chain_form_name(ch->form));
    cJSON_AddNumberToObject(o, "tuple", it->tuple);
    if (variant >= 0)
        cJSON_AddNumberToObject(o, "variant", variant);
    else
        cJSON_AddNullToObject(o, "variant");
    cJSON_AddNumberToObject(o, "volatility", it->volatility);
    add_text(o, "prompt", it->text, it->answer_start);
    add_text(o, "answer", it->text + it->answer_start, strlen(it->text + it->answer_start));
    cJSON_AddNumberToObject(o, "answer_tokens", it->n_answer);
    cJSON_AddNumberToObject(o, "foils", it->n_foils);
    int rc = add_model(o, "base", s->base, s->items, i, tok, ids, e);
    if (rc == 0 && s->adapter) rc = add_model(o, "adapter", s->adapter, s->items, i, tok, ids, e);
    if (rc == 0 && !s->adapter) cJSON_AddNullToObject(o, "adapter");
    char *line = rc == 0 ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (rc == 0 && !line) fatal("out of memory writing items.jsonl");
    return line;
}

char *items_jsonl(const ItemsSet *sets, int n_sets, const ChainLib *lib, const Tokenizer *tok,
                  size_t *len, Err *e) {
    int most = 1;
    for (int k = 0; k < n_sets; k++)
        for (int i = 0; i < sets[k].n; i++)
            if (sets[k].items[i].n_answer > most) most = sets[k].items[i].n_answer;
    int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)most, "item tokens");
    size_t cap = 4096, n = 0;
    char *out = xmalloc(cap, "items.jsonl");
    out[0] = '\0';
    int rc = 0;
    for (int k = 0; k < n_sets && rc == 0; k++) {
        const ItemsSet *s = &sets[k];
        for (int i = 0; i < s->n && rc == 0; i++) {
            /* a chain's held-out variants are added one after another (curriculum_build) */
            int variant = -1;
            if (s->variants) {
                variant = 0;
                for (int j = i - 1; j >= 0 && s->items[j].chain == s->items[i].chain; j--)
                    variant++;
            }
            char *line = item_line(s, i, variant, lib, tok, ids, e);
            if (!line) {
                rc = -1;
                break;
            }
            const size_t m = strlen(line);
            if (n + m + 2 > cap) {
                while (n + m + 2 > cap) cap *= 2;
                out = xrealloc(out, cap, "items.jsonl");
            }
            memcpy(out + n, line, m);
            n += m;
            out[n++] = '\n';
            out[n] = '\0';
            free(line);
        }
    }
    xfree(ids);
    if (rc != 0) {
        xfree(out);
        return NULL;
    }
    *len = n;
    return out;
}
