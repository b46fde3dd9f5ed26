/* Chunk compression, done by the flusher thread only, off the target's
 * threads.  zstd level 1 shrinks a typical stream ~6x (4.9 -> 0.75 bytes an
 * event on a malloc/free loop), which is what keeps hour-long soak traces
 * manageable.
 *
 * libzstd.so.1 is part of every Debian system; it is dlopen'ed RTLD_LOCAL
 * (its symbols stay out of the target's scope) and used through its static
 * context API on mmap'd memory, so compression never calls the target's
 * allocator.  Without it, chunks are written raw: the trace stays valid. */
#include "shim.h"

#include <dlfcn.h>
#include <string.h>

typedef size_t (*est_fn)(int);
typedef void *(*init_fn)(void *, size_t);
typedef size_t (*compress_fn)(void *, void *, size_t, const void *, size_t, int);
typedef size_t (*bound_fn)(size_t);
typedef unsigned (*iserr_fn)(size_t);

static void *cctx;
static compress_fn zcompress;
static iserr_fn ziserror;
static uint8_t *src_buf, *dst_buf;
static size_t src_cap, dst_cap;
static int level;

/* Called by the flusher thread when it starts; a fork child's flusher
 * finds the context its parent made (private memory, no locks inside). */
void ps_compress_init(void)
{
    if (cctx || ps__opt.compress == 0)
        return;
    void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    est_fn est = (est_fn)dlsym(h, "ZSTD_estimateCCtxSize");
    init_fn init = (init_fn)dlsym(h, "ZSTD_initStaticCCtx");
    bound_fn bound = (bound_fn)dlsym(h, "ZSTD_compressBound");
    zcompress = (compress_fn)dlsym(h, "ZSTD_compressCCtx");
    ziserror = (iserr_fn)dlsym(h, "ZSTD_isError");
    if (!est || !init || !bound || !zcompress || !ziserror)
        return;
    level = (int)ps__opt.compress;
    size_t ws_size = est(level);
    void *ws = ps_mmap(ws_size);
    src_cap = ps__opt.buffer_bytes;
    dst_cap = bound(src_cap);
    src_buf = ps_mmap(src_cap);
    dst_buf = ps_mmap(dst_cap);
    if (!ws || !src_buf || !dst_buf)
        return;
    cctx = init(ws, ws_size);
}

/* Compress the concatenation of A and B.  Returns the compressed bytes (in
 * a buffer owned here) and their length, or NULL to write raw. */
const uint8_t *ps_compress(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *out_len)
{
    size_t len = alen + blen;
    if (!cctx || len < 512 || len > src_cap)
        return NULL;
    const uint8_t *src = a;
    if (blen) {
        memcpy(src_buf, a, alen);
        memcpy(src_buf + alen, b, blen);
        src = src_buf;
    }
    size_t n = zcompress(cctx, dst_buf, dst_cap, src, len, level);
    if (ziserror(n) || n >= len)
        return NULL;
    *out_len = n;
    return dst_buf;
}
