/* t_signal: a signal handler that allocates, interrupting the program while
 * it is itself inside malloc/free (not async-signal-safe, but real programs
 * do it).  The shim's re-entrancy guard must let the nested call through
 * untraced, and nothing may crash, deadlock or corrupt the trace.
 *
 * Truth: the main loop frees everything it allocates, the handler frees
 * everything it allocates: no leaks except the one marked below (200 bytes).
 * Some handler calls land while the main thread is inside a hook and pass
 * through untraced, so only totals that cannot depend on timing are
 * asserted: exit 0, exactly one leak site with 200 bytes, output unchanged.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
    (void)sig;
    void *p = malloc(48);
    if (p)
        memset(p, 0, 48);
    free(p);
    ticks++;
}

__attribute__((noinline)) static void *leak_once(void)
{
    return malloc(200); /* @leak:once */
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}}; /* every 200 us of real time */
    setitimer(ITIMER_REAL, &it, NULL);
    unsigned long sum = 0;
    for (int i = 0; i < 2000000 || ticks < 100; i++) {
        char *p = malloc(16 + (unsigned)(i % 512));
        p[0] = (char)i;
        sum += (unsigned char)p[0];
        free(p);
        if (i > 50000000)
            break;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    void *volatile keep = leak_once();
    (void)keep;
    /* write(), not stdio: stdout's buffer would be one more live block */
    char line[64];
    int n = snprintf(line, sizeof line, "done %lu\n", sum);
    return write(1, line, (size_t)n) == n ? 0 : 1;
}
