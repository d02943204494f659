/*
 * report.c — the recall table and its JSON (see report.h).
 */
#include "report.h"

#include <cjson/cJSON.h>

const char REPORT_METRICS_NOTE[] =
    "em: greedy completion equals the conclusion; nll: mean conclusion token NLL; greedy: "
    "fraction of conclusion tokens that are the argmax; margin: mean foil NLL minus conclusion "
    "NLL";

void report_print_table(FILE *out, const ReportRow *rows, int n) {
    fprintf(out, "  %-17s %4s | %-17s | %-17s | %-17s\n", "split", "n", "exact match",
            "greedy tokens", "margin");
    fprintf(out, "  %-17s %4s | %-17s | %-17s | %-17s\n", "", "", "base -> adapter",
            "base -> adapter", "base -> adapter");
    for (int i = 0; i < n; i++) {
        EvalMetrics b = eval_metrics(&rows[i].base), a = eval_metrics(&rows[i].adapter);
        fprintf(out, "  %-17s %4d | %5.1f%% -> %5.1f%% | %5.1f%% -> %5.1f%% | %+6.3f -> %+6.3f\n",
                rows[i].name, a.n, 100 * b.em, 100 * a.em, 100 * b.greedy, 100 * a.greedy, b.margin,
                a.margin);
    }
}

static void add_metrics(cJSON *parent, const char *key, const EvalSums *s) {
    EvalMetrics m = eval_metrics(s);
    cJSON *x = cJSON_AddObjectToObject(parent, key);
    cJSON_AddNumberToObject(x, "n", m.n);
    cJSON_AddNumberToObject(x, "em", m.em);
    cJSON_AddNumberToObject(x, "nll", m.nll);
    cJSON_AddNumberToObject(x, "greedy", m.greedy);
    cJSON_AddNumberToObject(x, "margin", m.margin);
}

void report_add_splits(cJSON *parent, const ReportRow *rows, int n) {
    cJSON *splits = cJSON_AddObjectToObject(parent, "splits");
    for (int i = 0; i < n; i++) {
        cJSON *sp = cJSON_AddObjectToObject(splits, rows[i].name);
        add_metrics(sp, "base", &rows[i].base);
        add_metrics(sp, "adapter", &rows[i].adapter);
    }
}
