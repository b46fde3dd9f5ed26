/* Reachability scans: the shim's half (docs/reachability.md).
 *
 * A scan stops the target's threads, reads what a memcheck-style leak
 * check needs, lets them go, and then writes it:
 *   - every readable+writable mapping worth scanning, tagged ROOT (module
 *     data and bss, anonymous memory, thread stacks above their stack
 *     pointer) or HEAP (glibc's heaps, where only live blocks count);
 *   - each stopped thread's general registers;
 *   - every aligned word in those mappings whose value falls inside memory
 *     that can hold heap blocks: a (where, value) pair.
 * The shim does not know which blocks are live (that would cost a table on
 * the malloc path); the analyzer does, at the scan's tick, and builds the
 * graph from the pairs (analyzer/reach.c).
 *
 * Stopping: each thread gets the CPU sampler's signal (cpu.c's handler)
 * sent with rt_tgsigqueueinfo and a tag; the handler saves the registers
 * and stack pointer and waits on a futex until the scan is over.  While
 * the world is stopped the scanner takes no lock, calls no malloc and maps
 * its buffers with raw system calls: a stopped thread may hold any of them.
 * Memory is read with process_vm_readv, which fails cleanly where a mapping
 * vanished (a thread that blocks the signal still runs).
 *
 * Triggers: normal exit (PERFSHIM_SCAN, on by default), a signal
 * (PERFSHIM_SCAN_SIGNAL, handled by the flusher thread), a period
 * (PERFSHIM_SCAN_INTERVAL_S, the flusher too). */
#include "shim.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#define MAX_STOPPED 4096
#define MAX_DEAD 1024
#define MAX_REGIONS 8192
#define STOP_WAIT_NS 500000000ull /* a thread that has not stopped by then is scanned running */
#define REDZONE 128               /* x86-64 leaf functions use 128 bytes below SP */
#define ARENA_ALIGN (64ull << 20) /* glibc's HEAP_MAX_SIZE on 64-bit */
#define PAIRS_PER_RECORD 65536

#if defined(__x86_64__)
#define NREGS 16
static const int reg_index[NREGS] = {REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI,
                                     REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                     REG_R12, REG_R13, REG_R14, REG_R15};
#elif defined(__aarch64__)
#define NREGS 32
#else
#error "reachability scan: unknown architecture (the stopped thread's registers)"
#endif

char ps__scan_tag; /* sival_ptr of our stop requests */

static struct stopped {
    pid_t tid;
    uintptr_t sp;
    uint64_t regs[NREGS];
} stopped[MAX_STOPPED];
static _Atomic unsigned nstopped;  /* slots claimed */
static _Atomic unsigned nparked;   /* threads that have filled theirs */
/* Futex word: odd while a scan holds the threads, bumped to let them go.
 * A request that arrives when it is even is stale (a resend that crossed
 * the resume) and is ignored. */
static _Atomic uint32_t stop_gen;
static __thread uint32_t parked_gen;

/* Stack pointers of threads that have exited: glibc keeps their stacks
 * mapped (its stack cache); below the last SP is dead memory. */
static uintptr_t dead_sp[MAX_DEAD];
static _Atomic unsigned ndead;

static _Atomic int scan_lock;
static _Atomic int request;       /* PERFSHIM_SCAN_SIGNAL arrived */
static int scan_sig;
static uint64_t next_interval_ns;
static unsigned scan_id;
_Atomic int ps__scan_writing;     /* no ROUND while a scan's records are pending */
static uintptr_t self_lo, self_hi; /* the shim's own image */

struct region {
    uintptr_t lo, hi; /* scanned part */
    uintptr_t map_lo, map_hi;
    uint8_t type;     /* PS_SCAN_ROOT / PS_SCAN_HEAP */
    bool anon, stack;
};

/* Buffers mapped with raw system calls: neither ps_mmap (its lock) nor
 * malloc may be used while threads are stopped. */
