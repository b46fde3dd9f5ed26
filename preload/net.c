/* Intercepted calls: what is known per fd, per thread and per peer, and
 * the statistics records the flusher writes.
 *
 * Data model:
 *  - fd table: one 32-byte entry per descriptor number, in one mmap sized
 *    by the hard RLIMIT_NOFILE (untouched pages cost nothing).  It says
 *    whether the fd is a socket, its role (server, client, listener), its
 *    peer, and where its current request is.  Sockets the shim saw being
 *    made (socket, accept, connect) are known at once; any other fd is
 *    classified once (fstat and, for a socket, getsockname/getpeername)
 *    the first time a hook meets it, and forgotten when it is closed.
 *  - per buffer slot (struct ps_net_slot, one per struct ps_thread, kept
 *    when the slot passes to a new thread): per call kind, exact counters
 *    and a latency histogram (include/perfshim/histogram.h); the same for
 *    requests.  Only the owning thread writes them: no atomics on the hot
 *    path, no shared cache lines.
 *  - peers: a small global table (outbound by remote address, inbound by
 *    listening port) with atomic counters and histograms; touched once per
 *    request, not per call.
 *
 * Everything is cumulative.  At every ROUND the flusher writes a record
 * for each slot and peer that changed (CALL_STATS, PEER_STATS) and the
 * process counters (PROC_STATS); the analyzer keeps the last of each, so a
 * killed process still has everything up to its last round.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

#include "perfshim/histogram.h"

/* Owner-written counters read by the flusher: plain stores, relaxed. */
#define BUMP(x, v) __atomic_store_n(&(x), (x) + (v), __ATOMIC_RELAXED)
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED)

bool ps__net_on;
uint64_t ps__offcpu_min_ns;

/* ---- classes of calls ---------------------------------------------------- */

enum cls { SOCKET, ACCEPT, CONNECT, LISTEN, SEND, RECV, CLOSE, WAIT, CLOCK, SLEEP };

static const uint8_t call_class[PS_CALL_MAX_] = {
#define PS__X(name, id, c) [id] = c,
    PS_CALLS(PS__X)
#undef PS__X
};

/* ---- latency statistics --------------------------------------------------- */

struct hist {
    uint64_t *page[PS_HIST_PAGES];
};

struct cstat {
    uint64_t count, errors, eagain, eintr, partial, bytes, total_ns, max_ns;
    struct hist h;
};

#define ARENA_CHUNK (64 * 1024)
#define PAGE_BYTES (PS_HIST_SUB * sizeof(uint64_t))

struct arena {
    uint8_t *chunk;
    size_t used;
};

static uint64_t *arena_page(struct arena *a)
{
    if (!a->chunk || a->used + PAGE_BYTES > ARENA_CHUNK) {
        uint8_t *c = ps_mmap(ARENA_CHUNK);
        if (!c)
            return NULL;
        a->chunk = c;
        a->used = 0;
    }
    uint64_t *p = (uint64_t *)(a->chunk + a->used);
    a->used += PAGE_BYTES;
    return p;
}

struct ps_net_slot {
    struct cstat calls[PS_CALL_MAX_];
    struct cstat req;             /* requests completed on this slot */
    uint64_t req_first, req_last; /* ticks: first start, last end */
    uint64_t changes, written;    /* owner bumps; flusher compares */
    struct arena arena;
};

/* One owner per histogram: pages are published with a release store so
 * the flusher never sees a page before its zeroes. */
static inline void hist_add_owned(struct arena *a, struct hist *h, uint64_t v)
{
    uint32_t i = ps_hist_index(v);
    uint64_t *pg = __atomic_load_n(&h->page[i / PS_HIST_SUB], __ATOMIC_RELAXED);
    if (PS_UNLIKELY(!pg)) {
        if (!(pg = arena_page(a)))
            return;
        __atomic_store_n(&h->page[i / PS_HIST_SUB], pg, __ATOMIC_RELEASE);
    }
    BUMP(pg[i % PS_HIST_SUB], 1);
}

static inline void cstat_add(struct arena *a, struct cstat *c, uint64_t ns)
{
    BUMP(c->count, 1);
    BUMP(c->total_ns, ns);
    if (ns > c->max_ns)
        __atomic_store_n(&c->max_ns, ns, __ATOMIC_RELAXED);
    hist_add_owned(a, &c->h, ns);
}

