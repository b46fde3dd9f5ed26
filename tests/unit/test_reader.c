/* The reader and the merge (analyzer/reader.c, merge.c) on synthetic trace
 * files made with tracewriter.h: delivery in global tick order across
 * threads, chunks and rounds; REALLOC halves; forward stack references;
 * version and corruption errors; a file cut at every offset. */
#include "harness.h"

#include "errors.h"
#include "heap.h"
#include "trace.h"
#include "tracewriter.h"

/* ---- a sink that keeps what it gets ---------------------------------------- */

struct got {
    struct ps_event ev[20000];
    size_t n;
    struct ps_heap *heap; /* also fed when set */
};

static void sink(void *ctx, const struct ps_event *ev)
{
    struct got *g = ctx;
    if (g->n < sizeof g->ev / sizeof g->ev[0])
        g->ev[g->n] = *ev;
    g->n++;
    if (g->heap) {
        ps_heap_event(g->heap, ev);
        ps_heap_flush(g->heap); /* the tests read counters as they go */
    }
}

/* Read W through the reader.  Returns its result; *T is the trace or NULL. */
static int read_tw(const struct tw *w, size_t len, struct got *g, struct ps_trace **t)
{
    char path[64];
    int fd = tw_memfd_n(w, len, path, sizeof path);
    if (fd < 0) {
        perror("memfd_create");
        exit(2);
    }
    g->n = 0;
    int rc = ps_trace_read(path, sink, g, t);
    close(fd);
    return rc;
}

static struct got g; /* large: not on the stack */

/* End of a case that read W into T with a heap attached. */
static void finish(struct tw *w, struct ps_trace *t)
{
    ps_heap_free(g.heap);
    g.heap = NULL;
    ps_trace_free(t);
    tw_fini(w);
}

/* ---- ordering ---------------------------------------------------------------- */

/* Two threads whose events alternate in time, written as the shim writes
 * them: each thread's chunk holds a run of its events, the chunks of one
 * round come in any thread order, and a ROUND follows. */
TEST(two_threads_interleave)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.serial = 1;
    b.serial = 2;
    th_thread_start(&a, 5, 100);
    th_alloc(&a, 10, 0x1000, 1, 0);
    th_alloc(&a, 30, 0x1010, 3, 0);
    th_thread_start(&b, 6, 101);
    th_alloc(&b, 20, 0x2000, 2, 0);
    th_alloc(&b, 40, 0x2010, 4, 0);
    tw_chunk(&w, &b); /* the later thread first */
    tw_chunk(&w, &a);
    tw_round(&w, 45);
    th_alloc(&a, 50, 0x1020, 5, 0);
    th_alloc(&b, 60, 0x2020, 6, 0);
    th_alloc(&a, 70, 0x1030, 7, 0);
    tw_chunk(&w, &a);
    th_alloc(&b, 80, 0x2030, 8, 0);
    tw_chunk(&w, &b);
    tw_round(&w, 85);
    th_free(&b, 100, 0x2000);
    th_thread_exit(&b, 101);
    tw_chunk(&w, &b);
    th_free(&a, 90, 0x1000);
    th_thread_exit(&a, 102);
    tw_chunk(&w, &a);
    tw_end(&w, PS_EXIT_EXITED, 3, 110);

    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    ASSERT_EQ(rc, 0);
    ASSERT(t);
    const uint64_t ticks[] = {5, 6, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 101, 102};
    const uint8_t kinds[] = {PS_EV_THREAD_START, PS_EV_THREAD_START, PS_EV_ALLOC, PS_EV_ALLOC,
                             PS_EV_ALLOC, PS_EV_ALLOC, PS_EV_ALLOC, PS_EV_ALLOC, PS_EV_ALLOC,
                             PS_EV_ALLOC, PS_EV_FREE, PS_EV_FREE, PS_EV_THREAD_EXIT,
                             PS_EV_THREAD_EXIT};
    ASSERT_EQ(g.n, sizeof ticks / sizeof ticks[0]);
    for (size_t i = 0; i < g.n; i++) {
        CHECK_EQ(g.ev[i].tick, ticks[i]);
        CHECK_EQ(g.ev[i].kind, kinds[i]);
    }
    /* sizes 1..8 were allocated in tick order */
    uint64_t size = 1;
    for (size_t i = 0; i < g.n; i++)
        if (g.ev[i].kind == PS_EV_ALLOC)
            CHECK_EQ(g.ev[i].size, size++);
    CHECK_EQ(g.ev[0].tid, 100);
    CHECK_EQ(g.ev[0].thread, 1);
    CHECK_EQ(g.ev[1].tid, 101);
    CHECK_EQ(g.ev[1].thread, 2);
    CHECK_EQ(g.ev[10].addr, 0x1000);
    CHECK_EQ(g.ev[11].addr, 0x2000);
    CHECK_EQ(t->events, g.n);
    CHECK_EQ(t->last_tick, 102);
    CHECK(t->end.has_end);
    CHECK(!t->end.truncated);
    CHECK_EQ(t->end.kind, PS_EXIT_EXITED);
    CHECK_EQ(t->end.code, 3);
    CHECK_EQ(t->end.end_tick, 110);
    CHECK_EQ(t->proc.pid, 4242);
    CHECK_EQ(t->proc.argc, 3);
    CHECK_STR(t->proc.exe, "/bin/prog");
    CHECK_STR(t->proc.argv[2], "arg two");
    CHECK(t->proc.argv[3] == NULL);
    CHECK_EQ(t->nsyncs, 4); /* PROCESS, two ROUNDs, END */
    ps_trace_free(t);
    tw_fini(&w);
}

