/* Growth over time (see growth.h). */
#include "growth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* Thresholds of the verdicts: docs/soak.md explains each. */
#define MIN_POINTS 5            /* fewer after the warm-up: "too short" */
#define SITE_MIN_RISE 1024.0    /* bytes a suspect must have grown by over the window */
#define STEADY 0.6              /* R^2 of a steady growth */
#define PLATEAU_RATIO 0.15      /* recent rate below this share of the whole: plateau */
#define GROWING_RATIO 0.5       /* at least this share: still growing */
#define HEAP_MIN_RISE (64.0 * 1024)
#define RSS_MIN_RISE (1024.0 * 1024)

void ps_growth_init(struct ps_growth *g)
{
    memset(g, 0, sizeof *g);
    g->stride = 1;
}

void ps_growth_free(struct ps_growth *g)
{
    for (size_t i = 0; i < g->nseries; i++) {
        free(g->bytes[i]);
        free(g->blocks[i]);
    }
    free(g->bytes);
    free(g->blocks);
}

static void halve(struct ps_growth *g)
{
    unsigned n = g->npoints / 2;
    for (unsigned i = 0; i < n; i++)
        g->times[i] = g->times[2 * i];
    for (size_t s = 0; s < g->nseries; s++) {
        if (!g->bytes[s])
            continue;
        for (unsigned i = 0; i < n; i++) {
            g->bytes[s][i] = g->bytes[s][2 * i];
            g->blocks[s][i] = g->blocks[s][2 * i];
        }
    }
    g->npoints = n;
    g->stride *= 2;
}

void ps_growth_sample(struct ps_growth *g, struct ps_trace *t, struct ps_heap *h, size_t index)
{
    ps_heap_flush(h);
    struct ps_sample *s = &t->samples[index];
    s->heap_bytes = h->heap_bytes;
    s->heap_blocks = h->heap_blocks;
    uint64_t k = g->seen++;
    if (g->error || k % g->stride)
        return;
    if (g->npoints == PS_GROWTH_POINTS) {
        halve(g); /* the points kept are the new stride's multiples */
        if (k % g->stride)
            return;
    }
    if (h->nsites > g->nseries) {
        float **b = realloc(g->bytes, h->nsites * sizeof *b);
        float **k = b ? realloc(g->blocks, h->nsites * sizeof *k) : NULL;
        if (b)
            g->bytes = b;
        if (!b || !k) {
            g->error = PS_ENOMEM;
            return;
        }
        g->blocks = k;
        for (size_t i = g->nseries; i < h->nsites; i++)
            g->bytes[i] = g->blocks[i] = NULL;
        g->nseries = h->nsites;
    }
    unsigned at = g->npoints++;
    g->times[at] = ps_trace_seconds(t, s->tick);
    for (size_t i = 0; i < h->nsites; i++) {
        const struct ps_site *st = &h->sites[i];
        if (!g->bytes[i]) {
            if (!st->live_bytes)
                continue;
            g->bytes[i] = calloc(PS_GROWTH_POINTS, sizeof **g->bytes);
            g->blocks[i] = calloc(PS_GROWTH_POINTS, sizeof **g->blocks);
            if (!g->bytes[i] || !g->blocks[i]) {
                g->error = PS_ENOMEM;
                return;
            }
        }
        g->bytes[i][at] = (float)st->live_bytes;
        g->blocks[i][at] = (float)st->live_blocks;
    }
}

struct ps_fit ps_lsq(const double *x, const double *y, size_t n)
{
    struct ps_fit f = {0, 0};
    if (n < 2)
        return f;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (sxx <= 0)
        return f;
    f.slope = sxy / sxx;
    f.r2 = syy > 0 ? sxy * sxy / (sxx * syy) : 0;
    return f;
}

