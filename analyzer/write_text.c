/* `report --format text` (what a person reads first) and `--format
 * markdown` (for a pull-request comment): the verdict, the summary, then
 * the top leaks with their stacks, aligned to fit 100 columns. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "report.h"
#include "markup.h"

#define TOP_LEAKS 10
#define TOP_FRAMES 12

static const char *commas(uint64_t v, char *buf)
{
    return ps_commas(v, buf);
}

static const char *human(uint64_t v, char *buf)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%" PRIu64 " B", v);
    else
        snprintf(buf, 32, "%.1f %s", d, unit[u]);
    return buf;
}

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "";
}

static void location(const struct ps_frame *f, char *buf, size_t size)
{
    if (f->file && f->line)
        snprintf(buf, size, "%s:%d", ps_display_path(f->file), f->line);
    else if (f->file)
        snprintf(buf, size, "%s", ps_display_path(f->file));
    else if (f->function && strcmp(f->function, "??") != 0)
        snprintf(buf, size, "in %s", base_name(f->module));
    else
        snprintf(buf, size, "%s at 0x%" PRIx64, f->module && *f->module ? base_name(f->module) : "?",
                 f->address);
}

/* Microseconds, to three significant figures or whole. */
static const char *us(double v, char *buf)
{
    if (v < 10)
        snprintf(buf, 32, "%.2f", v);
    else if (v < 1000)
        snprintf(buf, 32, "%.1f", v);
    else
        snprintf(buf, 32, "%.0f", v);
    return buf;
}

#define TOP_CALLS 20
#define TOP_PEERS 10

/* Requests, calls and peers: aligned tables, busiest first. */
static void text_net(FILE *out, const struct ps_net_summary *n)
{
    char a[32], b[32], c[32], d[32], e[32], f[32], g[32];
    if (n->has_requests) {
        const struct ps_request_summary *r = &n->requests;
        fprintf(out, "\nRequests: %s, %.1f/s over %.3f s busy", commas(r->lat.count, a),
                r->throughput_rps, r->busy_s);
        if (r->cpu_us_per_request > 0)
            fprintf(out, ", %s us CPU per request", us(r->cpu_us_per_request, b));
        fprintf(out, "\n  %-12s %10s %10s %10s %10s %10s %10s\n", "latency us", "p50", "p90", "p95",
                "p99", "p99.9", "max");
        fprintf(out, "  %-12s %10s %10s %10s %10s %10s %10s\n", "", us(r->lat.p50_us, a),
                us(r->lat.p90_us, b), us(r->lat.p95_us, c), us(r->lat.p99_us, d),
                us(r->lat.p999_us, e), us(r->lat.max_us, f));
    }
    if (n->ncalls) {
        size_t shown = n->ncalls < TOP_CALLS ? n->ncalls : TOP_CALLS;
        fprintf(out, "\nIntercepted calls (most time first; latency in us)\n");
        fprintf(out, "  %-16s %11s %7s %7s %13s %10s %8s %8s %8s\n", "call", "count", "errors",
                "eagain", "bytes", "total ms", "p50", "p99", "max");
        for (size_t i = 0; i < shown; i++) {
            const struct ps_call_summary *k = &n->calls[i];
            char tot[32];
            snprintf(tot, sizeof tot, "%.1f", k->lat.total_us / 1000.0);
            fprintf(out, "  %-16s %11s %7s %7s %13s %10s %8s %8s %8s\n", k->name,
                    commas(k->count, a), commas(k->errors, b), commas(k->eagain, c),
                    commas(k->bytes, d), tot, us(k->lat.p50_us, e), us(k->lat.p99_us, f),
                    us(k->lat.max_us, g));
        }
        if (n->ncalls > shown)
            fprintf(out, "  ... %zu more kinds of call\n", n->ncalls - shown);
        if (n->clock_calls_per_s > 0)
            fprintf(out, "  clock reads: %.0f per second, %.1f ms in all\n", n->clock_calls_per_s,
                    n->clock_total_us / 1000.0);
    }
    if (n->npeers) {
        size_t shown = n->npeers < TOP_PEERS ? n->npeers : TOP_PEERS;
        fprintf(out, "\nPeers (connections peak %" PRIu64 "; request latency in us)\n",
                n->connections_peak);
        fprintf(out, "  %-22s %-3s %7s %9s %6s %13s %13s %8s %8s\n", "peer", "dir", "conns",
                "requests", "errors", "bytes in", "bytes out", "p50", "p99");
        for (size_t i = 0; i < shown; i++) {
            const struct ps_peer_summary *p = &n->peers[i];
            fprintf(out, "  %-22.22s %-3s %7s %9s %6s %13s %13s %8s %8s\n", p->name,
                    p->dir == PS_PEER_INBOUND ? "in" : "out", commas(p->connections, a),
                    commas(p->requests, b), commas(p->errors, c), commas(p->bytes_in, d),
                    commas(p->bytes_out, e), us(p->lat.p50_us, f), us(p->lat.p99_us, g));
        }
        if (n->npeers > shown)
            fprintf(out, "  ... %zu more peers\n", n->npeers - shown);
    }
}

