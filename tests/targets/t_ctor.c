/* t_ctor: allocations in a constructor, built -O0.
 *
 * Truth: ctor_alloc (a __attribute__((constructor)) function) allocates
 *   a block of 777 bytes that leaks (@leak:ctor) and a 64-byte block that
 *   main frees.  leaked_blocks = 1, leaked_bytes = 777.
 *   allocations = 2, frees = 1.
 * valgrind --leak-check=full: "definitely lost: 777 bytes in 1 blocks".
 */
#include <stdlib.h>
#include <string.h>

void *volatile sink;
static void *kept;

__attribute__((constructor)) static void ctor_alloc(void)
{
    char *p = malloc(777); /* @leak:ctor */
    memset(p, 9, 777);
    sink = p;
    sink = NULL;
    kept = malloc(64); /* @alloc:ctor_kept */
}

int main(void)
{
    free(kept);
    return 0;
}
