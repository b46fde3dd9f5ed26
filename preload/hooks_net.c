/* Exported socket and wait hooks.  Each one reads the clock, makes the
 * real call, and hands the outcome to net.c; errno and the return value
 * reach the target untouched.  read/write/readv/writev are timed only on
 * sockets (one table lookup decides); the send/recv family always.
 * Fortified variants (__read_chk, ...) count under the plain name and
 * call the real fortified function, so its checks still happen (a libc
 * without one gets the plain call: we export the name either way). */
#include "shim.h"

#include <sys/sendfile.h>

/* Whether to time a call on FD.  SOCKCALL: the call only works on
 * sockets, so time it whatever the fd is (a failure is an error to count). */
static inline bool watch(int fd, bool sockcall)
{
    if (!ps_net_live())
        return false;
    return ps_net_is_socket(fd) || sockcall;
}

/* TO, TOLEN: a datagram's destination (NULL, 0 for other calls). */
#define DATA_CALL_TO(kind, fd, sockcall, asked, to, tolen, type, call)   \
    do {                                                                 \
        ps_real_wait();                                                  \
        if (!watch(fd, sockcall))                                        \
            return call;                                                 \
        uint64_t t0_ = ps_now();                                         \
        type r_ = call;                                                  \
        ps_net_data(PS_CALL_##kind, fd, t0_, (long)r_, asked, to, tolen); \
        return r_;                                                       \
    } while (0)
#define DATA_CALL(kind, fd, sockcall, asked, type, call) \
    DATA_CALL_TO(kind, fd, sockcall, asked, NULL, 0, type, call)

static size_t iov_bytes(const struct iovec *iov, int n)
{
    size_t sum = 0;
    for (int i = 0; iov && i < n; i++)
        sum += iov[i].iov_len;
    return sum;
}

static long mmsg_bytes(const struct mmsghdr *v, int r)
{
    if (r <= 0)
        return r;
    long sum = 0;
    for (int i = 0; i < r; i++)
        sum += (long)v[i].msg_len;
    return sum;
}

/* ---- connections ---------------------------------------------------------- */

PS_EXPORT int socket(int domain, int type, int protocol)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.socket(domain, type, protocol);
    uint64_t t0 = ps_now();
    int fd = ps_real.socket(domain, type, protocol);
    ps_net_socket(PS_CALL_socket, t0, fd, type);
    return fd;
}

PS_EXPORT int listen(int fd, int backlog)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.listen(fd, backlog);
    uint64_t t0 = ps_now();
    int r = ps_real.listen(fd, backlog);
    ps_net_listen(t0, fd, r);
    return r;
}

PS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.accept(fd, addr, len);
    uint64_t t0 = ps_now();
    int r = ps_real.accept(fd, addr, len);
    ps_net_accept(PS_CALL_accept, t0, fd, r);
    return r;
}

PS_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.accept4(fd, addr, len, flags);
    uint64_t t0 = ps_now();
    int r = ps_real.accept4(fd, addr, len, flags);
    ps_net_accept(PS_CALL_accept4, t0, fd, r);
    return r;
}

PS_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.connect(fd, addr, len);
    uint64_t t0 = ps_now();
    int r = ps_real.connect(fd, addr, len);
    ps_net_connect(t0, fd, addr, len, r);
    return r;
}

PS_EXPORT int shutdown(int fd, int how)
{
    if (ps_net_live())
        ps_net_closing(fd, false);
    PS_TIMED_CALL(shutdown, int, ps_real.shutdown(fd, how));
}

/* ---- sending ---------------------------------------------------------------- */

PS_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    DATA_CALL(send, fd, true, n, ssize_t, ps_real.send(fd, buf, n, flags));
}

PS_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
                         socklen_t tolen)
{
    DATA_CALL_TO(sendto, fd, true, n, to, tolen, ssize_t, ps_real.sendto(fd, buf, n, flags, to, tolen));
}

PS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    DATA_CALL_TO(sendmsg, fd, true, msg ? iov_bytes(msg->msg_iov, (int)msg->msg_iovlen) : 0,
                 msg ? msg->msg_name : NULL, msg ? msg->msg_namelen : 0, ssize_t,
                 ps_real.sendmsg(fd, msg, flags));
}

