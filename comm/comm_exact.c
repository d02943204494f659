/*
 * comm_exact.c — rank-count-invariant sums in int64 fixed point (see comm.h).
 *
 * Built on two collectives of the backend: an all-reduce max (exact: max is order-free) and an
 * all-reduce sum of int64 (exact: integer addition is associative). The float work around them
 * is elementwise and identical on every rank, so it cannot depend on the rank count either.
 * The idea is GFDL FMS's mpp_reproducing_sum (Hallberg & Adcroft), reduced to one scale.
 */
#include "comm.h"

#include <math.h>

/* The common scale exponent: the largest k with n_total * max * 2^k <= 2^61. */
static int exact_scale(double max, int64_t n_total) {
    if (!(max > 0.0)) return 0;
    int e = 0;
    frexp(max * (double)(n_total > 0 ? n_total : 1), &e); /* product < 2^e */
    return 61 - e;
}

/* Element i of a float or double array, widened (exactly) to double. */
static inline double value_at(const void *a, int f64, size_t i) {
    return f64 ? ((const double *)a)[i] : (double)((const float *)a)[i];
}

static int sum_exact(Comm *c, const void *parts, int f64, int64_t n_local, size_t stride, size_t n,
                     int64_t n_total, int64_t *acc, void *out) {
    /* local largest magnitude and finiteness; every rank then agrees on both */
    double stats[2] = {0.0, 0.0};
    for (int64_t p = 0; p < n_local; p++)
        for (size_t i = 0; i < n; i++) {
            double a = fabs(value_at(parts, f64, (size_t)p * stride + i));
            if (!isfinite(a))
                stats[1] = 1.0;
            else if (a > stats[0])
                stats[0] = a;
        }
    comm_allreduce_max_f64(c, stats, 2);
    if (stats[1] != 0.0) return 0;
    const int k = exact_scale(stats[0], n_total);
    /* one rounding per element (x * 2^k is exact in double; llrint rounds to nearest even),
     * then integer sums, exact in any order */
    for (size_t i = 0; i < n; i++) acc[i] = 0;
    for (int64_t p = 0; p < n_local; p++)
        for (size_t i = 0; i < n; i++)
            acc[i] += llrint(ldexp(value_at(parts, f64, (size_t)p * stride + i), k));
    comm_allreduce_sum_i64(c, acc, n);
    for (size_t i = 0; i < n; i++) {
        double v = ldexp((double)acc[i], -k);
        if (f64)
            ((double *)out)[i] = v;
        else
            ((float *)out)[i] = (float)v;
    }
    return 1;
}

int comm_sum_exact_f32(Comm *c, const float *parts, int64_t n_local, size_t stride, size_t n,
                       int64_t n_total, int64_t *acc, float *out) {
    return sum_exact(c, parts, 0, n_local, stride, n, n_total, acc, out);
}

int comm_sum_exact_f64(Comm *c, const double *parts, int64_t n_local, size_t stride, size_t n,
                       int64_t n_total, int64_t *acc, double *out) {
    return sum_exact(c, parts, 1, n_local, stride, n, n_total, acc, out);
}
