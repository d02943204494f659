/*
 * comm.h — the only place data crosses ranks.
 *
 * One interface, two backends: MPI (host buffers, CPU runs; always built) and NCCL (device
 * buffers, GPU runs; built with IMPRINT_CUDA). The model and the curriculum never include this
 * header; the training loop hands them the slice of work that is theirs.
 *
 * Every collective is deterministic for a given rank count: MPI's reductions over a fixed
 * communicator use a fixed algorithm per message size, and nothing here uses float atomics.
 */
#ifndef IMPRINT_COMM_H
#define IMPRINT_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef enum { COMM_BACKEND_MPI = 0, COMM_BACKEND_NCCL = 1 } CommBackend;

typedef struct Comm {
    int rank;       /* 0 .. size-1 */
    int size;       /* number of ranks */
    int local_rank; /* rank among the processes on this node (MPI_Comm_split_type) */
    int local_size; /* processes on this node */
    CommBackend backend;
    void *impl;                /* the MPI backend's state (comm_mpi.c) */
    struct CommDevice *device; /* the device backend's state (comm_nccl.c); NULL when none */
} Comm;

/* Initialises MPI (works without mpirun as a one-rank job). */
int comm_init(Comm *c, int *argc, char ***argv);
void comm_finalize(Comm *c);

/* A one-rank communicator over MPI_COMM_SELF inside an initialised MPI job (tests compare a
 * data-parallel run with the same work done alone). comm_finalize releases it. */
int comm_init_self(Comm *c);

/* Host-buffer collectives (MPI). In place. */
void comm_allreduce_sum_f32(Comm *c, float *buf, size_t n);
void comm_allreduce_sum_f64(Comm *c, double *buf, size_t n);
void comm_allreduce_sum_i64(Comm *c, int64_t *buf, size_t n);
void comm_allreduce_max_f64(Comm *c, double *buf, size_t n);
void comm_allreduce_min_u64(Comm *c, uint64_t *buf, size_t n);
void comm_allreduce_max_u64(Comm *c, uint64_t *buf, size_t n);
void comm_broadcast(Comm *c, void *buf, size_t bytes, int root);
void comm_barrier(Comm *c);

/* Ends every rank of the job with `code` (MPI_Abort). For fatal errors on one rank. */
_Noreturn void comm_abort(Comm *c, int code);

/* True when all ranks hold the same 64-bit value (e.g. a hash of their adapters). */
int comm_all_equal_u64(Comm *c, uint64_t value);

/* Collective agreement on failure: every rank passes whether it failed; all get the lowest
 * failing rank, or -1 when none failed. Lets a setup error print once and every rank exit
 * cleanly instead of hanging in the next collective. */
int comm_first_failure(Comm *c, int failed);

/* ---- rank-count-invariant sums (reproducibility = "invariant") ------------------------------
 *
 * Float sums over ranks change their bits with the rank count: each rank's partial sum covers
 * different terms, and MPI/NCCL add the partials in an order that follows the rank count. The
 * exact sums below do not. The caller cuts its work into "parts" whose boundaries do not depend
 * on the rank count (the virtual shards of a global batch) and hands over the parts it computed;
 * every element of every part is rounded once to int64 fixed point at a common scale 2^k, and
 * the integers are summed locally and across ranks. Integer addition is exact in any order, so
 * the result depends only on the set of parts, not on which rank computed which part.
 *
 * The scale comes from the all-reduced largest magnitude M and the total part count P: k is the
 * largest integer with P * M * 2^k <= 2^61, so no partial sum can overflow. Each element keeps
 * about 61 - log2(P) bits relative to M (far more than a float's 24).
 *
 * parts: n_local arrays of n values, `stride` elements apart; n_total: parts over all ranks;
 * acc: int64 scratch of n elements. Returns 1 with out[0..n) filled, or 0 when a part on any
 * rank holds a NaN or an infinity (out untouched); every rank gets the same answer. Collective:
 * two all-reduces (max of 2 doubles, sum of n int64). */
int comm_sum_exact_f32(Comm *c, const float *parts, int64_t n_local, size_t stride, size_t n,
                       int64_t n_total, int64_t *acc, float *out);
int comm_sum_exact_f64(Comm *c, const double *parts, int64_t n_local, size_t stride, size_t n,
                       int64_t n_total, int64_t *acc, double *out);

/* ---- the collective watchdog ----------------------------------------------------------------
 *
 * A rank that dies ends the job through the launcher (mpirun, srun --kill-on-bad-exit). A rank
 * that hangs does not: the others wait in their next collective forever. With the watchdog
 * armed, a collective that has not returned after `seconds` prints which collective on which
 * rank waited how long, and ends this process with COMM_EXIT_WATCHDOG; the launcher then ends
 * the rest of the job. A background thread checks twice a second; it makes no MPI calls. */
#define COMM_EXIT_WATCHDOG 4

/* Arms the watchdog (seconds > 0) or disarms it (0). Returns the previous setting, so a caller
 * can widen it around a collective that legitimately waits longer (rank 0 writing a checkpoint
 * while the others wait). */
double comm_watchdog(Comm *c, double seconds);

/* The communication libraries this build runs on, for run manifests: e.g. "Open MPI v4.1.4,
 * ..." (first line of MPI_Get_library_version) and, with CUDA, "NCCL 2.x.y". */
void comm_library_info(char *buf, size_t n);

/* Half-open slice [*first, *first + *count) of `total` items owned by `rank` of `size`:
 * item i goes to the rank r with floor(r*total/size) <= i < floor((r+1)*total/size). The cut
 * depends only on (total, size), so every rank computes every other rank's slice. */
void comm_slice(int64_t total, int rank, int size, int64_t *first, int64_t *count);

#endif