/* xorshift64*: deterministic. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Many threads, many rounds, random chunking, exercising the round
 * promise to its limit: before ROUND k (tick R_k) every event with tick
 * <= R_(k-1) has been written, and nothing more is promised; events of
 * (R_(k-1), R_k] may come after ROUND k.  Ticks are distinct across
 * threads, so the expected order is the sorted order of all ticks. */
TEST(random_interleave_rounds)
{
    enum { NT = 5, PER = 600, ROUNDS = 12 };
    static uint64_t tick[NT][PER];
    static struct tw_thread th[NT];
    size_t next[NT] = {0};
    rng_state = 7;
    /* distinct ticks: thread i gets ticks = i (mod NT) */
    for (int i = 0; i < NT; i++) {
        uint64_t tk = 100 + (uint64_t)i;
        for (int k = 0; k < PER; k++) {
            tk += NT * (1 + rnd() % 20);
            tick[i][k] = tk;
        }
        memset(&th[i], 0, sizeof th[i]);
        th[i].serial = (uint32_t)(i * 3 + 1); /* sparse serials */
    }
    uint64_t max_tick = 0;
    for (int i = 0; i < NT; i++)
        if (tick[i][PER - 1] > max_tick)
            max_tick = tick[i][PER - 1];
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    uint64_t prev_round = 0;
    for (int r = 1; r <= ROUNDS + 1; r++) {
        uint64_t round = r <= ROUNDS ? max_tick * (uint64_t)r / (ROUNDS + 1) : UINT64_MAX;
        int order[NT];
        for (int i = 0; i < NT; i++)
            order[i] = i;
        for (int i = NT - 1; i > 0; i--) {
            int j = (int)(rnd() % (uint64_t)(i + 1)), x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        for (int oi = 0; oi < NT; oi++) {
            int i = order[oi];
            /* must: everything <= prev_round; may: anything up to round */
            size_t must = next[i];
            while (must < PER && tick[i][must] <= prev_round)
                must++;
            size_t may = must;
            while (may < PER && tick[i][may] <= round)
                may++;
            size_t upto = r > ROUNDS ? PER : must + (may > must ? rnd() % (may - must + 1) : 0);
            /* in up to three chunks */
            while (next[i] < upto) {
                size_t n = 1 + rnd() % (upto - next[i]);
                for (size_t k = next[i]; k < next[i] + n; k++) {
                    uint64_t addr = 0x10000000ull * (uint64_t)(i + 1) + 16 * k;
                    th_alloc(&th[i], tick[i][k], addr, tick[i][k], (uint32_t)i);
                }
                next[i] += n;
                tw_chunk(&w, &th[i]);
            }
        }
        if (r <= ROUNDS)
            tw_round(&w, round);
        prev_round = round;
    }
    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(g.n, NT * PER);
    for (size_t k = 1; k < g.n; k++) {
        if (g.ev[k].tick <= g.ev[k - 1].tick) {
            fprintf(stderr, "event %zu: tick %" PRIu64 " after %" PRIu64 "\n", k, g.ev[k].tick,
                    g.ev[k - 1].tick);
            t_failures++;
            break;
        }
    }
    for (size_t k = 0; k < g.n; k++) {
        /* size was set to the tick; thread from the tick's residue */
        CHECK_EQ(g.ev[k].size, g.ev[k].tick);
        CHECK_EQ(g.ev[k].thread, ((g.ev[k].tick - 100) % NT) * 3 + 1);
        if (t_failures > 20)
            break;
    }
    CHECK(!t->end.truncated);
    CHECK(!t->end.has_end);
    ps_trace_free(t);
    tw_fini(&w);
}

/* Thread A frees X; later thread B gets X from malloc.  B's chunk is in
 * the file first and B has the lower serial, so only the ticks order
 * them; the heap must see free-then-alloc: no unknown free, no block
 * reused while live. */
TEST(free_then_malloc_across_threads)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.serial = 7;
    b.serial = 2;
    th_alloc(&a, 10, 0xabc0, 64, 0);
    th_free(&a, 30, 0xabc0);
    th_alloc(&b, 31, 0xabc0, 128, 0);
    tw_chunk(&w, &b);
    tw_chunk(&w, &a);
    tw_end(&w, PS_EXIT_EXITED, 0, 40);
    struct ps_trace *t = NULL;
    g.heap = ps_heap_new();
    ASSERT(g.heap);
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK_EQ(rc, 0);
    ASSERT_EQ(g.n, 3);
    CHECK_EQ(g.ev[0].tick, 10);
    CHECK_EQ(g.ev[1].kind, PS_EV_FREE);
    CHECK_EQ(g.ev[1].thread, 7);
    CHECK_EQ(g.ev[2].kind, PS_EV_ALLOC);
    CHECK_EQ(g.ev[2].thread, 2);
    CHECK_EQ(g.heap->unknown_frees, 0);
    CHECK_EQ(g.heap->reused_live, 0);
    CHECK_EQ(g.heap->frees, 1);
    CHECK_EQ(g.heap->allocations, 2);
    CHECK_EQ(g.heap->heap_bytes, 128);
    CHECK_EQ(g.heap->peak_bytes, 128);
    finish(&w, t);
}

