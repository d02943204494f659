/*
 * fault.c — the fault injector (see fault.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "fault.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const KIND_NAMES[FAULT_KINDS] = {"exit",   "kill",        "hang", "nan",
                                                    "signal", "crash-write", "flip"};

static const char FORMS[] =
    "KIND@STEP[:RANK] with KIND one of exit, kill, hang, nan, signal (e.g. exit@12:1), or "
    "crash-write@N, flip@N (the N-th checkpoint); several are separated by commas";

int fault_parse(const char *spec, FaultPlan *p, Err *e) {
    memset(p, 0, sizeof *p);
    const char *s = spec;
    while (*s) {
        const char *start = s;
        size_t len = strcspn(s, "@,");
        int kind = -1;
        for (int k = 0; k < FAULT_KINDS; k++)
            if (strlen(KIND_NAMES[k]) == len && strncmp(s, KIND_NAMES[k], len) == 0) kind = k;
        if (kind < 0)
            return err_set(e, "IMPRINT_FAULT=\"%s\": unknown fault '%.*s' at byte %d; expected %s",
                           spec, (int)len, s, (int)(start - spec), FORMS);
        s += len;
        if (*s != '@')
            return err_set(e, "IMPRINT_FAULT=\"%s\": '%s' needs '@N' at byte %d; expected %s", spec,
                           KIND_NAMES[kind], (int)(s - spec), FORMS);
        s++;
        char *end = NULL;
        errno = 0;
        long long at = strtoll(s, &end, 10);
        if (end == s || errno || at < 1)
            return err_set(e,
                           "IMPRINT_FAULT=\"%s\": '%s@' needs a positive number at byte %d; "
                           "expected %s",
                           spec, KIND_NAMES[kind], (int)(s - spec), FORMS);
        s = end;
        long rank = 0;
        if (*s == ':') {
            if (kind == FAULT_CRASH_WRITE || kind == FAULT_FLIP)
                return err_set(e,
                               "IMPRINT_FAULT=\"%s\": '%s' happens on rank 0 (which writes "
                               "checkpoints) and takes no ':RANK' (byte %d)",
                               spec, KIND_NAMES[kind], (int)(s - spec));
            s++;
            errno = 0;
            rank = strtol(s, &end, 10);
            if (end == s || errno || rank < 0 || rank > 1000000)
                return err_set(e, "IMPRINT_FAULT=\"%s\": bad rank at byte %d; expected %s", spec,
                               (int)(s - spec), FORMS);
            s = end;
        }
        if (*s && *s != ',')
            return err_set(e, "IMPRINT_FAULT=\"%s\": unexpected '%c' at byte %d; expected %s", spec,
                           *s, (int)(s - spec), FORMS);
        if (p->n == FAULT_MAX)
            return err_set(e, "IMPRINT_FAULT=\"%s\": more than %d faults", spec, FAULT_MAX);
        p->f[p->n++] = (Fault){(FaultKind)kind, at, (int)rank};
        if (*s == ',') s++;
    }
    return 0;
}

int fault_plan_from_env(FaultPlan *p, Err *e) {
    const char *v = getenv("IMPRINT_FAULT");
    if (!v || !*v) {
        memset(p, 0, sizeof *p);
        return 0;
    }
    return fault_parse(v, p, e);
}

int fault_planned(const FaultPlan *p, FaultKind kind, int64_t at, int rank) {
    for (int i = 0; i < p->n; i++)
        if (p->f[i].kind == kind && p->f[i].at == at && p->f[i].rank == rank) return 1;
    return 0;
}

void fault_in_step(const FaultPlan *p, int64_t step, int rank) {
    if (p->n == 0) return;
    if (fault_planned(p, FAULT_EXIT, step, rank)) {
        fprintf(stderr, "imprint: fault injection: rank %d exits in step %lld\n", rank,
                (long long)step);
        fflush(NULL);
        _exit(1);
    }
    if (fault_planned(p, FAULT_KILL, step, rank)) {
        fprintf(stderr, "imprint: fault injection: rank %d is killed (SIGKILL) in step %lld\n",
                rank, (long long)step);
        fflush(NULL);
        raise(SIGKILL);
    }
    if (fault_planned(p, FAULT_HANG, step, rank)) {
        fprintf(stderr, "imprint: fault injection: rank %d hangs in step %lld\n", rank,
                (long long)step);
        fflush(NULL);
        for (;;) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL); /* signals only interrupt the sleep; the hang goes on */
        }
    }
}

int fault_flip_byte(const char *path, Err *e) {
    FILE *fp = fopen(path, "r+b");
    if (!fp) return err_set(e, "fault injection: %s: cannot open: %s", path, strerror(errno));
    long size = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1, at = size / 2;
    int c = EOF;
    int ok = size > 0 && fseek(fp, at, SEEK_SET) == 0 && (c = fgetc(fp)) != EOF &&
             fseek(fp, at, SEEK_SET) == 0 && fputc(c ^ 0x01, fp) != EOF;
    if (fclose(fp) != 0) ok = 0;
    if (!ok) return err_set(e, "fault injection: %s: cannot flip the byte at %ld", path, at);
    fprintf(stderr, "imprint: fault injection: flipped the byte at offset %ld of %s\n", at, path);
    return 0;
}