static struct ps_net_slot *slot_of(struct ps_thread *t)
{
    if (PS_LIKELY(t->net != NULL))
        return t->net;
    struct ps_net_slot *s = ps_mmap(sizeof *s);
    if (s)
        __atomic_store_n(&t->net, s, __ATOMIC_RELEASE);
    return s;
}

/* ---- peers ------------------------------------------------------------------ */

#define PEER_MAX 256
#define PEER_NAME 96

struct peer {
    char name[PEER_NAME];
    uint8_t dir;
    uint8_t used;
    uint64_t connections, requests, errors, bytes_in, bytes_out;
    struct cstat req, connect; /* multi-writer: updated with atomic adds */
    uint64_t changes, written;
};

static struct peer *peers;           /* [PEER_MAX + 1]; index 0 unused */
static _Atomic int stats_lock;       /* one statistics writer at a time */
static _Atomic int peer_lock;
static unsigned npeers;
static pthread_mutex_t page_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena peer_arena;

static void hist_add_shared(struct hist *h, uint64_t v)
{
    uint32_t i = ps_hist_index(v);
    uint64_t *pg = __atomic_load_n(&h->page[i / PS_HIST_SUB], __ATOMIC_ACQUIRE);
    if (PS_UNLIKELY(!pg)) {
        pthread_mutex_lock(&page_lock);
        pg = h->page[i / PS_HIST_SUB];
        if (!pg && (pg = arena_page(&peer_arena)))
            __atomic_store_n(&h->page[i / PS_HIST_SUB], pg, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&page_lock);
        if (!pg)
            return;
    }
    ADD(pg[i % PS_HIST_SUB], 1);
}

static void cstat_add_shared(struct cstat *c, uint64_t ns)
{
    ADD(c->count, 1);
    ADD(c->total_ns, ns);
    uint64_t m = PEEK(c->max_ns);
    while (ns > m && !__atomic_compare_exchange_n(&c->max_ns, &m, ns, true, __ATOMIC_RELAXED,
                                                  __ATOMIC_RELAXED))
        ;
    hist_add_shared(&c->h, ns);
}

/* The peer called NAME, made on first use.  When the table is full, the
 * rest share one overflow entry per direction: "listen:other" (PEER_MAX - 1)
 * and "other" (PEER_MAX). */
static uint16_t peer_get(const char *name, int dir)
{
    if (!peers)
        return 0;
    ps_spin_lock(&peer_lock);
    unsigned i;
    for (i = 1; i <= npeers; i++)
        if (peers[i].dir == dir && strcmp(peers[i].name, name) == 0)
            break;
    if (i > npeers) {
        if (npeers + 1 < PEER_MAX - 1) {
            i = ++npeers;
            ps_fmt(peers[i].name, PEER_NAME, "%s", name);
        } else {
            i = dir == PS_PEER_INBOUND ? PEER_MAX - 1 : PEER_MAX;
            ps_fmt(peers[i].name, PEER_NAME, "%s", dir == PS_PEER_INBOUND ? "listen:other" : "other");
        }
        peers[i].dir = (uint8_t)dir;
        __atomic_store_n(&peers[i].used, 1, __ATOMIC_RELEASE);
    }
    ps_spin_unlock(&peer_lock);
    return (uint16_t)i;
}

static inline struct peer *peer_at(uint16_t i)
{
    return i && peers ? &peers[i] : NULL;
}

static void peer_touch(struct peer *p)
{
    ADD(p->changes, 1);
}