/* A REALLOC reaches the sink as a FREE at its first tick and an ALLOC at
 * its second, both marked; another thread's event between the two ticks
 * is delivered between the halves. */
TEST(realloc_halves)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.serial = 1;
    b.serial = 2;
    th_alloc(&a, 5, 0x7000, 10, 3);
    th_realloc(&a, 10, 30, 0x7000, 0x9000, 500, 4);
    th_free(&a, 40, 0x9000);
    th_alloc(&b, 20, 0x8000, 1, 0);
    tw_chunk(&w, &a);
    tw_chunk(&w, &b);
    struct ps_trace *t = NULL;
    g.heap = ps_heap_new();
    ASSERT(g.heap);
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK_EQ(rc, 0);
    ASSERT_EQ(g.n, 5);
    CHECK_EQ(g.ev[1].kind, PS_EV_FREE);
    CHECK(g.ev[1].realloc);
    CHECK_EQ(g.ev[1].tick, 10);
    CHECK_EQ(g.ev[1].addr, 0x7000);
    CHECK_EQ(g.ev[2].tick, 20);
    CHECK_EQ(g.ev[2].thread, 2);
    CHECK(!g.ev[2].realloc);
    CHECK_EQ(g.ev[3].kind, PS_EV_ALLOC);
    CHECK(g.ev[3].realloc);
    CHECK_EQ(g.ev[3].tick, 30);
    CHECK_EQ(g.ev[3].addr, 0x9000);
    CHECK_EQ(g.ev[3].size, 500);
    CHECK_EQ(g.ev[3].stack, 4);
    CHECK_EQ(g.ev[4].kind, PS_EV_FREE);
    CHECK(!g.ev[4].realloc);
    CHECK_EQ(g.ev[4].addr, 0x9000); /* the address delta continued from the new block */
    CHECK_EQ(g.heap->allocations, 2);
    CHECK_EQ(g.heap->reallocations, 1);
    CHECK_EQ(g.heap->frees, 1);
    CHECK_EQ(g.heap->unknown_frees, 0);
    CHECK_EQ(g.heap->heap_bytes, 1);
    CHECK_EQ(g.heap->peak_bytes, 501);
    CHECK(t->end.truncated == false);
    finish(&w, t);
}

