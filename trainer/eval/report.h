/*
 * report.h — the one writer of recall results: the table printed for people and the JSON
 * object written as eval.json (training stages) or `imprint eval --json`.
 *
 *   recall after stage 4 'free' (step 1400):
 *     split                n | exact match       | greedy tokens     | margin
 *                            | base -> adapter   | base -> adapter   | base -> adapter
 *     train              108 |   0.0% ->  69.4% |  18.8% ->  95.1% | +0.081 -> +1.338
 *
 * and, where the per-form sums are known, the same numbers by logical form (report_print_forms,
 * "forms" in the JSON).
 */
#ifndef IMPRINT_REPORT_H
#define IMPRINT_REPORT_H

#include <stdio.h>

#include "eval.h"

typedef struct cJSON cJSON;

/* One row of results: a split (or "external") scored with the base model and the adapter. */
typedef struct ReportRow {
    const char *name;
    EvalSums base, adapter;
    int base_only; /* no adapter was scored: its columns show "-", its JSON is null */
    /* the split's sums per logical form ([FORM_COUNT], eval_form_sums), NULL when not known;
     * adapter_forms is not read for a base_only row */
    const EvalSums *base_forms, *adapter_forms;
} ReportRow;

/* The table's two header lines and one line per row. A split without foils has no margin: the
 * table shows "n/a". */
void report_print_table(FILE *out, const ReportRow *rows, int n);

/* The breakdown by logical form of the rows that have one, after the split table: a line per
 * form, then a line per split with items of that form (n, exact match and margin, base ->
 * adapter):
 *
 *     form / split         n | exact match       | margin
 *                            | base -> adapter   | base -> adapter
 *     modus-ponens
 *      train               3 |   0.0% ->  66.7% | +0.081 -> +1.338
 */
void report_print_forms(FILE *out, const ReportRow *rows, int n);

/* Adds {"<name>": {"base": {n, em, nll, greedy, margin}, "adapter": {...}}, ...} to parent as
 * "splits"; "adapter" is null for a base_only row, "margin" null for a split without foils. */
void report_add_splits(cJSON *parent, const ReportRow *rows, int n);

/* Adds {"<split>": {"<form>": {"base": {...}, "adapter": {...}}, ...}, ...} to parent as
 * "forms": the same metrics as "splits" for each form with items in the split (rows without
 * form sums are left out). */
void report_add_forms(cJSON *parent, const ReportRow *rows, int n);

/* The one-line description of the metrics, as eval.json states it. */
extern const char REPORT_METRICS_NOTE[];

#endif
