/*
 * adapter_arg.h — the --adapter argument of `imprint eval` and `imprint generate`: which file it
 * names, and the adapters that file describes, built and loaded for a model.
 */
#ifndef IMPRINT_ADAPTER_ARG_H
#define IMPRINT_ADAPTER_ARG_H

#include "lora.h"
#include "model.h"
#include "util.h"

/* --adapter ARG: a run directory (the newest finished stage its manifest names, checksums
 * verified), a stage directory (its adapter.safetensors), or an adapter file. path gets the
 * adapter file. */
int adapter_resolve(const char *arg, char *path, size_t n, Err *e);

/* The adapters the file at path describes (rank, targets, layers, alpha, rslora from its
 * metadata; *fallback's alpha and rslora only where the file does not state them, and without a
 * fallback such a file is refused), built for the model (activations for max_rows = B*T rows)
 * and loaded from it; dropout 0. *step gets the step it was saved at (-1: the file does not
 * say). model_name names the model in the message when the adapter does not fit it. */
int adapter_open(Lora *lo, const char *path, const GPT2 *model, int max_rows,
                 const LoraSpec *fallback, uint64_t seed, const char *model_name, long long *step,
                 Err *e);

#endif
