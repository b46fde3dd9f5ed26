/* t_net_client: the client of t_net_server, built -O0.
 *
 * Usage: t_net_client PORT NCONN NREQ_PER_CONN SLOW_EVERY SLOW_US RESP_LEN
 *
 * Opens NCONN TCP connections to 127.0.0.1:PORT, all of them before the
 * first request (the server sees NCONN simultaneous connections).  Then
 * TOTAL = NCONN * NREQ_PER_CONN requests, one at a time, round-robin over
 * the connections: request i (0-based, global) goes to connection
 * i % NCONN and is the line
 *     "REQ <s> <RESP_LEN>\n",  s = SLOW_US when i % SLOW_EVERY == SLOW_EVERY-1,
 *                                  0 otherwise (SLOW_EVERY 0: never slow)
 * sent in ONE send(); then recv() until exactly RESP_LEN bytes arrived
 * (RESP_LEN-1 'x' and a final '\n' are checked).  Then every connection is
 * closed.  Calls: NCONN socket(), NCONN connect(), TOTAL send(), >= TOTAL
 * recv(), NCONN close().  Bytes out: the sum of the line lengths; bytes in:
 * TOTAL * RESP_LEN.
 *
 * Exit 0 when every response was right; otherwise one line on stderr and
 * exit 1.  Nothing is written to stdout.  All memory is freed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_NET_PROG "t_net_client"
#include "t_net_util.h"

#define MAX_CONN 64
#define MAX_RESP 65536

int main(int argc, char **argv)
{
    begin(argc, 7, "usage: t_net_client PORT NCONN NREQ_PER_CONN SLOW_EVERY SLOW_US RESP_LEN\n");
    signal(SIGPIPE, SIG_IGN);
    unsigned port = parse_port(argv[1]);
    unsigned nconn = parse_u(argv[2], "bad NCONN");
    unsigned nper = parse_u(argv[3], "bad NREQ_PER_CONN");
    unsigned slow_every = parse_u(argv[4], "bad SLOW_EVERY");
    unsigned slow_us = parse_u(argv[5], "bad SLOW_US");
    unsigned resp_len = parse_u(argv[6], "bad RESP_LEN");
    errno = 0;
    if (nconn == 0 || nconn > MAX_CONN)
        die("NCONN out of range (1-64)");
    if (resp_len == 0 || resp_len > MAX_RESP)
        die("RESP_LEN out of range (1-65536)");

    int fds[MAX_CONN];
    struct sockaddr_in a;
    loopback_addr(&a, port);
    for (unsigned c = 0; c < nconn; c++) {
        fds[c] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[c] < 0)
            die("socket");
        if (connect(fds[c], (struct sockaddr *)&a, sizeof a) != 0)
            die("connect 127.0.0.1:PORT");
    }

    char *resp = malloc(resp_len);
    if (!resp)
        die("malloc");
    unsigned long total = (unsigned long)nconn * nper;
    for (unsigned long i = 0; i < total; i++) {
        int fd = fds[i % nconn];
        unsigned s = slow_every && i % slow_every == slow_every - 1 ? slow_us : 0;
        char line[64];
        size_t len = 0;
        memcpy(line, "REQ ", 4);
        len = 4;
        len += fmt_u(line + len, s);
        line[len++] = ' ';
        len += fmt_u(line + len, resp_len);
        line[len++] = '\n';
        ssize_t w = send(fd, line, len, MSG_NOSIGNAL);
        if (w != (ssize_t)len)
            die("send: short or failed");
        size_t got = 0;
        /* Each recv() moves >= 1 byte: at most resp_len turns. */
        for (unsigned turn = 0; got < resp_len; turn++) {
            if (turn > resp_len + 1000) {
                errno = 0;
                die("recv loop: too many turns");
            }
            ssize_t r = recv(fd, resp + got, resp_len - got, 0);
            if (r == 0) {
                errno = 0;
                die("the server closed the connection early");
            }
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                die("recv");
            }
            got += (size_t)r;
        }
        if (resp[resp_len - 1] != '\n' || memchr(resp, '\n', resp_len - 1) != NULL) {
            errno = 0;
            die("bad response (its newline is not exactly its last byte)");
        }
    }
    free(resp);
    for (unsigned c = 0; c < nconn; c++)
        if (close(fds[c]) != 0)
            die("close");
    return 0;
}
