/* t_reach: reachability of the blocks live at exit (issue 7), built -O0.
 * One mode per argv[1]; the expected kind of every block is memcheck's
 * (valgrind 3.19 --leak-check=full --show-leak-kinds=all, default
 * heuristics), and tests/integration/reachlib.py holds the same table.
 *
 * Truth, per mode (marker: kind bytes/blocks).  Sizes are multiples of 16
 * (see "tail" for why), interior pointers sit at odd offsets, never at 8 or
 * 24 (memcheck's length64/newarray/stdstring heuristics).
 *   global    @leak:global       reachable 208/1   (a global pointer)
 *   static    @leak:static       reachable 176/1   (only in a static local)
 *   list      @leak:list_head    definite  64/1    (head of a lost list)
 *             @leak:list_node    indirect  240/5   (its 5 nodes of 48 bytes)
 *   interior  @leak:interior     possible  256/1   (a global points to +100)
 *   chain     @leak:chain_parent reachable 128/1   (a global points to it)
 *             @leak:chain_child  reachable 96/1    (only from chain_parent)
 *   cycle     @leak:cycle        definite  32/1 and indirect 64/2: three lost
 *             32-byte blocks in a cycle, from one call site; memcheck makes the
 *             first of them in address order the "clique leader" (definite)
 *             and the other two indirect, whichever it is: same stack.
 *   lost      @leak:lost         definite  512/1   (no pointer at all)
 *   tls       @leak:tls_main     reachable 224/1   (a __thread variable of main)
 *             @leak:tls_thread   reachable 240/1   (a __thread variable of a
 *                                thread blocked in read(2) at exit)
 *   threads   three threads still running at exit, each keeping a block only
 *             in a local variable of its own stack:
 *             @leak:thread_read  reachable 304/1   (blocked in read on a pipe)
 *             @leak:thread_lost  definite  400/1   (that thread's lost block)
 *             @leak:thread_cond  reachable 336/1   (in pthread_cond_timedwait)
 *             @leak:thread_spin  reachable 368/1   (spinning, bounded to 30 s)
 *   tail      glibc's malloc keeps pointers to chunk headers in main_arena
 *             (libc's .data: a root): the header of the chunk after a block
 *             whose size is 8 mod 16 bytes or so lies inside that block's
 *             requested bytes, so a naive scan sees an interior pointer.
 *             memcheck (its own allocator, metadata outside the program)
 *             says definite:
 *             @leak:tail_bin     definite  1000/1  (the chunk after it is in
 *                                an unsorted/large bin: main_arena.bins)
 *             @leak:tail_top     definite  4104/1  (the last block carved
 *                                from the top chunk: main_arena.top)
 *             @leak:tail_guard   reachable 16/1    (a global points to it)
 *   all       global static list interior chain cycle lost tls threads
 *             together: the union of their rows (tls's thread is the read
 *             thread of "threads" here, so tls_thread comes with it)
 *   fork      parent, before fork: @leak:fork_pre (160, kept in a global);
 *             the child clears that global and leaks
 *               @leak:fork_child_lost definite 272/1
 *               @leak:fork_child_kept reachable 288/1
 *             and exits 0; the parent waits, then leaks
 *               @leak:fork_parent_lost definite 320/1
 *             parent: fork_pre reachable 160/1, fork_parent_lost definite 320/1
 *             child:  fork_child_lost, fork_child_kept as above.  valgrind's
 *               child also lists fork_pre (definite 160/1: inherited, its
 *               pointer cleared); perfshim's child trace covers only what the
 *               child allocated, so it has no fork_pre group.
 *   server    global list interior chain, then "ready\n" on stdout, then
 *             sleeps (50 ms steps, at most 30 s).  On SIGUSR1 it allocates
 *             @leak:server_late (432, lost) once and writes "late\n".  The
 *             test scans it with PERFSHIM_SCAN_SIGNAL / _INTERVAL_S and kills
 *             it: server_late, allocated after the scan, is "unknown".
 *   server-exit  the same leaks, then exits 0 at once (for valgrind).
 * Every other block of this file is freed.  No stdio: nothing else makes
 * libc allocate, except glibc's own per-thread blocks (DTV, tcache: no frame
 * in this file; valgrind frees some in __libc_freeres, not compared).
 * Stale copies of pointers on the stack would make lost blocks reachable:
 * leaks are made in helpers, and scrub_stack() zeroes the stack below the
 * caller afterwards (main, each thread, the fork child).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define LIST_N 5
#define CYCLE_N 3

void *volatile sink;
void *volatile g_global;
char *volatile g_interior;
void *volatile g_chain;
void *volatile g_list;
void *volatile g_guard;
void *volatile g_fork_pre;
void *volatile g_fork_child;
__thread void *volatile t_tls;

static volatile sig_atomic_t got_usr1;

static void say(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(1, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Zero 64 KiB of stack below the caller's frame: no stale copy of a heap
 * pointer survives in the frames of returned helpers. */
NOINLINE static void scrub_stack(void)
{
    volatile char buf[65536];
    memset((char *)buf, 0, sizeof buf);
    buf[0] = 0;
}

