/* Stack capture and deduplication.
 *
 * Unwinding: libunwind's unw_backtrace (its x86_64 fast path caches the
 * unwind rule per address: ~60-100 ns for 15-45 frames here, against
 * ~1,600 ns for glibc's backtrace()).  libunwind.so exports _Unwind_* and
 * even `backtrace`, so linking it normally would take over the target's C++
 * exception unwinding; it is dlopen'ed RTLD_LOCAL instead, and only the shim
 * ever sees its symbols.
 *
 * Deduplication: a global, lock-free hash table of stacks keyed by a hash
 * of the whole address array.  Lookups take no lock; an insert publishes a
 * node with one CAS on its bucket.  A new stack gets the next id and its
 * definition (STACK event) goes into the inserting thread's stream before
 * the event that uses it; another thread may use the id in an event that is
 * written earlier, which the analyzer allows (ids are resolved at the end).
 * Memory: one node per unique stack in an mmap'd arena reserved up front.
 */
#include "shim.h"

#include <dlfcn.h>
#include <string.h>

typedef int (*ps_unw_backtrace_fn)(void **, int);
static ps_unw_backtrace_fn unw_backtrace_fn;

static uintptr_t self_lo, self_hi;   /* our own text: frames to strip */
static uintptr_t unw_lo, unw_hi;     /* libunwind's text */

#define BUCKET_BITS 18
#define NBUCKETS (1u << BUCKET_BITS)
/* Reserved, touched as stacks arrive.  With strict overcommit a 4 GiB
 * reservation can fail; smaller ones are tried before giving up. */
static uint64_t arena_bytes;

struct node {
    uint64_t hash;
    uint32_t next; /* arena offset / 8 of the next node in the bucket, 0 = none */
    uint32_t id;
    uint32_t depth;
    uint32_t pad;
    uintptr_t ips[];
};

static _Atomic uint32_t *buckets;
static uint8_t *arena;
static _Atomic uint64_t arena_used;
static _Atomic uint32_t next_id;
static _Atomic int full_said;

static void table_map(void)
{
    buckets = ps_mmap(NBUCKETS * sizeof *buckets);
    for (arena_bytes = 1ull << 32; arena_bytes >= (1ull << 24); arena_bytes >>= 2)
        if ((arena = ps_mmap(arena_bytes)))
            break;
    if (!arena || !buckets)
        ps_say("cannot reserve memory for the stack table; allocations are recorded without stacks");
    atomic_store(&arena_used, 8); /* offset 0 means "none" */
    atomic_store(&next_id, 1);    /* id 0 is PS_STACK_NONE */
}

static bool text_range_of(const void *addr, uintptr_t *lo, uintptr_t *hi)
{
    Dl_info info;
    if (!dladdr(addr, &info) || !info.dli_fbase)
        return false;
    /* The module's whole mapped image is close enough: nothing else can
     * live inside it. */
    ps_modules_range_of((uintptr_t)info.dli_fbase, lo, hi);
    return *hi > *lo;
}

void ps_stack_init(void)
{
    table_map();
    text_range_of((void *)ps_stack_init, &self_lo, &self_hi);
    if (ps__opt.stack_depth == 0)
        return;
    /* RTLD_LOCAL keeps _Unwind_* and backtrace out of the global scope. */
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        ps_say("cannot load libunwind.so.8 (%s); allocations are recorded without stacks",
               dlerror());
        return;
    }
    int (*set_policy)(void *, int) = (int (*)(void *, int))dlsym(h, "_ULx86_64_set_caching_policy");
    void **addr_space = dlsym(h, "_ULx86_64_local_addr_space");
    if (set_policy && addr_space)
        set_policy(*addr_space, 2 /* UNW_CACHE_PER_THREAD */);
    unw_backtrace_fn = (ps_unw_backtrace_fn)dlsym(h, "unw_backtrace");
    if (unw_backtrace_fn)
        text_range_of((void *)unw_backtrace_fn, &unw_lo, &unw_hi);
    else
        ps_say("libunwind.so.8 has no unw_backtrace; allocations are recorded without stacks");
}

void ps_stack_reset(void)
{
    ps_munmap((void *)buckets, NBUCKETS * sizeof *buckets);
    ps_munmap(arena, arena_bytes);
    table_map();
}

/* Rotate-xor per frame (one cycle of latency each, where a multiply
 * chain cost ~30 ns per stack), one strong mix at the end.  Collisions only
 * cost a comparison: lookups compare the whole address array. */
