/* Per-thread event buffers.
 *
 * Data model: every thread that records an event owns one ring (mmap'd, so
 * never from the target's allocator).  The owner appends whole events and
 * publishes them by advancing `head` (release); whoever holds `drain` writes
 * [tail, head) out as one CHUNK and advances `tail`.  The hot path takes no
 * lock: it only waits when its own ring is full, and then drains it itself.
 *
 * Rings are kept in a registry list that only grows; when a thread exits
 * its ring is drained and marked free, and the next new thread takes it, so
 * servers that start a thread per request do not grow the shim's memory.
 * A new owner gets a new serial, so each thread's stream stays separate.
 */
#include "shim.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct ps_thread *ps__self;

static struct ps_thread *_Atomic registry;
static _Atomic uint32_t next_serial;
static _Atomic uint32_t next_slot;
static pthread_key_t exit_key;

static void ps_thread_exit_cb(void *arg);

void ps_thread_init(void)
{
    /* The key's destructor tells us a thread is exiting; its value is the
     * ring.  pthread_key_create does not allocate. */
    pthread_key_create(&exit_key, ps_thread_exit_cb);
}

static void drain_lock(struct ps_thread *t)
{
    int expected = 0;
    while (!atomic_compare_exchange_weak_explicit(&t->drain, &expected, 1, memory_order_acquire,
                                                  memory_order_relaxed)) {
        expected = 0;
        sched_yield();
    }
}

