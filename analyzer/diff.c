/* `perfshim diff [--format text|json|markdown] [--threshold PCT]
 *                [--min-latency-us US] [-o FILE] BASELINE CURRENT`:
 * what got worse between two traces of the same program, for CI.
 *
 * Compared: the summary (leaks, peak heap, allocations), request and call
 * latency percentiles, throughput, resource growth, and allocation sites.
 * Sites are matched by their symbolized stack, never by address (ASLR
 * moves every address between runs): each frame's function, source file
 * name (without its directory, so that checkouts in different places
 * match) and line.  Sites left unmatched are matched again without line
 * numbers, when that pairs them one to one, so that an edit above a
 * leaking line does not turn an old leak into a "new" one.
 *
 * What counts as a regression (exit 1), with T the threshold (default 10%)
 * and F the latency floor (default 1000 us): leaked bytes or blocks or the
 * peak heap up by more than T (any rise from 0); a leak site new in
 * CURRENT, or whose leaked bytes rose by more than T; a request or call
 * p50/p95/p99 up by more than T *and* by more than F (a call new in
 * CURRENT: its percentile above F); throughput down by more than T with
 * each request taking F longer; heap or RSS growth per minute up by more
 * than T and by more than 64 KiB/min (heap) or 1 MiB/min (RSS), when
 * neither run is too short to fit.  The floors keep scheduler noise from
 * failing a build: a single timing is never trusted to a microsecond.
 * Everything else (allocation counts, call counts, peaks of threads and
 * descriptors) is shown with its change but never fails. */
#include "check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"
#include "report.h"

#define HEAP_GROWTH_FLOOR (64.0 * 1024)      /* bytes/min */
#define RSS_GROWTH_FLOOR (1024.0 * 1024)     /* bytes/min */
#define TOP_SITES 10

enum gate { G_NONE, G_COUNT, G_LATENCY, G_THROUGHPUT, G_HEAP_GROWTH, G_RSS_GROWTH };

struct metric {
    char name[64];          /* "summary.leaked_bytes", "calls.recv.p99_us" */
    const char *label;      /* for people: "leaked bytes" */
    const char *section;    /* "summary", "requests", "calls", "resources" */
    bool has_base, has_cur;
    double base, cur;
    enum gate gate;
    bool integer;
    bool regression;
    char note[48];          /* why not compared ("baseline too short") */
};

struct site {
    char *key, *loose;      /* frames with and without line numbers */
    struct ps_frame *frames; /* innermost first; strings the symbolizer's */
    size_t nframes;
    uint64_t allocs, alloc_bytes, leaked_bytes, leaked_blocks;
    bool matched;
};

struct pair {
    const struct site *b, *c;
    int64_t leak_delta, alloc_delta;
    bool regression;
};

struct diff {
    struct ps_report *b, *c;
    double threshold;       /* percent */
    double floor_us;
    struct metric *m;
    size_t nm, capm;
    struct site *sb, *sc;
    size_t nsb, nsc;
    struct pair *p;
    size_t np;
    size_t regressions;
};

/* ---- metrics ---------------------------------------------------------------------- */

