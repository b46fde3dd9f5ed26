/* Internal interfaces of libperfshim.so.
 *
 * Layering: hooks_*.c define the exported libc/jemalloc names and call only
 * ps_* functions declared here.  Capture (stack.c), buffers (thread.c),
 * the writer (writer.c) and the lifecycle (lifecycle.c) never know which
 * hook reached them.
 *
 * Rules for every file under preload/ (enforced by scripts/check-preload.sh):
 * no stdio, no heap (all memory comes from mmap or static storage, so the
 * shim's memory never comes from the target's allocator), no getenv after
 * start-up, errno saved and restored around anything that may change it.
 */
#ifndef PERFSHIM_SHIM_H
#define PERFSHIM_SHIM_H

#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "perfshim/trace_format.h"

#define PS_LIKELY(x) __builtin_expect(!!(x), 1)
#define PS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PS_EXPORT __attribute__((visibility("default")))
#define PS_HIDDEN __attribute__((visibility("hidden")))

/* ---- lifecycle ----------------------------------------------------------
 * One atomic state that every hook reads.  BOOT: before our constructor
 * (hooks pass through).  ACTIVE: recording.  DEAD: after the final flush,
 * or tracing failed (hooks pass through, nothing is written). */
enum ps_state { PS_BOOT = 0, PS_ACTIVE = 1, PS_DEAD = 2 };
extern _Atomic int ps__state;

static inline bool ps_active(void)
{
    return atomic_load_explicit(&ps__state, memory_order_relaxed) == PS_ACTIVE;
}

/* Options, parsed once by the constructor (see include/perfshim/options.h). */
struct ps_options {
    char output[1024];
    char record_log[1024];
    unsigned flush_ms;
    unsigned stack_depth;
    unsigned buffer_bytes;
    unsigned compress; /* zstd level, 0 = off */
    int clock; /* -1 auto, else enum ps_clock_kind */
    unsigned offcpu_min_us;
    unsigned sample_ms;       /* resource sampler period, 0 = off */
    unsigned max_trace_mb;    /* 0 = no cap */
    unsigned cpu_hz;          /* CPU samples per CPU-second of a thread; 0 = off */
    char cpu_signal[32];      /* as given; cpu.c parses it */
    bool scan;                /* reachability scan at normal exit */
    char scan_signal[32];     /* as given; empty: none */
    unsigned scan_interval_s; /* 0: no periodic scans */
    char metrics_file[1024];  /* template; empty = none */
    bool verbose;
    bool disable;
    bool net; /* intercept socket, clock and sleep calls */
};
extern struct ps_options ps__opt;

extern pid_t ps__pid; /* pid of the process that owns the trace */

void ps_lifecycle_init(void);    /* constructor body */
void ps_lifecycle_exec(const char *path); /* before any exec */
void ps_lifecycle__exit(int status);      /* _exit / _Exit */
/* Give up tracing: say why once on stderr, stop recording. */
void ps_shutdown(const char *why, int err);

/* ---- re-entrancy guard --------------------------------------------------
 * A thread-local counter: while it is non-zero, hooks pass straight through.
 * The whole shim is built with -ftls-model=initial-exec so that reaching
 * this variable never allocates. */
extern __thread int ps__busy;

static inline bool ps_enter(void)
{
    if (ps__busy)
        return false;
    ps__busy = 1;
    return true;
}

static inline void ps_leave(void)
{
    ps__busy = 0;
}

/* A lock for short sections that may run inside any hook (no futex, no
 * pthread state a fork child could inherit half-taken). */
void ps_spin_yield(void);
static inline void ps_spin_lock(_Atomic int *l)
{
    int expected = 0;
    while (!atomic_compare_exchange_weak_explicit(l, &expected, 1, memory_order_acquire,
                                                  memory_order_relaxed)) {
        expected = 0;
        ps_spin_yield();
    }
}

