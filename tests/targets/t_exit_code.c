/* t_exit_code: exits with status 3, built -O0.
 * Truth: exit status 3 with and without the shim; report process.exit is
 *   "exited 3"; one leaked block of 42 bytes (leak_one, @leak:one).
 * valgrind --leak-check=full: "definitely lost: 42 bytes in 1 blocks".
 */
#include <stdlib.h>
#include <string.h>

void *volatile sink;

__attribute__((noinline)) static void leak_one(void)
{
    char *p = malloc(42); /* @leak:one */
    memset(p, 1, 42);
    sink = p;
    sink = NULL;
}

int main(void)
{
    leak_one();
    exit(3);
}
