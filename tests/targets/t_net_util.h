/* t_net_util.h: what the t_net_* targets share (no stdio streams).
 *
 * Define T_NET_PROG (the program's name, a string literal) before including:
 * it prefixes die()'s message.  Every function is static inline, so a
 * program that does not use one gets no unused-function warning.
 *
 *   begin(argc, n, usage) the start of main: usage on stderr and exit 2
 *                         unless argc == n; then alarm(30), so that a lost
 *                         peer cannot hang the test
 *   put(fd, s)            write all of s to fd (no stdio)
 *   die(what)             "PROG: what[: strerror(errno)]\n" on stderr, exit 1
 *                         (set errno = 0 first for a message without a cause)
 *   fmt_u(buf, v)         v in decimal, not terminated; returns its length
 *   parse_u(s, what)      a decimal 0..100000000, or die(what)
 *   parse_port(s)         a decimal 1..65535, or die
 *   loopback_addr(a, p)   *a = 127.0.0.1:p (p = 0: any port)
 *   bind_loopback(fd)     bind fd to 127.0.0.1:0
 *   publish_port(fd, f)   fd's bound port to the file f, as decimal text and
 *                         a newline, via f.tmp and rename(): a reader never
 *                         sees half of it.  write()/close() on a regular file
 *                         are no socket calls.
 */
#ifndef T_NET_UTIL_H
#define T_NET_UTIL_H

#ifndef T_NET_PROG
#error "define T_NET_PROG before including t_net_util.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h> /* rename() only: no FILE stream is used */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline void put(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static inline void begin(int argc, int want, const char *usage)
{
    if (argc != want) {
        put(2, usage);
        exit(2);
    }
    alarm(30); /* a lost peer must not hang the test */
}

static inline void die(const char *what)
{
    int e = errno;
    put(2, T_NET_PROG ": ");
    put(2, what);
    if (e) {
        put(2, ": ");
        put(2, strerror(e));
    }
    put(2, "\n");
    exit(1);
}

static inline size_t fmt_u(char *buf, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

static inline unsigned parse_u(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > 100000000ul) {
        errno = 0;
        die(what);
    }
    return (unsigned)v;
}

static inline unsigned parse_port(const char *s)
{
    unsigned port = parse_u(s, "bad PORT");
    if (port == 0 || port > 65535) {
        errno = 0;
        die("PORT out of range");
    }
    return port;
}

static inline void loopback_addr(struct sockaddr_in *a, unsigned port)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons((unsigned short)port);
}

static inline void bind_loopback(int fd)
{
    struct sockaddr_in a;
    loopback_addr(&a, 0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("bind 127.0.0.1:0");
}

static inline void publish_port(int fd, const char *path)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        die("getsockname");
    char tmp[4096];
    size_t n = strlen(path);
    if (n + 5 > sizeof tmp) {
        errno = 0;
        die("PORTFILE path too long");
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    int pf = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (pf < 0)
        die("open PORTFILE.tmp");
    char num[32];
    size_t len = fmt_u(num, ntohs(a.sin_port));
    num[len++] = '\n';
    if (write(pf, num, len) != (ssize_t)len)
        die("write PORTFILE.tmp");
    if (close(pf) != 0)
        die("close PORTFILE.tmp");
    if (rename(tmp, path) != 0)
        die("rename PORTFILE.tmp");
}

#endif
