/* `perfshim flame --format pprof`: a gzip-compressed profile.proto
 * (perftools.profiles.Profile), the format `go tool pprof`, Pyroscope and
 * Parca read.
 *
 * The protobuf wire format needs only varints and length-delimited fields,
 * so it is written by hand: every section (samples, mappings, locations,
 * functions) is encoded into a growable buffer while the flame is walked,
 * strings are interned into the string table on the way, and the sections
 * then go through zlib's gzip deflate in field-number order.
 *
 * From the flame model:
 *   - one Sample per flame stack, location ids innermost first, values
 *     [count, weight] in the sample types below; with --per-thread the
 *     labels "thread" (num: the tid) and "thread_name";
 *   - one Location per distinct (module, address, inline chain): its Lines
 *     are the chain as the model has it, innermost first, which is pprof's
 *     order (the last Line is the function the others were inlined into).
 *     The off-CPU pseudo-frame (the blocked call, address 0) gets a Location
 *     of its own per name, without a Mapping;
 *   - one Function per (name, file), the name as folded output shows it.
 *     system_name stays empty: the names are demangled already, and an
 *     empty system name keeps pprof from "simplifying" C++ signatures;
 *   - one Mapping per module, marked fully symbolized (has_functions ...)
 *     so that pprof never tries to re-symbolize from the binaries.
 *
 * Sample types: alloc (alloc_objects count, alloc_space bytes), leak
 * (inuse_objects count, inuse_space bytes), cpu (samples count, cpu
 * nanoseconds = samples * period, period_type cpu nanoseconds), offcpu
 * (calls count, offcpu nanoseconds); the second is the default. */
#include "flame.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "errors.h"

/* ---- protobuf encoding -------------------------------------------------------- */

