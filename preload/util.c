/* Small helpers that do what stdio would, without stdio or the heap: the
 * shim runs inside malloc, before and after libc is fully set up. */
#include "shim.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static size_t put_num(char *buf, size_t pos, size_t size, unsigned long long v, unsigned base)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n > 0) {
        if (pos + 1 < size)
            buf[pos] = tmp[n - 1];
        pos++;
        n--;
    }
    return pos;
}

static size_t ps_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t pos = 0;
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            if (pos + 1 < size)
                buf[pos] = *f;
            pos++;
            continue;
        }
        f++;
        int longs = 0;
        bool size_t_arg = false;
        while (*f == 'l') {
            longs++;
            f++;
        }
        if (*f == 'z') {
            size_t_arg = true;
            f++;
        }
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            for (; *s; s++) {
                if (pos + 1 < size)
                    buf[pos] = *s;
                pos++;
            }
            break;
        }
        case 'd': {
            long long v = longs >= 2 ? va_arg(ap, long long) : longs ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) {
                if (pos + 1 < size)
                    buf[pos] = '-';
                pos++;
                v = -v;
            }
            pos = put_num(buf, pos, size, (unsigned long long)v, 10);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = size_t_arg  ? va_arg(ap, size_t)
                                   : longs >= 2 ? va_arg(ap, unsigned long long)
                                   : longs      ? va_arg(ap, unsigned long)
                                                : va_arg(ap, unsigned);
            pos = put_num(buf, pos, size, v, *f == 'x' ? 16 : 10);
            break;
        }
        case '%':
            if (pos + 1 < size)
                buf[pos] = '%';
            pos++;
            break;
        default:
            break;
        }
        if (!*f)
            break;
    }
    if (size)
        buf[pos < size ? pos : size - 1] = 0;
    return pos;
}

size_t ps_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = ps_vfmt(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int ps_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = syscall(SYS_write, fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void ps_say(const char *fmt, ...)
{
    int saved = errno;
    char line[1024];
    size_t n = ps_fmt(line, sizeof line - 1, "perfshim: ");
    va_list ap;
    va_start(ap, fmt);
    n += ps_vfmt(line + n, sizeof line - 1 - n, fmt, ap);
    va_end(ap);
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ps_write_all(2, line, n);
    errno = saved;
}

/* Every mapping the shim holds, so that the sampler can report the shim's
 * own memory: the total mapped, and (slowly, with mincore) what of it is
 * resident.  Most of it is reserved with MAP_NORESERVE and never touched. */
#define MAX_REGIONS 8192
static struct region {
    void *p;
    size_t n;
} regions[MAX_REGIONS];
static unsigned nregions;
static _Atomic int regions_lock;
static _Atomic uint64_t mapped;

void ps_spin_yield(void)
{
    syscall(SYS_sched_yield);
}

void *ps_mmap(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    atomic_fetch_add(&mapped, size);
    ps_spin_lock(&regions_lock);
    if (nregions < MAX_REGIONS)
        regions[nregions++] = (struct region){p, size};
    ps_spin_unlock(&regions_lock);
    return p;
}

void ps_munmap(void *p, size_t size)
{
    if (!p)
        return;
    ps_spin_lock(&regions_lock);
    for (unsigned i = 0; i < nregions; i++)
        if (regions[i].p == p) {
            regions[i] = regions[--nregions];
            break;
        }
    ps_spin_unlock(&regions_lock);
    atomic_fetch_sub(&mapped, size);
    munmap(p, size);
}

/* Lock-free on purpose: the reachability scan asks while other threads
 * are stopped, and one of them may hold regions_lock. */
unsigned ps_own_ranges(uintptr_t lo, uintptr_t hi, uintptr_t (*out)[2], unsigned max)
{
    unsigned n = __atomic_load_n(&nregions, __ATOMIC_ACQUIRE), k = 0;
    for (unsigned i = 0; i < n && i < MAX_REGIONS && k < max; i++) {
        uintptr_t a = (uintptr_t)regions[i].p, b = a + regions[i].n;
        if (a < hi && b > lo) {
            out[k][0] = a;
            out[k++][1] = b;
        }
    }
    return k;
}

uint64_t ps_mapped_bytes(void)
{
    return atomic_load(&mapped);
}

uint64_t ps_resident_bytes(void)
{
    static unsigned char vec[4096];
    static struct region copy[MAX_REGIONS];
    long page = sysconf(_SC_PAGESIZE);
    ps_spin_lock(&regions_lock);
    unsigned n = nregions;
    memcpy(copy, regions, n * sizeof *copy);
    ps_spin_unlock(&regions_lock);
    uint64_t pages = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t total = (copy[i].n + (size_t)page - 1) / (size_t)page;
        for (size_t at = 0; at < total; at += sizeof vec) {
            size_t k = total - at < sizeof vec ? total - at : sizeof vec;
            if (mincore((char *)copy[i].p + at * (size_t)page, k * (size_t)page, vec) != 0)
                break; /* unmapped meanwhile (a fork child's reset) */
            for (size_t j = 0; j < k; j++)
                pages += vec[j] & 1;
        }
    }
    return pages * (uint64_t)page;
}

int ps_read_file(const char *path, char *buf, size_t size)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t n = syscall(SYS_read, fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    syscall(SYS_close, fd);
    buf[got] = 0;
    return (int)got;
}

void ps_exe_name(char *buf, size_t size)
{
    char link[4096];
    ssize_t n = syscall(SYS_readlink, "/proc/self/exe", link, sizeof link - 1);
    if (n <= 0) {
        ps_fmt(buf, size, "unknown");
        return;
    }
    link[n] = 0;
    const char *base = strrchr(link, '/');
    ps_fmt(buf, size, "%s", base ? base + 1 : link);
}