/* An ALLOC names stack 5 before any STACK defines it; the definition
 * comes in a later chunk of another thread.  After reading, the stack
 * table has it. */
TEST(stack_forward_reference)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.serial = 1;
    b.serial = 2;
    th_alloc(&a, 10, 0x1000, 8, 5);
    tw_chunk(&w, &a);
    tw_round(&w, 15);
    const uint64_t ips[] = {0x401234, 0x400100, 0x7fff00001000};
    th_stack(&b, 5, ips, 3);
    th_alloc(&b, 20, 0x2000, 8, 5);
    tw_chunk(&w, &b);
    tw_round(&w, 25);
    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(g.n, 2);
    CHECK_EQ(g.ev[0].stack, 5);
    CHECK_EQ(g.ev[1].stack, 5);
    ASSERT(t->nstacks > 5);
    ASSERT_EQ(t->stacks[5].depth, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(t->stacks[5].ips[i], ips[i]);
    CHECK_EQ(t->stacks[4].depth, 0); /* never defined */
    CHECK_EQ(t->stacks[5].tick, 0);  /* the thread's tick when defined: none yet */
    ps_trace_free(t);
    tw_fini(&w);
}

/* Modules, EXEC and EXIT_SIGNAL reach the trace. */
TEST(metadata)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a;
    memset(&a, 0, sizeof a);
    a.serial = 1;
    const uint8_t bid[] = {0xde, 0xad, 0xbe, 0xef};
    const uint64_t segs[][3] = {{0, 0x1000, 4}, {0x1000, 0x2000, 5}, {0x3000, 0x100, 6}};
    th_module_load(&a, 3, 9, "/lib/libx.so", 0x7f0000000000, bid, 4, segs, 3);
    th_module_unload(&a, 7, 9);
    /* no build id: a non-NULL pointer, since ps_put_bytes memcpy's even 0
     * bytes and memcpy(p, NULL, 0) is undefined (UBSan says so) */
    th_module_load(&a, 8, 9, "/lib/liby.so", 0x7f0000100000, bid, 0, segs, 3);
    th_exec(&a, 9, "/bin/next");
    tw_chunk(&w, &a);
    uint8_t sig[1];
    ps_put_uv(sig, 9);
    tw_record(&w, PS_REC_EXIT_SIGNAL, sig, 1);
    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(t->nmodules, 2);
    CHECK_STR(t->modules[0].m.path, "/lib/libx.so");
    CHECK_EQ(t->modules[0].m.lo, 0x7f0000001000);
    CHECK_EQ(t->modules[0].m.hi, 0x7f0000003000);
    CHECK_EQ(t->modules[0].m.build_id_len, 4);
    CHECK_EQ(t->modules[0].load_tick, 3);
    CHECK_EQ(t->modules[0].unload_tick, 7);
    CHECK_EQ(t->modules[1].unload_tick, UINT64_MAX);
    CHECK_EQ(t->modules[1].shim_id, 9);
    CHECK(ps_trace_module_at(t, 0x7f0000001800, 5) == &t->modules[0].m);
    CHECK(ps_trace_module_at(t, 0x7f0000101800, 9) == &t->modules[1].m);
    CHECK(t->end.exec_seen);
    CHECK_STR(t->end.exec_path, "/bin/next");
    CHECK_EQ(t->end.signal, 9);
    char buf[32];
    CHECK_STR(ps_trace_exit_string(t, buf, sizeof buf), "signal 9");
    ps_trace_free(t);
    tw_fini(&w);
}

