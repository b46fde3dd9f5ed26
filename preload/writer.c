/* The trace file and the flusher thread.
 *
 * The file is created with O_EXCL|O_NOFOLLOW, mode 0600: never through a
 * symlink, never over an existing file (".1", ".2", ... is appended).  Its
 * descriptor is moved high (F_DUPFD_CLOEXEC) out of the way of the target's
 * own numbers, and checked with fstat before every write: a target that
 * closed it (daemons close every fd) or dup2'ed over it gets its own file
 * left alone, and the trace is reopened by its absolute path in append mode.
 *
 * Writes are whole records, one writev each, under one mutex: the lock
 * order is ring drain lock, then this mutex.
 */
#include "shim.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;
static bool trace_opened; /* trace_fd may be -1 after close_range took it */
static dev_t trace_dev;
static ino_t trace_ino;
static char trace_path[4096];
static uint64_t start_tick;
static _Atomic uint64_t bytes_written;

static const char *errname(int e)
{
    switch (e) {
    case ENOSPC: return "No space left on device";
    case EDQUOT: return "Disk quota exceeded";
    case EACCES: return "Permission denied";
    case EPERM: return "Operation not permitted";
    case EROFS: return "Read-only file system";
    case ENOENT: return "No such file or directory";
    case ELOOP: return "Too many levels of symbolic links";
    case EIO: return "Input/output error";
    case EBADF: return "Bad file descriptor";
    case EFBIG: return "File too large";
    case EMFILE: return "Too many open files";
    case ENAMETOOLONG: return "File name too long";
    default: return "I/O error";
    }
}

/* Move FD to a high number, out of the target's way. */
static int move_high(int fd)
{
    struct rlimit rl;
    int floor = 900;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1024)
        floor = (int)rl.rlim_cur / 2;
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    if (hi < 0)
        return fd;
    syscall(SYS_close, fd);
    return hi;
}

static void remember(int fd)
{
    struct stat st;
    __atomic_store_n(&trace_fd, fd, __ATOMIC_RELAXED);
    trace_opened = true;
    if (fstat(fd, &st) == 0) {
        trace_dev = st.st_dev;
        trace_ino = st.st_ino;
    }
}

/* Expand the template: %p pid, %e executable short name, %% percent. */
void ps_expand_template(char *out, size_t size, const char *tmpl)
{
    char exe[256];
    ps_exe_name(exe, sizeof exe);
    size_t o = 0;
    if (tmpl[0] != '/') {
        if (syscall(SYS_getcwd, out, size - 2) > 0) {
            o = strlen(out);
            if (o && out[o - 1] != '/')
                out[o++] = '/';
        }
    }
    for (const char *t = tmpl; *t && o + 1 < size; t++) {
        if (*t == '%' && (t[1] == 'p' || t[1] == 'e' || t[1] == '%')) {
            char tmp[256];
            if (t[1] == 'p')
                ps_fmt(tmp, sizeof tmp, "%d", (int)ps__pid);
            else if (t[1] == 'e')
                ps_fmt(tmp, sizeof tmp, "%s", exe);
            else
                ps_fmt(tmp, sizeof tmp, "%%");
            for (const char *s = tmp; *s && o + 1 < size; s++)
                out[o++] = *s;
            t++;
        } else {
            out[o++] = *t;
        }
    }
    out[o] = 0;
}

