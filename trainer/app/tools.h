/*
 * tools.h — the verbs around training (see tools.c): tokenizer-train, tokenize, export,
 * generate. Each takes the arguments after its verb.
 */
#ifndef IMPRINT_TOOLS_H
#define IMPRINT_TOOLS_H

#include <stddef.h>

#include "util.h"

int tool_tokenizer_train(int argc, char **argv, Err *e);
int tool_tokenize(int argc, char **argv, Err *e);
int tool_export(int argc, char **argv, Err *e);
int tool_generate(int argc, char **argv, Err *e);

/* Documents are separated by blank lines (tokenize, probe --text). Finds the next document at
 * *start in text[0..n) (after the newlines there, unless *start is 0): sets [*start, *end) to it
 * (with its own last newline) and returns 1, or returns 0 when nothing is left. Start with
 * *start = 0 and continue from *start = *end. */
int text_next_document(const char *text, size_t n, size_t *start, size_t *end);

#endif
