/* Call, request and peer statistics (see net.h). */
#include "net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "perfshim/histogram.h"

#define MAX_SLOTS (1u << 20)
#define MAX_PEERS 4096u

static const char *const call_names[PS_CALL_MAX_] = {
#define PS__X(name, id, cls) [id] = #name,
    PS_CALLS(PS__X)
#undef PS__X
};

static const bool call_is_clock[PS_CALL_MAX_] = {
    [PS_CALL_clock_gettime] = true, [PS_CALL_gettimeofday] = true, [PS_CALL_time] = true};

const char *ps_call_name(unsigned kind)
{
    return kind < PS_CALL_MAX_ && call_names[kind] ? call_names[kind] : "?";
}

struct ps_net *ps_net_new(void)
{
    return calloc(1, sizeof(struct ps_net));
}

static void cstat_clear(struct ps_cstat_in *c)
{
    free(c->idx);
    free(c->cnt);
    memset(c, 0, sizeof *c);
}

void ps_net_free(struct ps_net *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nslots; i++) {
        for (unsigned k = 0; k < PS_CALL_MAX_; k++)
            cstat_clear(&n->slots[i].calls[k]);
        cstat_clear(&n->slots[i].req);
    }
    for (size_t i = 0; i < n->npeers; i++) {
        free(n->peers[i].name);
        cstat_clear(&n->peers[i].req);
        cstat_clear(&n->peers[i].connect);
    }
    free(n->slots);
    free(n->peers);
    free(n);
}

/* ---- parsing ------------------------------------------------------------------ */

#define GETV(v)                               \
    do {                                      \
        if (ps_get_uv(p, end, &(v)))          \
            return 1;                         \
    } while (0)

/* A cstat replaces *C (the records are cumulative). */
static int get_cstat(const uint8_t **p, const uint8_t *end, struct ps_cstat_in *c)
{
    struct ps_cstat_in n = {0};
    uint64_t nb;
    GETV(n.count);
    GETV(n.errors);
    GETV(n.eagain);
    GETV(n.eintr);
    GETV(n.partial);
    GETV(n.bytes);
    GETV(n.total_ns);
    GETV(n.max_ns);
    GETV(nb);
    if (nb > PS_HIST_BUCKETS || nb * 2 > (uint64_t)(end - *p))
        return 1;
    if (nb) {
        n.idx = malloc(nb * sizeof *n.idx);
        n.cnt = malloc(nb * sizeof *n.cnt);
        if (!n.idx || !n.cnt) {
            cstat_clear(&n);
            return PS_ENOMEM;
        }
    }
    uint64_t at = 0;
    for (uint64_t i = 0; i < nb; i++) {
        uint64_t d, v;
        if (ps_get_uv(p, end, &d) || ps_get_uv(p, end, &v) || (i && d == 0) ||
            at + d >= PS_HIST_BUCKETS) {
            cstat_clear(&n);
            return 1;
        }
        at += d;
        n.idx[i] = (uint32_t)at;
        n.cnt[i] = v;
    }
    n.nb = (uint32_t)nb;
    cstat_clear(c);
    *c = n;
    return 0;
}

static int grow(void **arr, size_t *n, size_t want, size_t elem)
{
    if (want <= *n)
        return 0;
    size_t cap = *n ? *n : 16;
    while (cap < want)
        cap *= 2;
    void *a = realloc(*arr, cap * elem);
    if (!a)
        return PS_ENOMEM;
    memset((char *)a + *n * elem, 0, (cap - *n) * elem);
    *arr = a;
    *n = cap;
    return 0;
}

static int call_stats(struct ps_net *n, const uint8_t **p, const uint8_t *end)
{
    uint64_t slot, nk;
    GETV(slot);
    GETV(nk);
    if (slot >= MAX_SLOTS || nk > 255)
        return 1;
    int rc = grow((void **)&n->slots, &n->nslots, slot + 1, sizeof *n->slots);
    if (rc)
        return rc;
    struct ps_net_slot_in *s = &n->slots[slot];
    for (uint64_t i = 0; i < nk; i++) {
        uint64_t k;
        GETV(k);
        if (k == 0)
            return 1;
        if (k >= PS_CALL_MAX_) { /* a call kind of a later shim: skip it */
            struct ps_cstat_in skip = {0};
            rc = get_cstat(p, end, &skip);
            cstat_clear(&skip);
            if (rc)
                return rc;
            continue;
        }
        if ((rc = get_cstat(p, end, &s->calls[k])))
            return rc;
    }
    if ((rc = get_cstat(p, end, &s->req)))
        return rc;
    GETV(s->req_first);
    GETV(s->req_last);
    s->present = true;
    return 0;
}