static inline uint64_t hash_ips(const uintptr_t *ips, unsigned n)
{
    uint64_t h = n;
    for (unsigned i = 0; i < n; i++)
        h = ((h << 21) | (h >> 43)) ^ ips[i];
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static inline struct node *node_at(uint32_t off)
{
    return (struct node *)(arena + (uint64_t)off * 8);
}

static uint32_t find(uint32_t off, uint32_t stop, uint64_t h, const uintptr_t *ips, unsigned n)
{
    for (; off && off != stop; off = node_at(off)->next) {
        struct node *nd = node_at(off);
        if (nd->hash == h && nd->depth == n && memcmp(nd->ips, ips, n * sizeof *ips) == 0)
            return nd->id;
    }
    return 0;
}

__thread int ps__unwinding;

uint32_t ps_stack_capture(struct ps_thread *t)
{
    /* A signal handler of the target's, allocating while this thread was
     * inside libunwind (for us or for the CPU sampler), must not unwind. */
    if (!unw_backtrace_fn || !buckets || !arena || ps__unwinding)
        return PS_STACK_NONE;
    void *raw[PS_STACK_MAX_DEPTH + 8];
    ps__unwinding++;
    int got = unw_backtrace_fn(raw, (int)ps__opt.stack_depth + 8);
    ps__unwinding--;
    uint32_t id = PS_STACK_NONE;
    int skip = 0;
    while (skip < got && (((uintptr_t)raw[skip] >= self_lo && (uintptr_t)raw[skip] < self_hi) ||
                          ((uintptr_t)raw[skip] >= unw_lo && (uintptr_t)raw[skip] < unw_hi)))
        skip++;
    unsigned n = (unsigned)(got - skip);
    if (n > ps__opt.stack_depth)
        n = ps__opt.stack_depth;
    if (n)
        id = ps_stack_intern(t, (const uintptr_t *)(raw + skip), n, false);
    /* A CPU sample that came while libunwind ran was taken here. */
    if (PS_UNLIKELY(ps__cpu_pending))
        ps_cpu_pending_flush(t, (const uintptr_t *)(raw + skip), n);
    return id;
}

/* From the handler, libunwind walks the handler's frames, the kernel's
 * signal trampoline (whose frame it knows how to step through), then the
 * interrupted code: the walk is cut where the interrupted instruction
 * shows up.  Inside libunwind already, or when the walk never reaches PC,
 * the stack is PC alone. */
unsigned ps_stack_unwind_signal(uintptr_t pc, uintptr_t *ips, unsigned max)
{
    ips[0] = pc + 1;
    if (!unw_backtrace_fn || ps__unwinding || max < 2)
        return 1;
    void *raw[PS_STACK_MAX_DEPTH + 16];
    unsigned depth = ps__opt.stack_depth ? ps__opt.stack_depth : PS_STACK_MAX_DEPTH;
    if (depth > max)
        depth = max;
    ps__unwinding++;
    int got = unw_backtrace_fn(raw, (int)depth + 16);
    ps__unwinding--;
    int at = 0;
    while (at < got && at < 16 && (uintptr_t)raw[at] != pc)
        at++;
    if (at >= got || at >= 16)
        return 1;
    unsigned n = 1;
    for (int i = at + 1; i < got && n < depth; i++)
        ips[n++] = (uintptr_t)raw[i];
    return n;
}

int ps_stack_backtrace(void **ips, int max)
{
    if (!unw_backtrace_fn || ps__unwinding)
        return 0;
    ps__unwinding++;
    int n = unw_backtrace_fn(ips, max);
    ps__unwinding--;
    return n;
}

void ps_stack_warm(void)
{
    void *raw[4];
    if (unw_backtrace_fn && !ps__unwinding) {
        ps__unwinding++;
        unw_backtrace_fn(raw, 4);
        ps__unwinding--;
    }
}

uint32_t ps_stack_intern(struct ps_thread *t, const uintptr_t *ips, unsigned n, bool in_signal)
{
    if (!buckets || !arena || n == 0)
        return PS_STACK_NONE;
    uint64_t h = hash_ips(ips, n);
    _Atomic uint32_t *bucket = &buckets[h & (NBUCKETS - 1)];
    uint32_t head = atomic_load_explicit(bucket, memory_order_acquire);
    uint32_t id = find(head, 0, h, ips, n);
    if (PS_LIKELY(id))
        return id;

    /* New stack.  Make sure the modules it runs through are recorded while
     * they are still loaded (a plugin may be dlclose'd soon after). */
    if (!in_signal && ps_modules_changed())
        ps_modules_sync(t, false);

    size_t size = (sizeof(struct node) + n * sizeof(uintptr_t) + 7) & ~(size_t)7;
    uint64_t off = atomic_fetch_add(&arena_used, size);
    if (off + size > arena_bytes || (off >> 3) > UINT32_MAX) {
        if (!in_signal && !atomic_exchange(&full_said, 1))
            ps_say("stack table full; further new stacks are recorded as unknown");
        return PS_STACK_NONE;
    }
    struct node *nd = node_at((uint32_t)(off >> 3));
    nd->hash = h;
    nd->depth = n;
    memcpy(nd->ips, ips, n * sizeof *ips);
    nd->id = atomic_fetch_add(&next_id, 1);
    if (nd->id > PS_STACK_ID_MAX) {
        if (!in_signal && !atomic_exchange(&full_said, 1))
            ps_say("more than %u distinct stacks; further new stacks are recorded as unknown",
                   PS_STACK_ID_MAX);
        return PS_STACK_NONE;
    }
    for (;;) {
        nd->next = head;
        if (atomic_compare_exchange_weak_explicit(bucket, &head, (uint32_t)(off >> 3),
                                                  memory_order_release, memory_order_acquire))
            break;
        /* Someone else inserted meanwhile: maybe this very stack. */
        id = find(head, nd->next, h, ips, n);
        if (id)
            return id; /* our node is abandoned: a few bytes, rarely */
    }
    ps_ev_stack(t, nd->id, ips, n);
    return nd->id;
}
