/* `report --format json`: exactly the keys of the contract (CONTRACT.md,
 * documented in docs/report-schema.md).  One trace gives one object; several
 * give an array of objects in the order given. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "errors.h"
#include "report.h"

/* Integers are written exactly (cJSON's numbers are doubles). */
void ps_json_add_u64(cJSON *o, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, buf);
}

static cJSON *stack_json(const struct ps_frame *f, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char addr[32];
        snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)f[i].address);
        cJSON_AddStringToObject(o, "address", addr);
        cJSON_AddStringToObject(o, "module", f[i].module ? f[i].module : "");
        cJSON_AddStringToObject(o, "function", f[i].function ? f[i].function : "??");
        if (f[i].file)
            cJSON_AddStringToObject(o, "file", ps_display_path(f[i].file));
        else
            cJSON_AddNullToObject(o, "file");
        ps_json_add_u64(o, "line", (uint64_t)f[i].line);
        cJSON_AddBoolToObject(o, "inlined", f[i].inlined);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Microseconds to the nanosecond: more digits would only be noise. */
static void add_us(cJSON *o, const char *key, double us)
{
    cJSON_AddNumberToObject(o, key, round(us * 1000.0) / 1000.0);
}

static void add_latency(cJSON *o, const struct ps_latency *l, bool all)
{
    if (all)
        add_us(o, "total_us", l->total_us);
    add_us(o, "p50_us", l->p50_us);
    if (all)
        add_us(o, "p90_us", l->p90_us);
    add_us(o, "p95_us", l->p95_us);
    add_us(o, "p99_us", l->p99_us);
    if (all)
        add_us(o, "p999_us", l->p999_us);
    add_us(o, "max_us", l->max_us);
}

static void net_json(cJSON *root, const struct ps_net_summary *n)
{
    cJSON *calls = cJSON_AddObjectToObject(root, "calls");
    for (size_t i = 0; i < n->ncalls; i++) {
        const struct ps_call_summary *c = &n->calls[i];
        cJSON *o = cJSON_AddObjectToObject(calls, c->name);
        ps_json_add_u64(o, "count", c->count);
        ps_json_add_u64(o, "errors", c->errors);
        ps_json_add_u64(o, "eagain", c->eagain);
        ps_json_add_u64(o, "eintr", c->eintr);
        ps_json_add_u64(o, "partial", c->partial);
        ps_json_add_u64(o, "bytes", c->bytes);
        add_latency(o, &c->lat, true);
    }
    if (n->has_requests) {
        const struct ps_request_summary *r = &n->requests;
        cJSON *o = cJSON_AddObjectToObject(root, "requests");
        ps_json_add_u64(o, "count", r->lat.count);
        add_latency(o, &r->lat, true);
        cJSON_AddNumberToObject(o, "throughput_rps", round(r->throughput_rps * 1000.0) / 1000.0);
        cJSON_AddNumberToObject(o, "busy_s", round(r->busy_s * 1e6) / 1e6);
        add_us(o, "cpu_us_per_request", r->cpu_us_per_request);
    }
    cJSON *peers = cJSON_AddObjectToObject(root, "peers");
    for (size_t i = 0; i < n->npeers; i++) {
        const struct ps_peer_summary *p = &n->peers[i];
        cJSON *o = cJSON_AddObjectToObject(peers, p->name);
        cJSON_AddStringToObject(o, "direction", p->dir == PS_PEER_INBOUND ? "inbound" : "outbound");
        ps_json_add_u64(o, "connections", p->connections);
        ps_json_add_u64(o, "requests", p->requests);
        ps_json_add_u64(o, "errors", p->errors);
        ps_json_add_u64(o, "bytes_in", p->bytes_in);
        ps_json_add_u64(o, "bytes_out", p->bytes_out);
        add_latency(o, &p->lat, false);
        if (p->dir == PS_PEER_OUTBOUND) {
            add_us(o, "connect_p50_us", p->connect.p50_us);
            add_us(o, "connect_max_us", p->connect.max_us);
        }
    }
    ps_json_add_u64(root, "connections_peak", n->connections_peak);
}

static void add_rate(cJSON *o, const char *key, double v)
{
    cJSON_AddNumberToObject(o, key, round(v * 10) / 10);
}

