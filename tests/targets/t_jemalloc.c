/* t_jemalloc: a target linked with -ljemalloc, built -O0.
 *
 * malloc/calloc/free reach jemalloc (it replaces them); the *allocx API is
 * jemalloc's own.  Sizes below are the requested sizes.
 * Truth (leaked):
 *   malloc(100)                  leak_malloc   @leak:je_malloc   100
 *   mallocx(300, 0)              leak_mallocx  @leak:mallocx     300
 *   mallocx(400, ALIGN(64)) then rallocx(.., 800, 0)
 *                                leak_rallocx  @leak:rallocx     800
 *   calloc(3, 50)                leak_calloc   @leak:je_calloc   150
 *   leaked_blocks = 4, leaked_bytes = 1350.
 * Freed (not leaks): malloc(200)/free, mallocx(500)/dallocx,
 *   mallocx(600)/sdallocx(600), mallocx(1000)/xallocx(..,1200,..)/dallocx.
 *   sallocx and nallocx allocate nothing.
 * valgrind --leak-check=full cannot see jemalloc's allocations (jemalloc
 *   is not replaced by valgrind's allocator): 0 bytes reported, as expected.
 */
#include <jemalloc/jemalloc.h>
#include <string.h>

void *volatile sink;
volatile size_t size_sink;

#define NOINLINE __attribute__((noinline))

NOINLINE static void leak_malloc(void)
{
    char *p = malloc(100); /* @leak:je_malloc */
    memset(p, 1, 100);
    sink = p;
}

NOINLINE static void leak_mallocx(void)
{
    char *p = mallocx(300, 0); /* @leak:mallocx */
    memset(p, 2, 300);
    size_sink = sallocx(p, 0);
    sink = p;
}

NOINLINE static void leak_rallocx(void)
{
    char *p = mallocx(400, MALLOCX_ALIGN(64));
    memset(p, 3, 400);
    p = rallocx(p, 800, 0); /* @leak:rallocx */
    memset(p, 3, 800);
    sink = p;
}

NOINLINE static void leak_calloc(void)
{
    sink = calloc(3, 50); /* @leak:je_calloc */
}

NOINLINE static void freed_ones(void)
{
    free(malloc(200));
    char *a = mallocx(500, 0);
    memset(a, 4, 500);
    dallocx(a, 0);
    char *b = mallocx(600, 0);
    memset(b, 5, 600);
    sdallocx(b, 600, 0);
    char *c = mallocx(1000, 0);
    size_sink = xallocx(c, 1200, 0, 0);
    dallocx(c, 0);
    size_sink = nallocx(700, 0);
}

int main(void)
{
    freed_ones();
    leak_malloc();
    leak_mallocx();
    leak_rallocx();
    leak_calloc();
    sink = NULL;
    return 0;
}
