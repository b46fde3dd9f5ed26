/* perfshim trace format, shared by the shim (writer) and the analyzer (reader).
 *
 * Every change here changes docs/trace-format.md in the same commit, and any
 * change a version-1 reader would misread bumps PS_TRACE_VERSION.
 *
 * A trace is a 16-byte file header followed by records:
 *
 *   header:  "PERFSHIM" (8 bytes) | u32le format version | u32le flags (0)
 *   record:  u8 kind | uvarint payload length | payload
 *
 * Records carry their own length so that a reader can find the end of the
 * last complete one in a file cut short by SIGKILL, and skip what it does
 * not know: record kinds 64 and above are optional (informational; a reader
 * that does not know one skips it), kinds below 64 are required (a reader
 * that does not know one refuses the file).  Allocation events are
 * far too frequent for a length each: they live inside CHUNK records, one
 * per flush of one thread's buffer, as a packed stream of events that begin
 * with a one-byte kind and have fixed layouts.  Within one thread's stream
 * times and addresses are deltas from that thread's previous event, so a
 * reader decodes each thread's chunks in file order with per-thread state.
 *
 * Time is in "ticks" (see PS_CLOCK_*): TSC cycles when the kernel itself
 * trusts the TSC, otherwise CLOCK_MONOTONIC nanoseconds.  PROCESS and every
 * ROUND carry (tick, monotonic ns, realtime ns) pairs for conversion.
 *
 * Ordering: a ROUND record with tick T promises that every event with a
 * tick <= the previous ROUND's tick has already been written.  A reader can
 * therefore merge threads by time while holding only two rounds of data.
 */
#ifndef PERFSHIM_TRACE_FORMAT_H
#define PERFSHIM_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PS_TRACE_MAGIC "PERFSHIM"
#define PS_TRACE_MAGIC_LEN 8
#define PS_TRACE_VERSION 3
/* The oldest version this analyzer still reads (v2 added OFFCPU events
 * and the call/peer/process statistics records; v3 CPU_SAMPLE events and
 * PROCESS.cpu_hz). */
#define PS_TRACE_VERSION_MIN 1
#define PS_TRACE_HEADER_LEN 16

/* Top-level records: X(NAME, value, one-line description). */
#define PS_RECORDS(X)                                                        \
    X(PROCESS, 1, "process identity, command line, clock, start time")      \
    X(CHUNK, 2, "one flushed piece of one thread's event stream")           \
    X(ROUND, 3, "flush round: ordering promise and clock calibration")      \
    X(END, 4, "process ended: exit status and end time")                    \
    X(EXIT_SIGNAL, 5, "appended by perfshim record: the process died of a signal") \
    X(CHUNK_ZSTD, 6, "a CHUNK whose event bytes are one zstd frame")             \
    X(SAMPLING, 7, "from here on allocation events are sampled (trace size cap)")  \
    X(CALL_STATS, 64, "one buffer slot's cumulative intercepted-call statistics")  \
    X(PEER_STATS, 65, "one peer's cumulative connection and request statistics")  \
    X(PROC_STATS, 66, "process-wide counters: CPU time, connections")           \
    X(RESOURCE, 67, "one resource sample: RSS, heap, threads, fds, CPU")       \
    X(MEMORY, 68, "a slower sample: the allocator's view and the shim's memory") \
    X(SCAN, 69, "a reachability scan began: tick, trigger, threads, regions")  \
    X(SCAN_PAIRS, 70, "pointer candidates a scan found: (where, value) pairs")  \
    X(SCAN_END, 71, "a reachability scan's totals; a scan without one is ignored")

/* Events inside a CHUNK: X(NAME, value, description). */
#define PS_EVENTS(X)                                                         \
    X(ALLOC, 1, "a block was allocated")                                     \
    X(FREE, 2, "a block was freed")                                          \
    X(REALLOC, 3, "a block was resized or moved")                            \
    X(STACK, 4, "definition of a stack id")                                  \
    X(MODULE_LOAD, 5, "a module was mapped")                                 \
    X(MODULE_UNLOAD, 6, "a module was unmapped")                             \
    X(THREAD_START, 7, "first event of a thread's stream")                   \
    X(THREAD_EXIT, 8, "last event of a thread's stream")                     \
    X(EXEC, 9, "the thread is about to call exec")                           \
    X(OFFCPU, 10, "an intercepted call blocked at least PERFSHIM_OFFCPU_MIN_US")          \
    X(CPU_SAMPLE, 11, "a thread's CPU-time timer fired: its stack at that moment")

#define PS_REC_FIRST_OPTIONAL 64
#define PS_REC_LAST_REQUIRED PS_REC_SAMPLING /* kinds above it and below 64: refused */

/* Intercepted calls, named after the libc function the target called:
 * X(name, id, class).  Ids are part of the format: never renumber.  The
 * class says what the call means to the shim (see preload/net.c). */
#define PS_CALLS(X)                                                          \
    X(socket, 1, SOCKET) X(accept, 2, ACCEPT) X(accept4, 3, ACCEPT)           \
    X(connect, 4, CONNECT) X(listen, 5, LISTEN)                              \
    X(send, 6, SEND) X(sendto, 7, SEND) X(sendmsg, 8, SEND)                  \
    X(sendmmsg, 9, SEND) X(write, 10, SEND) X(writev, 11, SEND)              \
    X(sendfile, 12, SEND)                                                    \
    X(recv, 13, RECV) X(recvfrom, 14, RECV) X(recvmsg, 15, RECV)             \
    X(recvmmsg, 16, RECV) X(read, 17, RECV) X(readv, 18, RECV)               \
    X(close, 19, CLOSE) X(shutdown, 20, CLOSE)                               \
    X(poll, 21, WAIT) X(ppoll, 22, WAIT) X(select, 23, WAIT)                 \
    X(pselect, 24, WAIT) X(epoll_wait, 25, WAIT) X(epoll_pwait, 26, WAIT)    \
    X(clock_gettime, 27, CLOCK) X(gettimeofday, 28, CLOCK) X(time, 29, CLOCK) \
    X(nanosleep, 30, SLEEP) X(clock_nanosleep, 31, SLEEP)                    \
    X(usleep, 32, SLEEP) X(sleep, 33, SLEEP)