/* "127.0.0.1:80", "[::1]:80", "unix:/path"; SUFFIX "/udp" for datagrams. */
static void addr_name(char *buf, size_t size, const struct sockaddr *sa, socklen_t len,
                      bool listen_side, const char *suffix)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        if (listen_side)
            ps_fmt(buf, size, "listen:%u%s", port, suffix);
        else
            ps_fmt(buf, size, "%s:%u%s", host, port, suffix);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        if (listen_side)
            ps_fmt(buf, size, "listen:%u%s", port, suffix);
        else
            ps_fmt(buf, size, "[%s]:%u%s", host, port, suffix);
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)sa;
        size_t n = len > offsetof(struct sockaddr_un, sun_path)
                       ? len - offsetof(struct sockaddr_un, sun_path)
                       : 0;
        char path[sizeof un->sun_path + 1];
        if (n > sizeof un->sun_path)
            n = sizeof un->sun_path;
        memcpy(path, un->sun_path, n);
        path[n] = 0;
        if (n && path[0] == 0) /* abstract namespace */
            path[0] = '@';
        ps_fmt(buf, size, "%s%s%s", listen_side ? "listen:unix:" : "unix:", n ? path : "(unnamed)",
               suffix);
    } else { /* a family we do not name: never collides with the overflow names */
        ps_fmt(buf, size, "%sfamily%u%s", listen_side ? "listen:" : "", (unsigned)sa->sa_family, suffix);
    }
}

/* ---- fd table --------------------------------------------------------------- */

enum { FD_UNKNOWN = 0, FD_OTHER = 1, FD_SOCK = 2 };
enum { ROLE_NONE = 0, ROLE_SERVER = 1, ROLE_CLIENT = 2, ROLE_LISTEN = 3 };
enum { PH_IDLE = 0, PH_REQUEST = 1, PH_RESPONDING = 2, PH_SENT = 3 };

struct ps_fd {
    uint8_t kind;
    uint8_t dgram;
    uint8_t role;
    uint8_t phase;
    uint16_t peer;
    uint8_t counted; /* in connections_now */
    uint8_t pad;
    uint64_t start;     /* current request's start tick */
    uint64_t last_send; /* server: end tick of the latest response send */
    uint64_t pad2;
};
_Static_assert(sizeof(struct ps_fd) == 32, "fd entry size");

static struct ps_fd *fds;
static int nfds_cap;
static _Atomic int fd_hi; /* highest fd ever entered, +1 */
static _Atomic int64_t conns_now;
static _Atomic int64_t conns_peak;

static inline struct ps_fd *fd_at(int fd)
{
    if (PS_UNLIKELY(fd < 0 || fd >= nfds_cap))
        return NULL;
    return &fds[fd];
}

static void note_hi(int fd)
{
    int hi = atomic_load_explicit(&fd_hi, memory_order_relaxed);
    while (fd + 1 > hi && !atomic_compare_exchange_weak(&fd_hi, &hi, fd + 1))
        ;
}

static void conn_open(struct ps_fd *f)
{
    if (f->counted)
        return;
    f->counted = 1;
    int64_t now = atomic_fetch_add(&conns_now, 1) + 1;
    int64_t peak = atomic_load_explicit(&conns_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak(&conns_peak, &peak, now))
        ;
}

static uint64_t ticks_ns(uint64_t d)
{
    return ps_ticks_to_ns(d);
}

/* A stream socket whose local port is a port we saw listening is a
 * server connection.  Used only for sockets we did not see being made. */
static uint16_t listening_peer_for(const struct sockaddr *local, socklen_t len, bool dgram)
{
    char name[PEER_NAME];
    addr_name(name, sizeof name, local, len, true, dgram ? "/udp" : "");
    if (!peers)
        return 0;
    uint16_t found = 0;
    ps_spin_lock(&peer_lock);
    for (unsigned i = 1; i <= npeers; i++)
        if (peers[i].dir == PS_PEER_INBOUND && strcmp(peers[i].name, name) == 0)
            found = (uint16_t)i;
    ps_spin_unlock(&peer_lock);
    return found;
}

static uint16_t local_peer(int fd, const struct ps_fd *f);

/* First sight of FD: is it a socket, and what kind?  One fstat per fd
 * lifetime (plus getsockopt/getsockname/getpeername for sockets). */
