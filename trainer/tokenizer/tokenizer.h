/*
 * tokenizer.h — byte-level BPE, compatible with GPT-2's tokenizer (OpenAI's encoder.py, the
 * Hugging Face GPT2Tokenizer, the npm gpt-3-encoder).
 *
 * Files. A tokenizer is two Hugging Face files:
 *   vocab.json   a JSON object {token: id}. Tokens are written in GPT-2's byte-to-unicode form
 *                (every byte is one printable character, e.g. a space is "Ġ" U+0120; see
 *                tok_byte_to_unicode). Ids must be 0..N-1, each used once.
 *   merges.txt   an optional first line "#version: ..." and then one merge "a b" per line, in
 *                the order they were learned (line order = rank).
 * A vocab must hold all 256 single-byte tokens. A token that is neither a byte nor the result of
 * a merge and is written "<|...|>" is a special token (GPT-2's "<|endoftext|>", id 50256).
 * tok_save writes vocab.json exactly as Python's json.dumps does by default (ordered by id,
 * ", " and ": " separators, non-ASCII as \uXXXX), and merges.txt with a "#version: 0.2" header,
 * so saving GPT-2's own files reproduces them byte for byte.
 *
 * Encoding. Text is split into pre-tokens with GPT-2's pattern, run by PCRE2 in UTF + UCP mode:
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * and each pre-token's bytes are merged by rank (lowest first, all occurrences of a pair left to
 * right, as GPT-2 does). Any byte string can be encoded and decode(encode(x)) == x for every x:
 * text that is not valid UTF-8 is split into its valid runs (each pre-tokenised as usual) and
 * its invalid bytes (one pre-token each). Known differences from GPT-2's Python `regex`: PCRE2
 * 10.42 knows Unicode 14, so letters and digits added later count as punctuation here, and it
 * treats U+180E as a space. (The npm gpt-3-encoder, a JavaScript regex, also differs on U+0085
 * and U+FEFF.) A pre-token over 1 MiB is merged in 1 MiB pieces. Special-token strings in text
 * are plain text for tok_encode; tok_encode_special turns them into their ids.
 *
 * Training (tok_train). Ids 0..255 are the single bytes in GPT-2's order (the order of
 * bytes_to_unicode: '!'..'~', '¡'..'¬', '®'..'ÿ', then the other 68 bytes by value), exactly as
 * in GPT-2's vocab. Then, repeatedly, the adjacent pair with the highest count over the corpus's
 * pre-tokens is merged; ties go to the pair whose (left token bytes, right token bytes) is
 * smallest (memcmp order, a prefix before longer strings). A merge whose result already exists
 * as a token reuses its id (a pair is merged at most once). Training stops when the vocab reaches
 * vocab_size - 2, or earlier if the corpus has no pairs left; "<|endoftext|>" and "<|sep|>" take
 * the last two ids. The result depends only on the text and vocab_size.
 *
 * Threads. A Tokenizer holds a per-word cache and PCRE2 match data, so tok_encode* may run in
 * one thread at a time per Tokenizer (use one Tokenizer per thread for parallel encoding).
 * tok_decode and the lookups only read and may run concurrently with anything but
 * tok_add_special and tok_free.
 *
 * Errors follow util.h: input problems return -1 with "<file>:<line>: <what>; <fix>".
 */
#ifndef IMPRINT_TOKENIZER_H
#define IMPRINT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define TOK_EOT_STR "<|endoftext|>"
#define TOK_SEP_STR "<|sep|>"

typedef struct Tokenizer Tokenizer;

/* Loads vocab.json + merges.txt. On failure *t is NULL. */
int tok_load(Tokenizer **t, const char *vocab_json, const char *merges_txt, Err *e);
/* dir/vocab.json + dir/merges.txt. */
int tok_load_dir(Tokenizer **t, const char *dir, Err *e);
/* Writes both files atomically (each one on its own); tok_save_dir creates dir if needed. */
int tok_save(const Tokenizer *t, const char *vocab_json, const char *merges_txt, Err *e);
int tok_save_dir(const Tokenizer *t, const char *dir, Err *e);

/* Trains a vocab of vocab_size tokens (at least 258: 256 bytes + the two special tokens) on
 * text[0..len). See the top of this file for the rules. */
int tok_train(Tokenizer **t, const char *text, size_t len, int vocab_size, Err *e);

/* Appends the special token `s` (written "<|...|>") with the next id, e.g. "<|sep|>" for GPT-2's
 * vocab; returns its id (or its existing id if it is already a special token), -1 on error. */
int tok_add_special(Tokenizer *t, const char *s, Err *e);

/* Encodes text[0..len) to a malloc'd array *ids of *n ids (free with free()). Never fails on
 * content: returns 0 (an Err is filled only for a NULL argument). */
int tok_encode(const Tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n, Err *e);
/* Same, but occurrences of special-token strings become their ids. */
int tok_encode_special(const Tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       Err *e);

/* Decodes to a malloc'd buffer *out of *len bytes (NUL-terminated too). An id outside the
 * vocab fails with its position. */
int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len, Err *e);

int tok_vocab_size(const Tokenizer *t);
int tok_num_merges(const Tokenizer *t);
int tok_eot(const Tokenizer *t);                       /* "<|endoftext|>", -1 if absent */
int tok_sep(const Tokenizer *t);                       /* "<|sep|>", -1 if absent */
int tok_special_id(const Tokenizer *t, const char *s); /* -1 if s is not a special token */
/* The raw bytes of token `id` (not NUL-terminated), NULL if id is out of range. */
const char *tok_token_bytes(const Tokenizer *t, int id, size_t *len);
void tok_free(Tokenizer *t);

/* GPT-2's bytes_to_unicode: the code point byte b (0..255) is written as in vocab.json, and
 * its inverse (-1 for a code point that is not one of the 256). */
int tok_byte_to_unicode(int b);
int tok_unicode_to_byte(int cp);

#endif
