/*
 * utf8.h — UTF-8 sequences: the project's one decoder and encoder.
 *
 * Well-formed means Unicode's table 3-7: no overlong forms, no surrogates, nothing above
 * U+10FFFF (exactly what PCRE2 accepts).
 */
#ifndef IMPRINT_UTF8_H
#define IMPRINT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed sequence at s (n >= 1 bytes available), 0 if ill-formed. */
int utf8_seq_len(const unsigned char *s, size_t n);

/* The code point of the well-formed sequence of length k (from utf8_seq_len) at s. */
uint32_t utf8_decode(const unsigned char *s, int k);

/* The code point at s[0..n) (n >= 1) into *cp and its length; an ill-formed byte decodes as
 * itself with length 1. */
size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/* Writes cp (<= U+10FFFF) as 1..4 bytes to o; returns the count. */
int utf8_encode(uint32_t cp, char *o);

/* 1 when all of s[0..n) is well-formed UTF-8. */
int utf8_valid(const char *s, size_t n);

#endif