/* A stack, innermost first, at most TOP_FRAMES of it. */
static void text_frames(FILE *out, const struct ps_frame *frames, size_t n)
{
    size_t nf = n < TOP_FRAMES ? n : TOP_FRAMES;
    for (size_t k = 0; k < nf; k++) {
        const struct ps_frame *f = &frames[k];
        char loc[512];
        location(f, loc, sizeof loc);
        fprintf(out, "    %-44.44s %s%s\n", f->function ? f->function : "??", loc,
                f->inlined ? "  (inlined)" : "");
    }
    if (n > nf)
        fprintf(out, "    ... %zu more frames\n", n - nf);
}

/* "+1.2 MiB/min" */
static const char *rate(double bpm, char *buf)
{
    char h[32];
    human((uint64_t)(bpm < 0 ? -bpm : bpm), h);
    snprintf(buf, 48, "%s%s/min", bpm < 0 ? "-" : "+", h);
    return buf;
}

/* The first frame that is not the allocator's: what a suspect is called. */
static const struct ps_frame *site_frame(const struct ps_frame *f, size_t n)
{
    static const char *const alloc_fns[] = {"malloc", "calloc", "realloc", "reallocarray",
                                            "posix_memalign", "aligned_alloc", "memalign",
                                            "valloc", "pvalloc", "operator new", "strdup", NULL};
    for (size_t i = 0; i < n; i++) {
        bool is_alloc = false;
        for (const char *const *a = alloc_fns; *a && f[i].function; a++)
            is_alloc |= strncmp(f[i].function, *a, strlen(*a)) == 0;
        if (!is_alloc)
            return &f[i];
    }
    return n ? &f[0] : NULL;
}

/* One line: growing or stable, by how much, and the top suspect. */
static void text_verdict(FILE *out, const struct ps_report *r)
{
    const struct ps_resources *x = &r->res;
    char a[48], b[48];
    if (!x->present)
        return;
    if (strcmp(x->verdict, "too short") == 0) {
        fprintf(out, "VERDICT: TOO SHORT to judge growth: %.1f s of samples after a %.1f s warm-up "
                     "(run longer, or lower --warmup)\n",
                x->window_s, x->warmup_s);
        return;
    }
    fprintf(out, "VERDICT: %s: heap %s, RSS %s over %.1f s after a %.1f s warm-up",
            strcmp(x->verdict, "growing") == 0 ? "GROWING" : "STABLE",
            rate(x->heap_growth_bytes_per_min, a), rate(x->rss_growth_bytes_per_min, b), x->window_s,
            x->warmup_s);
    if (r->nsuspects) {
        const struct ps_suspect_rep *s = &r->suspects[0];
        const struct ps_frame *f = site_frame(s->frames, s->nframes);
        char loc[512] = "";
        if (f)
            location(f, loc, sizeof loc);
        fprintf(out, "; top suspect %s (%s) %s, %s", f && f->function ? f->function : "??", loc,
                rate(s->s.growth_bytes_per_min, a), s->s.status);
    }
    fprintf(out, "\n");
}

#define TOP_SUSPECTS 10

