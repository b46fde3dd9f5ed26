/* t_net_server: a TCP server on 127.0.0.1, built -O0.
 *
 * Usage: t_net_server thread|epoll PORTFILE NREQ_TOTAL
 *
 * Binds 127.0.0.1:0, listens, writes the chosen port as decimal text to
 * PORTFILE (via PORTFILE.tmp and rename, so a reader never sees half of it).
 * Protocol: a request is one line "REQ <sleep_us> <resp_len>\n" that the
 * client sends in one send(); the server sleeps sleep_us (usleep() in
 * handle_slow) when > 0, then answers exactly resp_len bytes ('x'... '\n')
 * in ONE send() (thread mode) or write() (epoll mode).  It returns 0 from
 * main once NREQ_TOTAL requests were served and every client has closed its
 * connection: all threads joined, all sockets closed, all memory freed.
 *
 * thread: the main thread waits with poll() (20 ms) on the listening socket
 *   and calls accept() once per readiness; one pthread per connection does
 *   blocking recv() / send().  Per connection: one recv() per request line
 *   (loopback delivers each one-send line whole) and one recv() that
 *   returns 0 when the client closes.
 * epoll: one thread, non-blocking sockets, level-triggered epoll_wait();
 *   accept4(SOCK_NONBLOCK) once per readiness of the listening socket;
 *   read() until EAGAIN (so each request costs one read with data and one
 *   read that fails with EAGAIN), then the complete lines are served with
 *   write(); read() returning 0 closes the connection.
 *
 * Sockets: 1 socket(), 1 listen(), one accept/accept4 per client
 * connection, close() on each connection and on the listening socket.  The
 * port file is written with write() and closed with close() on a regular
 * file: neither is a socket call.  Nothing is written to stdout or stderr
 * unless something fails (then: one line on stderr, exit 1).
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_NET_PROG "t_net_server"
#include "t_net_util.h"

#define MAX_CONN 64
#define MAX_RESP 65536
#define REQ_MAX 128
#define LOOP_CAP 1000000u /* any loop: far more turns than a run needs */

static unsigned nreq_total;
static atomic_uint served;  /* requests answered */
static atomic_uint nopen;   /* accepted connections not yet closed */

/* Every loop is bounded: die(what) after LOOP_CAP turns. */
static void bound_loop(unsigned turn, const char *what)
{
    if (turn >= LOOP_CAP) {
        errno = 0;
        die(what);
    }
}

/* The end of a run: NREQ_TOTAL requests served, some connection (of
 * nconns accepted) seen, and every connection closed again. */
static int all_served(unsigned nconns)
{
    return nconns > 0 && atomic_load(&served) >= nreq_total && atomic_load(&nopen) == 0;
}

/* ---- the listening socket ----------------------------------------- */
static int listen_socket(const char *portfile)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    bind_loopback(fd);
    if (listen(fd, 128) != 0)
        die("listen");
    publish_port(fd, portfile);
    return fd;
}

/* ---- one request ---------------------------------------------------- */
void handle_slow(unsigned us);

/* The off-CPU stack of a slow request ends ...;handle_slow;usleep. */
__attribute__((noinline)) void handle_slow(unsigned us)
{
    usleep(us);
}

/* "REQ <sleep_us> <resp_len>" (no newline, not terminated). */
static void parse_req(const char *line, size_t len, unsigned *sleep_us, unsigned *resp_len)
{
    char s[REQ_MAX + 1];
    if (len < 4 || len > REQ_MAX || memcmp(line, "REQ ", 4) != 0) {
        errno = 0;
        die("bad request line");
    }
    memcpy(s, line, len);
    s[len] = 0;
    char *end;
    unsigned long sl = strtoul(s + 4, &end, 10);
    if (*end != ' ') {
        errno = 0;
        die("bad request line (sleep)");
    }
    char *p = end + 1;
    unsigned long rl = strtoul(p, &end, 10);
    if (end == p || *end || sl > 10000000ul || rl < 1 || rl > MAX_RESP) {
        errno = 0;
        die("bad request line (length)");
    }
    *sleep_us = (unsigned)sl;
    *resp_len = (unsigned)rl;
}

/* Serves one request line; resp holds MAX_RESP bytes of 'x'. */
static void serve(int fd, const char *line, size_t len, char *resp, int use_write)
{
    unsigned sleep_us, resp_len;
    parse_req(line, len, &sleep_us, &resp_len);
    if (sleep_us > 0)
        handle_slow(sleep_us);
    resp[resp_len - 1] = '\n';
    ssize_t w = use_write ? write(fd, resp, resp_len) : send(fd, resp, resp_len, MSG_NOSIGNAL);
    resp[resp_len - 1] = 'x';
    if (w != (ssize_t)resp_len)
        die(use_write ? "write: short or failed" : "send: short or failed");
    atomic_fetch_add(&served, 1);
}