static void classify(int fd, struct ps_fd *f)
{
    int saved = errno;
    struct stat st;
    memset(f, 0, sizeof *f);
    if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        f->kind = FD_OTHER;
        errno = saved;
        return;
    }
    int type = 0, acc = 0;
    socklen_t l = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l);
    l = sizeof acc;
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l);
    f->dgram = type == SOCK_DGRAM;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (acc) {
        f->role = ROLE_LISTEN;
        f->peer = local_peer(fd, f);
    } else if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        /* connected: inbound if its local port is one we listen on */
        struct sockaddr_storage loc;
        socklen_t ll = sizeof loc;
        uint16_t lp = 0;
        if (getsockname(fd, (struct sockaddr *)&loc, &ll) == 0)
            lp = listening_peer_for((struct sockaddr *)&loc, ll, f->dgram);
        if (lp) {
            f->role = ROLE_SERVER;
            f->peer = lp;
        } else {
            char name[PEER_NAME];
            addr_name(name, sizeof name, (struct sockaddr *)&ss, sl, false, f->dgram ? "/udp" : "");
            f->role = ROLE_CLIENT;
            f->peer = peer_get(name, PS_PEER_OUTBOUND);
        }
    }
    note_hi(fd);
    __atomic_store_n(&f->kind, FD_SOCK, __ATOMIC_RELEASE);
    errno = saved;
}

bool ps_net_is_socket(int fd)
{
    struct ps_fd *f = fd_at(fd);
    if (!f)
        return false;
    uint8_t k = __atomic_load_n(&f->kind, __ATOMIC_ACQUIRE);
    if (PS_UNLIKELY(k == FD_UNKNOWN)) {
        /* busy: a signal handler's hooks pass through while we may hold
         * the peer table's lock */
        ps__busy++;
        classify(fd, f);
        ps__busy--;
        k = f->kind;
    }
    return k == FD_SOCK;
}


/* The inbound peer of a socket serving on its local address: a
 * datagram server, or a listener we did not see listen. */
static uint16_t local_peer(int fd, const struct ps_fd *f)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    char name[PEER_NAME];
    addr_name(name, sizeof name, (struct sockaddr *)&ss, sl, true, f->dgram ? "/udp" : "");
    return peer_get(name, PS_PEER_INBOUND);
}

/* A datagram sent to TO before anything was received: a client of TO. */
static void dgram_to(struct ps_fd *f, const struct sockaddr *to, unsigned len)
{
    if (!f->dgram || f->role != ROLE_NONE || !to)
        return;
    char name[PEER_NAME];
    addr_name(name, sizeof name, to, len, false, "/udp");
    f->peer = peer_get(name, PS_PEER_OUTBOUND);
    f->role = ROLE_CLIENT;
}

/* ---- requests ---------------------------------------------------------------- */

static void request_done(struct ps_thread *t, struct ps_fd *f, uint64_t start, uint64_t end)
{
    uint64_t ns = end > start ? ticks_ns(end - start) : 0;
    struct ps_net_slot *s = t ? slot_of(t) : NULL;
    if (s) {
        cstat_add(&s->arena, &s->req, ns);
        if (!s->req_first || start < s->req_first)
            __atomic_store_n(&s->req_first, start, __ATOMIC_RELAXED);
        if (end > s->req_last)
            __atomic_store_n(&s->req_last, end, __ATOMIC_RELAXED);
        BUMP(s->changes, 1);
    }
    struct peer *p = peer_at(f->peer);
    if (p) {
        ADD(p->requests, 1);
        cstat_add_shared(&p->req, ns);
        peer_touch(p);
    }
}

/* A server's pending response is complete: the connection is ending or a
 * new request begins. */
static void finish_pending(struct ps_thread *t, struct ps_fd *f)
{
    if (f->role == ROLE_SERVER && f->phase == PH_RESPONDING)
        request_done(t, f, f->start, f->last_send);
    f->phase = PH_IDLE;
}

static void track_recv(struct ps_thread *t, int fd, struct ps_fd *f, uint64_t t1, long r)
{
    if (r == 0 && !f->dgram) { /* the peer closed */
        finish_pending(t, f);
        return;
    }
    if (f->role == ROLE_NONE) {
        f->role = ROLE_SERVER;
        if (!f->peer)
            f->peer = local_peer(fd, f);
    }
    if (f->role == ROLE_SERVER) {
        if (f->phase == PH_RESPONDING)
            finish_pending(t, f);
        if (f->phase == PH_IDLE) {
            f->start = t1;
            f->phase = PH_REQUEST;
        }
    } else if (f->role == ROLE_CLIENT && f->phase == PH_SENT) {
        request_done(t, f, f->start, t1);
        f->phase = PH_IDLE;
    }
}

