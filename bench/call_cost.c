/* What one intercepted call costs: clock reads, reads of a non-socket fd
 * (which the shim must let through cheaply) and socket send+recv pairs.
 * Each loop is timed with the raw clock_gettime syscall, which no hook
 * sees; prints "name ns_per_call" lines.  Run untraced and under the shim
 * by bench/call_cost.sh. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    volatile uint64_t sink = 0;
    struct timespec ts;

    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += (uint64_t)ts.tv_nsec;
    }
    printf("clock_gettime %.1f\n", (now_ns() - t0) / (double)n);

    int z = open("/dev/zero", O_RDONLY);
    char b[64];
    t0 = now_ns();
    for (long i = 0; i < n / 4; i++)
        sink += (uint64_t)read(z, b, 1);
    printf("read_devzero %.1f\n", (now_ns() - t0) / (double)(n / 4));
    close(z);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    t0 = now_ns();
    for (long i = 0; i < n / 10; i++) {
        if (send(sv[0], b, sizeof b, 0) != (ssize_t)sizeof b || recv(sv[1], b, sizeof b, 0) <= 0)
            return 1;
    }
    printf("send_recv_pair %.1f\n", (now_ns() - t0) / (double)(n / 10));
    close(sv[0]);
    close(sv[1]);
    return sink == 42;
}
