/*
 * tensor.c — tensor sets: named tensors carved out of one allocation (see tensor.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "tensor.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

void tensorset_init(TensorSet *s, int capacity) {
    memset(s, 0, sizeof *s);
    s->capacity = capacity;
    s->device = DEVICE_CPU;
    s->items = xmalloc(sizeof(Tensor) * (size_t)(capacity > 0 ? capacity : 1), "tensor list");
}

Tensor *tensorset_add(TensorSet *s, const char *name, int ndim, const int64_t *shape) {
    if (s->count >= s->capacity) fatal("internal: tensor set full adding %s", name);
    if (s->memory) fatal("internal: tensor %s added after allocation", name);
    Tensor *t = &s->items[s->count++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    return t;
}

/* Each tensor starts on a 64-byte boundary. */
static size_t padded(size_t numel) {
    return (numel + 15) & ~(size_t)15;
}

void tensorset_alloc(TensorSet *s, const char *what) {
    size_t total = 0;
    for (int i = 0; i < s->count; i++) total += padded(s->items[i].numel);
    s->numel = total;
    s->memory = xmalloc(sizeof(float) * (total ? total : 1), what);
    size_t off = 0;
    for (int i = 0; i < s->count; i++) {
        s->items[i].data = s->memory + off;
        off += padded(s->items[i].numel);
    }
}

void tensorset_free(TensorSet *s) {
    xfree(s->memory);
    xfree(s->items);
    memset(s, 0, sizeof *s);
}

Tensor *tensorset_find(const TensorSet *s, const char *name) {
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->items[i].name, name) == 0) return &s->items[i];
    return NULL;
}
