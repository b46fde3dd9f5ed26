/* t_cpu_loader: threads that spend their CPU time inside dl_iterate_phdr,
 * built -O0.
 *
 * Truth:
 *   Four threads each call walk_modules() in a loop for 1.5 s of wall time;
 *   walk_modules() calls dl_iterate_phdr() with a callback that reads every
 *   program header of every loaded object, so nearly all of the CPU time is
 *   spent in dl_iterate_phdr (glibc takes the loader's lock around it) or
 *   below it in count_headers().  A CPU sampler whose handler unwinds
 *   through the loader would deadlock here sooner or later; the program must
 *   finish, and the samples land under walk_modules;dl_iterate_phdr.
 *   stdout: "t_cpu_loader: ok"; exit status 0.  No heap of its own.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static volatile uint64_t sink;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static int count_headers(struct dl_phdr_info *info, size_t size,
                                                   void *data)
{
    (void)size;
    uint64_t *n = data;
    for (unsigned i = 0; i < info->dlpi_phnum; i++)
        *n += info->dlpi_phdr[i].p_memsz & 1;
    return 0;
}

__attribute__((noinline)) static void walk_modules(void)
{
    uint64_t n = 0;
    dl_iterate_phdr(count_headers, &n);
    sink += n;
}

static void *worker(void *arg)
{
    (void)arg;
    double end = now_s() + 1.5;
    while (now_s() < end)
        for (int i = 0; i < 100; i++)
            walk_modules();
    return NULL;
}

int main(void)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&th[i], NULL, worker, NULL) != 0)
            return 1;
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    puts("t_cpu_loader: ok");
    return 0;
}
