/* `perfshim flame --format folded`: one line per distinct stack, outermost
 * frame first, frames joined by ';', then a space and an integer weight
 * (bytes for alloc and leak, microseconds blocked for offcpu): the input
 * of flamegraph.pl, inferno and speedscope.  Inline frames are frames of
 * their own.  An offcpu stack ends in the call that blocked (`recv`,
 * `epoll_wait`, ...), below the program's frame that made it.
 *
 * Two stack ids can fold to the same line (different return addresses on
 * the same source lines, or frames that differ only below the shown
 * names), so lines are collected, sorted and merged before printing. */
#include "flame.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

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

/* One folded line for stack ID (outermost first), plus LEAF if given. */
static int fold(struct ps_report *r, uint32_t id, const char *leaf, uint64_t w, struct line **lines,
                size_t *n, size_t *cap)
{
    struct ps_frame *f;
    size_t nf;
    int rc = ps_report_stack_frames(r, id, &f, &nf);
    if (rc)
        return rc;
    char *text = NULL;
    size_t tlen = 0;
    FILE *ms = open_memstream(&text, &tlen);
    if (!ms) {
        free(f);
        return PS_ENOMEM;
    }
    for (size_t k = nf; k-- > 0;) {
        put_name(ms, f[k].function ? f[k].function : "??");
        if (k)
            fputc(';', ms);
    }
    if (leaf) {
        fputc(';', ms);
        put_name(ms, leaf);
    }
    fclose(ms);
    free(f);
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        struct line *g = realloc(*lines, *cap * sizeof *g);
        if (!g) {
            free(text);
            return PS_ENOMEM;
        }
        *lines = g;
    }
    (*lines)[(*n)++] = (struct line){text, w};
    return 0;
}

int ps_flame_folded(FILE *out, struct ps_report *r, enum ps_flame_type type)
{
    const struct ps_heap *h = r->h;
    struct line *lines = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (type == PS_FLAME_OFFCPU) {
        for (size_t i = 0; i < r->off.cap && !rc; i++) {
            const struct ps_offcpu_entry *e = &r->off.e[i];
            uint64_t us = (e->ns + 500) / 1000;
            if (e->count && us)
                rc = fold(r, e->stack, ps_call_name(e->call), us, &lines, &n, &cap);
        }
    } else {
        for (uint64_t id = 0; id < h->nsites && !rc; id++) {
            uint64_t w = type == PS_FLAME_ALLOC ? h->sites[id].alloc_bytes : h->sites[id].live_bytes;
            if (w)
                rc = fold(r, (uint32_t)id, NULL, w, &lines, &n, &cap);
        }
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
