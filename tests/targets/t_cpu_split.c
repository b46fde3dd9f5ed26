/* t_cpu_split: a known split of CPU time between two functions, built -O2.
 *
 *   t_cpu_split NTHREADS SECONDS [PCT_A]
 *
 * Truth:
 *   NTHREADS threads burn CPU (1: only the main thread, called from main;
 *   more: that many pthreads, each from its start routine, while the main
 *   thread waits in pthread_join and burns nothing).  Every burning thread
 *   runs work(), which alternates between burn_a() and burn_b() in slices
 *   of its own CPU time (CLOCK_THREAD_CPUTIME_ID): cycles of a pseudo-random
 *   length, uniform in [5, 15) ms (10 ms on average), PCT_A% (default 70)
 *   of each in burn_a, then the rest in burn_b: 7 ms / 3 ms on average.
 *   The slices are measured cumulatively, so an overshoot in one slice is
 *   taken off the next: over the run each thread has spent PCT_A% of its
 *   burning CPU time in burn_a, the rest in burn_b.  The thread checks that
 *   itself (within 1 point) and the program exits 1 if not.
 *   Why random lengths: the kernel checks CPU-time timers only at its tick
 *   (4 ms at CONFIG_HZ=250), so a profiler's samples fall on tick instants.
 *   A cycle of exactly 10 ms of CPU time is in step with a 4 ms tick: the
 *   samples could only ever land at 5 points of the cycle, 2 ms apart, and
 *   a locked phase would read 60/40 or 80/20 whatever the profiler does.
 *   With random cycle lengths the tick falls anywhere in a cycle.
 *   The stacks: ...;main;work;burn_X (1 thread) or
 *   ...;start_thread;worker;work;burn_X (each of the NTHREADS threads).
 *   Both functions do the same work (the same multiply/xorshift chain, only
 *   their constants differ so the compiler cannot fold them into one) and
 *   read the clock once per CHUNK iterations (~100 us of work per ~1 us
 *   read): a CPU sample lands in either at the rate of the CPU time it uses.
 *   The run stops after SECONDS of wall time (at most 60), at a cycle end.
 *   stdout: the one line "t_cpu_split: NTHREADS thread(s), PCT_A% burn_a: ok";
 *   the measured CPU times per thread go to stderr only when the check fails.
 *   No heap use besides pthread's own.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Not inlined, not cloned (gcc; clang has no noclone): each burn is one
 * function in the samples. */
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

#define MAX_THREADS 64
#define CHUNK 50000u   /* iterations between clock reads: ~100 us */

static volatile uint64_t sink;
static unsigned pct_a = 70;
static uint64_t deadline_ns;   /* CLOCK_MONOTONIC */

struct result {
    uint64_t a_ns, b_ns;
};

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Burn until the thread's CPU clock reaches UNTIL; NOW is its current
 * reading.  Returns the last reading.  burn_a and burn_b are the same code
 * with other constants (noclone + distinct constants: no identical-code
 * folding, so each keeps its own symbol). */
#define BURN_BODY(M, S)                                         \
    uint64_t x = sink | 1;                                      \
    while (now < until) {                                       \
        for (unsigned i = 0; i < CHUNK; i++) {                  \
            x = x * (M) + (S);                                  \
            x ^= x >> 29;                                       \
        }                                                       \
        now = clock_ns(CLOCK_THREAD_CPUTIME_ID);                \
    }                                                           \
    sink = x;                                                   \
    return now;

NOINLINE uint64_t burn_a(uint64_t now, uint64_t until)
{
    BURN_BODY(6364136223846793005ull, 1442695040888963407ull)
}

NOINLINE uint64_t burn_b(uint64_t now, uint64_t until)
{
    BURN_BODY(2862933555777941757ull, 3037000493ull)
}

__attribute__((noinline)) void work(struct result *r)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)r; /* xorshift64 */
    uint64_t goal = 0;   /* the CPU time of all cycles so far */
    uint64_t now = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    r->a_ns = r->b_ns = 0;
    for (;;) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        goal += 5000000u + rng % 10000000u; /* [5, 15) ms */
        uint64_t goal_a = goal / 100 * pct_a, goal_b = goal - goal_a;
        uint64_t t0 = now;
        if (r->a_ns < goal_a)
            now = burn_a(now, now + (goal_a - r->a_ns));
        r->a_ns += now - t0;
        t0 = now;
        if (r->b_ns < goal_b)
            now = burn_b(now, now + (goal_b - r->b_ns));
        r->b_ns += now - t0;
        if (clock_ns(CLOCK_MONOTONIC) >= deadline_ns)
            break;
    }
}

static void *worker(void *arg)
{
    work(arg);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: t_cpu_split NTHREADS SECONDS [PCT_A]\n");
        return 2;
    }
    int nthreads = atoi(argv[1]);
    double seconds = atof(argv[2]);
    if (argc == 4)
        pct_a = (unsigned)atoi(argv[3]);
    if (nthreads < 1 || nthreads > MAX_THREADS || !(seconds > 0 && seconds <= 60) || pct_a > 100) {
        fprintf(stderr, "t_cpu_split: NTHREADS 1..%d, SECONDS (0, 60], PCT_A 0..100\n", MAX_THREADS);
        return 2;
    }
    deadline_ns = clock_ns(CLOCK_MONOTONIC) + (uint64_t)(seconds * 1e9);

    struct result res[MAX_THREADS];
    if (nthreads == 1) {
        work(&res[0]);
    } else {
        pthread_t t[MAX_THREADS];
        for (int i = 0; i < nthreads; i++)
            if (pthread_create(&t[i], NULL, worker, &res[i]) != 0) {
                fprintf(stderr, "t_cpu_split: pthread_create failed\n");
                return 1;
            }
        for (int i = 0; i < nthreads; i++)
            pthread_join(t[i], NULL);
    }

    int bad = 0;
    for (int i = 0; i < nthreads; i++) {
        double total = (double)(res[i].a_ns + res[i].b_ns);
        double share = total > 0 ? 100.0 * (double)res[i].a_ns / total : -1;
        if (share < pct_a - 1.0 || share > pct_a + 1.0) {
            fprintf(stderr, "t_cpu_split: thread %d: burn_a %.3f s, burn_b %.3f s: %.1f%% in burn_a, not %u%%\n",
                    i, res[i].a_ns / 1e9, res[i].b_ns / 1e9, share, pct_a);
            bad = 1;
        }
    }
    if (bad)
        return 1;
    printf("t_cpu_split: %d thread(s), %u%% burn_a: ok\n", nthreads, pct_a);
    return 0;
}
