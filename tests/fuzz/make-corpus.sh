#!/bin/sh
# make-corpus.sh: regenerate the fuzz seeds in tests/fuzz/corpus from real
# runs under the shim.
#
#   tests/fuzz/make-corpus.sh [LIBPERFSHIM [OUTDIR]]
#
# LIBPERFSHIM defaults to build/lib/libperfshim.so, OUTDIR to
# tests/fuzz/corpus.  Traces hold the pid, paths and times of the run that
# made them, so every run gives different bytes; keep each under 64 KiB.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
shim=${1:-$root/build/lib/libperfshim.so}
out=${2:-$root/tests/fuzz/corpus}
[ -r "$shim" ] || { echo "make-corpus: no shim at '$shim' (build it first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

# Four threads: malloc, realloc every 7th, free 16 blocks later, one leak,
# exit status 3.
cat > "$tmp/threads.c" <<'PROG'
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
static void *work(void *arg)
{
    long n = (long)arg;
    void *keep[16] = {0};
    for (long i = 0; i < n; i++) {
        void *p = malloc(16 + (size_t)(i % 100));
        if (i % 7 == 0)
            p = realloc(p, 200);
        free(keep[i % 16]);
        keep[i % 16] = p;
    }
    free(keep[0]);
    return NULL;
}
int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200;
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, work, (void *)(n * (i + 1)));
    work((void *)n);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    char *leak = strdup("leaked on purpose");
    (void)leak;
    return 3;
}
PROG
# Two threads that sleep now and then, so the background flusher writes
# their chunks (zstd-compressed: CHUNK_ZSTD records) between ROUNDs.
cat > "$tmp/slow.c" <<'PROG'
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static void *work(void *arg)
{
    long n = (long)arg;
    void *keep[8] = {0};
    for (long i = 0; i < n; i++) {
        void *p = malloc(24 + (size_t)(i % 40));
        if (i % 5 == 0)
            p = realloc(p, 100 + (size_t)i);
        free(keep[i % 8]);
        keep[i % 8] = p;
        if (i % 100 == 99)
            usleep(20000);
    }
    return NULL;
}
int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, work, (void *)600L);
    work((void *)400L);
    pthread_join(t, NULL);
    return 0;
}
PROG
# A loopback client and server in two threads, a few sleeps past the
# off-CPU threshold: CALL_STATS, PEER_STATS, PROC_STATS records and OFFCPU
# events (format version 2).
cat > "$tmp/net.c" <<'PROG'
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static int lfd;
static void *serve(void *arg)
{
    (void)arg;
    int c = accept(lfd, NULL, NULL);
    char b[64];
    while (read(c, b, sizeof b) > 0) {
        usleep(1500);
        write(c, "ok\n", 3);
    }
    close(c);
    return NULL;
}
int main(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *)&a, &l);
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    connect(s, (struct sockaddr *)&a, sizeof a);
    char b[8];
    struct timespec ts;
    for (int i = 0; i < 5; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        send(s, "req\n", 4, 0);
        recv(s, b, sizeof b, 0);
    }
    close(s);
    pthread_join(t, NULL);
    close(lfd);
    return 0;
}
PROG
# Two threads burning CPU in two functions at 999 Hz: CPU streams with
# CPU_SAMPLE events and their STACK definitions (format version 3).
cat > "$tmp/cpu.c" <<'PROG'
#include <pthread.h>
#include <time.h>
static volatile double sink;
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
__attribute__((noinline)) static void spin_a(double s)
{
    for (double end = cpu_s() + s; cpu_s() < end;)
        for (int i = 0; i < 5000; i++)
            sink += i * 0.5;
}
__attribute__((noinline)) static void spin_b(double s)
{
    for (double end = cpu_s() + s; cpu_s() < end;)
        for (int i = 0; i < 5000; i++)
            sink += i * 0.25;
}
static void *work(void *arg)
{
    (void)arg;
    for (int k = 0; k < 15; k++) {
        spin_a(0.007);
        spin_b(0.003);
    }
    return NULL;
}
int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, work, NULL);
    work(NULL);
    pthread_join(t, NULL);
    return 0;
}
PROG
cc -O1 -g -pthread "$tmp/cpu.c" -o "$tmp/cpu-prog"
cc -O1 -g -pthread "$tmp/net.c" -o "$tmp/net-prog"
cc -O1 -g -pthread "$tmp/threads.c" -o "$tmp/threads"
cc -O1 -g -pthread "$tmp/slow.c" -o "$tmp/slow"

run() { # NAME ENV... -- COMMAND...
    name=$1; shift
    mkdir "$tmp/$name"
    env LD_PRELOAD="$shim" PERFSHIM_OUTPUT="$tmp/$name/%p.trace" "$@" >/dev/null || true
}
run ls /bin/ls /
run threads-small "$tmp/threads" 50
run threads-raw PERFSHIM_COMPRESS=0 "$tmp/threads" 300
run threads-tsc PERFSHIM_CLOCK=tsc PERFSHIM_STACK_DEPTH=4 "$tmp/threads" 20
run slow-zstd PERFSHIM_FLUSH_MS=10 "$tmp/slow"
run net PERFSHIM_STACK_DEPTH=8 "$tmp/net-prog"
run cpu PERFSHIM_CPU_HZ=999 PERFSHIM_STACK_DEPTH=16 "$tmp/cpu-prog"
# reachability scan records (SCAN, SCAN_PAIRS, SCAN_END) at exit
run scan PERFSHIM_STACK_DEPTH=4 PERFSHIM_COMPRESS=0 "$tmp/threads" 5
run sh-exec PERFSHIM_STACK_DEPTH=8 /bin/sh -c '/bin/true; exec /bin/echo hi'

for d in ls threads-small threads-raw threads-tsc slow-zstd net cpu scan; do
    cp "$(ls "$tmp/$d"/*.trace | head -1)" "$out/$d.seed"
done
# sh forks /bin/true (its own trace, ends with END) and then execs echo
# (the parent's trace ends with an EXEC event and no END).
parent=$(grep -l /bin/echo "$tmp/sh-exec"/*.trace | head -1)
cp "$parent" "$out/sh-exec-parent.seed"
for f in "$tmp/sh-exec"/*.trace; do
    [ "$f" = "$parent" ] || cp "$f" "$out/sh-exec-child.seed"
done
chmod 644 "$out"/*.seed
ls -l "$out"
