/* Per-thread decoding and the merge by time.
 *
 * Data model: one stream per thread serial, holding the raw bytes of the
 * chunks read so far and not yet decoded (a FIFO), the decoder's delta state,
 * and at most one decoded event waiting to be delivered.  Streams with a
 * waiting event sit in a min-heap keyed by its tick.  The reader tells us
 * how far delivery may go (the previous ROUND's tick: nothing earlier can
 * still be in the file) and at the end to deliver everything.
 *
 * Metadata events (STACK, MODULE_*) update the trace as they are decoded
 * and are not delivered.
 */
#include "merge.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

static const char *trace_path; /* for messages; set by ps_merge_new */

struct chunk {
    struct chunk *next;
    size_t len;
    uint64_t offset; /* in the file, for error messages */
    uint8_t data[];
};

struct stream {
    uint32_t serial;
    struct chunk *head, *tail;
    const uint8_t *p, *end;
    uint64_t prev_tick, prev_addr;
    bool has_next;
    struct ps_event next;
    bool has_pending; /* the ALLOC half of a REALLOC */
    struct ps_event pending;
    bool in_heap;
};

struct ps_merge {
    struct ps_trace *t;
    ps_event_fn fn;
    void *ctx;
    struct stream **streams; /* by serial */
    size_t nstreams;
    struct stream **heap;
    size_t nheap, heap_cap;
    int error;
    uint32_t exec_thread;
    uint64_t queued; /* chunk bytes held, waiting for their ROUND */
};

/* The shim writes a ROUND every flush period; no real process produces
 * anywhere near this much between two.  More means a crafted or broken
 * file, which must not make us exhaust memory. */
#define MAX_QUEUED (1ull << 30)

struct ps_merge *ps_merge_new(struct ps_trace *t, ps_event_fn fn, void *ctx)
{
    struct ps_merge *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->t = t;
    trace_path = t->path;
    m->fn = fn;
    m->ctx = ctx;
    return m;
}

void ps_merge_free(struct ps_merge *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nstreams; i++) {
        struct stream *s = m->streams[i];
        if (!s)
            continue;
        for (struct chunk *c = s->head, *n; c; c = n) {
            n = c->next;
            free(c);
        }
        free(s);
    }
    free(m->streams);
    free(m->heap);
    free(m);
}

/* ---- heap ------------------------------------------------------------------ */

static bool before(const struct stream *a, const struct stream *b)
{
    if (a->next.tick != b->next.tick)
        return a->next.tick < b->next.tick;
    return a->serial < b->serial;
}

static int heap_push(struct ps_merge *m, struct stream *s)
{
    if (m->nheap == m->heap_cap) {
        size_t cap = m->heap_cap ? m->heap_cap * 2 : 16;
        struct stream **h = realloc(m->heap, cap * sizeof *h);
        if (!h)
            return PS_ENOMEM;
        m->heap = h;
        m->heap_cap = cap;
    }
    size_t i = m->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(s, m->heap[parent]))
            break;
        m->heap[i] = m->heap[parent];
        i = parent;
    }
    m->heap[i] = s;
    s->in_heap = true;
    return 0;
}

static struct stream *heap_pop(struct ps_merge *m)
{
    struct stream *top = m->heap[0];
    struct stream *last = m->heap[--m->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const struct stream *bs = last;
        if (l < m->nheap && before(m->heap[l], bs)) {
            best = l;
            bs = m->heap[l];
        }
        if (r < m->nheap && before(m->heap[r], bs))
            best = r;
        if (best == i)
            break;
        m->heap[i] = m->heap[best];
        i = best;
    }
    if (m->nheap)
        m->heap[i] = last;
    top->in_heap = false;
    return top;
}

/* ---- decoding ---------------------------------------------------------------- */

static int corrupt(const struct stream *s, const char *what)
{
    return ps_error_set(PS_ECORRUPT,
                        "cannot read trace '%s': corrupt event in thread %u (chunk at offset %llu): %s",
                        trace_path, s->serial, (unsigned long long)(s->head ? s->head->offset : 0),
                        what);
}

#define GET(var)                                            \
    do {                                                    \
        if (ps_get_uv(&s->p, s->end, &(var)))               \
            return corrupt(s, "event cut short");           \
    } while (0)

