/* Exported descriptor hooks that keep the trace's descriptor out of the
 * target's way.  A daemon that closes every fd, or dup2's onto ours, gets
 * exactly the effect it asked for on its own descriptors; ours is moved
 * to another number first.  (Raw syscalls that bypass these are caught by
 * the writer's fstat check and the trace is reopened by path.) */
#include "shim.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

/* If FD is the trace's, move the trace elsewhere, above ABOVE if it can. */
static void dodge(int fd, int above)
{
    /* Almost every call is about another fd: decide that without the
     * writer's lock, which the flusher holds while it writes. */
    if (!ps_active() || fd < 0 || ps_writer_fd() != fd)
        return;
    int saved = errno;
    ps_writer_lock();
    if (ps_writer_fd() == fd) {
        int moved = above < INT_MAX - 1 ? fcntl(fd, F_DUPFD_CLOEXEC, above + 1) : -1;
        ps_writer_fd_moved(moved); /* -1: reopened by path at the next write */
    }
    ps_writer_unlock();
    errno = saved;
}

/* Closing a socket is a call to count; any close ends what the shim knew
 * about the fd (net.c), so that the number's next owner is seen afresh. */
PS_EXPORT int close(int fd)
{
    ps_real_ensure();
    dodge(fd, fd);
    if (!ps_net_live())
        return ps_real.close(fd);
    if (!ps_net_closing(fd, true))
        return ps_real.close(fd);
    uint64_t t0 = ps_now();
    int r = ps_real.close(fd);
    ps_net_wait(PS_CALL_close, t0, r);
    return r;
}

PS_EXPORT int dup2(int oldfd, int newfd)
{
    ps_real_ensure();
    if (oldfd != newfd) {
        dodge(newfd, newfd);
        if (ps_net_live())
            ps_net_closing(newfd, true);
    }
    return ps_real.dup2(oldfd, newfd);
}

PS_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    ps_real_ensure();
    if (oldfd != newfd) {
        dodge(newfd, newfd);
        if (ps_net_live())
            ps_net_closing(newfd, true);
    }
    if (!ps_real.dup3)
        return (int)syscall(SYS_dup3, oldfd, newfd, flags);
    return ps_real.dup3(oldfd, newfd, flags);
}

PS_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    ps_real_ensure();
    int fd = ps_active() ? ps_writer_fd() : -1;
    if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last && !(flags & 4 /* CLOSE_RANGE_CLOEXEC */))
        dodge(fd, last > INT_MAX - 2 ? INT_MAX : (int)last);
    if (!(flags & 4) && ps_net_live())
        ps_net_close_range(first, last);
    if (!ps_real.close_range)
        return (int)syscall(SYS_close_range, first, last, flags);
    return ps_real.close_range(first, last, flags);
}
