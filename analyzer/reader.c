/* Reading a trace file record by record (the format is in
 * include/perfshim/trace_format.h and docs/trace-format.md).
 *
 * The reader validates what it reads and refuses what it does not
 * understand; the one thing it forgives is a file that ends inside a record
 * (a killed process): everything before is used and end.truncated is set.
 * CHUNK payloads go to the merge stage, which decodes them per thread; a
 * ROUND lets it deliver everything up to the previous ROUND's tick.
 */
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "errors.h"
#include "merge.h"
#include "net.h"

/* No record is larger than a per-thread buffer (64 MiB at most) plus its
 * header; anything claiming more is corruption, not a reason to allocate. */
#define MAX_RECORD (64u * 1024 * 1024 + 64)

struct rd {
    FILE *f;
    const char *path;
    uint64_t off;
    uint8_t *buf;
    size_t cap;
    uint8_t *zbuf; /* decompressed CHUNK_ZSTD payloads */
    size_t zcap;
};

/* 1: got it; 0: clean end of file; -1: file ends inside. */
static int read_exact(struct rd *r, void *dst, size_t n)
{
    size_t got = fread(dst, 1, n, r->f);
    r->off += got;
    if (got == n)
        return 1;
    return got == 0 ? 0 : -1;
}

static int read_varint(struct rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        int c = fgetc(r->f);
        if (c == EOF)
            return -1;
        r->off++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return -2;
}

static char *dup_bytes(const uint8_t **p, const uint8_t *end)
{
    uint64_t n;
    if (ps_get_uv(p, end, &n) || n > (uint64_t)(end - *p))
        return NULL;
    char *s = strndup((const char *)*p, n);
    *p += n;
    return s;
}

static int parse_process(struct ps_trace *t, const uint8_t *p, const uint8_t *end, uint64_t off)
{
    struct ps_process *pr = &t->proc;
    uint64_t clock, argc;
    if (ps_get_uv(&p, end, &pr->pid) || ps_get_uv(&p, end, &pr->ppid) ||
        ps_get_uv(&p, end, &clock) || ps_get_uv(&p, end, &pr->hz) ||
        ps_get_uv(&p, end, &pr->start_tick) || ps_get_uv(&p, end, &pr->start_mono_ns) ||
        ps_get_uv(&p, end, &pr->start_unix_ns))
        goto bad;
    if (clock > PS_CLOCK_TSC || pr->hz == 0)
        goto bad;
    pr->clock_kind = (int)clock;
    if (!(pr->version = dup_bytes(&p, end)) || !(pr->exe = dup_bytes(&p, end)))
        goto bad;
    if (ps_get_uv(&p, end, &argc) || argc > (uint64_t)(end - p))
        goto bad;
    pr->argv = calloc(argc + 1, sizeof *pr->argv);
    if (!pr->argv)
        return PS_ENOMEM;
    for (uint64_t i = 0; i < argc; i++) {
        if (!(pr->argv[i] = dup_bytes(&p, end)))
            goto bad;
        pr->argc++;
    }
    /* v3: the CPU sampling rate (0: off).  Later fields are skipped. */
    if (t->version >= 3 && p < end && ps_get_uv(&p, end, &pr->cpu_hz))
        goto bad;
    return 0;
bad:
    return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt process record at offset %llu",
                        t->path, (unsigned long long)off);
}

static int add_sync(struct ps_trace *t, uint64_t tick, uint64_t mono)
{
    if (t->nsyncs == t->syncs_cap) {
        size_t cap = t->syncs_cap ? t->syncs_cap * 2 : 64;
        uint64_t(*s)[2] = realloc(t->syncs, cap * sizeof *s);
        if (!s)
            return PS_ENOMEM;
        t->syncs = s;
        t->syncs_cap = cap;
    }
    t->syncs[t->nsyncs][0] = tick;
    t->syncs[t->nsyncs][1] = mono;
    t->nsyncs++;
    return 0;
}