static void *raw_map(size_t n)
{
    void *p = (void *)syscall(SYS_mmap, NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return (uintptr_t)p > (uintptr_t)-4096 ? NULL : p;
}

static void raw_unmap(void *p, size_t n)
{
    if (p)
        syscall(SYS_munmap, p, n);
}

static void *raw_grow(void *p, size_t old, size_t n)
{
    void *q = (void *)syscall(SYS_mremap, p, old, n, MREMAP_MAYMOVE);
    return (uintptr_t)q > (uintptr_t)-4096 ? NULL : q;
}

/* ---- the stopped thread's side ----------------------------------------------------- */

void ps_scan_on_stop(void *ucv)
{
    ucontext_t *uc = ucv;
    uint32_t gen = atomic_load(&stop_gen);
    if (!(gen & 1) || parked_gen == gen)
        return; /* no scan now, or this thread is already counted in it */
    parked_gen = gen;
    unsigned i = atomic_fetch_add(&nstopped, 1);
    if (i < MAX_STOPPED) {
        struct stopped *s = &stopped[i];
        s->tid = (pid_t)syscall(SYS_gettid);
#if defined(__x86_64__)
        s->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
        for (int r = 0; r < NREGS; r++)
            s->regs[r] = (uint64_t)uc->uc_mcontext.gregs[reg_index[r]];
#else
        s->sp = (uintptr_t)uc->uc_mcontext.sp;
        for (int r = 0; r < 31; r++)
            s->regs[r] = uc->uc_mcontext.regs[r];
        s->regs[31] = uc->uc_mcontext.sp;
#endif
    }
    atomic_fetch_add(&nparked, 1);
    while (atomic_load(&stop_gen) == gen)
        syscall(SYS_futex, &stop_gen, FUTEX_WAIT_PRIVATE, gen, NULL, NULL, 0);
}

void ps_scan_thread_exit(uintptr_t sp)
{
    unsigned i = atomic_fetch_add(&ndead, 1);
    dead_sp[i % MAX_DEAD] = sp;
}

/* ---- stopping and resuming ------------------------------------------------------------ */

/* Every task of the process but EXCEPT_A/B, into TIDS (at most MAX). */
static unsigned list_tasks(pid_t *tids, unsigned max, pid_t except_a, pid_t except_b)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    static char buf[16384];
    unsigned n = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            pid_t tid = 0;
            for (const char *c = d->name; *c >= '0' && *c <= '9'; c++)
                tid = tid * 10 + (*c - '0');
            if (tid > 0 && tid != except_a && tid != except_b && n < max)
                tids[n++] = tid;
        }
    }
    syscall(SYS_close, fd);
    return n;
}

static bool has_tid(const pid_t *tids, unsigned n, pid_t tid)
{
    for (unsigned i = 0; i < n; i++)
        if (tids[i] == tid)
            return true;
    return false;
}

static bool parked(pid_t tid)
{
    unsigned n = atomic_load(&nstopped);
    for (unsigned i = 0; i < n && i < MAX_STOPPED; i++)
        if (stopped[i].tid == tid)
            return true;
    return false;
}

static bool ask(pid_t pid, pid_t tid, int sig)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = pid;
    si.si_uid = (uid_t)syscall(SYS_getuid);
    si.si_value.sival_ptr = &ps__scan_tag;
    return syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si) == 0;
}

/* Stop every thread but ourselves and the flusher.  Returns how many
 * were asked to; *missed: asked but not stopped in time.  The signal is
 * the CPU sampler's: a standard signal already pending (a timer's) swallows
 * a second one, so a thread that has not parked is asked again every 5 ms. */
