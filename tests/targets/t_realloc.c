/* t_realloc: realloc in all its forms, built -O0.
 *
 * Counting per glibc semantics (CONTRACT.md): realloc(NULL, n) is an
 * allocation, realloc(p, 0) a free, any other realloc a reallocation.
 *
 * Truth:
 *   allocations   = 3  (realloc(NULL,64), malloc(1000), malloc(10))
 *   frees         = 2  (realloc(a,0), free(c))
 *   reallocations = 5  (shrink 1000->500 (in place), grow 500->1 MiB (moves
 *                       to mmap), 1 MiB->2000 (moves back to the heap, next
 *                       to top), grow 2000->2500 (in place, into top),
 *                       2500->3000 (last_realloc, in place))
 *   (untraced glibc 2.36 does "in place"/"moves" as noted; under the shim its
 *   own allocations may change that, the counts do not change)
 *   leaked: exactly 1 block of 3000 bytes whose stack is the last realloc
 *   (marker @leak:last_realloc, function last_realloc).
 * valgrind --leak-check=full: "definitely lost: 3,000 bytes in 1 blocks".
 *   (valgrind counts differently: every realloc as an alloc + a free.)
 */
#include <stdlib.h>
#include <string.h>

void *volatile sink;

__attribute__((noinline)) static char *last_realloc(char *b)
{
    return realloc(b, 3000); /* @leak:last_realloc */
}

int main(void)
{
    char *a = realloc(NULL, 64); /* @alloc:realloc_null */
    memset(a, 1, 64);
    sink = realloc(a, 0); /* glibc: frees a, returns NULL */

    char *b = malloc(1000); /* @alloc:first */
    memset(b, 2, 1000);
    b = realloc(b, 500); /* shrink, in place */
    b = realloc(b, 1 << 20); /* grow, moves (above the mmap threshold) */
    memset(b, 4, 1 << 20);
    b = realloc(b, 2000); /* moves back to the heap, next to top */
    b = realloc(b, 2500); /* grows in place into top */
    memset(b, 3, 2500);
    b = last_realloc(b);
    memset(b, 5, 3000);

    char *c = malloc(10);
    memset(c, 6, 10);
    free(c);

    sink = b;
    sink = NULL;
    return 0;
}
