/* A small trace writer for tests: builds trace files byte by byte with the
 * encoding of include/perfshim/trace_format.h and the event layouts of
 * preload/events.c, so that tests can produce any interleaving, any cut
 * and any corruption the shim itself would never write.
 *
 *   struct tw w; tw_init(&w); tw_header(&w, PS_TRACE_VERSION);
 *   tw_process(&w, ...);
 *   struct tw_thread a = {.serial = 1};
 *   th_alloc(&a, tick, addr, size, stack); ... tw_chunk(&w, &a);
 *   tw_round(&w, tick); tw_end(&w, PS_EXIT_EXITED, 0, tick);
 *   int fd = tw_memfd(&w, path);   (path: "/proc/self/fd/N")
 *
 * Each record's start offset is remembered (w.rec_off) so that tests know
 * where the record boundaries are.
 */
#ifndef PS_TEST_TRACEWRITER_H
#define PS_TEST_TRACEWRITER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include "perfshim/trace_format.h"

struct tw {
    uint8_t *buf;
    size_t len, cap;
    size_t rec_off[4096]; /* start of each record */
    size_t nrec;
    uint64_t cpu_hz; /* non-zero: PROCESS gets its v3 cpu_hz field */
};

/* One thread's event stream: encoder state as in the shim's ps_thread. */
struct tw_thread {
    uint32_t serial;
    uint64_t prev_tick, prev_addr;
    uint8_t ev[1 << 16];
    size_t len; /* encoded, not yet in a chunk */
};

static inline void tw_init(struct tw *w)
{
    memset(w, 0, sizeof *w);
}

static inline void tw_fini(struct tw *w)
{
    free(w->buf);
    w->buf = NULL;
}

static inline void tw_raw(struct tw *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        w->buf = realloc(w->buf, cap);
        if (!w->buf)
            abort();
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static inline void tw_header(struct tw *w, uint32_t version)
{
    uint8_t h[PS_TRACE_HEADER_LEN];
    memcpy(h, PS_TRACE_MAGIC, PS_TRACE_MAGIC_LEN);
    ps_put_u32le(h + 8, version);
    ps_put_u32le(h + 12, 0);
    tw_raw(w, h, sizeof h);
}

/* record: u8 kind | uvarint payload length | payload */
static inline void tw_record(struct tw *w, uint8_t kind, const void *payload, size_t n)
{
    uint8_t h[1 + PS_VARINT_MAX], *p = h;
    if (w->nrec < sizeof w->rec_off / sizeof w->rec_off[0])
        w->rec_off[w->nrec++] = w->len;
    *p++ = kind;
    p = ps_put_uv(p, n);
    tw_raw(w, h, (size_t)(p - h));
    tw_raw(w, payload, n);
}

/* PROCESS: pid, ppid, clock kind, hz, start tick, start mono ns, start unix
 * ns, version bytes, exe bytes, argc, argv bytes... */
static inline void tw_process(struct tw *w, uint64_t pid, uint64_t ppid, int clock, uint64_t hz,
                              uint64_t start_tick, const char *exe, int argc, const char **argv)
{
    uint8_t b[8192], *p = b;
    p = ps_put_uv(p, pid);
    p = ps_put_uv(p, ppid);
    p = ps_put_uv(p, (uint64_t)clock);
    p = ps_put_uv(p, hz);
    p = ps_put_uv(p, start_tick);
    p = ps_put_uv(p, 1000000);               /* start mono ns */
    p = ps_put_uv(p, 1700000000000000000ull); /* start unix ns */
    p = ps_put_bytes(p, "0.1.0", 5);
    p = ps_put_bytes(p, exe, strlen(exe));
    p = ps_put_uv(p, (uint64_t)argc);
    for (int i = 0; i < argc; i++)
        p = ps_put_bytes(p, argv[i], strlen(argv[i]));
    if (w->cpu_hz)
        p = ps_put_uv(p, w->cpu_hz);
    tw_record(w, PS_REC_PROCESS, b, (size_t)(p - b));
}

/* A default process: pid 4242, monotonic clock (ticks are ns). */
static inline void tw_start(struct tw *w)
{
    const char *argv[] = {"/bin/prog", "-x", "arg two"};
    tw_header(w, PS_TRACE_VERSION);
    tw_process(w, 4242, 1, PS_CLOCK_MONOTONIC, 1000000000, 1, "/bin/prog", 3, argv);
}

/* ROUND: tick, mono ns, unix ns */
static inline void tw_round(struct tw *w, uint64_t tick)
{
    uint8_t b[3 * PS_VARINT_MAX], *p = b;
    p = ps_put_uv(p, tick);
    p = ps_put_uv(p, 1000000 + tick);
    p = ps_put_uv(p, 1700000000000000000ull + tick);
    tw_record(w, PS_REC_ROUND, b, (size_t)(p - b));
}

/* END: kind, code, tick, mono ns */
static inline void tw_end(struct tw *w, int kind, int code, uint64_t tick)
{
    uint8_t b[4 * PS_VARINT_MAX], *p = b;
    p = ps_put_uv(p, (uint64_t)kind);
    p = ps_put_uv(p, (uint64_t)(unsigned)code);
    p = ps_put_uv(p, tick);
    p = ps_put_uv(p, 1000000 + tick);
    tw_record(w, PS_REC_END, b, (size_t)(p - b));
}

/* CHUNK: uvarint thread serial + the thread's pending events. */
static inline void tw_chunk(struct tw *w, struct tw_thread *t)
{
    uint8_t *b = malloc(PS_VARINT_MAX + t->len), *p = b;
    if (!b)
        abort();
    p = ps_put_uv(p, t->serial);
    memcpy(p, t->ev, t->len);
    p += t->len;
    tw_record(w, PS_REC_CHUNK, b, (size_t)(p - b));
    free(b);
    t->len = 0;
}

/* CHUNK_ZSTD: uvarint serial, uvarint raw length, one zstd frame of the
 * thread's pending events (preload/writer.c ps_writer_chunk). */
static inline void tw_chunk_zstd(struct tw *w, struct tw_thread *t, int level)
{
    size_t bound = ZSTD_compressBound(t->len);
    uint8_t *b = malloc(2 * PS_VARINT_MAX + bound), *p = b;
    if (!b)
        abort();
    p = ps_put_uv(p, t->serial);
    p = ps_put_uv(p, t->len);
    size_t n = ZSTD_compress(p, bound, t->ev, t->len, level);
    if (ZSTD_isError(n))
        abort();
    tw_record(w, PS_REC_CHUNK_ZSTD, b, (size_t)(p - b) + n);
    free(b);
    t->len = 0;
}

/* ---- events, as preload/events.c encodes them ------------------------------ */

static inline uint8_t *th_at(struct tw_thread *t)
{
    if (t->len + 8192 > sizeof t->ev)
        abort(); /* the test flushes long before */
    return t->ev + t->len;
}

static inline void th_done(struct tw_thread *t, uint8_t *end)
{
    t->len = (size_t)(end - t->ev);
}

static inline uint64_t th_dtick(struct tw_thread *t, uint64_t tick)
{
    uint64_t d = tick - t->prev_tick; /* tests pass non-decreasing ticks */
    t->prev_tick = tick;
    return d;
}

static inline uint8_t *th_addr(struct tw_thread *t, uint8_t *p, uint64_t a)
{
    p = ps_put_sv(p, (int64_t)(a - t->prev_addr));
    t->prev_addr = a;
    return p;
}

static inline void th_alloc(struct tw_thread *t, uint64_t tick, uint64_t addr, uint64_t size,
                            uint32_t stack)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_ALLOC;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = th_addr(t, p, addr);
    p = ps_put_uv(p, size);
    p = ps_put_uv(p, stack);
    th_done(t, p);
}

