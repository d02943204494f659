/*
 * test_comm.c — the MPI backend of comm.h. Run as `mpirun -np N test_comm` (N = 1, 2, 4, ...).
 *
 * Every rank checks; the pass/fail counts are summed over ranks, rank 0 prints the closing
 * line, and every rank exits with the same status.
 */
#define _POSIX_C_SOURCE 200809L
#include "comm.h"
#include "testlib.h"
#include "util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Gathers one u64 per rank onto every rank: each rank fills its own slot, the rest are zero,
 * and the max over ranks leaves exactly each rank's value in its slot. */
static uint64_t *gather_u64(Comm *c, uint64_t mine) {
    uint64_t *all = xmalloc((size_t)c->size * sizeof *all, "gather buffer");
    all[c->rank] = mine;
    comm_allreduce_max_u64(c, all, (size_t)c->size);
    return all;
}

static void test_ranks(Comm *c) {
    CHECK(c->size >= 1, "size %d", c->size);
    CHECK(c->rank >= 0 && c->rank < c->size, "rank %d of %d", c->rank, c->size);
    CHECK(c->local_size >= 1 && c->local_size <= c->size, "rank %d: local_size %d of %d", c->rank,
          c->local_size, c->size);
    CHECK(c->local_rank >= 0 && c->local_rank < c->local_size, "rank %d: local_rank %d of %d",
          c->rank, c->local_rank, c->local_size);
    CHECK(c->backend == COMM_BACKEND_MPI, "backend %d", (int)c->backend);
    CHECK(c->impl != NULL, "impl set");
    CHECK(c->device == NULL, "no device backend after comm_init");

    /* Every rank knows its own distinct rank. */
    uint64_t *ranks = gather_u64(c, (uint64_t)c->rank + 1);
    for (int r = 0; r < c->size; r++)
        CHECK(ranks[r] == (uint64_t)r + 1, "slot %d holds rank %llu", r,
              (unsigned long long)ranks[r] - 1);
    xfree(ranks);

    /* Group ranks by host: on each host the local ranks are 0..local_size-1, each once. */
    char host[256] = {0};
    CHECK(gethostname(host, sizeof host - 1) == 0, "gethostname");
    uint64_t *hosts = gather_u64(c, hash_fnv1a64(host, strlen(host), 1469598103934665603ULL));
    uint64_t *lrank = gather_u64(c, (uint64_t)c->local_rank);
    uint64_t *lsize = gather_u64(c, (uint64_t)c->local_size);
    if (c->rank == 0) {
        for (int r = 0; r < c->size; r++) {
            int on_host = 0;
            unsigned char *seen = xmalloc((size_t)c->size, "seen flags");
            for (int q = 0; q < c->size; q++) {
                if (hosts[q] != hosts[r]) continue;
                on_host++;
                CHECK(lsize[q] == lsize[r],
                      "ranks %d and %d on one host disagree on local_size "
                      "(%llu vs %llu)",
                      q, r, (unsigned long long)lsize[q], (unsigned long long)lsize[r]);
                if (lrank[q] < (uint64_t)c->size) {
                    CHECK(!seen[lrank[q]], "local rank %llu appears twice on rank %d's host",
                          (unsigned long long)lrank[q], r);
                    seen[lrank[q]] = 1;
                }
                CHECK(lrank[q] < lsize[q], "rank %d: local rank %llu >= local size %llu", q,
                      (unsigned long long)lrank[q], (unsigned long long)lsize[q]);
            }
            CHECK((uint64_t)on_host == lsize[r], "rank %d: %d ranks on its host, local_size %llu",
                  r, on_host, (unsigned long long)lsize[r]);
            xfree(seen);
        }
    }
    xfree(hosts);
    xfree(lrank);
    xfree(lsize);
}

