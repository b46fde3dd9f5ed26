/* Exported malloc-family and jemalloc-API hooks.
 *
 * Each hook: resolve the real functions on first use (dlsym's own calloc is
 * served from the bootstrap arena meanwhile), pass straight through when
 * not recording or when re-entered (ps__busy), otherwise call the real
 * function and record the event.  Times: a free's tick is taken before the
 * real free and an allocation's after the real allocation returns, so that
 * "freed on thread A, handed out again on thread B" is ordered right.
 * errno is what the real function left.
 *
 * jemalloc's API (mallocx and friends) is defined here even when the
 * target has no jemalloc; then it is emulated on top of the underlying
 * allocator, so a program that probes for these names still works.  We do
 * not define mallctl, which is what such programs check before trusting
 * they run on jemalloc.
 */
#include "shim.h"

#include <string.h>

/* ---- recording ------------------------------------------------------------
 * Every allocation and free is counted (the sampler's live heap); it is
 * recorded as an event unless the trace size cap has switched to sampling
 * and this block is not in the sample (ps_sample_keep). */

static inline size_t usable_of(void *p)
{
    return ps_real.malloc_usable_size ? ps_real.malloc_usable_size(p) : 0;
}

static inline void count_live(struct ps_thread *t, int64_t delta)
{
    __atomic_store_n(&t->live_usable, t->live_usable + delta, __ATOMIC_RELAXED);
}

static inline void note_alloc(void *p, size_t size)
{
    struct ps_thread *t = ps_self();
    if (!t)
        return;
    ps_count(&t->n_alloc, 1);
    ps_count(&t->bytes_alloc, size);
    count_live(t, (int64_t)usable_of(p));
    unsigned shift = ps_sample_shift();
    if (PS_UNLIKELY(shift) && !ps_sample_keep((uintptr_t)p, size, shift))
        return;
    uint64_t tick = ps_now();
    uint32_t stack = ps_stack_capture(t);
    ps_ev_alloc(t, tick, p, size, stack);
}

/* Before the real free: the block's usable size is still readable. */
static inline void note_free(void *p)
{
    struct ps_thread *t = ps_self();
    if (!t)
        return;
    size_t u = usable_of(p);
    ps_count(&t->n_free, 1);
    count_live(t, -(int64_t)u);
    unsigned shift = ps_sample_shift();
    if (PS_UNLIKELY(shift) && !ps_sample_keep((uintptr_t)p, u, shift))
        return;
    ps_ev_free(t, ps_now(), p);
}

/* A resize: OLD (OLD_USABLE bytes before the call) became P of SIZE bytes.
 * When sampling keeps only one side, that side is recorded alone. */
static void note_resize(uint64_t tick0, void *old, size_t old_usable, void *p, size_t size)
{
    struct ps_thread *t = ps_self();
    if (!t)
        return;
    ps_count(&t->bytes_alloc, size);
    count_live(t, (int64_t)usable_of(p) - (int64_t)old_usable);
    unsigned shift = ps_sample_shift();
    bool keep_old = ps_sample_keep((uintptr_t)old, old_usable, shift);
    bool keep_new = ps_sample_keep((uintptr_t)p, size, shift);
    if (keep_old && keep_new) {
        uint64_t tick1 = ps_now();
        ps_ev_realloc(t, tick0, tick1, old, p, size, ps_stack_capture(t));
    } else if (keep_old) {
        ps_ev_free(t, tick0, old);
    } else if (keep_new) {
        uint64_t tick1 = ps_now();
        ps_ev_alloc(t, tick1, p, size, ps_stack_capture(t));
    }
}

/* True when this call should only pass through. */
static inline bool passing(void)
{
    return !ps_active() || ps__busy;
}

/* The shape every allocating hook shares: pass through, or call and record
 * (with errno as the real call left it). */
#define TRACED_ALLOC(call, size)                                         \
    do {                                                                 \
        if (passing())                                                   \
            return call;                                                 \
        ps__busy = 1;                                                    \
        void *p_ = call;                                                 \
        int e_ = errno;                                                  \
        if (p_)                                                          \
            note_alloc(p_, size);                                        \
        ps__busy = 0;                                                    \
        errno = e_;                                                      \
        return p_;                                                       \
    } while (0)

#define BOOT_OR(expr_if_booting)                                         \
    do {                                                                 \
        if (PS_UNLIKELY(!atomic_load_explicit(&ps__real_ready, memory_order_acquire))) { \
            ps_real_init();                                              \
            if (!atomic_load_explicit(&ps__real_ready, memory_order_acquire)) \
                return expr_if_booting;                                  \
        }                                                                \
    } while (0)

