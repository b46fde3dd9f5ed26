/* Encoding of the events that go into a thread's stream (see
 * include/perfshim/trace_format.h and docs/trace-format.md for layouts).
 * Times are deltas from the thread's previous event, addresses zigzag
 * deltas from its previous address: a malloc+free pair of a typical
 * program costs 12-16 bytes. */
#include "shim.h"

#include <string.h>

/* Ticks never go backwards within a stream, even if a TSC read on another
 * CPU came out a hair earlier. */
static inline uint64_t dtick(struct ps_thread *t, uint64_t tick)
{
    uint64_t d = tick > t->prev_tick ? tick - t->prev_tick : 0;
    t->prev_tick += d;
    return d;
}

static inline uint8_t *put_addr(struct ps_thread *t, uint8_t *p, const void *a)
{
    uint64_t v = (uint64_t)(uintptr_t)a;
    p = ps_put_sv(p, (int64_t)(v - t->prev_addr));
    t->prev_addr = v;
    return p;
}

/* The hot events are encoded straight into the ring (ps_reserve); their
 * largest encodings (41, 21 and 61 bytes) fit PS_EV_SMALL_MAX. */
_Static_assert(1 + 6 * PS_VARINT_MAX <= PS_EV_SMALL_MAX, "small event bound");

void ps_ev_alloc(struct ps_thread *t, uint64_t tick, const void *ptr, size_t size, uint32_t stack)
{
    uint8_t *ev = ps_reserve(t), *p = ev;
    *p++ = PS_EV_ALLOC;
    p = ps_put_uv(p, dtick(t, tick));
    p = put_addr(t, p, ptr);
    p = ps_put_uv(p, size);
    p = ps_put_uv(p, stack);
    ps_commit(t, ev, p);
}

void ps_ev_free(struct ps_thread *t, uint64_t tick, const void *ptr)
{
    uint8_t *ev = ps_reserve(t), *p = ev;
    *p++ = PS_EV_FREE;
    p = ps_put_uv(p, dtick(t, tick));
    p = put_addr(t, p, ptr);
    ps_commit(t, ev, p);
}

void ps_ev_realloc(struct ps_thread *t, uint64_t tick0, uint64_t tick1, const void *old,
                   const void *ptr, size_t size, uint32_t stack)
{
    uint8_t *ev = ps_reserve(t), *p = ev;
    *p++ = PS_EV_REALLOC;
    p = ps_put_uv(p, dtick(t, tick0));
    p = ps_put_uv(p, dtick(t, tick1));
    p = put_addr(t, p, old);
    p = put_addr(t, p, ptr);
    p = ps_put_uv(p, size);
    p = ps_put_uv(p, stack);
    ps_commit(t, ev, p);
}

void ps_ev_thread_start(struct ps_thread *t)
{
    uint8_t ev[1 + 2 * PS_VARINT_MAX], *p = ev;
    *p++ = PS_EV_THREAD_START;
    p = ps_put_uv(p, dtick(t, ps_now()));
    p = ps_put_uv(p, (uint64_t)t->tid);
    ps_thread_put(t, ev, (size_t)(p - ev));
}

void ps_ev_thread_exit(struct ps_thread *t)
{
    uint8_t ev[1 + PS_VARINT_MAX], *p = ev;
    *p++ = PS_EV_THREAD_EXIT;
    p = ps_put_uv(p, dtick(t, ps_now()));
    ps_thread_put(t, ev, (size_t)(p - ev));
}

void ps_ev_exec(struct ps_thread *t, const char *path)
{
    uint8_t ev[1 + 2 * PS_VARINT_MAX + 1024], *p = ev;
    size_t n = path ? strnlen(path, 1024) : 0;
    *p++ = PS_EV_EXEC;
    p = ps_put_uv(p, dtick(t, ps_now()));
    p = ps_put_bytes(p, path ? path : "", n);
    ps_thread_put(t, ev, (size_t)(p - ev));
}

void ps_ev_stack(struct ps_thread *t, uint32_t id, const uintptr_t *ips, unsigned n)
{
    uint8_t ev[1 + 2 * PS_VARINT_MAX + PS_STACK_MAX_DEPTH * PS_VARINT_MAX], *p = ev;
    *p++ = PS_EV_STACK;
    p = ps_put_uv(p, id);
    p = ps_put_uv(p, n);
    uint64_t prev = 0;
    for (unsigned i = 0; i < n; i++) {
        p = ps_put_sv(p, (int64_t)((uint64_t)ips[i] - prev));
        prev = ips[i];
    }
    ps_thread_put(t, ev, (size_t)(p - ev));
}

void ps_ev_raw(struct ps_thread *t, const uint8_t *ev, size_t len)
{
    ps_thread_put(t, ev, len);
}

/* MODULE_LOAD is encoded into BUF (the caller's, large enough: see
 * modules.c) since a path can be long and hooks may run on small stacks. */
void ps_ev_module_load(struct ps_thread *t, uint8_t *buf, uint32_t id, const char *path,
                       uint64_t bias, const uint8_t *build_id, size_t build_id_len,
                       const uint64_t (*segs)[3], unsigned nsegs)
{
    uint8_t *p = buf;
    *p++ = PS_EV_MODULE_LOAD;
    p = ps_put_uv(p, dtick(t, ps_now()));
    p = ps_put_uv(p, id);
    p = ps_put_bytes(p, path, strnlen(path, 4096));
    p = ps_put_uv(p, bias);
    p = ps_put_bytes(p, build_id, build_id_len);
    p = ps_put_uv(p, nsegs);
    for (unsigned i = 0; i < nsegs; i++) {
        p = ps_put_uv(p, segs[i][0]);
        p = ps_put_uv(p, segs[i][1]);
        p = ps_put_uv(p, segs[i][2]);
    }
    ps_thread_put(t, buf, (size_t)(p - buf));
}

void ps_ev_module_unload(struct ps_thread *t, uint32_t id)
{
    uint8_t ev[1 + 2 * PS_VARINT_MAX], *p = ev;
    *p++ = PS_EV_MODULE_UNLOAD;
    p = ps_put_uv(p, dtick(t, ps_now()));
    p = ps_put_uv(p, id);
    ps_thread_put(t, ev, (size_t)(p - ev));
}

/* A call that blocked: its end tick, how long (ns), which call, where. */
void ps_ev_offcpu(struct ps_thread *t, uint64_t end_tick, uint64_t ns, unsigned call, uint32_t stack)
{
    uint8_t *ev = ps_reserve(t), *p = ev;
    *p++ = PS_EV_OFFCPU;
    p = ps_put_uv(p, dtick(t, end_tick));
    p = ps_put_uv(p, ns);
    p = ps_put_uv(p, call);
    p = ps_put_uv(p, stack);
    ps_commit(t, ev, p);
}

/* A CPU sample (into a CPU stream, from its signal handler): the thread,
 * where it was, and how many timer periods it stands for. */
void ps_ev_cpu_sample(struct ps_thread *t, uint64_t tick, pid_t tid, uint32_t stack, uint64_t weight)
{
    uint8_t *ev = ps_reserve(t), *p = ev;
    *p++ = PS_EV_CPU_SAMPLE;
    p = ps_put_uv(p, dtick(t, tick));
    p = ps_put_uv(p, (uint64_t)tid);
    p = ps_put_uv(p, stack);
    p = ps_put_uv(p, weight);
    ps_commit(t, ev, p);
}
