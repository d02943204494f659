/*
 * weights_private.h — what the base-model readers and writers share: weights.c (probing,
 * loading, adapters), weights_hf.c (Hugging Face directories) and weights_llmc.c (llm.c .bin
 * checkpoints). Not for use outside trainer/io.
 */
#ifndef IMPRINT_WEIGHTS_PRIVATE_H
#define IMPRINT_WEIGHTS_PRIVATE_H

#include "weights.h"

/* "dir/file" (no doubled '/') into buf; -1 with e filled when it does not fit. */
int weights_dir_file(char *buf, size_t cap, const char *dir, const char *file, Err *e);

int weights_exists(const char *path);

/* gpt2_config_check with the file named in front and a remedy behind. */
int weights_config_check(const GPT2Config *c, const char *file, const char *remedy, Err *e);

/* Hugging Face directory: the shape from config.json (model.safetensors must exist), and every
 * parameter from model.safetensors. */
int weights_probe_hf(const char *dir, GPT2Config *cfg, Err *e);
int weights_load_hf(GPT2 *m, const char *dir, Err *e);

/* llm.c checkpoint: the shape from the header (the file size is checked too), and every
 * parameter. */
int weights_probe_llmc(const char *path, GPT2Config *cfg, Err *e);
int weights_load_llmc(GPT2 *m, const char *path, Err *e);

#endif