/* CHUNK_ZSTD records decode to the same events as CHUNK, mixed freely in
 * one thread's stream (the shim compresses only on its flusher thread). */
TEST(zstd_chunks)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.serial = 1;
    b.serial = 2;
    uint64_t tk = 10;
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 200; i++, tk += 2) {
            th_alloc(&a, tk, 0x100000 + 32 * (uint64_t)i, 32, 1);
            th_free(&b, tk + 1, 0x100000 + 32 * (uint64_t)i);
        }
        if (k % 2)
            tw_chunk(&w, &a);
        else
            tw_chunk_zstd(&w, &a, 1 + k);
        tw_chunk_zstd(&w, &b, 3);
        tw_round(&w, tk - 1);
    }
    struct ps_trace *t = NULL;
    g.heap = ps_heap_new();
    ASSERT(g.heap);
    int rc = read_tw(&w, w.len, &g, &t);
    ASSERT_EQ(rc, 0);
    CHECK_EQ(g.n, 1600);
    for (size_t i = 1; i < g.n && i < 20000; i++)
        if (g.ev[i].tick != g.ev[i - 1].tick + 1) {
            CHECK_EQ(g.ev[i].tick, g.ev[i - 1].tick + 1);
            break;
        }
    CHECK_EQ(g.heap->allocations, 800);
    CHECK_EQ(g.heap->frees, 800);
    CHECK_EQ(g.heap->unknown_frees, 0);
    CHECK_EQ(g.heap->heap_bytes, 0);
    CHECK_EQ(g.heap->peak_bytes, 32);
    finish(&w, t);
}

/* A CHUNK_ZSTD whose frame is damaged, or whose frame decodes to another
 * length than the record says, is corrupt. */
TEST(zstd_corrupt)
{
    for (int variant = 0; variant < 4; variant++) {
        struct tw w;
        tw_init(&w);
        tw_start(&w);
        static struct tw_thread a;
        memset(&a, 0, sizeof a);
        a.serial = 1;
        for (int i = 0; i < 300; i++)
            th_alloc(&a, 10 + (uint64_t)i, 0x5000 + 16 * (uint64_t)i, 16, 0);
        size_t rec = w.len, evlen = a.len;
        tw_chunk_zstd(&w, &a, 1);
        /* find the raw length: after the kind, the record length, the serial */
        const uint8_t *q = w.buf + rec + 1;
        uint64_t v = 0;
        ASSERT_EQ(ps_get_uv(&q, w.buf + w.len, &v), 0);
        ASSERT_EQ(ps_get_uv(&q, w.buf + w.len, &v), 0);
        uint8_t *raw_len = w.buf + (q - w.buf);
        ASSERT(evlen - 1 >= 128 && evlen + 1 < 16384); /* two bytes either way */
        switch (variant) {
        case 0: /* a byte of the frame's payload flipped */
            w.buf[w.len - 5] ^= 0x55;
            break;
        case 1: /* the magic number damaged */
            raw_len[2] ^= 0xff;
            break;
        case 2: /* raw length one less than the frame's content */
            ps_put_uv(raw_len, evlen - 1);
            break;
        case 3: /* raw length one more */
            ps_put_uv(raw_len, evlen + 1);
            break;
        }
        struct ps_trace *t = NULL;
        int rc = read_tw(&w, w.len, &g, &t);
        if (rc != PS_ECORRUPT)
            fprintf(stderr, "variant %d\n", variant);
        CHECK_EQ(rc, PS_ECORRUPT);
        CHECK(t == NULL);
        ps_trace_free(t);
        tw_fini(&w);
    }
}

/* A CHUNK_ZSTD of no events: raw length 0 and a valid empty frame.  The
 * shim never writes one (it compresses 512 bytes or more), but a reader
 * must take it like an empty CHUNK. */