static unsigned stop_world(int sig, unsigned *missed)
{
    static pid_t asked[MAX_STOPPED];
    pid_t me = (pid_t)syscall(SYS_gettid), pid = (pid_t)syscall(SYS_getpid);
    unsigned nasked = 0;
    atomic_store(&nstopped, 0);
    atomic_store(&nparked, 0);
    atomic_fetch_add(&stop_gen, 1); /* odd: stopping */
    /* Threads may start while we ask: list again until nothing new. */
    for (int round = 0; round < 4; round++) {
        static pid_t tids[MAX_STOPPED];
        unsigned n = list_tasks(tids, MAX_STOPPED, me, ps_flusher_tid());
        unsigned added = 0;
        for (unsigned i = 0; i < n && nasked < MAX_STOPPED; i++)
            if (!has_tid(asked, nasked, tids[i]) && ask(pid, tids[i], sig)) {
                asked[nasked++] = tids[i];
                added++;
            }
        if (round && !added)
            break; /* nothing new since the last wait */
        uint64_t t0 = ps_clock_mono_ns(), last = t0;
        while (atomic_load(&nparked) < nasked && ps_clock_mono_ns() - t0 < STOP_WAIT_NS) {
            struct timespec ts = {0, 50000};
            syscall(SYS_nanosleep, &ts, NULL);
            if (ps_clock_mono_ns() - last >= 5000000ull) {
                last = ps_clock_mono_ns();
                for (unsigned i = 0; i < nasked; i++)
                    if (!parked(asked[i]) && !ask(pid, asked[i], sig) && errno == ESRCH)
                        asked[i--] = asked[--nasked]; /* it has exited */
            }
        }
    }
    unsigned nparked_now = atomic_load(&nparked);
    *missed = nasked > nparked_now ? nasked - nparked_now : 0;
    return nasked;
}

