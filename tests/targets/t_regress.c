/* t_regress: one program, two builds of "the same server": a baseline and a
 * regressed version (more leaks, slower requests), for `perfshim diff` and
 * `perfshim check`.  Built -O0.
 *
 * Usage: t_regress base|worse NREQ IDLE_MS     (NREQ 1..10000, IDLE_MS 0..10000)
 *
 * The main thread is a TCP server on 127.0.0.1; a client thread speaks to
 * it through raw syscall()s (socket, connect, sendto, recvfrom, close), so
 * the shim sees only the server's side: one accepted connection, NREQ
 * requests.  The client connects before the server calls accept() (a
 * semaphore orders them), so accept never waits.  A request is the 4 bytes
 * "GET\n" in one send; the answer "OK\n" in one send(); the client sends
 * the next request only after the answer (no pipelining).  The server's
 * recv() returning 0 ends the loop.
 *
 * Per request (handle_request):
 *   scratch buffer: malloc(256), freed        (@leak:scratch)
 *   cache_put():  malloc(32) in base, malloc(65536) in worse, filled (worse:
 *                 pages touched, RSS grows), leaked   (@leak:cache)
 *   remember_request(): worse only: malloc(100), leaked (@leak:remember)
 *   slow_lookup(): worse only: usleep(20000): every request takes >= 20 ms
 * Once, in both modes:
 *   load_config(): malloc(256), leaked        (@leak:config)
 *   keep_table:    malloc(512), kept in a global until exit (@leak:table):
 *                  still reachable at exit
 * So leaked bytes (without the table): base 256 + 32*NREQ; worse
 * 256 + (65536 + 100)*NREQ.  base makes no usleep call at all.
 *
 * After the requests: IDLE_MS of idle time through a raw nanosleep syscall
 * (no intercepted call), so that a base run can be long enough for growth
 * fits (PERFSHIM_SAMPLE_MS=10) while its heap stays flat.  Exit 0; nothing
 * on stdout; one line on stderr and exit 1 when something fails, 2 on bad
 * usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#define T_NET_PROG "t_regress"
#include "t_net_util.h"

static int worse;
static unsigned nreq;
static unsigned short port;
static sem_t connected;
static char *keep_table;

/* ---- the client: raw syscalls only, invisible to the shim ---------------- */

static void *client(void *arg)
{
    (void)arg;
    long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("client socket");
    struct sockaddr_in a;
    loopback_addr(&a, port);
    if (syscall(SYS_connect, fd, &a, sizeof a) != 0)
        die("client connect");
    sem_post(&connected);
    char buf[16];
    for (unsigned i = 0; i < nreq; i++) {
        if (syscall(SYS_sendto, fd, "GET\n", 4, 0, NULL, 0) != 4)
            die("client send");
        size_t got = 0;
        for (unsigned turn = 0; got < 3; turn++) { /* "OK\n" */
            long n = syscall(SYS_recvfrom, fd, buf + got, sizeof buf - got, 0, NULL, NULL);
            if (n <= 0 || turn > 1000)
                die("client recv");
            got += (size_t)n;
        }
    }
    syscall(SYS_close, fd);
    return NULL;
}

/* ---- the server's work -------------------------------------------------- */

static void load_config(void)
{
    char *cfg = malloc(256); /* @leak:config */
    if (!cfg)
        die("malloc");
    memset(cfg, 'c', 256);
}

static void cache_put(unsigned i)
{
    size_t size = worse ? 65536 : 32; /* one call site in both modes: the same site, grown */
    char *e = malloc(size); /* @leak:cache */
    if (!e)
        die("malloc");
    memset(e, (int)(i & 0xff), size); /* worse: pages touched, RSS grows */
}

static void remember_request(unsigned i)
{
    char *r = malloc(100); /* @leak:remember */
    if (!r)
        die("malloc");
    memset(r, (int)(i & 0xff), 100);
}

static void slow_lookup(void)
{
    usleep(20000); /* @call:usleep */
}

static void handle_request(int conn, unsigned i)
{
    char *scratch = malloc(256); /* @leak:scratch */
    if (!scratch)
        die("malloc");
    memset(scratch, 0, 256);
    cache_put(i);
    if (worse) {
        remember_request(i);
        slow_lookup();
    }
    if (send(conn, "OK\n", 3, 0) != 3)
        die("send");
    free(scratch);
}

static void idle(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    for (unsigned turn = 0; turn < 1000; turn++) {
        if (syscall(SYS_nanosleep, &ts, &ts) == 0)
            return;
        if (errno != EINTR)
            die("nanosleep");
    }
}

int main(int argc, char **argv)
{
    begin(argc, 4, "usage: t_regress base|worse NREQ IDLE_MS\n");
    if (strcmp(argv[1], "worse") == 0)
        worse = 1;
    else if (strcmp(argv[1], "base") != 0) {
        put(2, "t_regress: MODE must be base or worse\n");
        return 2;
    }
    nreq = parse_u(argv[2], "bad NREQ");
    unsigned idle_ms = parse_u(argv[3], "bad IDLE_MS");
    if (nreq < 1 || nreq > 10000 || idle_ms > 10000) {
        put(2, "t_regress: NREQ 1..10000, IDLE_MS 0..10000\n");
        return 2;
    }
    load_config();
    keep_table = malloc(512); /* @leak:table */
    if (!keep_table)
        die("malloc");
    memset(keep_table, 't', 512);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        die("socket");
    bind_loopback(lfd);
    if (listen(lfd, 4) != 0)
        die("listen");
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    if (getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        die("getsockname");
    port = ntohs(a.sin_port);
    sem_init(&connected, 0, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, client, NULL) != 0)
        die("pthread_create");
    while (sem_wait(&connected) != 0 && errno == EINTR)
        ;
    int conn = accept(lfd, NULL, NULL);
    if (conn < 0)
        die("accept");
    char buf[64];
    unsigned served = 0;
    for (unsigned turn = 0; turn <= nreq + 1; turn++) {
        ssize_t n = recv(conn, buf, sizeof buf, 0);
        if (n < 0)
            die("recv");
        if (n == 0)
            break;
        handle_request(conn, served++);
    }
    if (served != nreq) {
        errno = 0;
        die("wrong number of requests");
    }
    close(conn);
    close(lfd);
    pthread_join(th, NULL);
    idle(idle_ms);
    return 0;
}
