/*
 * peft.h — Hugging Face PEFT export and import of imprint's attention-only adapters.
 *
 * imprint keeps one rank-r adapter per projection (q, k, v on the column blocks of the fused
 * c_attn, o on attn.c_proj). PEFT knows one adapter per module, so the export writes, for each
 * layer, a block-structured adapter on c_attn whose product is exactly the per-projection ones:
 *
 *     A_c_attn = [A_q; A_k; A_v]                          (n r x d; present projections only)
 *     B_c_attn = rows of q | k | v, each B_t in its own column block, zeros elsewhere   (3d x n r)
 *
 * so B_c_attn A_c_attn = [B_q A_q; B_k A_k; B_v A_v]. Every module is padded with zeros to one
 * rank R = max(n, 1) r, and lora_alpha = scale * R with use_rslora = false, so PEFT's scale
 * alpha/R equals imprint's (alpha/r, or alpha/sqrt(r) with rsLoRA). target_modules names
 * "attn.c_attn" and "attn.c_proj" (never a bare "c_proj", which would also match the MLP), and
 * layers_to_transform the adapted layers. Tensor names follow PEFT's saved form:
 * base_model.model.transformer.h.<i>.attn.c_attn.lora_A.weight [R, d], ...lora_B.weight [3d, R].
 *
 * The import reads such a directory (or any PEFT LoRA on GPT-2's attention modules) back into
 * per-projection adapters of rank R: A_t = A_c_attn, B_t = the rows of projection t.
 */
#ifndef IMPRINT_PEFT_H
#define IMPRINT_PEFT_H

#include "lora.h"
#include "util.h"

/* Writes dir/adapter_config.json and dir/adapter_model.safetensors (atomically each).
 * base_model: the base model's name or path for adapter_config.json (may be ""). meta pairs go
 * into the safetensors __metadata__ (provenance: stage, step, hashes). */
int peft_export(const Lora *lo, const char *dir, const char *base_model,
                const char *const *meta_keys, const char *const *meta_values, int n_meta, Err *e);

/* Reads a PEFT LoRA directory into a freshly built Lora (rank R, scale from the config) for a
 * model of n_layer layers and width n_embd, with activations for max_rows rows. */
int peft_import(Lora *lo, const char *dir, int n_layer, int n_embd, int max_rows, Err *e);

#endif