static struct metric *add_metric(struct diff *d, const char *section, const char *name, const char *label,
                                 enum gate gate, bool integer)
{
    if (d->nm == d->capm) {
        size_t cap = d->capm ? d->capm * 2 : 64;
        struct metric *m = realloc(d->m, cap * sizeof *m);
        if (!m)
            return NULL;
        d->m = m;
        d->capm = cap;
    }
    struct metric *m = &d->m[d->nm++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->label = label;
    m->section = section;
    m->gate = gate;
    m->integer = integer;
    return m;
}

static int both(struct diff *d, const char *section, const char *name, const char *label, enum gate gate,
                bool integer, double base, double cur)
{
    struct metric *m = add_metric(d, section, name, label, gate, integer);
    if (!m)
        return PS_ENOMEM;
    m->has_base = m->has_cur = true;
    m->base = base;
    m->cur = cur;
    return 0;
}

/* Does M count as a regression (see the top of this file)? */
static bool regressed(const struct diff *d, const struct metric *m)
{
    double t = d->threshold / 100;
    if (!m->has_cur || m->note[0])
        return false;
    switch (m->gate) {
    case G_COUNT:
        return m->has_base && m->cur > m->base * (1 + t) && m->cur > m->base;
    case G_LATENCY:
        if (!m->has_base)
            return m->cur > d->floor_us;
        return m->cur > m->base * (1 + t) && m->cur - m->base > d->floor_us;
    case G_THROUGHPUT:
        if (!m->has_base || m->base <= 0)
            return false;
        if (m->cur <= 0)
            return true;
        return m->cur < m->base / (1 + t) && (1 / m->cur - 1 / m->base) * 1e6 > d->floor_us;
    case G_HEAP_GROWTH:
    case G_RSS_GROWTH: {
        double floor = m->gate == G_HEAP_GROWTH ? HEAP_GROWTH_FLOOR : RSS_GROWTH_FLOOR;
        double margin = fabs(m->base) * t > floor ? fabs(m->base) * t : floor;
        return m->has_base && m->cur > m->base + margin;
    }
    default:
        return false;
    }
}

static const char *const lat_names[] = {"p50", "p90", "p95", "p99", "p999", "max"};

static double lat_at(const struct ps_latency *l, int k)
{
    const double v[] = {l->p50_us, l->p90_us, l->p95_us, l->p99_us, l->p999_us, l->max_us};
    return v[k];
}

/* p50, p95 and p99 are gated, each only when both runs have at least
 * TAIL_SAMPLES samples beyond it (20, 200, 1000 calls): a percentile
 * read from fewer is one or two unlucky samples, noise.  p90, p99.9 and
 * max are only shown. */
#define TAIL_SAMPLES 10

static int latency_metrics(struct diff *d, const char *section, const char *prefix, const struct ps_latency *b,
                           const struct ps_latency *c)
{
    static const double tail[] = {0.5, 0, 0.05, 0.01, 0, 0};
    static const char *const labels[][6] = {
        {"requests p50 us", "requests p90 us", "requests p95 us", "requests p99 us", "requests p99.9 us",
         "requests max us"}};
    for (int k = 0; k < 6; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%s_us", prefix, lat_names[k]);
        bool gated = k == 0 || k == 2 || k == 3;
        struct metric *m = add_metric(d, section, name, strcmp(section, "requests") == 0 ? labels[0][k] : NULL,
                                      gated ? G_LATENCY : G_NONE, false);
        if (!m)
            return PS_ENOMEM;
        if ((m->has_base = b != NULL))
            m->base = lat_at(b, k);
        if ((m->has_cur = c != NULL))
            m->cur = lat_at(c, k);
        uint64_t need = gated ? (uint64_t)(TAIL_SAMPLES / tail[k] + 0.5) : 0;
        if (gated && ((b && b->count < need) || (c && c->count < need)))
            snprintf(m->note, sizeof m->note, "fewer than %" PRIu64 " samples", need);
    }
    return 0;
}

static const struct ps_call_summary *find_call(const struct ps_report *r, const char *name)
{
    for (size_t i = 0; i < r->net.ncalls; i++)
        if (strcmp(r->net.calls[i].name, name) == 0)
            return &r->net.calls[i];
    return NULL;
}

static int build_metrics(struct diff *d)
{
    const struct ps_report *b = d->b, *c = d->c;
    int rc = 0;
#define BOTH(sec, name, label, gate, integer, bv, cv)                                              \
    do {                                                                                            \
        if (!rc)                                                                                    \
            rc = both(d, sec, name, label, gate, integer, (double)(bv), (double)(cv));             \
    } while (0)
    BOTH("summary", "summary.leaked_bytes", "leaked bytes", G_COUNT, true, b->leaked_bytes, c->leaked_bytes);
    BOTH("summary", "summary.leaked_blocks", "leaked blocks", G_COUNT, true, b->leaked_blocks, c->leaked_blocks);
    BOTH("summary", "summary.peak_heap_bytes", "peak heap bytes", G_COUNT, true, b->h->peak_bytes,
         c->h->peak_bytes);
    BOTH("summary", "summary.allocations", "allocations", G_NONE, true, b->h->allocations, c->h->allocations);
    BOTH("summary", "summary.frees", "frees", G_NONE, true, b->h->frees, c->h->frees);
    BOTH("summary", "summary.total_allocated_bytes", "total allocated bytes", G_NONE, true, b->h->total_allocated,
         c->h->total_allocated);
    BOTH("summary", "process.duration_s", "duration s", G_NONE, false, b->duration_s, c->duration_s);
    if (rc)
        return rc;
    /* requests: compared when either run had some */
    const struct ps_net_summary *nb = &b->net, *nc = &c->net;
    bool rb = nb->has_requests && nb->requests.lat.count, rcur = nc->has_requests && nc->requests.lat.count;
    if (rb || rcur) {
        struct metric *m = add_metric(d, "requests", "requests.count", "requests", G_NONE, true);
        if (!m)
            return PS_ENOMEM;
        m->has_base = m->has_cur = true;
        m->base = rb ? (double)nb->requests.lat.count : 0;
        m->cur = rcur ? (double)nc->requests.lat.count : 0;
        m = add_metric(d, "requests", "requests.throughput_rps", "requests per second", G_THROUGHPUT, false);
        if (!m)
            return PS_ENOMEM;
        if ((m->has_base = rb))
            m->base = nb->requests.throughput_rps;
        if ((m->has_cur = rcur))
            m->cur = nc->requests.throughput_rps;
        if ((rc = latency_metrics(d, "requests", "requests", rb ? &nb->requests.lat : NULL,
                                  rcur ? &nc->requests.lat : NULL)))
            return rc;
    }
    /* calls: the union, in the current run's order (busiest first), then
     * those only the baseline made */
    for (int pass = 0; pass < 2; pass++) {
        const struct ps_net_summary *n = pass ? nb : nc;
        for (size_t i = 0; i < n->ncalls; i++) {
            const char *name = n->calls[i].name;
            const struct ps_call_summary *cb = find_call(b, name), *cc = find_call(c, name);
            if (pass && cc)
                continue;
            char full[64];
            snprintf(full, sizeof full, "calls.%s.count", name);
            struct metric *m = add_metric(d, "calls", full, NULL, G_NONE, true);
            if (!m)
                return PS_ENOMEM;
            if ((m->has_base = cb != NULL))
                m->base = (double)cb->count;
            if ((m->has_cur = cc != NULL))
                m->cur = (double)cc->count;
            snprintf(full, sizeof full, "calls.%s", name);
            if ((rc = latency_metrics(d, "calls", full, cb ? &cb->lat : NULL, cc ? &cc->lat : NULL)))
                return rc;
        }
    }
    if (b->res.present || c->res.present) {
        const struct ps_resources *xb = &b->res, *xc = &c->res;
        static const char *const names[] = {"resources.heap_growth_bytes_per_min",
                                            "resources.rss_growth_bytes_per_min"};
        static const char *const labels[] = {"heap growth bytes/min", "RSS growth bytes/min"};
        for (int k = 0; k < 2; k++) {
            struct metric *m = add_metric(d, "resources", names[k], labels[k], k ? G_RSS_GROWTH : G_HEAP_GROWTH,
                                          false);
            if (!m)
                return PS_ENOMEM;
            if ((m->has_base = xb->present))
                m->base = k ? xb->rss_growth_bytes_per_min : xb->heap_growth_bytes_per_min;
            if ((m->has_cur = xc->present))
                m->cur = k ? xc->rss_growth_bytes_per_min : xc->heap_growth_bytes_per_min;
            bool sb = xb->present && strcmp(xb->verdict, "too short") == 0;
            bool sc = xc->present && strcmp(xc->verdict, "too short") == 0;
            if (sb || sc)
                snprintf(m->note, sizeof m->note, "%s too short to fit", sb && sc ? "both runs" : sb ? "baseline" : "current");
        }
        BOTH("resources", "resources.rss_peak_bytes", "RSS peak bytes", G_NONE, true, xb->rss_peak, xc->rss_peak);
        BOTH("resources", "resources.threads_peak", "threads peak", G_NONE, true, xb->threads_peak,
             xc->threads_peak);
        BOTH("resources", "resources.fds_peak", "fds peak", G_NONE, true, xb->fds_peak, xc->fds_peak);
        if (!rc) {
            /* a run without samples has no resources: not a zero */
            for (size_t i = d->nm - 3; i < d->nm; i++) {
                d->m[i].has_base = xb->present;
                d->m[i].has_cur = xc->present;
            }
        }
    }
#undef BOTH
    for (size_t i = 0; !rc && i < d->nm; i++)
        if ((d->m[i].regression = regressed(d, &d->m[i])))
            d->regressions++;
    return rc;
}

/* ---- sites ------------------------------------------------------------------------ */

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "";
}

