/* t_exec: an image that leaks, then execs itself, built -O0.
 *
 * Stage 1 (no argument): leaks X = 1234 bytes (leak_pre_exec, @leak:pre_exec)
 *   then execv(argv0 (or /proc/self/exe), {argv0, "stage2"}).
 * Stage 2 ("stage2"): leaks Y = 4321 bytes (leak_post_exec, @leak:post_exec)
 *   and exits 0.
 * Truth: two traces with the same pid; the second image's file gets the
 *   ".1" suffix.  Pre-exec report: process.exit "exec", X listed (kind
 *   "unknown").  Post-exec report: exactly Y leaked (1 block, 4321 bytes),
 *   exit "exited 0".
 * valgrind --leak-check=full --trace-children=yes: stage 2 "definitely
 *   lost: 4,321 bytes in 1 blocks" (valgrind reports nothing for stage 1).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile sink;

__attribute__((noinline)) static void leak_pre_exec(void)
{
    char *p = malloc(1234); /* @leak:pre_exec */
    memset(p, 1, 1234);
    sink = p;
    sink = NULL;
}

__attribute__((noinline)) static void leak_post_exec(void)
{
    char *p = malloc(4321); /* @leak:post_exec */
    memset(p, 2, 4321);
    sink = p;
    sink = NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "stage2") == 0) {
        leak_post_exec();
        return 0;
    }
    leak_pre_exec();
    char *args[] = {argv[0], "stage2", NULL};
    execv(strchr(argv[0], '/') ? argv[0] : "/proc/self/exe", args);
    return 127; /* exec failed */
}