static void text_growth(FILE *out, const struct ps_report *r)
{
    const struct ps_resources *x = &r->res;
    char a[48], b[48], c[48], d[48];
    if (!x->present)
        return;
    fprintf(out, "\nResources (%" PRIu64 " samples; growth fitted after %.1f s)\n", x->samples,
            x->warmup_s);
    fprintf(out, "  %-22s %s at start, %s peak, %s at end; %s (steadiness %.2f)\n", "RSS",
            human(x->rss_start, a), human(x->rss_peak, b), human(x->rss_end, c),
            rate(x->rss_growth_bytes_per_min, d), x->rss_steadiness);
    fprintf(out, "  %-22s %s peak, %s at end; %s (steadiness %.2f)\n", "live heap",
            human(x->heap_peak, a), human(x->heap_end, b), rate(x->heap_growth_bytes_per_min, c),
            x->heap_steadiness);
    fprintf(out, "  %-22s %" PRIu64 " threads, %" PRIu64 " fds; CPU %.2f s\n", "peaks",
            x->threads_peak, x->fds_peak, x->cpu_s);
    if (x->has_memory) {
        fprintf(out, "  %-22s RSS %s = live heap %s", "where RSS goes", human(x->mem_rss, a),
                human(x->mem_heap_live, b));
        if (strcmp(x->allocator, "glibc") == 0)
            fprintf(out, " + malloc overhead %s\n  %-22s + free memory malloc keeps %s",
                    human(x->mem_allocator_overhead, c), "", human(x->mem_allocator_free, d));
        fprintf(out, " + not heap %s\n  %-22s (not heap: code, files, stacks, other mappings)\n",
                human(x->mem_non_heap, a), "");
    }
    fprintf(out, "  %-22s %s resident; trace %s (%s)\n", "perfshim itself",
            human(x->shim_memory_peak, a), human(x->trace_bytes, b), rate(x->trace_bytes_per_min, c));
    if (!r->nsuspects) {
        fprintf(out, "\nNo leak suspects: no allocation site's live bytes kept growing\n");
        return;
    }
    size_t shown = r->nsuspects < TOP_SUSPECTS ? r->nsuspects : TOP_SUSPECTS;
    fprintf(out, "\nLeak suspects (sites whose live bytes grew: still growing first, then plateaus; "
                 "fastest first)\n");
    for (size_t i = 0; i < shown; i++) {
        const struct ps_suspect_rep *s = &r->suspects[i];
        fprintf(out, "\n#%zu  %s, %s live at end in %s blocks; %s (steadiness %.2f, recent %s)\n",
                i + 1, rate(s->s.growth_bytes_per_min, a), human(s->s.live_bytes_end, b),
                commas(s->s.live_blocks_end, c), s->s.status, s->s.steadiness,
                rate(s->s.recent_bytes_per_min, d));
        text_frames(out, s->frames, s->nframes);
    }
    if (r->nsuspects > shown)
        fprintf(out, "\n  ... %zu more suspects\n", r->nsuspects - shown);
}

#define TOP_CPU 10

static int by_total(const void *a, const void *b)
{
    const struct ps_cpu_func *x = *(const struct ps_cpu_func *const *)a, *y = *(const struct ps_cpu_func *const *)b;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return x->self < y->self ? 1 : x->self > y->self ? -1 : 0;
}

/* The functions of the CPU profile, most first by SELF or by total;
 * *N of them (at most TOP_CPU).  The caller frees the array. */
static const struct ps_cpu_func **cpu_top(const struct ps_report *r, bool self, size_t *n)
{
    *n = r->ncpu_funcs < TOP_CPU ? r->ncpu_funcs : TOP_CPU;
    const struct ps_cpu_func **v = calloc(r->ncpu_funcs + 1, sizeof *v);
    if (!v) {
        *n = 0;
        return NULL;
    }
    for (size_t i = 0; i < r->ncpu_funcs; i++)
        v[i] = &r->cpu_funcs[i];
    if (!self)
        qsort(v, r->ncpu_funcs, sizeof *v, by_total);
    while (*n && !(self ? v[*n - 1]->self : v[*n - 1]->total))
        (*n)--;
    return v;
}

static void cpu_where(const struct ps_cpu_func *f, char *buf, size_t size)
{
    if (f->file)
        snprintf(buf, size, "%s", ps_display_path(f->file));
    else
        snprintf(buf, size, "%s", *f->module ? base_name(f->module) : "");
}

