/*
 * tools.h — the verbs around training (see tools.c): tokenizer-train, tokenize, export,
 * generate. Each takes the arguments after its verb.
 */
#ifndef IMPRINT_TOOLS_H
#define IMPRINT_TOOLS_H

#include "util.h"

int tool_tokenizer_train(int argc, char **argv, Err *e);
int tool_tokenize(int argc, char **argv, Err *e);
int tool_export(int argc, char **argv, Err *e);
int tool_generate(int argc, char **argv, Err *e);

#endif
