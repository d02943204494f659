/*
 * comm_mpi.c — the MPI backend of comm.h: host-buffer collectives, node-local ranks, the
 * work split, and job-wide abort.
 *
 * Every MPI call goes through MPI_CHECK: the world communicator returns errors instead of
 * aborting inside MPI, and a failed call prints which call, where and why before ending the
 * whole job. MPI counts are int, so buffers longer than COMM_MPI_MAX_CHUNK elements are
 * reduced in fixed chunks (the chunking depends only on n, so results stay deterministic).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include "comm.h"

#if defined(IMPRINT_WITH_CUDA)
#include <nccl.h>

#include "comm_nccl.h"
#endif
#include "util.h"

#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Largest element count handed to one MPI call. Overridable at compile time so the chunked
 * path can be tested with small buffers. */
#ifndef COMM_MPI_MAX_CHUNK
#define COMM_MPI_MAX_CHUNK INT_MAX
#endif

/* The collective watchdog (comm.h): the main thread stamps when it enters a collective and
 * clears the stamp when it returns; the watchdog thread reads the stamp. */
typedef struct Watchdog {
    pthread_t thread;
    int started;
    int rank;
    atomic_llong entered_ns;    /* CLOCK_MONOTONIC when the current collective began; 0 = none */
    atomic_llong timeout_ns;    /* 0 = disarmed */
    atomic_int stop;            /* comm_finalize asks the thread to end */
    _Atomic(const char *) what; /* the collective being waited in (a string literal) */
} Watchdog;

typedef struct CommMpi {
    MPI_Comm world; /* MPI_COMM_WORLD, with MPI_ERRORS_RETURN */
    MPI_Comm node;  /* the ranks sharing this node's memory */
    int owns_mpi;   /* comm_init called MPI_Init, so comm_finalize calls MPI_Finalize */
    Watchdog wd;
} CommMpi;

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

_Noreturn static void mpi_fail(int rank, const char *call, const char *file, int line, int rc) {
    char msg[MPI_MAX_ERROR_STRING + 1];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) {
        snprintf(msg, sizeof msg, "MPI error code %d", rc);
    } else {
        msg[len < 0 ? 0 : len] = '\0';
    }
    fflush(stdout);
    fprintf(stderr, "imprint: error: rank %d: %s failed at %s:%d: %s\n", rank, call,
            base_name(file), line, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    abort();
}