static void text_cpu(FILE *out, const struct ps_report *r)
{
    const struct ps_trace *t = r->t;
    if (!t->proc.cpu_hz)
        return;
    uint64_t all = r->cpu.weight;
    char a[32];
    fprintf(out, "\nCPU profile: %s samples at %" PRIu64 " Hz (%.2f s of CPU) in %zu threads",
            commas(all, a), t->proc.cpu_hz, (double)all / (double)t->proc.cpu_hz, r->ncpu_threads);
    if (r->t->net->cpu_dropped)
        fprintf(out, "; %" PRIu64 " samples dropped (buffer full)", r->t->net->cpu_dropped);
    fprintf(out, "\n");
    if (!all)
        return;
    for (int self = 1; self >= 0; self--) {
        size_t n;
        const struct ps_cpu_func **v = cpu_top(r, self, &n);
        fprintf(out, "\n  Top functions by %s CPU\n  %7s %7s  %s\n", self ? "self" : "total", "self",
                "total", "function");
        for (size_t i = 0; i < n; i++) {
            char loc[512];
            cpu_where(v[i], loc, sizeof loc);
            fprintf(out, "  %6.1f%% %6.1f%%  %s  %s\n", 100.0 * v[i]->self / all, 100.0 * v[i]->total / all,
                    v[i]->function, loc);
        }
        free(v);
    }
}

/* memcheck's words for the kinds, so valgrind users read them at once. */
static const char *kind_words(const char *kind)
{
    if (strcmp(kind, "definite") == 0)
        return "definitely lost";
    if (strcmp(kind, "indirect") == 0)
        return "indirectly lost";
    if (strcmp(kind, "possible") == 0)
        return "possibly lost";
    if (strcmp(kind, "reachable") == 0)
        return "still reachable";
    return "kind unknown (not scanned)";
}

/* The text lists definite leaks first, still reachable blocks last (the
 * JSON keeps the contract's largest-first order); stable within a kind. */
static int kind_rank(const char *kind)
{
    static const char *const order[] = {"definite", "indirect", "possible", "unknown", "reachable"};
    for (int i = 0; i < 5; i++)
        if (strcmp(kind, order[i]) == 0)
            return i;
    return 5;
}

static int cmp_kind(const void *a, const void *b)
{
    const struct ps_leak *x = *(const struct ps_leak *const *)a, *y = *(const struct ps_leak *const *)b;
    int d = kind_rank(x->kind) - kind_rank(y->kind);
    return d ? d : (x < y ? -1 : x > y);
}

static const struct ps_leak **by_kind(const struct ps_report *r)
{
    const struct ps_leak **o = malloc((r->nleaks ? r->nleaks : 1) * sizeof *o);
    if (!o)
        return NULL; /* then largest first, as in the JSON */
    for (size_t i = 0; i < r->nleaks; i++)
        o[i] = &r->leaks[i];
    qsort(o, r->nleaks, sizeof *o, cmp_kind);
    return o;
}

static void text_kinds(FILE *out, const struct ps_report *r)
{
    char a[32], b[32];
    const struct ps_scan *s = r->last_scan;
    if (!s)
        return;
    static const char *const trig[] = {"", "at exit", "on signal", "periodic"};
    fprintf(out, "  reachability (%s scan at %.3f s, %" PRIu64 " threads stopped, %.1f ms):\n",
            trig[s->trigger], ps_trace_seconds(r->t, s->tick), s->threads - s->missed,
            s->pause_ns / 1e6);
    for (int k = PS_KIND_DEFINITE; k <= PS_KIND_COUNT; k++) {
        int kind = k % PS_KIND_COUNT;
        if (kind == PS_KIND_UNKNOWN && !r->kind_blocks[kind])
            continue;
        fprintf(out, "    %-20s %16s  in %s blocks\n",
                kind == PS_KIND_UNKNOWN ? "after the scan" : kind_words(ps_kind_names[kind]),
                commas(r->kind_bytes[kind], a), commas(r->kind_blocks[kind], b));
    }
}

