/* t_sigkill: a process killed by SIGKILL, built -O0.
 *
 * leaks 10 blocks of 256 bytes (leak_loop, @leak:loop), frees 100 others,
 * writes "ready\n" to stdout and then:
 *   no argument:   sleeps 60 s (the test kills it after >= 1.5 s, i.e. after
 *                  at least one periodic flush at PERFSHIM_FLUSH_MS=1000);
 *   "self":        sleeps 2.5 s, then raises SIGKILL on itself (for
 *                  `perfshim record`, which reports "signal 9").
 * Truth: the trace has no end record; report exits 0 with exactly one
 *   warning line on stderr; process.exit "unknown" under plain LD_PRELOAD;
 *   the 10 blocks / 2560 bytes from leak_loop are present.
 * valgrind: not applicable (killed).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *volatile sink;

__attribute__((noinline)) static void leak_loop(void)
{
    for (int i = 0; i < 10; i++) {
        char *p = malloc(256); /* @leak:loop */
        memset(p, i, 256);
        sink = p;
    }
    sink = NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int main(int argc, char **argv)
{
    for (int i = 0; i < 100; i++)
        free(malloc((size_t)(32 + i)));
    leak_loop();
    static const char ready[] = "ready\n";
    if (write(1, ready, sizeof ready - 1) < 0)
        return 2;
    if (argc > 1 && strcmp(argv[1], "self") == 0) {
        sleep_ms(2500);
        raise(SIGKILL);
    }
    sleep_ms(60000);
    return 0;
}
