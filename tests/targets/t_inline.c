/* t_inline: built -O2.  The leak goes through an always_inline helper
 * inside a noinline function.
 *
 * Truth: exactly one leaked block of 321 bytes.  Its stack, innermost first:
 *   [0] inline_helper   t_inline.c:<@leak:inline_helper>  inlined: true
 *   [1] outer_noinline  t_inline.c:<@leak:outer_call>     inlined: false
 *   [2] main ...
 * valgrind --leak-check=full: "definitely lost: 321 bytes in 1 blocks",
 *   total heap usage 1 allocs, 0 frees.
 */
#include <stdlib.h>
#include <string.h>

void *volatile sink;

static inline __attribute__((always_inline)) void *inline_helper(size_t n)
{
    char *p = malloc(n); /* @leak:inline_helper */
    if (p)
        memset(p, 0x5a, n);
    return p;
}

__attribute__((noinline)) void outer_noinline(size_t n)
{
    sink = inline_helper(n); /* @leak:outer_call */
    sink = NULL;
}

int main(int argc, char **argv)
{
    (void)argv;
    outer_noinline(320 + (size_t)argc); /* argc == 1: 321 bytes */
    return 0;
}