/* RESOURCE, MEMORY, SAMPLING: 0, 1 when malformed, or PS_ENOMEM. */
static int parse_sample(struct ps_trace *t, const uint8_t *p, const uint8_t *end)
{
    struct ps_sample s = {0};
    uint64_t *f[] = {&s.tick, &s.rss, &s.vm, &s.rss_anon, &s.rss_file, &s.threads, &s.fds,
                     &s.cpu_ns, &s.shim_cpu_ns, &s.allocs, &s.frees, &s.bytes_alloc, &s.heap_usable,
                     &s.shim_resident, &s.trace_bytes};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (ps_get_uv(&p, end, f[i]))
            return 1;
    if (t->nsamples == t->samples_cap) {
        size_t cap = t->samples_cap ? t->samples_cap * 2 : 256;
        struct ps_sample *n = realloc(t->samples, cap * sizeof *n);
        if (!n)
            return PS_ENOMEM;
        t->samples = n;
        t->samples_cap = cap;
    }
    t->samples[t->nsamples++] = s;
    return 0;
}

static int parse_memory(struct ps_trace *t, const uint8_t *p, const uint8_t *end)
{
    struct ps_memory m = {.present = true};
    uint64_t alloc;
    uint64_t *f[] = {&m.tick, &m.shim_resident, &m.shim_mapped, &alloc, &m.system, &m.in_use,
                     &m.free, &m.mmapped};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (ps_get_uv(&p, end, f[i]))
            return 1;
    m.allocator = alloc == 1;
    m.shim_resident_peak = t->mem.shim_resident_peak > m.shim_resident ? t->mem.shim_resident_peak
                                                                       : m.shim_resident;
    t->mem = m;
    return 0;
}

static int parse_sampling(struct ps_trace *t, const uint8_t *p, const uint8_t *end)
{
    struct ps_level l;
    uint64_t shift;
    if (ps_get_uv(&p, end, &l.tick) || ps_get_uv(&p, end, &shift) || ps_get_uv(&p, end, &l.big) ||
        ps_get_uv(&p, end, &l.cap) || shift == 0 || shift > PS_SAMPLE_OFF ||
        l.big != (shift < PS_SAMPLE_OFF ? 1ull << shift : 0) || t->nlevels >= 64)
        return 1;
    if (t->nlevels && shift <= t->levels[t->nlevels - 1].shift)
        return 1; /* the shim only ever raises it */
    l.shift = (unsigned)shift;
    struct ps_level *n = realloc(t->levels, (t->nlevels + 1) * sizeof *n);
    if (!n)
        return PS_ENOMEM;
    t->levels = n;
    t->levels[t->nlevels++] = l;
    return 0;
}

/* SCAN, SCAN_PAIRS, SCAN_END: 0, 1 when malformed, or PS_ENOMEM.  Pairs
 * and the end of a scan must follow its head (one writer writes them in a
 * row); a scan cut short by SIGKILL stays incomplete and is not used. */
static struct ps_scan *scan_by_id(struct ps_trace *t, uint64_t id)
{
    return t->nscans && t->scans[t->nscans - 1].id == id && !t->scans[t->nscans - 1].complete
               ? &t->scans[t->nscans - 1]
               : NULL;
}

