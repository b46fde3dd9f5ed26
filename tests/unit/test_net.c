/* Unit tests of the latency histogram and of the call/peer statistics
 * records: bucket bounds, percentile error against the exact values, the
 * cumulative "last record wins" rule, OFFCPU events, corrupt records. */
#include "harness.h"

#include <math.h>

#include "errors.h"
#include "net.h"
#include "perfshim/histogram.h"
#include "report.h"
#include "trace.h"
#include "tracewriter.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- buckets ------------------------------------------------------------------- */

TEST(hist_bounds)
{
    uint32_t prev = 0;
    for (uint64_t v = 0; v < 100000; v++) { /* every small value, in order */
        uint32_t i = ps_hist_index(v);
        CHECK(i >= prev);
        CHECK(ps_hist_lower(i) <= v);
        CHECK(i + 1 >= PS_HIST_BUCKETS || v < ps_hist_lower(i + 1));
        prev = i;
    }
    for (int k = 0; k < 1000000; k++) {
        uint64_t v = xorshift() >> (20 + xorshift() % 44);
        if (v > PS_HIST_MAX_VALUE)
            continue;
        uint32_t i = ps_hist_index(v);
        ASSERT(i < PS_HIST_BUCKETS);
        CHECK(ps_hist_lower(i) <= v);
        CHECK(i + 1 >= PS_HIST_BUCKETS || v < ps_hist_lower(i + 1));
        double err = fabs(ps_hist_value(i) - (double)v) / (double)(v ? v : 1);
        if (v < 128)
            CHECK(ps_hist_value(i) == (double)v);
        else if (!(err <= 1.0 / 128)) {
            fprintf(stderr, "v=%" PRIu64 " bucket %u value %f err %f\n", v, i, ps_hist_value(i), err);
            t_failures++;
        }
    }
    CHECK_EQ(ps_hist_index(UINT64_MAX), PS_HIST_BUCKETS - 1);
}

/* ---- records ------------------------------------------------------------------- */

/* A cstat as the shim encodes it, from raw values (ns). */
static uint8_t *put_cstat(uint8_t *p, const uint64_t *v, size_t n, uint64_t errors)
{
    static uint64_t b[PS_HIST_BUCKETS];
    memset(b, 0, sizeof b);
    uint64_t total = 0, max = 0;
    for (size_t i = 0; i < n; i++) {
        b[ps_hist_index(v[i])]++;
        total += v[i];
        if (v[i] > max)
            max = v[i];
    }
    p = ps_put_uv(p, n);
    p = ps_put_uv(p, errors);
    p = ps_put_uv(p, 2); /* eagain */
    p = ps_put_uv(p, 3); /* eintr */
    p = ps_put_uv(p, 4); /* partial */
    p = ps_put_uv(p, n * 100); /* bytes */
    p = ps_put_uv(p, total);
    p = ps_put_uv(p, max);
    unsigned nb = 0, prev = 0;
    for (unsigned i = 0; i < PS_HIST_BUCKETS; i++)
        nb += b[i] != 0;
    p = ps_put_uv(p, nb);
    for (unsigned i = 0; i < PS_HIST_BUCKETS; i++)
        if (b[i]) {
            p = ps_put_uv(p, i - prev);
            p = ps_put_uv(p, b[i]);
            prev = i;
        }
    return p;
}

static uint8_t rec[1 << 20];

