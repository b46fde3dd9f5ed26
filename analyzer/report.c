/* Building the report model: read -> heap analysis -> leaks grouped by
 * stack -> symbolized frames. */
#include "report.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"

static int leak_cmp(const void *a, const void *b)
{
    const struct ps_leak *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    if (x->blocks != y->blocks)
        return x->blocks < y->blocks ? 1 : -1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static bool is_shim_module(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libperfshim.so", 14) == 0;
}

int ps_report_stack_frames(struct ps_report *r, uint32_t id, struct ps_frame **frames, size_t *n)
{
    *frames = NULL;
    *n = 0;
    const struct ps_trace *t = r->t;
    if (id == PS_STACK_NONE || id >= t->nstacks || t->stacks[id].depth == 0) {
        struct ps_frame *f = calloc(1, sizeof *f);
        if (!f)
            return PS_ENOMEM;
        /* id 0: no unwinder, PERFSHIM_STACK_DEPTH=0 or a full stack table */
        f->function = id == PS_STACK_NONE ? "[no stack recorded]"
                                          : "[stack not in trace: it was cut short]";
        f->module = "";
        *frames = f;
        *n = 1;
        return 0;
    }
    const struct ps_stack *st = &t->stacks[id];
    size_t cap = st->depth * 2 + 4, used = 0;
    struct ps_frame *out = malloc(cap * sizeof *out);
    if (!out)
        return PS_ENOMEM;
    for (uint32_t i = 0; i < st->depth; i++) {
        uint64_t ip = st->ips[i];
        const struct ps_module *m = ps_trace_module_at(t, ip, st->tick);
        const struct ps_frame *fr = NULL;
        size_t nfr = 0;
        struct ps_frame unknown = {.address = ip, .module = "", .function = "??"};
        if (ip == PS_FRAME_UNWINDING + 1) {
            unknown.function = "[perfshim: stack unwinding]";
            fr = &unknown;
            nfr = 1;
        } else if (m) {
            if (is_shim_module(m->path))
                continue;
            if (ps_sym_resolve(r->sym, m, ip, true, &fr, &nfr) < 0 || nfr == 0) {
                unknown.module = m->path;
                fr = &unknown;
                nfr = 1;
            }
        } else {
            fr = &unknown;
            nfr = 1;
        }
        if (used + nfr > cap) {
            cap = (used + nfr) * 2;
            struct ps_frame *g = realloc(out, cap * sizeof *g);
            if (!g) {
                free(out);
                return PS_ENOMEM;
            }
            out = g;
        }
        for (size_t k = 0; k < nfr; k++) {
            out[used] = fr[k];
            out[used].address = ip;
            used++;
        }
    }
    *frames = out;
    *n = used;
    return 0;
}

uint64_t ps_report_tid(const struct ps_report *r, uint32_t serial)
{
    return serial < r->nserials ? r->serial_tid[serial] : 0;
}

static void note_thread(struct ps_report *r, uint32_t serial, uint64_t tid)
{
    if (serial >= r->nserials) {
        size_t n = (size_t)serial * 2 + 16;
        uint64_t *g = realloc(r->serial_tid, n * sizeof *g);
        if (!g) {
            r->off.error = PS_ENOMEM;
            return;
        }
        memset(g + r->nserials, 0, (n - r->nserials) * sizeof *g);
        r->serial_tid = g;
        r->nserials = n;
    }
    r->serial_tid[serial] = tid;
}

/* The reader's one sink: allocation events to the heap analysis, blocked
 * calls to the off-CPU table, CPU samples to the CPU table. */
static void report_event(void *ctx, const struct ps_event *ev)
{
    struct ps_report *r = ctx;
    if (ev->kind == PS_EV_OFFCPU)
        ps_tally_add(&r->off, ev->stack, (uint32_t)(ev->addr < 256 ? ev->addr : 0),
                     ps_report_tid(r, ev->thread), ev->size, 1);
    else if (ev->kind == PS_EV_CPU_SAMPLE)
        ps_tally_add(&r->cpu, ev->stack, 0, ev->tid, ev->size, 1);
    else if (ev->kind == PS_MARK_SAMPLE)
        ps_growth_sample(&r->growth, r->t, r->h, ev->addr);
    else if (ev->kind == PS_MARK_SAMPLING)
        ps_heap_sampling(r->h, r->t->levels[ev->addr].shift, ev->tick);
    else if (ev->kind == PS_MARK_SCAN) {
        if (!r->h->error && ps_heap_reach(r->h, &r->t->scans[ev->addr]))
            r->h->error = PS_ENOMEM;
    }
    else {
        if (ev->kind == PS_EV_THREAD_START)
            note_thread(r, ev->thread, ev->tid);
        ps_heap_event(r->h, ev);
    }
}

int ps_report_build(const char *path, struct ps_symbolizer *sym, const struct ps_report_opts *opts,
                    struct ps_report **out)
{
    *out = NULL;
    struct ps_report *r = calloc(1, sizeof *r);
    if (!r)
        return PS_ENOMEM;
    r->sym = sym;
    ps_growth_init(&r->growth);
    r->h = ps_heap_new();
    if (!r->h) {
        free(r);
        return PS_ENOMEM;
    }
    /* the sink reads r->t (samples, levels) while the trace is read */
    int rc = ps_trace_read(path, report_event, r, &r->t);
    if (!rc && r->h->error)
        rc = r->h->error;
    if (!rc && r->off.error)
        rc = r->off.error;
    if (!rc && r->cpu.error)
        rc = r->cpu.error;
    if (!rc) {
        ps_heap_finish(r->h);
        rc = r->h->error;
    }
    if (rc) {
        ps_report_free(r);
        return rc;
    }
    struct ps_trace *t = r->t;
    r->live_at_end = !t->end.has_end && !t->end.exec_seen;
    if (r->live_at_end && t->end.signal)
        fprintf(stderr, "perfshim: warning: trace '%s' has no end record: the process died of signal %d; "
                        "reporting its %llu events up to the last complete record\n",
                path, t->end.signal, (unsigned long long)t->events);
    else if (r->live_at_end)
        fprintf(stderr, "perfshim: warning: trace '%s' has no end record (the process was killed "
                        "or is still running); reporting its %llu events up to the last complete "
                        "record\n",
                path, (unsigned long long)t->events);
    ps_trace_exit_string(t, r->exit, sizeof r->exit);
    r->duration_s = ps_trace_seconds(t, t->end.end_tick);
    r->peak_s = ps_trace_seconds(t, r->h->peak_tick);
    if ((rc = ps_net_summarize(t, r->duration_s, &r->net))) {
        ps_report_free(r);
        return rc;
    }
    /* Sampled by address, a block that is freed and handed out again stays
     * in or out of the sample: counts are better taken from the shim's own
     * exact counters (its last resource sample). */
    if ((r->h->shift || r->h->frozen) && t->nsamples) {
        const struct ps_sample *last = &t->samples[t->nsamples - 1];
        r->h->allocations = last->allocs;
        r->h->frees = last->frees;
        r->h->total_allocated = last->bytes_alloc;
    }
    struct ps_suspect *sus = NULL;
    size_t nsus = 0;
    rc = ps_growth_finish(&r->growth, t, r->h, r->duration_s, opts ? opts->warmup_s : -1, &r->res,
                          &sus, &nsus);
    r->suspects = rc ? NULL : calloc(nsus ? nsus : 1, sizeof *r->suspects);
    if (!rc && !r->suspects)
        rc = PS_ENOMEM;
    for (size_t i = 0; !rc && i < nsus; i++) {
        r->suspects[i].s = sus[i];
        r->nsuspects++;
        rc = ps_report_stack_frames(r, sus[i].stack, &r->suspects[i].frames, &r->suspects[i].nframes);
    }
    free(sus);
    if (rc) {
        ps_report_free(r);
        return rc;
    }

    /* Leaks: live blocks grouped by (stack, kind); reachable ones are
     * listed but not counted as leaked (the contract's summary). */
    struct ps_live_group *groups = NULL;
    size_t n = 0;
    if ((rc = ps_heap_live_groups(r->h, &groups, &n))) {
        ps_report_free(r);
        return rc;
    }
    r->leaks = calloc(n ? n : 1, sizeof *r->leaks);
    if (!r->leaks) {
        free(groups);
        ps_report_free(r);
        return PS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct ps_leak *l = &r->leaks[r->nleaks++];
        l->bytes = groups[i].bytes;
        l->blocks = groups[i].blocks;
        l->stack = groups[i].stack;
        l->kind = ps_kind_names[groups[i].kind];
        r->kind_bytes[groups[i].kind] += l->bytes;
        r->kind_blocks[groups[i].kind] += l->blocks;
        if (groups[i].kind == PS_KIND_REACHABLE) {
            r->reachable_bytes += l->bytes;
            r->reachable_blocks += l->blocks;
        } else {
            r->leaked_bytes += l->bytes;
            r->leaked_blocks += l->blocks;
        }
    }
    free(groups);
    for (size_t i = t->nscans; i-- > 0;)
        if (t->scans[i].classified) {
            r->last_scan = &t->scans[i];
            break;
        }
    qsort(r->leaks, r->nleaks, sizeof *r->leaks, leak_cmp);
    if ((rc = ps_cpu_functions(r))) {
        ps_report_free(r);
        return rc;
    }
    for (size_t i = 0; i < r->nleaks; i++) {
        rc = ps_report_stack_frames(r, r->leaks[i].stack, &r->leaks[i].frames, &r->leaks[i].nframes);
        if (rc) {
            ps_report_free(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

void ps_report_free(struct ps_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nleaks; i++)
        free(r->leaks[i].frames);
    free(r->leaks);
    for (size_t i = 0; i < r->nsuspects; i++)
        free(r->suspects[i].frames);
    free(r->suspects);
    ps_growth_free(&r->growth);
    ps_net_summary_free(&r->net);
    ps_tally_free(&r->off);
    ps_tally_free(&r->cpu);
    free(r->cpu_funcs);
    free(r->cpu_threads);
    free(r->serial_tid);
    ps_heap_free(r->h);
    ps_trace_free(r->t);
    free(r);
}

const char *ps_display_path(const char *file)
{
    static char cwd[4096];
    static size_t cwd_len;
    if (!file)
        return NULL;
    if (!cwd_len && getcwd(cwd, sizeof cwd - 1)) {
        cwd_len = strlen(cwd);
        if (cwd_len && cwd[cwd_len - 1] != '/')
            cwd[cwd_len++] = '/';
        cwd[cwd_len] = 0;
    }
    if (cwd_len > 1 && strncmp(file, cwd, cwd_len) == 0)
        return file + cwd_len;
    return file;
}
