/*
 * testlib.h — a tiny test harness: CHECK macros that count, and a closing line in the form
 * "N passed, M failed" that CI reads. A test binary exits non-zero if anything failed.
 */
#ifndef IMPRINT_TESTLIB_H
#define IMPRINT_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <string.h>

extern int tl_passed, tl_failed;

void tl_report(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints the closing line and returns the exit status for main(). */
int tl_finish(const char *suite);

#define CHECK(cond, ...) tl_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* |got - want| <= atol + rtol*|want| */
#define CHECK_CLOSE(got, want, rtol, atol, what)                                                   \
    do {                                                                                           \
        double g_ = (double)(got), w_ = (double)(want);                                            \
        CHECK(fabs(g_ - w_) <= (atol) + (rtol)*fabs(w_), "%s: got %.9g want %.9g", what, g_, w_);  \
    } while (0)

/* Checks that `msg` contains `needle`. */
#define CHECK_CONTAINS(msg, needle)                                                                \
    CHECK(strstr((msg), (needle)) != NULL, "message \"%s\" should contain \"%s\"", (msg), (needle))

#endif