static int suspect_cmp(const void *a, const void *b)
{
    const struct ps_suspect *x = a, *y = b;
    bool px = strcmp(x->status, "plateau") == 0, py = strcmp(y->status, "plateau") == 0;
    if (px != py)
        return px ? 1 : -1;
    if (x->growth_bytes_per_min != y->growth_bytes_per_min)
        return x->growth_bytes_per_min < y->growth_bytes_per_min ? 1 : -1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* The sites whose live bytes keep growing after the warm-up. */
/* SWITCH_S: the last sampling switch (< 0: none); a switch re-weights the
 * sites' estimates, a step that is not growth, so the window starts after
 * it when enough points are left, and a sampled site must rise by several
 * sample sizes R to count. */
static int find_suspects(struct ps_growth *g, const struct ps_heap *h, double warmup_s,
                         double limit_s, double switch_s, double min_rise,
                         struct ps_suspect **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    unsigned first = 0, last = g->npoints;
    while (first < g->npoints && g->times[first] < warmup_s)
        first++;
    while (last > first && g->times[last - 1] > limit_s + 1e-9)
        last--;
    unsigned after = first;
    while (after < last && g->times[after] <= switch_s)
        after++;
    if (last - after >= MIN_POINTS)
        first = after;
    size_t n = last - first;
    if (n < MIN_POINTS)
        return 0;
    double *x = g->times + first;
    double *y = malloc(n * sizeof *y), *yb = malloc(n * sizeof *yb);
    size_t cap = 16, used = 0;
    struct ps_suspect *sus = malloc(cap * sizeof *sus);
    if (!y || !yb || !sus) {
        free(y);
        free(yb);
        free(sus);
        return PS_ENOMEM;
    }
    double span = x[n - 1] - x[0];
    size_t recent = n / 3 < 3 ? 3 : n / 3;
    for (size_t s = 0; s < g->nseries; s++) {
        if (!g->bytes[s])
            continue;
        double mean = 0;
        for (size_t i = 0; i < n; i++) {
            y[i] = g->bytes[s][first + i];
            yb[i] = g->blocks[s][first + i];
            mean += y[i];
        }
        mean /= (double)n;
        struct ps_fit f = ps_lsq(x, y, n);
        double rise = f.slope * span;
        if (f.slope <= 0 || rise < min_rise || (f.r2 < STEADY && rise < 0.25 * mean))
            continue;
        struct ps_fit r = ps_lsq(x + n - recent, y + n - recent, recent);
        struct ps_fit fb = ps_lsq(x, yb, n);
        if (used == cap) {
            cap *= 2;
            struct ps_suspect *m = realloc(sus, cap * sizeof *m);
            if (!m) {
                free(y);
                free(yb);
                free(sus);
                return PS_ENOMEM;
            }
            sus = m;
        }
        struct ps_suspect *p = &sus[used++];
        p->stack = (uint32_t)s;
        p->growth_bytes_per_min = f.slope * 60;
        p->growth_blocks_per_min = fb.slope * 60;
        p->recent_bytes_per_min = r.slope * 60;
        p->steadiness = f.r2;
        p->status = r.slope <= PLATEAU_RATIO * f.slope  ? "plateau"
                    : r.slope >= GROWING_RATIO * f.slope ? "growing"
                                                         : "slowing";
        p->live_bytes_end = s < h->nsites ? h->sites[s].live_bytes : 0;
        p->live_blocks_end = s < h->nsites ? h->sites[s].live_blocks : 0;
    }
    free(y);
    free(yb);
    qsort(sus, used, sizeof *sus, suspect_cmp);
    *out = sus;
    *nout = used;
    return 0;
}

int ps_growth_finish(struct ps_growth *g, const struct ps_trace *t, const struct ps_heap *h,
                     double duration_s, double warmup_s, struct ps_resources *res,
                     struct ps_suspect **suspects, size_t *nsuspects)
{
    memset(res, 0, sizeof *res);
    *suspects = NULL;
    *nsuspects = 0;
    if (g->error)
        return g->error;
    res->trace_bytes = t->file_bytes;
    if (!t->nsamples)
        return 0;
    if (warmup_s < 0)
        warmup_s = duration_s * 0.2 < 60 ? duration_s * 0.2 : 60;
    const struct ps_sample *s = t->samples;
    size_t n = t->nsamples;
    res->present = true;
    res->samples = n;
    res->warmup_s = warmup_s;
    res->rss_start = s[0].rss;
    res->rss_end = s[n - 1].rss;
    res->cpu_s = (double)s[n - 1].cpu_ns / 1e9;
    res->shim_cpu_s = (double)s[n - 1].shim_cpu_ns / 1e9;
    for (size_t i = 0; i < n; i++) {
#define PEAK(field, v) if ((v) > res->field) res->field = (v)
        PEAK(rss_peak, s[i].rss);
        PEAK(vm_peak, s[i].vm);
        PEAK(threads_peak, s[i].threads);
        PEAK(fds_peak, s[i].fds);
        PEAK(shim_memory_peak, s[i].shim_resident);
        PEAK(heap_peak, s[i].heap_bytes);
#undef PEAK
    }
    if (t->mem.shim_resident_peak > res->shim_memory_peak)
        res->shim_memory_peak = t->mem.shim_resident_peak;
    res->heap_end = h->heap_bytes;
    if (duration_s > 0)
        res->trace_bytes_per_min = (double)t->file_bytes / duration_s * 60;

    /* the window: samples after the warm-up */
    double *x = malloc(n * sizeof *x), *yr = malloc(n * sizeof *yr), *yh = malloc(n * sizeof *yh);
    if (!x || !yr || !yh) {
        free(x);
        free(yr);
        free(yh);
        return PS_ENOMEM;
    }
    size_t m = 0;
    double mean_rss = 0, mean_heap = 0;
    /* The last sample of a process that exited was taken at exit, after
     * whatever it freed on the way out: not part of the run's growth. */
    size_t fit_n = t->end.has_end && n > 2 ? n - 1 : n;
    double limit_s = ps_trace_seconds(t, s[fit_n - 1].tick);
    for (size_t i = 0; i < fit_n; i++) {
        double sec = ps_trace_seconds(t, s[i].tick);
        if (sec < warmup_s)
            continue;
        x[m] = sec;
        yr[m] = (double)s[i].rss;
        /* a sampled trace's estimate jumps at each switch: the shim's own
         * exact count (usable sizes) is the better series then */
        yh[m] = t->nlevels ? (double)s[i].heap_usable : (double)s[i].heap_bytes;
        mean_rss += yr[m];
        mean_heap += yh[m];
        m++;
    }
    int rc = 0;
    if (m >= 2) {
        res->window_s = x[m - 1] - x[0];
        mean_rss /= (double)m;
        mean_heap /= (double)m;
        struct ps_fit fr = ps_lsq(x, yr, m), fh = ps_lsq(x, yh, m);
        res->rss_growth_bytes_per_min = fr.slope * 60;
        res->heap_growth_bytes_per_min = fh.slope * 60;
        res->rss_steadiness = fr.r2;
        res->heap_steadiness = fh.r2;
    }
    if (m < MIN_POINTS) {
        res->verdict = "too short";
    } else {
        double switch_s = -1, min_rise = SITE_MIN_RISE;
        if (t->nlevels) {
            const struct ps_level *lv = &t->levels[t->nlevels - 1];
            unsigned shift = lv->shift < PS_SAMPLE_OFF ? lv->shift
                             : t->nlevels > 1           ? t->levels[t->nlevels - 2].shift
                                                        : 0;
            switch_s = ps_trace_seconds(t, lv->tick);
            if (4.0 * (double)(1ull << shift) > min_rise)
                min_rise = 4.0 * (double)(1ull << shift);
        }
        rc = find_suspects(g, h, warmup_s, limit_s, switch_s, min_rise, suspects, nsuspects);
        bool growing = false;
        for (size_t i = 0; i < *nsuspects; i++)
            growing |= strcmp((*suspects)[i].status, "plateau") != 0;
        double heap_rise = res->heap_growth_bytes_per_min / 60 * res->window_s;
        double rss_rise = res->rss_growth_bytes_per_min / 60 * res->window_s;
        growing |= heap_rise >= HEAP_MIN_RISE && heap_rise >= 0.05 * mean_heap &&
                   res->heap_steadiness >= STEADY;
        growing |= rss_rise >= RSS_MIN_RISE && rss_rise >= 0.05 * mean_rss &&
                   res->rss_steadiness >= 0.8;
        res->verdict = growing ? "growing" : "stable";
    }
    free(x);
    free(yr);
    free(yh);

    if (t->mem.present) {
        const struct ps_memory *mm = &t->mem;
        res->has_memory = true;
        res->allocator = mm->allocator == 1 ? "glibc" : "unknown";
        res->mem_rss = s[n - 1].rss;
        res->mem_rss_anon = s[n - 1].rss_anon;
        res->mem_rss_file = s[n - 1].rss_file;
        res->mem_heap_live = h->heap_bytes;
        if (mm->allocator == 1) {
            res->mem_allocator_overhead = mm->in_use > h->heap_bytes ? mm->in_use - h->heap_bytes : 0;
            res->mem_allocator_free = mm->free;
            uint64_t held = mm->system;
            res->mem_non_heap = res->mem_rss_file + (res->mem_rss_anon > held ? res->mem_rss_anon - held : 0);
        } else {
            uint64_t heap = s[n - 1].heap_usable;
            res->mem_non_heap = res->mem_rss_file + (res->mem_rss_anon > heap ? res->mem_rss_anon - heap : 0);
        }
    }
    return rc;
}
