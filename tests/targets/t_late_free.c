/* t_late_free: frees (and mallocs) after main returns, built -O0.
 *
 * main allocates three blocks and prints "main done".
 *   - an atexit handler frees block A (@alloc:freed_in_atexit) and does a
 *     malloc/free pair;
 *   - a destructor frees block B (@alloc:freed_in_dtor) and registers one
 *     more atexit handler, which glibc runs after _dl_fini, i.e. after the
 *     preloaded shim's own destructor; that handler frees block C
 *     (@alloc:freed_very_late) and does a malloc/free pair.
 * Each step writes one line on stdout with write(2).
 * Truth: no crash, exit 0, stdout identical with and without the shim:
 *   "main done\natexit\ndtor\nvery late\n".  A and B are freed before the
 *   shim's destructor and must not be reported; C may or may not be.
 * valgrind --leak-check=full: "All heap blocks were freed".
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *block_a, *block_b, *block_c;

static void say(const char *s)
{
    if (write(1, s, strlen(s)) < 0)
        _exit(9);
}

static void very_late(void)
{
    free(block_c);
    free(malloc(33));
    say("very late\n");
}

static void at_exit_handler(void)
{
    free(block_a);
    free(malloc(44));
    say("atexit\n");
}

__attribute__((destructor)) static void dtor(void)
{
    free(block_b);
    say("dtor\n");
    atexit(very_late);
}

int main(void)
{
    block_a = malloc(101); /* @alloc:freed_in_atexit */
    block_b = malloc(202); /* @alloc:freed_in_dtor */
    block_c = malloc(303); /* @alloc:freed_very_late */
    memset(block_a, 1, 101);
    memset(block_b, 2, 202);
    memset(block_c, 3, 303);
    if (atexit(at_exit_handler) != 0)
        return 2;
    say("main done\n");
    return 0;
}