static inline void ps_spin_unlock(_Atomic int *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

/* ---- clock ---------------------------------------------------------------- */
extern int ps__clock_kind;
uint64_t ps_clock_mono_ns(void);
uint64_t ps_clock_unix_ns(void);
void ps_clock_init(int requested);
uint64_t ps_clock_hz(void);

/* Tick differences to nanoseconds: ticks * mult / 2^32. */
extern uint64_t ps__tick_mult;
static inline uint64_t ps_ticks_to_ns(uint64_t d)
{
    return (uint64_t)(((unsigned __int128)d * ps__tick_mult) >> 32);
}

static inline uint64_t ps_now(void)
{
#if defined(__x86_64__)
    if (PS_LIKELY(ps__clock_kind == PS_CLOCK_TSC)) {
        unsigned lo, hi;
        __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
        return (uint64_t)hi << 32 | lo;
    }
#endif
    return ps_clock_mono_ns();
}

/* ---- per-thread event buffers (thread.c) ---------------------------------
 * Each thread appends events to its own single-producer ring; the flusher
 * thread (or the owner, when the ring is full) drains it into the file as
 * one CHUNK record.  `drain` is a lock owned by whoever is writing the ring
 * out, so that one thread's chunks reach the file in order. */
struct ps_thread {
    uint8_t *ring;
    uint32_t cap;                 /* power of two */
    uint32_t serial;              /* the CHUNK's thread serial */
    _Atomic uint64_t head;        /* written by the owner only */
    _Atomic uint64_t tail;        /* written by the drainer only */
    _Atomic int drain;            /* 0 free, 1 held */
    _Atomic int in_use;           /* 0: free for a new thread to take */
    pid_t tid;
    uint64_t prev_tick;           /* encoder state, owner only */
    uint64_t prev_addr;
    uint8_t bounce[128];          /* events that do not fit before the ring wraps */
    struct ps_thread *next;       /* registry list, never unlinked */
    struct ps_net_slot *net;      /* call statistics (net.c), kept across owners */
    uint8_t cpu;                  /* 1: a CPU stream (cpu.c), written by a signal handler */
    uint32_t slot;                /* this ring's number for ever: CALL_STATS key */
    /* Allocation counters for the sampler (sampler.c): written by the
     * owner only, read by the flusher; cumulative across owners. */
    uint64_t n_alloc, n_free, bytes_alloc;
    int64_t live_usable;          /* usable bytes allocated here minus freed here */
};

static inline void ps_count(uint64_t *c, uint64_t add)
{
    __atomic_store_n(c, *c + add, __ATOMIC_RELAXED);
}

#define PS_THREAD_GONE ((struct ps_thread *)1)
extern __thread struct ps_thread *ps__self;

struct ps_thread *ps_thread_attach(void);
/* A CPU stream for the calling thread (cpu.c): a ring of its own whose only
 * producer is the thread's CPU-sample signal handler.  NULL: no memory. */
struct ps_thread *ps_thread_attach_cpu(void);
/* Write T out and hand it back for a later thread to take. */
void ps_thread_release(struct ps_thread *t);
/* Fork child: every ring but the forking thread's two becomes free. */
void ps_thread_reset_all_but(struct ps_thread *self, struct ps_thread *self_cpu);
/* Append LEN bytes (one whole event) to T's ring. */
void ps_thread_put(struct ps_thread *t, const uint8_t *ev, size_t len);
/* Fast path for small events: encode in place.  ps_reserve returns where
 * to encode up to MAX bytes (in the ring when it has that much room before
 * it wraps, else the bounce buffer); ps_commit publishes them. */
#define PS_EV_SMALL_MAX 64
static inline uint8_t *ps_reserve(struct ps_thread *t)
{
    uint64_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
    uint32_t at = (uint32_t)(head & (t->cap - 1));
    if (PS_LIKELY(t->cap - at >= PS_EV_SMALL_MAX && head + PS_EV_SMALL_MAX - tail <= t->cap))
        return t->ring + at;
    return t->bounce;
}

static inline void ps_commit(struct ps_thread *t, uint8_t *start, uint8_t *end)
{
    if (PS_UNLIKELY(start == t->bounce)) {
        ps_thread_put(t, start, (size_t)(end - start));
        return;
    }
    uint64_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
    atomic_store_explicit(&t->head, head + (uint64_t)(end - start), memory_order_release);
}

/* Write T's pending bytes out.  WAIT: block for the drain lock. */
void ps_thread_drain(struct ps_thread *t, bool wait);
/* Drain every ring; ROUND: then write a ROUND record. */
void ps_thread_drain_all(bool round);
void ps_thread_init(void);
bool ps_thread_drain_busy(void); /* true if some ring was filling up */
struct ps_thread *ps_thread_registry(void); /* every ring, newest first */

/* The calling thread's buffer, attaching it on first use; NULL when the
 * thread has gone (its exit handler already ran). */
static inline struct ps_thread *ps_self(void)
{
    struct ps_thread *t = ps__self;
    if (PS_LIKELY(t > PS_THREAD_GONE))
        return t;
    if (t == PS_THREAD_GONE)
        return NULL;
    return ps_thread_attach();
}

/* ---- events (events.c) ---------------------------------------------------- */
void ps_ev_alloc(struct ps_thread *t, uint64_t tick, const void *p, size_t size, uint32_t stack);
void ps_ev_free(struct ps_thread *t, uint64_t tick, const void *p);
void ps_ev_realloc(struct ps_thread *t, uint64_t tick0, uint64_t tick1, const void *old,
                   const void *p, size_t size, uint32_t stack);
void ps_ev_thread_start(struct ps_thread *t);
void ps_ev_thread_exit(struct ps_thread *t);
void ps_ev_exec(struct ps_thread *t, const char *path);
void ps_ev_stack(struct ps_thread *t, uint32_t id, const uintptr_t *ips, unsigned n);
void ps_ev_raw(struct ps_thread *t, const uint8_t *ev, size_t len); /* pre-encoded */
void ps_ev_offcpu(struct ps_thread *t, uint64_t end_tick, uint64_t ns, unsigned call, uint32_t stack);
void ps_ev_cpu_sample(struct ps_thread *t, uint64_t tick, pid_t tid, uint32_t stack, uint64_t weight);
#define PS_MODULE_EV_MAX (4096 + 64 + 64 * 3 * PS_VARINT_MAX + 8 * PS_VARINT_MAX)
#define PS_MODULE_MAX_SEGS 64
void ps_ev_module_load(struct ps_thread *t, uint8_t *buf, uint32_t id, const char *path,
                       uint64_t bias, const uint8_t *build_id, size_t build_id_len,
                       const uint64_t (*segs)[3], unsigned nsegs);
void ps_ev_module_unload(struct ps_thread *t, uint32_t id);

/* ---- stacks (stack.c) ----------------------------------------------------- */
void ps_stack_init(void);
void ps_stack_reset(void); /* fork child: ids restart, the new trace defines them again */
/* Capture the caller's stack, minus the shim's own frames; returns its id,
 * emitting a STACK definition into T first when the stack is new. */
uint32_t ps_stack_capture(struct ps_thread *t);
/* For the CPU-sample handler: the stack of the interrupted code, whose
 * instruction is PC, innermost first, the leaf as PC + 1 (see
 * trace_format.h); returns the depth (at least 1). */
unsigned ps_stack_unwind_signal(uintptr_t pc, uintptr_t *ips, unsigned max);
void ps_stack_warm(void); /* one walk in thread context: libunwind's caches set up */
int ps_stack_backtrace(void **ips, int max); /* raw return addresses, the shim's included */
/* The id of stack IPS; a new stack's definition goes into T first.  From
 * a signal handler (IN_SIGNAL) the module map is not looked at (the
 * loader's lock may be held by the interrupted code): the flusher does. */
uint32_t ps_stack_intern(struct ps_thread *t, const uintptr_t *ips, unsigned n, bool in_signal);
/* Non-zero while this thread is inside libunwind: a signal arriving then
 * must not unwind again (libunwind's per-thread caches are not re-entrant). */
extern __thread int ps__unwinding;

/* ---- modules (modules.c) -------------------------------------------------- */
void ps_modules_init(void);
void ps_modules_reset(void);
/* Emit MODULE_LOAD/UNLOAD for what changed since the last look.  FORCE:
 * look even if the loader's counters say nothing changed. */
void ps_modules_sync(struct ps_thread *t, bool force);
bool ps_modules_changed(void);
void ps_modules_range_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi);

