/*
 * fault.h — the fault injector: tests make a run fail on purpose, in the ways real runs fail,
 * and check that it is handled as promised (README, "Faults"). Driven by one environment
 * variable so that the code under test is the production binary:
 *
 *   IMPRINT_FAULT="KIND@N[:RANK][,KIND@N[:RANK]]..."
 *
 *   exit@S[:R]       rank R (default 0) exits with status 1 in step S (1-based), before the
 *                    gradient all-reduce, without MPI_Finalize (a crashed process)
 *   kill@S[:R]       rank R sends itself SIGKILL in step S (the OOM killer, a dead node)
 *   hang@S[:R]       rank R stops making progress in step S (a stuck device or file system)
 *   nan@S[:R]        rank R's gradient of step S gets a NaN (overflow, bad data)
 *   signal@S[:R]     rank R raises SIGUSR1 after step S (Slurm's warning before the time limit)
 *   crash-write@N    rank 0 is killed halfway through writing the N-th checkpoint of this
 *                    process (some files written, the rest not)
 *   flip@N           after the N-th checkpoint of this process is committed, one byte in the
 *                    middle of its adapter.safetensors is flipped (bit rot on disk)
 */
#ifndef IMPRINT_FAULT_H
#define IMPRINT_FAULT_H

#include <stdint.h>

#include "util.h"

typedef enum {
    FAULT_EXIT,
    FAULT_KILL,
    FAULT_HANG,
    FAULT_NAN,
    FAULT_SIGNAL,
    FAULT_CRASH_WRITE,
    FAULT_FLIP,
    FAULT_KINDS
} FaultKind;

#define FAULT_MAX 8

typedef struct Fault {
    FaultKind kind;
    int64_t at; /* step (1-based) or checkpoint number (1-based) */
    int rank;
} Fault;

typedef struct FaultPlan {
    Fault f[FAULT_MAX];
    int n;
} FaultPlan;

/* Parses IMPRINT_FAULT (an empty plan when unset). A malformed value is an error naming the byte
 * offset and the accepted forms. */
int fault_plan_from_env(FaultPlan *p, Err *e);
int fault_parse(const char *spec, FaultPlan *p, Err *e);

/* True when the plan has fault `kind` at `at` for `rank`. */
int fault_planned(const FaultPlan *p, FaultKind kind, int64_t at, int rank);

/* Carries out exit/kill/hang planned for (step, rank); returns only when none is. */
void fault_in_step(const FaultPlan *p, int64_t step, int rank);

/* Flips one byte in the middle of `path` (flip@N). */
int fault_flip_byte(const char *path, Err *e);

#endif
