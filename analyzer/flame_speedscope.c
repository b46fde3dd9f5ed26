/* `perfshim flame --format speedscope`: speedscope's own file format
 * (https://www.speedscope.app/file-format-schema.json), which unlike folded
 * text keeps each frame's file and line.
 *
 *   { "$schema", "exporter", "name", "activeProfileIndex": 0,
 *     "shared": { "frames": [ {"name", "file", "line"}, ... ] },
 *     "profiles": [ { "type": "sampled", "name", "unit", "startValue": 0,
 *                     "endValue": total, "samples": [[frame indices, root
 *                     first], ...], "weights": [...] } ] }
 *
 * Frames are shared by every profile, one per distinct (name, file, line),
 * numbered in that sort order so that the output does not depend on the
 * order of the stacks.  Samples are sorted root first by those numbers and
 * stacks that become the same sample are merged, so speedscope's "time
 * order" view reads like a flame graph too.  One profile for the process,
 * or with --per-thread one per thread (main thread first, then by tid),
 * named by ps_flame_thread_label.  Units: bytes (alloc, leak), nanoseconds
 * (cpu: samples * period), microseconds (offcpu).  Integers are written
 * exactly (cJSON's numbers are doubles). */
#include "flame.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int frame_cmp(const struct ps_frame *a, const struct ps_frame *b)
{
    int c = strcmp(ps_flame_frame_name(a), ps_flame_frame_name(b));
    if (!c)
        c = cmp_str(a->file, b->file);
    if (!c)
        c = (a->line > b->line) - (a->line < b->line);
    return c;
}

/* Positions in ALL (every frame of every stack), by (name, file, line). */
static int ref_cmp(const void *a, const void *b, void *all)
{
    const struct ps_frame **fr = all;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = frame_cmp(fr[x], fr[y]);
    return c ? c : (x > y) - (x < y);
}

struct sample {
    const uint32_t *idx; /* frame indices, root first */
    size_t n;
    uint64_t rank;       /* the profile: 0 when merged, else thread order */
    uint64_t tid;
    uint64_t weight;     /* in the profile's unit */
};

static int sample_cmp(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    for (size_t i = 0; i < x->n && i < y->n; i++)
        if (x->idx[i] != y->idx[i])
            return x->idx[i] < y->idx[i] ? -1 : 1;
    return (x->n > y->n) - (x->n < y->n);
}

static bool same_sample(const struct sample *x, const struct sample *y)
{
    return x->rank == y->rank && x->n == y->n && !memcmp(x->idx, y->idx, x->n * sizeof *x->idx);
}

static cJSON *u64_json(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

/* Add a JSON value to an array or object, remembering a failed allocation. */
static cJSON *put(cJSON *parent, const char *key, cJSON *item, bool *oom)
{
    if (!item || !parent) {
        *oom = true;
        cJSON_Delete(item);
        return NULL;
    }
    if (key ? !cJSON_AddItemToObject(parent, key, item) : !cJSON_AddItemToArray(parent, item)) {
        *oom = true;
        cJSON_Delete(item);
        return NULL;
    }
    return item;
}

static cJSON *frames_json(const struct ps_frame *const *frames, size_t n, bool *oom)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n && !*oom; i++) {
        cJSON *o = put(arr, NULL, cJSON_CreateObject(), oom);
        put(o, "name", cJSON_CreateString(ps_flame_frame_name(frames[i])), oom);
        if (frames[i]->file && *frames[i]->file)
            put(o, "file", cJSON_CreateString(frames[i]->file), oom);
        if (frames[i]->line > 0)
            put(o, "line", cJSON_CreateNumber(frames[i]->line), oom);
    }
    if (!arr)
        *oom = true;
    return arr;
}

