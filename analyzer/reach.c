/* Reachability of the live blocks at a scan, memcheck's way
 * (docs/reachability.md).
 *
 * The shim wrote (where, value) pairs: every aligned word of the scanned
 * memory whose value points into memory that can hold blocks, and the
 * stopped threads' registers (where = 0).  Here, knowing the live blocks
 * at the scan's tick:
 *   - a value that falls inside a live block is a pointer to it: a start
 *     pointer when it equals the block's address, else an interior one;
 *   - its source is the live block holding WHERE (a heap edge), or a root:
 *     registers and scanned memory outside the allocator's heaps.  Words
 *     in the allocator's heaps outside live blocks (free memory, its own
 *     metadata) are ignored, as memcheck never sees them.
 * Then memcheck's two passes:
 *   1. from the roots: a block reached by a start pointer from a root or a
 *      Reachable block is Reachable; reached otherwise (an interior pointer,
 *      or from a Possible block) it is Possible, and so are its children;
 *   2. in address order, each block still unreached leads a "clique": every
 *      unreached block it reaches (start or interior pointer) is Indirect;
 *      the leaders that stay unreached are Definite.
 * memcheck's heuristics for C++ layouts (--leak-check-heuristics) are not
 * applied: such blocks show as possible here. */
#include "heap.h"

#include <stdlib.h>

#include "errors.h"

enum { UNREACHED, POSSIBLE, REACHABLE, INDIRECT };

struct graph {
    uint64_t n;
    uint64_t *addr, *end;   /* sorted by address; end = addr + size */
    struct ps_block **blk;
    uint64_t *first;        /* CSR: edges of block i at [first[i], first[i+1]) */
    uint32_t *to;           /* target << 1 | start pointer */
    uint8_t *state;
    uint32_t *stack;
    uint64_t nstack;
};

/* The block VALUE points into, or UINT64_MAX. */
static uint64_t hit(const struct graph *g, uint64_t v)
{
    uint64_t a = 0, b = g->n;
    while (a < b) { /* last block with addr <= v */
        uint64_t m = a + (b - a) / 2;
        if (g->addr[m] <= v)
            a = m + 1;
        else
            b = m;
    }
    if (!a)
        return UINT64_MAX;
    a--;
    return v < g->end[a] || v == g->addr[a] ? a : UINT64_MAX;
}

static bool in_heap(const struct ps_scan *s, uint64_t w)
{
    size_t a = 0, b = s->nheap;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (s->heap[m][0] <= w)
            a = m + 1;
        else
            b = m;
    }
    return a && w < s->heap[a - 1][1];
}

/* glibc keeps pointers to chunk headers in its arena (libc's data, a root
 * here): the header of the chunk after a block may lie inside the block's
 * last requested bytes.  Such a root pointer is the allocator's, not the
 * program's; memcheck, with its own allocator, never sees it. */
static bool chunk_header(const struct graph *g, uint64_t j, uint64_t v)
{
    uint64_t size = g->end[j] - g->addr[j];
    uint64_t chunk = (size + 8 + 15) & ~15ull;
    if (chunk < 32)
        chunk = 32;
    return v == g->addr[j] - 16 + chunk;
}

static void push(struct graph *g, uint64_t j)
{
    g->stack[g->nstack++] = (uint32_t)j;
}

/* memcheck's upgrade rule (lc_push_without_clique_if_a_chunk_ptr). */
static void reach(struct graph *g, uint64_t j, bool start, bool prior_definite)
{
    if (g->state[j] == REACHABLE)
        return;
    if (start && prior_definite) {
        g->state[j] = REACHABLE;
        push(g, j);
    } else if (g->state[j] == UNREACHED) {
        g->state[j] = POSSIBLE;
        push(g, j);
    }
}

static void mark(struct graph *g)
{
    while (g->nstack) {
        uint32_t i = g->stack[--g->nstack];
        bool definite = g->state[i] == REACHABLE;
        for (uint64_t e = g->first[i]; e < g->first[i + 1]; e++)
            reach(g, g->to[e] >> 1, g->to[e] & 1, definite);
    }
}