static void track_send(struct ps_fd *f, uint64_t t0, uint64_t t1)
{
    if (f->role == ROLE_NONE)
        f->role = ROLE_CLIENT;
    if (f->role == ROLE_SERVER) {
        if (f->phase == PH_REQUEST || f->phase == PH_RESPONDING) {
            f->phase = PH_RESPONDING;
            f->last_send = t1;
        }
    } else if (f->role == ROLE_CLIENT && f->phase == PH_IDLE) {
        f->start = t0;
        f->phase = PH_SENT;
    }
}

static bool is_error(long r, int err)
{
    return r < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR;
}

/* ---- the calls ------------------------------------------------------------------ */

/* Count one finished call of KIND on the calling thread; blocked calls
 * also record where they blocked.  Runs with ps__busy set. */
static void account(struct ps_thread *t, int kind, uint64_t t0, uint64_t t1, long r, int err,
                    uint64_t bytes, bool partial)
{
    struct ps_net_slot *s = slot_of(t);
    if (!s)
        return;
    uint64_t ns = ticks_ns(t1 - t0);
    struct cstat *c = &s->calls[kind];
    if (r < 0) {
        if (err == EAGAIN || err == EWOULDBLOCK)
            BUMP(c->eagain, 1);
        else if (err == EINTR)
            BUMP(c->eintr, 1);
        else
            BUMP(c->errors, 1);
    }
    if (bytes)
        BUMP(c->bytes, bytes);
    if (partial)
        BUMP(c->partial, 1);
    cstat_add(&s->arena, c, ns);
    BUMP(s->changes, 1);
    /* Off-CPU events stop with allocation events at the trace size cap. */
    if (ns >= ps__offcpu_min_ns && call_class[kind] != CLOCK && ps_sample_shift() != PS_SAMPLE_OFF) {
        uint32_t stack = ps_stack_capture(t);
        ps_ev_offcpu(t, t1, ns, (unsigned)kind, stack);
    }
}

/* Every entry below has the same frame: the call's end time and errno are
 * taken first, the bookkeeping runs with ps__busy set, the call is counted
 * last and errno is put back. */
struct call {
    uint64_t t0, t1;
    int err;
};

static inline struct call call_begin(uint64_t t0)
{
    struct call c = {t0, ps_now(), errno};
    ps__busy++;
    return c;
}

static inline void call_end(const struct call *c, int kind, long r, uint64_t bytes, bool partial)
{
    struct ps_thread *t = ps_self();
    if (t)
        account(t, kind, c->t0, c->t1, r, c->err, bytes, partial);
    ps__busy--;
    errno = c->err;
}

void ps_net_data(int kind, int fd, uint64_t t0, long r, size_t asked, const struct sockaddr *to,
                 unsigned tolen)
{
    struct call c = call_begin(t0);
    uint64_t t1 = c.t1;
    int err = c.err;
    bool send = call_class[kind] == SEND;
    struct ps_thread *t = ps_self();
    if (t) {
        struct ps_fd *f = fd_at(fd);
        if (f && f->kind == FD_SOCK) {
            if (to)
                dgram_to(f, to, tolen);
            if (r > 0) {
                if (send)
                    track_send(f, t0, t1);
                else
                    track_recv(t, fd, f, t1, r);
            } else if (r == 0 && !send) {
                track_recv(t, fd, f, t1, 0);
            }
            struct peer *p = peer_at(f->peer); /* the first receive may have named it */
            if (r > 0) {
                if (p) {
                    if (send)
                        ADD(p->bytes_out, (uint64_t)r);
                    else
                        ADD(p->bytes_in, (uint64_t)r);
                    peer_touch(p);
                }
            } else if (p && is_error(r, err)) {
                ADD(p->errors, 1);
                peer_touch(p);
            }
        }
    }
    call_end(&c, kind, r, r > 0 ? (uint64_t)r : 0, send && r > 0 && (size_t)r < asked);
}

void ps_net_wait(int kind, uint64_t t0, long r)
{
    struct call c = call_begin(t0);
    call_end(&c, kind, r, 0, false);
}

void ps_net_socket(int kind, uint64_t t0, int fd, int type)
{
    struct call c = call_begin(t0);
    struct ps_fd *f = fd_at(fd);
    if (f) {
        struct ps_fd n = {.kind = FD_SOCK, .dgram = (type & 0xf) == SOCK_DGRAM};
        *f = n;
        note_hi(fd);
    }
    call_end(&c, kind, fd, 0, false);
}