struct buf {
    char *s;
    size_t n, cap;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *g = realloc(b->s, cap);
        if (!g) {
            b->oom = true;
            return;
        }
        b->s = g;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

/* The frames as text: function, file name, line (LINES) and inlined,
 * fields split by \x1f, frames by \x1e.  A frame without a name (no
 * symbols) is its module and its offset in it: the address itself moves
 * from one run to the next, the offset does not.  TICK: the stack's. */
static char *site_key(const struct ps_report *r, uint64_t tick, const struct ps_frame *f, size_t n, bool lines)
{
    struct buf b = {0};
    for (size_t i = 0; i < n; i++) {
        const char *fn = f[i].function && strcmp(f[i].function, "??") != 0 ? f[i].function : NULL;
        if (fn) {
            put(&b, fn, strlen(fn));
        } else {
            const struct ps_module *m = ps_trace_module_at(r->t, f[i].address, tick);
            char off[40];
            /* the loose key leaves the offset out too: a library updated
             * between the runs (no symbols for the old one) still pairs */
            int k = lines ? snprintf(off, sizeof off, "+0x%" PRIx64, m ? f[i].address - m->bias : (uint64_t)0) : 0;
            put(&b, "?? in ", 6);
            put(&b, base_name(f[i].module), strlen(base_name(f[i].module)));
            put(&b, off, (size_t)k);
        }
        char tail[48];
        int k = snprintf(tail, sizeof tail, "\x1f%d\x1f%d\x1e", lines ? f[i].line : 0, f[i].inlined);
        put(&b, "\x1f", 1);
        put(&b, base_name(f[i].file), strlen(base_name(f[i].file)));
        put(&b, tail, (size_t)k);
    }
    put(&b, "", 0);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static int by_key(const void *x, const void *y)
{
    return strcmp(((const struct site *)x)->key, ((const struct site *)y)->key);
}

static void sites_free(struct site *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].key);
        free(s[i].loose);
        free(s[i].frames);
    }
    free(s);
}

/* Every stack that allocated or holds leaked blocks, symbolized, keyed,
 * and merged by key (two stacks can differ only in frames that fold to
 * the same text). */
