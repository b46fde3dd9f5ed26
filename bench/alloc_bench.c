/*
 * alloc_bench: allocation micro-benchmark for measuring the overhead of
 * heap profilers (perfshim, heaptrack, ...).
 *
 * Each worker thread keeps a working set of live blocks.  One operation frees
 * a randomly chosen live block and allocates a replacement, so frees are in
 * random (not LIFO) order and the allocator sees realistic fragmentation.
 * Every allocation is made at a call-stack depth of 10..20 frames reached by
 * recursing through four distinct noinline functions; the path through them is
 * derived from a "site" number, giving STACKS distinct allocation stacks
 * (default 300), with a skew: half of all allocations come from 16 hot sites.
 * Sizes are skewed towards small blocks (55% 16..64 B, 25% 65..256 B,
 * 13% 257..1 KiB, 6% 1..4 KiB, 0.9% 4..32 KiB, 0.1% 32..256 KiB), rounded
 * up to a multiple of GRANULE bytes (default 16).
 *
 * stdout (deterministic for given arguments, so a tracer that changes it is
 * caught):   pairs=N threads=T allocations=A frees=F checksum=0x...
 * stderr:    elapsed time and ns per pair.
 *
 * allocations/frees count the benchmark's own malloc/free calls (the initial
 * fill and final drain of the working set included), not libc's internal ones.
 *
 * Usage: alloc_bench [-p PAIRS_PER_THREAD] [-t THREADS] [-w WORKING_SET]
 *                    [-s STACKS] [-g GRANULE] [PAIRS_PER_THREAD]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__)
/* noipa: no cloning, no identical-code folding, no IPA-based inlining. */
#define NOINLINE __attribute__((noinline, noipa))
#else
#define NOINLINE __attribute__((noinline))
#endif
/* After a call, this keeps the call from becoming a tail call (jmp), so every
 * level really has its own frame. */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

#define MIN_DEPTH 10u
#define MAX_DEPTH 20u
#define HOT_SITES 16u

struct block {
    unsigned char *p;
    size_t size;
};