PS_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    ps_real_wait();
    if (!watch(fd, true))
        return ps_real.sendmmsg(fd, v, n, flags);
    uint64_t t0 = ps_now();
    int r = ps_real.sendmmsg(fd, v, n, flags);
    long bytes = mmsg_bytes(v, r);
    ps_net_data(PS_CALL_sendmmsg, fd, t0, bytes, 0, NULL, 0);
    return r;
}

PS_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    DATA_CALL(write, fd, false, n, ssize_t, ps_real.write(fd, buf, n));
}

PS_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
    DATA_CALL(writev, fd, false, iov_bytes(iov, n), ssize_t, ps_real.writev(fd, iov, n));
}

PS_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    DATA_CALL(sendfile, out, false, n, ssize_t, ps_real.sendfile(out, in, off, n));
}

/* ---- receiving ---------------------------------------------------------------- */

PS_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    DATA_CALL(recv, fd, true, n, ssize_t, ps_real.recv(fd, buf, n, flags));
}

PS_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    DATA_CALL(recv, fd, true, n, ssize_t, (ps_real.__recv_chk ? ps_real.__recv_chk(fd, buf, n, buflen, flags) : ps_real.recv(fd, buf, n, flags)));
}

PS_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                           socklen_t *fromlen)
{
    DATA_CALL(recvfrom, fd, true, n, ssize_t, ps_real.recvfrom(fd, buf, n, flags, from, fromlen));
}

PS_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                 struct sockaddr *from, socklen_t *fromlen)
{
    DATA_CALL(recvfrom, fd, true, n, ssize_t,
              (ps_real.__recvfrom_chk ? ps_real.__recvfrom_chk(fd, buf, n, buflen, flags, from, fromlen)
                                     : ps_real.recvfrom(fd, buf, n, flags, from, fromlen)));
}

PS_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    DATA_CALL(recvmsg, fd, true, 0, ssize_t, ps_real.recvmsg(fd, msg, flags));
}

PS_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout)
{
    ps_real_wait();
    if (!watch(fd, true))
        return ps_real.recvmmsg(fd, v, n, flags, timeout);
    uint64_t t0 = ps_now();
    int r = ps_real.recvmmsg(fd, v, n, flags, timeout);
    long bytes = mmsg_bytes(v, r);
    ps_net_data(PS_CALL_recvmmsg, fd, t0, bytes, 0, NULL, 0);
    return r;
}

PS_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    DATA_CALL(read, fd, false, n, ssize_t, ps_real.read(fd, buf, n));
}

PS_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    DATA_CALL(read, fd, false, n, ssize_t, (ps_real.__read_chk ? ps_real.__read_chk(fd, buf, n, buflen) : ps_real.read(fd, buf, n)));
}

PS_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    DATA_CALL(readv, fd, false, iov_bytes(iov, n), ssize_t, ps_real.readv(fd, iov, n));
}

/* ---- waiting for descriptors ---------------------------------------------------- */

PS_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    PS_TIMED_CALL(poll, int, ps_real.poll(fds, n, timeout));
}

PS_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    PS_TIMED_CALL(poll, int, (ps_real.__poll_chk ? ps_real.__poll_chk(fds, n, timeout, fdslen) : ps_real.poll(fds, n, timeout)));
}

PS_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask)
{
    PS_TIMED_CALL(ppoll, int, ps_real.ppoll(fds, n, timeout, mask));
}

PS_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                          const sigset_t *mask, size_t fdslen)
{
    PS_TIMED_CALL(ppoll, int, (ps_real.__ppoll_chk ? ps_real.__ppoll_chk(fds, n, timeout, mask, fdslen)
                                 : ps_real.ppoll(fds, n, timeout, mask)));
}

PS_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout)
{
    PS_TIMED_CALL(select, int, ps_real.select(n, r, w, e, timeout));
}

PS_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
                      const sigset_t *mask)
{
    PS_TIMED_CALL(pselect, int, ps_real.pselect(n, r, w, e, timeout, mask));
}

PS_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    PS_TIMED_CALL(epoll_wait, int, ps_real.epoll_wait(epfd, ev, max, timeout));
}

PS_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    PS_TIMED_CALL(epoll_pwait, int, ps_real.epoll_pwait(epfd, ev, max, timeout, mask));
}