/* ---- malloc family ----------------------------------------------------------- */

PS_EXPORT void *malloc(size_t size)
{
    BOOT_OR(ps_boot_alloc(size, 16));
    TRACED_ALLOC(ps_real.malloc(size), size);
}

PS_EXPORT void *calloc(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    BOOT_OR(ps_boot_alloc(bytes, 16)); /* static arena: already zero */
    TRACED_ALLOC(ps_real.calloc(n, size), n * size);
}

PS_EXPORT void free(void *p)
{
    if (!p || ps_boot_owns(p))
        return;
    BOOT_OR();
    if (passing()) {
        ps_real.free(p);
        return;
    }
    ps__busy = 1;
    int e = errno;
    note_free(p);
    ps_real.free(p);
    ps__busy = 0;
    errno = e;
}

/* realloc with glibc's meaning: realloc(NULL, n) allocates, realloc(p, 0)
 * frees, anything else resizes (and the block takes this call's stack). */
static void *do_realloc(void *old, size_t size)
{
    if (!old)
        return malloc(size);
    if (ps_boot_owns(old)) {
        void *p = malloc(size);
        if (p) {
            size_t n = ps_boot_size(old);
            memcpy(p, old, n < size ? n : size);
        }
        return p;
    }
    BOOT_OR(NULL);
    if (passing())
        return ps_real.realloc(old, size);
    ps__busy = 1;
    if (size == 0) { /* glibc: a free (and maybe a minimal new block) */
        note_free(old);
        void *p = ps_real.realloc(old, 0);
        int e = errno;
        if (p)
            note_alloc(p, 0);
        ps__busy = 0;
        errno = e;
        return p;
    }
    uint64_t tick0 = ps_now();
    size_t old_usable = usable_of(old);
    void *p = ps_real.realloc(old, size);
    int e = errno;
    if (p)
        note_resize(tick0, old, old_usable, p, size);
    ps__busy = 0;
    errno = e;
    return p;
}

PS_EXPORT void *realloc(void *old, size_t size)
{
    return do_realloc(old, size);
}

PS_EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return do_realloc(old, bytes);
}

PS_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (PS_UNLIKELY(!atomic_load_explicit(&ps__real_ready, memory_order_acquire))) {
        ps_real_init();
        if (!atomic_load_explicit(&ps__real_ready, memory_order_acquire)) {
            *out = ps_boot_alloc(size, align);
            return 0;
        }
    }
    if (passing())
        return ps_real.posix_memalign(out, align, size);
    ps__busy = 1;
    int e = errno;
    int rc = ps_real.posix_memalign(out, align, size);
    if (rc == 0 && *out)
        note_alloc(*out, size);
    ps__busy = 0;
    errno = e;
    return rc;
}

/* aligned_alloc, memalign, valloc, pvalloc share one shape. */
static void *aligned_common(void *(*fn)(size_t, size_t), size_t align, size_t size)
{
    BOOT_OR(ps_boot_alloc(size, align));
    if (!fn) {
        void *p = NULL;
        return posix_memalign(&p, align, size) == 0 ? p : NULL;
    }
    TRACED_ALLOC(fn(align, size), size);
}

PS_EXPORT void *aligned_alloc(size_t align, size_t size)
{
    BOOT_OR(ps_boot_alloc(size, align));
    return aligned_common(ps_real.aligned_alloc, align, size);
}

PS_EXPORT void *memalign(size_t align, size_t size)
{
    BOOT_OR(ps_boot_alloc(size, align));
    return aligned_common(ps_real.memalign, align, size);
}

static void *valloc_adapter(size_t align, size_t size)
{
    (void)align;
    return ps_real.valloc(size);
}

static void *pvalloc_adapter(size_t align, size_t size)
{
    (void)align;
    return ps_real.pvalloc(size);
}

PS_EXPORT void *valloc(size_t size)
{
    BOOT_OR(ps_boot_alloc(size, 4096));
    return aligned_common(ps_real.valloc ? valloc_adapter : NULL, 4096, size);
}

PS_EXPORT void *pvalloc(size_t size)
{
    BOOT_OR(ps_boot_alloc(size, 4096));
    return aligned_common(ps_real.pvalloc ? pvalloc_adapter : NULL, 4096, size);
}

PS_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (ps_boot_owns(p))
        return ps_boot_size(p);
    BOOT_OR(0);
    return ps_real.malloc_usable_size ? ps_real.malloc_usable_size(p) : 0;
}

/* ---- jemalloc API ---------------------------------------------------------------
 * Flags as jemalloc defines them: low 6 bits lg(alignment), 0x40 zero. */

