/*
 * model.h — GPT-2 (learned positions, pre-LayerNorm, GELU-tanh, tied embeddings, causal
 * attention) in fp32, with optional attention-only LoRA. The arithmetic goes through a backend
 * (ops.h; today the CPU's, kernels_cpu.c), and read-only taps (taps.h) can watch the forward.
 *
 * Parameters use Hugging Face's names and layouts (Conv1D weights are [in, out]), so a tensor
 * read from model.safetensors is copied, never transposed. Parameters, gradients and
 * activations are named tensors; each family lives in one allocation made at start-up.
 *
 * Two training modes share this code:
 *   - LoRA (base frozen): the backward pass computes only input gradients through base weights
 *     and weight gradients for the trainable adapters; it stops at the lowest adapted layer.
 *   - full (pretraining): gradients for every base tensor, when the model was built with
 *     grads (gpt2_alloc_grads).
 *
 * The model knows nothing about ranks: it is handed its rows of the batch and the global index
 * of its first row (for dropout masks that do not depend on the rank count).
 */
#ifndef IMPRINT_MODEL_H
#define IMPRINT_MODEL_H

#include <stdint.h>

#include "lora.h"
#include "ops.h"
#include "taps.h"
#include "tensor.h"
#include "util.h"

typedef struct GPT2Config {
    int n_layer;
    int n_head;
    int n_embd;
    int vocab;
    int n_ctx; /* positions */
    float ln_eps;
} GPT2Config;

/* Per-layer parameter tensors (pointers into GPT2Params.set). */
typedef struct GPT2Layer {
    Tensor *ln1_w, *ln1_b;   /* [C] */
    Tensor *attn_w, *attn_b; /* c_attn: [C, 3C], [3C] — q | k | v column blocks */
    Tensor *proj_w, *proj_b; /* attn.c_proj: [C, C], [C] */
    Tensor *ln2_w, *ln2_b;   /* [C] */
    Tensor *fc_w, *fc_b;     /* mlp.c_fc: [C, 4C], [4C] */
    Tensor *fc2_w, *fc2_b;   /* mlp.c_proj: [4C, C], [C] */
} GPT2Layer;

typedef struct GPT2Params {
    Tensor *wte;           /* [V, C], also the LM head */
    Tensor *wpe;           /* [n_ctx, C] */
    Tensor *lnf_w, *lnf_b; /* [C] */
    GPT2Layer *layers;     /* [n_layer] */
    TensorSet set;         /* every tensor above, HF order and names */
} GPT2Params;

/* Activations for one forward/backward of up to B x T tokens. */
typedef struct GPT2LayerActs {
    Tensor *res_in;              /* [B,T,C] residual stream entering the layer */
    Tensor *ln1;                 /* [B,T,C] */
    Tensor *ln1_mean, *ln1_rstd; /* [B,T] */
    Tensor *qkv;                 /* [B,T,3C] */
    Tensor *att;                 /* [B,NH,T,T] softmax probabilities */
    Tensor *atty;                /* [B,T,C] attention output before c_proj */
    Tensor *res_mid;             /* [B,T,C] res_in + attention */
    Tensor *ln2;                 /* [B,T,C] */
    Tensor *ln2_mean, *ln2_rstd;
    Tensor *fch; /* [B,T,4C] before GELU */
    Tensor *fcg; /* [B,T,4C] after GELU */
} GPT2LayerActs;

typedef struct GPT2Acts {
    GPT2LayerActs *layers;
    Tensor *res_out;             /* [B,T,C] residual after the last layer */
    Tensor *lnf;                 /* [B,T,C] */
    Tensor *lnf_mean, *lnf_rstd; /* [B,T] */
    Tensor *logits;              /* [B,T,V]: logits after forward, probabilities after loss */
    Tensor *losses;              /* [B,T] per-token cross-entropy (unweighted) */
    /* backward scratch, reused layer by layer */
    Tensor *d_res;  /* [B,T,C] gradient of the residual stream */
    Tensor *d_ln;   /* [B,T,C] */
    Tensor *d_qkv;  /* [B,T,3C] */
    Tensor *d_att;  /* [B,NH,T,T] */
    Tensor *d_atty; /* [B,T,C] */
    Tensor *d_fch;  /* [B,T,4C] */
    TensorSet set;
} GPT2Acts;