static void text_one(FILE *out, const struct ps_report *r)
{
    const struct ps_trace *t = r->t;
    const struct ps_heap *h = r->h;
    char a[32], b[32], c[32], cmd[80];
    ps_trace_command(t, cmd, sizeof cmd);
    text_verdict(out, r);
    fprintf(out, "perfshim report: %s\n", cmd);
    fprintf(out, "  pid %" PRIu64 ", %s after %.3f s; trace %s\n", t->proc.pid, r->exit,
            r->duration_s, t->path);
    if (r->live_at_end)
        fprintf(out, "  the process did not exit (killed, or still running): the blocks below were "
                     "live when the trace ends, not proven leaked\n");
    if (h->shift || h->frozen)
        fprintf(out, "  the trace reached PERFSHIM_MAX_TRACE_MB: from %.1f s on, heap figures are "
                     "estimates from sampled blocks%s\n",
                ps_trace_seconds(t, h->sampled_tick), h->frozen ? "; allocation events stopped at the cap" : "");
    fprintf(out, "\n");
    /* Past the cap nothing after the stop was seen: blocks were live then. */
    const char *what = r->live_at_end || h->frozen ? "LIVE AT END" : "LEAKED";
    size_t sites = 0;
    for (size_t i = 0; i < r->nleaks; i++)
        sites += strcmp(r->leaks[i].kind, "reachable") != 0;
    if (r->leaked_blocks)
        fprintf(out, "%s %s (%s bytes) in %s blocks from %zu sites\n", what, human(r->leaked_bytes, a),
                commas(r->leaked_bytes, b), commas(r->leaked_blocks, c), sites);
    else if (r->reachable_blocks)
        fprintf(out, "no leaks: every block is freed or still reachable (%s bytes in %s blocks)\n",
                commas(r->reachable_bytes, b), commas(r->reachable_blocks, c));
    else
        fprintf(out, "no leaks: every block allocated under perfshim was freed\n");
    fprintf(out, "\n");
    fprintf(out, "  %-22s %16s\n", "allocations", commas(h->allocations, a));
    fprintf(out, "  %-22s %16s\n", "frees", commas(h->frees, a));
    fprintf(out, "  %-22s %16s\n", "reallocations", commas(h->reallocations, a));
    fprintf(out, "  %-22s %16s  (%s)\n", "total allocated", commas(h->total_allocated, a),
            human(h->total_allocated, b));
    fprintf(out, "  %-22s %16s  (%s at %.3f s)\n", "peak heap", commas(h->peak_bytes, a),
            human(h->peak_bytes, b), r->peak_s);
    fprintf(out, "  %-22s %16s  in %s blocks\n", "leaked bytes", commas(r->leaked_bytes, a),
            commas(r->leaked_blocks, b));
    text_kinds(out, r);
    if (h->unknown_frees)
        fprintf(out, "  %-22s %16s  (blocks allocated before tracing began)\n", "untracked frees",
                commas(h->unknown_frees, a));
    text_growth(out, r);
    text_net(out, &r->net);
    text_cpu(out, r);
    size_t shown = r->nleaks < TOP_LEAKS ? r->nleaks : TOP_LEAKS;
    const struct ps_leak **order = by_kind(r);
    if (shown)
        fprintf(out, "\nTop %zu of %zu %s groups (%s)\n", shown, r->nleaks,
                r->live_at_end || h->frozen ? "live-at-end" : "leak",
                r->last_scan ? "definitely lost first, still reachable last; largest first within a kind"
                             : "largest first; kind unknown: no reachability scan in this trace");
    for (size_t i = 0; i < shown; i++) {
        const struct ps_leak *l = order ? order[i] : &r->leaks[i];
        fprintf(out, "\n#%zu  %s bytes in %s blocks, %s\n", i + 1, commas(l->bytes, a),
                commas(l->blocks, b), kind_words(l->kind));
        text_frames(out, l->frames, l->nframes);
    }
    free(order);
}

int ps_write_text(FILE *out, struct ps_report **r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fprintf(out, "\n%s\n\n", "----------------------------------------------------------------");
        text_one(out, r[i]);
    }
    return ferror(out) ? PS_EIO : 0;
}