static int collect_sites(struct ps_report *r, struct site **out, size_t *nout)
{
    const struct ps_heap *h = r->h;
    size_t n = (size_t)h->nsites;
    uint64_t *lb = calloc(n + 1, sizeof *lb), *lk = calloc(n + 1, sizeof *lk);
    struct site *s = calloc(n + 1, sizeof *s);
    size_t ns = 0;
    int rc = lb && lk && s ? 0 : PS_ENOMEM;
    for (size_t i = 0; !rc && i < r->nleaks; i++) {
        const struct ps_leak *l = &r->leaks[i];
        if (l->stack < n && strcmp(l->kind ? l->kind : "", "reachable") != 0) {
            lb[l->stack] += l->bytes;
            lk[l->stack] += l->blocks;
        }
    }
    for (size_t id = 0; !rc && id < n; id++) {
        const struct ps_site *hs = &h->sites[id];
        if (!hs->alloc_count && !lb[id])
            continue;
        struct site *x = &s[ns];
        rc = ps_report_stack_frames(r, (uint32_t)id, &x->frames, &x->nframes);
        if (rc)
            break;
        ns++;
        x->allocs = hs->alloc_count;
        x->alloc_bytes = hs->alloc_bytes;
        x->leaked_bytes = lb[id];
        x->leaked_blocks = lk[id];
        uint64_t tick = id < r->t->nstacks ? r->t->stacks[id].tick : 0;
        x->key = site_key(r, tick, x->frames, x->nframes, true);
        x->loose = site_key(r, tick, x->frames, x->nframes, false);
        if (!x->key || !x->loose)
            rc = PS_ENOMEM;
    }
    free(lb);
    free(lk);
    if (rc) {
        sites_free(s, ns);
        return rc;
    }
    qsort(s, ns, sizeof *s, by_key);
    size_t w = 0;
    for (size_t i = 0; i < ns; i++) {
        if (w && strcmp(s[w - 1].key, s[i].key) == 0) {
            struct site *m = &s[w - 1];
            m->allocs += s[i].allocs;
            m->alloc_bytes += s[i].alloc_bytes;
            m->leaked_bytes += s[i].leaked_bytes;
            m->leaked_blocks += s[i].leaked_blocks;
            free(s[i].key);
            free(s[i].loose);
            free(s[i].frames);
        } else {
            s[w++] = s[i];
        }
    }
    *out = s;
    *nout = w;
    return 0;
}

static int add_pair(struct diff *d, const struct site *b, const struct site *c)
{
    struct pair *p = &d->p[d->np++];
    p->b = b;
    p->c = c;
    p->leak_delta = (int64_t)(c ? c->leaked_bytes : 0) - (int64_t)(b ? b->leaked_bytes : 0);
    p->alloc_delta = (int64_t)(c ? c->alloc_bytes : 0) - (int64_t)(b ? b->alloc_bytes : 0);
    uint64_t lb = b ? b->leaked_bytes : 0, lc = c ? c->leaked_bytes : 0;
    p->regression = lc > lb && (double)lc > (double)lb * (1 + d->threshold / 100);
    d->regressions += p->regression;
    return 0;
}

static int by_loose(const void *x, const void *y)
{
    const struct site *a = *(const struct site *const *)x, *b = *(const struct site *const *)y;
    return strcmp(a->loose, b->loose);
}

/* Unmatched sites of S whose loose key is unique among them, sorted. */
static const struct site **loose_list(struct site *s, size_t n, size_t *out)
{
    const struct site **v = calloc(n + 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; v && i < n; i++)
        if (!s[i].matched)
            v[k++] = &s[i];
    if (!v)
        return NULL;
    qsort(v, k, sizeof *v, by_loose);
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        bool dup = (i && strcmp(v[i - 1]->loose, v[i]->loose) == 0) ||
                   (i + 1 < k && strcmp(v[i + 1]->loose, v[i]->loose) == 0);
        if (!dup)
            v[w++] = v[i];
    }
    *out = w;
    return v;
}

