/* The real functions behind our hooks, and the bootstrap arena.
 *
 * dlsym(RTLD_NEXT, ...) finds the next definition after us: glibc's, or
 * jemalloc's/tcmalloc's when the target links one.  dlsym itself may call
 * calloc/malloc before any real function is known; those requests are
 * served from a static arena, and free/realloc/malloc_usable_size ask
 * ps_boot_owns() first so such a block never reaches the real allocator. */
#include "shim.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdalign.h>

struct ps_real_fns ps_real;
_Atomic int ps__real_ready;

/* X(name, required) */
#define PS_REAL_TABLE(X)                                                             \
    X(malloc, 1) X(calloc, 1) X(realloc, 1) X(free, 1) X(reallocarray, 0)             \
    X(posix_memalign, 1) X(aligned_alloc, 0) X(memalign, 0) X(valloc, 0) X(pvalloc, 0) \
    X(malloc_usable_size, 0)                                                           \
    X(mallocx, 0) X(rallocx, 0) X(xallocx, 0) X(sallocx, 0) X(dallocx, 0)               \
    X(sdallocx, 0) X(nallocx, 0)                                                       \
    X(execve, 1) X(execv, 1) X(execvp, 1) X(execvpe, 0) X(fexecve, 0)                  \
    X(_exit, 1) X(_Exit, 0) X(close, 1) X(dup2, 1) X(dup3, 0) X(close_range, 0)        \
    X(sigaction, 1) X(signal, 1) X(pthread_create, 1) X(dl_iterate_phdr, 1)            \
    X(socket, 1) X(accept, 1) X(accept4, 1) X(connect, 1) X(listen, 1) X(send, 1)       \
    X(sendto, 1) X(sendmsg, 1) X(sendmmsg, 1) X(write, 1) X(writev, 1) X(sendfile, 1)   \
    X(recv, 1) X(recvfrom, 1) X(recvmsg, 1) X(recvmmsg, 1) X(read, 1) X(readv, 1)       \
    X(shutdown, 1) X(__read_chk, 0) X(__recv_chk, 0) X(__recvfrom_chk, 0)              \
    X(poll, 1) X(ppoll, 1) X(__poll_chk, 0) X(__ppoll_chk, 0) X(select, 1) X(pselect, 1) \
    X(epoll_wait, 1) X(epoll_pwait, 1)                                                 \
    X(clock_gettime, 1) X(gettimeofday, 1) X(time, 1) X(nanosleep, 1)                  \
    X(clock_nanosleep, 1) X(usleep, 1) X(sleep, 1)

/* ---- bootstrap arena -------------------------------------------------------- */

#define PS_BOOT_SIZE (256 * 1024)
static alignas(64) unsigned char boot_arena[PS_BOOT_SIZE];
static _Atomic size_t boot_used;

/* Each boot block is preceded by its size, so realloc can copy it. */
void *ps_boot_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    for (;;) {
        size_t used = atomic_load(&boot_used);
        size_t start = (used + sizeof(size_t) + align - 1) & ~(align - 1);
        if (start + size > PS_BOOT_SIZE || start + size < start) {
            ps_say("bootstrap arena exhausted (%zu bytes asked before malloc was found); aborting", size);
            __builtin_trap();
        }
        if (atomic_compare_exchange_weak(&boot_used, &used, start + size)) {
            ((size_t *)(boot_arena + start))[-1] = size;
            return boot_arena + start; /* static storage is zeroed: calloc-ready */
        }
    }
}

bool ps_boot_owns(const void *p)
{
    const unsigned char *c = p;
    return c >= boot_arena && c < boot_arena + PS_BOOT_SIZE;
}

size_t ps_boot_size(const void *p)
{
    return ((const size_t *)p)[-1];
}

/* ---- resolution -------------------------------------------------------------- */

static _Atomic int resolving;

void ps_real_init(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&resolving, &expected, 1)) {
        /* Another thread (or dlsym re-entering us) is resolving: callers that
         * need memory meanwhile get it from the arena (see hooks_malloc.c). */
        return;
    }
    struct ps_real_fns r = {0};
#define PS__X(name, required)                                      \
    *(void **)&r.name = dlsym(RTLD_NEXT, #name);                   \
    if ((required) && !r.name) {                                   \
        ps_say("cannot find the real '%s' (dlsym failed); aborting", #name); \
        __builtin_trap();                                          \
    }
    PS_REAL_TABLE(PS__X)
#undef PS__X
    ps_real = r;
    atomic_store_explicit(&ps__real_ready, 1, memory_order_release);
}

void ps_real_wait(void)
{
    ps_real_ensure();
    while (!atomic_load_explicit(&ps__real_ready, memory_order_acquire))
        sched_yield();
}