/* Markdown: a table of the summary and one table per leak site. */
static void md_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|' || *s == '`' || *s == '*' || *s == '_' || *s == '<' || *s == '>')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static void md_net(FILE *out, const struct ps_net_summary *n)
{
    char a[32], b[32], c[32], d[32], e[32], f[32];
    if (n->has_requests) {
        const struct ps_request_summary *r = &n->requests;
        fprintf(out, "\n### Requests\n\n");
        fprintf(out, "| count | per second | p50 us | p90 us | p95 us | p99 us | p99.9 us | max us |\n"
                     "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        fprintf(out, "| %s | %.1f | %s | %s | %s | %s | %s | ", commas(r->lat.count, a),
                r->throughput_rps, us(r->lat.p50_us, b), us(r->lat.p90_us, c), us(r->lat.p95_us, d),
                us(r->lat.p99_us, e), us(r->lat.p999_us, f));
        fprintf(out, "%s |\n", us(r->lat.max_us, a));
    }
    if (n->ncalls) {
        fprintf(out, "\n### Intercepted calls\n\n");
        fprintf(out, "| call | count | errors | bytes | total ms | p50 us | p99 us | max us |\n"
                     "|---|---:|---:|---:|---:|---:|---:|---:|\n");
        size_t shown = n->ncalls < TOP_CALLS ? n->ncalls : TOP_CALLS;
        for (size_t i = 0; i < shown; i++) {
            const struct ps_call_summary *k = &n->calls[i];
            fprintf(out, "| %s | %s | %s | %s | %.1f | %s | %s | ", k->name, commas(k->count, a),
                    commas(k->errors, b), commas(k->bytes, c), k->lat.total_us / 1000.0,
                    us(k->lat.p50_us, d), us(k->lat.p99_us, e));
            fprintf(out, "%s |\n", us(k->lat.max_us, f));
        }
    }
    if (n->npeers) {
        fprintf(out, "\n### Peers (connections peak %" PRIu64 ")\n\n", n->connections_peak);
        fprintf(out, "| peer | dir | connections | requests | errors | p50 us | p99 us | max us |\n"
                     "|---|---|---:|---:|---:|---:|---:|---:|\n");
        size_t shown = n->npeers < TOP_PEERS ? n->npeers : TOP_PEERS;
        for (size_t i = 0; i < shown; i++) {
            const struct ps_peer_summary *p = &n->peers[i];
            fprintf(out, "| ");
            md_escape(out, p->name);
            fprintf(out, " | %s | %s | %s | %s | %s | %s | ", p->dir == PS_PEER_INBOUND ? "in" : "out",
                    commas(p->connections, a), commas(p->requests, b), commas(p->errors, c),
                    us(p->lat.p50_us, d), us(p->lat.p99_us, e));
            fprintf(out, "%s |\n", us(p->lat.max_us, f));
        }
    }
}

static void md_one(FILE *out, const struct ps_report *r)
{
    const struct ps_trace *t = r->t;
    const struct ps_heap *h = r->h;
    char a[32], b[32], cmd[200];
    ps_trace_command(t, cmd, sizeof cmd);
    fprintf(out, "## perfshim report: `%s`\n\n", cmd);
    fprintf(out, "pid %" PRIu64 ", %s after %.3f s\n\n", t->proc.pid, r->exit, r->duration_s);
    if (r->res.present) {
        const struct ps_resources *x = &r->res;
        char g1[48], g2[48];
        fprintf(out, "**Verdict: %s**: heap %s, RSS %s over %.1f s after a %.1f s warm-up\n\n",
                x->verdict, rate(x->heap_growth_bytes_per_min, g1), rate(x->rss_growth_bytes_per_min, g2),
                x->window_s, x->warmup_s);
    }
    fprintf(out, "**%s**\n\n", !r->leaked_blocks ? "No leaks" : r->live_at_end ? "Blocks live at end (the process did not exit)" : "Leaks found");
    fprintf(out, "| metric | value |\n|---|---:|\n");
    fprintf(out, "| allocations | %s |\n", commas(h->allocations, a));
    fprintf(out, "| frees | %s |\n", commas(h->frees, a));
    fprintf(out, "| reallocations | %s |\n", commas(h->reallocations, a));
    fprintf(out, "| total allocated bytes | %s |\n", commas(h->total_allocated, a));
    fprintf(out, "| peak heap bytes | %s |\n", commas(h->peak_bytes, a));
    fprintf(out, "| leaked bytes | %s |\n", commas(r->leaked_bytes, a));
    fprintf(out, "| leaked blocks | %s |\n", commas(r->leaked_blocks, a));
    if (r->last_scan)
        for (int k = PS_KIND_DEFINITE; k < PS_KIND_COUNT; k++)
            fprintf(out, "| %s | %s bytes in %s blocks |\n", kind_words(ps_kind_names[k]),
                    commas(r->kind_bytes[k], a), commas(r->kind_blocks[k], b));
    if (r->res.present) {
        const struct ps_resources *x = &r->res;
        fprintf(out, "| RSS start / peak / end bytes | %" PRIu64 " / %" PRIu64 " / %" PRIu64 " |\n",
                x->rss_start, x->rss_peak, x->rss_end);
        fprintf(out, "| threads peak | %" PRIu64 " |\n| fds peak | %" PRIu64 " |\n", x->threads_peak,
                x->fds_peak);
    }
    if (r->nsuspects) {
        fprintf(out, "\n### Leak suspects\n\n| growth | live at end | status | site |\n|---:|---:|---|---|\n");
        for (size_t i = 0; i < r->nsuspects && i < TOP_SUSPECTS; i++) {
            const struct ps_suspect_rep *s = &r->suspects[i];
            const struct ps_frame *f = site_frame(s->frames, s->nframes);
            char g[48], loc[512] = "";
            if (f)
                location(f, loc, sizeof loc);
            fprintf(out, "| %s | %s | %s | ", rate(s->s.growth_bytes_per_min, g),
                    commas(s->s.live_bytes_end, a), s->s.status);
            md_escape(out, f && f->function ? f->function : "??");
            fprintf(out, " ");
            md_escape(out, loc);
            fprintf(out, " |\n");
        }
    }
    md_net(out, &r->net);
    if (t->proc.cpu_hz && r->cpu.weight) {
        uint64_t all = r->cpu.weight;
        size_t n;
        const struct ps_cpu_func **v = cpu_top(r, true, &n);
        fprintf(out, "\n### CPU profile: %s samples at %" PRIu64 " Hz\n\n| self | total | function | where |\n|---:|---:|---|---|\n",
                commas(all, a), t->proc.cpu_hz);
        for (size_t i = 0; i < n; i++) {
            char loc[512];
            cpu_where(v[i], loc, sizeof loc);
            fprintf(out, "| %.1f%% | %.1f%% | ", 100.0 * v[i]->self / all, 100.0 * v[i]->total / all);
            md_escape(out, v[i]->function);
            fprintf(out, " | ");
            md_escape(out, loc);
            fprintf(out, " |\n");
        }
        free(v);
    }
    size_t shown = r->nleaks < TOP_LEAKS ? r->nleaks : TOP_LEAKS;
    const struct ps_leak **order = by_kind(r);
    for (size_t i = 0; i < shown; i++) {
        const struct ps_leak *l = order ? order[i] : &r->leaks[i];
        fprintf(out, "\n### Leak %zu: %s bytes in %" PRIu64 " blocks, %s\n\n", i + 1, commas(l->bytes, a),
                l->blocks, kind_words(l->kind));
        fprintf(out, "| # | function | location |\n|---:|---|---|\n");
        size_t nf = l->nframes < TOP_FRAMES ? l->nframes : TOP_FRAMES;
        for (size_t k = 0; k < nf; k++) {
            char loc[512];
            location(&l->frames[k], loc, sizeof loc);
            fprintf(out, "| %zu | ", k);
            md_escape(out, l->frames[k].function);
            fprintf(out, "%s | ", l->frames[k].inlined ? " (inlined)" : "");
            md_escape(out, loc);
            fprintf(out, " |\n");
        }
    }
    free(order);
}

int ps_write_markdown(FILE *out, struct ps_report **r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fprintf(out, "\n---\n\n");
        md_one(out, r[i]);
    }
    return ferror(out) ? PS_EIO : 0;
}