typedef struct GPT2 {
    const ModelOps *ops;   /* the backend all arithmetic goes through, chosen by gpt2_build
                            * (the CPU's in this build); its device is where every tensor set
                            * of the model lives */
    const ModelTaps *taps; /* read-only activation taps, NULL (the default) for none */
    GPT2Config cfg;
    GPT2Params params;
    GPT2Params grads; /* allocated by gpt2_alloc_grads (full training); else set.memory NULL */
    GPT2Acts acts;
    int max_B, max_T; /* activation capacity */
    int B, T;         /* shape of the last forward */
} GPT2;

/* The rows of one forward/backward. inputs/targets are [B*T]; weights [B*T] (loss weight per
 * target token, 0 to ignore; a target may be -1 only where its weight is 0). */
typedef struct Batch {
    const int32_t *inputs;
    const int32_t *targets;
    const float *weights;
    int B, T;
    uint64_t first_sample; /* global index of row 0, keys dropout masks */
    uint64_t step;         /* optimizer step, keys dropout masks */
    int train;             /* 1 in training steps: LoRA dropout applies; 0 (eval): it does not */
} Batch;

/* Validates a shape; returns -1 with a message if something is out of range. */
int gpt2_config_check(const GPT2Config *c, Err *e);

/* Allocates parameters (zeroed) and activations for up to max_B x max_T tokens. */
void gpt2_build(GPT2 *m, const GPT2Config *cfg, int max_B, int max_T);
void gpt2_free(GPT2 *m);

/* Allocates the gradient tensors for full-parameter training. */
void gpt2_alloc_grads(GPT2 *m);

/* GPT-2 initialisation (normal(0, std) weights, residual projections scaled by
 * 1/sqrt(2*n_layer), zero biases, unit LayerNorm gains), drawn from the counter RNG keyed on
 * (seed, tensor index in HF order, element). */
void gpt2_init_random(GPT2 *m, float std, uint64_t seed);

/* Forward pass to logits (acts.logits). lora may be NULL or have scale 0 to run the base. */
int gpt2_forward(GPT2 *m, const Lora *lora, const Batch *b, Err *e);

/* Greedy decoding's choice from one position's logits z[0..V): the first largest (a tie goes to
 * the lower id). */
int32_t gpt2_argmax(const float *z, int V);

/* Softmax + cross-entropy in place on the logits. Returns sum_i weights[i] * loss_i (double);
 * acts.losses gets the per-token losses. Needs a forward first. */
double gpt2_loss(GPT2 *m, const Batch *b);

/* Backward from the loss `scale * sum_i weights[i] * loss_i`. Accumulates into the trainable
 * LoRA gradients (lora may be NULL) and, if allocated, the base gradients. Needs gpt2_loss
 * first. Gradients are added to (call lora_zero_grad / gpt2_zero_grad before a step). */
void gpt2_backward(GPT2 *m, Lora *lora, const Batch *b, float scale);

void gpt2_zero_grad(GPT2 *m);

/* Number of parameters (the tied LM head counted once). */
size_t gpt2_num_params(const GPT2 *m);

/* Finds a parameter tensor by HF name, or NULL. */
Tensor *gpt2_param(GPT2 *m, const char *name);

/* Attaches read-only activation taps (taps.h) that every later gpt2_forward calls; NULL
 * detaches them. The model keeps the pointer: taps must outlive their attachment. */
void gpt2_set_taps(GPT2 *m, const ModelTaps *taps);

/* Tensor sets (tensorset_init, _add, _alloc, _find, _free) are core/tensor.h's. */

#endif