/* ---- global, static, chain, interior, lost ---- */

NOINLINE static void make_global(void)
{
    g_global = malloc(208); /* @leak:global */
    memset(g_global, 'g', 208);
}

NOINLINE static void make_static(void)
{
    static void *volatile keep;
    keep = malloc(176); /* @leak:static */
    memset(keep, 's', 176);
}

struct parent {
    void *child;
    char pad[120];
};

NOINLINE static void make_chain(void)
{
    struct parent *a = malloc(sizeof *a); /* @leak:chain_parent */
    memset(a, 'c', sizeof *a);
    a->child = malloc(96); /* @leak:chain_child */
    memset(a->child, 'd', 96);
    g_chain = a;
}

NOINLINE static void make_interior(void)
{
    char *p = malloc(256); /* @leak:interior */
    memset(p, 'i', 256);
    g_interior = p + 100;
}

NOINLINE static void make_lost(void)
{
    char *p = malloc(512); /* @leak:lost */
    memset(p, 'l', 512);
    sink = p;
    sink = NULL;
}

/* ---- a lost list ---- */

struct node {
    struct node *next;
    char payload[40];
};

struct list {
    struct node *first;
    size_t count;
    char name[48];
};

NOINLINE static struct node *new_node(struct node *next)
{
    struct node *n = malloc(sizeof *n); /* @leak:list_node */
    memset(n->payload, 'n', sizeof n->payload);
    n->next = next;
    return n;
}

NOINLINE static void make_list(void)
{
    struct list *l = malloc(sizeof *l); /* @leak:list_head */
    memset(l, 0, sizeof *l);
    memset(l->name, 'L', sizeof l->name);
    for (int i = 0; i < LIST_N; i++)
        l->first = new_node(l->first);
    l->count = LIST_N;
    g_list = l;
    g_list = NULL;
}

/* ---- a lost cycle ---- */

struct cyc {
    struct cyc *next;
    char pad[24];
};

NOINLINE static struct cyc *new_cyc(void)
{
    struct cyc *c = malloc(sizeof *c); /* @leak:cycle */
    memset(c, 'y', sizeof *c);
    return c;
}

NOINLINE static void make_cycle(void)
{
    struct cyc *c[CYCLE_N];
    for (int i = 0; i < CYCLE_N; i++)
        c[i] = new_cyc(); /* one call site: one stack */
    for (int i = 0; i < CYCLE_N; i++)
        c[i]->next = c[(i + 1) % CYCLE_N];
    memset(c, 0, sizeof c);
}

/* ---- tail: pointers inside glibc's malloc state ---- */

NOINLINE static void make_tail(void)
{
    char *x = malloc(1000); /* @leak:tail_bin */
    memset(x, 't', 1000);
    char *y = malloc(2000); /* freed below: its chunk goes to a bin */
    memset(y, 'u', 2000);
    g_guard = malloc(16); /* @leak:tail_guard */
    memset(g_guard, 'v', 16);
    free(y);
    char *z = malloc(4104); /* @leak:tail_top */
    memset(z, 'w', 4104);
    x = NULL;
    z = NULL;
}

/* ---- TLS of main ---- */

NOINLINE static void make_tls_main(void)
{
    t_tls = malloc(224); /* @leak:tls_main */
    memset(t_tls, 'm', 224);
}

/* ---- threads still running at exit ---- */

static int ready_pipe[2] = {-1, -1};
static int block_pipe[2] = {-1, -1};
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static volatile int cond_go;

static void thread_ready(void)
{
    char c = 'r';
    (void)!write(ready_pipe[1], &c, 1);
}

NOINLINE static void *alloc_read_keep(void)
{
    void *p = malloc(304); /* @leak:thread_read */
    memset(p, 'R', 304);
    return p;
}

NOINLINE static void thread_leak_lost(void)
{
    char *p = malloc(400); /* @leak:thread_lost */
    memset(p, 'X', 400);
    sink = p;
    sink = NULL;
}

NOINLINE static void make_tls_thread(void)
{
    t_tls = malloc(240); /* @leak:tls_thread */
    memset(t_tls, 'T', 240);
}

static int reader_keep, reader_tls;

/* Keeps its block in `keep` and blocks in read(2) until the process exits
 * (main holds the write end: nobody ever writes). */
static void *reader_thread(void *arg)
{
    (void)arg;
    void *volatile keep = NULL;
    if (reader_tls)
        make_tls_thread();
    if (reader_keep) {
        keep = alloc_read_keep();
        thread_leak_lost();
    }
    scrub_stack();
    thread_ready();
    char c;
    for (int i = 0; i < 1000; i++) /* read returns only on EINTR */
        if (read(block_pipe[0], &c, 1) >= 0)
            break;
    return keep;
}

NOINLINE static void *alloc_cond_keep(void)
{
    void *p = malloc(336); /* @leak:thread_cond */
    memset(p, 'C', 336);
    return p;
}

