/* t_closefds: a daemon-like target that closes every fd, dup2s over fd
 * numbers >= 3 and changes directory, built -O0.
 *
 * Sequence: leak_before (@leak:before_close, 1 block 888 bytes); close
 *   every fd 3..1024; close_range(3, ~0U, 0) (ENOSYS is tolerated); open
 *   /dev/null and dup2 it onto fds 3..63 (left open); chdir("/");
 *   leak_after (@leak:after_close, 1 block 999 bytes); exit 0.
 * Truth: the trace is complete (exit "exited 0") and both leaks are
 *   reported: leaked_blocks = 2, leaked_bytes = 1887.
 * valgrind --leak-check=full: "definitely lost: 1,887 bytes in 2 blocks"
 *   (valgrind's own fds survive: it hides them from the client).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile sink;

__attribute__((noinline)) static void leak_before(void)
{
    char *p = malloc(888); /* @leak:before_close */
    memset(p, 1, 888);
    sink = p;
    sink = NULL;
}

__attribute__((noinline)) static void leak_after(void)
{
    char *p = malloc(999); /* @leak:after_close */
    memset(p, 2, 999);
    sink = p;
    sink = NULL;
}

int main(void)
{
    leak_before();
    for (int fd = 3; fd <= 1024; fd++)
        close(fd);
    (void)close_range(3, ~0U, 0);
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
        return 2;
    for (int fd = 3; fd <= 63; fd++)
        if (fd != null && dup2(null, fd) != fd)
            return 3;
    if (chdir("/") != 0)
        return 4;
    leak_after();
    for (int i = 0; i < 50; i++)
        free(malloc((size_t)(100 + i)));
    return 0;
}