TEST(zstd_empty_chunk)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a;
    memset(&a, 0, sizeof a);
    a.serial = 1;
    tw_chunk_zstd(&w, &a, 1);
    th_alloc(&a, 10, 0x5000, 16, 0);
    tw_chunk(&w, &a);
    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK_EQ(rc, 0);
    CHECK_EQ(g.n, 1);
    ps_trace_free(t);
    tw_fini(&w);
}

/* ---- errors ---------------------------------------------------------------- */

TEST(version_4_refused)
{
    struct tw w;
    tw_init(&w);
    const char *argv[] = {"x"};
    tw_header(&w, 4);
    tw_process(&w, 1, 0, PS_CLOCK_MONOTONIC, 1000000000, 0, "x", 1, argv);
    struct ps_trace *t = (struct ps_trace *)&w; /* must be reset to NULL */
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK_EQ(rc, PS_EVERSION);
    CHECK(t == NULL);
    const char *msg = ps_error_detail(rc);
    CHECK(strstr(msg, "version 4") != NULL);
    CHECK(strstr(msg, "versions 1 to 3") != NULL);
    if (!strstr(msg, "version 4") || !strstr(msg, "versions 1 to 3"))
        fprintf(stderr, "message: %s\n", msg);
    tw_fini(&w);
}

/* Record kinds below PS_REC_FIRST_OPTIONAL (64) that this reader does not
 * know are refused as corrupt; kinds from 64 up are optional and skipped,
 * and what follows them is still read. */
TEST(unknown_record_kind)
{
    for (unsigned kind = 0; kind < 256; kind++) {
        /* the kinds this reader knows: required 1..LAST_REQUIRED, and the
         * optional statistics records (their payloads are checked) */
        if ((kind >= 1 && kind <= PS_REC_LAST_REQUIRED) ||
            (kind >= PS_REC_FIRST_OPTIONAL && kind < PS_REC_MAX_))
            continue;
        bool optional = kind >= PS_REC_FIRST_OPTIONAL;
        struct tw w;
        tw_init(&w);
        tw_start(&w);
        const uint8_t payload[3] = {1, 2, 3};
        tw_record(&w, (uint8_t)kind, payload, sizeof payload);
        tw_end(&w, PS_EXIT_EXITED, 0, 10);
        struct ps_trace *t = NULL;
        int rc = read_tw(&w, w.len, &g, &t);
        int before = t_failures;
        if (optional) {
            CHECK_EQ(rc, 0);
            CHECK(t && t->end.has_end && !t->end.truncated);
        } else {
            CHECK_EQ(rc, PS_ECORRUPT);
            CHECK(t == NULL);
            CHECK(strstr(ps_error_detail(rc), "offset") != NULL);
        }
        if (t_failures != before)
            fprintf(stderr, "(record kind %u)\n", kind);
        ps_trace_free(t);
        tw_fini(&w);
    }
}

TEST(unknown_event_kind)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a;
    memset(&a, 0, sizeof a);
    a.serial = 1;
    th_alloc(&a, 10, 0x1000, 8, 0);
    const uint8_t bad[] = {PS_EV_MAX_, 0, 0};
    th_raw(&a, bad, sizeof bad);
    tw_chunk(&w, &a);
    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK_EQ(rc, PS_ECORRUPT);
    CHECK(t == NULL);
    tw_fini(&w);
}

/* A CHUNK record that is complete while its last event is not: the record
 * length is trusted, so this is corruption, not truncation. */
TEST(event_cut_inside_chunk)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a;
    memset(&a, 0, sizeof a);
    a.serial = 1;
    th_alloc(&a, 10, 0x1000, 300, 0);
    a.len -= 2; /* drop the size's second byte and the stack */
    tw_chunk(&w, &a);
    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK_EQ(rc, PS_ECORRUPT);
    CHECK(t == NULL);
    tw_fini(&w);
}

TEST(first_record_not_process)
{
    struct tw w;
    tw_init(&w);
    tw_header(&w, PS_TRACE_VERSION);
    tw_round(&w, 10);
    struct ps_trace *t = NULL;
    CHECK_EQ(read_tw(&w, w.len, &g, &t), PS_ECORRUPT);
    tw_fini(&w);
}

