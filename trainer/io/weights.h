/*
 * weights.h — reading and writing model and adapter weights.
 *
 * Two base-model formats are read:
 *   - a Hugging Face GPT-2 directory: config.json + model.safetensors (names with or without
 *     the "transformer." prefix; F32, BF16 or F16 tensors; causal-mask buffers skipped; a tied
 *     lm_head.weight accepted and ignored);
 *   - an llm.c checkpoint (.bin, version 3 fp32 or 5 bf16), whose Linear weights are stored
 *     [out, in] and are transposed into our Conv1D [in, out] layout on the way in.
 * Models are written as Hugging Face directories (F32 or BF16), and as llm.c version 3 files
 * (for tests of the reader).
 *
 * Adapters are safetensors files holding every LoRA A and B under its Lora tensor name, with
 * metadata that says what they were trained for; loading checks that it matches exactly.
 *
 * Every function returns 0, or -1 with one sentence in e naming the file and the problem. On a
 * failed load the destination's contents are unspecified (the caller is expected to stop).
 */
#ifndef IMPRINT_WEIGHTS_H
#define IMPRINT_WEIGHTS_H

#include "lora.h"
#include "model.h"
#include "util.h"

typedef enum { WEIGHTS_HF_DIR = 0, WEIGHTS_LLMC_BIN = 1 } WeightsFormat;

/* Looks at `path`: a directory with config.json + model.safetensors (HF GPT-2 layout), or an
 * llm.c .bin checkpoint file. Fills the model shape (cfg) and format (fmt may be NULL) without
 * loading tensors. For a .bin the whole header and the file size are checked. */
int weights_probe(const char *path, GPT2Config *cfg, WeightsFormat *fmt, Err *e);

/* Loads every parameter into an already-built model of the probed shape. */
int weights_load(GPT2 *m, const char *path, Err *e);

/* The end token config.json names (bos_token_id = eos_token_id, as GPT-2 does): the id of the
 * tokenizer's <|endoftext|> (tokenizer_dir_eot in checkpoint.h), or one of these. */
#define WEIGHTS_EOT_UNKNOWN (-1) /* no tokenizer known: vocab - 1, GPT-2's own <|endoftext|> */
#define WEIGHTS_EOT_NONE    (-2) /* the tokenizer has no <|endoftext|>: both ids are null */

/* Writes an HF GPT-2 directory (created if needed): config.json and model.safetensors (F32, or
 * BF16 when bf16 != 0), tensor names without prefix; each file atomically. eot: the end token's
 * id, or WEIGHTS_EOT_UNKNOWN / WEIGHTS_EOT_NONE. */
int weights_save_hf(const GPT2 *m, const char *dir, int bf16, int eot, Err *e);

/* Writes an llm.c checkpoint, version 3 (fp32), vocabulary padded to a multiple of 128 with
 * zero rows; atomically. */
int weights_save_llmc(const GPT2 *m, const char *path, Err *e);

/* Writes an adapter file: every LoRA A/B (F32) under its Lora tensor name, and __metadata__
 * {"format": "imprint-lora", "rank", "alpha", "rslora" ("true"/"false"), "targets" (e.g.
 * "qkvo"), "layers" (e.g. "0-5")} plus the caller's extra pairs (which may not reuse those
 * keys). Atomic. */
int lora_save(const Lora *lo, const char *path, const char *const *meta_keys,
              const char *const *meta_values, int n_meta, Err *e);

/* Loads an adapter file into an already-built Lora. The file's rank, targets and layers must
 * equal the Lora's spec, and its tensors must be exactly the Lora's (same names and shapes,
 * none missing, none extra). alpha and rslora come from the caller's spec, not the file. The
 * Lora is left untouched on failure. */
int lora_load(Lora *lo, const char *path, Err *e);

/* The adapter an adapter file describes, from its __metadata__ alone: rank, targets and layers
 * (the file is refused without them), alpha and rslora (*has_scale = 1; 0 when the file lacks
 * them: the caller picks them), dropout 0. *step gets the "step" it was saved at, -1 when it
 * does not say. Build a Lora from it and lora_load the same file. */
int lora_read_spec(const char *path, LoraSpec *spec, int *has_scale, long long *step, Err *e);

/* Metadata helpers (exposed for tests and for printing): "qkvo"-style target letters from a
 * mask, and the mask from letters (-1 on anything else, or on an empty or repeated letter). */
void lora_targets_text(char *buf, size_t n, int targets);
int lora_targets_parse(const char *s);

#endif
