/* Building flame graphs (see flame.h) and the folded writer.
 *
 * `perfshim flame --format folded`: one line per distinct stack, outermost
 * frame first, frames joined by ';', then a space and an integer weight
 * (bytes for alloc and leak, samples for cpu, microseconds blocked for
 * offcpu): the input of flamegraph.pl, inferno and speedscope.  Inline
 * frames are frames of their own.  An offcpu stack ends in the call that
 * blocked (`recv`, `epoll_wait`, ...), below the program's frame that made
 * it.  With --per-thread every line starts with the thread.
 *
 * Two stack ids can fold to the same line (different return addresses on
 * the same source lines, or frames that differ only below the shown
 * names), so lines are collected, sorted and merged before printing. */
#include "flame.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

static const struct {
    const char *name, *title, *unit, *count_unit;
} kinds[] = {
    [PS_FLAME_ALLOC] = {"alloc", "Allocated bytes", "bytes", "allocations"},
    [PS_FLAME_LEAK] = {"leak", "Leaked bytes", "bytes", "blocks"},
    [PS_FLAME_CPU] = {"cpu", "CPU samples", "samples", "samples"},
    [PS_FLAME_OFFCPU] = {"offcpu", "Off-CPU time", "microseconds", "calls"},
};

const char *ps_flame_frame_name(const struct ps_frame *fr)
{
    return fr->function && *fr->function ? fr->function : "??";
}

void ps_flame_thread_label(const struct ps_flame *f, uint64_t tid, char *buf, size_t size)
{
    if (!tid)
        snprintf(buf, size, "thread ?");
    else
        snprintf(buf, size, "%sthread %llu", tid == f->pid ? "main " : "", (unsigned long long)tid);
}

/* Append one stack: STACK's frames, below them LEAF (the blocked call). */
static int add(struct ps_flame *f, struct ps_report *r, size_t *cap, uint32_t stack, const char *leaf,
               uint64_t tid, uint64_t weight, uint64_t count)
{
    if (!weight)
        return 0;
    if (f->nstacks == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        struct ps_flame_stack *g = realloc(f->stacks, *cap * sizeof *g);
        if (!g)
            return PS_ENOMEM;
        f->stacks = g;
    }
    struct ps_frame *fr;
    size_t nf;
    int rc = ps_report_stack_frames(r, stack, &fr, &nf);
    if (rc)
        return rc;
    if (leaf) {
        struct ps_frame *g = realloc(fr, (nf + 1) * sizeof *g);
        if (!g) {
            free(fr);
            return PS_ENOMEM;
        }
        memmove(g + 1, g, nf * sizeof *g);
        g[0] = (struct ps_frame){.module = "", .function = leaf};
        fr = g;
        nf++;
    }
    f->stacks[f->nstacks++] = (struct ps_flame_stack){fr, nf, tid, weight, count};
    f->total += weight;
    return 0;
}

static int add_tally(struct ps_flame *f, struct ps_report *r, size_t *cap, const struct ps_tally *t)
{
    struct ps_tally merged = {0};
    if (!f->per_thread) {
        for (size_t i = 0; i < t->cap; i++)
            if (t->e[i].count)
                ps_tally_add(&merged, t->e[i].stack, t->e[i].call, 0, t->e[i].weight, t->e[i].count);
        if (merged.error)
            return merged.error;
        t = &merged;
    }
    int rc = 0;
    for (size_t i = 0; i < t->cap && !rc; i++) {
        const struct ps_tally_entry *e = &t->e[i];
        if (!e->weight)
            continue;
        uint64_t w = e->weight;
        if (f->type == PS_FLAME_OFFCPU)
            w = (w + 500) / 1000; /* ns -> us */
        /* a CPU sample event may stand for several samples: count samples */
        rc = add(f, r, cap, e->stack, f->type == PS_FLAME_OFFCPU ? ps_call_name(e->call) : NULL,
                 e->tid, w, f->type == PS_FLAME_CPU ? e->weight : e->count);
    }
    ps_tally_free(&merged);
    return rc;
}