static void test_sums(Comm *c) {
    const int64_t S = c->size, r = c->rank;
    enum { N = 37 };

    float f[N];
    for (int i = 0; i < N; i++) f[i] = (float)(r + 1) * (float)(i - 5);
    comm_allreduce_sum_f32(c, f, N);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += f[i] != (float)(S * (S + 1) / 2 * (i - 5));
    CHECK(bad == 0, "rank %d: f32 sum: %d of %d wrong (f[0] = %g)", c->rank, bad, N, f[0]);

    double d[N];
    for (int i = 0; i < N; i++) d[i] = 0.25 * (double)r - (double)i;
    comm_allreduce_sum_f64(c, d, N);
    bad = 0;
    for (int i = 0; i < N; i++) bad += d[i] != 0.25 * (double)(S * (S - 1) / 2) - (double)(S * i);
    CHECK(bad == 0, "rank %d: f64 sum: %d of %d wrong (d[1] = %.17g)", c->rank, bad, N, d[1]);

    /* Beyond 2^53: an i64 sum must not go through double. */
    int64_t q[N];
    const int64_t big = (int64_t)1 << 55;
    for (int i = 0; i < N; i++) q[i] = big + r * 3 - i;
    comm_allreduce_sum_i64(c, q, N);
    bad = 0;
    for (int i = 0; i < N; i++) bad += q[i] != S * big + 3 * (S * (S - 1) / 2) - S * i;
    CHECK(bad == 0, "rank %d: i64 sum: %d of %d wrong (q[0] = %lld)", c->rank, bad, N,
          (long long)q[0]);

    int64_t one = 1; /* a scalar reduction: count 1 */
    comm_allreduce_sum_i64(c, &one, 1);
    CHECK(one == S, "rank %d: scalar i64 sum %lld, want %lld", c->rank, (long long)one,
          (long long)S);

    double m[3] = {(double)r, -(double)r - 10.0, (double)((r * 7) % S)};
    comm_allreduce_max_f64(c, m, 3);
    CHECK(m[0] == (double)(S - 1), "max f64 %g want %g", m[0], (double)(S - 1));
    CHECK(m[1] == -10.0, "max f64 of negatives %g want -10", m[1]);
    CHECK(m[2] == (double)(S - 1), "max f64 of permuted %g", m[2]);

    /* Unsigned: values near 2^64 would break a signed reduction. */
    uint64_t lo[2] = {UINT64_MAX - (uint64_t)r, (uint64_t)r + 5};
    uint64_t hi[2] = {lo[0], lo[1]};
    comm_allreduce_min_u64(c, lo, 2);
    comm_allreduce_max_u64(c, hi, 2);
    CHECK(lo[0] == UINT64_MAX - (uint64_t)(S - 1), "min u64 %llu", (unsigned long long)lo[0]);
    CHECK(lo[1] == 5, "min u64 %llu want 5", (unsigned long long)lo[1]);
    CHECK(hi[0] == UINT64_MAX, "max u64 %llu", (unsigned long long)hi[0]);
    CHECK(hi[1] == (uint64_t)(S + 4), "max u64 %llu", (unsigned long long)hi[1]);

    /* n = 0 is a no-op (and every rank still returns). */
    comm_allreduce_sum_f32(c, NULL, 0);
    comm_allreduce_max_u64(c, NULL, 0);
    CHECK(1, "zero-length reductions return");
}

typedef struct Msg {
    int32_t step;
    double lr;
    char name[20];
    uint64_t hash;
} Msg;

static void make_msg(Msg *m, int root) {
    memset(m, 0, sizeof *m); /* padding too, so memcmp is meaningful */
    m->step = 1000 + root;
    m->lr = 3e-4 / (root + 1);
    snprintf(m->name, sizeof m->name, "from rank %d", root);
    m->hash = 0xfeedfacecafebeefULL ^ (uint64_t)root;
}

