/* Heap analysis (analyzer/heap.c) driven directly with struct ps_event
 * sequences, no trace file: exact counters, realloc halves, unknown frees,
 * and the live map under churn against a brute-force model. */
#include "harness.h"

#include "heap.h"

static uint64_t now_tick;
/* The helpers make each event take effect at once (ps_heap_flush), so the
 * tests can read counters between events; batched_equals_immediate checks
 * that batching changes nothing. */
static bool batched;

static void feed(struct ps_heap *h, const struct ps_event *e)
{
    ps_heap_event(h, e);
    if (!batched)
        ps_heap_flush(h);
}

static void ev_alloc(struct ps_heap *h, uint64_t addr, uint64_t size, uint32_t stack)
{
    struct ps_event e = {.tick = ++now_tick, .kind = PS_EV_ALLOC, .addr = addr, .size = size,
                         .stack = stack};
    feed(h, &e);
}

static void ev_free(struct ps_heap *h, uint64_t addr)
{
    struct ps_event e = {.tick = ++now_tick, .kind = PS_EV_FREE, .addr = addr};
    feed(h, &e);
}

/* A REALLOC as the reader delivers it: two halves, both marked. */
static void ev_realloc(struct ps_heap *h, uint64_t old, uint64_t addr, uint64_t size,
                       uint32_t stack)
{
    struct ps_event f = {.tick = ++now_tick, .kind = PS_EV_FREE, .realloc = true, .addr = old};
    feed(h, &f);
    struct ps_event a = {.tick = ++now_tick, .kind = PS_EV_ALLOC, .realloc = true,
                         .addr = addr, .size = size, .stack = stack};
    feed(h, &a);
}

/* Occupied slots of the live map.  Whether each one is still reachable
 * from its home slot (what backward-shift deletion must preserve) is
 * checked through behaviour: a free of a live block that the map can no
 * longer find counts as an unknown free and leaves the block behind, and
 * the churn tests compare both against the model. */
static uint64_t live_entries(const struct ps_heap *h)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < h->live_cap; i++)
        n += h->live[i].addr != 0;
    return n;
}

TEST(counts_basic)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 0;
    ev_alloc(h, 0x1000, 100, 1);
    ev_alloc(h, 0x2000, 50, 2);
    ev_free(h, 0x1000);
    ev_alloc(h, 0x3000, 10, 1);
    ev_alloc(h, 0x1000, 7, 3); /* the address comes back */
    ev_free(h, 0x3000);
    CHECK_EQ(h->allocations, 4);
    CHECK_EQ(h->frees, 2);
    CHECK_EQ(h->reallocations, 0);
    CHECK_EQ(h->total_allocated, 167);
    CHECK_EQ(h->heap_bytes, 57);
    CHECK_EQ(h->heap_blocks, 2);
    CHECK_EQ(h->peak_bytes, 150);
    CHECK_EQ(h->peak_tick, 2);
    CHECK_EQ(h->unknown_frees, 0);
    CHECK_EQ(h->reused_live, 0);
    CHECK_EQ(h->error, 0);
    ps_heap_finish(h);
    CHECK_EQ(h->sites[1].alloc_count, 2);
    CHECK_EQ(h->sites[1].alloc_bytes, 110);
    CHECK_EQ(h->sites[1].live_blocks, 0);
    CHECK_EQ(h->sites[1].live_bytes, 0);
    CHECK_EQ(h->sites[2].alloc_count, 1);
    CHECK_EQ(h->sites[2].live_blocks, 1);
    CHECK_EQ(h->sites[2].live_bytes, 50);
    CHECK_EQ(h->sites[3].live_blocks, 1);
    CHECK_EQ(h->sites[3].live_bytes, 7);
    ps_heap_free(h);
}

/* The peak is the highest heap_bytes after an allocation, and its tick the
 * first time it was reached. */
TEST(peak)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 100;
    ev_alloc(h, 0x10, 1000, 1); /* tick 101: 1000 */
    ev_free(h, 0x10);           /* 0 */
    ev_alloc(h, 0x20, 600, 1);  /* tick 103: 600 */
    ev_alloc(h, 0x30, 400, 1);  /* tick 104: 1000, equal, not a new peak */
    ev_alloc(h, 0x40, 1, 1);    /* tick 105: 1001 */
    ev_free(h, 0x20);
    ev_free(h, 0x30);
    ev_free(h, 0x40);
    CHECK_EQ(h->peak_bytes, 1001);
    CHECK_EQ(h->peak_tick, 105);
    CHECK_EQ(h->heap_bytes, 0);
    CHECK_EQ(h->heap_blocks, 0);
    CHECK_EQ(h->frees, 4);
    ps_heap_free(h);
}