void ps_net_listen(uint64_t t0, int fd, long r)
{
    struct call c = call_begin(t0);
    struct ps_fd *f = fd_at(fd);
    if (f && r == 0) {
        if (f->kind == FD_UNKNOWN)
            classify(fd, f);
        f->peer = local_peer(fd, f);
        f->role = ROLE_LISTEN;
        f->kind = FD_SOCK;
    }
    call_end(&c, PS_CALL_listen, r, 0, false);
}

void ps_net_accept(int kind, uint64_t t0, int lfd, int fd)
{
    struct call c = call_begin(t0);
    struct ps_fd *lf = fd_at(lfd);
    if (lf && lf->kind == FD_UNKNOWN)
        classify(lfd, lf);
    if (lf && lf->kind == FD_SOCK && !lf->peer) {
        /* a listener we did not see listen (inherited, or made before us) */
        lf->peer = local_peer(lfd, lf);
        lf->role = ROLE_LISTEN;
    }
    uint16_t pi = lf ? lf->peer : 0;
    struct ps_fd *f = fd >= 0 ? fd_at(fd) : NULL;
    if (f) {
        struct ps_fd n = {.kind = FD_SOCK, .role = ROLE_SERVER, .peer = pi};
        *f = n;
        note_hi(fd);
        conn_open(f);
    }
    struct peer *p = peer_at(pi);
    if (p) {
        if (fd >= 0)
            ADD(p->connections, 1);
        else if (is_error(fd, c.err))
            ADD(p->errors, 1);
        peer_touch(p);
    }
    call_end(&c, kind, fd, 0, false);
}

void ps_net_connect(uint64_t t0, int fd, const struct sockaddr *sa, unsigned len, long r)
{
    struct call c = call_begin(t0);
    int err = c.err;
    struct ps_fd *f = fd_at(fd);
    if (f && f->kind == FD_UNKNOWN)
        classify(fd, f);
    bool ok = r == 0 || err == EINPROGRESS;
    if (f && sa && len >= (socklen_t)sizeof(sa_family_t) && f->kind == FD_SOCK && f->role != ROLE_CLIENT) {
        char name[PEER_NAME];
        addr_name(name, sizeof name, sa, len, false, f->dgram ? "/udp" : "");
        f->role = ROLE_CLIENT;
        f->phase = PH_IDLE;
        f->peer = peer_get(name, PS_PEER_OUTBOUND);
        struct peer *p = peer_at(f->peer);
        if (p) {
            if (ok) {
                ADD(p->connections, 1);
                if (r == 0)
                    cstat_add_shared(&p->connect, ticks_ns(c.t1 - t0));
            } else if (is_error(r, err)) {
                ADD(p->errors, 1);
            }
            peer_touch(p);
        }
        if (ok && !f->dgram)
            conn_open(f);
    }
    call_end(&c, PS_CALL_connect, r, 0, false);
}

/* Before close/shutdown (and before dup2/dup3 replace FD): a server's
 * pending response is complete; on close the fd's entry is forgotten.
 * True when FD was a socket the shim knew. */
bool ps_net_closing(int fd, bool forget)
{
    struct ps_fd *f = fd_at(fd);
    if (!f || __atomic_load_n(&f->kind, __ATOMIC_ACQUIRE) == FD_UNKNOWN)
        return false;
    int err = errno;
    ps__busy++;
    bool sock = f->kind == FD_SOCK;
    if (sock) {
        finish_pending(ps_self(), f);
        if (forget && f->counted)
            atomic_fetch_sub(&conns_now, 1);
    }
    if (forget)
        __atomic_store_n(&f->kind, FD_UNKNOWN, __ATOMIC_RELEASE);
    ps__busy--;
    errno = err;
    return sock;
}

void ps_net_close_range(unsigned first, unsigned last)
{
    int hi = atomic_load(&fd_hi);
    for (unsigned fd = first; fd <= last && fd < (unsigned)hi; fd++)
        ps_net_closing((int)fd, true);
}

/* ---- lifecycle ---------------------------------------------------------------- */