/* One "sampled" profile from the merged samples S[0..N) of one rank. */
static cJSON *profile_json(const char *name, const char *unit, const struct sample *s, size_t n,
                           bool *oom)
{
    cJSON *p = cJSON_CreateObject();
    if (!p) {
        *oom = true;
        return NULL;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += s[i].weight;
    put(p, "type", cJSON_CreateString("sampled"), oom);
    put(p, "name", cJSON_CreateString(name), oom);
    put(p, "unit", cJSON_CreateString(unit), oom);
    put(p, "startValue", cJSON_CreateNumber(0), oom);
    put(p, "endValue", u64_json(total), oom);
    cJSON *samples = put(p, "samples", cJSON_CreateArray(), oom);
    cJSON *weights = put(p, "weights", cJSON_CreateArray(), oom);
    for (size_t i = 0; i < n && !*oom; i++) {
        cJSON *st = put(samples, NULL, cJSON_CreateArray(), oom);
        for (size_t k = 0; k < s[i].n && !*oom; k++)
            put(st, NULL, cJSON_CreateNumber(s[i].idx[k]), oom);
        put(weights, NULL, u64_json(s[i].weight), oom);
    }
    return p;
}

/* Profile order with --per-thread: the main thread, then by tid. */
static uint64_t thread_rank(const struct ps_flame *f, uint64_t tid)
{
    if (!f->per_thread)
        return 0;
    return tid == f->pid ? 0 : tid == UINT64_MAX ? tid : tid + 1;
}

int ps_flame_write_speedscope(FILE *out, const struct ps_flame *f)
{
    size_t total = 0;
    for (size_t i = 0; i < f->nstacks; i++)
        total += f->stacks[i].nframes;
    const struct ps_frame **all = malloc((total ? total : 1) * sizeof *all);
    size_t *refs = malloc((total ? total : 1) * sizeof *refs);
    uint32_t *idx = malloc((total ? total : 1) * sizeof *idx);
    const struct ps_frame **uniq = malloc((total ? total : 1) * sizeof *uniq);
    struct sample *s = malloc((f->nstacks ? f->nstacks : 1) * sizeof *s);
    cJSON *root = NULL;
    char *text = NULL;
    bool oom = !all || !refs || !idx || !uniq || !s;
    int rc = 0;
    if (oom)
        goto out;

    /* Number the distinct frames; idx holds each stack's numbers root first. */
    size_t pos = 0;
    for (size_t i = 0; i < f->nstacks; i++)
        for (size_t k = f->stacks[i].nframes; k-- > 0;)
            all[pos++] = &f->stacks[i].frames[k];
    for (size_t i = 0; i < total; i++)
        refs[i] = i;
    qsort_r(refs, total, sizeof *refs, ref_cmp, all);
    size_t nuniq = 0;
    for (size_t i = 0; i < total; i++) {
        if (!nuniq || frame_cmp(uniq[nuniq - 1], all[refs[i]]) != 0)
            uniq[nuniq++] = all[refs[i]];
        idx[refs[i]] = (uint32_t)(nuniq - 1);
    }

    uint64_t scale = f->type == PS_FLAME_CPU ? f->period : 1;
    const char *unit = f->type == PS_FLAME_CPU      ? "nanoseconds"
                       : f->type == PS_FLAME_OFFCPU ? "microseconds"
                                                    : "bytes";
    pos = 0;
    for (size_t i = 0; i < f->nstacks; i++) {
        const struct ps_flame_stack *st = &f->stacks[i];
        s[i] = (struct sample){idx + pos, st->nframes, thread_rank(f, st->tid), st->tid,
                               st->weight * scale};
        pos += st->nframes;
    }
    qsort(s, f->nstacks, sizeof *s, sample_cmp);
    size_t ns = 0;
    for (size_t i = 0; i < f->nstacks; i++) {
        if (ns && same_sample(&s[ns - 1], &s[i]))
            s[ns - 1].weight += s[i].weight;
        else
            s[ns++] = s[i];
    }

    root = cJSON_CreateObject();
    char name[512];
    snprintf(name, sizeof name, "%s: %s (pid %llu)", f->title ? f->title : "perfshim",
             f->command && *f->command ? f->command : "?", (unsigned long long)f->pid);
    put(root, "$schema", cJSON_CreateString("https://www.speedscope.app/file-format-schema.json"), &oom);
    put(root, "exporter", cJSON_CreateString("perfshim " PERFSHIM_VERSION), &oom);
    put(root, "name", cJSON_CreateString(name), &oom);
    put(root, "activeProfileIndex", cJSON_CreateNumber(0), &oom);
    cJSON *shared = put(root, "shared", cJSON_CreateObject(), &oom);
    put(shared, "frames", frames_json(uniq, nuniq, &oom), &oom);
    cJSON *profiles = put(root, "profiles", cJSON_CreateArray(), &oom);
    if (!f->per_thread || !ns) {
        put(profiles, NULL, profile_json(f->title ? f->title : "perfshim", unit, s, ns, &oom), &oom);
    } else {
        for (size_t i = 0; i < ns && !oom;) {
            size_t j = i;
            while (j < ns && s[j].rank == s[i].rank)
                j++;
            char label[64];
            ps_flame_thread_label(f, s[i].tid, label, sizeof label);
            put(profiles, NULL, profile_json(label, unit, s + i, j - i, &oom), &oom);
            i = j;
        }
    }
    if (!oom && !(text = cJSON_PrintUnformatted(root)))
        oom = true;
    if (!oom && (fputs(text, out) == EOF || fputc('\n', out) == EOF))
        rc = PS_EIO;
out:
    if (oom && !rc)
        rc = PS_ENOMEM;
    cJSON_free(text);
    cJSON_Delete(root);
    free(all);
    free(refs);
    free(idx);
    free(uniq);
    free(s);
    if (!rc && ferror(out))
        rc = PS_EIO;
    return rc;
}
