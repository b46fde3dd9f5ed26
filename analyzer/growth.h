/* Growth over time: the resource samples and each allocation site's live
 * bytes through the run, fitted by least squares after a warm-up, for the
 * soak-test questions: is it growing, how fast, and from where?
 *
 * Data model: at every resource sample the heap analysis' live bytes go
 * into the sample (the timeline); each site's live bytes and blocks are
 * kept on a grid of at most PS_GROWTH_POINTS sample times: when the grid
 * fills, every other point is dropped and the grid's spacing doubles, so
 * memory is sites x PS_GROWTH_POINTS whatever the run's length.
 */
#ifndef PERFSHIM_GROWTH_H
#define PERFSHIM_GROWTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "trace.h"

#define PS_GROWTH_POINTS 256

struct ps_growth {
    double times[PS_GROWTH_POINTS];   /* seconds since start */
    unsigned npoints;
    uint64_t stride, seen;            /* a point every STRIDE samples */
    float **bytes, **blocks;          /* by stack id: the site's series, or NULL */
    size_t nseries;
    int error;
};

struct ps_suspect {
    uint32_t stack;
    double growth_bytes_per_min, growth_blocks_per_min;
    double recent_bytes_per_min;      /* over the last third of the window */
    double steadiness;                /* R^2 of the fit */
    const char *status;               /* "growing", "slowing", "plateau" */
    uint64_t live_bytes_end, live_blocks_end;
};

struct ps_resources {
    bool present;                     /* the trace has resource samples */
    uint64_t samples;
    uint64_t rss_start, rss_peak, rss_end, vm_peak, threads_peak, fds_peak;
    uint64_t heap_end, heap_peak;
    double rss_growth_bytes_per_min, heap_growth_bytes_per_min;
    double rss_steadiness, heap_steadiness;
    double warmup_s, window_s, cpu_s, shim_cpu_s;
    const char *verdict;              /* "growing", "stable", "too short" */
    uint64_t shim_memory_peak, trace_bytes;
    double trace_bytes_per_min;
    /* where RSS goes, at the last MEMORY sample */
    bool has_memory;
    const char *allocator;            /* "glibc" or "unknown" */
    uint64_t mem_rss, mem_rss_anon, mem_rss_file, mem_heap_live;
    uint64_t mem_allocator_overhead, mem_allocator_free, mem_non_heap;
};

/* Least squares y = a + b x: the slope per x unit and R^2 (0 when y is flat). */
struct ps_fit {
    double slope, r2;
};
struct ps_fit ps_lsq(const double *x, const double *y, size_t n);

void ps_growth_init(struct ps_growth *g);
void ps_growth_free(struct ps_growth *g);
/* Sample INDEX's tick has been reached in the event stream. */
void ps_growth_sample(struct ps_growth *g, struct ps_trace *t, struct ps_heap *h, size_t index);
/* WARMUP_S < 0: the default, min(60 s, 20% of the run). */
int ps_growth_finish(struct ps_growth *g, const struct ps_trace *t, const struct ps_heap *h,
                     double duration_s, double warmup_s, struct ps_resources *res,
                     struct ps_suspect **suspects, size_t *nsuspects);

#endif