/* MPI_CHECK(rank, MPI_Fn, args...) calls MPI_Fn(args...) and ends the job if it fails. */
#define MPI_CHECK(rank, fn, ...)                                                                   \
    do {                                                                                           \
        int rc_ = fn(__VA_ARGS__);                                                                 \
        if (rc_ != MPI_SUCCESS) mpi_fail((rank), #fn, __FILE__, __LINE__, rc_);                    \
    } while (0)

static CommMpi *impl_of(Comm *c, const char *fn) {
    if (!c || !c->impl) {
        fprintf(stderr, "imprint: error: %s called before comm_init (internal error)\n", fn);
        fflush(stderr);
        abort();
    }
    return (CommMpi *)c->impl;
}

/* ---- the watchdog ------------------------------------------------------------------------- */

static long long monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *watchdog_main(void *arg) {
    Watchdog *wd = arg;
    const struct timespec tick = {0, 500000000L};
    while (!atomic_load(&wd->stop)) {
        nanosleep(&tick, NULL);
        long long since = atomic_load(&wd->entered_ns), limit = atomic_load(&wd->timeout_ns);
        if (since == 0 || limit == 0) continue;
        long long waited = monotonic_ns() - since;
        if (waited < limit || atomic_load(&wd->entered_ns) != since) continue;
        /* stdio is thread-safe; the main thread is blocked inside MPI */
        fflush(stdout);
        fprintf(stderr,
                "imprint: error: rank %d: %s has waited %.0f s for the other ranks: a rank has "
                "died or hangs (its own log says where). The watchdog ends the job (exit %d); "
                "raise run.watchdog if a step legitimately takes longer.\n",
                wd->rank, atomic_load(&wd->what), waited / 1e9, COMM_EXIT_WATCHDOG);
        fflush(stderr);
        _exit(COMM_EXIT_WATCHDOG);
    }
    return NULL;
}

static inline void wd_enter(CommMpi *m, const char *what) {
    if (!m->wd.started) return;
    atomic_store(&m->wd.what, what);
    atomic_store(&m->wd.entered_ns, monotonic_ns());
}

static inline void wd_leave(CommMpi *m) {
    if (m->wd.started) atomic_store(&m->wd.entered_ns, 0);
}

double comm_watchdog(Comm *c, double seconds) {
    CommMpi *m = impl_of(c, __func__);
    double before = atomic_load(&m->wd.timeout_ns) / 1e9;
    atomic_store(&m->wd.timeout_ns, seconds > 0 ? (long long)(seconds * 1e9) : 0);
    if (seconds > 0 && !m->wd.started) {
        m->wd.rank = c->rank;
        if (pthread_create(&m->wd.thread, NULL, watchdog_main, &m->wd) != 0)
            fatal("rank %d: cannot start the watchdog thread", c->rank);
        m->wd.started = 1;
    }
    return before;
}

void comm_library_info(char *buf, size_t n) {
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS) len = 0;
    v[len > 0 ? len : 0] = '\0';
    char *nl = strpbrk(v, ",\n");
    if (nl) *nl = '\0'; /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
    int version = 0, subversion = 0;
    MPI_Get_version(&version, &subversion);
#if defined(IMPRINT_WITH_CUDA)
    snprintf(buf, n, "%s (MPI %d.%d); NCCL %d.%d.%d", v[0] ? v : "MPI", version, subversion,
             NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
#else
    snprintf(buf, n, "%s (MPI %d.%d)", v[0] ? v : "MPI", version, subversion);
#endif
}

/* ---- setup ---------------------------------------------------------------------------------- */

int comm_init(Comm *c, int *argc, char ***argv) {
    memset(c, 0, sizeof *c);
    int initialized = 0, finalized = 0;
    MPI_CHECK(-1, MPI_Initialized, &initialized);
    MPI_CHECK(-1, MPI_Finalized, &finalized);
    if (finalized) fatal("comm_init: MPI was already finalised; comm_init must come first");

    CommMpi *m = xmalloc(sizeof *m, "MPI communicator state");
    memset(m, 0, sizeof *m);
    if (!initialized) {
        MPI_CHECK(-1, MPI_Init, argc, argv);
        m->owns_mpi = 1;
    }
    m->world = MPI_COMM_WORLD;
    MPI_CHECK(-1, MPI_Comm_set_errhandler, m->world, MPI_ERRORS_RETURN);
    MPI_CHECK(-1, MPI_Comm_rank, m->world, &c->rank);
    MPI_CHECK(c->rank, MPI_Comm_size, m->world, &c->size);
    MPI_CHECK(c->rank, MPI_Comm_split_type, m->world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
              &m->node);
    MPI_CHECK(c->rank, MPI_Comm_set_errhandler, m->node, MPI_ERRORS_RETURN);
    MPI_CHECK(c->rank, MPI_Comm_rank, m->node, &c->local_rank);
    MPI_CHECK(c->rank, MPI_Comm_size, m->node, &c->local_size);
    c->backend = COMM_BACKEND_MPI;
    c->impl = m;
    return 0;
}

int comm_init_self(Comm *c) {
    memset(c, 0, sizeof *c);
    int initialized = 0;
    MPI_CHECK(-1, MPI_Initialized, &initialized);
    if (!initialized) fatal("comm_init_self: call comm_init first");
    CommMpi *m = xmalloc(sizeof *m, "MPI communicator state");
    memset(m, 0, sizeof *m);
    m->world = MPI_COMM_SELF;
    MPI_CHECK(-1, MPI_Comm_dup, MPI_COMM_SELF, &m->node);
    c->rank = 0;
    c->size = 1;
    c->local_rank = 0;
    c->local_size = 1;
    c->backend = COMM_BACKEND_MPI;
    c->impl = m;
    return 0;
}

void comm_finalize(Comm *c) {
    if (!c || !c->impl) return;
    CommMpi *m = c->impl;
    if (m->wd.started) {
        atomic_store(&m->wd.stop, 1);
        pthread_join(m->wd.thread, NULL);
    }
#if defined(IMPRINT_WITH_CUDA)
    if (c->device) comm_nccl_finalize(c); /* a device backend still held */
#endif
    if (m->node != MPI_COMM_NULL) MPI_CHECK(c->rank, MPI_Comm_free, &m->node);
    if (m->owns_mpi) MPI_CHECK(c->rank, MPI_Finalize);
    xfree(m);
    c->impl = NULL;
}

/* In-place all-reduce of n elements of `elem` bytes, in chunks of at most COMM_MPI_MAX_CHUNK. */
static void allreduce(Comm *c, void *buf, size_t n, size_t elem, MPI_Datatype type, MPI_Op op,
                      const char *fn) {
    CommMpi *m = impl_of(c, fn);
    char *p = buf;
    while (n > 0) {
        size_t k = n < (size_t)COMM_MPI_MAX_CHUNK ? n : (size_t)COMM_MPI_MAX_CHUNK;
        wd_enter(m, fn);
        MPI_CHECK(c->rank, MPI_Allreduce, MPI_IN_PLACE, p, (int)k, type, op, m->world);
        wd_leave(m);
        p += k * elem;
        n -= k;
    }
}

void comm_allreduce_sum_f32(Comm *c, float *buf, size_t n) {
    allreduce(c, buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM, __func__);
}

void comm_allreduce_sum_f64(Comm *c, double *buf, size_t n) {
    allreduce(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM, __func__);
}

void comm_allreduce_sum_i64(Comm *c, int64_t *buf, size_t n) {
    allreduce(c, buf, n, sizeof *buf, MPI_INT64_T, MPI_SUM, __func__);
}

void comm_allreduce_max_f64(Comm *c, double *buf, size_t n) {
    allreduce(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_MAX, __func__);
}

void comm_allreduce_min_u64(Comm *c, uint64_t *buf, size_t n) {
    allreduce(c, buf, n, sizeof *buf, MPI_UINT64_T, MPI_MIN, __func__);
}

void comm_allreduce_max_u64(Comm *c, uint64_t *buf, size_t n) {
    allreduce(c, buf, n, sizeof *buf, MPI_UINT64_T, MPI_MAX, __func__);
}

void comm_broadcast(Comm *c, void *buf, size_t bytes, int root) {
    CommMpi *m = impl_of(c, __func__);
    if (root < 0 || root >= c->size) {
        fprintf(stderr, "imprint: error: rank %d: comm_broadcast root %d is not in 0..%d\n",
                c->rank, root, c->size - 1);
        comm_abort(c, 1);
    }
    char *p = buf;
    while (bytes > 0) {
        size_t k = bytes < (size_t)COMM_MPI_MAX_CHUNK ? bytes : (size_t)COMM_MPI_MAX_CHUNK;
        wd_enter(m, __func__);
        MPI_CHECK(c->rank, MPI_Bcast, p, (int)k, MPI_BYTE, root, m->world);
        wd_leave(m);
        p += k;
        bytes -= k;
    }
}

void comm_barrier(Comm *c) {
    CommMpi *m = impl_of(c, __func__);
    wd_enter(m, __func__);
    MPI_CHECK(c->rank, MPI_Barrier, m->world);
    wd_leave(m);
}

_Noreturn void comm_abort(Comm *c, int code) {
    fflush(stdout);
    fflush(stderr);
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) {
        MPI_Comm world = (c && c->impl) ? ((CommMpi *)c->impl)->world : MPI_COMM_WORLD;
        MPI_Abort(world, code);
    }
    abort();
}

