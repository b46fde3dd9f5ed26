/* t_soak_fds: many open file descriptors and a known number of threads,
 * held for a while, built -O0.
 *
 * Usage: t_soak_fds NFDS HOLD_MS NTHREADS     (1..100000, 1..60000, 0..64)
 *
 * 1. Raises RLIMIT_NOFILE's soft limit to its hard limit; when the hard
 *    limit is below NFDS + 64: one line on stderr, exit 3.
 * 2. Starts NTHREADS threads that wait on a barrier (no fd, no allocation
 *    of ours): from here the process has 1 + NTHREADS threads.
 * 3. Sleeps 200 ms, opens NFDS descriptors of /dev/null (O_RDONLY), holds
 *    them HOLD_MS ms, closes them all, sleeps 300 ms.
 * 4. Releases the threads, joins them, exits 0.
 * Truth for a resource sampler: fds peak = NFDS + 3 (stdin, stdout,
 *   stderr) + whatever the tracer itself holds open; threads peak
 *   = 1 + NTHREADS (the tracer's own thread not counted); after the close,
 *   the fds are back to 3 + the tracer's.
 * Nothing on stdout; stdio is not used.  Exit 0 (2 on a bad argument, 1
 * when a call fails, 3 when the fd limit is too low).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 100000
#define MAX_THREADS 64

static int fds[MAX_FDS];
static pthread_barrier_t release;

static void say(const char *s)
{
    if (write(2, s, strlen(s)) < 0)
        return;
}

static void fail(const char *what, int code)
{
    say("t_soak_fds: ");
    say(what);
    say("\n");
    exit(code);
}

static long arg(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        fail("usage: t_soak_fds NFDS HOLD_MS NTHREADS (1-100000, 1-60000, 0-64)", 2);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void *waiter(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&release);
    return NULL;
}

__attribute__((noinline)) void open_fds(long n)
{
    for (long i = 0; i < n; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            fail("open /dev/null failed", 1);
    }
}

__attribute__((noinline)) void close_fds(long n)
{
    for (long i = 0; i < n; i++)
        if (close(fds[i]) != 0)
            fail("close failed", 1);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        fail("usage: t_soak_fds NFDS HOLD_MS NTHREADS (1-100000, 1-60000, 0-64)", 2);
    long nfds = arg(argv[1], 1, MAX_FDS);
    long hold = arg(argv[2], 1, 60000);
    long nthreads = arg(argv[3], 0, MAX_THREADS);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        fail("getrlimit failed", 1);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)nfds + 64)
        fail("the hard RLIMIT_NOFILE is below NFDS + 64", 3);
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        fail("setrlimit failed", 1);

    pthread_t th[MAX_THREADS];
    if (pthread_barrier_init(&release, NULL, (unsigned)nthreads + 1) != 0)
        fail("pthread_barrier_init failed", 1);
    for (long i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, waiter, NULL) != 0)
            fail("pthread_create failed", 1);

    sleep_ms(200);
    open_fds(nfds);
    sleep_ms(hold);
    close_fds(nfds);
    sleep_ms(300);

    pthread_barrier_wait(&release);
    for (long i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&release);
    return 0;
}