static inline void th_free(struct tw_thread *t, uint64_t tick, uint64_t addr)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_FREE;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = th_addr(t, p, addr);
    th_done(t, p);
}

static inline void th_realloc(struct tw_thread *t, uint64_t tick0, uint64_t tick1, uint64_t old,
                              uint64_t addr, uint64_t size, uint32_t stack)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_REALLOC;
    p = ps_put_uv(p, th_dtick(t, tick0));
    p = ps_put_uv(p, th_dtick(t, tick1));
    p = th_addr(t, p, old);
    p = th_addr(t, p, addr);
    p = ps_put_uv(p, size);
    p = ps_put_uv(p, stack);
    th_done(t, p);
}

static inline void th_stack(struct tw_thread *t, uint32_t id, const uint64_t *ips, unsigned n)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_STACK;
    p = ps_put_uv(p, id);
    p = ps_put_uv(p, n);
    uint64_t prev = 0;
    for (unsigned i = 0; i < n; i++) {
        p = ps_put_sv(p, (int64_t)(ips[i] - prev));
        prev = ips[i];
    }
    th_done(t, p);
}

static inline void th_thread_start(struct tw_thread *t, uint64_t tick, uint64_t tid)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_THREAD_START;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = ps_put_uv(p, tid);
    th_done(t, p);
}

static inline void th_thread_exit(struct tw_thread *t, uint64_t tick)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_THREAD_EXIT;
    p = ps_put_uv(p, th_dtick(t, tick));
    th_done(t, p);
}

static inline void th_exec(struct tw_thread *t, uint64_t tick, const char *path)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_EXEC;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = ps_put_bytes(p, path, strlen(path));
    th_done(t, p);
}

/* MODULE_LOAD: tick delta, id, path bytes, bias, build-id bytes, nsegs,
 * then (vaddr, memsz, flags) per segment. */
static inline void th_module_load(struct tw_thread *t, uint64_t tick, uint32_t id,
                                  const char *path, uint64_t bias, const uint8_t *bid,
                                  size_t bid_len, const uint64_t (*segs)[3], unsigned nsegs)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_MODULE_LOAD;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = ps_put_uv(p, id);
    p = ps_put_bytes(p, path, strlen(path));
    p = ps_put_uv(p, bias);
    p = ps_put_bytes(p, bid, bid_len);
    p = ps_put_uv(p, nsegs);
    for (unsigned i = 0; i < nsegs; i++) {
        p = ps_put_uv(p, segs[i][0]);
        p = ps_put_uv(p, segs[i][1]);
        p = ps_put_uv(p, segs[i][2]);
    }
    th_done(t, p);
}

static inline void th_module_unload(struct tw_thread *t, uint64_t tick, uint32_t id)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_MODULE_UNLOAD;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = ps_put_uv(p, id);
    th_done(t, p);
}

/* Raw bytes into the stream, for corrupt events. */
static inline void th_raw(struct tw_thread *t, const void *b, size_t n)
{
    uint8_t *p = th_at(t);
    memcpy(p, b, n);
    th_done(t, p + n);
}

/* The first LEN bytes of W in a memfd; PATH gets "/proc/self/fd/N".
 * Returns the fd (close it when done) or -1. */
static inline int tw_memfd_n(const struct tw *w, size_t len, char *path, size_t path_size)
{
    int fd = memfd_create("ps-test-trace", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, w->buf + off, len - off);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

static inline int tw_memfd(const struct tw *w, char *path, size_t path_size)
{
    return tw_memfd_n(w, w->len, path, path_size);
}

#endif
