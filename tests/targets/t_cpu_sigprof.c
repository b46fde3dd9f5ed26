/* t_cpu_sigprof: a program that uses SIGPROF itself, built -O0.
 *
 *   t_cpu_sigprof sigaction|signal
 *
 * Truth:
 *   Installs its own SIGPROF handler, with sigaction(SA_SIGINFO) or with
 *   signal(), and arms two SIGPROF sources of its own:
 *     - setitimer(ITIMER_PROF) every 10 ms of process CPU time
 *       (si_code SI_KERNEL);
 *     - timer_create(CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGPROF) every
 *       20 ms of process CPU time (first at 15 ms), sigev_value.sival_ptr =
 *       &my_tag (si_code SI_TIMER).
 *   Then burn() spends ~1.5 s of the main thread's CPU time (at most 10 s
 *   of wall time), the sources are disarmed, and it checks:
 *     - installing saw SIG_DFL as the previous handler;
 *     - the query (sigaction(SIGPROF, NULL, &old), and in signal mode also
 *       a second signal() call) returns its own handler;
 *     - sigaction mode: calls from each source >= half of what the process
 *       CPU time measured over the burn predicts (cpu/10 ms and cpu/20 ms),
 *       at most 1.5x + 5 of it, and no call that is from neither source
 *       (a SIGPROF with another si_code or sival is not ours);
 *     - signal mode (no siginfo): all calls >= half of cpu/10 ms + cpu/20 ms
 *       and at most 1.5x + 5 of it.
 *   Prints one line "t_cpu_sigprof MODE: itimer=N timer=N other=N
 *   total=N cpu_ms=N expect_itimer=N expect_timer=N" and "ok" or "FAILED"
 *   lines; exits 0 when every check holds, 1 otherwise.
 *   The CPU work is all in burn() (stack main;burn), so a profiler's samples
 *   land there.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define BURN_CPU_NS 1500000000ull
#define MAX_WALL_NS 10000000000ull
#define ITIMER_MS 10
#define TIMER_MS 20

static char my_tag;
static atomic_ulong n_itimer, n_timer, n_other, n_total;
static volatile uint64_t sink;
static int failed;

static void on_prof_info(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    atomic_fetch_add(&n_total, 1);
    if (sig == SIGPROF && si && si->si_signo == SIGPROF && si->si_code == SI_KERNEL)
        atomic_fetch_add(&n_itimer, 1);
    else if (sig == SIGPROF && si && si->si_code == SI_TIMER && si->si_value.sival_ptr == &my_tag)
        atomic_fetch_add(&n_timer, 1);
    else
        atomic_fetch_add(&n_other, 1);
}

static void on_prof_plain(int sig)
{
    atomic_fetch_add(&n_total, 1);
    if (sig != SIGPROF)
        atomic_fetch_add(&n_other, 1);
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        failed = 1;
    }
}

/* All of the program's CPU work. */
__attribute__((noinline)) void burn(void)
{
    uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);
    uint64_t x = sink | 1;
    for (;;) {
        for (unsigned i = 0; i < 20000; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            x ^= x >> 29;
        }
        if (clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0 >= BURN_CPU_NS ||
            clock_ns(CLOCK_MONOTONIC) - w0 >= MAX_WALL_NS)
            break;
    }
    sink = x;
}

int main(int argc, char **argv)
{
    int use_signal;
    if (argc == 2 && strcmp(argv[1], "sigaction") == 0)
        use_signal = 0;
    else if (argc == 2 && strcmp(argv[1], "signal") == 0)
        use_signal = 1;
    else {
        fprintf(stderr, "usage: t_cpu_sigprof sigaction|signal\n");
        return 2;
    }

    /* Install the handler; the previous one must be the default. */
    struct sigaction prev;
    memset(&prev, 0, sizeof prev);
    if (use_signal) {
        void (*old)(int) = signal(SIGPROF, on_prof_plain);
        check(old == SIG_DFL, "signal(SIGPROF) returned a previous handler other than SIG_DFL");
        /* signal() is its own query: installing again returns what is there. */
        old = signal(SIGPROF, on_prof_plain);
        check(old == on_prof_plain, "second signal(SIGPROF) did not return on_prof_plain");
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_prof_info;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        check(sigaction(SIGPROF, &sa, &prev) == 0, "sigaction(SIGPROF) failed");
        check(!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_DFL,
              "sigaction(SIGPROF): previous handler is not SIG_DFL");
    }

    /* Its own timers. */
    timer_t tid;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGPROF;
    sev.sigev_value.sival_ptr = &my_tag;
    if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &tid) != 0) {
        perror("t_cpu_sigprof: timer_create");
        return 1;
    }
    /* First expiry at 15 ms, then every 20 ms: never in the same 4 ms tick
     * as an ITIMER_PROF expiry (10, 20, 30 ms...).  Both send SIGPROF, a
     * signal that does not queue: one sent while the other is pending is
     * lost. */
    struct itimerspec its = {{0, TIMER_MS * 1000000L}, {0, (TIMER_MS - 5) * 1000000L}};
    struct itimerval itv = {{0, ITIMER_MS * 1000}, {0, ITIMER_MS * 1000}};
    uint64_t cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    if (timer_settime(tid, 0, &its, NULL) != 0 || setitimer(ITIMER_PROF, &itv, NULL) != 0) {
        perror("t_cpu_sigprof: arming its timers");
        return 1;
    }

    burn();

    struct itimerval zero_itv;
    memset(&zero_itv, 0, sizeof zero_itv);
    setitimer(ITIMER_PROF, &zero_itv, NULL);
    timer_delete(tid);
    uint64_t cpu_ms = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / 1000000u;

    /* The query returns its own handler. */
    struct sigaction now;
    memset(&now, 0, sizeof now);
    check(sigaction(SIGPROF, NULL, &now) == 0, "sigaction(SIGPROF, NULL, &old) failed");
    if (use_signal)
        check(now.sa_handler == on_prof_plain, "sigaction query: handler is not on_prof_plain");
    else
        check((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_prof_info,
              "sigaction query: handler is not on_prof_info with SA_SIGINFO");

    unsigned long it = atomic_load(&n_itimer), tm = atomic_load(&n_timer), ot = atomic_load(&n_other),
                  tot = atomic_load(&n_total);
    unsigned long e_it = cpu_ms / ITIMER_MS, e_tm = cpu_ms / TIMER_MS;
    printf("t_cpu_sigprof %s: itimer=%lu timer=%lu other=%lu total=%lu cpu_ms=%lu "
           "expect_itimer=%lu expect_timer=%lu\n",
           use_signal ? "signal" : "sigaction", it, tm, ot, tot, (unsigned long)cpu_ms, e_it, e_tm);
    check(cpu_ms >= 1000, "burn() used less than 1 s of process CPU time");
    if (use_signal) {
        check(tot * 2 >= e_it + e_tm, "handler calls < half of the expected");
        check(tot * 2 <= 3 * (e_it + e_tm) + 10, "handler calls > 1.5x the expected");
        check(ot == 0, "a call for another signal");
    } else {
        check(it * 2 >= e_it, "setitimer(ITIMER_PROF) calls < half of the expected");
        check(tm * 2 >= e_tm, "timer_create timer calls < half of the expected");
        check(it * 2 <= 3 * e_it + 10, "setitimer(ITIMER_PROF) calls > 1.5x the expected");
        check(tm * 2 <= 3 * e_tm + 10, "timer_create timer calls > 1.5x the expected");
        check(ot == 0, "calls from neither of its sources");
    }
    if (failed)
        return 1;
    printf("ok\n");
    return 0;
}