static int parse_scan(struct ps_trace *t, int kind, const uint8_t *p, const uint8_t *end)
{
    uint64_t id;
    if (ps_get_uv(&p, end, &id))
        return 1;
    if (kind == PS_REC_SCAN) {
        struct ps_scan s = {.id = id};
        uint64_t trigger, nreg;
        if (ps_get_uv(&p, end, &s.tick) || ps_get_uv(&p, end, &trigger) ||
            ps_get_uv(&p, end, &s.threads) || ps_get_uv(&p, end, &s.missed) ||
            ps_get_uv(&p, end, &nreg) || trigger < PS_SCAN_AT_EXIT || trigger > PS_SCAN_BY_INTERVAL ||
            nreg > (uint64_t)(end - p) || (t->nscans && s.tick < t->scans[t->nscans - 1].tick))
            return 1;
        s.trigger = (int)trigger;
        s.heap = calloc(nreg ? nreg : 1, sizeof *s.heap);
        if (!s.heap)
            return PS_ENOMEM;
        for (uint64_t i = 0; i < nreg; i++) {
            uint64_t lo, len, type;
            if (ps_get_uv(&p, end, &lo) || ps_get_uv(&p, end, &len) || ps_get_uv(&p, end, &type) ||
                type > PS_SCAN_HEAP || lo + len < lo) {
                free(s.heap);
                return 1;
            }
            if (type == PS_SCAN_HEAP) {
                s.heap[s.nheap][0] = lo;
                s.heap[s.nheap++][1] = lo + len;
            }
        }
        struct ps_scan *n = realloc(t->scans, (t->nscans + 1) * sizeof *n);
        if (!n) {
            free(s.heap);
            return PS_ENOMEM;
        }
        t->scans = n;
        t->scans[t->nscans++] = s;
        return 0;
    }
    struct ps_scan *s = scan_by_id(t, id);
    if (!s)
        return 1;
    if (kind == PS_REC_SCAN_END) {
        uint64_t npairs;
        if (ps_get_uv(&p, end, &npairs) || ps_get_uv(&p, end, &s->bytes) ||
            ps_get_uv(&p, end, &s->pause_ns) || ps_get_uv(&p, end, &s->total_ns) || npairs != s->npairs)
            return 1;
        s->complete = true;
        return 0;
    }
    uint64_t k;
    if (ps_get_uv(&p, end, &k) || k > (uint64_t)(end - p) / 2)
        return 1;
    if (s->npairs + k > s->pairs_cap) {
        size_t cap = s->pairs_cap ? s->pairs_cap : 4096;
        while (cap < s->npairs + k)
            cap *= 2;
        void *n = realloc(s->pairs, cap * sizeof *s->pairs);
        if (!n)
            return PS_ENOMEM;
        s->pairs = n;
        s->pairs_cap = cap;
    }
    /* deltas continue from the scan's previous record */
    uint64_t w = s->npairs ? s->pairs[s->npairs - 1][0] : 0, v = s->npairs ? s->pairs[s->npairs - 1][1] : 0;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t dw, dv;
        if (ps_get_uv(&p, end, &dw) || ps_get_uv(&p, end, &dv))
            return 1;
        w += dw;
        v += (uint64_t)ps_unzigzag(dv);
        s->pairs[s->npairs][0] = w;
        s->pairs[s->npairs++][1] = v;
    }
    return 0;
}