static void resume_world(void)
{
    atomic_fetch_add(&stop_gen, 1); /* even: running */
    syscall(SYS_futex, &stop_gen, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

/* ---- the memory map --------------------------------------------------------------------- */

static uintptr_t hexnum(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16u;
        if (d == 16)
            return v;
        v = v * 16 + d;
    }
}

static bool contains(const struct region *r, uintptr_t a)
{
    return a >= r->map_lo && a < r->map_hi;
}

/* Read LEN bytes at ADDR into BUF; false where the memory is gone. */
static bool read_mem(uintptr_t addr, void *buf, size_t len)
{
    static int direct; /* process_vm_readv refused (seccomp): plain reads */
    if (!direct) {
        struct iovec l = {buf, len}, r = {(void *)addr, len};
        long got = syscall(SYS_process_vm_readv, (pid_t)syscall(SYS_getpid), &l, 1UL, &r, 1UL, 0UL);
        if (got == (long)len)
            return true;
        if (got >= 0 || (errno != ENOSYS && errno != EPERM))
            return false;
        direct = 1;
    }
    memcpy(buf, (const void *)addr, len);
    return true;
}

/* The mappings, classified; our own memory and the parts of stacks below
 * their stack pointers left out.  Returns the number of regions. */
static char *map_buf;
static size_t map_cap;

/* The map text stays mapped until the scan is over (release_map): memory
 * mapped meanwhile (the pairs) cannot land inside a listed region. */
static void release_map(void)
{
    raw_unmap(map_buf, map_cap);
    map_buf = NULL;
}

static unsigned read_map(struct region *out, unsigned max, const struct stopped *st, unsigned nst,
                         uintptr_t my_sp, bool trust_dead)
{
    size_t cap = 1 << 20, len = 0;
    char *buf = raw_map(cap);
    if (!buf)
        return 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        raw_unmap(buf, cap);
        return 0;
    }
    for (;;) {
        if (len == cap) {
            char *n = raw_grow(buf, cap, cap * 2);
            if (!n)
                break;
            buf = n;
            cap *= 2;
            len = 0; /* it may have moved: read the map again, from the start */
            syscall(SYS_lseek, fd, 0, SEEK_SET);
        }
        long got = syscall(SYS_read, fd, buf + len, cap - len);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    syscall(SYS_close, fd);
    unsigned n = 0;
    uintptr_t flusher_lo, flusher_hi;
    ps_flusher_stack(&flusher_lo, &flusher_hi);
    for (size_t at = 0; at < len && n < max;) {
        const char *line = buf + at, *eol = memchr(line, '\n', len - at);
        size_t ll = eol ? (size_t)(eol - line) : len - at;
        at += ll + 1;
        const char *s = line;
        struct region r = {0};
        r.map_lo = hexnum(&s);
        if (*s++ != '-')
            continue;
        r.map_hi = hexnum(&s);
        if (*s++ != ' ' || s + 4 > line + ll)
            continue;
        bool rw = s[0] == 'r' && s[1] == 'w';
        s += 4;
        /* offset, dev, inode, then the path after spaces */
        for (int field = 0; field < 3 && s < line + ll; field++) {
            while (s < line + ll && *s == ' ')
                s++;
            while (s < line + ll && *s != ' ')
                s++;
        }
        while (s < line + ll && *s == ' ')
            s++;
        size_t plen = (size_t)(line + ll - s);
        if (!rw)
            continue;
        if (plen >= 5 && memcmp(s, "/dev/", 5) == 0)
            continue; /* device memory: reading it may have effects */
        if (plen && s[0] == '[' && !(plen == 6 && memcmp(s, "[heap]", 6) == 0) &&
            !(plen >= 6 && memcmp(s, "[stack", 6) == 0))
            continue; /* [vvar], [vdso], [vsyscall] */
        r.lo = r.map_lo;
        r.hi = r.map_hi;
        r.anon = plen == 0 || (plen >= 6 && memcmp(s, "[stack", 6) == 0);
        r.type = PS_SCAN_ROOT;
        if (plen == 6 && memcmp(s, "[heap]", 6) == 0) {
            r.type = PS_SCAN_HEAP;
            r.anon = true;
        }
        /* Live stacks: from the stack pointer (minus the red zone) up. */
        uintptr_t sp = 0;
        if (my_sp && contains(&r, my_sp))
            sp = my_sp;
        for (unsigned i = 0; i < nst && !sp; i++)
            if (contains(&r, st[i].sp))
                sp = st[i].sp - REDZONE;
        if (!sp && trust_dead) {
            /* The stack of a thread that has exited (glibc caches them):
             * from its last stack pointer up.  Not when a thread failed to
             * stop: glibc may have given it this very stack. */
            unsigned nd = atomic_load(&ndead);
            if (nd > MAX_DEAD)
                nd = MAX_DEAD;
            for (unsigned i = 0; i < nd; i++)
                if (contains(&r, dead_sp[i]) && (!sp || dead_sp[i] > sp))
                    sp = dead_sp[i];
        }
        if (sp) {
            r.stack = true;
            r.lo = sp > r.map_lo ? sp & ~(uintptr_t)7 : r.map_lo;
        }
        /* Cut out the shim's own memory: its image, its mappings, this
         * text, the flusher's stack.  The kernel merges neighbouring
         * mappings of the same kind, so these may share a line of the map
         * with the target's memory: cut, never skip the whole line. */
        uintptr_t ex[64][2];
        unsigned nex = ps_own_ranges(r.lo, r.hi, ex, 60);
        ex[nex][0] = self_lo, ex[nex++][1] = self_hi;
        ex[nex][0] = (uintptr_t)buf, ex[nex++][1] = (uintptr_t)buf + cap;
        ex[nex][0] = flusher_lo, ex[nex++][1] = flusher_hi;
        for (unsigned i = 1; i < nex; i++) /* by start */
            for (unsigned j = i; j > 0 && ex[j][0] < ex[j - 1][0]; j--) {
                uintptr_t t0 = ex[j][0], t1 = ex[j][1];
                ex[j][0] = ex[j - 1][0], ex[j][1] = ex[j - 1][1];
                ex[j - 1][0] = t0, ex[j - 1][1] = t1;
            }
        uintptr_t at_lo = r.lo;
        for (unsigned i = 0; i <= nex && n < max; i++) {
            uintptr_t cut_lo = i < nex ? ex[i][0] : r.hi, cut_hi = i < nex ? ex[i][1] : r.hi;
            if (cut_hi <= at_lo || cut_lo >= r.hi) {
                if (i < nex)
                    continue;
            }
            uintptr_t piece_hi = cut_lo < r.hi ? cut_lo : r.hi;
            if (piece_hi > at_lo) {
                struct region p = r;
                p.lo = at_lo;
                p.hi = piece_hi;
                out[n++] = p;
            }
            if (cut_hi > at_lo)
                at_lo = cut_hi;
            if (at_lo >= r.hi)
                break;
        }
    }
    map_buf = buf;
    map_cap = cap;
    /* glibc's non-main arenas: 64 MiB-aligned anonymous mappings whose
     * first word points to their arena (in this heap or an earlier one). */
    for (unsigned i = 0; i < n; i++) {
        struct region *r = &out[i];
        if (!r->anon || r->stack || r->type == PS_SCAN_HEAP || (r->map_lo & (ARENA_ALIGN - 1)))
            continue;
        uintptr_t ar = 0;
        if (!read_mem(r->map_lo, &ar, sizeof ar) || !ar)
            continue;
        uintptr_t base = ar & ~(uintptr_t)(ARENA_ALIGN - 1);
        for (unsigned j = 0; j < n; j++)
            if (out[j].map_lo == base && out[j].anon && ar < out[j].map_hi) {
                r->type = PS_SCAN_HEAP;
                break;
            }
    }
    return n;
}

/* ---- the scan ------------------------------------------------------------------------------ */

struct pairs {
    uint64_t (*p)[2];
    size_t n, cap;
};

static bool pair_add(struct pairs *ps, uint64_t where, uint64_t value)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 1 << 16;
        void *q = ps->p ? raw_grow(ps->p, ps->cap * 16, cap * 16) : raw_map(cap * 16);
        if (!q)
            return false;
        ps->p = q;
        ps->cap = cap;
    }
    ps->p[ps->n][0] = where;
    ps->p[ps->n][1] = value;
    ps->n++;
    return true;
}