static bool drain_trylock(struct ps_thread *t)
{
    int expected = 0;
    return atomic_compare_exchange_strong_explicit(&t->drain, &expected, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static void drain_unlock(struct ps_thread *t)
{
    atomic_store_explicit(&t->drain, 0, memory_order_release);
}

static void ring_reset(struct ps_thread *t)
{
    atomic_store_explicit(&t->head, 0, memory_order_relaxed);
    atomic_store_explicit(&t->tail, 0, memory_order_relaxed);
    t->prev_tick = 0; /* the analyzer starts every stream at tick 0 */
    t->prev_addr = 0;
    t->serial = atomic_fetch_add(&next_serial, 1);
    t->tid = (pid_t)syscall(SYS_gettid);
}

/* A free ring of the right kind, or a new one of CAP bytes. */
static struct ps_thread *take_ring(uint8_t cpu, size_t cap)
{
    struct ps_thread *t;
    /* Reuse the ring of a thread that has exited. */
    for (t = atomic_load(&registry); t; t = t->next) {
        int expected = 0;
        if (t->cpu == cpu && atomic_load_explicit(&t->in_use, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&t->in_use, &expected, 1))
            break;
    }
    if (!t) {
        uint8_t *mem = ps_mmap(sizeof *t + cap);
        if (!mem)
            return NULL;
        t = (struct ps_thread *)mem;
        t->ring = mem + sizeof *t;
        t->cap = (uint32_t)cap;
        t->cpu = cpu;
        t->slot = atomic_fetch_add(&next_slot, 1);
        atomic_store(&t->in_use, 1);
        struct ps_thread *head = atomic_load(&registry);
        do
            t->next = head;
        while (!atomic_compare_exchange_weak(&registry, &head, t));
    }
    drain_lock(t);
    ring_reset(t);
    drain_unlock(t);
    return t;
}

struct ps_thread *ps_thread_attach(void)
{
    struct ps_thread *t = take_ring(0, ps__opt.buffer_bytes);
    if (!t) {
        ps__self = PS_THREAD_GONE;
        return NULL;
    }
    ps__self = t;
    pthread_setspecific(exit_key, t);
    ps_ev_thread_start(t);
    return t;
}

/* 64 KiB: at 99 Hz a busy thread fills ~1 KiB per second between flushes;
 * the rest is room for new stacks' definitions and for 10 kHz. */
#define CPU_RING_BYTES (64 * 1024)

struct ps_thread *ps_thread_attach_cpu(void)
{
    return take_ring(1, CPU_RING_BYTES);
}

void ps_thread_release(struct ps_thread *t)
{
    ps_thread_drain(t, true);
    atomic_store(&t->in_use, 0);
}

/* Key destructor: the thread is exiting.  Record it, write the ring out and
 * hand it back.  Later hooks on this thread (other TLS destructors) pass
 * through untraced. */
static void ps_thread_exit_cb(void *arg)
{
    struct ps_thread *t = arg;
    int saved = errno;
    ps__busy++;
    if (t && ps__self == t) {
        ps_scan_thread_exit((uintptr_t)__builtin_frame_address(0));
        ps_cpu_thread_end();
        if (ps_active())
            ps_ev_thread_exit(t);
        ps__self = PS_THREAD_GONE;
        ps_thread_release(t);
    }
    ps__busy--;
    errno = saved;
}

void ps_thread_drain(struct ps_thread *t, bool wait)
{
    if (wait)
        drain_lock(t);
    else if (!drain_trylock(t))
        return;
    uint64_t head = atomic_load_explicit(&t->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
    if (head != tail) {
        uint32_t mask = t->cap - 1;
        uint32_t from = (uint32_t)(tail & mask);
        size_t len = (size_t)(head - tail);
        size_t first = len < t->cap - from ? len : t->cap - from;
        ps_writer_chunk(t->serial, t->ring + from, first, t->ring, len - first);
        atomic_store_explicit(&t->tail, head, memory_order_release);
    }
    drain_unlock(t);
}

void ps_thread_put(struct ps_thread *t, const uint8_t *ev, size_t len)
{
    uint64_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
    if (PS_UNLIKELY(head + len - tail > t->cap)) {
        ps_thread_drain(t, true);
        tail = atomic_load_explicit(&t->tail, memory_order_acquire);
        if (head + len - tail > t->cap)
            return; /* tracing stopped and nothing drains: drop */
    }
    uint32_t mask = t->cap - 1;
    uint32_t at = (uint32_t)(head & mask);
    size_t first = len < t->cap - at ? len : t->cap - at;
    memcpy(t->ring + at, ev, first);
    if (first < len)
        memcpy(t->ring, ev + first, len - first);
    atomic_store_explicit(&t->head, head + len, memory_order_release);
}

void ps_thread_drain_all(bool round)
{
    uint64_t tick = ps_now(), mono = ps_clock_mono_ns(), unix_ns = ps_clock_unix_ns();
    for (struct ps_thread *t = atomic_load(&registry); t; t = t->next)
        ps_thread_drain(t, true);
    if (round && atomic_load(&ps__scan_writing))
        round = false; /* a scan's tick is older than this round: its records first */
    if (round) {
        /* statistics first: a killed process's last ROUND covers them */
        if (ps_sampler_stats_due())
            ps_net_write_stats(atomic_load(&registry));
        ps_writer_round_at(tick, mono, unix_ns);
    }
}

/* Fork child: only the forking thread exists.  Other rings hold the
 * parent's events (the parent writes them); here they become free rings. */
void ps_thread_reset_all_but(struct ps_thread *self, struct ps_thread *self_cpu)
{
    atomic_store(&next_serial, 0);
    for (struct ps_thread *t = atomic_load(&registry); t; t = t->next) {
        atomic_store(&t->drain, 0);
        atomic_store(&t->head, 0);
        atomic_store(&t->tail, 0);
        t->n_alloc = t->n_free = t->bytes_alloc = 0; /* the child counts its own */
        t->live_usable = 0;
        if (t != self && t != self_cpu)
            atomic_store(&t->in_use, 0);
    }
    if (self_cpu)
        ring_reset(self_cpu);
    if (self) {
        ring_reset(self);
        pthread_setspecific(exit_key, self);
        ps_ev_thread_start(self);
    }
}

/* Between rounds the flusher writes out rings that are filling up, so that
 * their owners rarely have to stop and drain them themselves. */
bool ps_thread_drain_busy(void)
{
    bool busy = false;
    for (struct ps_thread *t = atomic_load(&registry); t; t = t->next) {
        uint64_t used = atomic_load_explicit(&t->head, memory_order_relaxed) -
                        atomic_load_explicit(&t->tail, memory_order_relaxed);
        if (used > t->cap / 8)
            ps_thread_drain(t, false);
        /* Still recording at any real rate: keep looking often, or a burst
         * fills the ring during a long nap and its owner must write it out
         * itself (uncompressed, on the target's time). */
        if (used > 4096)
            busy = true;
    }
    return busy;
}

struct ps_thread *ps_thread_registry(void)
{
    return atomic_load(&registry);
}