static int cmp_block(const void *a, const void *b)
{
    const struct ps_block *x = *(struct ps_block *const *)a, *y = *(struct ps_block *const *)b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void graph_free(struct graph *g)
{
    free(g->addr);
    free(g->end);
    free(g->blk);
    free(g->first);
    free(g->to);
    free(g->state);
    free(g->stack);
}

int ps_heap_reach(struct ps_heap *h, struct ps_scan *s)
{
    ps_heap_flush(h);
    struct graph g = {0};
    for (uint64_t i = 0; i < h->live_cap; i++)
        g.n += h->live[i].addr != 0;
    uint64_t n = g.n;
    g.addr = malloc((n + 1) * sizeof *g.addr);
    g.end = malloc((n + 1) * sizeof *g.end);
    g.blk = malloc((n + 1) * sizeof *g.blk);
    g.first = calloc(n + 2, sizeof *g.first);
    g.state = calloc(n + 1, 1);
    g.stack = malloc((n + 1) * sizeof *g.stack);
    if (!g.addr || !g.end || !g.blk || !g.first || !g.state || !g.stack || n >= UINT32_MAX) {
        graph_free(&g);
        return PS_ENOMEM;
    }
    uint64_t k = 0;
    for (uint64_t i = 0; i < h->live_cap; i++)
        if (h->live[i].addr)
            g.blk[k++] = &h->live[i];
    qsort(g.blk, n, sizeof *g.blk, cmp_block);
    for (uint64_t i = 0; i < n; i++) {
        g.addr[i] = g.blk[i]->addr;
        g.end[i] = g.blk[i]->addr + g.blk[i]->size;
    }

    /* Pass over the pairs twice: count each block's edges, then fill them.
     * Roots are followed at once (pass 1 needs only them and the edges, so
     * they are replayed after the graph is built). */
    uint64_t nedges = 0;
    for (size_t p = 0; p < s->npairs; p++) {
        uint64_t w = s->pairs[p][0], j = hit(&g, s->pairs[p][1]);
        if (j == UINT64_MAX || !w)
            continue;
        uint64_t src = hit(&g, w);
        if (src != UINT64_MAX && w < g.end[src]) {
            g.first[src + 1]++;
            nedges++;
        }
    }
    for (uint64_t i = 0; i < n; i++)
        g.first[i + 1] += g.first[i];
    g.to = malloc((nedges + 1) * sizeof *g.to);
    uint64_t *fill = malloc((n + 1) * sizeof *fill);
    if (!g.to || !fill) {
        free(fill);
        graph_free(&g);
        return PS_ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++)
        fill[i] = g.first[i];
    for (size_t p = 0; p < s->npairs; p++) {
        uint64_t w = s->pairs[p][0], v = s->pairs[p][1], j = hit(&g, v);
        if (j == UINT64_MAX || !w)
            continue;
        uint64_t src = hit(&g, w);
        if (src != UINT64_MAX && w < g.end[src])
            g.to[fill[src]++] = (uint32_t)(j << 1 | (v == g.addr[j]));
    }
    free(fill);

    /* Pass 1: the roots. */
    for (size_t p = 0; p < s->npairs; p++) {
        uint64_t w = s->pairs[p][0], v = s->pairs[p][1], j = hit(&g, v);
        if (j == UINT64_MAX)
            continue;
        if (w) {
            uint64_t src = hit(&g, w);
            if ((src != UINT64_MAX && w < g.end[src]) || in_heap(s, w))
                continue; /* a heap edge, or the allocator's own memory */
        }
        bool start = v == g.addr[j];
        if (!start && w && chunk_header(&g, j, v))
            continue;
        reach(&g, j, start, true);
        mark(&g);
    }
    /* Pass 2: cliques of lost blocks, leaders in address order. */
    for (uint64_t i = 0; i < n; i++) {
        if (g.state[i] != UNREACHED)
            continue;
        push(&g, i);
        while (g.nstack) {
            uint32_t b = g.stack[--g.nstack];
            for (uint64_t e = g.first[b]; e < g.first[b + 1]; e++) {
                uint32_t t = g.to[e] >> 1;
                if (g.state[t] == UNREACHED && t != i) {
                    g.state[t] = INDIRECT;
                    push(&g, t);
                }
            }
        }
    }
    static const uint8_t kind_of[] = {[UNREACHED] = PS_KIND_DEFINITE, [POSSIBLE] = PS_KIND_POSSIBLE,
                                      [REACHABLE] = PS_KIND_REACHABLE, [INDIRECT] = PS_KIND_INDIRECT};
    for (int i = 0; i < PS_KIND_COUNT; i++)
        s->kind_bytes[i] = s->kind_blocks[i] = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct ps_block *b = g.blk[i];
        b->kind = kind_of[g.state[i]];
        s->kind_bytes[b->kind] += b->size;
        s->kind_blocks[b->kind]++;
    }
    s->blocks = n;
    s->classified = true;
    graph_free(&g);
    /* The pairs have served; a trace with many scans keeps only totals. */
    free(s->pairs);
    s->pairs = NULL;
    s->npairs = s->pairs_cap = 0;
    return 0;
}