/* CALL_STATS for SLOT: recv with the given values, requests with the same. */
static void call_stats(struct tw *w, unsigned slot, const uint64_t *v, size_t n, uint64_t errors,
                       uint64_t first, uint64_t last)
{
    uint8_t *p = rec;
    p = ps_put_uv(p, slot);
    p = ps_put_uv(p, 1);
    p = ps_put_uv(p, PS_CALL_recv);
    p = put_cstat(p, v, n, errors);
    p = put_cstat(p, v, n, 0); /* requests */
    p = ps_put_uv(p, first);
    p = ps_put_uv(p, last);
    tw_record(w, PS_REC_CALL_STATS, rec, (size_t)(p - rec));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void nop_sink(void *ctx, const struct ps_event *ev)
{
    (void)ctx;
    (void)ev;
}

static int read_w(struct tw *w, struct ps_trace **t)
{
    char path[64];
    int fd = tw_memfd(w, path, sizeof path);
    if (fd < 0)
        exit(2);
    int rc = ps_trace_read(path, nop_sink, NULL, t);
    close(fd);
    return rc;
}

/* Read W and summarize its statistics (DURATION_S for rates). */
static int read_summary(struct tw *w, struct ps_trace **t, struct ps_net_summary *s, double duration_s)
{
    int rc = read_w(w, t);
    return rc ? rc : ps_net_summarize(*t, duration_s, s);
}

/* Exact percentile: the value at rank ceil(q n), as the summary defines it. */
static double exact(const uint64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return (double)sorted[(rank ? rank : 1) - 1] / 1000.0;
}

TEST(percentiles_within_one_percent)
{
    enum { N = 20000 };
    static uint64_t v[N], all[2 * N];
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    for (unsigned slot = 0; slot < 2; slot++) {
        for (size_t i = 0; i < N; i++) {
            /* log-uniform from 1 us to 100 ms, a 5% tail at 50 ms */
            double e = (double)(xorshift() % 1000000) / 1000000.0;
            v[i] = (uint64_t)(1000.0 * pow(10.0, 5.0 * e));
            if (xorshift() % 20 == 0)
                v[i] = 50000000 + xorshift() % 1000000;
            all[slot * N + i] = v[i];
        }
        call_stats(&w, slot * 7, v, N, slot, 100 + slot, 2000000000ull + slot);
    }
    tw_end(&w, PS_EXIT_EXITED, 0, 3000000000ull);
    struct ps_trace *t = NULL;
    struct ps_net_summary s;
    ASSERT_EQ(read_summary(&w, &t, &s, 3.0), 0);
    ASSERT_EQ(s.ncalls, 1);
    CHECK_STR(s.calls[0].name, "recv");
    CHECK_EQ(s.calls[0].count, 2 * N);
    CHECK_EQ(s.calls[0].errors, 1);
    CHECK_EQ(s.calls[0].eagain, 4);
    CHECK_EQ(s.calls[0].bytes, 2 * N * 100);
    qsort(all, 2 * N, sizeof *all, cmp_u64);
    const double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999};
    const double got[] = {s.calls[0].lat.p50_us, s.calls[0].lat.p90_us, s.calls[0].lat.p95_us,
                          s.calls[0].lat.p99_us, s.calls[0].lat.p999_us};
    for (int i = 0; i < 5; i++) {
        double want = exact(all, 2 * N, qs[i]);
        if (fabs(got[i] - want) > want * 0.01) {
            fprintf(stderr, "p%g: %f us, exact %f us\n", qs[i] * 100, got[i], want);
            t_failures++;
        }
    }
    CHECK(s.calls[0].lat.max_us == (double)all[2 * N - 1] / 1000.0);
    ASSERT(s.has_requests);
    CHECK_EQ(s.requests.lat.count, 2 * N);
    /* busy from the first start (tick 100) to the last end: 2 s */
    CHECK(fabs(s.requests.busy_s - (2000000001.0 - 100.0) / 1e9) < 1e-6);
    ps_net_summary_free(&s);
    ps_trace_free(t);
    tw_fini(&w);
}

/* Records are cumulative: a slot's later record replaces its earlier one. */
TEST(last_record_wins)
{
    uint64_t a[3] = {1000, 2000, 3000}, b[5] = {1000, 2000, 3000, 4000, 5000};
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    call_stats(&w, 3, a, 3, 0, 1, 10);
    tw_round(&w, 20);
    call_stats(&w, 3, b, 5, 0, 1, 30);
    tw_end(&w, PS_EXIT_EXITED, 0, 40);
    struct ps_trace *t = NULL;
    struct ps_net_summary s;
    ASSERT_EQ(read_summary(&w, &t, &s, 1.0), 0);
    ASSERT_EQ(s.ncalls, 1);
    CHECK_EQ(s.calls[0].count, 5);
    CHECK(s.calls[0].lat.max_us == 5.0);
    CHECK(fabs(s.calls[0].lat.p50_us - 3.0) <= 0.03);
    ps_net_summary_free(&s);
    ps_trace_free(t);
    tw_fini(&w);
}