static int peer_stats(struct ps_net *n, const uint8_t **p, const uint8_t *end)
{
    uint64_t id, len, dir;
    GETV(id);
    GETV(len);
    if (id == 0 || id >= MAX_PEERS || len > 4096 || len > (uint64_t)(end - *p))
        return 1;
    int rc = grow((void **)&n->peers, &n->npeers, id + 1, sizeof *n->peers);
    if (rc)
        return rc;
    struct ps_net_peer_in *pe = &n->peers[id];
    char *name = strndup((const char *)*p, len);
    if (!name)
        return PS_ENOMEM;
    free(pe->name);
    pe->name = name;
    *p += len;
    GETV(dir);
    if (dir > PS_PEER_OUTBOUND)
        return 1;
    pe->dir = (int)dir;
    GETV(pe->connections);
    GETV(pe->requests);
    GETV(pe->errors);
    GETV(pe->bytes_in);
    GETV(pe->bytes_out);
    if ((rc = get_cstat(p, end, &pe->req)) || (rc = get_cstat(p, end, &pe->connect)))
        return rc;
    pe->present = true;
    return 0;
}

int ps_net_record(struct ps_net *n, int kind, const uint8_t *p, const uint8_t *end)
{
    switch (kind) {
    case PS_REC_CALL_STATS:
        return call_stats(n, &p, end);
    case PS_REC_PEER_STATS:
        return peer_stats(n, &p, end);
    case PS_REC_PROC_STATS: {
        const uint8_t **pp = &p;
        uint64_t tick, cpu, peak;
        if (ps_get_uv(pp, end, &tick) || ps_get_uv(pp, end, &cpu) || ps_get_uv(pp, end, &peak))
            return 1;
        n->has_proc = true;
        n->cpu_ns = cpu;
        n->conns_peak = peak;
        /* later fields: connections now, then (v3) CPU samples taken, dropped */
        uint64_t now, taken, dropped;
        if (!ps_get_uv(pp, end, &now) && !ps_get_uv(pp, end, &taken) &&
            !ps_get_uv(pp, end, &dropped)) {
            n->cpu_samples = taken;
            n->cpu_dropped = dropped;
        }
        return 0;
    }
    }
    return 0;
}

/* ---- summaries ------------------------------------------------------------------ */

struct dense {
    uint64_t b[PS_HIST_BUCKETS];
    uint64_t count, total_ns, max_ns;
};

static void dense_add(struct dense *d, const struct ps_cstat_in *c)
{
    for (uint32_t i = 0; i < c->nb; i++)
        d->b[c->idx[i]] += c->cnt[i];
    d->count += c->count;
    d->total_ns += c->total_ns;
    if (c->max_ns > d->max_ns)
        d->max_ns = c->max_ns;
}

static double quantile_us(const struct dense *d, uint64_t n, double q)
{
    if (!n)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    for (uint32_t i = 0; i < PS_HIST_BUCKETS; i++) {
        cum += d->b[i];
        if (cum >= rank) {
            double v = ps_hist_value(i);
            if (v > (double)d->max_ns)
                v = (double)d->max_ns;
            return v / 1000.0;
        }
    }
    return (double)d->max_ns / 1000.0;
}

static void latency_of(const struct dense *d, struct ps_latency *l)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < PS_HIST_BUCKETS; i++)
        n += d->b[i];
    l->count = d->count;
    l->total_us = (double)d->total_ns / 1000.0;
    l->p50_us = quantile_us(d, n, 0.50);
    l->p90_us = quantile_us(d, n, 0.90);
    l->p95_us = quantile_us(d, n, 0.95);
    l->p99_us = quantile_us(d, n, 0.99);
    l->p999_us = quantile_us(d, n, 0.999);
    l->max_us = (double)d->max_ns / 1000.0;
}