static int match_sites(struct diff *d)
{
    d->p = calloc(d->nsb + d->nsc + 1, sizeof *d->p);
    if (!d->p)
        return PS_ENOMEM;
    size_t i = 0, j = 0;
    while (i < d->nsb && j < d->nsc) {
        int c = strcmp(d->sb[i].key, d->sc[j].key);
        if (c == 0) {
            d->sb[i].matched = d->sc[j].matched = true;
            add_pair(d, &d->sb[i++], &d->sc[j++]);
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    /* second pass: the same frames but for line numbers, one to one */
    size_t nb, nc;
    const struct site **lb = loose_list(d->sb, d->nsb, &nb), **lc = loose_list(d->sc, d->nsc, &nc);
    if (!lb || !lc) {
        free(lb);
        free(lc);
        return PS_ENOMEM;
    }
    for (i = 0, j = 0; i < nb && j < nc;) {
        int c = strcmp(lb[i]->loose, lc[j]->loose);
        if (c == 0) {
            ((struct site *)lb[i])->matched = ((struct site *)lc[j])->matched = true;
            add_pair(d, lb[i++], lc[j++]);
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    free(lb);
    free(lc);
    for (i = 0; i < d->nsb; i++)
        if (!d->sb[i].matched)
            add_pair(d, &d->sb[i], NULL);
    for (j = 0; j < d->nsc; j++)
        if (!d->sc[j].matched)
            add_pair(d, NULL, &d->sc[j]);
    return 0;
}

/* The lists the outputs show: leak sites new in CURRENT, leak sites grown
 * (by leaked bytes), allocation sites new, allocation sites grown (by
 * bytes allocated); largest first, at most MAX. */
enum list { L_LEAK_NEW, L_LEAK_GROWN, L_ALLOC_NEW, L_ALLOC_GROWN, L_COUNT };
static const char *const list_keys[] = {"new", "grown", "new", "grown"};

static bool in_list(const struct pair *p, enum list l)
{
    switch (l) {
    case L_LEAK_NEW: return p->c && p->c->leaked_bytes && (!p->b || !p->b->leaked_bytes);
    case L_LEAK_GROWN: return p->b && p->b->leaked_bytes && p->c && p->leak_delta > 0;
    case L_ALLOC_NEW: return p->c && !p->b;
    default: return p->b && p->c && p->alloc_delta > 0;
    }
}

static int64_t list_weight(const struct pair *p, enum list l)
{
    switch (l) {
    case L_LEAK_NEW: return (int64_t)p->c->leaked_bytes;
    case L_LEAK_GROWN: return p->leak_delta;
    case L_ALLOC_NEW: return (int64_t)p->c->alloc_bytes;
    default: return p->alloc_delta;
    }
}

static enum list sort_list;
static int by_weight(const void *x, const void *y)
{
    const struct pair *a = *(const struct pair *const *)x, *b = *(const struct pair *const *)y;
    int64_t wa = list_weight(a, sort_list), wb = list_weight(b, sort_list);
    if (wa != wb)
        return wa < wb ? 1 : -1;
    const struct site *sa = a->c ? a->c : a->b, *sb = b->c ? b->c : b->b;
    return strcmp(sa->key, sb->key);
}

/* Pairs of list L, heaviest first: *N of them (all; the caller cuts). */
static const struct pair **list_of(const struct diff *d, enum list l, size_t *n)
{
    const struct pair **v = calloc(d->np + 1, sizeof *v);
    *n = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < d->np; i++)
        if (in_list(&d->p[i], l))
            v[(*n)++] = &d->p[i];
    sort_list = l;
    qsort(v, *n, sizeof *v, by_weight);
    return v;
}

/* ---- formatting ------------------------------------------------------------------- */

static const char *num(double v, bool integer, char *buf, size_t size)
{
    if (integer || fabs(v) >= 1e6) {
        char tmp[40];
        int n = snprintf(tmp, sizeof tmp, "%.0f", fabs(v)), o = 0;
        if (v < 0 && n > 0 && strcmp(tmp, "0") != 0)
            buf[o++] = '-';
        for (int i = 0; i < n && (size_t)o + 2 < size; i++) {
            if (i && (n - i) % 3 == 0)
                buf[o++] = ',';
            buf[o++] = tmp[i];
        }
        buf[o] = 0;
    } else if (fabs(v) >= 100) {
        snprintf(buf, size, "%.1f", v);
    } else {
        snprintf(buf, size, "%.3g", v);
    }
    return buf;
}

/* "+12.3%", "-4.0%", "new", "gone", "=" */
static const char *change(const struct metric *m, char *buf, size_t size)
{
    buf[0] = 0;
    if (!m->has_base && !m->has_cur)
        return buf;
    if (!m->has_base)
        snprintf(buf, size, "new");
    else if (!m->has_cur)
        snprintf(buf, size, "gone");
    else if (m->note[0] && m->gate != G_LATENCY)
        snprintf(buf, size, "n/a");
    else if (m->base == m->cur)
        snprintf(buf, size, "=");
    else if (m->base == 0)
        snprintf(buf, size, "from 0");
    else
        snprintf(buf, size, "%+.1f%%", (m->cur - m->base) / fabs(m->base) * 100);
    return buf;
}

static void site_where(const struct site *s, char *buf, size_t size)
{
    const struct ps_frame *f = s->nframes ? &s->frames[0] : NULL;
    if (!f)
        snprintf(buf, size, "??");
    else if (f->file && f->line)
        snprintf(buf, size, "%s  %s:%d", f->function ? f->function : "??", ps_display_path(f->file), f->line);
    else
        snprintf(buf, size, "%s  in %s", f->function ? f->function : "??", base_name(f->module));
}

static const char *metric_label(const struct metric *m, char *buf, size_t size)
{
    if (m->label)
        return m->label;
    /* calls.NAME.p99_us -> "NAME p99 us" */
    snprintf(buf, size, "%s", m->name + 6);
    for (char *p = buf; *p; p++)
        if (*p == '.' || *p == '_')
            *p = ' ';
    return buf;
}

/* ---- text and markdown ------------------------------------------------------------ */

static void text_sites(FILE *out, const struct diff *d, enum list l, const char *title, bool md)
{
    size_t n;
    const struct pair **v = list_of(d, l, &n);
    if (!v || !n) {
        free(v);
        return;
    }
    bool leak = l == L_LEAK_NEW || l == L_LEAK_GROWN;
    if (md)
        fprintf(out, "\n### %s\n\n| change | baseline | current | site | |\n|---:|---:|---:|---|---|\n", title);
    else
        fprintf(out, "\n%s (bytes; %s)\n", title, leak ? "leaked" : "allocated");
    for (size_t i = 0; i < n && i < TOP_SITES; i++) {
        const struct pair *p = v[i];
        char a[40], b[40], c[40], where[600];
        site_where(p->c ? p->c : p->b, where, sizeof where);
        uint64_t vb = p->b ? (leak ? p->b->leaked_bytes : p->b->alloc_bytes) : 0;
        uint64_t vc = leak ? p->c->leaked_bytes : p->c->alloc_bytes;
        num((double)(leak ? p->leak_delta : p->alloc_delta), true, a, sizeof a);
        if (md) {
            fprintf(out, "| +%s | %s | %s | `", a, p->b ? num((double)vb, true, b, sizeof b) : "-",
                    num((double)vc, true, c, sizeof c));
            for (const char *s = where; *s; s++)
                fputc(*s == '`' ? '\'' : *s == '|' ? '/' : *s, out);
            fprintf(out, "` | %s |\n", leak && p->regression ? "**REGRESSION**" : "");
        } else {
            fprintf(out, "  %14s  %14s -> %-14s  %s%s\n", a, p->b ? num((double)vb, true, b, sizeof b) : "-",
                    num((double)vc, true, c, sizeof c), where, leak && p->regression ? "  REGRESSION" : "");
        }
    }
    if (n > TOP_SITES)
        fprintf(out, md ? "\n%zu more\n" : "  ... %zu more\n", n - TOP_SITES);
    free(v);
}

static void text_metrics(FILE *out, const struct diff *d, const char *section, const char *title, bool md)
{
    bool any = false;
    for (size_t i = 0; i < d->nm; i++) {
        const struct metric *m = &d->m[i];
        if (strcmp(m->section, section) != 0 || (!m->has_base && !m->has_cur))
            continue;
        /* calls: the gated percentiles and the count, not every column */
        if (strcmp(section, "calls") == 0 && m->gate == G_NONE && !strstr(m->name, ".count"))
            continue;
        if (!any) {
            if (md)
                fprintf(out, "\n### %s\n\n| metric | baseline | current | change | |\n|---|---:|---:|---:|---|\n",
                        title);
            else
                fprintf(out, "\n%s\n  %-36s %16s %16s %10s\n", title, "", "baseline", "current", "change");
            any = true;
        }
        char a[40], b[40], c[40], lab[80];
        const char *verdict = m->regression ? "REGRESSION" : m->note[0] ? m->note : "";
        if (md)
            fprintf(out, "| %s | %s | %s | %s | %s%s%s |\n", metric_label(m, lab, sizeof lab),
                    m->has_base ? num(m->base, m->integer, a, sizeof a) : "-",
                    m->has_cur ? num(m->cur, m->integer, b, sizeof b) : "-", change(m, c, sizeof c),
                    m->regression ? "**" : "", verdict, m->regression ? "**" : "");
        else
            fprintf(out, "  %-36s %16s %16s %10s  %s\n", metric_label(m, lab, sizeof lab),
                    m->has_base ? num(m->base, m->integer, a, sizeof a) : "-",
                    m->has_cur ? num(m->cur, m->integer, b, sizeof b) : "-", change(m, c, sizeof c), verdict);
    }
}

static int write_text(FILE *out, const struct diff *d, bool md)
{
    char cb[200], cc[200];
    ps_trace_command(d->b->t, cb, sizeof cb);
    ps_trace_command(d->c->t, cc, sizeof cc);
    if (md) {
        fprintf(out, "## perfshim diff\n\n**%s**: %zu regression%s beyond %g%% (latency changes under %g us "
                     "ignored)\n\n",
                d->regressions ? "REGRESSED" : "No regression", d->regressions, d->regressions == 1 ? "" : "s",
                d->threshold, d->floor_us);
        fprintf(out, "- baseline: `%s` (pid %" PRIu64 ", %.3f s, %s)\n- current: `%s` (pid %" PRIu64
                     ", %.3f s, %s)\n",
                cb, d->b->t->proc.pid, d->b->duration_s, d->b->exit, cc, d->c->t->proc.pid, d->c->duration_s,
                d->c->exit);
    } else {
        if (d->regressions)
            fprintf(out, "REGRESSED: %zu regression%s beyond %g%% (latency changes under %g us ignored)\n",
                    d->regressions, d->regressions == 1 ? "" : "s", d->threshold, d->floor_us);
        else
            fprintf(out, "no regression beyond %g%% (latency changes under %g us ignored)\n", d->threshold,
                    d->floor_us);
        fprintf(out, "  baseline  %s  (pid %" PRIu64 ", %.3f s, %s; %s)\n", cb, d->b->t->proc.pid,
                d->b->duration_s, d->b->exit, d->b->t->path);
        fprintf(out, "  current   %s  (pid %" PRIu64 ", %.3f s, %s; %s)\n", cc, d->c->t->proc.pid,
                d->c->duration_s, d->c->exit, d->c->t->path);
    }
    text_metrics(out, d, "summary", "Summary", md);
    text_sites(out, d, L_LEAK_NEW, "Leak sites new in CURRENT", md);
    text_sites(out, d, L_LEAK_GROWN, "Leak sites grown most", md);
    text_sites(out, d, L_ALLOC_NEW, "Allocation sites new in CURRENT", md);
    text_sites(out, d, L_ALLOC_GROWN, "Allocation sites grown most", md);
    text_metrics(out, d, "requests", "Requests (latency in us)", md);
    text_metrics(out, d, "calls", "Calls (latency in us)", md);
    text_metrics(out, d, "resources", "Resources", md);
    return ferror(out) ? PS_EIO : 0;
}

/* ---- json ------------------------------------------------------------------------- */

static void add_i64(cJSON *o, const char *key, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    cJSON_AddRawToObject(o, key, buf);
}

static void add_num(cJSON *o, const char *key, bool has, double v, bool integer)
{
    if (!has)
        cJSON_AddNullToObject(o, key);
    else if (integer && fabs(v) < 9e15)
        add_i64(o, key, (int64_t)v);
    else
        cJSON_AddNumberToObject(o, key, round(v * 1000) / 1000);
}

static cJSON *run_json(const struct ps_report *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "trace", r->t->path);
    cJSON *cmd = cJSON_AddArrayToObject(o, "command");
    for (size_t i = 0; i < r->t->proc.argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(r->t->proc.argv[i]));
    ps_json_add_u64(o, "pid", r->t->proc.pid);
    cJSON_AddNumberToObject(o, "duration_s", r->duration_s);
    cJSON_AddStringToObject(o, "exit", r->exit);
    return o;
}

static cJSON *side_json(const struct site *s)
{
    if (!s)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    ps_json_add_u64(o, "allocations", s->allocs);
    ps_json_add_u64(o, "allocated_bytes", s->alloc_bytes);
    ps_json_add_u64(o, "leaked_bytes", s->leaked_bytes);
    ps_json_add_u64(o, "leaked_blocks", s->leaked_blocks);
    return o;
}

static cJSON *site_json(const struct pair *p)
{
    const struct site *s = p->c ? p->c : p->b;
    cJSON *o = cJSON_CreateObject();
    const struct ps_frame *f = s->nframes ? &s->frames[0] : NULL;
    cJSON_AddStringToObject(o, "function", f && f->function ? f->function : "??");
    if (f && f->file)
        cJSON_AddStringToObject(o, "file", ps_display_path(f->file));
    else
        cJSON_AddNullToObject(o, "file");
    ps_json_add_u64(o, "line", f ? (uint64_t)f->line : 0);
    cJSON_AddItemToObject(o, "baseline", side_json(p->b));
    cJSON_AddItemToObject(o, "current", side_json(p->c));
    add_i64(o, "leaked_bytes_change", p->leak_delta);
    add_i64(o, "allocated_bytes_change", p->alloc_delta);
    cJSON_AddBoolToObject(o, "regression", p->regression);
    cJSON *st = cJSON_AddArrayToObject(o, "stack");
    for (size_t i = 0; i < s->nframes; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "function", s->frames[i].function ? s->frames[i].function : "??");
        if (s->frames[i].file)
            cJSON_AddStringToObject(x, "file", ps_display_path(s->frames[i].file));
        else
            cJSON_AddNullToObject(x, "file");
        ps_json_add_u64(x, "line", (uint64_t)s->frames[i].line);
        cJSON_AddStringToObject(x, "module", s->frames[i].module ? s->frames[i].module : "");
        cJSON_AddBoolToObject(x, "inlined", s->frames[i].inlined);
        cJSON_AddItemToArray(st, x);
    }
    return o;
}

static int write_json(FILE *out, const struct diff *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "perfshim_version", PERFSHIM_VERSION);
    cJSON_AddItemToObject(root, "baseline", run_json(d->b));
    cJSON_AddItemToObject(root, "current", run_json(d->c));
    cJSON_AddNumberToObject(root, "threshold_percent", d->threshold);
    cJSON_AddNumberToObject(root, "min_latency_us", d->floor_us);
    cJSON_AddBoolToObject(root, "regressed", d->regressions > 0);
    cJSON *regs = cJSON_AddArrayToObject(root, "regressions");
    cJSON *ms = cJSON_AddArrayToObject(root, "metrics");
    for (size_t i = 0; i < d->nm; i++) {
        const struct metric *m = &d->m[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->name);
        add_num(o, "baseline", m->has_base, m->base, m->integer);
        add_num(o, "current", m->has_cur, m->cur, m->integer);
        bool both = m->has_base && m->has_cur;
        add_num(o, "change", both, m->cur - m->base, m->integer);
        add_num(o, "change_percent", both && m->base != 0, (m->cur - m->base) / fabs(m->base) * 100, false);
        cJSON_AddBoolToObject(o, "gated", m->gate != G_NONE);
        cJSON_AddBoolToObject(o, "regression", m->regression);
        if (m->note[0])
            cJSON_AddStringToObject(o, "note", m->note);
        if (m->regression)
            cJSON_AddItemToArray(regs, cJSON_Duplicate(o, true));
        cJSON_AddItemToArray(ms, o);
    }
    static const char *const groups[] = {"leak_sites", "leak_sites", "alloc_sites", "alloc_sites"};
    cJSON *g = NULL;
    for (int l = 0; l < L_COUNT; l++) {
        if (l % 2 == 0)
            g = cJSON_AddObjectToObject(root, groups[l]);
        cJSON *arr = cJSON_AddArrayToObject(g, list_keys[l]);
        size_t n;
        const struct pair **v = list_of(d, (enum list)l, &n);
        for (size_t i = 0; v && i < n; i++) {
            if (i < TOP_SITES * 5)
                cJSON_AddItemToArray(arr, site_json(v[i]));
            if (l < L_ALLOC_NEW && v[i]->regression) {
                cJSON *o = site_json(v[i]);
                char name[64];
                snprintf(name, sizeof name, "%s.%s", groups[l], list_keys[l]);
                cJSON_AddStringToObject(o, "name", name);
                cJSON_AddItemToArray(regs, o);
            }
        }
        free(v);
    }
    return ps_json_print(out, root);
}