TEST(peers_and_process)
{
    uint64_t v[4] = {100000, 200000, 300000, 400000};
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    uint8_t *p = rec;
    p = ps_put_uv(p, 1);
    p = ps_put_bytes(p, "127.0.0.1:6379", 14);
    p = ps_put_uv(p, PS_PEER_OUTBOUND);
    p = ps_put_uv(p, 2);   /* connections */
    p = ps_put_uv(p, 4);   /* requests */
    p = ps_put_uv(p, 1);   /* errors */
    p = ps_put_uv(p, 400); /* bytes in */
    p = ps_put_uv(p, 80);  /* bytes out */
    p = put_cstat(p, v, 4, 0);
    p = put_cstat(p, v, 2, 0);
    tw_record(&w, PS_REC_PEER_STATS, rec, (size_t)(p - rec));
    p = rec;
    p = ps_put_uv(p, 5);        /* tick */
    p = ps_put_uv(p, 8000000);  /* cpu ns */
    p = ps_put_uv(p, 7);        /* peak */
    p = ps_put_uv(p, 0);        /* now */
    tw_record(&w, PS_REC_PROC_STATS, rec, (size_t)(p - rec));
    tw_end(&w, PS_EXIT_EXITED, 0, 40);
    struct ps_trace *t = NULL;
    struct ps_net_summary s;
    ASSERT_EQ(read_summary(&w, &t, &s, 1.0), 0);
    ASSERT_EQ(s.npeers, 1);
    CHECK_STR(s.peers[0].name, "127.0.0.1:6379");
    CHECK_EQ(s.peers[0].dir, PS_PEER_OUTBOUND);
    CHECK_EQ(s.peers[0].connections, 2);
    CHECK_EQ(s.peers[0].requests, 4);
    CHECK_EQ(s.peers[0].bytes_in, 400);
    CHECK(fabs(s.peers[0].lat.p50_us - 200.0) <= 2.0);
    CHECK(s.peers[0].lat.max_us == 400.0);
    CHECK(s.peers[0].connect.max_us == 200.0);
    CHECK_EQ(s.connections_peak, 7);
    ps_net_summary_free(&s);
    ps_trace_free(t);
    tw_fini(&w);
}

/* A bucket past the histogram's end is corruption, with the offset. */
TEST(corrupt_stats_refused)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    uint8_t *p = rec;
    p = ps_put_uv(p, 0);
    p = ps_put_uv(p, 1);
    p = ps_put_uv(p, PS_CALL_send);
    for (int i = 0; i < 8; i++)
        p = ps_put_uv(p, 1);
    p = ps_put_uv(p, 1);                    /* one bucket ... */
    p = ps_put_uv(p, PS_HIST_BUCKETS + 5);  /* ... out of range */
    p = ps_put_uv(p, 1);
    tw_record(&w, PS_REC_CALL_STATS, rec, (size_t)(p - rec));
    struct ps_trace *t = NULL;
    CHECK_EQ(read_w(&w, &t), PS_ECORRUPT);
    CHECK(strstr(ps_error_detail(PS_ECORRUPT), "statistics record at offset") != NULL);
    CHECK(t == NULL);
    tw_fini(&w);
}

/* ---- OFFCPU events --------------------------------------------------------------- */

static void th_offcpu(struct tw_thread *t, uint64_t tick, uint64_t ns, unsigned call, uint32_t stack)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_OFFCPU;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = ps_put_uv(p, ns);
    p = ps_put_uv(p, call);
    p = ps_put_uv(p, stack);
    th_done(t, p);
}

static void th_cpu(struct tw_thread *t, uint64_t tick, uint64_t tid, uint32_t stack, uint64_t n)
{
    uint8_t *p = th_at(t);
    *p++ = PS_EV_CPU_SAMPLE;
    p = ps_put_uv(p, th_dtick(t, tick));
    p = ps_put_uv(p, tid);
    p = ps_put_uv(p, stack);
    p = ps_put_uv(p, n);
    th_done(t, p);
}

static uint64_t cpu_samples, cpu_events, cpu_tid;
static void cpu_sink(void *ctx, const struct ps_event *ev)
{
    (void)ctx;
    if (ev->kind == PS_EV_CPU_SAMPLE) {
        cpu_samples += ev->size;
        cpu_events++;
        cpu_tid = ev->tid;
    }
}