static void resources_json(cJSON *root, const struct ps_resources *x)
{
    cJSON *o = cJSON_AddObjectToObject(root, "resources");
    ps_json_add_u64(o, "rss_start_bytes", x->rss_start);
    ps_json_add_u64(o, "rss_peak_bytes", x->rss_peak);
    ps_json_add_u64(o, "rss_end_bytes", x->rss_end);
    add_rate(o, "rss_growth_bytes_per_min", x->rss_growth_bytes_per_min);
    add_rate(o, "heap_growth_bytes_per_min", x->heap_growth_bytes_per_min);
    ps_json_add_u64(o, "threads_peak", x->threads_peak);
    ps_json_add_u64(o, "fds_peak", x->fds_peak);
    ps_json_add_u64(o, "samples", x->samples);
    ps_json_add_u64(o, "vm_peak_bytes", x->vm_peak);
    ps_json_add_u64(o, "heap_end_bytes", x->heap_end);
    cJSON_AddNumberToObject(o, "rss_steadiness", round(x->rss_steadiness * 1000) / 1000);
    cJSON_AddNumberToObject(o, "heap_steadiness", round(x->heap_steadiness * 1000) / 1000);
    cJSON_AddNumberToObject(o, "warmup_s", round(x->warmup_s * 1000) / 1000);
    cJSON_AddNumberToObject(o, "window_s", round(x->window_s * 1000) / 1000);
    cJSON_AddStringToObject(o, "verdict", x->verdict);
    cJSON_AddNumberToObject(o, "cpu_s", round(x->cpu_s * 1000) / 1000);
    cJSON_AddNumberToObject(o, "shim_cpu_s", round(x->shim_cpu_s * 1000) / 1000);
    ps_json_add_u64(o, "shim_memory_peak_bytes", x->shim_memory_peak);
    ps_json_add_u64(o, "trace_bytes", x->trace_bytes);
    add_rate(o, "trace_bytes_per_min", x->trace_bytes_per_min);
    if (x->has_memory) {
        cJSON *m = cJSON_AddObjectToObject(o, "memory");
        cJSON_AddStringToObject(m, "allocator", x->allocator);
        ps_json_add_u64(m, "rss_bytes", x->mem_rss);
        ps_json_add_u64(m, "rss_anon_bytes", x->mem_rss_anon);
        ps_json_add_u64(m, "rss_file_bytes", x->mem_rss_file);
        ps_json_add_u64(m, "heap_live_bytes", x->mem_heap_live);
        ps_json_add_u64(m, "allocator_overhead_bytes", x->mem_allocator_overhead);
        ps_json_add_u64(m, "allocator_free_bytes", x->mem_allocator_free);
        ps_json_add_u64(m, "non_heap_bytes", x->mem_non_heap);
    }
}

static void cpu_func_json(cJSON *arr, const struct ps_cpu_func *f, uint64_t all)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "function", f->function);
    if (f->file)
        cJSON_AddStringToObject(o, "file", ps_display_path(f->file));
    else
        cJSON_AddNullToObject(o, "file");
    cJSON_AddStringToObject(o, "module", f->module);
    ps_json_add_u64(o, "self_samples", f->self);
    cJSON_AddNumberToObject(o, "self_percent", round(f->self * 10000.0 / all) / 100);
    ps_json_add_u64(o, "total_samples", f->total);
    cJSON_AddNumberToObject(o, "total_percent", round(f->total * 10000.0 / all) / 100);
    cJSON_AddItemToArray(arr, o);
}

#define CPU_TOP 50

static int u64_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* "cpu": the sampling rate, samples by thread, and the functions that are
 * among the top CPU_TOP by self or by total samples. */