/* Memory that can hold heap blocks: glibc's heaps and anonymous
 * mappings (large blocks are mappings of their own), not stacks. */
struct targets {
    uintptr_t lo[MAX_REGIONS], hi[MAX_REGIONS];
    unsigned n;
    uintptr_t min, max;
};

static bool is_target(const struct targets *t, uint64_t v)
{
    if (v < t->min || v >= t->max)
        return false;
    unsigned a = 0, b = t->n;
    while (a < b) { /* last range with lo <= v */
        unsigned m = (a + b) / 2;
        if (t->lo[m] <= v)
            a = m + 1;
        else
            b = m;
    }
    return a > 0 && v < t->hi[a - 1];
}

static void scan_range(const struct targets *tg, struct pairs *ps, uintptr_t lo, uintptr_t hi,
                       uint64_t *bytes)
{
    static uint64_t chunk[8192];
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t a = lo; a + 8 <= hi;) {
        size_t len = hi - a < sizeof chunk ? (hi - a) & ~(size_t)7 : sizeof chunk;
        if (!read_mem(a, chunk, len)) {
            a += len; /* gone or unreadable: nothing there to point from */
            continue;
        }
        *bytes += len;
        for (size_t i = 0; i < len / 8; i++)
            if (PS_UNLIKELY(is_target(tg, chunk[i])))
                pair_add(ps, a + i * 8, chunk[i]);
        a += len;
    }
}