TEST(realloc_halves)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 0;
    ev_alloc(h, 0x1000, 100, 1);
    ev_realloc(h, 0x1000, 0x5000, 300, 2); /* moved and grown */
    ev_realloc(h, 0x5000, 0x5000, 20, 3);  /* shrunk in place */
    CHECK_EQ(h->allocations, 1);
    CHECK_EQ(h->reallocations, 2);
    CHECK_EQ(h->frees, 0);          /* the FREE halves are not frees */
    CHECK_EQ(h->unknown_frees, 0);
    CHECK_EQ(h->total_allocated, 100 + 300 + 20);
    CHECK_EQ(h->heap_bytes, 20);
    CHECK_EQ(h->heap_blocks, 1);
    CHECK_EQ(h->peak_bytes, 300);
    CHECK_EQ(h->reused_live, 0);
    ev_free(h, 0x5000);
    CHECK_EQ(h->frees, 1);
    CHECK_EQ(h->heap_bytes, 0);
    ps_heap_finish(h);
    /* the block took the stack of its last realloc */
    CHECK_EQ(h->sites[1].alloc_count, 1);
    CHECK_EQ(h->sites[2].alloc_count, 1);
    CHECK_EQ(h->sites[2].alloc_bytes, 300);
    CHECK_EQ(h->sites[3].alloc_count, 1);
    CHECK_EQ(h->sites[3].live_blocks, 0);
    ps_heap_free(h);
}

/* A realloc of a block allocated before tracing began: its FREE half finds
 * nothing, which is not an "unknown free" (the user did not free it), and
 * the ALLOC half still counts one reallocation. */
TEST(realloc_of_unknown_block)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 0;
    ev_realloc(h, 0x9000, 0xa000, 64, 4);
    CHECK_EQ(h->reallocations, 1);
    CHECK_EQ(h->allocations, 0);
    CHECK_EQ(h->unknown_frees, 0);
    CHECK_EQ(h->frees, 0);
    CHECK_EQ(h->heap_bytes, 64);
    CHECK_EQ(h->heap_blocks, 1);
    ps_heap_free(h);
}

TEST(unknown_free)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 0;
    ev_free(h, 0xdead0);
    ev_alloc(h, 0x1000, 8, 1);
    ev_free(h, 0x1000);
    ev_free(h, 0x1000); /* a double free: the second is unknown too */
    CHECK_EQ(h->unknown_frees, 2);
    CHECK_EQ(h->frees, 1);
    CHECK_EQ(h->heap_bytes, 0);
    CHECK_EQ(h->heap_blocks, 0);
    ps_heap_free(h);
}

/* An allocation at an address that is still live means a free we never
 * saw: the old block is dropped, not double counted. */
TEST(reused_live)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 0;
    ev_alloc(h, 0x1000, 100, 1);
    ev_alloc(h, 0x1000, 30, 2);
    CHECK_EQ(h->reused_live, 1);
    CHECK_EQ(h->allocations, 2);
    CHECK_EQ(h->heap_bytes, 30);
    CHECK_EQ(h->heap_blocks, 1);
    CHECK_EQ(live_entries(h), 1);
    ps_heap_finish(h);
    CHECK_EQ(h->sites[1].live_blocks, 0);
    CHECK_EQ(h->sites[2].live_bytes, 30);
    ps_heap_free(h);
}

/* Events the heap does not count pass through untouched. */
TEST(other_events_ignored)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    const uint8_t kinds[] = {PS_EV_THREAD_START, PS_EV_THREAD_EXIT, PS_EV_EXEC,
                             PS_EV_MODULE_LOAD, PS_EV_MODULE_UNLOAD};
    for (size_t i = 0; i < sizeof kinds; i++) {
        struct ps_event e = {.tick = 1, .kind = kinds[i], .addr = 0x1000, .size = 5};
        feed(h, &e);
    }
    CHECK_EQ(h->allocations + h->frees + h->reallocations + h->unknown_frees, 0);
    CHECK_EQ(h->heap_bytes, 0);
    ps_heap_free(h);
}

/* ---- the live map against a model ------------------------------------------ */

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

