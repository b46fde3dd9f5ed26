/* Built with -O2 -D_FORTIFY_SOURCE=2, so that the calls below on buffers
 * of known size become __read_chk, __recv_chk, __recvfrom_chk, __poll_chk
 * and __ppoll_chk, as in Debian's own packages.  Over a Unix socketpair:
 * (Sizes the compiler cannot see through, hence the volatiles: with a
 * constant size it proves the call safe and keeps the plain name.)
 * 10 rounds of write+read, send+recv, send+recvfrom, each followed by a
 * poll and a ppoll that find the fd readable.  The test checks that they
 * count under the plain names. */
#define _GNU_SOURCE
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    alarm(30);
    char buf[64];
    volatile size_t len = sizeof buf;
    volatile nfds_t one = 1;
    struct pollfd pfd[1] = {{.fd = sv[1], .events = POLLIN}};
    struct timespec ts = {1, 0};
    for (int i = 0; i < 10; i++) {
        if (write(sv[0], "abcd", 4) != 4 || poll(pfd, one, 1000) != 1 ||
            read(sv[1], buf, len) != 4)
            return 2;
        if (send(sv[0], "efgh", 4, 0) != 4 || ppoll(pfd, one, &ts, NULL) != 1 ||
            recv(sv[1], buf, len, 0) != 4)
            return 3;
        if (send(sv[0], "ijkl", 4, 0) != 4 || recvfrom(sv[1], buf, len, 0, NULL, NULL) != 4)
            return 4;
    }
    close(sv[0]);
    close(sv[1]);
    return 0;
}
