/*
 * io_util.h — private helpers of the io layer (not for use outside trainer/io): printable copies
 * of untrusted text and shapes for messages, and little-endian 32-bit words independent of the
 * host's byte order.
 */
#ifndef IMPRINT_IO_UTIL_H
#define IMPRINT_IO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Room for a path built by path_join in the io layer (PATH_MAX on Linux); a longer one is
 * refused with a message that says so. */
#define IO_PATH_CAP 4096

/* A printable copy of untrusted text for messages: control and non-ASCII bytes become '?',
 * long text is cut with "...". Returns buf. */
const char *io_safe_text(char *buf, size_t cap, const char *s);

/* "[d0, d1, ...]" into buf (cut short when it does not fit). */
void io_shape_text(char *buf, size_t cap, const int64_t *shape, int ndim);

static inline uint32_t io_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float io_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t io_load_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void io_store_u32le(unsigned char *p, uint32_t u) {
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static inline int io_host_little_endian(void) {
    const uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

#endif