static int get_bytes(struct stream *s, const uint8_t **bytes, uint64_t *len)
{
    if (ps_get_uv(&s->p, s->end, len) || *len > (uint64_t)(s->end - s->p))
        return corrupt(s, "string runs past its chunk");
    *bytes = s->p;
    s->p += *len;
    return 0;
}

static int define_stack(struct ps_merge *m, struct stream *s)
{
    uint64_t id, depth;
    GET(id);
    GET(depth);
    if (id == 0 || id > PS_STACK_ID_MAX || depth == 0 || depth > PS_STACK_MAX_DEPTH)
        return corrupt(s, "bad stack definition");
    struct ps_trace *t = m->t;
    if (id >= t->nstacks) {
        size_t n = t->nstacks ? t->nstacks : 256;
        while (n <= id)
            n *= 2;
        struct ps_stack *st = realloc(t->stacks, n * sizeof *st);
        if (!st)
            return PS_ENOMEM;
        memset(st + t->nstacks, 0, (n - t->nstacks) * sizeof *st);
        t->stacks = st;
        t->nstacks = n;
    }
    struct ps_stack *st = &t->stacks[id];
    uint64_t *ips = malloc(depth * sizeof *ips);
    if (!ips)
        return PS_ENOMEM;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < depth; i++) {
        uint64_t v;
        if (ps_get_uv(&s->p, s->end, &v)) {
            free(ips);
            return corrupt(s, "stack cut short");
        }
        prev += (uint64_t)ps_unzigzag(v);
        ips[i] = prev;
    }
    free(st->ips); /* a redefinition (should not happen) replaces */
    st->ips = ips;
    st->depth = (uint32_t)depth;
    st->tick = s->prev_tick;
    return 0;
}

static int load_module(struct ps_merge *m, struct stream *s, uint64_t tick)
{
    uint64_t id, bias, nsegs, plen = 0, blen = 0;
    const uint8_t *path = NULL, *bid = NULL;
    GET(id);
    int rc = get_bytes(s, &path, &plen);
    if (rc)
        return rc;
    GET(bias);
    if ((rc = get_bytes(s, &bid, &blen)))
        return rc;
    GET(nsegs);
    if (nsegs > 4096)
        return corrupt(s, "too many segments");
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint64_t i = 0; i < nsegs; i++) {
        uint64_t vaddr, memsz, flags;
        GET(vaddr);
        GET(memsz);
        GET(flags);
        if (flags & 1 /* PF_X */) {
            if (bias + vaddr < lo)
                lo = bias + vaddr;
            if (bias + vaddr + memsz > hi)
                hi = bias + vaddr + memsz;
        }
    }
    struct ps_trace *t = m->t;
    struct ps_module_rec *mods = realloc(t->modules, (t->nmodules + 1) * sizeof *mods);
    if (!mods)
        return PS_ENOMEM;
    t->modules = mods;
    struct ps_module_rec *r = &mods[t->nmodules];
    memset(r, 0, sizeof *r);
    char *p = strndup((const char *)path, plen);
    uint8_t *b = blen ? malloc(blen) : NULL;
    if (!p || (blen && !b)) {
        free(p);
        free(b);
        return PS_ENOMEM;
    }
    if (blen)
        memcpy(b, bid, blen);
    /* Symbolizer warnings and reports show the path; cut at a NUL if any. */
    r->m.id = (uint32_t)t->nmodules; /* ids are unique per trace: index */
    r->m.path = p;
    r->m.bias = bias;
    r->m.build_id = b;
    r->m.build_id_len = blen;
    r->m.lo = lo == UINT64_MAX ? 0 : lo;
    r->m.hi = hi;
    r->build_id_buf = b;
    r->load_tick = tick;
    r->unload_tick = UINT64_MAX;
    r->shim_id = id;
    t->nmodules++;
    return 0;
}

static void unload_module(struct ps_merge *m, uint64_t shim_id, uint64_t tick)
{
    struct ps_trace *t = m->t;
    for (size_t i = t->nmodules; i-- > 0;) {
        if (t->modules[i].shim_id == shim_id && t->modules[i].unload_tick == UINT64_MAX) {
            t->modules[i].unload_tick = tick;
            return;
        }
    }
}