static void test_broadcast(Comm *c) {
    int roots[2] = {0, c->size - 1};
    for (int k = 0; k < 2; k++) {
        Msg want, got;
        make_msg(&want, roots[k]);
        if (c->rank == roots[k]) {
            got = want;
        } else {
            memset(&got, 0xa5, sizeof got);
        }
        comm_broadcast(c, &got, sizeof got, roots[k]);
        CHECK(memcmp(&got, &want, sizeof got) == 0,
              "rank %d: broadcast from %d: got step %d "
              "name \"%.20s\"",
              c->rank, roots[k], got.step, got.name);
    }
    /* A larger byte buffer, not a multiple of anything in particular. */
    size_t n = 100003;
    unsigned char *b = xmalloc(n, "broadcast bytes");
    for (size_t i = 0; i < n; i++)
        b[i] = c->rank == 0 ? (unsigned char)(i * 31 + 7) : (unsigned char)c->rank;
    comm_broadcast(c, b, n, 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += b[i] != (unsigned char)(i * 31 + 7);
    CHECK(bad == 0, "rank %d: byte broadcast: %zu of %zu wrong", c->rank, bad, n);
    xfree(b);
    comm_barrier(c);
}

static void test_all_equal(Comm *c) {
    CHECK(comm_all_equal_u64(c, 0x0123456789abcdefULL), "equal values are equal");
    CHECK(comm_all_equal_u64(c, 0), "all zero is equal");
    CHECK(comm_all_equal_u64(c, UINT64_MAX), "all ones is equal");
    int last = c->rank == c->size - 1;
    int eq = comm_all_equal_u64(c, last ? 42 : 43);
    CHECK(eq == (c->size == 1), "rank %d: one differing rank: all_equal %d", c->rank, eq);
    eq = comm_all_equal_u64(c, last ? (1ULL << 63) : 0); /* differs in the top bit only */
    CHECK(eq == (c->size == 1), "rank %d: top-bit difference: all_equal %d", c->rank, eq);
    eq = comm_all_equal_u64(c, (uint64_t)c->rank);
    CHECK(eq == (c->size == 1), "rank %d: distinct values: all_equal %d", c->rank, eq);
}

/* Checks the slices of `total` over `size` ranks: contiguous, covering [0,total) once, sizes
 * within 1 of each other, and first == floor(r*total/size) computed independently as
 * r*q + floor(r*rem/size) with q, rem = divmod(total, size). Returns the number of problems. */
static long check_slices(int64_t total, int size) {
    long bad = 0;
    int64_t next = 0, min = INT64_MAX, max = -1;
    const int64_t q = total / size, rem = total % size;
    for (int r = 0; r < size; r++) {
        int64_t first = -1, count = -1;
        comm_slice(total, r, size, &first, &count);
        int64_t want = (int64_t)r * q + (int64_t)r * rem / size;
        if (first != next || first != want || count < 0) {
            if (bad++ < 5)
                fprintf(stderr,
                        "slice total=%lld size=%d rank %d: first %lld count %lld, "
                        "want first %lld\n",
                        (long long)total, size, r, (long long)first, (long long)count,
                        (long long)want);
        }
        next = first + count;
        if (count < min) min = count;
        if (count > max) max = count;
    }
    bad += next != total;
    bad += max - min > 1;
    return bad;
}

static void test_slice(void) {
    const int64_t totals[] = {0, 1, 7, 8, 1000};
    for (size_t t = 0; t < sizeof totals / sizeof *totals; t++)
        for (int size = 1; size <= 9; size++)
            CHECK(check_slices(totals[t], size) == 0, "slices of %lld over %d",
                  (long long)totals[t], size);

    /* Fewer items than ranks: each rank gets 0 or 1, and the ones go to evenly spread ranks. */
    int64_t first, count;
    comm_slice(3, 0, 9, &first, &count);
    CHECK(first == 0 && count == 0, "slice 0 of 3 over 9: [%lld,+%lld)", (long long)first,
          (long long)count);
    comm_slice(3, 8, 9, &first, &count);
    CHECK(first == 2 && count == 1, "slice 8 of 3 over 9: [%lld,+%lld)", (long long)first,
          (long long)count);

    /* Huge totals: r*total exceeds 2^63 for the last two; the cut must still be exact. */
    const int64_t T40 = (int64_t)1 << 40;
    CHECK(check_slices(T40, 1 << 20) == 0, "slices of 2^40 over 2^20");
    CHECK(check_slices(T40 + 12345, 1000003) == 0, "slices of 2^40+12345 over 1000003");
    CHECK(check_slices(INT64_MAX, 3) == 0, "slices of INT64_MAX over 3");
    CHECK(check_slices(((int64_t)1 << 62) + 1, 1 << 20) == 0, "slices of 2^62+1 over 2^20");
    comm_slice(T40, (1 << 20) - 1, 1 << 20, &first, &count);
    CHECK(first == T40 - (1 << 20) && count == 1 << 20, "last slice of 2^40 over 2^20");
    comm_slice(INT64_MAX, 2, 3, &first, &count);
    CHECK(first + count == INT64_MAX && first == INT64_MAX / 3 * 2,
          "last slice of INT64_MAX over 3: [%lld,+%lld)", (long long)first, (long long)count);
}

static void test_large(Comm *c) {
    const size_t n = ((size_t)1 << 20) + 12345;
    float *buf = xmalloc(n * sizeof *buf, "large buffer");
    for (size_t i = 0; i < n; i++) buf[i] = (float)((i + (size_t)c->rank) % 5) - 2.0f;
    comm_allreduce_sum_f32(c, buf, n);
    size_t bad = 0, first_bad = n;
    for (size_t i = 0; i < n; i++) {
        int64_t want = 0;
        for (int r = 0; r < c->size; r++) want += (int64_t)((i + (size_t)r) % 5) - 2;
        if (buf[i] != (float)want) {
            if (first_bad == n) first_bad = i;
            bad++;
        }
    }
    CHECK(bad == 0, "rank %d: large f32 sum: %zu of %zu wrong (first at %zu)", c->rank, bad, n,
          first_bad);
    xfree(buf);
}

/* Sums the counts over ranks; rank 0 prints the closing line; all ranks return one status. */
static int finish(Comm *c) {
    int64_t counts[2] = {tl_passed, tl_failed};
    comm_allreduce_sum_i64(c, counts, 2);
    tl_passed = (int)counts[0];
    tl_failed = (int)counts[1];
    if (c->rank == 0) return tl_finish("test_comm");
    return tl_failed == 0 && tl_passed > 0 ? 0 : 1;
}

/* comm_sum_exact_*: the same parts, spread over the ranks in two different ways (sliced, and
 * all on the last rank), give the same bits, equal to the exact sum rounded; a NaN anywhere is
 * reported on every rank. */
static void test_exact(Comm *c) {
    enum { P = 7, N = 1000 };
    static float parts[P][N];
    static double dparts[P][N];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int p = 0; p < P; p++)
        for (int i = 0; i < N; i++) { /* magnitudes from 1e-9 to 1e3, both signs */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double m = (double)(x >> 11) / 9007199254740992.0;
            double v = (m - 0.5) * pow(10.0, (double)(i % 13) - 9.0);
            parts[p][i] = (float)v;
            dparts[p][i] = v;
        }
    int64_t first, count;
    comm_slice(P, c->rank, c->size, &first, &count);
    int64_t *acc = xmalloc(sizeof(int64_t) * N, "acc");
    float *a = xmalloc(sizeof(float) * N, "a"), *b = xmalloc(sizeof(float) * N, "b");
    double *da = xmalloc(sizeof(double) * N, "da"), *db = xmalloc(sizeof(double) * N, "db");
    int ok1 = comm_sum_exact_f32(c, parts[first], count, N, N, P, acc, a);
    const int last = c->rank == c->size - 1;
    int ok2 = comm_sum_exact_f32(c, parts[0], last ? P : 0, N, N, P, acc, b);
    int ok3 = comm_sum_exact_f64(c, dparts[first], count, N, N, P, acc, da);
    int ok4 = comm_sum_exact_f64(c, dparts[0], last ? P : 0, N, N, P, acc, db);
    CHECK(ok1 && ok2 && ok3 && ok4, "finite parts report finite");
    CHECK(memcmp(a, b, sizeof(float) * N) == 0, "rank %d: f32 exact sum depends on the split",
          c->rank);
    CHECK(memcmp(da, db, sizeof(double) * N) == 0, "rank %d: f64 exact sum depends on the split",
          c->rank);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        long double want = 0, mag = 0;
        for (int p = 0; p < P; p++) want += parts[p][i], mag += fabsl((long double)parts[p][i]);
        /* one rounding to float of a sum exact to ~2^-55 of the largest element */
        if (fabsl((long double)a[i] - want) > 6e-8L * fabsl(want) + 1e-15L * 1e3L) bad++;
    }
    CHECK(bad == 0, "rank %d: %d of %d exact f32 sums off the long-double reference", c->rank, bad,
          N);
    /* uint64 hash equality across ranks: every rank holds the same bits */
    CHECK(comm_all_equal_u64(c, hash_fnv1a64(a, sizeof(float) * N, 0)), "ranks agree");
    if (c->rank == 0) parts[first][3] = NAN; /* rank 0 owns part 0 */
    int ok5 = comm_sum_exact_f32(c, parts[first], count, N, N, P, acc, a);
    CHECK(!ok5, "rank %d: a NaN on rank 0 is reported here", c->rank);
    parts[0][3] = 1.0f;
    xfree(acc);
    xfree(a);
    xfree(b);
    xfree(da);
    xfree(db);
}

int main(int argc, char **argv) {
    Comm c;
    comm_init(&c, &argc, &argv);
    test_ranks(&c);
    test_sums(&c);
    test_broadcast(&c);
    test_exact(&c);
    test_all_equal(&c);
    test_slice();
    test_large(&c);
    int status = finish(&c);
    comm_finalize(&c);
    if (c.impl != NULL) {
        fprintf(stderr, "FAIL rank %d: comm_finalize left impl set\n", c.rank);
        status = 1;
    }
    return status;
}