#define JE_LG_ALIGN(flags) ((flags) & 0x3f)
#define JE_ZERO 0x40

static size_t usable(void *p)
{
    if (ps_real.sallocx)
        return ps_real.sallocx(p, 0);
    return ps_real.malloc_usable_size ? ps_real.malloc_usable_size(p) : 0;
}

static void *emulated_mallocx(size_t size, int flags)
{
    void *p = NULL;
    size_t lg = (size_t)JE_LG_ALIGN(flags);
    if (lg) {
        if (ps_real.posix_memalign(&p, (size_t)1 << lg < sizeof(void *) ? sizeof(void *) : (size_t)1 << lg, size))
            p = NULL;
    } else {
        p = ps_real.malloc(size);
    }
    if (p && (flags & JE_ZERO))
        memset(p, 0, size);
    return p;
}

static void *emulated_rallocx(void *old, size_t size, int flags)
{
    size_t old_size = usable(old);
    void *p;
    if (JE_LG_ALIGN(flags) > 4) {
        p = emulated_mallocx(size, flags & ~JE_ZERO);
        if (p) {
            memcpy(p, old, old_size < size ? old_size : size);
            ps_real.free(old);
        }
    } else {
        p = ps_real.realloc(old, size);
    }
    if (p && (flags & JE_ZERO) && size > old_size)
        memset((char *)p + old_size, 0, size - old_size);
    return p;
}

PS_EXPORT void *mallocx(size_t size, int flags)
{
    BOOT_OR(ps_boot_alloc(size, (size_t)1 << JE_LG_ALIGN(flags)));
    void *(*fn)(size_t, int) = ps_real.mallocx ? ps_real.mallocx : emulated_mallocx;
    TRACED_ALLOC(fn(size, flags), size);
}

PS_EXPORT void *rallocx(void *old, size_t size, int flags)
{
    BOOT_OR(NULL);
    void *(*fn)(void *, size_t, int) = ps_real.rallocx ? ps_real.rallocx : emulated_rallocx;
    if (passing())
        return fn(old, size, flags);
    ps__busy = 1;
    uint64_t tick0 = ps_now();
    size_t old_usable = usable(old);
    void *p = fn(old, size, flags);
    int e = errno;
    if (p)
        note_resize(tick0, old, old_usable, p, size);
    ps__busy = 0;
    errno = e;
    return p;
}

PS_EXPORT size_t xallocx(void *p, size_t size, size_t extra, int flags)
{
    BOOT_OR(0);
    if (!ps_real.xallocx)
        return usable(p); /* never resizes in place; says how big it is */
    if (passing())
        return ps_real.xallocx(p, size, extra, flags);
    ps__busy = 1;
    uint64_t tick0 = ps_now();
    size_t old_usable = usable(p);
    size_t r = ps_real.xallocx(p, size, extra, flags);
    int e = errno;
    /* Succeeded when the block is now at least SIZE; it then holds R bytes. */
    if (r >= size)
        note_resize(tick0, p, old_usable, p, r);
    ps__busy = 0;
    errno = e;
    return r;
}

PS_EXPORT size_t sallocx(const void *p, int flags)
{
    BOOT_OR(0);
    if (ps_real.sallocx)
        return ps_real.sallocx(p, flags);
    return ps_real.malloc_usable_size ? ps_real.malloc_usable_size((void *)p) : 0;
}

PS_EXPORT size_t nallocx(size_t size, int flags)
{
    BOOT_OR(size);
    if (ps_real.nallocx)
        return ps_real.nallocx(size, flags);
    return size;
}

PS_EXPORT void dallocx(void *p, int flags)
{
    if (!p || ps_boot_owns(p))
        return;
    BOOT_OR();
    if (passing()) {
        ps_real.dallocx ? ps_real.dallocx(p, flags) : ps_real.free(p);
        return;
    }
    ps__busy = 1;
    int e = errno;
    note_free(p);
    ps_real.dallocx ? ps_real.dallocx(p, flags) : ps_real.free(p);
    ps__busy = 0;
    errno = e;
}

PS_EXPORT void sdallocx(void *p, size_t size, int flags)
{
    if (!p || ps_boot_owns(p))
        return;
    BOOT_OR();
    if (passing()) {
        ps_real.sdallocx ? ps_real.sdallocx(p, size, flags) : ps_real.free(p);
        return;
    }
    ps__busy = 1;
    int e = errno;
    note_free(p);
    ps_real.sdallocx ? ps_real.sdallocx(p, size, flags) : ps_real.free(p);
    ps__busy = 0;
    errno = e;
}