void ps_net_init(void)
{
    ps__offcpu_min_ns = (uint64_t)ps__opt.offcpu_min_us * 1000u;
    if (!ps__opt.net)
        return;
    struct rlimit rl;
    uint64_t cap = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        uint64_t want = rl.rlim_max == RLIM_INFINITY ? (1u << 20) : rl.rlim_max;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > want)
            want = rl.rlim_cur;
        if (want > cap)
            cap = want;
    }
    if (cap > (1u << 20))
        cap = 1u << 20;
    fds = ps_mmap(cap * sizeof *fds);
    peers = ps_mmap((PEER_MAX + 1) * sizeof *peers);
    if (!fds || !peers) {
        ps_say("cannot map the descriptor table; socket and clock calls are not traced");
        return;
    }
    nfds_cap = (int)cap;
    ps__net_on = true;
}

/* Process end: responses still pending on open connections are complete. */
void ps_net_finish(void)
{
    if (!ps__net_on)
        return;
    int hi = atomic_load(&fd_hi);
    struct ps_thread *t = ps_self();
    for (int fd = 0; fd < hi; fd++)
        if (fds[fd].kind == FD_SOCK)
            finish_pending(t, &fds[fd]);
}

/* Fork child: the parent's statistics are the parent's.  Its descriptors
 * are ours too, so the fd table stays. */
void ps_net_child_reset(struct ps_thread *registry)
{
    if (!ps__net_on)
        return;
    for (struct ps_thread *t = registry; t; t = t->next)
        if (t->net) {
            struct arena a = t->net->arena;
            memset(t->net, 0, sizeof *t->net);
            t->net->arena = a; /* its pages are lost, not reused: rare */
        }
    for (unsigned i = 1; i <= PEER_MAX; i++) {
        char name[PEER_NAME];
        uint8_t dir = peers[i].dir, used = peers[i].used;
        memcpy(name, peers[i].name, PEER_NAME);
        memset(&peers[i], 0, sizeof peers[i]);
        memcpy(peers[i].name, name, PEER_NAME);
        peers[i].dir = dir;
        peers[i].used = used;
    }
    atomic_store(&peer_lock, 0);
    atomic_store(&stats_lock, 0);
    pthread_mutex_init(&page_lock, NULL);
    atomic_store(&conns_peak, atomic_load(&conns_now));
}

/* ---- statistics records ------------------------------------------------------- */

/* Records are built in a static buffer: only one writer at a time (the
 * stats lock), and never on the target's stack. */
#define STATS_BUF (2 * 1024 * 1024) /* 35 worst-case histograms (50 KiB each) */
static uint8_t *stats_buf;

static uint8_t *put_cstat(uint8_t *p, const uint8_t *end, const struct cstat *c, bool *full)
{
    uint8_t *start = p;
    if (end - p < 12 * PS_VARINT_MAX) {
        *full = true;
        return start;
    }
    p = ps_put_uv(p, PEEK(c->count));
    p = ps_put_uv(p, PEEK(c->errors));
    p = ps_put_uv(p, PEEK(c->eagain));
    p = ps_put_uv(p, PEEK(c->eintr));
    p = ps_put_uv(p, PEEK(c->partial));
    p = ps_put_uv(p, PEEK(c->bytes));
    p = ps_put_uv(p, PEEK(c->total_ns));
    p = ps_put_uv(p, PEEK(c->max_ns));
    /* buckets: how many, then (index delta, count) pairs.  One pass, so
     * that a bucket filled meanwhile cannot push another out: the count
     * goes in a two-byte varint (non-minimal when small, which LEB128
     * allows) reserved before the pairs. */
    _Static_assert(PS_HIST_BUCKETS < (1 << 14), "bucket count fits two varint bytes");
    if ((size_t)(end - p) < 2 + (size_t)PS_HIST_BUCKETS * 2 * PS_VARINT_MAX) {
        *full = true;
        return start;
    }
    uint8_t *np = p;
    p += 2;
    unsigned n = 0, prev = 0;
    for (unsigned pg = 0; pg < PS_HIST_PAGES; pg++) {
        const uint64_t *b = __atomic_load_n(&c->h.page[pg], __ATOMIC_ACQUIRE);
        if (!b)
            continue;
        for (unsigned k = 0; k < PS_HIST_SUB; k++) {
            uint64_t v = PEEK(b[k]);
            if (!v)
                continue;
            unsigned idx = pg * PS_HIST_SUB + k;
            p = ps_put_uv(p, idx - prev);
            p = ps_put_uv(p, v);
            prev = idx;
            n++;
        }
    }
    np[0] = (uint8_t)(0x80 | (n & 0x7f));
    np[1] = (uint8_t)(n >> 7);
    return p;
}