/* Every complete scan, when and how; the kinds above come from the last. */
static void scans_json(cJSON *root, const struct ps_report *r)
{
    static const char *const trig[] = {"", "exit", "signal", "interval"};
    const struct ps_trace *t = r->t;
    cJSON *a = cJSON_AddArrayToObject(root, "scans");
    for (size_t i = 0; i < t->nscans; i++) {
        const struct ps_scan *s = &t->scans[i];
        if (!s->classified)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "time_s", ps_trace_seconds(t, s->tick));
        cJSON_AddStringToObject(o, "trigger", trig[s->trigger]);
        ps_json_add_u64(o, "blocks", s->blocks);
        cJSON_AddNumberToObject(o, "duration_ms", s->pause_ns / 1e6);
        cJSON_AddNumberToObject(o, "total_ms", s->total_ns / 1e6);
        ps_json_add_u64(o, "bytes_scanned", s->bytes);
        ps_json_add_u64(o, "threads_stopped", s->threads - s->missed);
        ps_json_add_u64(o, "threads_missed", s->missed);
        cJSON *k = cJSON_AddObjectToObject(o, "kinds");
        for (int j = PS_KIND_DEFINITE; j < PS_KIND_COUNT; j++) {
            cJSON *x = cJSON_AddObjectToObject(k, ps_kind_names[j]);
            ps_json_add_u64(x, "bytes", s->kind_bytes[j]);
            ps_json_add_u64(x, "blocks", s->kind_blocks[j]);
        }
        cJSON_AddItemToArray(a, o);
    }
}

static void cpu_json(cJSON *root, const struct ps_report *r)
{
    const struct ps_trace *t = r->t;
    cJSON *o = cJSON_AddObjectToObject(root, "cpu");
    uint64_t all = r->cpu.weight;
    ps_json_add_u64(o, "hz", t->proc.cpu_hz);
    ps_json_add_u64(o, "samples", all);
    cJSON_AddNumberToObject(o, "cpu_seconds", round(all * 1000.0 / t->proc.cpu_hz) / 1000);
    ps_json_add_u64(o, "dropped", r->t->net->cpu_dropped);
    cJSON *th = cJSON_AddArrayToObject(o, "threads");
    for (size_t i = 0; i < r->ncpu_threads; i++) {
        cJSON *x = cJSON_CreateObject();
        ps_json_add_u64(x, "tid", r->cpu_threads[i].tid);
        ps_json_add_u64(x, "samples", r->cpu_threads[i].samples);
        cJSON_AddItemToArray(th, x);
    }
    cJSON *fs = cJSON_AddArrayToObject(o, "top_functions");
    if (!all)
        return;
    uint64_t cut = 0; /* the CPU_TOP-th largest total */
    uint64_t *tot = malloc((r->ncpu_funcs + 1) * sizeof *tot);
    if (tot) {
        for (size_t i = 0; i < r->ncpu_funcs; i++)
            tot[i] = r->cpu_funcs[i].total;
        qsort(tot, r->ncpu_funcs, sizeof *tot, u64_desc);
        cut = r->ncpu_funcs > CPU_TOP ? tot[CPU_TOP - 1] : 0;
        free(tot);
    }
    for (size_t i = 0; i < r->ncpu_funcs; i++)
        if (i < CPU_TOP || (cut && r->cpu_funcs[i].total >= cut))
            cpu_func_json(fs, &r->cpu_funcs[i], all);
}