static void *cond_thread(void *arg)
{
    (void)arg;
    void *volatile keep = alloc_cond_keep();
    scrub_stack();
    pthread_mutex_lock(&cond_lock);
    thread_ready();
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    for (int i = 0; i < 1000 && !cond_go; i++)
        if (pthread_cond_timedwait(&cond, &cond_lock, &until) != 0)
            break;
    pthread_mutex_unlock(&cond_lock);
    return keep;
}

NOINLINE static void *alloc_spin_keep(void)
{
    void *p = malloc(368); /* @leak:thread_spin */
    memset(p, 'S', 368);
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile unsigned long spin_count;

static void *spin_thread(void *arg)
{
    (void)arg;
    void *volatile keep = alloc_spin_keep();
    scrub_stack();
    thread_ready();
    double end = now_s() + 30; /* bounded: main exits long before */
    for (unsigned long i = 0; i < 4000000000UL; i++) {
        spin_count++;
        if ((i & 0xffff) == 0 && now_s() > end)
            break;
    }
    return keep;
}

/* A reader thread (with its kept and lost blocks, and/or its TLS block),
 * and the cond and spin threads; returns once they all made their blocks. */
static int start_threads(int keep, int tls, int cond_and_spin)
{
    if (pipe(ready_pipe) != 0 || pipe(block_pipe) != 0)
        return -1;
    reader_keep = keep;
    reader_tls = tls;
    int n = 0;
    pthread_t t;
    if (keep || tls) {
        if (pthread_create(&t, NULL, reader_thread, NULL) != 0)
            return -1;
        n++;
    }
    if (cond_and_spin) {
        if (pthread_create(&t, NULL, cond_thread, NULL) != 0 ||
            pthread_create(&t, NULL, spin_thread, NULL) != 0)
            return -1;
        n += 2;
    }
    for (int i = 0; i < n; i++) { /* every thread has made its blocks */
        char c;
        if (read(ready_pipe[0], &c, 1) != 1)
            return -1;
    }
    return 0;
}

/* ---- fork ---- */

NOINLINE static void fork_pre(void)
{
    g_fork_pre = malloc(160); /* @leak:fork_pre */
    memset(g_fork_pre, 'f', 160);
}

NOINLINE static void fork_child_leaks(void)
{
    char *p = malloc(272); /* @leak:fork_child_lost */
    memset(p, 'k', 272);
    g_fork_child = malloc(288); /* @leak:fork_child_kept */
    memset(g_fork_child, 'K', 288);
    free(malloc(50)); /* churn, freed */
    p = NULL;
}

NOINLINE static void fork_parent_lost(void)
{
    char *p = malloc(320); /* @leak:fork_parent_lost */
    memset(p, 'P', 320);
    sink = p;
    sink = NULL;
}

static int run_fork(void)
{
    fork_pre();
    scrub_stack();
    pid_t pid = fork();
    if (pid < 0)
        return 10;
    if (pid == 0) {
        g_fork_pre = NULL; /* the inherited block is lost in the child */
        fork_child_leaks();
        scrub_stack();
        exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return 11;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 12;
    fork_parent_lost();
    scrub_stack();
    return 0;
}

/* ---- server ---- */

NOINLINE static void server_late(void)
{
    char *p = malloc(432); /* @leak:server_late */
    memset(p, 'Z', 432);
    sink = p;
    sink = NULL;
}

static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}

static int run_server(int stay)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 20;
    make_global();
    make_list();
    make_interior();
    make_chain();
    scrub_stack();
    say("ready\n");
    if (!stay)
        return 0;
    int late = 0;
    for (int i = 0; i < 600; i++) { /* at most 30 s */
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        if (got_usr1 && !late) {
            late = 1;
            server_late();
            scrub_stack();
            say("late\n");
        }
    }
    return 0;
}

/* ---- main ---- */

static int is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    int all = is(mode, "all");
    if (is(mode, "fork"))
        return run_fork();
    if (is(mode, "server") || is(mode, "server-exit"))
        return run_server(is(mode, "server"));
    int known = all;
    if (all || is(mode, "global"))
        make_global(), known = 1;
    if (all || is(mode, "static"))
        make_static(), known = 1;
    if (all || is(mode, "list"))
        make_list(), known = 1;
    if (all || is(mode, "interior"))
        make_interior(), known = 1;
    if (all || is(mode, "chain"))
        make_chain(), known = 1;
    if (all || is(mode, "cycle"))
        make_cycle(), known = 1;
    if (all || is(mode, "lost"))
        make_lost(), known = 1;
    if (is(mode, "tail"))
        make_tail(), known = 1;
    if (all || is(mode, "tls")) {
        make_tls_main();
        known = 1;
    }
    scrub_stack();
    if (is(mode, "tls") && start_threads(0, 1, 0) != 0)
        return 3;
    if (is(mode, "threads") && start_threads(1, 0, 1) != 0)
        return 3;
    if (is(mode, "threads"))
        known = 1;
    if (all && start_threads(1, 1, 1) != 0)
        return 3;
    if (!known) {
        say("t_reach: unknown mode\n");
        return 2;
    }
    scrub_stack();
    return 0; /* the threads still run: exit(3) ends them */
}
