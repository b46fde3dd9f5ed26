/* Heap analysis (see heap.h for the data model). */
#include "heap.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct ps_heap *ps_heap_new(void)
{
    struct ps_heap *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->live_cap = 1024;
    h->live = calloc(h->live_cap, sizeof *h->live);
    if (!h->live) {
        free(h);
        return NULL;
    }
    return h;
}

void ps_heap_free(struct ps_heap *h)
{
    if (!h)
        return;
    free(h->live);
    free(h->sites);
    free(h);
}

static inline uint64_t slot_of(uint64_t addr, uint64_t cap)
{
    uint64_t x = addr * 0x9e3779b97f4a7c15ull;
    return (x ^ (x >> 29)) & (cap - 1);
}

static int grow(struct ps_heap *h)
{
    uint64_t cap = h->live_cap * 2;
    struct ps_block *n = calloc(cap, sizeof *n);
    if (!n)
        return PS_ENOMEM;
    for (uint64_t i = 0; i < h->live_cap; i++) {
        if (!h->live[i].addr)
            continue;
        uint64_t s = slot_of(h->live[i].addr, cap);
        while (n[s].addr)
            s = (s + 1) & (cap - 1);
        n[s] = h->live[i];
    }
    free(h->live);
    h->live = n;
    h->live_cap = cap;
    return 0;
}