static uint64_t addr_delta(struct stream *s, uint64_t v)
{
    s->prev_addr += (uint64_t)ps_unzigzag(v);
    return s->prev_addr;
}

/* Decode the next deliverable event of S into s->next.  Returns 0 with
 * has_next false when S has no more bytes for now. */
static int decode_next(struct ps_merge *m, struct stream *s)
{
    s->has_next = false;
    if (s->has_pending) {
        s->next = s->pending;
        s->has_pending = false;
        s->has_next = true;
        return 0;
    }
    for (;;) {
        if (s->p == s->end) {
            struct chunk *done = s->head;
            if (!done)
                return 0;
            s->head = done->next;
            if (!s->head)
                s->tail = NULL;
            m->queued -= done->len;
            free(done);
            if (!s->head)
                return 0;
            s->p = s->head->data;
            s->end = s->p + s->head->len;
            continue;
        }
        uint8_t kind = *s->p++;
        struct ps_event *e = &s->next;
        *e = (struct ps_event){.thread = s->serial};
        uint64_t dt, v, a, b;
        switch (kind) {
        case PS_EV_ALLOC:
            GET(dt);
            GET(v);
            s->prev_tick += dt;
            e->kind = PS_EV_ALLOC;
            e->tick = s->prev_tick;
            e->addr = addr_delta(s, v);
            GET(e->size);
            GET(v);
            if (v > PS_STACK_ID_MAX || e->addr == 0)
                return corrupt(s, v > PS_STACK_ID_MAX ? "stack id out of range" : "allocation at address 0");
            e->stack = (uint32_t)v;
            break;
        case PS_EV_FREE:
            GET(dt);
            GET(v);
            s->prev_tick += dt;
            e->kind = PS_EV_FREE;
            e->tick = s->prev_tick;
            e->addr = addr_delta(s, v);
            break;
        case PS_EV_REALLOC: {
            uint64_t dt1, size, stack;
            GET(dt);
            GET(dt1);
            GET(a);
            GET(b);
            GET(size);
            GET(stack);
            s->prev_tick += dt;
            e->kind = PS_EV_FREE;
            e->realloc = true;
            e->tick = s->prev_tick;
            e->addr = addr_delta(s, a);
            s->prev_tick += dt1;
            if (stack > PS_STACK_ID_MAX)
                return corrupt(s, "stack id out of range");
            s->pending = (struct ps_event){.tick = s->prev_tick, .thread = s->serial,
                                           .kind = PS_EV_ALLOC, .realloc = true,
                                           .addr = addr_delta(s, b), .size = size,
                                           .stack = (uint32_t)stack};
            s->has_pending = true;
            if (s->pending.addr == 0)
                return corrupt(s, "reallocation to address 0");
            break;
        }
        case PS_EV_STACK: {
            int rc = define_stack(m, s);
            if (rc)
                return rc;
            continue;
        }
        case PS_EV_MODULE_LOAD: {
            GET(dt);
            s->prev_tick += dt;
            int rc = load_module(m, s, s->prev_tick);
            if (rc)
                return rc;
            continue;
        }
        case PS_EV_MODULE_UNLOAD:
            GET(dt);
            GET(v);
            s->prev_tick += dt;
            unload_module(m, v, s->prev_tick);
            continue;
        case PS_EV_THREAD_START:
            GET(dt);
            GET(e->tid);
            s->prev_tick += dt;
            e->kind = PS_EV_THREAD_START;
            e->tick = s->prev_tick;
            break;
        case PS_EV_THREAD_EXIT:
            GET(dt);
            s->prev_tick += dt;
            e->kind = PS_EV_THREAD_EXIT;
            e->tick = s->prev_tick;
            break;
        case PS_EV_EXEC: {
            const uint8_t *path = NULL;
            uint64_t plen = 0;
            GET(dt);
            int rc = get_bytes(s, &path, &plen);
            if (rc)
                return rc;
            s->prev_tick += dt;
            e->kind = PS_EV_EXEC;
            e->tick = s->prev_tick;
            free(m->t->end.exec_path);
            m->t->end.exec_path = strndup((const char *)path, plen);
            break;
        }
        case PS_EV_OFFCPU:
            if (m->t->version < 2)
                return corrupt(s, "unknown event kind");
            GET(dt);
            GET(e->size); /* nanoseconds blocked */
            GET(e->addr); /* call kind */
            GET(v);
            if (v > PS_STACK_ID_MAX)
                return corrupt(s, "stack id out of range");
            s->prev_tick += dt;
            e->kind = PS_EV_OFFCPU;
            e->tick = s->prev_tick;
            e->stack = (uint32_t)v;
            break;
        case PS_EV_CPU_SAMPLE:
            if (m->t->version < 3)
                return corrupt(s, "unknown event kind");
            GET(dt);
            GET(e->tid);
            GET(v);
            GET(e->size); /* samples this one stands for (1 + timer overruns) */
            if (v > PS_STACK_ID_MAX)
                return corrupt(s, "stack id out of range");
            if (e->size == 0 || e->size > 1000000)
                return corrupt(s, "CPU sample weight out of range");
            s->prev_tick += dt;
            e->kind = PS_EV_CPU_SAMPLE;
            e->tick = s->prev_tick;
            e->stack = (uint32_t)v;
            break;
        default:
            return corrupt(s, "unknown event kind");
        }
        s->has_next = true;
        return 0;
    }
}