#define POOL 6000
#define NSTACKS 37

struct model {
    uint64_t addr[POOL];
    uint64_t size[POOL];  /* 0: not live (sizes in the test are >= 1) */
    uint32_t stack[POOL];
};

/* Compare the map with the model: the same set of addresses with the same
 * sizes and stacks, and the counters. */
static void compare(const struct ps_heap *h, const struct model *m, uint64_t step)
{
    uint64_t n = 0, bytes = 0;
    for (int i = 0; i < POOL; i++) {
        if (m->size[i]) {
            n++;
            bytes += m->size[i];
        }
    }
    int before = t_failures;
    CHECK_EQ(h->heap_blocks, n);
    CHECK_EQ(h->heap_bytes, bytes);
    CHECK_EQ(live_entries(h), n);
    /* each live entry is one of the model's, with its size and stack
     * (pool addresses are distinct, so a linear scan finds it) */
    for (uint64_t s = 0; s < h->live_cap && t_failures == before; s++) {
        const struct ps_block *b = &h->live[s];
        if (!b->addr)
            continue;
        int i = 0;
        while (i < POOL && m->addr[i] != b->addr)
            i++;
        if (i == POOL || !m->size[i]) {
            fprintf(stderr, "step %" PRIu64 ": slot %" PRIu64 " holds 0x%" PRIx64
                    " which the model says is not live\n", step, s, b->addr);
            t_failures++;
            break;
        }
        CHECK_EQ(b->size, m->size[i]);
        CHECK_EQ(b->stack, m->stack[i]);
    }
    if (t_failures != before)
        fprintf(stderr, "(at step %" PRIu64 ")\n", step);
}

static void churn(uint64_t seed, void (*make_pool)(struct model *), uint64_t steps)
{
    static struct model m;
    memset(&m, 0, sizeof m);
    make_pool(&m);
    rng_state = seed;
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 0;
    uint64_t unknown = 0, frees = 0, allocs = 0, reallocs = 0, total = 0;
    uint64_t site_count[NSTACKS] = {0}, site_bytes[NSTACKS] = {0};
    for (uint64_t step = 0; step < steps; step++) {
        uint64_t r = rnd();
        int i = (int)(r % POOL);
        /* Phases: fill (mostly allocate), drain (mostly free), mixed; so
         * the map grows, empties almost to nothing and refills, and long
         * probe chains are cut in the middle over and over. */
        uint64_t phase = (step / 20000) % 3;
        unsigned p_alloc = phase == 0 ? 80 : phase == 1 ? 15 : 50;
        unsigned roll = (unsigned)((r >> 32) % 100);
        if (m.size[i] && roll >= p_alloc) {
            ev_free(h, m.addr[i]);
            m.size[i] = 0;
            frees++;
        } else if (m.size[i] && roll < 5) {
            /* realloc in place to a new size */
            uint64_t size = 1 + (r >> 16) % 4096;
            uint32_t st = (uint32_t)((r >> 8) % NSTACKS);
            ev_realloc(h, m.addr[i], m.addr[i], size, st);
            m.size[i] = size;
            m.stack[i] = st;
            reallocs++;
            total += size;
            site_count[st]++;
            site_bytes[st] += size;
        } else if (!m.size[i] && roll < p_alloc) {
            uint64_t size = 1 + (r >> 16) % 4096;
            uint32_t st = (uint32_t)((r >> 8) % NSTACKS);
            ev_alloc(h, m.addr[i], size, st);
            m.size[i] = size;
            m.stack[i] = st;
            allocs++;
            total += size;
            site_count[st]++;
            site_bytes[st] += size;
        } else if (!m.size[i]) {
            ev_free(h, m.addr[i]); /* never allocated, or already freed */
            unknown++;
        }
        if (step % 9973 == 0) {
            int before = t_failures;
            compare(h, &m, step);
            if (t_failures != before)
                break;
        }
    }
    compare(h, &m, steps);
    CHECK_EQ(h->unknown_frees, unknown);
    CHECK_EQ(h->frees, frees);
    CHECK_EQ(h->allocations, allocs);
    CHECK_EQ(h->reallocations, reallocs);
    CHECK_EQ(h->total_allocated, total);
    CHECK_EQ(h->reused_live, 0);
    CHECK_EQ(h->error, 0);
    ps_heap_finish(h);
    for (uint32_t st = 0; st < NSTACKS; st++) {
        uint64_t lb = 0, lbytes = 0;
        for (int i = 0; i < POOL; i++) {
            if (m.size[i] && m.stack[i] == st) {
                lb++;
                lbytes += m.size[i];
            }
        }
        CHECK_EQ(h->sites[st].live_blocks, lb);
        CHECK_EQ(h->sites[st].live_bytes, lbytes);
        CHECK_EQ(h->sites[st].alloc_count, site_count[st]);
        CHECK_EQ(h->sites[st].alloc_bytes, site_bytes[st]);
    }
    ps_heap_free(h);
}