/* Serves every complete line in buf[0..*have); keeps the rest. */
static void serve_lines(int fd, char *buf, size_t *have, char *resp, int use_write)
{
    char *nl;
    unsigned turns = 0;
    while ((nl = memchr(buf, '\n', *have)) != NULL && turns++ < LOOP_CAP) {
        size_t len = (size_t)(nl - buf);
        serve(fd, buf, len, resp, use_write);
        memmove(buf, nl + 1, *have - len - 1);
        *have -= len + 1;
    }
    if (*have == REQ_MAX) {
        errno = 0;
        die("request line too long");
    }
}

/* ---- thread mode ---------------------------------------------------- */
static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[REQ_MAX];
    size_t have = 0;
    char *resp = malloc(MAX_RESP);
    if (!resp)
        die("malloc");
    memset(resp, 'x', MAX_RESP);
    for (unsigned turn = 0;; turn++) {
        bound_loop(turn, "connection loop: too many turns");
        ssize_t r = recv(fd, buf + have, REQ_MAX - have, 0);
        if (r == 0)
            break; /* the client closed */
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("recv");
        }
        have += (size_t)r;
        serve_lines(fd, buf, &have, resp, 0);
    }
    if (have) {
        errno = 0;
        die("connection closed in the middle of a request");
    }
    if (close(fd) != 0)
        die("close");
    free(resp);
    atomic_fetch_sub(&nopen, 1);
    return NULL;
}

static void run_thread(int lfd)
{
    pthread_t th[MAX_CONN];
    unsigned nth = 0;
    for (unsigned turn = 0;; turn++) {
        bound_loop(turn, "accept loop: too many turns");
        if (all_served(nth))
            break;
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int n = poll(&p, 1, 20);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (n == 0)
            continue;
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            die("accept");
        if (nth == MAX_CONN) {
            errno = 0;
            die("too many connections");
        }
        atomic_fetch_add(&nopen, 1);
        int e = pthread_create(&th[nth], NULL, conn_thread, (void *)(intptr_t)c);
        if (e != 0) {
            errno = e;
            die("pthread_create");
        }
        nth++;
    }
    for (unsigned i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
}

/* ---- epoll mode ----------------------------------------------------- */
struct econn {
    int fd;
    size_t have;
    char buf[REQ_MAX];
};

static char listen_mark; /* epoll data.ptr of the listening socket */

static void run_epoll(int lfd)
{
    int fl = fcntl(lfd, F_GETFL);
    if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0)
        die("fcntl O_NONBLOCK");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_mark};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
        die("epoll_ctl add listen");
    char *resp = malloc(MAX_RESP);
    if (!resp)
        die("malloc");
    memset(resp, 'x', MAX_RESP);
    unsigned nconns = 0;
    for (unsigned turn = 0;; turn++) {
        bound_loop(turn, "event loop: too many turns");
        if (all_served(nconns))
            break;
        struct epoll_event evs[16];
        int n = epoll_wait(ep, evs, 16, 100);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &listen_mark) {
                /* Once per readiness: level-triggered epoll reports the
                 * listening socket again while connections are pending. */
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0)
                    die("accept4");
                struct econn *e = calloc(1, sizeof *e);
                if (!e)
                    die("calloc");
                e->fd = c;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = e};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) != 0)
                    die("epoll_ctl add");
                nconns++;
                atomic_fetch_add(&nopen, 1);
                continue;
            }
            struct econn *e = evs[i].data.ptr;
            int eof = 0;
            for (unsigned k = 0;; k++) {
                bound_loop(k, "read loop: too many turns");
                ssize_t r = read(e->fd, e->buf + e->have, REQ_MAX - e->have);
                if (r > 0) {
                    e->have += (size_t)r;
                    if (e->have == REQ_MAX)
                        break; /* serve_lines() tells a full buffer from a long line */
                    continue;
                }
                if (r == 0) {
                    eof = 1;
                    break;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break; /* intended: the test counts these */
                if (errno == EINTR)
                    continue;
                die("read");
            }
            serve_lines(e->fd, e->buf, &e->have, resp, 1);
            if (eof) {
                if (e->have) {
                    errno = 0;
                    die("connection closed in the middle of a request");
                }
                if (epoll_ctl(ep, EPOLL_CTL_DEL, e->fd, NULL) != 0)
                    die("epoll_ctl del");
                if (close(e->fd) != 0)
                    die("close");
                free(e);
                atomic_fetch_sub(&nopen, 1);
            }
        }
    }
    free(resp);
    if (close(ep) != 0)
        die("close epoll");
}

int main(int argc, char **argv)
{
    begin(argc, 4, "usage: t_net_server thread|epoll PORTFILE NREQ_TOTAL\n");
    signal(SIGPIPE, SIG_IGN);
    int epoll_mode = strcmp(argv[1], "epoll") == 0;
    if (!epoll_mode && strcmp(argv[1], "thread") != 0) {
        put(2, "t_net_server: MODE must be thread or epoll\n");
        return 2;
    }
    nreq_total = parse_u(argv[3], "bad NREQ_TOTAL");
    int lfd = listen_socket(argv[2]);
    if (epoll_mode)
        run_epoll(lfd);
    else
        run_thread(lfd);
    if (close(lfd) != 0)
        die("close listen");
    return 0;
}