TEST(second_process_record)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    const char *argv[] = {"x"};
    tw_process(&w, 1, 0, PS_CLOCK_MONOTONIC, 1000000000, 0, "x", 1, argv);
    struct ps_trace *t = NULL;
    CHECK_EQ(read_tw(&w, w.len, &g, &t), PS_ECORRUPT);
    tw_fini(&w);
}

/* A record length varint of 11 bytes is corrupt, not truncated. */
TEST(overlong_record_length)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    uint8_t bad[12] = {PS_REC_ROUND};
    memset(bad + 1, 0x80, 10);
    bad[11] = 0;
    tw_raw(&w, bad, sizeof bad);
    struct ps_trace *t = NULL;
    CHECK_EQ(read_tw(&w, w.len, &g, &t), PS_ECORRUPT);
    tw_fini(&w);
}

TEST(not_a_trace)
{
    struct tw w;
    tw_init(&w);
    tw_raw(&w, "#!/bin/sh\necho hello world\n", 27);
    struct ps_trace *t = NULL;
    CHECK_EQ(read_tw(&w, w.len, &g, &t), PS_ENOTTRACE);
    CHECK_EQ(read_tw(&w, 0, &g, &t), PS_EEMPTY);
    CHECK_EQ(ps_trace_read("/nonexistent/perfshim-test.trace", sink, &g, &t), PS_ENOTFOUND);
    CHECK(t == NULL);
    tw_fini(&w);
}

/* ---- truncation ---------------------------------------------------------- */

/* A trace with every kind of record and event, cut at every length.
 * Inside the 16-byte header: an error.  From there on: success, with
 * end.truncated set exactly when the cut is inside a record, and never
 * fewer events than a shorter cut gave. */
TEST(truncated_at_every_offset)
{
    struct tw w;
    tw_init(&w);
    tw_start(&w);
    static struct tw_thread a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.serial = 1;
    b.serial = 2;
    const uint8_t bid[20] = {1, 2, 3};
    const uint64_t segs[][3] = {{0, 0x1000, 5}};
    const uint64_t ips[] = {0x401000, 0x402000};
    th_thread_start(&a, 2, 1000);
    th_module_load(&a, 3, 1, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000000, bid, 20,
                   segs, 1);
    th_stack(&a, 1, ips, 2);
    th_alloc(&a, 4, 0x5000, 100, 1);
    th_realloc(&a, 5, 6, 0x5000, 0x6000, 200, 1);
    tw_chunk(&w, &a);
    th_thread_start(&b, 7, 1001);
    th_alloc(&b, 8, 0x7000, 300000, 1);
    th_free(&b, 9, 0x6000);
    tw_chunk(&w, &b);
    tw_round(&w, 9);
    th_free(&a, 10, 0x7000);
    th_module_unload(&a, 11, 1);
    th_exec(&a, 12, "/bin/true");
    tw_chunk(&w, &a);
    th_thread_exit(&b, 13);
    tw_chunk_zstd(&w, &b, 1);
    tw_round(&w, 14);
    tw_end(&w, PS_EXIT_EXITED, 0, 15);
    uint8_t sig[1] = {15};
    tw_record(&w, PS_REC_EXIT_SIGNAL, sig, 1);

    uint64_t prev_events = 0;
    for (size_t cut = 0; cut <= w.len; cut++) {
        struct ps_trace *t = NULL;
        g.heap = ps_heap_new();
        ASSERT(g.heap);
        int rc = read_tw(&w, cut, &g, &t);
        bool boundary = cut == w.len;
        for (size_t r = 0; r < w.nrec; r++)
            boundary |= w.rec_off[r] == cut;
        int before = t_failures;
        if (cut == 0) {
            CHECK_EQ(rc, PS_EEMPTY);
        } else if (cut < PS_TRACE_HEADER_LEN) {
            CHECK_EQ(rc, PS_ECORRUPT);
            CHECK(t == NULL);
        } else {
            CHECK_EQ(rc, 0);
            if (t) {
                /* only the header: nothing to read, reported as truncated */
                bool want_trunc = !boundary || cut == PS_TRACE_HEADER_LEN;
                CHECK_EQ(t->end.truncated, want_trunc);
                CHECK_EQ(t->events, g.n);
                CHECK(g.n >= prev_events);
                CHECK(t->proc.exe != NULL);
                prev_events = g.n;
                CHECK_EQ(g.heap->error, 0);
            }
        }
        if (t_failures != before)
            fprintf(stderr, "(cut at %zu of %zu bytes)\n", cut, w.len);
        ps_trace_free(t);
        ps_heap_free(g.heap);
        g.heap = NULL;
        if (t_failures > 20)
            break;
    }
    CHECK_EQ(prev_events, 10);
    tw_fini(&w);
}

