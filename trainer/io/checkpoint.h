/*
 * checkpoint.h — a training checkpoint is a directory:
 *
 *   adapter.safetensors   LoRA training: the A/B tensors (see weights.h: lora_save)
 *   config.json, model.safetensors, vocab.json, merges.txt
 *                         full training (pretrain): the model in Hugging Face layout, so the
 *                         checkpoint directory is itself a loadable model.path
 *   optim.safetensors     AdamW moments as "m.<name>" / "v.<name>", metadata "t" = updates
 *   state.json            step, tokens seen, seed, last loss and learning rate
 *   eval.json, items.jsonl  curriculum stages: the recall test, per split and per item
 *
 * It is written into "<dir>.tmp", every file fsync'ed, and renamed into place; an older
 * checkpoint of the same name is moved aside first and removed only after the rename. A crash
 * at any point leaves a complete checkpoint under <dir> or none at all.
 */
#ifndef IMPRINT_CHECKPOINT_H
#define IMPRINT_CHECKPOINT_H

#include <stdint.h>

#include "lora.h"
#include "model.h"
#include "optim.h"
#include "util.h"

typedef struct TrainState {
    int64_t step;        /* optimizer steps completed */
    int64_t tokens_seen; /* sum of loss weights seen, all ranks */
    uint64_t seed;
    double loss;           /* loss of the last step */
    double lr;             /* learning rate of the last step */
    int64_t skipped_steps; /* steps skipped for a non-finite loss or gradient (optim.nonfinite) */
    /* curriculum runs: the stage this checkpoint closes (-1 otherwise) */
    int stage;
    char stage_name[64];
    int64_t stage_steps; /* steps the stage ran (an until rule may end it early) */
    int stage_complete;  /* 0: a mid-stage checkpoint (a stop signal); resume continues it */
} TrainState;

typedef struct CheckpointContent {
    const Lora *lora;      /* an adapter checkpoint, or NULL */
    const GPT2 *model;     /* a full-model checkpoint (HF layout), or NULL */
    const char *tokenizer; /* directory whose vocab.json + merges.txt are copied in, or NULL */
    const AdamW *opt;
    TrainState state;
    const char *eval_json;   /* written as eval.json when not NULL */
    const char *items_jsonl; /* written as items.jsonl when not NULL */
    size_t items_len;
    const char *peft_base; /* with lora: also export peft/ naming this base model */
    int fault_crash;       /* fault injection (crash-write): die after the first file */
} CheckpointContent;

/* Reads state.json and optim.safetensors of a checkpoint directory back into st and opt (whose
 * tensors must already have the checkpoint's names and shapes). */
int checkpoint_read_state(const char *dir, TrainState *st, Err *e);
int checkpoint_read_optim(const char *dir, AdamW *opt, Err *e);

int checkpoint_write(const char *dir, const CheckpointContent *c, Err *e);

/* Copies a file (atomically at the destination). */
int file_copy(const char *from, const char *to, Err *e);

/* The id of <|endoftext|> in the tokenizer of dir (vocab.json + merges.txt): *eot gets it, or
 * WEIGHTS_EOT_NONE when the tokenizer has none (weights_save_hf's eot). */
int tokenizer_dir_eot(const char *dir, int *eot, Err *e);

/* Copies a tokenizer (vocab.json + merges.txt) from one directory into another. */
int tokenizer_copy(const char *from_dir, const char *to_dir, Err *e);

/* Removes a directory tree (files and sub-directories). */
int remove_tree(const char *path, Err *e);

#endif
