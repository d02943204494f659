/*
 * report.c — the recall table and its JSON (see report.h).
 */
#include "report.h"

#include <cjson/cJSON.h>
#include <stdio.h>

const char REPORT_METRICS_NOTE[] =
    "em: greedy completion equals the conclusion; nll: mean conclusion token NLL; greedy: "
    "fraction of conclusion tokens that are the argmax; margin: mean foil NLL minus conclusion "
    "NLL (null: no item of the split has foils)";

/* "+0.081", or "n/a" when no item had foils; width 6 */
static const char *margin_text(char *buf, size_t n, const EvalSums *s, const EvalMetrics *m) {
    if (s->n_foil > 0)
        snprintf(buf, n, "%+6.3f", m->margin);
    else
        snprintf(buf, n, "%6s", "n/a");
    return buf;
}

void report_print_table(FILE *out, const ReportRow *rows, int n) {
    fprintf(out, "  %-17s %4s | %-17s | %-17s | %-17s\n", "split", "n", "exact match",
            "greedy tokens", "margin");
    fprintf(out, "  %-17s %4s | %-17s | %-17s | %-17s\n", "", "", "base -> adapter",
            "base -> adapter", "base -> adapter");
    for (int i = 0; i < n; i++) {
        EvalMetrics b = eval_metrics(&rows[i].base), a = eval_metrics(&rows[i].adapter);
        char bm[24], am[24];
        margin_text(bm, sizeof bm, &rows[i].base, &b);
        if (rows[i].base_only) {
            fprintf(out, "  %-17s %4d | %5.1f%% -> %6s | %5.1f%% -> %6s | %6s -> %6s\n",
                    rows[i].name, b.n, 100 * b.em, "-", 100 * b.greedy, "-", bm, "-");
            continue;
        }
        margin_text(am, sizeof am, &rows[i].adapter, &a);
        fprintf(out, "  %-17s %4d | %5.1f%% -> %5.1f%% | %5.1f%% -> %5.1f%% | %6s -> %6s\n",
                rows[i].name, a.n, 100 * b.em, 100 * a.em, 100 * b.greedy, 100 * a.greedy, bm, am);
    }
}

void report_print_forms(FILE *out, const ReportRow *rows, int n) {
    int any = 0;
    for (int i = 0; i < n; i++) any |= rows[i].base_forms != NULL;
    if (!any) return;
    fprintf(out, "  %-17s %4s | %-17s | %-17s\n", "form / split", "n", "exact match", "margin");
    fprintf(out, "  %-17s %4s | %-17s | %-17s\n", "", "", "base -> adapter", "base -> adapter");
    for (int f = 0; f < FORM_COUNT; f++) {
        int named = 0;
        for (int i = 0; i < n; i++) {
            const ReportRow *r = &rows[i];
            if (!r->base_forms || r->base_forms[f].n == 0) continue;
            if (!named) fprintf(out, "  %s\n", chain_form_name((ChainForm)f));
            named = 1;
            const EvalSums *bs = &r->base_forms[f];
            EvalMetrics b = eval_metrics(bs);
            char bm[24], am[24];
            margin_text(bm, sizeof bm, bs, &b);
            if (r->base_only || !r->adapter_forms) {
                fprintf(out, "   %-16s %4d | %5.1f%% -> %6s | %6s -> %6s\n", r->name, b.n,
                        100 * b.em, "-", bm, "-");
                continue;
            }
            const EvalSums *as = &r->adapter_forms[f];
            EvalMetrics a = eval_metrics(as);
            margin_text(am, sizeof am, as, &a);
            fprintf(out, "   %-16s %4d | %5.1f%% -> %5.1f%% | %6s -> %6s\n", r->name, b.n,
                    100 * b.em, 100 * a.em, bm, am);
        }
    }
}

static void add_metrics(cJSON *parent, const char *key, const EvalSums *s) {
    EvalMetrics m = eval_metrics(s);
    cJSON *x = cJSON_AddObjectToObject(parent, key);
    cJSON_AddNumberToObject(x, "n", m.n);
    cJSON_AddNumberToObject(x, "em", m.em);
    cJSON_AddNumberToObject(x, "nll", m.nll);
    cJSON_AddNumberToObject(x, "greedy", m.greedy);
    if (s->n_foil > 0)
        cJSON_AddNumberToObject(x, "margin", m.margin);
    else
        cJSON_AddNullToObject(x, "margin"); /* no item had foils */
}

void report_add_splits(cJSON *parent, const ReportRow *rows, int n) {
    cJSON *splits = cJSON_AddObjectToObject(parent, "splits");
    for (int i = 0; i < n; i++) {
        cJSON *sp = cJSON_AddObjectToObject(splits, rows[i].name);
        add_metrics(sp, "base", &rows[i].base);
        if (rows[i].base_only)
            cJSON_AddNullToObject(sp, "adapter");
        else
            add_metrics(sp, "adapter", &rows[i].adapter);
    }
}

void report_add_forms(cJSON *parent, const ReportRow *rows, int n) {
    cJSON *forms = cJSON_AddObjectToObject(parent, "forms");
    for (int i = 0; i < n; i++) {
        const ReportRow *r = &rows[i];
        if (!r->base_forms) continue;
        cJSON *sp = cJSON_AddObjectToObject(forms, r->name);
        for (int f = 0; f < FORM_COUNT; f++) {
            if (r->base_forms[f].n == 0) continue;
            cJSON *fo = cJSON_AddObjectToObject(sp, chain_form_name((ChainForm)f));
            add_metrics(fo, "base", &r->base_forms[f]);
            if (r->base_only || !r->adapter_forms)
                cJSON_AddNullToObject(fo, "adapter");
            else
                add_metrics(fo, "adapter", &r->adapter_forms[f]);
        }
    }
}
