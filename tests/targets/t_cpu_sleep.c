/* t_cpu_sleep: a program that sleeps and hardly runs, built -O0.
 *
 * Truth:
 *   One thread.  tiny_work() does ~1 ms of CPU work (a multiply chain of a
 *   fixed 200000 steps), then nap() sleeps 2 s in one nanosleep() call
 *   (repeated for the rest after an EINTR, which nothing here provokes).
 *   The whole run uses a few ms of CPU time: at 99 samples per second of
 *   CPU time a CPU profiler gets almost nothing (0 or 1 sample, a few at
 *   most from start-up and exit), while the off-CPU profile has ~2 s of
 *   nanosleep under main;nap.
 *   stdout: "t_cpu_sleep: ok"; exit status 0.  No heap.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static volatile uint64_t sink;

__attribute__((noinline)) void tiny_work(void)
{
    uint64_t x = sink | 1;
    for (unsigned i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        x ^= x >> 29;
    }
    sink = x;
}

__attribute__((noinline)) int nap(void)
{
    struct timespec req = {2, 0}, rem;
    while (nanosleep(&req, &rem) != 0) {
        if (errno != EINTR)
            return -1;
        req = rem;
    }
    return 0;
}

int main(void)
{
    tiny_work();
    if (nap() != 0) {
        perror("t_cpu_sleep: nanosleep");
        return 1;
    }
    printf("t_cpu_sleep: ok\n");
    return 0;
}
