/* t_soak_steady: a steady allocation workload of bounded live size, and
 * optionally a grower beside it, built -O0.
 *
 * Usage: t_soak_steady SECONDS OPS_PER_TICK GROW_BYTES WORKERS
 *        (1..3600, 1..100000, 0..16777216, 1..16)
 *
 * WORKERS threads each fill a ring of RING = 1024 blocks (slot i:
 * 16 + (i*61) % 1009 bytes) and then run TICKS = SECONDS*100 ticks; tick t
 * ends at the absolute CLOCK_MONOTONIC deadline start + (t+1)*10 ms
 * (clock_nanosleep TIMER_ABSTIME), so the rates hold in wall time.  A tick
 * is OPS_PER_TICK operations of churn_site(): free the next ring slot and
 * malloc its replacement of the same size (@leak:churn), its bytes written.
 * The live size is constant (each ring: the sum over i < RING of
 * 16 + (i*61) % 1009 bytes, in RING blocks) apart from the one slot being
 * replaced.  At the end every worker frees its ring.
 *
 * When GROW_BYTES > 0 the main thread runs SECONDS*10 ticks of 100 ms
 * (absolute deadlines as above), each one grow_site(): malloc(GROW_BYTES)
 * (@leak:grow), written, chained to the last one and kept to the end:
 * GROW_BYTES*10 bytes/s = GROW_BYTES*600 bytes/min, 600 blocks/min.
 * Otherwise the main thread only waits for the workers.
 *
 * Threads: 1 + WORKERS for the whole run.  Allocations from this file:
 *   WORKERS*(RING + TICKS*OPS_PER_TICK) + (GROW_BYTES ? SECONDS*10 : 0);
 *   frees: WORKERS*(TICKS*OPS_PER_TICK + RING).  Live at exit: the grower's
 *   SECONDS*10 blocks only.
 * Nothing on stdout; stdio is not used.  Exit 0 (2 on a bad argument).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING 1024
#define MAX_WORKERS 16
#define TICK_NS 10000000L
#define GROW_TICK_NS 100000000L

static long seconds, ops_per_tick, grow_bytes;
static void *rings[MAX_WORKERS][RING];
static void *grow_head; /* the grower's blocks, chained through their first word */

static size_t slot_size(unsigned i)
{
    return 16 + (i * 61u) % 1009u;
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

__attribute__((noinline)) void churn_site(void **ring, unsigned *cursor)
{
    for (long k = 0; k < ops_per_tick; k++) {
        unsigned i = (*cursor)++ % RING;
        free(ring[i]);
        size_t n = slot_size(i);
        ring[i] = malloc(n); /* @leak:churn */
        if (!ring[i])
            abort();
        memset(ring[i], (int)i, n);
    }
}

static void *worker(void *arg)
{
    void **ring = arg;
    for (unsigned i = 0; i < RING; i++) {
        ring[i] = malloc(slot_size(i)); /* @alloc:ring */
        if (!ring[i])
            abort();
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    unsigned cursor = 0;
    for (long t = 0; t < seconds * 100; t++) {
        churn_site(ring, &cursor);
        add_ns(&deadline, TICK_NS);
        sleep_until(&deadline);
    }
    for (unsigned i = 0; i < RING; i++)
        free(ring[i]);
    return NULL;
}

__attribute__((noinline)) void grow_site(void)
{
    char *p = malloc((size_t)grow_bytes); /* @leak:grow */
    if (!p)
        abort();
    memset(p, 0x5a, (size_t)grow_bytes);
    if ((size_t)grow_bytes >= sizeof grow_head)
        memcpy(p, &grow_head, sizeof grow_head);
    grow_head = p;
}

static long arg(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        static const char usage[] = "usage: t_soak_steady SECONDS OPS_PER_TICK GROW_BYTES WORKERS"
                                    " (1-3600, 1-100000, 0-16777216, 1-16)\n";
        if (write(2, usage, sizeof usage - 1) < 0)
            exit(2);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        arg("", 0, 0); /* usage, exit 2 */
    seconds = arg(argv[1], 1, 3600);
    ops_per_tick = arg(argv[2], 1, 100000);
    grow_bytes = arg(argv[3], 0, 16777216);
    long workers = arg(argv[4], 1, MAX_WORKERS);

    pthread_t th[MAX_WORKERS];
    for (long w = 0; w < workers; w++)
        if (pthread_create(&th[w], NULL, worker, rings[w]) != 0)
            abort();
    if (grow_bytes > 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        for (long t = 0; t < seconds * 10; t++) {
            grow_site();
            add_ns(&deadline, GROW_TICK_NS);
            sleep_until(&deadline);
        }
    }
    for (long w = 0; w < workers; w++)
        pthread_join(th[w], NULL);
    return 0;
}