static struct ps_block *find(struct ps_heap *h, uint64_t addr)
{
    uint64_t s = slot_of(addr, h->live_cap);
    while (h->live[s].addr) {
        if (h->live[s].addr == addr)
            return &h->live[s];
        s = (s + 1) & (h->live_cap - 1);
    }
    return NULL;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void erase(struct ps_heap *h, struct ps_block *b)
{
    uint64_t mask = h->live_cap - 1;
    uint64_t i = (uint64_t)(b - h->live);
    uint64_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!h->live[j].addr)
            break;
        uint64_t k = slot_of(h->live[j].addr, h->live_cap);
        /* can the entry at j move to i? only if its home k is not in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            h->live[i] = h->live[j];
            i = j;
        }
    }
    h->live[i].addr = 0;
}

static struct ps_site *site(struct ps_heap *h, uint32_t stack)
{
    if (stack >= h->nsites) {
        uint64_t n = h->nsites ? h->nsites : 256;
        while (n <= stack)
            n *= 2;
        struct ps_site *s = realloc(h->sites, n * sizeof *s);
        if (!s)
            return NULL;
        memset(s + h->nsites, 0, (n - h->nsites) * sizeof *s);
        h->sites = s;
        h->nsites = n;
    }
    return &h->sites[stack];
}

/* How many bytes and blocks a tracked block stands for. */
static inline uint64_t wbytes(const struct ps_heap *h, uint64_t size)
{
    return h->shift && size < (1ull << h->shift) ? 1ull << h->shift : size;
}

static inline uint64_t wblocks(const struct ps_heap *h, uint64_t size)
{
    if (!h->shift || size >= (1ull << h->shift))
        return 1;
    return size ? ((1ull << h->shift) + size / 2) / size : 1ull << h->shift;
}

static void drop(struct ps_heap *h, struct ps_block *b)
{
    uint64_t wb = wbytes(h, b->size), wk = wblocks(h, b->size);
    h->heap_bytes -= wb;
    h->heap_blocks -= wk;
    if (b->stack < h->nsites) {
        h->sites[b->stack].live_bytes -= wb;
        h->sites[b->stack].live_blocks -= wk;
    }
    erase(h, b);
}

static void apply(struct ps_heap *h, const struct ps_event *ev)
{
    if (h->error || h->frozen)
        return;
    if (ev->kind == PS_EV_FREE) {
        struct ps_block *b = find(h, ev->addr);
        uint64_t w = b ? wblocks(h, b->size) : 0;
        if (b)
            drop(h, b);
        else if (!ev->realloc && !h->shift)
            h->unknown_frees++; /* sampled: frees of blocks not in the sample are expected */
        if (!ev->realloc && b)
            h->frees += w;
        return;
    }
    if (ev->kind != PS_EV_ALLOC)
        return;
    /* Recorded under the previous rule just after a switch: not in the
     * sample, and its free may never be recorded. */
    if (h->shift && !ps_sample_keep(ev->addr, ev->size, h->shift))
        return;
    struct ps_block *old = find(h, ev->addr);
    if (old) {
        h->reused_live++;
        drop(h, old);
    }
    if ((h->heap_blocks + 1) * 4 > h->live_cap * 3 && grow(h)) {
        h->error = PS_ENOMEM;
        return;
    }
    uint64_t s = slot_of(ev->addr, h->live_cap);
    while (h->live[s].addr)
        s = (s + 1) & (h->live_cap - 1);
    uint64_t size = ev->size < PS_BLOCK_SIZE_MAX ? ev->size : PS_BLOCK_SIZE_MAX;
    struct ps_site *st = site(h, ev->stack);
    if (!st) {
        h->error = PS_ENOMEM;
        return;
    }
    uint64_t wb = wbytes(h, size), w = wblocks(h, size);
    h->live[s] = (struct ps_block){ev->addr, size, PS_KIND_UNKNOWN, ev->stack};
    h->heap_bytes += wb;
    h->heap_blocks += w;
    if (ev->realloc)
        h->reallocations += w;
    else
        h->allocations += w;
    h->total_allocated += wb;
    if (h->heap_bytes > h->peak_bytes) {
        h->peak_bytes = h->heap_bytes;
        h->peak_tick = ev->tick;
    }
    st->alloc_count += w;
    st->alloc_bytes += wb;
    st->live_blocks += w;
    st->live_bytes += wb;
}

void ps_heap_flush(struct ps_heap *h)
{
    for (; h->nbatch; h->nbatch--) {
        apply(h, &h->batch[h->head]);
        h->head = (h->head + 1) % PS_HEAP_BATCH;
    }
}

void ps_heap_event(void *ctx, const struct ps_event *ev)
{
    struct ps_heap *h = ctx;
    if (ev->kind != PS_EV_ALLOC && ev->kind != PS_EV_FREE)
        return;
    if (h->nbatch == PS_HEAP_BATCH) { /* the oldest leaves, in order */
        apply(h, &h->batch[h->head]);
        h->head = (h->head + 1) % PS_HEAP_BATCH;
        h->nbatch--;
    }
    __builtin_prefetch(&h->live[slot_of(ev->addr, h->live_cap)]);
    h->batch[(h->head + h->nbatch) % PS_HEAP_BATCH] = *ev;
    h->nbatch++;
}

void ps_heap_finish(struct ps_heap *h)
{
    ps_heap_flush(h);
}

/* Keep the blocks the new rule would have recorded, weigh them anew, and
 * recount every total from the map. */
void ps_heap_sampling(struct ps_heap *h, unsigned shift, uint64_t tick)
{
    ps_heap_flush(h);
    if (h->error || h->frozen || shift <= h->shift)
        return;
    if (!h->shift)
        h->sampled_tick = tick;
    if (shift >= PS_SAMPLE_OFF) {
        h->frozen = true; /* what is live now stays: "live when recording stopped" */
        h->frozen_tick = tick;
        return;
    }
    struct ps_block *n = calloc(h->live_cap, sizeof *n);
    if (!n) {
        h->error = PS_ENOMEM;
        return;
    }
    h->shift = shift;
    h->heap_bytes = h->heap_blocks = 0;
    for (uint64_t i = 0; i < h->nsites; i++)
        h->sites[i].live_bytes = h->sites[i].live_blocks = 0;
    for (uint64_t i = 0; i < h->live_cap; i++) {
        struct ps_block b = h->live[i];
        if (!b.addr || !ps_sample_keep(b.addr, b.size, shift))
            continue;
        uint64_t s = slot_of(b.addr, h->live_cap);
        while (n[s].addr)
            s = (s + 1) & (h->live_cap - 1);
        n[s] = b;
        uint64_t wb = wbytes(h, b.size), w = wblocks(h, b.size);
        h->heap_bytes += wb;
        h->heap_blocks += w;
        if (b.stack < h->nsites) {
            h->sites[b.stack].live_bytes += wb;
            h->sites[b.stack].live_blocks += w;
        }
    }
    free(h->live);
    h->live = n;
}

const char *const ps_kind_names[PS_KIND_COUNT] = {"unknown", "definite", "indirect", "possible",
                                                  "reachable"};

int ps_heap_live_groups(const struct ps_heap *h, struct ps_live_group **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    /* per site, per kind: [2 * (site * KINDS + kind)] = bytes, +1 = blocks */
    uint64_t *acc = calloc(h->nsites ? h->nsites * PS_KIND_COUNT * 2 : 1, sizeof *acc);
    if (!acc)
        return PS_ENOMEM;
    size_t groups = 0;
    for (uint64_t i = 0; i < h->live_cap; i++) {
        const struct ps_block *b = &h->live[i];
        if (!b->addr || b->stack >= h->nsites)
            continue;
        uint64_t *a = &acc[2 * ((uint64_t)b->stack * PS_KIND_COUNT + b->kind)];
        groups += a[1] == 0;
        a[0] += wbytes(h, b->size);
        a[1] += wblocks(h, b->size);
    }
    struct ps_live_group *g = calloc(groups ? groups : 1, sizeof *g);
    if (!g) {
        free(acc);
        return PS_ENOMEM;
    }
    size_t k = 0;
    for (uint64_t s = 0; s < h->nsites; s++)
        for (unsigned kind = 0; kind < PS_KIND_COUNT; kind++) {
            const uint64_t *a = &acc[2 * (s * PS_KIND_COUNT + kind)];
            if (a[1])
                g[k++] = (struct ps_live_group){(uint32_t)s, (uint8_t)kind, a[0], a[1]};
        }
    free(acc);
    *out = g;
    *n = k;
    return 0;
}
