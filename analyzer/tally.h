/* A tally of weights by (stack, call, thread): the off-CPU table (weight =
 * nanoseconds blocked, call = the call that blocked) and the CPU profile
 * (weight = samples, call 0).  Open addressing; memory is proportional to
 * the distinct keys, never to the events. */
#ifndef PERFSHIM_TALLY_H
#define PERFSHIM_TALLY_H

#include <stddef.h>
#include <stdint.h>

struct ps_tally_entry {
    uint32_t stack;
    uint32_t call;
    uint64_t tid;
    uint64_t weight, count;       /* count 0: empty slot */
};

struct ps_tally {
    struct ps_tally_entry *e;
    size_t cap, n;
    uint64_t weight, count;       /* totals */
    int error;                    /* PS_ENOMEM once an add failed */
};

/* Add COUNT events of WEIGHT in all (COUNT >= 1). */
void ps_tally_add(struct ps_tally *t, uint32_t stack, uint32_t call, uint64_t tid, uint64_t weight,
                  uint64_t count);
void ps_tally_free(struct ps_tally *t);

#endif
