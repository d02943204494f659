/*
 * tensor.h — a named view into memory someone else owns, and sets of them built in one
 * allocation.
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

/* Where a tensor set's memory lives. Only DEVICE_CPU exists today: every set is host memory
 * from xmalloc and every pointer may be dereferenced. A GPU backend (see model/ops.h) would add
 * DEVICE_CUDA for sets whose memory is device memory, which host code must not read directly. */
typedef enum Device { DEVICE_CPU = 0 } Device;

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
    Device device; /* where memory lives (DEVICE_CPU: tensorset_alloc's host memory) */
} TensorSet;

/* Prepares an empty set that will hold up to `capacity` tensors (pointers returned by
 * tensorset_add stay valid: the item array never moves). The set lives on DEVICE_CPU. */
void tensorset_init(TensorSet *s, int capacity);
/* Adds a named tensor to a set (before tensorset_alloc). Adding past the capacity or after the
 * allocation is a programming error (fatal). */
Tensor *tensorset_add(TensorSet *s, const char *name, int ndim, const int64_t *shape);
/* Carves all tensors of the set out of one zeroed allocation; each tensor starts on a 64-byte
 * boundary. `what` names the allocation in the out-of-memory message. */
void tensorset_alloc(TensorSet *s, const char *what);
void tensorset_free(TensorSet *s);
/* The tensor called `name`, or NULL. */
Tensor *tensorset_find(const TensorSet *s, const char *name);

#endif