static int read_records(struct rd *r, struct ps_trace *t, struct ps_merge *m)
{
    uint64_t prev_round = 0;
    bool have_process = false;
    for (;;) {
        uint64_t rec_off = r->off;
        uint8_t kind;
        int got = read_exact(r, &kind, 1);
        if (got == 0)
            return 0;
        uint64_t len = 0;
        int vr = read_varint(r, &len);
        if (vr == -1) {
            t->end.truncated = true;
            return 0;
        }
        bool optional = kind >= PS_REC_FIRST_OPTIONAL;
        if (kind == 0 || (kind > PS_REC_LAST_REQUIRED && !optional) || vr < 0 || len > MAX_RECORD)
            return ps_error_set(PS_ECORRUPT,
                                "cannot read trace '%s': corrupt record at offset %llu (kind %u)",
                                t->path, (unsigned long long)rec_off, kind);
        if (len > r->cap) {
            size_t cap = r->cap ? r->cap : 65536;
            while (cap < len)
                cap *= 2;
            uint8_t *b = realloc(r->buf, cap);
            if (!b)
                return PS_ENOMEM;
            r->buf = b;
            r->cap = cap;
        }
        if (len && read_exact(r, r->buf, len) != 1) {
            t->end.truncated = true;
            return 0;
        }
        static const uint8_t nothing[1];
        const uint8_t *p = len ? r->buf : nothing, *end = p + len;
        if (optional && kind >= PS_REC_MAX_)
            continue; /* an optional record of a later perfshim: skip it */
        if (!have_process && kind != PS_REC_PROCESS)
            return ps_error_set(PS_ECORRUPT,
                                "cannot read trace '%s': corrupt: first record is not a process record",
                                t->path);
        int rc = 0;
        switch (kind) {
        case PS_REC_PROCESS:
            if (have_process)
                return ps_error_set(PS_ECORRUPT,
                                    "cannot read trace '%s': corrupt: second process record at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            rc = parse_process(t, p, end, rec_off);
            if (!rc)
                rc = add_sync(t, t->proc.start_tick, t->proc.start_mono_ns);
            have_process = true;
            break;
        case PS_REC_CHUNK: {
            uint64_t serial;
            if (ps_get_uv(&p, end, &serial))
                return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt chunk at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            rc = ps_merge_chunk(m, (uint32_t)serial, p, (size_t)(end - p), rec_off);
            break;
        }
        case PS_REC_CHUNK_ZSTD: {
            uint64_t serial, raw;
            if (ps_get_uv(&p, end, &serial) || ps_get_uv(&p, end, &raw) || raw > MAX_RECORD)
                return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt chunk at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            if (raw > r->zcap) {
                uint8_t *z = realloc(r->zbuf, raw);
                if (!z)
                    return PS_ENOMEM;
                r->zbuf = z;
                r->zcap = raw;
            }
            size_t got = ZSTD_decompress(r->zbuf, raw, p, (size_t)(end - p));
            if (ZSTD_isError(got) || got != raw)
                return ps_error_set(PS_ECORRUPT,
                                    "cannot read trace '%s': corrupt compressed chunk at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            rc = ps_merge_chunk(m, (uint32_t)serial, r->zbuf, raw, rec_off);
            break;
        }
        case PS_REC_ROUND: {
            uint64_t tick, mono, unix_ns;
            if (ps_get_uv(&p, end, &tick) || ps_get_uv(&p, end, &mono) ||
                ps_get_uv(&p, end, &unix_ns))
                return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt round at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            rc = add_sync(t, tick, mono);
            if (!rc)
                rc = ps_merge_release(m, prev_round);
            prev_round = tick;
            break;
        }
        case PS_REC_END: {
            uint64_t k, code, tick, mono;
            if (ps_get_uv(&p, end, &k) || ps_get_uv(&p, end, &code) || ps_get_uv(&p, end, &tick) ||
                ps_get_uv(&p, end, &mono) || k > PS_EXIT_EXEC)
                return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt end record at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            t->end.has_end = true;
            t->end.kind = (int)k;
            t->end.code = (int)code;
            t->end.end_tick = tick;
            rc = add_sync(t, tick, mono);
            break;
        }
        case PS_REC_CALL_STATS:
        case PS_REC_PEER_STATS:
        case PS_REC_PROC_STATS:
            rc = ps_net_record(t->net, kind, p, end);
            if (rc == 1)
                return ps_error_set(PS_ECORRUPT,
                                    "cannot read trace '%s': corrupt statistics record at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            break;
        case PS_REC_RESOURCE:
        case PS_REC_MEMORY:
        case PS_REC_SAMPLING:
            rc = kind == PS_REC_RESOURCE ? parse_sample(t, p, end)
                 : kind == PS_REC_MEMORY ? parse_memory(t, p, end)
                                         : parse_sampling(t, p, end);
            if (rc == 1)
                return ps_error_set(PS_ECORRUPT,
                                    "cannot read trace '%s': corrupt %s record at offset %llu",
                                    t->path, kind == PS_REC_SAMPLING ? "sampling" : "resource",
                                    (unsigned long long)rec_off);
            break;
        case PS_REC_SCAN:
        case PS_REC_SCAN_PAIRS:
        case PS_REC_SCAN_END:
            rc = parse_scan(t, kind, p, end);
            if (rc == 1)
                return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt scan record at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            break;
        case PS_REC_EXIT_SIGNAL: {
            uint64_t sig;
            if (ps_get_uv(&p, end, &sig) || sig > 128)
                return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt signal record at offset %llu",
                                    t->path, (unsigned long long)rec_off);
            t->end.signal = (int)sig;
            break;
        }
        }
        if (rc)
            return rc;
    }
}

/* Between the merge and the caller's sink: puts the samples and the
 * sampling switches into the stream at their ticks. */
struct marks {
    struct ps_trace *t;
    ps_event_fn fn;
    void *ctx;
    size_t next_sample, next_level, next_scan;
};

static void deliver_marks(struct marks *k, uint64_t before)
{
    struct ps_trace *t = k->t;
    for (;;) {
        /* A scan's marker comes before the sample at its tick; one that
         * was cut short (no SCAN_END) is passed over. */
        while (k->next_scan < t->nscans && !t->scans[k->next_scan].complete &&
               t->scans[k->next_scan].tick < before)
            k->next_scan++;
        bool c = k->next_scan < t->nscans && t->scans[k->next_scan].tick < before;
        bool s = k->next_sample < t->nsamples && t->samples[k->next_sample].tick < before;
        bool l = k->next_level < t->nlevels && t->levels[k->next_level].tick < before;
        if (c && (!s || t->scans[k->next_scan].tick <= t->samples[k->next_sample].tick) &&
            (!l || t->scans[k->next_scan].tick <= t->levels[k->next_level].tick)) {
            struct ps_event ev = {0};
            ev.kind = PS_MARK_SCAN;
            ev.addr = k->next_scan++;
            ev.tick = t->scans[ev.addr].tick;
            k->fn(k->ctx, &ev);
            continue;
        }
        if (!s && !l)
            return;
        if (s && l)
            s = t->samples[k->next_sample].tick <= t->levels[k->next_level].tick;
        struct ps_event ev = {0};
        if (s) {
            ev.kind = PS_MARK_SAMPLE;
            ev.addr = k->next_sample++;
            ev.tick = t->samples[ev.addr].tick;
        } else {
            ev.kind = PS_MARK_SAMPLING;
            ev.addr = k->next_level++;
            ev.tick = t->levels[ev.addr].tick;
        }
        k->fn(k->ctx, &ev);
    }
}

static void marks_event(void *ctx, const struct ps_event *ev)
{
    struct marks *k = ctx;
    deliver_marks(k, ev->tick);
    k->fn(k->ctx, ev);
}

int ps_trace_read(const char *path, ps_event_fn fn, void *ctx, struct ps_trace **out)
{
    *out = NULL;
    struct ps_trace *t = calloc(1, sizeof *t);
    if (!t)
        return PS_ENOMEM;
    t->path = strdup(path);
    t->net = ps_net_new();
    if (!t->path || !t->net) {
        ps_trace_free(t);
        return PS_ENOMEM;
    }
    *out = t; /* visible to the sink while reading; NULL again on failure */
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        ps_trace_free(t);
        *out = NULL;
        return ps_error_set(e == ENOENT ? PS_ENOTFOUND : PS_EIO, "cannot open trace '%s': %s", path,
                            strerror(e));
    }
    struct rd r = {.f = f, .path = path};
    uint8_t hdr[PS_TRACE_HEADER_LEN];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    r.off = got;
    int rc = 0;
    if (got == 0 && ferror(f))
        rc = ps_error_set(PS_EIO, "cannot read trace '%s': %s", path, strerror(errno));
    else if (got == 0)
        rc = ps_error_set(PS_EEMPTY, "cannot read trace '%s': the file is empty", path);
    else if (memcmp(hdr, PS_TRACE_MAGIC, got < PS_TRACE_MAGIC_LEN ? got : PS_TRACE_MAGIC_LEN) != 0)
        rc = ps_error_set(PS_ENOTTRACE, "cannot read trace '%s': not a perfshim trace", path);
    else if (got < sizeof hdr)
        rc = ps_error_set(PS_ECORRUPT, "cannot read trace '%s': truncated header (%zu of %d bytes)",
                          path, got, PS_TRACE_HEADER_LEN);
    else if (ps_get_u32le(hdr + 8) < PS_TRACE_VERSION_MIN || ps_get_u32le(hdr + 8) > PS_TRACE_VERSION)
        rc = ps_error_set(PS_EVERSION,
                          "cannot read trace '%s': trace format version %u, this perfshim reads versions %d to %d",
                          path, ps_get_u32le(hdr + 8), PS_TRACE_VERSION_MIN, PS_TRACE_VERSION);
    else
        t->version = ps_get_u32le(hdr + 8);
    struct ps_merge *m = NULL;
    struct marks marks = {t, fn, ctx, 0, 0, 0};
    if (!rc) {
        m = ps_merge_new(t, marks_event, &marks);
        if (!m)
            rc = PS_ENOMEM;
    }
    if (!rc)
        rc = read_records(&r, t, m);
    if (!rc && ferror(f))
        rc = ps_error_set(PS_EIO, "cannot read trace '%s': %s", path, strerror(errno));
    if (!rc)
        rc = ps_merge_release(m, UINT64_MAX);
    if (!rc) {
        deliver_marks(&marks, UINT64_MAX);
        t->file_bytes = r.off;
    }
    if (!rc && !t->proc.exe) {
        /* Cut inside its first record: a trace of nothing, not bad input. */
        t->proc.exe = strdup("");
        t->proc.version = strdup("");
        t->proc.argv = calloc(1, sizeof *t->proc.argv);
        t->proc.hz = 1000000000;
        t->end.truncated = true;
        if (!t->proc.exe || !t->proc.version || !t->proc.argv)
            rc = PS_ENOMEM;
    }
    ps_merge_free(m);
    free(r.buf);
    free(r.zbuf);
    fclose(f);
    if (rc) {
        ps_trace_free(t);
        *out = NULL;
        return rc;
    }
    if (!t->end.has_end) {
        /* killed: it lived at least until its last event and last ROUND */
        t->end.end_tick = t->last_tick;
        if (t->nsyncs && t->syncs[t->nsyncs - 1][0] > t->end.end_tick)
            t->end.end_tick = t->syncs[t->nsyncs - 1][0];
        if (t->nsamples && t->samples[t->nsamples - 1].tick > t->end.end_tick)
            t->end.end_tick = t->samples[t->nsamples - 1].tick;
    }
    if (t->end.end_tick < t->proc.start_tick)
        t->end.end_tick = t->proc.start_tick;
    return 0;
}

void ps_trace_free(struct ps_trace *t)
{
    if (!t)
        return;
    free(t->path);
    free(t->proc.version);
    free(t->proc.exe);
    for (size_t i = 0; i < t->proc.argc; i++)
        free(t->proc.argv[i]);
    free(t->proc.argv);
    for (size_t i = 0; i < t->nstacks; i++)
        free(t->stacks[i].ips);
    free(t->stacks);
    for (size_t i = 0; i < t->nmodules; i++) {
        free((char *)t->modules[i].m.path);
        free(t->modules[i].build_id_buf);
    }
    free(t->modules);
    free(t->syncs);
    free(t->samples);
    free(t->levels);
    for (size_t i = 0; i < t->nscans; i++) {
        free(t->scans[i].heap);
        free(t->scans[i].pairs);
    }
    free(t->scans);
    free(t->end.exec_path);
    ps_net_free(t->net);
    free(t);
}

/* ---- time ----------------------------------------------------------------- */

double ps_trace_seconds(const struct ps_trace *t, uint64_t tick)
{
    if (tick <= t->proc.start_tick)
        return 0;
    double hz = (double)t->proc.hz;
    if (t->proc.clock_kind == PS_CLOCK_TSC && t->nsyncs >= 2) {
        /* the rate over the whole run, from the first and last sync points */
        uint64_t (*s)[2] = t->syncs;
        size_t last = t->nsyncs - 1;
        if (s[last][0] > s[0][0] + 1000000 && s[last][1] > s[0][1])
            hz = (double)(s[last][0] - s[0][0]) * 1e9 / (double)(s[last][1] - s[0][1]);
    }
    return (double)(tick - t->proc.start_tick) / hz;
}

const struct ps_module *ps_trace_module_at(const struct ps_trace *t, uint64_t address, uint64_t tick)
{
    const struct ps_module *fallback = NULL;
    for (size_t i = t->nmodules; i-- > 0;) {
        const struct ps_module_rec *r = &t->modules[i];
        if (address < r->m.lo || address >= r->m.hi)
            continue;
        if (r->load_tick <= tick && tick <= r->unload_tick)
            return &r->m;
        if (!fallback)
            fallback = &r->m;
    }
    return fallback;
}

void ps_trace_command(const struct ps_trace *t, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < t->proc.argc && o + 4 < size; i++) {
        const char *a = t->proc.argv[i];
        int n = snprintf(buf + o, size - o, "%s%s", i ? " " : "", *a ? a : "''");
        if (n < 0 || (size_t)n >= size - o) {
            strcpy(buf + size - 4, "...");
            return;
        }
        o += (size_t)n;
    }
}

const char *ps_trace_exit_string(const struct ps_trace *t, char *buf, size_t size)
{
    if (t->end.signal)
        snprintf(buf, size, "signal %d", t->end.signal);
    else if (t->end.has_end && t->end.kind == PS_EXIT_EXITED)
        snprintf(buf, size, "exited %d", t->end.code);
    else if (t->end.has_end && t->end.kind == PS_EXIT_SIGNALED)
        snprintf(buf, size, "signal %d", t->end.code);
    else if (t->end.exec_seen)
        snprintf(buf, size, "exec");
    else
        snprintf(buf, size, "unknown");
    return buf;
}
