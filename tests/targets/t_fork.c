/* t_fork: leaks on both sides of a fork, built -O0.
 *
 * Truth:
 *   parent trace: leak_before_fork (@leak:parent_before) 1 block 1111 bytes
 *                 leak_after_wait  (@leak:parent_after)  1 block 3333 bytes
 *                 leaked_blocks = 2, leaked_bytes = 4444, exit "exited 0"
 *   child trace:  leak_in_child    (@leak:child)         1 block 2222 bytes
 *                 leaked_blocks = 1, leaked_bytes = 2222, exit "exited 0"
 *                 (the child's report covers only what the child allocated
 *                 after the fork: the parent's 1111 block is not in it)
 *   child ppid == parent pid.
 * valgrind --leak-check=full --trace-children=yes: parent "definitely lost:
 *   4,444 bytes in 2 blocks"; child "definitely lost: 3,333 bytes in 2
 *   blocks" (its 2,222 plus the 1,111 inherited from the parent: valgrind
 *   cannot tell them apart, the shim's child trace must).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile sink;

#define NOINLINE __attribute__((noinline))

NOINLINE static void leak_before_fork(void)
{
    char *p = malloc(1111); /* @leak:parent_before */
    memset(p, 1, 1111);
    sink = p;
    sink = NULL;
}

NOINLINE static void leak_in_child(void)
{
    char *p = malloc(2222); /* @leak:child */
    memset(p, 2, 2222);
    sink = p;
    sink = NULL;
}

NOINLINE static void leak_after_wait(void)
{
    char *p = malloc(3333); /* @leak:parent_after */
    memset(p, 3, 3333);
    sink = p;
    sink = NULL;
}

int main(void)
{
    leak_before_fork();
    pid_t pid = fork();
    if (pid < 0)
        return 10;
    if (pid == 0) {
        leak_in_child();
        free(malloc(50)); /* child churn, freed */
        exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return 11;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 12;
    leak_after_wait();
    return 0;
}