/* ---- the command ------------------------------------------------------------------ */

static int parse_percent(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s || errno || !isfinite(*v) || *v < 0 || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    if (*end == '%')
        end++;
    return *end ? -1 : 0;
}

/* ARGV[*I] is LONG_ or SHORT_ with its value next, or LONG_=VALUE: 1 and
 * *VAL set; -1 when the value is missing; 0 when it is another option. */
static int opt(int argc, char **argv, int *i, const char *long_, const char *short_, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(long_);
    if (strcmp(a, long_) == 0 || (short_ && strcmp(a, short_) == 0)) {
        if (*i + 1 >= argc)
            return -1;
        *val = argv[++*i];
        return 1;
    }
    if (strncmp(a, long_, n) == 0 && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    return 0;
}

int ps_cmd_diff(int argc, char **argv)
{
    const char *format = "text", *outpath = NULL, *paths[2] = {NULL, NULL};
    struct diff d = {.threshold = 10, .floor_us = 1000};
    size_t ntraces = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        int k;
        if ((k = opt(argc, argv, &i, "--format", "-f", &val))) {
            if (k < 0)
                return ps_error_set(PS_EUSAGE, "diff: --format needs a value (text, json, markdown)");
            format = val;
        } else if ((k = opt(argc, argv, &i, "--output", "-o", &val))) {
            if (k < 0)
                return ps_error_set(PS_EUSAGE, "diff: -o needs a file name");
            outpath = val;
        } else if ((k = opt(argc, argv, &i, "--threshold", NULL, &val))) {
            if (k < 0 || parse_percent(val, &d.threshold))
                return ps_error_set(PS_EUSAGE, "diff: --threshold needs a percentage (10, 2.5, 25%%)");
        } else if ((k = opt(argc, argv, &i, "--min-latency-us", NULL, &val))) {
            char *end;
            errno = 0;
            if (k < 0 || (d.floor_us = strtod(val, &end), end == val || *end || errno || !isfinite(d.floor_us) ||
                                                              d.floor_us < 0 || *val == '-'))
                return ps_error_set(PS_EUSAGE, "diff: --min-latency-us needs a number of microseconds");
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (ntraces == 2)
                    return ps_error_set(PS_EUSAGE, "diff: two traces, BASELINE and CURRENT ('%s' is extra)", argv[i]);
                paths[ntraces++] = argv[i];
            }
            break;
        } else if (a[0] == '-' && a[1]) {
            return ps_error_set(PS_EUSAGE, "diff: unknown option '%s' (see perfshim --help)", a);
        } else if (ntraces == 2) {
            return ps_error_set(PS_EUSAGE, "diff: two traces, BASELINE and CURRENT ('%s' is extra)", a);
        } else {
            paths[ntraces++] = a;
        }
    }
    enum { F_TEXT, F_JSON, F_MD } fmt;
    if (strcmp(format, "text") == 0)
        fmt = F_TEXT;
    else if (strcmp(format, "json") == 0)
        fmt = F_JSON;
    else if (strcmp(format, "markdown") == 0 || strcmp(format, "md") == 0)
        fmt = F_MD;
    else
        return ps_error_set(PS_EUSAGE, "diff: unknown format '%s' (text, json, markdown)", format);
    if (ntraces < 2)
        return ps_error_set(PS_EUSAGE, "diff: needs two traces, BASELINE and CURRENT");
    /* One symbolizer per trace: module ids are unique only within a trace,
     * and the symbolizer keys its modules by id. */
    struct ps_symbolizer *sym[2] = {NULL, NULL};
    struct ps_report *rep[2] = {NULL, NULL};
    int rc = 0;
    for (int k = 0; !rc && k < 2; k++) {
        rc = ps_sym_new(&sym[k]);
        if (!rc)
            rc = ps_report_build(paths[k], sym[k], NULL, &rep[k]);
    }
    for (int k = 0; !rc && k < 2; k++)
        for (const char *const *w = ps_sym_warnings(sym[k]); w && *w; w++)
            fprintf(stderr, "perfshim: warning: %s\n", *w);
    if (!rc) {
        d.b = rep[0];
        d.c = rep[1];
        rc = build_metrics(&d);
    }
    if (!rc)
        rc = collect_sites(d.b, &d.sb, &d.nsb);
    if (!rc)
        rc = collect_sites(d.c, &d.sc, &d.nsc);
    if (!rc)
        rc = match_sites(&d);
    if (!rc) {
        struct output o;
        rc = output_open(&o, outpath);
        if (!rc)
            rc = output_close(&o, fmt == F_JSON ? write_json(o.f, &d) : write_text(o.f, &d, fmt == F_MD));
    }
    free(d.m);
    free(d.p);
    sites_free(d.sb, d.nsb);
    sites_free(d.sc, d.nsc);
    for (int k = 0; k < 2; k++) {
        ps_report_free(rep[k]);
        ps_sym_free(sym[k]);
    }
    if (rc)
        return rc;
    return d.regressions ? 1 : 0;
}
