/* t_soak_grow: a slow leak at an exact rate beside fast constant-size
 * churn, built -O0.
 *
 * Usage: t_soak_grow SECONDS        (1..600)
 *
 * Fills a ring of RING = 512 blocks (slot i: 32 + (i*37) % 480 bytes),
 * writes "ready\n" to stdout, then runs TICKS = SECONDS*100 ticks.  Tick i
 * ends at the absolute CLOCK_MONOTONIC deadline start + (i+1)*10 ms
 * (clock_nanosleep TIMER_ABSTIME), so the rates below hold in wall time
 * however late one tick wakes.  Each tick:
 *   grow_site():  malloc(1000) (@leak:grow), filled, chained to the last one
 *                 and kept: 1000 bytes / 10 ms = 100,000 bytes/s
 *                 = 6,000,000 bytes/min = 6000 blocks/min.
 *   churn_site(): CHURN = 200 times: free one ring slot and malloc its
 *                 replacement of the same size (@leak:churn): 20,000
 *                 allocations/s at a constant live size (the ring's).
 * Then the ring is freed; grow_site's blocks stay live at exit:
 *   TICKS blocks, TICKS*1000 bytes, all from grow_site.
 * Allocations from this file: RING + TICKS*(1 + CHURN); frees: RING +
 *   TICKS*CHURN.  Nothing on stdout but "ready\n"; stdio is not used.
 *   Exit 0 (2 on a bad argument).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING 512
#define CHURN 200
#define GROW_BYTES 1000
#define TICK_NS 10000000L

static void *ring[RING];
static void *grow_head; /* the kept blocks, chained through their first word */

static size_t ring_size(unsigned i)
{
    return 32 + (i * 37u) % 480u;
}

__attribute__((noinline)) void grow_site(void)
{
    char *p = malloc(GROW_BYTES); /* @leak:grow */
    if (!p)
        abort();
    memset(p, 0xab, GROW_BYTES);
    memcpy(p, &grow_head, sizeof grow_head);
    grow_head = p;
}

__attribute__((noinline)) void churn_site(unsigned *cursor)
{
    for (int k = 0; k < CHURN; k++) {
        unsigned i = (*cursor)++ % RING;
        free(ring[i]);
        ring[i] = malloc(ring_size(i)); /* @leak:churn */
        if (!ring[i])
            abort();
        memset(ring[i], (int)i, 16);
    }
}

static void add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

static void sleep_until(const struct timespec *t)
{
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
        ;
}

int main(int argc, char **argv)
{
    char *end;
    long secs = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *end || secs < 1 || secs > 600) {
        static const char usage[] = "usage: t_soak_grow SECONDS (1-600)\n";
        if (write(2, usage, sizeof usage - 1) < 0)
            return 2;
        return 2;
    }
    for (unsigned i = 0; i < RING; i++) {
        ring[i] = malloc(ring_size(i)); /* @alloc:ring */
        if (!ring[i])
            abort();
    }
    static const char ready[] = "ready\n";
    if (write(1, ready, sizeof ready - 1) < 0)
        return 2;

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    unsigned cursor = 0;
    long ticks = secs * 100;
    for (long t = 0; t < ticks; t++) {
        grow_site();
        churn_site(&cursor);
        add_ns(&deadline, TICK_NS);
        sleep_until(&deadline);
    }
    for (unsigned i = 0; i < RING; i++)
        free(ring[i]);
    return 0;
}
