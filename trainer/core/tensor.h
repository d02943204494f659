/*
 * tensor.h — a named view into memory someone else owns.
 *
 * Models, adapters and optimizer states carve their tensors out of one allocation each and
 * describe them with these records, so that code refers to "h.3.attn.c_attn.weight", never to
 * "tensor 6 of the blob", and file I/O can match tensors by name.
 */
#ifndef IMPRINT_TENSOR_H
#define IMPRINT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define TENSOR_NAME_MAX 96
#define TENSOR_MAX_DIMS 4

typedef struct Tensor {
    char name[TENSOR_NAME_MAX];
    float *data;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    size_t numel;
} Tensor;

/* A list of tensors that share one backing allocation. */
typedef struct TensorSet {
    Tensor *items;
    int count;
    int capacity;
    float *memory; /* the one allocation all items point into */
    size_t numel;  /* total floats in memory */
} TensorSet;

#endif