static void write_slot(struct ps_thread *t)
{
    struct ps_net_slot *s = __atomic_load_n(&t->net, __ATOMIC_ACQUIRE);
    if (!s)
        return;
    uint64_t ch = PEEK(s->changes);
    if (ch == s->written)
        return;
    uint8_t *p = stats_buf, *end = stats_buf + STATS_BUF;
    bool full = false;
    p = ps_put_uv(p, t->slot);
    unsigned nk = 0;
    for (unsigned k = 1; k < PS_CALL_MAX_; k++)
        nk += PEEK(s->calls[k].count) != 0;
    p = ps_put_uv(p, nk);
    for (unsigned k = 1; k < PS_CALL_MAX_ && !full; k++) {
        if (!PEEK(s->calls[k].count))
            continue;
        p = ps_put_uv(p, k);
        p = put_cstat(p, end, &s->calls[k], &full);
    }
    p = put_cstat(p, end, &s->req, &full);
    p = ps_put_uv(p, PEEK(s->req_first));
    p = ps_put_uv(p, PEEK(s->req_last));
    if (full)
        return; /* cannot happen: STATS_BUF holds every kind at its worst */
    ps_writer_record(PS_REC_CALL_STATS, stats_buf, (size_t)(p - stats_buf), NULL, 0, NULL, 0);
    s->written = ch;
}

static void write_peer(unsigned i)
{
    struct peer *pe = &peers[i];
    if (!__atomic_load_n(&pe->used, __ATOMIC_ACQUIRE))
        return;
    uint64_t ch = PEEK(pe->changes);
    if (ch == pe->written)
        return;
    uint8_t *p = stats_buf, *end = stats_buf + STATS_BUF;
    bool full = false;
    p = ps_put_uv(p, i);
    p = ps_put_bytes(p, pe->name, strnlen(pe->name, PEER_NAME));
    p = ps_put_uv(p, pe->dir);
    p = ps_put_uv(p, PEEK(pe->connections));
    p = ps_put_uv(p, PEEK(pe->requests));
    p = ps_put_uv(p, PEEK(pe->errors));
    p = ps_put_uv(p, PEEK(pe->bytes_in));
    p = ps_put_uv(p, PEEK(pe->bytes_out));
    p = put_cstat(p, end, &pe->req, &full);
    p = put_cstat(p, end, &pe->connect, &full);
    if (full)
        return;
    ps_writer_record(PS_REC_PEER_STATS, stats_buf, (size_t)(p - stats_buf), NULL, 0, NULL, 0);
    pe->written = ch;
}

void ps_net_write_stats(struct ps_thread *registry)
{
    if (!stats_buf) {
        ps_spin_lock(&stats_lock);
        if (!stats_buf)
            stats_buf = ps_mmap(STATS_BUF);
        ps_spin_unlock(&stats_lock);
        if (!stats_buf)
            return;
    }
    ps_spin_lock(&stats_lock);
    for (struct ps_thread *t = registry; t; t = t->next)
        write_slot(t);
    if (ps__net_on)
        for (unsigned i = 1; i <= PEER_MAX; i++)
            write_peer(i);
    /* process counters: CPU time (for CPU per request), connections, CPU
     * samples taken and dropped */
    struct timespec ts = {0, 0};
    syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &ts);
    uint8_t buf[7 * PS_VARINT_MAX], *p = buf;
    p = ps_put_uv(p, ps_now());
    p = ps_put_uv(p, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
    int64_t now = atomic_load(&conns_now), peak = atomic_load(&conns_peak);
    p = ps_put_uv(p, (uint64_t)(peak > 0 ? peak : 0));
    p = ps_put_uv(p, (uint64_t)(now > 0 ? now : 0));
    uint64_t taken, dropped;
    ps_cpu_counts(&taken, &dropped);
    p = ps_put_uv(p, taken);
    p = ps_put_uv(p, dropped);
    ps_writer_record(PS_REC_PROC_STATS, buf, (size_t)(p - buf), NULL, 0, NULL, 0);
    ps_spin_unlock(&stats_lock);
}