/* CPU_SAMPLE: refused before version 3; read with its tid and weight, and
 * PROCESS.cpu_hz, from version 3 on. */
TEST(cpu_sample_events)
{
    for (int version = 2; version <= 3; version++) {
        struct tw w;
        tw_init(&w);
        const char *argv[] = {"x"};
        tw_header(&w, (uint32_t)version);
        w.cpu_hz = version == 3 ? 99 : 0;
        tw_process(&w, 1, 0, PS_CLOCK_MONOTONIC, 1000000000, 1, "x", 1, argv);
        static struct tw_thread a;
        memset(&a, 0, sizeof a);
        a.serial = 1;
        uint64_t ips[2] = {0x1001, 0x2000};
        th_stack(&a, 1, ips, 2);
        th_cpu(&a, 100, 4242, 1, 1);
        th_cpu(&a, 110, 4242, 1, 3); /* two overruns */
        tw_chunk(&w, &a);
        tw_end(&w, PS_EXIT_EXITED, 0, 300);
        char path[64];
        int fd = tw_memfd(&w, path, sizeof path);
        struct ps_trace *t = NULL;
        cpu_samples = cpu_events = cpu_tid = 0;
        int rc = ps_trace_read(path, cpu_sink, NULL, &t);
        close(fd);
        if (version == 2) {
            CHECK_EQ(rc, PS_ECORRUPT);
        } else {
            ASSERT_EQ(rc, 0);
            CHECK_EQ(cpu_events, 2);
            CHECK_EQ(cpu_samples, 4);
            CHECK_EQ(cpu_tid, 4242);
            CHECK_EQ(t->proc.cpu_hz, 99);
        }
        ps_trace_free(t);
        tw_fini(&w);
    }
}

static struct ps_tally off;
static void off_sink(void *ctx, const struct ps_event *ev)
{
    (void)ctx;
    if (ev->kind == PS_EV_OFFCPU)
        ps_tally_add(&off, ev->stack, (uint32_t)ev->addr, 0, ev->size, 1);
}

TEST(offcpu_events)
{
    for (int version = 1; version <= 2; version++) {
        struct tw w;
        tw_init(&w);
        const char *argv[] = {"x"};
        tw_header(&w, (uint32_t)version);
        tw_process(&w, 1, 0, PS_CLOCK_MONOTONIC, 1000000000, 1, "x", 1, argv);
        static struct tw_thread a;
        memset(&a, 0, sizeof a);
        a.serial = 1;
        uint64_t ips[2] = {0x1000, 0x2000};
        th_stack(&a, 1, ips, 2);
        for (int i = 0; i < 10; i++)
            th_offcpu(&a, 100 + (uint64_t)i, 2000000, PS_CALL_nanosleep, 1);
        th_offcpu(&a, 200, 5000000, PS_CALL_recv, 1);
        tw_chunk(&w, &a);
        tw_end(&w, PS_EXIT_EXITED, 0, 300);
        char path[64];
        int fd = tw_memfd(&w, path, sizeof path);
        struct ps_trace *t = NULL;
        memset(&off, 0, sizeof off);
        int rc = ps_trace_read(path, off_sink, NULL, &t);
        close(fd);
        if (version == 1) { /* an event kind version 1 did not have */
            CHECK_EQ(rc, PS_ECORRUPT);
        } else {
            ASSERT_EQ(rc, 0);
            CHECK_EQ(off.n, 2);
            uint64_t sleep_ns = 0, recv_ns = 0;
            for (size_t i = 0; i < off.cap; i++) {
                if (off.e[i].count && off.e[i].call == PS_CALL_nanosleep) {
                    sleep_ns = off.e[i].weight;
                    CHECK_EQ(off.e[i].count, 10);
                }
                if (off.e[i].count && off.e[i].call == PS_CALL_recv)
                    recv_ns = off.e[i].weight;
            }
            CHECK_EQ(sleep_ns, 20000000);
            CHECK_EQ(recv_ns, 5000000);
        }
        ps_tally_free(&off);
        ps_trace_free(t);
        tw_fini(&w);
    }
}
