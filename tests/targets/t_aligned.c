/* t_aligned: the aligned and array allocators, built -O0.
 *
 * The shim records the size the program REQUESTED (not glibc's usable
 * size).  pvalloc rounds the request itself up to the page size, which
 * makes "requested size" ambiguous: its block is freed, never asserted.
 *
 * Truth (leaked, one block each, distinct functions/markers):
 *   posix_memalign(64, 100)   leak_posix_memalign  @leak:posix_memalign  100
 *   aligned_alloc(128, 256)   leak_aligned_alloc   @leak:aligned_alloc   256
 *   memalign(16, 77)          leak_memalign        @leak:memalign         77
 *   valloc(200)               leak_valloc          @leak:valloc          200
 *   calloc(10, 30)            leak_calloc          @leak:calloc          300
 *   reallocarray(NULL, 7, 9)  leak_reallocarray    @leak:reallocarray     63
 *   leaked_blocks = 6, leaked_bytes = 996.
 * Freed: posix_memalign(32,40), aligned_alloc(64,64), memalign(32,48),
 *   valloc(10), pvalloc(100), calloc(4,4), malloc(16)->reallocarray(p,5,8).
 * valgrind --leak-check=full ./t_aligned no-pvalloc (valgrind aborts on
 *   pvalloc): "definitely lost: 996 bytes in 6 blocks", 13 allocs, 7 frees.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void *volatile sink;

#define NOINLINE __attribute__((noinline))

NOINLINE static void leak_posix_memalign(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, 100) != 0) /* @leak:posix_memalign */
        abort();
    memset(p, 1, 100);
    sink = p;
}

NOINLINE static void leak_aligned_alloc(void)
{
    void *p = aligned_alloc(128, 256); /* @leak:aligned_alloc */
    memset(p, 2, 256);
    sink = p;
}

NOINLINE static void leak_memalign(void)
{
    void *p = memalign(16, 77); /* @leak:memalign */
    memset(p, 3, 77);
    sink = p;
}

NOINLINE static void leak_valloc(void)
{
    void *p = valloc(200); /* @leak:valloc */
    memset(p, 4, 200);
    sink = p;
}

NOINLINE static void leak_calloc(void)
{
    void *p = calloc(10, 30); /* @leak:calloc */
    sink = p;
}

NOINLINE static void leak_reallocarray(void)
{
    void *p = reallocarray(NULL, 7, 9); /* @leak:reallocarray */
    memset(p, 5, 63);
    sink = p;
}

NOINLINE static void freed_ones(int with_pvalloc)
{
    void *p = NULL;
    if (posix_memalign(&p, 32, 40) != 0)
        abort();
    free(p);
    free(aligned_alloc(64, 64));
    free(memalign(32, 48));
    free(valloc(10));
    if (with_pvalloc) /* valgrind aborts on pvalloc: run it with "no-pvalloc" */
        free(pvalloc(100));
    free(calloc(4, 4));
    void *q = malloc(16);
    q = reallocarray(q, 5, 8);
    memset(q, 6, 40);
    free(q);
}

int main(int argc, char **argv)
{
    (void)argv;
    freed_ones(argc < 2);
    leak_posix_memalign();
    leak_aligned_alloc();
    leak_memalign();
    leak_valloc();
    leak_calloc();
    leak_reallocarray();
    sink = NULL;
    return 0;
}