/* ---- inputs found by fuzzing (tests/fuzz) -------------------------------- */

/* Minimal process record: pid 0, ppid 0, monotonic, hz 1, times 0, empty
 * version and exe, no argv. */
static void tw_tiny_start(struct tw *w)
{
    static const uint8_t proc[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    tw_header(w, PS_TRACE_VERSION);
    tw_record(w, PS_REC_PROCESS, proc, sizeof proc);
}

/* A first record with an empty payload: corrupt, and no pointer
 * arithmetic on the reader's not yet allocated buffer (UBSan: "applying
 * zero offset to null pointer" in read_records). */
TEST(fuzz_empty_first_record)
{
    struct tw w;
    tw_init(&w);
    tw_header(&w, PS_TRACE_VERSION);
    tw_record(&w, PS_REC_PROCESS, "", 0);
    struct ps_trace *t = NULL;
    CHECK_EQ(read_tw(&w, w.len, &g, &t), PS_ECORRUPT);
    tw_fini(&w);
    tw_init(&w);
    tw_header(&w, PS_TRACE_VERSION);
    tw_record(&w, 200, "", 0); /* optional, empty, before PROCESS */
    CHECK_EQ(read_tw(&w, w.len, &g, &t), 0);
    ps_trace_free(t);
    tw_fini(&w);
}

/* Stack ids in events are 32-bit and come from the file: a huge one must
 * not make the analysis allocate memory in proportion to it (a 40-byte
 * file asked for 128 GiB: "out of memory", or the OOM killer where memory
 * is overcommitted).  Acceptable: corrupt, or read with the id kept. */
TEST(fuzz_huge_stack_id_in_alloc)
{
    struct tw w;
    tw_init(&w);
    tw_tiny_start(&w);
    static struct tw_thread a;
    memset(&a, 0, sizeof a);
    a.serial = 1;
    th_alloc(&a, 1, 0x1000, 1, UINT32_MAX);
    tw_chunk(&w, &a);
    struct ps_trace *t = NULL;
    g.heap = ps_heap_new();
    ASSERT(g.heap);
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK(rc == 0 || rc == PS_ECORRUPT);
    if (rc != 0 && rc != PS_ECORRUPT)
        fprintf(stderr, "rc %d: %s\n", rc, ps_error_detail(rc));
    if (rc == 0) {
        ps_heap_finish(g.heap);
        CHECK_EQ(g.heap->error, 0);
    }
    finish(&w, t);
}

/* The same for a STACK definition: id 2^30 is accepted by define_stack
 * and sized the stack table to 2^31 entries (48 GiB). */
TEST(fuzz_huge_stack_id_in_definition)
{
    struct tw w;
    tw_init(&w);
    tw_tiny_start(&w);
    static struct tw_thread a;
    memset(&a, 0, sizeof a);
    a.serial = 1;
    const uint64_t ips[] = {0x401000};
    th_stack(&a, 1u << 30, ips, 1);
    tw_chunk(&w, &a);
    struct ps_trace *t = NULL;
    int rc = read_tw(&w, w.len, &g, &t);
    CHECK(rc == 0 || rc == PS_ECORRUPT);
    if (rc != 0 && rc != PS_ECORRUPT)
        fprintf(stderr, "rc %d: %s\n", rc, ps_error_detail(rc));
    ps_trace_free(t);
    tw_fini(&w);
}
