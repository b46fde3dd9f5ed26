/* pthread_create: a new thread is CPU-sampled from its first instruction.
 *
 * Only while the CPU sampler is on: the thread starts in thread_start,
 * which arms the thread's CPU-time timer and then tail-calls the target's
 * start routine, so that no frame of ours stays below it on the stack.
 * The (routine, argument) pair travels in a slot from a small pool of our
 * own (the shim never uses the target's allocator). */
#include "shim.h"

struct start {
    void *(*fn)(void *);
    void *arg;
    struct start *next;
};

#define POOL_CHUNK 1024

static struct start *free_list;
static _Atomic int pool_lock;

static struct start *slot_get(void)
{
    ps_spin_lock(&pool_lock);
    if (!free_list) {
        struct start *chunk = ps_mmap(POOL_CHUNK * sizeof *chunk);
        for (size_t i = 0; chunk && i < POOL_CHUNK; i++) {
            chunk[i].next = free_list;
            free_list = &chunk[i];
        }
    }
    struct start *s = free_list;
    if (s)
        free_list = s->next;
    ps_spin_unlock(&pool_lock);
    return s;
}

static void slot_put(struct start *s)
{
    ps_spin_lock(&pool_lock);
    s->next = free_list;
    free_list = s;
    ps_spin_unlock(&pool_lock);
}

static void *thread_start(void *p)
{
    struct start *s = p;
    void *(*fn)(void *) = s->fn;
    void *arg = s->arg;
    slot_put(s);
    ps_self(); /* the event ring first: its exit handler ends the timer too */
    ps_cpu_thread_begin();
    return fn(arg); /* a sibling call at -O2: this frame is gone */
}

PS_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    ps_real_wait();
    if (!ps_cpu_hz() || ps__busy || !ps_active())
        return ps_real.pthread_create(th, attr, fn, arg);
    struct start *s = slot_get();
    if (!s)
        return ps_real.pthread_create(th, attr, fn, arg);
    s->fn = fn;
    s->arg = arg;
    int rc = ps_real.pthread_create(th, attr, thread_start, s);
    if (rc)
        slot_put(s);
    return rc;
}