struct worker {
    pthread_t tid;
    unsigned index;
    uint64_t pairs;
    size_t working_set;
    unsigned stacks;
    uint64_t rng;
    uint64_t checksum;
    uint64_t allocations;
    uint64_t frees;
};

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t next_rand(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static size_t pick_size_bytes(uint64_t r)
{
    unsigned bucket = (unsigned)(r % 1000u);
    uint64_t u = r >> 20;
    if (bucket < 550)
        return 16 + (size_t)(u % 49);            /* 16..64 */
    if (bucket < 800)
        return 65 + (size_t)(u % 192);           /* 65..256 */
    if (bucket < 930)
        return 257 + (size_t)(u % 768);          /* 257..1024 */
    if (bucket < 990)
        return 1025 + (size_t)(u % 3072);        /* 1025..4096 */
    if (bucket < 999)
        return 4097 + (size_t)(u % 28672);       /* 4097..32768 */
    return 32769 + (size_t)(u % 229376);         /* 32769..262144 */
}

/* Sizes are rounded up to a multiple of the granule (default 16, glibc's own
 * chunk granularity, so the allocator does the same work).  With -g 1 (byte
 * sizes) heaptrack 1.4's heaptrack_interpret grows to ~19 GB and aborts with
 * std::bad_alloc after ~60k allocations: see docs/benchmarks.md. */
static size_t granule = 16;

static size_t pick_size(uint64_t r)
{
    size_t s = pick_size_bytes(r);
    return (s + granule - 1) / granule * granule;
}

/* The recursion: level functions f0..f3, each choosing the next one from two
 * bits of the path.  Direct calls from a switch, so the return address inside
 * each caller also differs per successor. */
static void *f0(uint64_t path, unsigned left, size_t size);
static void *f1(uint64_t path, unsigned left, size_t size);
static void *f2(uint64_t path, unsigned left, size_t size);
static void *f3(uint64_t path, unsigned left, size_t size);

static NOINLINE void *leaf_alloc(size_t size)
{
    void *p = malloc(size);
    KEEP_FRAME();
    return p;
}

static inline void *descend(uint64_t path, unsigned left, size_t size)
{
    void *p;
    if (left == 0)
        return leaf_alloc(size);
    switch ((path >> (2 * (left % 32))) & 3u) {
    case 0: p = f0(path, left - 1, size); break;
    case 1: p = f1(path, left - 1, size); break;
    case 2: p = f2(path, left - 1, size); break;
    default: p = f3(path, left - 1, size); break;
    }
    KEEP_FRAME();
    return p;
}

static NOINLINE void *f0(uint64_t path, unsigned left, size_t size)
{
    void *p = descend(path, left, size);
    KEEP_FRAME();
    return p;
}

static NOINLINE void *f1(uint64_t path, unsigned left, size_t size)
{
    void *p = descend(path, left, size);
    KEEP_FRAME();
    return p;
}

static NOINLINE void *f2(uint64_t path, unsigned left, size_t size)
{
    volatile unsigned guard = left;  /* distinct body: defeats code folding */
    void *p = descend(path, guard, size);
    KEEP_FRAME();
    return p;
}

static NOINLINE void *f3(uint64_t path, unsigned left, size_t size)
{
    volatile size_t sz = size;       /* distinct body: defeats code folding */
    void *p = descend(path, left, sz);
    KEEP_FRAME();
    return p;
}

/* Allocate from site `site`: a fixed path of depth 10..20 through f0..f3. */
static NOINLINE void *alloc_from_site(unsigned site, size_t size)
{
    uint64_t h = splitmix64(site + 1u);
    unsigned depth = MIN_DEPTH + (unsigned)(splitmix64(h) % (MAX_DEPTH - MIN_DEPTH + 1));
    void *p = descend(h, depth - 1, size);
    KEEP_FRAME();
    return p;
}

static unsigned pick_site(uint64_t r, unsigned stacks)
{
    unsigned hot = stacks < HOT_SITES ? stacks : HOT_SITES;
    if (r & 1u)
        return (unsigned)((r >> 1) % hot);
    return (unsigned)((r >> 1) % stacks);
}

static void fill(struct worker *w, struct block *b)
{
    uint64_t r = next_rand(&w->rng);
    size_t size = pick_size(r);
    unsigned char *p = alloc_from_site(pick_site(next_rand(&w->rng), w->stacks), size);
    if (p == NULL) {
        fprintf(stderr, "alloc_bench: malloc(%zu) failed\n", size);
        exit(1);
    }
    w->allocations++;
    p[0] = (unsigned char)r;
    p[size - 1] = (unsigned char)(r >> 8);
    b->p = p;
    b->size = size;
}

static void drain(struct worker *w, struct block *b)
{
    w->checksum = w->checksum * 31u + b->p[0] + ((uint64_t)b->p[b->size - 1] << 8) + b->size;
    free(b->p);
    w->frees++;
    b->p = NULL;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct block *set = calloc(w->working_set, sizeof *set);
    if (set == NULL) {
        fprintf(stderr, "alloc_bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < w->working_set; i++)
        fill(w, &set[i]);
    for (uint64_t n = 0; n < w->pairs; n++) {
        struct block *b = &set[next_rand(&w->rng) % w->working_set];
        drain(w, b);
        fill(w, b);
    }
    for (size_t i = 0; i < w->working_set; i++)
        drain(w, &set[i]);
    free(set);
    return NULL;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: alloc_bench [-p PAIRS_PER_THREAD] [-t THREADS] [-w WORKING_SET] "
            "[-s STACKS] [-g GRANULE] [PAIRS_PER_THREAD]\n"
            "  defaults: -p 2000000 -t 2 -w 4096 -s 300 -g 16\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t pairs = 2000000, threads = 2, working_set = 4096, stacks = 300, gran = 16;
    int opt;
    while ((opt = getopt(argc, argv, "p:t:w:s:g:h")) != -1) {
        switch (opt) {
        case 'p': if (parse_u64(optarg, 0, UINT64_C(1) << 40, &pairs)) usage(); break;
        case 't': if (parse_u64(optarg, 1, 256, &threads)) usage(); break;
        case 'w': if (parse_u64(optarg, 1, UINT64_C(1) << 24, &working_set)) usage(); break;
        case 's': if (parse_u64(optarg, 1, 1000000, &stacks)) usage(); break;
        case 'g': if (parse_u64(optarg, 1, 4096, &gran)) usage(); break;
        default: usage();
        }
    }
    if (optind < argc && parse_u64(argv[optind++], 0, UINT64_C(1) << 40, &pairs))
        usage();
    if (optind != argc)
        usage();
    granule = (size_t)gran;

    struct worker *w = calloc(threads, sizeof *w);
    if (w == NULL)
        return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < threads; i++) {
        w[i].index = i;
        w[i].pairs = pairs;
        w[i].working_set = working_set;
        w[i].stacks = (unsigned)stacks;
        w[i].rng = splitmix64(0x5eed0000u + i) | 1u;
        int rc = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
        if (rc != 0) {
            fprintf(stderr, "alloc_bench: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    uint64_t checksum = 0, allocations = 0, frees = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(w[i].tid, NULL);
        checksum = checksum * 0x100000001b3ull ^ w[i].checksum;
        allocations += w[i].allocations;
        frees += w[i].frees;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t total = pairs * threads;
    printf("pairs=%" PRIu64 " threads=%" PRIu64 " allocations=%" PRIu64 " frees=%" PRIu64
           " checksum=0x%016" PRIx64 "\n",
           total, threads, allocations, frees, checksum);
    fprintf(stderr, "alloc_bench: %" PRIu64 " pairs in %.3f s (%.1f ns per pair per thread)\n",
            total, secs, total ? secs * 1e9 * (double)threads / (double)total : 0.0);
    free(w);
    return 0;
}