static void put_record_pairs(unsigned id, const struct pairs *ps)
{
    static uint8_t buf[PAIRS_PER_RECORD * 2 * PS_VARINT_MAX + 4 * PS_VARINT_MAX];
    uint64_t prev_w = 0, prev_v = 0;
    for (size_t at = 0; at < ps->n;) {
        size_t k = ps->n - at < PAIRS_PER_RECORD ? ps->n - at : PAIRS_PER_RECORD;
        uint8_t *p = buf;
        p = ps_put_uv(p, id);
        p = ps_put_uv(p, k);
        for (size_t i = at; i < at + k; i++) {
            /* where ascends (registers first, at 0); values cluster */
            p = ps_put_uv(p, ps->p[i][0] - prev_w);
            p = ps_put_sv(p, (int64_t)(ps->p[i][1] - prev_v));
            prev_w = ps->p[i][0];
            prev_v = ps->p[i][1];
        }
        ps_writer_record(PS_REC_SCAN_PAIRS, buf, (size_t)(p - buf), NULL, 0, NULL, 0);
        at += k;
    }
}

static void put_record_head(unsigned id, uint64_t tick, int trigger, unsigned asked, unsigned missed,
                            const struct region *rg, unsigned nrg)
{
    static uint8_t buf[16 * PS_VARINT_MAX + MAX_REGIONS * 3 * PS_VARINT_MAX];
    uint8_t *p = buf;
    p = ps_put_uv(p, id);
    p = ps_put_uv(p, tick);
    p = ps_put_uv(p, (uint64_t)trigger);
    p = ps_put_uv(p, asked);
    p = ps_put_uv(p, missed);
    p = ps_put_uv(p, nrg);
    for (unsigned i = 0; i < nrg; i++) {
        p = ps_put_uv(p, rg[i].lo);
        p = ps_put_uv(p, rg[i].hi - rg[i].lo);
        p = ps_put_uv(p, rg[i].type);
    }
    ps_writer_record(PS_REC_SCAN, buf, (size_t)(p - buf), NULL, 0, NULL, 0);
}

static void put_record_end(unsigned id, uint64_t pairs, uint64_t bytes, uint64_t pause_ns, uint64_t total_ns)
{
    uint8_t buf[5 * PS_VARINT_MAX], *p = buf;
    p = ps_put_uv(p, id);
    p = ps_put_uv(p, pairs);
    p = ps_put_uv(p, bytes);
    p = ps_put_uv(p, pause_ns);
    p = ps_put_uv(p, total_ns);
    ps_writer_record(PS_REC_SCAN_END, buf, (size_t)(p - buf), NULL, 0, NULL, 0);
}

/* The exiting thread's live frames start at the caller of exit() or
 * _exit(): below it are the exit machinery's frames, whose unwritten slots
 * still hold what deeper calls (the shim's malloc hook among them) left
 * there.  memcheck's allocator runs on its own stack and leaves nothing, so
 * those stale copies would make lost blocks look reachable.  Found by
 * walking the return addresses (before the world stops: libunwind and
 * dladdr take the loader's lock, which a stopped thread may hold), then
 * locating on the stack the one through which exit() was entered. */
static uintptr_t exit_return_address(void)
{
    void *ips[96];
    int n = ps_stack_backtrace(ips, 96);
    void *fns[] = {(void *)exit, (void *)_exit, (void *)_Exit};
    for (unsigned f = 0; f < sizeof fns / sizeof *fns; f++) {
        Dl_info di;
        const ElfW(Sym) *sym = NULL;
        if (!dladdr1(fns[f], &di, (void **)&sym, RTLD_DL_SYMENT) || !sym || !di.dli_saddr)
            continue;
        uintptr_t lo = (uintptr_t)di.dli_saddr, hi = lo + sym->st_size;
        for (int i = 0; i + 1 < n; i++) {
            uintptr_t ip = (uintptr_t)ips[i] - 1;
            if (ip < lo || ip >= hi)
                continue;
            return (uintptr_t)ips[i + 1];
        }
    }
    return 0;
}

