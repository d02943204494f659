/*
 * sha256.h — SHA-256 of a byte buffer, as 64 lowercase hex digits.
 */
#ifndef IMPRINT_SHA256_H
#define IMPRINT_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256_hex(const void *data, size_t n, char out[65]);

#endif
