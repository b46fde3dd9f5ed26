/* t_clock: clock and sleep calls in exact numbers, built -O0.
 *
 * Truth (calls made by this program, each through the PLT):
 *   clock_gettime(CLOCK_MONOTONIC)  100000
 *   gettimeofday                      1000
 *   time(NULL)                         500
 *   nanosleep(1 ms)                     20  (from nap_briefly)
 *   usleep(2000)                         5  (from main)
 * Each result is folded into a volatile, so no call can be dropped or
 * merged.  No signal handler is installed, so nanosleep() is never cut
 * short by EINTR.  The one line "t_clock: ok\n" goes to stdout with
 * write(2) (a pipe or a file, not a socket: not a counted call).  No heap.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define N_GETTIME 100000
#define N_GETTIMEOFDAY 1000
#define N_TIME 500
#define N_NANOSLEEP 20
#define N_USLEEP 5

static volatile unsigned long sink;

static void die(const char *what)
{
    const char *p = "t_clock: ";
    if (write(2, p, strlen(p)) < 0 || write(2, what, strlen(what)) < 0 || write(2, "\n", 1) < 0)
        exit(1);
    exit(1);
}

void nap_briefly(void);

/* The off-CPU stack of each nap ends ...;nap_briefly;nanosleep. */
__attribute__((noinline)) void nap_briefly(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
    if (nanosleep(&ts, NULL) != 0)
        die("nanosleep failed");
    sink += (unsigned long)ts.tv_nsec;
}

int main(void)
{
    alarm(30);
    for (int i = 0; i < N_GETTIME; i++) {
        struct timespec ts;
        if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
            die("clock_gettime failed");
        sink += (unsigned long)ts.tv_nsec;
    }
    for (int i = 0; i < N_GETTIMEOFDAY; i++) {
        struct timeval tv;
        if (gettimeofday(&tv, NULL) != 0)
            die("gettimeofday failed");
        sink += (unsigned long)tv.tv_usec;
    }
    for (int i = 0; i < N_TIME; i++) {
        time_t t = time(NULL);
        if (t == (time_t)-1)
            die("time failed");
        sink += (unsigned long)t;
    }
    for (int i = 0; i < N_NANOSLEEP; i++)
        nap_briefly();
    for (int i = 0; i < N_USLEEP; i++) {
        if (usleep(2000) != 0)
            die("usleep failed");
        sink += 1;
    }
    const char *ok = "t_clock: ok\n";
    if (write(1, ok, strlen(ok)) != (ssize_t)strlen(ok))
        return 1;
    return 0;
}