/* Addresses like a real heap's: 16-byte aligned, close together. */
static void pool_dense(struct model *m)
{
    for (int i = 0; i < POOL; i++)
        m->addr[i] = 0x555555560000ull + 16u * (uint64_t)i;
}

/* Addresses that differ only above bit 40: a multiplicative hash of them
 * has its low 40 bits equal, so at small capacities many share one home
 * slot and form long chains that wrap around the end of the table. */
static void pool_colliding(struct model *m)
{
    for (int i = 0; i < POOL; i++)
        m->addr[i] = ((uint64_t)(i + 1) << 40) | (uint64_t)(i % 3) * 16;
}

/* Random addresses, some near the top of the address space. */
static void pool_random(struct model *m)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < POOL; i++) {
        uint64_t a = 0;
        int dup;
        do {
            a = rnd() & ~(uint64_t)0xf;
            dup = a == 0;
            for (int j = 0; j < i && !dup; j++)
                dup = m->addr[j] == a;
        } while (dup);
        m->addr[i] = a;
    }
}

TEST(live_map_churn_dense)
{
    churn(0x1234567, pool_dense, 200000);
}

TEST(live_map_churn_colliding)
{
    churn(0xfeedface, pool_colliding, 200000);
}

TEST(live_map_churn_random)
{
    churn(42, pool_random, 200000);
}

/* The home slot of ADDR in an empty map of H's capacity, found by
 * experiment (insert it alone, see where it lands, free it) so that the
 * test does not copy heap.c's hash function.  H must be empty. */
static uint64_t home_slot(struct ps_heap *h, uint64_t addr)
{
    ev_alloc(h, addr, 1, 0);
    uint64_t s = 0;
    while (s < h->live_cap && h->live[s].addr != addr)
        s++;
    ev_free(h, addr);
    return s;
}

/* Probe chains across the end of the table, where erase() takes its
 * (j < i) branch.  Addresses are picked whose home slots are the last
 * three and the first three of the table; then random inserts and erases
 * among them (never more than 30 live, so the table does not grow), and
 * after every step every model-live block must be in the map and a free
 * of it must find it.  Random churn over the whole table hits the
 * wrapped cases only rarely: this makes every case common, including an
 * entry sitting in its own home slot just after the wrap (which must not
 * move back across it). */
TEST(live_map_wraparound)
{
    struct ps_heap *probe = ps_heap_new();
    ASSERT(probe);
    uint64_t cap = probe->live_cap;
    ASSERT(cap >= 64);
    enum { PER_HOME = 5, NHOMES = 6, N = PER_HOME * NHOMES };
    const uint64_t homes[NHOMES] = {cap - 3, cap - 2, cap - 1, 0, 1, 2};
    uint64_t addr[N];
    int have[NHOMES] = {0}, found = 0;
    for (uint64_t c = 1; found < N && c < 50000000; c++) {
        uint64_t a = c * 0x40; /* 64-byte aligned, like real blocks */
        uint64_t s = home_slot(probe, a);
        for (int k = 0; k < NHOMES; k++) {
            if (s == homes[k] && have[k] < PER_HOME) {
                have[k]++;
                addr[found++] = a;
            }
        }
    }
    ps_heap_free(probe);
    ASSERT_EQ(found, N);

    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    uint64_t size[N] = {0};
    uint64_t live = 0, bytes = 0, unknown = 0;
    rng_state = 99;
    now_tick = 0;
    for (int step = 0; step < 100000; step++) {
        uint64_t r = rnd();
        int i = (int)(r % N);
        if (size[i]) {
            ev_free(h, addr[i]);
            bytes -= size[i];
            size[i] = 0;
            live--;
        } else if ((r >> 32) % 4) {
            size[i] = 1 + (r >> 40) % 100;
            ev_alloc(h, addr[i], size[i], 0);
            bytes += size[i];
            live++;
        } else {
            ev_free(h, addr[i]);
            unknown++;
        }
        if (h->unknown_frees != unknown || h->heap_blocks != live || h->heap_bytes != bytes ||
            live_entries(h) != live) {
            fprintf(stderr, "step %d (%s 0x%" PRIx64 "): unknown_frees %" PRIu64 " want %" PRIu64
                    ", blocks %" PRIu64 "/%" PRIu64 " want %" PRIu64 "\n", step,
                    size[i] ? "alloc" : "free", addr[i], h->unknown_frees, unknown,
                    h->heap_blocks, live_entries(h), live);
            t_failures++;
            break;
        }
    }
    CHECK_EQ(h->live_cap, cap);
    CHECK_EQ(h->reused_live, 0);
    ps_heap_free(h);
}