static int refill(struct ps_merge *m, struct stream *s)
{
    int rc = decode_next(m, s);
    if (rc)
        return rc;
    if (s->has_next && !s->in_heap)
        return heap_push(m, s);
    return 0;
}

int ps_merge_chunk(struct ps_merge *m, uint32_t serial, const uint8_t *data, size_t len,
                   uint64_t offset)
{
    if (serial > (1u << 24))
        return ps_error_set(PS_ECORRUPT, "cannot read trace '%s': corrupt chunk at offset %llu: thread serial %u",
                            m->t->path, (unsigned long long)offset, serial);
    if (serial >= m->nstreams) {
        size_t n = m->nstreams ? m->nstreams : 16;
        while (n <= serial)
            n *= 2;
        struct stream **st = realloc(m->streams, n * sizeof *st);
        if (!st)
            return PS_ENOMEM;
        memset(st + m->nstreams, 0, (n - m->nstreams) * sizeof *st);
        m->streams = st;
        m->nstreams = n;
    }
    struct stream *s = m->streams[serial];
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return PS_ENOMEM;
        s->serial = serial;
        m->streams[serial] = s;
    }
    if (m->queued + len > MAX_QUEUED)
        return ps_error_set(PS_ECORRUPT,
                            "cannot read trace '%s': corrupt: more than 1 GiB of events between "
                            "two flush rounds (chunk at offset %llu)",
                            m->t->path, (unsigned long long)offset);
    struct chunk *c = malloc(sizeof *c + len);
    if (!c)
        return PS_ENOMEM;
    m->queued += len;
    c->next = NULL;
    c->len = len;
    c->offset = offset;
    if (len)
        memcpy(c->data, data, len);
    bool was_empty = !s->head;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    if (was_empty) {
        s->p = c->data;
        s->end = c->data + len;
    }
    if (!s->has_next)
        return refill(m, s);
    return 0;
}

static void deliver(struct ps_merge *m, const struct ps_event *ev)
{
    if (ev->tick > m->t->last_tick)
        m->t->last_tick = ev->tick;
    m->t->events++;
    if (ev->kind == PS_EV_EXEC) {
        m->t->end.exec_seen = true; /* counts only when no END follows */
        m->exec_thread = ev->thread;
    } else if (m->t->end.exec_seen && ev->thread == m->exec_thread) {
        m->t->end.exec_seen = false; /* that thread went on: exec failed */
    }
    m->fn(m->ctx, ev);
}

int ps_merge_release(struct ps_merge *m, uint64_t frontier)
{
    while (m->nheap && m->heap[0]->next.tick <= frontier) {
        struct stream *s = heap_pop(m);
        /* Run this stream on for as long as it stays ahead of every other
         * (a single-threaded program never touches the heap again). */
        const struct stream *rival = m->nheap ? m->heap[0] : NULL;
        do {
            struct ps_event ev = s->next;
            deliver(m, &ev);
            int rc = decode_next(m, s);
            if (rc)
                return rc;
        } while (s->has_next && s->next.tick <= frontier && (!rival || before(s, rival)));
        if (s->has_next) {
            int rc = heap_push(m, s);
            if (rc)
                return rc;
        }
    }
    return 0;
}
