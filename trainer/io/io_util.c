/*
 * io_util.c — private helpers of the io layer. See io_util.h.
 */
#include "io_util.h"

#include <stdio.h>

const char *io_safe_text(char *buf, size_t cap, const char *s) {
    size_t i = 0, limit = cap - 4;
    for (; s[i] && i < limit; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

void io_shape_text(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}