static cJSON *report_json(const struct ps_report *r)
{
    const struct ps_trace *t = r->t;
    const struct ps_heap *h = r->h;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "perfshim_version", PERFSHIM_VERSION);
    ps_json_add_u64(root, "trace_format_version", t->version);

    cJSON *proc = cJSON_AddObjectToObject(root, "process");
    ps_json_add_u64(proc, "pid", t->proc.pid);
    ps_json_add_u64(proc, "ppid", t->proc.ppid);
    cJSON *cmd = cJSON_AddArrayToObject(proc, "command");
    for (size_t i = 0; i < t->proc.argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(t->proc.argv[i]));
    cJSON_AddStringToObject(proc, "executable", t->proc.exe);
    ps_json_add_u64(proc, "start_unix_ns", t->proc.start_unix_ns);
    cJSON_AddNumberToObject(proc, "duration_s", r->duration_s);
    cJSON_AddStringToObject(proc, "exit", r->exit);
    cJSON_AddBoolToObject(proc, "trace_truncated", t->end.truncated);

    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    ps_json_add_u64(sum, "allocations", h->allocations);
    ps_json_add_u64(sum, "frees", h->frees);
    ps_json_add_u64(sum, "reallocations", h->reallocations);
    ps_json_add_u64(sum, "total_allocated_bytes", h->total_allocated);
    ps_json_add_u64(sum, "peak_heap_bytes", h->peak_bytes);
    cJSON_AddNumberToObject(sum, "peak_heap_s", r->peak_s);
    ps_json_add_u64(sum, "leaked_bytes", r->leaked_bytes);
    ps_json_add_u64(sum, "leaked_blocks", r->leaked_blocks);
    ps_json_add_u64(sum, "reachable_bytes", r->reachable_bytes);
    ps_json_add_u64(sum, "reachable_blocks", r->reachable_blocks);
    cJSON *kinds = cJSON_AddObjectToObject(sum, "leak_kinds");
    for (int k = PS_KIND_DEFINITE; k <= PS_KIND_COUNT; k++) {
        int kind = k % PS_KIND_COUNT; /* unknown last */
        cJSON *o = cJSON_AddObjectToObject(kinds, ps_kind_names[kind]);
        ps_json_add_u64(o, "bytes", r->kind_bytes[kind]);
        ps_json_add_u64(o, "blocks", r->kind_blocks[kind]);
    }
    ps_json_add_u64(sum, "untracked_frees", h->unknown_frees);
    cJSON_AddBoolToObject(sum, "live_at_end", r->live_at_end);
    cJSON_AddBoolToObject(sum, "sampled", h->shift != 0 || h->frozen);
    if (h->shift || h->frozen) {
        cJSON_AddNumberToObject(sum, "sampled_from_s", ps_trace_seconds(t, h->sampled_tick));
        ps_json_add_u64(sum, "sample_bytes", h->shift ? 1ull << h->shift : 0);
        if (h->frozen)
            cJSON_AddNumberToObject(sum, "heap_events_stopped_s", ps_trace_seconds(t, h->frozen_tick));
    }

    cJSON *leaks = cJSON_AddArrayToObject(root, "leaks");
    for (size_t i = 0; i < r->nleaks; i++) {
        const struct ps_leak *l = &r->leaks[i];
        cJSON *o = cJSON_CreateObject();
        ps_json_add_u64(o, "bytes", l->bytes);
        ps_json_add_u64(o, "blocks", l->blocks);
        cJSON_AddStringToObject(o, "kind", l->kind);
        cJSON_AddItemToObject(o, "stack", stack_json(l->frames, l->nframes));
        cJSON_AddItemToArray(leaks, o);
    }
    scans_json(root, r);
    net_json(root, &r->net);
    if (r->res.present)
        resources_json(root, &r->res);
    if (t->proc.cpu_hz)
        cpu_json(root, r);
    cJSON *sus = cJSON_AddArrayToObject(root, "leak_suspects");
    for (size_t i = 0; i < r->nsuspects; i++) {
        const struct ps_suspect *p = &r->suspects[i].s;
        cJSON *o = cJSON_CreateObject();
        add_rate(o, "growth_bytes_per_min", p->growth_bytes_per_min);
        add_rate(o, "growth_blocks_per_min", p->growth_blocks_per_min);
        add_rate(o, "recent_growth_bytes_per_min", p->recent_bytes_per_min);
        ps_json_add_u64(o, "live_bytes_end", p->live_bytes_end);
        ps_json_add_u64(o, "live_blocks_end", p->live_blocks_end);
        cJSON_AddNumberToObject(o, "steadiness", round(p->steadiness * 1000) / 1000);
        cJSON_AddStringToObject(o, "status", p->status);
        cJSON_AddItemToObject(o, "stack", stack_json(r->suspects[i].frames, r->suspects[i].nframes));
        cJSON_AddItemToArray(sus, o);
    }
    return root;
}

int ps_write_json(FILE *out, struct ps_report **r, size_t n)
{
    cJSON *doc;
    if (n == 1) {
        doc = report_json(r[0]);
    } else {
        doc = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(doc, report_json(r[i]));
    }
    return ps_json_print(out, doc);
}

int ps_json_print(FILE *out, struct cJSON *doc)
{
    char *s = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!s)
        return PS_ENOMEM;
    fputs(s, out);
    fputc('\n', out);
    free(s);
    return ferror(out) ? PS_EIO : 0;
}