/* ---- intercepted socket, clock and sleep calls (net.c) ---------------------
 * Hooks (hooks_net.c, hooks_clock.c) read the clock, make the real call,
 * and hand the outcome to one of these; each saves and restores errno and
 * runs with ps__busy set.  ps_net_live() is the hooks' gate. */
extern bool ps__net_on;
extern uint64_t ps__offcpu_min_ns;
static inline bool ps_net_live(void)
{
    return ps__net_on && !ps__busy && ps_active();
}
void ps_net_init(void);
void ps_net_finish(void);
void ps_net_child_reset(struct ps_thread *registry);
void ps_net_write_stats(struct ps_thread *registry);
bool ps_net_is_socket(int fd);    /* classifies an fd seen for the first time */
/* R: the result (bytes, or -1); ASKED: bytes given to a send; TO: a
 * datagram's destination, which names an unconnected socket's peer. */
void ps_net_data(int kind, int fd, uint64_t t0, long r, size_t asked, const struct sockaddr *to,
                 unsigned tolen);
void ps_net_wait(int kind, uint64_t t0, long r);
void ps_net_socket(int kind, uint64_t t0, int fd, int type);
void ps_net_listen(uint64_t t0, int fd, long r);
void ps_net_accept(int kind, uint64_t t0, int lfd, int fd);
void ps_net_connect(uint64_t t0, int fd, const struct sockaddr *sa, unsigned len, long r);
bool ps_net_closing(int fd, bool forget); /* true: FD was a known socket */
void ps_net_close_range(unsigned first, unsigned last);

