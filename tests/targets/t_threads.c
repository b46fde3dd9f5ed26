/* t_threads: 8 threads, cross-thread frees, built -O0.
 *
 * Truth:
 *   Each thread i (0..7) leaks exactly K = 5 blocks of 1000 + 16*i bytes
 *   from thread_leak (marker @leak:thread).  The call path is the same for
 *   all threads, so the report groups them in one stack:
 *     blocks = 40, bytes = 5 * (8*1000 + 16*(0+...+7)) = 5 * 8448 = 42240.
 *   Churn: every thread allocates 20000 blocks (marker @alloc:churn) and
 *   pushes them on a shared queue; any thread pops and frees them, the main
 *   thread frees what is left: no churn block leaks.
 *   Allocations from this file: 8*(5+20000) = 160040; frees 160000.
 *   glibc itself allocates a few blocks per new thread (the TLS DTV, calloc
 *   in ld.so); those stay until the stack cache is trimmed and have no frame
 *   in this file.
 * valgrind --leak-check=full: "definitely lost: 42,240 bytes in 40 blocks",
 *   allocations 160,040 + glibc's own.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define K 5
#define CHURN 20000
#define QCAP 256

void *volatile sink;

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static void *queue[QCAP];
static unsigned qhead, qlen;

/* Returns the block that had to make room, or NULL. */
static void *queue_push(void *p)
{
    void *out = NULL;
    pthread_mutex_lock(&qlock);
    if (qlen == QCAP) {
        out = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
    }
    queue[(qhead + qlen) % QCAP] = p;
    qlen++;
    pthread_mutex_unlock(&qlock);
    return out;
}

static void *queue_pop(void)
{
    void *out = NULL;
    pthread_mutex_lock(&qlock);
    if (qlen > 0) {
        out = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
    }
    pthread_mutex_unlock(&qlock);
    return out;
}

__attribute__((noinline)) static void thread_leak(size_t size)
{
    char *p = malloc(size); /* @leak:thread */
    memset(p, 0x11, size);
    sink = p;
    sink = NULL;
}

static void *thread_main(void *arg)
{
    unsigned id = (unsigned)(size_t)arg;
    for (unsigned k = 0; k < K; k++)
        thread_leak(1000 + 16 * id);
    for (unsigned i = 0; i < CHURN; i++) {
        size_t size = 8 + (i * 13u + id * 101u) % 700u;
        char *p = malloc(size); /* @alloc:churn */
        p[0] = (char)i;
        free(queue_push(p));
        if (i % 3 == 0)
            free(queue_pop());
    }
    return NULL;
}

int main(void)
{
    pthread_t t[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, thread_main, (void *)(size_t)i) != 0)
            return 1;
    for (unsigned i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    void *p;
    while ((p = queue_pop()) != NULL)
        free(p);
    return 0;
}