struct pb {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

enum { WT_VARINT = 0, WT_LEN = 2 };

static void pb_put(struct pb *b, const void *d, size_t n)
{
    if (b->oom || !n)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void pb_varint(struct pb *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    pb_put(b, t, n);
}

static void pb_key(struct pb *b, unsigned field, unsigned wire)
{
    pb_varint(b, (uint64_t)field << 3 | wire);
}

/* A scalar field; zero is proto3's default and is not written. */
static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
    if (!v)
        return;
    pb_key(b, field, WT_VARINT);
    pb_varint(b, v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *d, size_t n)
{
    pb_key(b, field, WT_LEN);
    pb_varint(b, n);
    pb_put(b, d, n);
}

/* Append SUB to B as submessage (or packed field) FIELD; empty SUB. */
static void pb_msg(struct pb *b, unsigned field, struct pb *sub)
{
    if (sub->oom)
        b->oom = true;
    pb_bytes(b, field, sub->p, sub->len);
    sub->len = 0;
}

/* ---- interning ------------------------------------------------------------------ */

/* Open addressing over entity ids (index + 1; 0 marks a free slot). */
struct slot {
    uint64_t hash;
    uint32_t id;
};

struct index {
    struct slot *s;
    size_t cap, n;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* Room for one more entry (load <= 1/2). */
static int index_reserve(struct index *ix)
{
    if ((ix->n + 1) * 2 <= ix->cap)
        return 0;
    size_t cap = ix->cap ? ix->cap * 2 : 256;
    struct slot *s = calloc(cap, sizeof *s);
    if (!s)
        return PS_ENOMEM;
    for (size_t i = 0; i < ix->cap; i++) {
        if (!ix->s[i].id)
            continue;
        size_t k = ix->s[i].hash & (cap - 1);
        while (s[k].id)
            k = (k + 1) & (cap - 1);
        s[k] = ix->s[i];
    }
    free(ix->s);
    ix->s = s;
    ix->cap = cap;
    return 0;
}

struct loc {
    uint32_t mapping;
    uint64_t address;
    const struct ps_frame *chain; /* innermost first; owned by the flame */
    size_t n;
};

struct writer {
    const struct ps_flame *f;
    /* string table: entry 0 is "" */
    const char **str;
    size_t nstr, capstr;
    uint32_t *mapping_of; /* per string: the Mapping whose file it is, or 0 */
    char **owned;         /* strings made here (thread labels, comments) */
    size_t nowned, capowned;
    struct index strs, funcs, locs;
    uint64_t *func_key; /* per Function: name << 32 | file */
    size_t nfunc, capfunc;
    struct loc *loc;
    size_t nloc, caploc;
    uint32_t nmapping;
    /* the encoded sections */
    struct pb samples, mappings, locations, functions;
    struct pb msg, sub, packed; /* scratch */
};

static int grow(void *pp, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*(void **)pp, c * size);
    if (!p)
        return PS_ENOMEM;
    *(void **)pp = p;
    *cap = c;
    return 0;
}

/* The string-table index of S (NULL is ""). */
static int intern(struct writer *w, const char *s, uint32_t *out)
{
    if (!s || !*s) {
        *out = 0;
        return 0;
    }
    int rc = index_reserve(&w->strs);
    if (rc)
        return rc;
    uint64_t h = hash_str(s);
    size_t k = h & (w->strs.cap - 1);
    for (; w->strs.s[k].id; k = (k + 1) & (w->strs.cap - 1)) {
        uint32_t i = w->strs.s[k].id - 1;
        if (w->strs.s[k].hash == h && strcmp(w->str[i], s) == 0) {
            *out = i;
            return 0;
        }
    }
    size_t capm = w->capstr;
    if ((rc = grow(&w->str, &w->capstr, w->nstr, sizeof *w->str)))
        return rc;
    if (w->capstr != capm) {
        uint32_t *m = realloc(w->mapping_of, w->capstr * sizeof *m);
        if (!m)
            return PS_ENOMEM;
        memset(m + capm, 0, (w->capstr - capm) * sizeof *m);
        w->mapping_of = m;
    }
    if (w->nstr > UINT32_MAX - 2)
        return PS_ENOMEM;
    uint32_t i = (uint32_t)w->nstr++;
    w->str[i] = s;
    w->strs.s[k] = (struct slot){h, i + 1};
    w->strs.n++;
    *out = i;
    return 0;
}

/* Intern a copy of S (for strings made here, which die with the writer). */
static int intern_copy(struct writer *w, const char *s, uint32_t *out)
{
    int rc = grow(&w->owned, &w->capowned, w->nowned, sizeof *w->owned);
    if (rc)
        return rc;
    char *c = strdup(s);
    if (!c)
        return PS_ENOMEM;
    w->owned[w->nowned++] = c;
    return intern(w, c, out);
}

/* The Function id of (NAME, FILE), encoding the Function when it is new. */
static int function_id(struct writer *w, const struct ps_frame *fr, uint32_t *out)
{
    uint32_t name, file;
    int rc = intern(w, ps_flame_frame_name(fr), &name);
    if (!rc)
        rc = intern(w, fr->file, &file);
    if (!rc)
        rc = index_reserve(&w->funcs);
    if (rc)
        return rc;
    uint64_t key = (uint64_t)name << 32 | file;
    uint64_t h = mix(0, key);
    size_t k = h & (w->funcs.cap - 1);
    for (; w->funcs.s[k].id; k = (k + 1) & (w->funcs.cap - 1))
        if (w->func_key[w->funcs.s[k].id - 1] == key) {
            *out = w->funcs.s[k].id;
            return 0;
        }
    if ((rc = grow(&w->func_key, &w->capfunc, w->nfunc, sizeof *w->func_key)))
        return rc;
    w->func_key[w->nfunc++] = key;
    uint32_t id = (uint32_t)w->nfunc;
    w->funcs.s[k] = (struct slot){h, id};
    w->funcs.n++;
    /* Function: 1 id, 2 name, 3 system_name, 4 filename, 5 start_line */
    pb_uint(&w->msg, 1, id);
    pb_uint(&w->msg, 2, name);
    pb_uint(&w->msg, 4, file);
    pb_msg(&w->functions, 5, &w->msg);
    *out = id;
    return 0;
}

/* The Mapping id of MODULE (0 for none: pseudo-frames). */
static int mapping_id(struct writer *w, const char *module, uint32_t *out)
{
    uint32_t file;
    int rc = intern(w, module, &file);
    if (rc)
        return rc;
    if (!file) {
        *out = 0;
        return 0;
    }
    if (!w->mapping_of[file]) {
        w->mapping_of[file] = ++w->nmapping;
        /* Mapping: 1 id, 2 memory_start, 3 memory_limit, 4 file_offset,
         * 5 filename, 6 build_id, 7..10 has_functions, has_filenames,
         * has_line_numbers, has_inline_frames */
        pb_uint(&w->msg, 1, w->nmapping);
        pb_uint(&w->msg, 5, file);
        for (unsigned fld = 7; fld <= 10; fld++)
            pb_uint(&w->msg, fld, 1);
        pb_msg(&w->mappings, 3, &w->msg);
    }
    *out = w->mapping_of[file];
    return 0;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_frame(const struct ps_frame *a, const struct ps_frame *b)
{
    return a->line == b->line && a->inlined == b->inlined &&
           strcmp(ps_flame_frame_name(a), ps_flame_frame_name(b)) == 0 && same_str(a->file, b->file);
}

/* The Location id of the inline chain CHAIN[0..N) (innermost first, all at
 * one address), encoding the Location (and its Functions) when it is new. */
static int location_id(struct writer *w, const struct ps_frame *chain, size_t n, uint32_t *out)
{
    uint32_t mapping, name;
    int rc = mapping_id(w, chain[0].module, &mapping);
    if (!rc)
        rc = intern(w, ps_flame_frame_name(&chain[n - 1]), &name);
    if (!rc)
        rc = index_reserve(&w->locs);
    if (rc)
        return rc;
    uint64_t h = mix(mix(mix(mix(0, mapping), chain[0].address), name), n);
    size_t k = h & (w->locs.cap - 1);
    for (; w->locs.s[k].id; k = (k + 1) & (w->locs.cap - 1)) {
        if (w->locs.s[k].hash != h)
            continue;
        const struct loc *l = &w->loc[w->locs.s[k].id - 1];
        if (l->mapping != mapping || l->address != chain[0].address || l->n != n)
            continue;
        size_t i = 0;
        while (i < n && same_frame(&l->chain[i], &chain[i]))
            i++;
        if (i == n) {
            *out = w->locs.s[k].id;
            return 0;
        }
    }
    if ((rc = grow(&w->loc, &w->caploc, w->nloc, sizeof *w->loc)))
        return rc;
    w->loc[w->nloc++] = (struct loc){mapping, chain[0].address, chain, n};
    uint32_t id = (uint32_t)w->nloc;
    w->locs.s[k] = (struct slot){h, id};
    w->locs.n++;
    /* Location: 1 id, 2 mapping_id, 3 address, 4 repeated Line
     * Line: 1 function_id, 2 line.  Functions go first: they use w->msg. */
    for (size_t i = 0; i < n; i++) {
        uint32_t fid;
        if ((rc = function_id(w, &chain[i], &fid)))
            return rc;
        pb_uint(&w->sub, 1, fid);
        pb_uint(&w->sub, 2, chain[i].line > 0 ? (uint64_t)chain[i].line : 0);
        pb_msg(&w->packed, 4, &w->sub);
    }
    pb_uint(&w->msg, 1, id);
    pb_uint(&w->msg, 2, mapping);
    pb_uint(&w->msg, 3, chain[0].address);
    pb_put(&w->msg, w->packed.p, w->packed.len);
    if (w->packed.oom)
        w->msg.oom = true;
    w->packed.len = 0;
    pb_msg(&w->locations, 4, &w->msg);
    *out = id;
    return 0;
}

/* Frames at one address: an inline chain continues while a frame is inlined
 * into the next one.  Pseudo-frames (address 0) stand alone. */
static size_t chain_len(const struct ps_frame *fr, size_t n)
{
    size_t k = 1;
    while (k < n && fr[k - 1].inlined && fr[0].address && fr[k].address == fr[0].address &&
           same_str(fr[k].module, fr[0].module))
        k++;
    return k;
}

static int add_label(struct writer *w, const char *key, const char *str, uint64_t num, bool copy)
{
    uint32_t k, s = 0;
    int rc = intern(w, key, &k);
    if (!rc && str)
        rc = copy ? intern_copy(w, str, &s) : intern(w, str, &s);
    if (rc)
        return rc;
    /* Label: 1 key, 2 str, 3 num */
    pb_uint(&w->sub, 1, k);
    pb_uint(&w->sub, 2, s);
    pb_uint(&w->sub, 3, num);
    pb_msg(&w->msg, 3, &w->sub);
    return 0;
}

static int add_sample(struct writer *w, const struct ps_flame_stack *s, uint64_t scale)
{
    /* Sample: 1 packed location_id, 2 packed value, 3 repeated Label.
     * Locations first: encoding a new one uses the scratch buffers. */
    uint32_t *ids = malloc((s->nframes ? s->nframes : 1) * sizeof *ids);
    if (!ids)
        return PS_ENOMEM;
    size_t nids = 0;
    int rc = 0;
    for (size_t i = 0; i < s->nframes && !rc;) {
        size_t n = chain_len(&s->frames[i], s->nframes - i);
        rc = location_id(w, &s->frames[i], n, &ids[nids++]);
        i += n;
    }
    if (!rc) {
        for (size_t i = 0; i < nids; i++)
            pb_varint(&w->packed, ids[i]);
        pb_msg(&w->msg, 1, &w->packed);
        pb_varint(&w->packed, s->count);
        pb_varint(&w->packed, s->weight * scale);
        pb_msg(&w->msg, 2, &w->packed);
        if (w->f->per_thread) {
            char label[64];
            ps_flame_thread_label(w->f, s->tid, label, sizeof label);
            rc = add_label(w, "thread", NULL, s->tid, false);
            if (!rc)
                rc = add_label(w, "thread_name", label, 0, true);
        }
        pb_msg(&w->samples, 2, &w->msg);
    }
    free(ids);
    return rc;
}

static void writer_free(struct writer *w)
{
    for (size_t i = 0; i < w->nowned; i++)
        free(w->owned[i]);
    free(w->owned);
    free(w->str);
    free(w->mapping_of);
    free(w->strs.s);
    free(w->funcs.s);
    free(w->locs.s);
    free(w->func_key);
    free(w->loc);
    struct pb *bufs[] = {&w->samples, &w->mappings, &w->locations, &w->functions,
                         &w->msg,     &w->sub,      &w->packed};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]->p);
}

/* pprof takes the first Mapping for the main binary (its reports' "File:"
 * line): the module named like argv[0], else the first one that does not
 * look like a shared library. */
static bool looks_like_library(const char *base)
{
    if (*base == '[')
        return true; /* [vdso] */
    for (const char *p = strstr(base, ".so"); p; p = strstr(p + 1, ".so"))
        if (!p[3] || p[3] == '.' || p[3] == '_' || p[3] == '-')
            return true;
    return false;
}

static const char *main_module(const struct ps_flame *f)
{
    const char *cmd = f->command ? f->command : "";
    size_t len = strcspn(cmd, " ");
    const char *arg0 = cmd;
    for (size_t i = 0; i < len; i++)
        if (cmd[i] == '/')
            arg0 = cmd + i + 1;
    len -= (size_t)(arg0 - cmd);
    const char *fallback = NULL;
    for (size_t i = 0; i < f->nstacks; i++)
        for (size_t k = 0; k < f->stacks[i].nframes; k++) {
            const char *m = f->stacks[i].frames[k].module;
            if (!m || !*m)
                continue;
            const char *base = strrchr(m, '/');
            base = base ? base + 1 : m;
            if (len && strlen(base) == len && memcmp(base, arg0, len) == 0)
                return m;
            if (!fallback && !looks_like_library(base))
                fallback = m;
        }
    return fallback;
}

/* ---- gzip ----------------------------------------------------------------------- */

/* Deflate D[0..N) into OUT; FINISH ends the gzip stream. */
static int gz_put(z_stream *z, FILE *out, const uint8_t *d, size_t n, bool finish)
{
    unsigned char obuf[16384];
    for (;;) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        bool last = finish && chunk == n;
        z->next_in = (Bytef *)d;
        z->avail_in = (uInt)chunk;
        int zr;
        do {
            z->next_out = obuf;
            z->avail_out = sizeof obuf;
            zr = deflate(z, last ? Z_FINISH : Z_NO_FLUSH);
            if (zr == Z_STREAM_ERROR)
                return ps_error_set(PS_EIO, "flame: pprof: zlib deflate failed");
            size_t have = sizeof obuf - z->avail_out;
            if (have && fwrite(obuf, 1, have, out) != have)
                return PS_EIO;
        } while (last ? zr != Z_STREAM_END : z->avail_out == 0);
        if (chunk == n)
            return 0;
        d += chunk;
        n -= chunk;
    }
}