enum ps_call_kind {
#define PS__X(name, id, cls) PS_CALL_##name = id,
    PS_CALLS(PS__X)
#undef PS__X
    PS_CALL_MAX_
};

/* PEER_STATS.direction */
enum ps_peer_dir { PS_PEER_INBOUND = 0, PS_PEER_OUTBOUND = 1 };

enum ps_record_kind {
#define PS__X(name, val, desc) PS_REC_##name = val,
    PS_RECORDS(PS__X)
#undef PS__X
    PS_REC_MAX_
};

enum ps_event_kind {
#define PS__X(name, val, desc) PS_EV_##name = val,
    PS_EVENTS(PS__X)
#undef PS__X
    PS_EV_MAX_
};

/* PROCESS.clock */
enum ps_clock_kind { PS_CLOCK_MONOTONIC = 0, PS_CLOCK_TSC = 1 };

/* END.status_kind */
enum ps_exit_kind { PS_EXIT_EXITED = 0, PS_EXIT_SIGNALED = 1, PS_EXIT_EXEC = 2 };

/* CPU samples (CPU_SAMPLE events) come from a per-thread signal handler
 * that cannot write the thread's own ring: each sampled thread has a second
 * stream, its "CPU stream", holding only CPU_SAMPLE and STACK events.  The
 * innermost address of a CPU sample's stack is the interrupted instruction
 * plus one, so that every frame of every stack is looked up as address - 1
 * (the convention for return addresses).
 *
 * PS_FRAME_UNWINDING (+ 1, as a leaf) is no code address: it marks CPU
 * samples taken while the shim was unwinding the thread's stack for an
 * allocation.  Such a sample is written into the thread's own event stream
 * with the stack being unwound, this frame below it: the shim's own cost,
 * charged to where it was incurred. */
#define PS_FRAME_UNWINDING 0x10u

/* SCAN records (docs/trace-format.md, docs/reachability.md).  Region
 * types: ROOT memory is scanned as roots except where a live block lies;
 * in HEAP memory (the allocator's) only live blocks count. */
enum ps_scan_region { PS_SCAN_ROOT = 0, PS_SCAN_HEAP = 1 };
enum ps_scan_trigger { PS_SCAN_AT_EXIT = 1, PS_SCAN_BY_SIGNAL = 2, PS_SCAN_BY_INTERVAL = 3 };

/* Stack ids: 0 means "no stack"; the shim hands out 1, 2, 3, ... and never
 * more than PS_STACK_ID_MAX (later new stacks are recorded as 0), so a
 * reader can size its tables by id and refuse anything larger. */
#define PS_STACK_NONE 0u
#define PS_STACK_ID_MAX (1u << 22)
/* The deepest stack the shim records; deeper stacks are cut at the root end. */
#define PS_STACK_MAX_DEPTH 128

/* ---- allocation sampling (SAMPLING records) ------------------------------
 * Past half of PERFSHIM_MAX_TRACE_MB the shim records allocations by
 * sampling bytes: at SHIFT, with R = 2^SHIFT bytes, a block of SIZE < R is
 * recorded with probability SIZE / R (then it stands for R bytes), a larger
 * one always.  The coin is a hash of the block's address, so a free makes
 * the same choice without a table of sampled blocks (with the block's
 * usable size, never smaller: every recorded block's free is recorded),
 * and a larger SHIFT keeps a subset of what a smaller one kept: the
 * analyzer re-weights what it tracks at every step.  SHIFT PS_SAMPLE_OFF:
 * allocation events stopped. */
#define PS_SAMPLE_OFF 63u

static inline int ps_sample_keep(uint64_t addr, uint64_t size, unsigned shift)
{
    if (shift == 0)
        return 1;
    if (shift >= PS_SAMPLE_OFF)
        return 0;
    if (size >= (1ull << shift))
        return 1;
    uint64_t h = (addr >> 4) * 0x9e3779b97f4a7c15ull;
    return h < (size << (64 - shift));
}

/* ---- varint coding (LEB128) ------------------------------------------- */

#define PS_VARINT_MAX 10

static inline uint8_t *ps_put_uv(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t ps_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t ps_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint8_t *ps_put_sv(uint8_t *p, int64_t v)
{
    return ps_put_uv(p, ps_zigzag(v));
}

static inline uint8_t *ps_put_bytes(uint8_t *p, const void *s, size_t n)
{
    p = ps_put_uv(p, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

static inline void ps_put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ps_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Decode one uvarint from [*pp, end).  Returns 0 on success, -1 when the
 * input ends inside the varint or the varint is longer than 10 bytes. */
static inline int ps_get_uv(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    /* Most values are one or two bytes: take those without the loop. */
    if (end - p >= 2) {
        if (!(p[0] & 0x80)) {
            *out = p[0];
            *pp = p + 1;
            return 0;
        }
        if (!(p[1] & 0x80)) {
            *out = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
            *pp = p + 2;
            return 0;
        }
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

#endif
