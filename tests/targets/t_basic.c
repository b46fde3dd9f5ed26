/* t_basic: the simplest leak accounting, built -O0.
 *
 * Truth:
 *   leak_hundred (marker @leak:hundred): 3 blocks of 100 bytes = 300 bytes,
 *                called from one line of main, so one identical stack
 *   leak_page    (marker @leak:page):    1 block of 4096 bytes
 *   leaked_blocks = 4, leaked_bytes = 4396; every other block is freed.
 *   Allocations made by this file: 4 leaked + 2000 churn = 2004, frees 2000.
 *   No stdio: nothing else in the process allocates.
 *   total_allocated_bytes = 4,949,396 (valgrind's "bytes allocated").
 * valgrind --leak-check=full: "definitely lost: 4,396 bytes in 4 blocks",
 *   total heap usage 2,004 allocs, 2,000 frees.
 */
#include <stdlib.h>
#include <string.h>

void *volatile sink;

__attribute__((noinline)) static void leak_hundred(void)
{
    char *p = malloc(100); /* @leak:hundred */
    memset(p, 'h', 100);
    sink = p;
    sink = NULL;
}

__attribute__((noinline)) static void leak_page(void)
{
    char *p = malloc(4096); /* @leak:page */
    memset(p, 'p', 4096);
    sink = p;
    sink = NULL;
}

__attribute__((noinline)) static void churn(void)
{
    void *live[16] = {0};
    for (unsigned i = 0; i < 2000; i++) {
        unsigned slot = (i * 7u) % 16u;
        free(live[slot]);
        size_t size = 1 + (i * 37u) % 5000u;
        live[slot] = malloc(size); /* @alloc:churn */
        memset(live[slot], (int)i, size);
    }
    for (unsigned slot = 0; slot < 16; slot++)
        free(live[slot]);
}

int main(void)
{
    churn();
    for (int i = 0; i < 3; i++)
        leak_hundred(); /* one call site: one stack, one leak group */
    leak_page();
    return 0;
}