int ps_writer_open(void)
{
    char base[4000];
    ps_expand_template(base, sizeof base, ps__opt.output);
    int fd = -1;
    for (unsigned i = 0; i < 10000; i++) {
        if (i == 0)
            ps_fmt(trace_path, sizeof trace_path, "%s", base);
        else
            ps_fmt(trace_path, sizeof trace_path, "%s.%u", base, i);
        fd = (int)syscall(SYS_openat, AT_FDCWD, trace_path,
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        ps_say("cannot create trace '%s': %s; the program runs untraced", trace_path, errname(e));
        return -e;
    }
    remember(move_high(fd));
    if (ps__opt.verbose)
        ps_say("pid %d writes '%s'", (int)ps__pid, trace_path);
    if (ps__opt.record_log[0]) {
        int lf = (int)syscall(SYS_openat, AT_FDCWD, ps__opt.record_log,
                              O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (lf >= 0) {
            char line[4200];
            size_t n = ps_fmt(line, sizeof line, "%d %s\n", (int)ps__pid, trace_path);
            ps_write_all(lf, line, n);
            syscall(SYS_close, lf);
        }
    }
    return 0;
}

/* The fd still ours?  If the target closed it or put its own file there,
 * open the trace again by path; the target's descriptor is left alone. */
static bool fd_ok(void)
{
    struct stat st;
    if (trace_fd >= 0 && fstat(trace_fd, &st) == 0 && st.st_dev == trace_dev &&
        st.st_ino == trace_ino)
        return true;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, trace_path,
                          O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (fstat(fd, &st) != 0 || st.st_dev != trace_dev || st.st_ino != trace_ino) {
        syscall(SYS_close, fd);
        return false;
    }
    __atomic_store_n(&trace_fd, move_high(fd), __ATOMIC_RELAXED);
    return true;
}

/* Read without the lock by the fd hooks (a stale answer only means one
 * more look under the lock); written under it. */
int ps_writer_fd(void)
{
    return __atomic_load_n(&trace_fd, __ATOMIC_RELAXED);
}

void ps_writer_fd_moved(int fd)
{
    __atomic_store_n(&trace_fd, fd, __ATOMIC_RELAXED);
}

void ps_writer_lock(void)
{
    pthread_mutex_lock(&wlock);
}

void ps_writer_unlock(void)
{
    pthread_mutex_unlock(&wlock);
}

static void write_locked(struct iovec *iov, int n)
{
    if (atomic_load(&ps__state) == PS_DEAD || !trace_opened)
        return;
    if (!fd_ok()) {
        ps_shutdown("the trace file was removed or replaced", 0);
        return;
    }
    while (n > 0) {
        ssize_t w = syscall(SYS_writev, trace_fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            ps_shutdown("cannot write trace", errno);
            return;
        }
        atomic_fetch_add_explicit(&bytes_written, (uint64_t)w, memory_order_relaxed);
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
}

void ps_writer_record(int kind, const void *a, size_t alen, const void *b, size_t blen,
                      const void *c, size_t clen)
{
    uint8_t hdr[1 + PS_VARINT_MAX];
    hdr[0] = (uint8_t)kind;
    size_t hlen = (size_t)(ps_put_uv(hdr + 1, alen + blen + clen) - hdr);
    struct iovec iov[4] = {{hdr, hlen}, {(void *)a, alen}, {(void *)b, blen}, {(void *)c, clen}};
    int n = 4;
    while (n > 1 && iov[n - 1].iov_len == 0)
        n--;
    int saved = errno;
    pthread_mutex_lock(&wlock);
    write_locked(iov, n);
    pthread_mutex_unlock(&wlock);
    errno = saved;
}

/* True on the flusher thread: the only one that compresses. */
static __thread bool in_flusher;

void ps_writer_chunk(uint32_t serial, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t hdr[2 * PS_VARINT_MAX], *p = ps_put_uv(hdr, serial);
    size_t zlen;
    const uint8_t *z = in_flusher ? ps_compress(a, alen, b, blen, &zlen) : NULL;
    if (z) {
        p = ps_put_uv(p, alen + blen);
        ps_writer_record(PS_REC_CHUNK_ZSTD, hdr, (size_t)(p - hdr), z, zlen, NULL, 0);
    } else {
        ps_writer_record(PS_REC_CHUNK, hdr, (size_t)(p - hdr), a, alen, b, blen);
    }
}

void ps_writer_header(void)
{
    static uint8_t buf[48 * 1024];
    uint8_t file_hdr[PS_TRACE_HEADER_LEN];
    memcpy(file_hdr, PS_TRACE_MAGIC, PS_TRACE_MAGIC_LEN);
    ps_put_u32le(file_hdr + 8, PS_TRACE_VERSION);
    ps_put_u32le(file_hdr + 12, 0);
    struct iovec iov = {file_hdr, sizeof file_hdr};
    pthread_mutex_lock(&wlock);
    write_locked(&iov, 1);
    pthread_mutex_unlock(&wlock);

    start_tick = ps_now();
    uint8_t *p = buf;
    p = ps_put_uv(p, (uint64_t)ps__pid);
    p = ps_put_uv(p, (uint64_t)getppid());
    p = ps_put_uv(p, (uint64_t)ps__clock_kind);
    p = ps_put_uv(p, ps_clock_hz());
    p = ps_put_uv(p, start_tick);
    p = ps_put_uv(p, ps_clock_mono_ns());
    p = ps_put_uv(p, ps_clock_unix_ns());
    p = ps_put_bytes(p, PERFSHIM_VERSION, strlen(PERFSHIM_VERSION));
    char exe[4096];
    ssize_t n = syscall(SYS_readlink, "/proc/self/exe", exe, sizeof exe - 1);
    p = ps_put_bytes(p, exe, n > 0 ? (size_t)n : 0);
    /* argv, from /proc/self/cmdline: NUL-separated */
    static char cmd[32 * 1024];
    int len = ps_read_file("/proc/self/cmdline", cmd, sizeof cmd);
    unsigned argc = 0;
    for (int i = 0; i < len; i++)
        argc += cmd[i] == 0;
    p = ps_put_uv(p, argc);
    for (int i = 0; i < len;) {
        size_t l = strlen(cmd + i);
        p = ps_put_bytes(p, cmd + i, l);
        i += (int)l + 1;
    }
    p = ps_put_uv(p, ps_cpu_hz()); /* v3 */
    ps_writer_record(PS_REC_PROCESS, buf, (size_t)(p - buf), NULL, 0, NULL, 0);
}

void ps_writer_round_at(uint64_t tick, uint64_t mono_ns, uint64_t unix_ns)
{
    uint8_t buf[3 * PS_VARINT_MAX], *p = buf;
    p = ps_put_uv(p, tick);
    p = ps_put_uv(p, mono_ns);
    p = ps_put_uv(p, unix_ns);
    ps_writer_record(PS_REC_ROUND, buf, (size_t)(p - buf), NULL, 0, NULL, 0);
}

void ps_writer_end(int exit_kind, int code)
{
    uint8_t buf[4 * PS_VARINT_MAX], *p = buf;
    p = ps_put_uv(p, (uint64_t)exit_kind);
    p = ps_put_uv(p, (uint64_t)(unsigned)code);
    p = ps_put_uv(p, ps_now());
    p = ps_put_uv(p, ps_clock_mono_ns());
    ps_writer_record(PS_REC_END, buf, (size_t)(p - buf), NULL, 0, NULL, 0);
}

uint64_t ps_writer_bytes(void)
{
    return atomic_load_explicit(&bytes_written, memory_order_relaxed);
}

void ps_writer_child_reset(void)
{
    atomic_store(&bytes_written, 0);
    pthread_mutex_init(&wlock, NULL);
    if (trace_fd >= 0)
        syscall(SYS_close, trace_fd);
    trace_fd = -1;
    trace_opened = false;
}

/* ---- flusher ------------------------------------------------------------- */

static _Atomic pid_t flusher_tid;
static uintptr_t flusher_stack_lo;
static _Atomic uintptr_t flusher_stack_hi; /* set last: 0 until both are known */

pid_t ps_flusher_tid(void)
{
    return atomic_load(&flusher_tid);
}

void ps_flusher_stack(uintptr_t *lo, uintptr_t *hi)
{
    *hi = atomic_load(&flusher_stack_hi);
    *lo = *hi ? flusher_stack_lo : 0;
}

static void *flusher_main(void *arg)
{
    (void)arg;
    ps__busy = 1; /* nothing this thread does is the target's */
    in_flusher = true;
    atomic_store(&flusher_tid, (pid_t)syscall(SYS_gettid));
    pthread_attr_t self;
    void *stack_lo;
    size_t stack_len;
    if (pthread_getattr_np(pthread_self(), &self) == 0) {
        if (pthread_attr_getstack(&self, &stack_lo, &stack_len) == 0) {
            flusher_stack_lo = (uintptr_t)stack_lo;
            atomic_store(&flusher_stack_hi, (uintptr_t)stack_lo + stack_len);
        }
        pthread_attr_destroy(&self);
    }
    ps_compress_init();
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    prctl(PR_SET_NAME, "perfshim-flush");
    ps_sampler_flusher(true);
    uint64_t last_round = ps_clock_mono_ns();
    uint64_t period = (uint64_t)ps__opt.flush_ms * 1000000ull;
    /* Nap 10 ms while the target is quiet, 1 ms while its rings fill: the
     * flusher, not the target's threads, should be the one writing (and
     * compressing) them. */
    uint64_t quiet = period < 10000000ull ? period : 10000000ull;
    uint64_t nap = quiet;
    for (;;) {
        struct timespec ts = {0, (long)nap};
        syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
        if (atomic_load(&ps__state) != PS_ACTIVE)
            break;
        uint64_t now = ps_clock_mono_ns();
        ps_sampler_tick(now);
        ps_cpu_flusher_tick();
        ps_scan_flusher_tick(now);
        if (now - last_round >= period) {
            ps_thread_drain_all(true);
            last_round = now;
        } else {
            nap = ps_thread_drain_busy() ? 1000000ull : quiet;
        }
    }
    ps_sampler_flusher(false);
    atomic_store(&flusher_tid, 0);
    atomic_store(&flusher_stack_hi, 0);
    return NULL;
}

void ps_flusher_start(void)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    ps__busy++;
    int rc = pthread_create(&th, &attr, flusher_main, NULL);
    ps__busy--;
    pthread_attr_destroy(&attr);
    if (rc != 0)
        ps_say("cannot start the flusher thread; the trace is written only at exit");
}

const char *ps_writer_path(void)
{
    return trace_path;
}

const char *ps_errname(int e)
{
    return errname(e);
}