int ps_flame_build(struct ps_report *r, enum ps_flame_type type, bool per_thread, struct ps_flame *f)
{
    memset(f, 0, sizeof *f);
    if (per_thread && (type == PS_FLAME_ALLOC || type == PS_FLAME_LEAK))
        return ps_error_set(PS_EUSAGE, "flame: --per-thread applies to cpu and offcpu (heap sites "
                                       "are not split by thread)");
    const struct ps_trace *t = r->t;
    f->type = type;
    f->type_name = kinds[type].name;
    f->title = kinds[type].title;
    f->unit = kinds[type].unit;
    f->count_unit = kinds[type].count_unit;
    f->per_thread = per_thread;
    f->pid = t->proc.pid;
    f->start_unix_ns = t->proc.start_unix_ns;
    f->duration_s = r->duration_s;
    f->cpu_hz = type == PS_FLAME_CPU ? t->proc.cpu_hz : 0;
    f->period = f->cpu_hz ? 1000000000ull / f->cpu_hz : 0;
    char cmd[4096];
    ps_trace_command(t, cmd, sizeof cmd);
    if (!(f->command = strdup(cmd)))
        return PS_ENOMEM;

    size_t cap = 0;
    int rc = 0;
    if (type == PS_FLAME_OFFCPU) {
        rc = add_tally(f, r, &cap, &r->off);
    } else if (type == PS_FLAME_CPU) {
        rc = add_tally(f, r, &cap, &r->cpu);
    } else {
        const struct ps_heap *h = r->h;
        for (uint64_t id = 0; id < h->nsites && !rc; id++) {
            const struct ps_site *s = &h->sites[id];
            if (type == PS_FLAME_ALLOC)
                rc = add(f, r, &cap, (uint32_t)id, NULL, 0, s->alloc_bytes, s->alloc_count);
            else
                rc = add(f, r, &cap, (uint32_t)id, NULL, 0, s->live_bytes, s->live_blocks);
        }
    }
    if (rc)
        ps_flame_free(f);
    return rc;
}

void ps_flame_free(struct ps_flame *f)
{
    for (size_t i = 0; i < f->nstacks; i++)
        free(f->stacks[i].frames);
    free(f->stacks);
    free((char *)f->command);
    memset(f, 0, sizeof *f);
}

/* ---- folded ---------------------------------------------------------------------- */

struct line {
    char *text;
    uint64_t weight;
};

static void put_name(FILE *out, const char *s)
{
    /* ';' separates frames and a newline ends the line: keep both out. */
    for (; s && *s; s++)
        fputc(*s == ';' ? ':' : *s == '\n' ? ' ' : *s, out);
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

int ps_flame_write_folded(FILE *out, const struct ps_flame *f)
{
    struct line *lines = calloc(f->nstacks ? f->nstacks : 1, sizeof *lines);
    if (!lines)
        return PS_ENOMEM;
    int rc = 0;
    size_t n = 0;
    for (; n < f->nstacks; n++) {
        const struct ps_flame_stack *s = &f->stacks[n];
        size_t tlen = 0;
        FILE *ms = open_memstream(&lines[n].text, &tlen);
        if (!ms) {
            rc = PS_ENOMEM;
            break;
        }
        if (f->per_thread) {
            char label[64];
            ps_flame_thread_label(f, s->tid, label, sizeof label);
            fprintf(ms, "%s;", label);
        }
        for (size_t k = s->nframes; k-- > 0;) {
            put_name(ms, ps_flame_frame_name(&s->frames[k]));
            if (k)
                fputc(';', ms);
        }
        if (fclose(ms)) {
            rc = PS_ENOMEM;
            break;
        }
        lines[n].weight = s->weight;
    }
    if (!rc) {
        qsort(lines, n, sizeof *lines, line_cmp);
        for (size_t i = 0; i < n;) {
            uint64_t w = 0;
            size_t j = i;
            for (; j < n && strcmp(lines[j].text, lines[i].text) == 0; j++)
                w += lines[j].weight;
            fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)w);
            i = j;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i].text);
    free(lines);
    if (!rc && ferror(out))
        rc = PS_EIO;
    return rc;
}
