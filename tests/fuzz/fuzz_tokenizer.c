/* fuzz_tokenizer.c — the tokenizer-file readers (vocab.json + merges.txt, split at the first
 * 0xff byte of the input); a tokenizer that loads must round-trip a fixed text. */
#include <string.h>

#include "fuzz_common.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const uint8_t *cut = memchr(data, 0xff, n);
    size_t nv = cut ? (size_t)(cut - data) : n;
    const char *vocab = fuzz_file("vocab.json", data, nv);
    const char *merges = fuzz_file("merges.txt", cut ? cut + 1 : data + n, cut ? n - nv - 1 : 0);
    Tokenizer *t = NULL;
    Err e;
    if (tok_load(&t, vocab, merges, &e) == 0) {
        static const char text[] =
            "If it rains, then the street gets wet. 12 \xd0\x95\xd1\x81\xd0\xbb\xd0\xb8!";
        int32_t *ids = NULL;
        size_t m = 0;
        if (tok_encode(t, text, sizeof text - 1, &ids, &m, &e) == 0) {
            char *back = NULL;
            size_t len = 0;
            if (tok_decode(t, ids, m, &back, &len, &e) != 0) abort();
            if (len != sizeof text - 1 || memcmp(back, text, len) != 0) abort(); /* lossless */
            free(back);
        }
        free(ids);
        tok_free(t);
    }
    return 0;
}
