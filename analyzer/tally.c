/* See tally.h. */
#include "tally.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

static size_t slot_of(uint32_t stack, uint32_t call, uint64_t tid, size_t cap)
{
    uint64_t h = (((uint64_t)stack << 8 | call) ^ tid << 32) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static int grow(struct ps_tally *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    struct ps_tally_entry *e = calloc(cap, sizeof *e);
    if (!e)
        return PS_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->e[i].count)
            continue;
        size_t s = slot_of(t->e[i].stack, t->e[i].call, t->e[i].tid, cap);
        while (e[s].count)
            s = (s + 1) & (cap - 1);
        e[s] = t->e[i];
    }
    free(t->e);
    t->e = e;
    t->cap = cap;
    return 0;
}

void ps_tally_add(struct ps_tally *t, uint32_t stack, uint32_t call, uint64_t tid, uint64_t weight,
                  uint64_t count)
{
    if (t->error)
        return;
    if ((t->n + 1) * 2 > t->cap && (t->error = grow(t)))
        return;
    size_t s = slot_of(stack, call, tid, t->cap);
    struct ps_tally_entry *e = t->e;
    while (e[s].count && (e[s].stack != stack || e[s].call != call || e[s].tid != tid))
        s = (s + 1) & (t->cap - 1);
    if (!e[s].count) {
        e[s].stack = stack;
        e[s].call = call;
        e[s].tid = tid;
        t->n++;
    }
    e[s].count += count;
    e[s].weight += weight;
    t->count += count;
    t->weight += weight;
}

void ps_tally_free(struct ps_tally *t)
{
    free(t->e);
    memset(t, 0, sizeof *t);
}