static uintptr_t exit_caller_sp(const struct region *stack, uintptr_t from, uintptr_t ret)
{
    for (uintptr_t a = from & ~(uintptr_t)7; ret && a + 8 <= stack->map_hi; a += 8)
        if (*(const uintptr_t *)a == ret)
            return a + 8; /* the caller's stack pointer before the call */
    return from;
}

/* Only glibc's malloc is scanned.  Other allocators (jemalloc, tcmalloc)
 * keep their metadata in anonymous mappings, where a conservative scan
 * cannot tell it from the program's data, and it points at block starts
 * (a slab's first region, a large extent): every lost block would come
 * out reachable.  Their leaks stay "unknown". */
static bool glibc_malloc(void)
{
    static int known; /* 0 not asked, 1 glibc, 2 another */
    if (!known) {
        Dl_info info;
        known = ps_real.malloc && dladdr((void *)ps_real.malloc, &info) && info.dli_fname &&
                        strstr(info.dli_fname, "libc.so") != NULL
                    ? 1
                    : 2;
    }
    return known == 1;
}

static void run(int trigger, uintptr_t my_sp)
{
    static int said;
    if (!glibc_malloc()) {
        if (ps__opt.verbose && !said++)
            ps_say("no reachability scan: the target's malloc is not glibc's; leak kinds stay unknown");
        return;
    }
    int sig = ps_cpu_claim_signal();
    if (!sig)
        return;
    /* One scan at a time.  The exit scan waits for a periodic one to end
     * (that one stops this thread too); a periodic one yields to any. */
    for (;;) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&scan_lock, &expected, 1))
            break;
        if (trigger != PS_SCAN_AT_EXIT)
            return;
        struct timespec ts = {0, 1000000};
        syscall(SYS_nanosleep, &ts, NULL);
    }
    static struct region rg[MAX_REGIONS];
    static struct targets tg;
    struct pairs ps = {0};
    uint64_t t0 = ps_clock_mono_ns(), bytes = 0;
    uintptr_t exit_ret = my_sp ? exit_return_address() : 0;
    atomic_store(&ps__scan_writing, 1);
    /* Writes already in progress on other threads finish first: their
     * events must be in rings, not half-made, when the tick is taken. */
    unsigned missed = 0, asked = stop_world(sig, &missed);
    uint64_t tick = ps_now();
    unsigned nst = atomic_load(&nstopped);
    if (nst > MAX_STOPPED)
        nst = MAX_STOPPED;
    unsigned nrg = read_map(rg, MAX_REGIONS, stopped, nst, my_sp, missed == 0);
    for (unsigned i = 0; my_sp && i < nrg; i++)
        if (rg[i].stack && contains(&rg[i], my_sp))
            rg[i].lo = exit_caller_sp(&rg[i], my_sp, exit_ret);

    tg.n = 0;
    for (unsigned i = 0; i < nrg && tg.n < MAX_REGIONS; i++)
        if (rg[i].type == PS_SCAN_HEAP || (rg[i].anon && !rg[i].stack)) {
            tg.lo[tg.n] = rg[i].map_lo;
            tg.hi[tg.n] = rg[i].map_hi;
            tg.n++;
        }
    tg.min = tg.n ? tg.lo[0] : 1;
    tg.max = tg.n ? tg.hi[tg.n - 1] : 0;

    for (unsigned i = 0; i < nst; i++)
        for (int r = 0; r < NREGS; r++)
            if (is_target(&tg, stopped[i].regs[r]))
                pair_add(&ps, 0, stopped[i].regs[r]);
    for (unsigned i = 0; i < nrg; i++)
        scan_range(&tg, &ps, rg[i].lo, rg[i].hi, &bytes);
    uint64_t pause = ps_clock_mono_ns() - t0;
    resume_world();
    release_map();

    unsigned id = ++scan_id;
    put_record_head(id, tick, trigger, asked, missed, rg, nrg);
    put_record_pairs(id, &ps);
    put_record_end(id, ps.n, bytes, pause, ps_clock_mono_ns() - t0);
    atomic_store(&ps__scan_writing, 0);
    if (ps__opt.verbose)
        ps_say("scan %u: %u threads stopped (%u missed), %llu KiB read, %llu pointers, %llu us paused",
               id, asked - missed, missed, (unsigned long long)(bytes >> 10), (unsigned long long)ps.n,
               (unsigned long long)(pause / 1000));
    raw_unmap(ps.p, ps.cap * 16);
    atomic_store(&scan_lock, 0);
}