/* ---- the profile ---------------------------------------------------------------- */

struct types {
    const char *t1, *u1, *t2, *u2;
    uint64_t scale; /* weight -> the second value */
};

static struct types types_of(const struct ps_flame *f)
{
    switch (f->type) {
    case PS_FLAME_ALLOC:
        return (struct types){"alloc_objects", "count", "alloc_space", "bytes", 1};
    case PS_FLAME_LEAK:
        return (struct types){"inuse_objects", "count", "inuse_space", "bytes", 1};
    case PS_FLAME_CPU:
        return (struct types){"samples", "count", "cpu", "nanoseconds", f->period};
    case PS_FLAME_OFFCPU:
        break;
    }
    return (struct types){"calls", "count", "offcpu", "nanoseconds", 1000}; /* us -> ns */
}

static int value_type(struct writer *w, struct pb *b, unsigned field, const char *type, const char *unit)
{
    uint32_t t, u;
    int rc = intern(w, type, &t);
    if (!rc)
        rc = intern(w, unit, &u);
    if (rc)
        return rc;
    /* ValueType: 1 type, 2 unit */
    pb_uint(&w->sub, 1, t);
    pb_uint(&w->sub, 2, u);
    pb_msg(b, field, &w->sub);
    return 0;
}

int ps_flame_write_pprof(FILE *out, const struct ps_flame *f)
{
    struct writer w = {.f = f, .capstr = 64};
    struct pb head = {0}, tail = {0};
    struct types ty = types_of(f);
    uint32_t idx = 0;
    int rc = 0;
    /* string_table[0] is "" (intern() answers 0 for it without a lookup) */
    w.str = malloc(w.capstr * sizeof *w.str);
    w.mapping_of = calloc(w.capstr, sizeof *w.mapping_of);
    if (!w.str || !w.mapping_of)
        rc = PS_ENOMEM;
    else
        w.str[w.nstr++] = "";
    /* Profile: 1 sample_type, 2 sample, 3 mapping, 4 location, 5 function,
     * 6 string_table, 9 time_nanos, 10 duration_nanos, 11 period_type,
     * 12 period, 13 comment, 14 default_sample_type */
    if (!rc)
        rc = value_type(&w, &head, 1, ty.t1, ty.u1);
    if (!rc)
        rc = value_type(&w, &head, 1, ty.t2, ty.u2);
    if (!rc)
        rc = mapping_id(&w, main_module(f), &idx); /* id 1 */
    for (size_t i = 0; i < f->nstacks && !rc; i++)
        rc = add_sample(&w, &f->stacks[i], ty.scale);

    if (!rc)
        pb_uint(&tail, 9, f->start_unix_ns);
    if (!rc && f->duration_s > 0 && f->duration_s < 1e9)
        pb_uint(&tail, 10, (uint64_t)(f->duration_s * 1e9 + 0.5));
    if (!rc && f->type == PS_FLAME_CPU) {
        rc = value_type(&w, &tail, 11, "cpu", "nanoseconds");
        pb_uint(&tail, 12, f->period);
    }
    if (!rc && f->command && *f->command) {
        rc = intern(&w, f->command, &idx);
        pb_key(&tail, 13, WT_VARINT);
        pb_varint(&tail, idx);
    }
    if (!rc) {
        char note[128];
        snprintf(note, sizeof note, "perfshim %s flame --type %s, pid %llu", PERFSHIM_VERSION,
                 f->type_name ? f->type_name : "?", (unsigned long long)f->pid);
        rc = intern_copy(&w, note, &idx);
        pb_key(&tail, 13, WT_VARINT);
        pb_varint(&tail, idx);
    }
    if (!rc) {
        rc = intern(&w, ty.t2, &idx);
        pb_uint(&tail, 14, idx);
    }
    struct pb *bufs[] = {&head, &w.samples, &w.mappings, &w.locations, &w.functions, &tail};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i]->oom && !rc)
            rc = PS_ENOMEM;

    z_stream z = {0};
    bool zinit = false;
    if (!rc) {
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            rc = ps_error_set(PS_ENOMEM, "flame: pprof: zlib deflateInit2 failed");
        else
            zinit = true;
    }
    for (size_t i = 0; i < 5 && !rc; i++)
        rc = gz_put(&z, out, bufs[i]->p, bufs[i]->len, false);
    for (size_t i = 0; i < w.nstr && !rc; i++) {
        w.msg.len = 0;
        pb_bytes(&w.msg, 6, w.str[i], strlen(w.str[i]));
        rc = w.msg.oom ? PS_ENOMEM : gz_put(&z, out, w.msg.p, w.msg.len, false);
    }
    if (!rc)
        rc = gz_put(&z, out, tail.p, tail.len, true);
    if (zinit)
        deflateEnd(&z);
    free(head.p);
    free(tail.p);
    writer_free(&w);
    if (!rc && ferror(out))
        rc = PS_EIO;
    return rc;
}