/* Growth rehashes every live block: counts and sites survive it. */
TEST(growth)
{
    struct ps_heap *h = ps_heap_new();
    ASSERT(h);
    now_tick = 0;
    enum { N = 100000 };
    for (uint64_t i = 0; i < N; i++)
        ev_alloc(h, 0x10000 + 32 * i, 32, (uint32_t)(i & 7));
    CHECK(h->live_cap >= N * 4 / 3);
    CHECK_EQ(live_entries(h), N);
    CHECK_EQ(h->heap_bytes, 32ull * N);
    for (uint64_t i = 0; i < N; i += 2)
        ev_free(h, 0x10000 + 32 * i);
    CHECK_EQ(h->unknown_frees, 0);
    ps_heap_finish(h);
    for (uint32_t s = 0; s < 8; s++) {
        CHECK_EQ(h->sites[s].alloc_count, N / 8);
        CHECK_EQ(h->sites[s].live_blocks, s % 2 ? N / 8 : 0);
    }
    ps_heap_free(h);
}

/* The analyzer feeds events batched (they take effect PS_HEAP_BATCH late,
 * with their map slots prefetched); the result must be exactly that of
 * applying each at once, through frees, reallocs, reuse and map growth. */
TEST(batched_equals_immediate)
{
    struct ps_heap *hs[2];
    for (int mode = 0; mode < 2; mode++) {
        batched = mode == 1;
        rng_state = 0x9e3779b97f4a7c15ull;
        now_tick = 0;
        struct ps_heap *h = hs[mode] = ps_heap_new();
        ASSERT(h);
        uint64_t live[4096] = {0};
        for (int i = 0; i < 300000; i++) {
            uint64_t r = rnd();
            unsigned k = (unsigned)(r % 4096);
            if (live[k]) {
                if (r & (1ull << 40)) {
                    uint64_t to = 0x10000 + ((r >> 12) % 1000000) * 16;
                    ev_realloc(h, live[k], to, (r >> 20) % 500, (uint32_t)(r >> 50) % 64 + 1);
                    live[k] = to;
                } else {
                    ev_free(h, live[k]);
                    live[k] = 0;
                }
            } else {
                live[k] = 0x10000 + ((r >> 12) % 1000000) * 16;
                ev_alloc(h, live[k], (r >> 24) % 4000, (uint32_t)(r >> 50) % 64 + 1);
            }
        }
        ps_heap_finish(h);
    }
    batched = false;
    struct ps_heap *a = hs[0], *b = hs[1];
    CHECK_EQ(a->allocations, b->allocations);
    CHECK_EQ(a->frees, b->frees);
    CHECK_EQ(a->reallocations, b->reallocations);
    CHECK_EQ(a->total_allocated, b->total_allocated);
    CHECK_EQ(a->peak_bytes, b->peak_bytes);
    CHECK_EQ(a->peak_tick, b->peak_tick);
    CHECK_EQ(a->heap_bytes, b->heap_bytes);
    CHECK_EQ(a->heap_blocks, b->heap_blocks);
    CHECK_EQ(a->unknown_frees, b->unknown_frees);
    CHECK_EQ(a->reused_live, b->reused_live);
    CHECK(a->allocations > 100000);
    for (uint32_t s = 0; s < 66 && s < a->nsites && s < b->nsites; s++) {
        CHECK_EQ(a->sites[s].alloc_bytes, b->sites[s].alloc_bytes);
        CHECK_EQ(a->sites[s].live_bytes, b->sites[s].live_bytes);
        CHECK_EQ(a->sites[s].live_blocks, b->sites[s].live_blocks);
    }
    ps_heap_free(a);
    ps_heap_free(b);
}
