/* Heap analysis: matches allocations with frees and keeps, per stack,
 * what was allocated and what is still live.
 *
 * Data model: a hash map of live blocks (address -> size, stack id) and
 * an array of sites indexed by stack id.  Memory is proportional to live
 * blocks and unique stacks, never to the number of events.
 *
 * Counting follows glibc: realloc(NULL, n) is an allocation, realloc(p, 0)
 * a free (the shim records both as such), any other realloc a
 * reallocation; a block carries the stack of its last realloc.
 * total_allocated_bytes adds the size of every allocation and the new
 * size of every reallocation.
 *
 * Sampled traces (trace size cap, SAMPLING records): from a switch on, a
 * block smaller than R = 2^shift bytes stands for R bytes (R / size blocks,
 * rounded), so every count and byte total is an estimate weighted that
 * way; at each switch the blocks the new rule would not have recorded are
 * dropped from the map and the rest re-weighted (see ps_heap_sampling).
 */
#ifndef PERFSHIM_HEAP_H
#define PERFSHIM_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "trace.h"

struct ps_site {
    uint64_t alloc_count, alloc_bytes;  /* allocations and reallocations made here */
    uint64_t live_blocks, live_bytes;   /* live now (at the end, after ps_heap_finish) */
};

/* A live block's reachability as of the latest scan (reach.c); memcheck's
 * categories.  UNKNOWN: allocated after it, or no scan at all. */
enum ps_kind { PS_KIND_UNKNOWN = 0, PS_KIND_DEFINITE, PS_KIND_INDIRECT, PS_KIND_POSSIBLE,
               PS_KIND_REACHABLE, PS_KIND_COUNT };
extern const char *const ps_kind_names[PS_KIND_COUNT]; /* "unknown", "definite", ... */

/* 16 bytes, four to a cache line: the map is the analyzer's hot spot. */
struct ps_block {
    uint64_t addr;                /* 0 = empty slot */
    uint64_t size : 37;           /* requested bytes (saturates at 128 GiB) */
    uint64_t kind : 3;            /* enum ps_kind */
    uint64_t stack : 24;          /* ids are <= PS_STACK_ID_MAX (2^22) */
};
#define PS_BLOCK_SIZE_MAX ((1ull << 37) - 1)

/* Live bytes and blocks of one (stack, kind): a leak group. */
struct ps_live_group {
    uint32_t stack;
    uint8_t kind;
    uint64_t bytes, blocks;
};

#define PS_HEAP_BATCH 16

struct ps_heap {
    uint64_t allocations, frees, reallocations;
    uint64_t total_allocated;
    uint64_t heap_bytes, heap_blocks;
    uint64_t peak_bytes, peak_tick;
    uint64_t unknown_frees;     /* frees of blocks allocated before tracing began */
    uint64_t reused_live;       /* allocations at an address still live: a free we never saw */
    struct ps_block *live;      /* open addressing, power-of-two capacity */
    uint64_t live_cap;
    struct ps_site *sites;      /* by stack id */
    uint64_t nsites;
    int error;
    unsigned shift;             /* sampling: 0 full, else one sample per 2^shift bytes */
    bool frozen;                /* allocation events stopped (PS_SAMPLE_OFF) */
    uint64_t sampled_tick, frozen_tick; /* first switch, the stop */
    /* Events wait here PS_HEAP_BATCH long: each one's map slot is
     * prefetched when it arrives and used when it leaves, so the cache
     * misses of a large live set overlap instead of queueing. */
    struct ps_event batch[PS_HEAP_BATCH];
    unsigned nbatch, head;
};

struct ps_heap *ps_heap_new(void);
void ps_heap_free(struct ps_heap *h);
/* The sink for ps_trace_read.  Events take effect up to PS_HEAP_BATCH
 * events late (see batch below): call ps_heap_flush before reading the
 * counters in the middle of a stream. */
void ps_heap_event(void *ctx, const struct ps_event *ev);
void ps_heap_flush(struct ps_heap *h);
/* Process any batched events, then fill sites[].live_* from the live map;
 * call once after reading. */
void ps_heap_finish(struct ps_heap *h);
/* A SAMPLING switch at TICK to SHIFT (see trace_format.h). */
void ps_heap_sampling(struct ps_heap *h, unsigned shift, uint64_t tick);
/* The live blocks grouped by (stack, kind), weighted as every other count;
 * *OUT is malloc'd.  0 or PS_ENOMEM. */
int ps_heap_live_groups(const struct ps_heap *h, struct ps_live_group **out, size_t *n);
/* Classify the live blocks from scan S's pointers, as memcheck does (reach.c);
 * fills S's per-kind totals.  0 or PS_ENOMEM. */
int ps_heap_reach(struct ps_heap *h, struct ps_scan *s);

#endif
