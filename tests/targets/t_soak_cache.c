/* t_soak_cache: a cache that fills up and then stays flat, beside a
 * grower that never stops, built -O0.
 *
 * Usage: t_soak_cache SECONDS       (1..600)
 *
 * Runs TICKS = SECONDS*100 ticks; tick i ends at the absolute
 * CLOCK_MONOTONIC deadline start + (i+1)*10 ms (clock_nanosleep
 * TIMER_ABSTIME), so the rates below hold in wall time.  Each tick:
 *   cache_put():  a FIFO cache of CAP = TICKS/2 entries: when it is full the
 *                 oldest entry is freed; then a new entry, malloc(2000)
 *                 (@leak:cache), is stored.  Live: 2000 bytes more per tick
 *                 (200,000 bytes/s) for the first half of the run, then flat
 *                 at CAP*2000 bytes (entries keep being replaced).
 *   grow_site():  malloc(500) (@leak:grow), chained to the last one and
 *                 kept: 50,000 bytes/s = 3,000,000 bytes/min = 6000 blocks/min,
 *                 to the end.
 * Nothing is freed at exit (a cache lives as long as its process):
 *   cache_put:  CAP blocks, CAP*2000 bytes live at exit;
 *   grow_site:  TICKS blocks, TICKS*500 bytes live at exit.
 * Nothing on stdout; stdio is not used.  Exit 0 (2 on a bad argument).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TICKS (600 * 100)
#define ENTRY_BYTES 2000
#define GROW_BYTES 500
#define TICK_NS 10000000L

static void *cache[MAX_TICKS / 2];
static unsigned cache_cap, cache_len, cache_head; /* FIFO ring */
static void *grow_head; /* the grower's blocks, chained through their first word */

__attribute__((noinline)) void cache_put(unsigned key)
{
    if (cache_len == cache_cap) {
        free(cache[cache_head]); /* evict the oldest */
        cache_head = (cache_head + 1) % cache_cap;
        cache_len--;
    }
    char *e = malloc(ENTRY_BYTES); /* @leak:cache */
    if (!e)
        abort();
    memset(e, (int)(key & 0xff), ENTRY_BYTES);
    cache[(cache_head + cache_len) % cache_cap] = e;
    cache_len++;
}

__attribute__((noinline)) void grow_site(void)
{
    char *p = malloc(GROW_BYTES); /* @leak:grow */
    if (!p)
        abort();
    memset(p, 0xcd, GROW_BYTES);
    memcpy(p, &grow_head, sizeof grow_head);
    grow_head = p;
}

static void add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

int main(int argc, char **argv)
{
    char *end;
    long secs = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *end || secs < 1 || secs > 600) {
        static const char usage[] = "usage: t_soak_cache SECONDS (1-600)\n";
        if (write(2, usage, sizeof usage - 1) < 0)
            return 2;
        return 2;
    }
    unsigned ticks = (unsigned)secs * 100;
    cache_cap = ticks / 2;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    for (unsigned t = 0; t < ticks; t++) {
        cache_put(t);
        grow_site();
        add_ns(&deadline, TICK_NS);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
            ;
    }
    return 0;
}