/* The body of a hook that only needs timing: read the tick, make the real
 * call, count it (hooks_net.c, hooks_clock.c). */
#define PS_TIMED_CALL(kind, type, call)                                  \
    do {                                                                 \
        ps_real_wait();                                                  \
        if (!ps_net_live())                                              \
            return call;                                                 \
        uint64_t t0_ = ps_now();                                         \
        type r_ = call;                                                  \
        ps_net_wait(PS_CALL_##kind, t0_, (long)r_);                      \
        return r_;                                                       \
    } while (0)

/* ---- resource sampler and trace size cap (sampler.c) ----------------------
 * The flusher calls ps_sampler_tick every loop; every PERFSHIM_SAMPLE_MS it
 * writes a RESOURCE record (and every 20th time a MEMORY record) and
 * rewrites the metrics file.  It also watches the trace's size against
 * PERFSHIM_MAX_TRACE_MB and raises ps__sample_shift (see trace_format.h). */
extern _Atomic unsigned ps__sample_shift;
static inline unsigned ps_sample_shift(void)
{
    return atomic_load_explicit(&ps__sample_shift, memory_order_relaxed);
}
void ps_sampler_init(void);
void ps_sampler_tick(uint64_t mono_ns);
void ps_sampler_final(void);       /* exit: one last sample */
void ps_sampler_child_reset(void); /* fork child */
bool ps_sampler_stats_due(void);   /* false: skip this round's statistics (capped) */
void ps_sampler_flusher(bool running); /* the flusher thread started/stopped */

/* ---- CPU sampler (cpu.c) ---------------------------------------------------
 * Each thread gets a timer on its own CPU-time clock that signals it
 * PERFSHIM_CPU_HZ times per CPU-second; the handler records the stack into
 * the thread's CPU stream.  The target keeps its own use of the signal:
 * its handlers are chained (hooks_signal.c). */
void ps_cpu_init(void);          /* start-up: the rate, the signal and its handler */
extern __thread struct ps_thread *ps__cpu; /* the calling thread's CPU stream */
void ps_cpu_thread_begin(void);  /* first thing in every new thread */
void ps_cpu_thread_end(void);    /* thread exit: timer deleted, stream written out */
void ps_cpu_child_reset(void);   /* fork child: the forking thread's timer */
unsigned ps_cpu_hz(void);        /* the rate in force; 0 when off */
int ps_cpu_signal(void);         /* the sampler's signal; 0 when off */
void ps_cpu_counts(uint64_t *taken, uint64_t *dropped);
void ps_cpu_flusher_tick(void);  /* record modules that samples may have reached */
/* Samples whose signal came while this thread was inside libunwind for an
 * allocation (or off-CPU) stack IPS: recorded into the thread's own event
 * stream once that stack is known, below it the PS_FRAME_UNWINDING frame. */
extern __thread uint64_t ps__cpu_pending;
void ps_cpu_pending_flush(struct ps_thread *t, const uintptr_t *ips, unsigned n);
/* Inside dl_iterate_phdr (hooks_loader.c), counted: no sample unwinds there. */
extern __thread int ps__in_loader;
void ps_cpu_pending_record(void); /* put-off samples, with the caller's stack */
int ps_parse_signal(const char *s); /* a name, SIGRTMIN+N or a number; 0 if unusable */
int ps_cpu_configured_signal(void);  /* PERFSHIM_CPU_SIGNAL, parsed */
int ps_cpu_claim_signal(void);       /* the handler installed (for scans too); 0 if not */
/* The target's view of the sampler's signal (hooks_signal.c). */
int ps_cpu_target_action(const struct sigaction *act, struct sigaction *old);

/* ---- reachability scans (scan.c) ------------------------------------------ */
extern char ps__scan_tag;           /* sival_ptr of a stop request */
extern _Atomic int ps__scan_writing; /* a scan's records are pending: no ROUND yet */
void ps_scan_init(void);
void ps_scan_on_stop(void *uc);     /* cpu.c's handler: park until the scan is over */
void ps_scan_thread_exit(uintptr_t sp); /* a thread's last stack pointer */
void ps_scan_flusher_tick(uint64_t now_ns);
void ps_scan_at_exit(void);
void ps_scan_child_reset(void);
int ps_scan_signal(void);           /* PERFSHIM_SCAN_SIGNAL in force; 0 none */
int ps_scan_target_action(const struct sigaction *act, struct sigaction *old);
/* The ps_mmap'd ranges overlapping [LO, HI), at most MAX, into OUT. */
unsigned ps_own_ranges(uintptr_t lo, uintptr_t hi, uintptr_t (*out)[2], unsigned max);
pid_t ps_flusher_tid(void);
void ps_flusher_stack(uintptr_t *lo, uintptr_t *hi); /* the flusher thread's stack; 0, 0 none */

/* ---- writer (writer.c) ---------------------------------------------------- */
int ps_writer_open(void); /* 0 or -errno */
uint64_t ps_writer_bytes(void); /* bytes written to the trace so far */
/* Expand %p, %e, %% of a file template (relative names: from the cwd). */
void ps_expand_template(char *out, size_t size, const char *tmpl);
void ps_writer_header(void);
/* Write one top-level record whose payload is the concatenation of the
 * iovecs (a CHUNK's event bytes may wrap around its ring). */
void ps_writer_record(int kind, const void *a, size_t alen, const void *b, size_t blen,
                      const void *c, size_t clen);
/* The tick and the clocks are read together, before the drain, so that the
 * pair calibrates ticks and the tick is an honest ordering frontier. */
void ps_writer_round_at(uint64_t tick, uint64_t mono_ns, uint64_t unix_ns);
/* One thread's pending event bytes (two pieces when the ring wraps):
 * compressed when the flusher thread writes them, raw otherwise. */
void ps_writer_chunk(uint32_t serial, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
void ps_writer_end(int exit_kind, int code);
void ps_writer_lock(void);
void ps_writer_unlock(void);
void ps_writer_child_reset(void);
void ps_flusher_start(void);
int ps_writer_fd(void);
void ps_writer_fd_moved(int fd);
const char *ps_writer_path(void);
const char *ps_errname(int e);

/* ---- chunk compression (compress.c), flusher thread only ------------------- */
void ps_compress_init(void);
const uint8_t *ps_compress(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *out_len);

/* ---- real functions and the bootstrap arena (real.c) ---------------------- */
struct ps_real_fns {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    void (*free)(void *);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
    /* jemalloc's non-standard API, when the target has it */
    void *(*mallocx)(size_t, int);
    void *(*rallocx)(void *, size_t, int);
    size_t (*xallocx)(void *, size_t, size_t, int);
    size_t (*sallocx)(const void *, int);
    void (*dallocx)(void *, int);
    void (*sdallocx)(void *, size_t, int);
    size_t (*nallocx)(size_t, int);
    /* process control */
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execv)(const char *, char *const[]);
    int (*execvp)(const char *, char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    void (*_exit)(int) __attribute__((noreturn));
    void (*_Exit)(int) __attribute__((noreturn));
    int (*close)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*close_range)(unsigned, unsigned, int);
    /* signals and threads (the CPU sampler) */
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    int (*dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
    void (*(*signal)(int, void (*)(int)))(int);
    int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    /* sockets */
    int (*socket)(int, int, int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    int (*sendmmsg)(int, struct mmsghdr *, unsigned, int);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*sendfile)(int, int, off_t *, size_t);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    int (*recvmmsg)(int, struct mmsghdr *, unsigned, int, struct timespec *);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    int (*shutdown)(int, int);
    ssize_t (*__read_chk)(int, void *, size_t, size_t);
    ssize_t (*__recv_chk)(int, void *, size_t, size_t, int);
    ssize_t (*__recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
    /* waiting */
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    int (*__poll_chk)(struct pollfd *, nfds_t, int, size_t);
    int (*__ppoll_chk)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
    int (*epoll_wait)(int, struct epoll_event *, int, int);
    int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
    /* clocks and sleeps */
    int (*clock_gettime)(clockid_t, struct timespec *);
    int (*gettimeofday)(struct timeval *, void *);
    time_t (*time)(time_t *);
    int (*nanosleep)(const struct timespec *, struct timespec *);
    int (*clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
    int (*usleep)(useconds_t);
    unsigned (*sleep)(unsigned);
};
extern struct ps_real_fns ps_real;
extern _Atomic int ps__real_ready;

void ps_real_init(void);
static inline void ps_real_ensure(void)
{
    if (PS_UNLIKELY(!atomic_load_explicit(&ps__real_ready, memory_order_acquire)))
        ps_real_init();
}
/* For hooks that cannot serve a call themselves: wait until the pointers
 * are known (another thread may be resolving them right now). */
void ps_real_wait(void);
void *ps_boot_alloc(size_t size, size_t align);
bool ps_boot_owns(const void *p);
size_t ps_boot_size(const void *p);

/* ---- small libc-free helpers (util.c) -------------------------------------- */
/* Format into BUF (always NUL-terminated): %s %d %u %lu %llu %x %zu %%. */
size_t ps_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ps_write_all(int fd, const void *buf, size_t len);
/* One line on stderr: "perfshim: <message>\n". */
void ps_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *ps_mmap(size_t size);
void ps_munmap(void *p, size_t size);
uint64_t ps_mapped_bytes(void);   /* everything ps_mmap holds */
uint64_t ps_resident_bytes(void); /* the resident part of it (mincore; slow) */
int ps_read_file(const char *path, char *buf, size_t size); /* bytes read or -errno */
void ps_exe_name(char *buf, size_t size); /* short name of /proc/self/exe */

#endif
