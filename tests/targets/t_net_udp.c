/* t_net_udp: UDP request/reply on 127.0.0.1, both roles, built -O0.
 *
 * Usage: t_net_udp server PORTFILE N
 *        t_net_udp client PORT N
 *
 * server: one datagram socket bound to 127.0.0.1:0; the port goes to
 *   PORTFILE as decimal text (via PORTFILE.tmp and rename).  Then exactly N
 *   times: one blocking recvfrom() (one datagram "PING <i>\n") and one
 *   sendto() of the reply "PONG <i>\n" to the sender; then close() and
 *   return 0.  Socket calls: 1 socket, N recvfrom, N sendto, 1 close;
 *   nothing else (the port file's write/close are on a regular file).
 *   Every recvfrom() starts a request (server side: the socket's first data
 *   call is a receive), so the trace has exactly N requests.
 * client: one datagram socket; N times: sendto() "PING <i>\n", then
 *   recvfrom() the reply (5 s SO_RCVTIMEO) and check it is "PONG <i>\n".
 *   The client waits for each reply, so loopback never drops a datagram.
 *
 * Exit 1 with one line on stderr on any error.  No stdout.  No heap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define T_NET_PROG "t_net_udp"
#include "t_net_util.h"

/* "<word> <i>\n" */
static size_t make_msg(char *buf, const char *word, unsigned i)
{
    size_t n = strlen(word);
    memcpy(buf, word, n);
    buf[n++] = ' ';
    n += fmt_u(buf + n, i);
    buf[n++] = '\n';
    return n;
}

static int server(const char *portfile, unsigned n)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    bind_loopback(fd);
    publish_port(fd, portfile);
    for (unsigned i = 0; i < n; i++) {
        char buf[64], out[64];
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        if (r < 0)
            die("recvfrom"); /* EINTR cannot happen: no handler is installed */
        size_t want = make_msg(out, "PING", i);
        if ((size_t)r != want || memcmp(buf, out, want) != 0) {
            errno = 0;
            die("unexpected datagram");
        }
        size_t len = make_msg(out, "PONG", i);
        if (sendto(fd, out, len, 0, (struct sockaddr *)&from, flen) != (ssize_t)len)
            die("sendto");
    }
    if (close(fd) != 0)
        die("close");
    return 0;
}

static int client(unsigned port, unsigned n)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct timeval tv = {.tv_sec = 5};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        die("setsockopt SO_RCVTIMEO");
    struct sockaddr_in a;
    loopback_addr(&a, port);
    for (unsigned i = 0; i < n; i++) {
        char buf[64], want[64];
        size_t len = make_msg(buf, "PING", i);
        if (sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)len)
            die("sendto");
        ssize_t r = recvfrom(fd, buf, sizeof buf, 0, NULL, NULL);
        if (r < 0)
            die("recvfrom (no reply)");
        size_t wlen = make_msg(want, "PONG", i);
        if ((size_t)r != wlen || memcmp(buf, want, wlen) != 0) {
            errno = 0;
            die("unexpected reply");
        }
    }
    if (close(fd) != 0)
        die("close");
    return 0;
}

int main(int argc, char **argv)
{
    begin(argc, 4, "usage: t_net_udp server PORTFILE N | client PORT N\n");
    unsigned n = parse_u(argv[3], "bad N");
    if (strcmp(argv[1], "server") == 0)
        return server(argv[2], n);
    if (strcmp(argv[1], "client") == 0)
        return client(parse_port(argv[2]), n);
    put(2, "t_net_udp: the role must be server or client\n");
    return 2;
}