/* ---- triggers ------------------------------------------------------------------------------ */

static void on_scan_signal(int sig)
{
    (void)sig;
    atomic_store(&request, 1);
}

static void image_range(void)
{
    Dl_info info;
    if (!dladdr(&ps__scan_tag, &info) || !info.dli_fbase)
        return;
    const ElfW(Ehdr) *eh = info.dli_fbase;
    const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
    uintptr_t lo = UINTPTR_MAX, hi = 0, base = (uintptr_t)eh;
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD) {
            uintptr_t a = base + ph[i].p_vaddr, b = a + ph[i].p_memsz;
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
    self_lo = lo & ~(uintptr_t)4095;
    self_hi = (hi + 4095) & ~(uintptr_t)4095;
}

void ps_scan_init(void)
{
    image_range();
    if (ps__opt.scan_interval_s)
        next_interval_ns = ps_clock_mono_ns() + (uint64_t)ps__opt.scan_interval_s * 1000000000ull;
    if (!ps__opt.scan_signal[0])
        return;
    int sig = ps_parse_signal(ps__opt.scan_signal);
    if (!sig || sig == ps_cpu_signal() || sig == ps_cpu_configured_signal()) {
        ps_say("ignoring PERFSHIM_SCAN_SIGNAL='%s': expected a signal other than the CPU sampler's "
               "that the target does not need for faults or job control (SIGUSR2, SIGRTMIN+N, "
               "or its number)",
               ps__opt.scan_signal);
        return;
    }
    struct sigaction a;
    memset(&a, 0, sizeof a);
    a.sa_handler = on_scan_signal;
    a.sa_flags = SA_RESTART;
    sigemptyset(&a.sa_mask);
    if (ps_real.sigaction(sig, &a, NULL) == 0)
        scan_sig = sig;
}

int ps_scan_signal(void)
{
    return scan_sig;
}

/* The scan signal is the shim's: the target's handler for it is kept and
 * reported back, never called (docs/reachability.md). */
int ps_scan_target_action(const struct sigaction *act, struct sigaction *old)
{
    static struct sigaction target; /* SIG_DFL until the target sets one */
    static _Atomic int lock;
    ps_spin_lock(&lock);
    if (old)
        *old = target;
    if (act)
        target = *act;
    ps_spin_unlock(&lock);
    return 0;
}

void ps_scan_flusher_tick(uint64_t now_ns)
{
    int trigger = 0;
    if (atomic_exchange(&request, 0))
        trigger = PS_SCAN_BY_SIGNAL;
    else if (next_interval_ns && now_ns >= next_interval_ns)
        trigger = PS_SCAN_BY_INTERVAL;
    if (!trigger)
        return;
    if (next_interval_ns)
        next_interval_ns = now_ns + (uint64_t)ps__opt.scan_interval_s * 1000000000ull;
    run(trigger, 0);
}

void ps_scan_at_exit(void)
{
    if (!ps__opt.scan)
        return;
    /* This thread's frames below here are the scan's own. */
    run(PS_SCAN_AT_EXIT, (uintptr_t)__builtin_frame_address(0));
}

void ps_scan_child_reset(void)
{
    atomic_store(&ndead, 0);
    atomic_store(&request, 0);
    atomic_store(&scan_lock, 0);
    atomic_store(&ps__scan_writing, 0);
    scan_id = 0;
}