int comm_all_equal_u64(Comm *c, uint64_t value) {
    /* One MAX reduction gives both extremes: max(~v) == ~min(v). */
    uint64_t v[2] = {value, ~value};
    comm_allreduce_max_u64(c, v, 2);
    uint64_t max = v[0], min = ~v[1];
    return min == max;
}

int comm_first_failure(Comm *c, int failed) {
    uint64_t v = failed ? (uint64_t)(c->size - c->rank) : 0; /* max picks the lowest rank */
    comm_allreduce_max_u64(c, &v, 1);
    return v ? c->size - (int)v : -1;
}

void comm_slice(int64_t total, int rank, int size, int64_t *first, int64_t *count) {
    if (total < 0 || size < 1 || rank < 0 || rank >= size)
        fatal("comm_slice: bad arguments total=%lld rank=%d size=%d (internal error)",
              (long long)total, rank, size);
    /* r*total needs up to 94 bits for any int64 total and int rank: exact in 128 bits. */
    __extension__ typedef unsigned __int128 u128;
    u128 lo = (u128)(uint64_t)rank * (uint64_t)total / (uint64_t)size;
    u128 hi = (u128)(uint64_t)(rank + 1) * (uint64_t)total / (uint64_t)size;
    *first = (int64_t)lo;
    *count = (int64_t)(hi - lo);
}