static int call_cmp(const void *a, const void *b)
{
    const struct ps_call_summary *x = a, *y = b;
    if (x->lat.total_us != y->lat.total_us)
        return x->lat.total_us < y->lat.total_us ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int peer_cmp(const void *a, const void *b)
{
    const struct ps_peer_summary *x = a, *y = b;
    if (x->requests != y->requests)
        return x->requests < y->requests ? 1 : -1;
    if (x->connections != y->connections)
        return x->connections < y->connections ? 1 : -1;
    return strcmp(x->name, y->name);
}

int ps_net_summarize(const struct ps_trace *t, double duration_s, struct ps_net_summary *out)
{
    memset(out, 0, sizeof *out);
    const struct ps_net *n = t->net;
    if (!n)
        return 0;
    struct dense *d = malloc(sizeof *d);
    out->calls = calloc(PS_CALL_MAX_, sizeof *out->calls);
    out->peers = calloc(n->npeers ? n->npeers : 1, sizeof *out->peers);
    if (!d || !out->calls || !out->peers) {
        free(d);
        ps_net_summary_free(out);
        return PS_ENOMEM;
    }
    for (unsigned k = 1; k < PS_CALL_MAX_; k++) {
        memset(d, 0, sizeof *d);
        struct ps_call_summary c = {.name = ps_call_name(k)};
        for (size_t i = 0; i < n->nslots; i++) {
            const struct ps_cstat_in *s = &n->slots[i].calls[k];
            if (!n->slots[i].present || !s->count)
                continue;
            dense_add(d, s);
            c.errors += s->errors;
            c.eagain += s->eagain;
            c.eintr += s->eintr;
            c.partial += s->partial;
            c.bytes += s->bytes;
        }
        if (!d->count)
            continue;
        c.count = d->count;
        latency_of(d, &c.lat);
        if (call_is_clock[k])
            out->clock_total_us += c.lat.total_us;
        if (call_is_clock[k] && duration_s > 0)
            out->clock_calls_per_s += (double)c.count / duration_s;
        out->calls[out->ncalls++] = c;
    }
    qsort(out->calls, out->ncalls, sizeof *out->calls, call_cmp);

    memset(d, 0, sizeof *d);
    uint64_t first = 0, last = 0;
    for (size_t i = 0; i < n->nslots; i++) {
        const struct ps_net_slot_in *s = &n->slots[i];
        if (!s->present || !s->req.count)
            continue;
        dense_add(d, &s->req);
        if (!first || (s->req_first && s->req_first < first))
            first = s->req_first;
        if (s->req_last > last)
            last = s->req_last;
    }
    if (d->count) {
        struct ps_request_summary *r = &out->requests;
        out->has_requests = true;
        latency_of(d, &r->lat);
        r->busy_s = last > first ? ps_trace_seconds(t, last) - ps_trace_seconds(t, first) : 0;
        r->throughput_rps = r->busy_s > 0 ? (double)d->count / r->busy_s : 0;
        r->cpu_us_per_request = n->has_proc ? (double)n->cpu_ns / 1000.0 / (double)d->count : 0;
    }

    for (size_t i = 0; i < n->npeers; i++) {
        const struct ps_net_peer_in *pe = &n->peers[i];
        if (!pe->present)
            continue;
        struct ps_peer_summary *o = &out->peers[out->npeers++];
        o->name = pe->name;
        o->dir = pe->dir;
        o->connections = pe->connections;
        o->requests = pe->requests;
        o->errors = pe->errors;
        o->bytes_in = pe->bytes_in;
        o->bytes_out = pe->bytes_out;
        memset(d, 0, sizeof *d);
        dense_add(d, &pe->req);
        latency_of(d, &o->lat);
        memset(d, 0, sizeof *d);
        dense_add(d, &pe->connect);
        latency_of(d, &o->connect);
    }
    qsort(out->peers, out->npeers, sizeof *out->peers, peer_cmp);
    out->connections_peak = n->conns_peak;
    free(d);
    return 0;
}

void ps_net_summary_free(struct ps_net_summary *s)
{
    free(s->calls);
    free(s->peers);
    memset(s, 0, sizeof *s);
}

/* ---- off-CPU ---------------------------------------------------------------------- */
