/*
 * hashmap.c — the tokenizer's two open-addressing hash maps (linear probing, at most half
 * full): byte string -> int32 and (id, id) -> int32 (see tokenizer_internal.h).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void bytes_map_init(BytesMap *m, size_t expect) {
    size_t cap = 64;
    while (cap < 2 * expect) cap *= 2;
    m->slot = xmalloc(cap * sizeof *m->slot, "hash map");
    m->cap = cap;
    m->count = 0;
}

void bytes_map_free(BytesMap *m) {
    xfree(m->slot);
    memset(m, 0, sizeof *m);
}

static size_t bytes_map_find(const BytesMap *m, const char *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->slot[i].key) {
        const BytesSlot *s = &m->slot[i];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return i;
        i = (i + 1) & mask;
    }
    return i;
}

int32_t bytes_map_get(const BytesMap *m, const char *key, size_t len) {
    size_t i = bytes_map_find(m, key, len, hash_bytes(key, len));
    return m->slot[i].key ? m->slot[i].val : -1;
}

int32_t *bytes_map_put(BytesMap *m, const char *key, size_t len, int *fresh) {
    if (2 * (m->count + 1) > m->cap) {
        BytesMap big;
        big.cap = m->cap * 2;
        big.slot = xmalloc(big.cap * sizeof *big.slot, "hash map");
        big.count = m->count;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i].key)
                big.slot[bytes_map_find(&big, NULL, 0, m->slot[i].hash)] = m->slot[i];
        xfree(m->slot);
        *m = big;
    }
    uint64_t h = hash_bytes(key, len);
    size_t i = bytes_map_find(m, key, len, h);
    *fresh = m->slot[i].key == NULL;
    if (*fresh) {
        m->slot[i].key = key;
        m->slot[i].len = (uint32_t)len;
        m->slot[i].hash = h;
        m->slot[i].val = 0;
        m->count++;
    }
    return &m->slot[i].val;
}

static uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

void pair_map_init(PairMap *m, size_t expect) {
    size_t cap = 64;
    while (cap < 2 * expect) cap *= 2;
    m->slot = xmalloc(cap * sizeof *m->slot, "pair map");
    for (size_t i = 0; i < cap; i++) m->slot[i].key = UINT64_MAX;
    m->cap = cap;
    m->count = 0;
}

void pair_map_free(PairMap *m) {
    xfree(m->slot);
    memset(m, 0, sizeof *m);
}

static size_t pair_map_find(const PairMap *m, uint64_t key) {
    size_t mask = m->cap - 1, i = (size_t)hash_u64(key) & mask;
    while (m->slot[i].key != UINT64_MAX && m->slot[i].key != key) i = (i + 1) & mask;
    return i;
}

int32_t pair_map_get(const PairMap *m, int32_t a, int32_t b) {
    const PairSlot *s = &m->slot[pair_map_find(m, pair_key(a, b))];
    return s->key == UINT64_MAX ? -1 : s->val;
}

int32_t *pair_map_put(PairMap *m, int32_t a, int32_t b, int *fresh) {
    if (2 * (m->count + 1) > m->cap) {
        PairMap big;
        pair_map_init(&big, m->cap); /* doubles */
        big.count = m->count;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i].key != UINT64_MAX)
                big.slot[pair_map_find(&big, m->slot[i].key)] = m->slot[i];
        xfree(m->slot);
        *m = big;
    }
    uint64_t key = pair_key(a, b);
    size_t i = pair_map_find(m, key);
    *fresh = m->slot[i].key == UINT64_MAX;
    if (*fresh) {
        m->slot[i].key = key;
        m->slot[i].val = 0;
        m->count++;
    }
    return &m->slot[i].val;
}
