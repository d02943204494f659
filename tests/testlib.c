#include "testlib.h"

#include <stdarg.h>

int tl_passed, tl_failed;

void tl_report(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        tl_passed++;
        return;
    }
    tl_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int tl_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, tl_passed, tl_failed);
    fflush(stdout);
    return tl_failed == 0 && tl_passed > 0 ? 0 : 1;
}
