/* CPU profile: which functions the samples landed in.
 *
 * Every (stack, thread) entry of r->cpu is symbolized once; a function is
 * identified by its name and module.  Self counts the innermost frame,
 * total every function on the stack once per sample, so that a recursive
 * function is not counted twice and total never exceeds 100%. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct ftab {
    struct ps_cpu_func *f;
    uint64_t *hash;
    uint64_t *seen;          /* the last sample entry that counted it in total */
    size_t cap, n;
};

static uint64_t str_hash(const char *s, uint64_t h)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static int grow(struct ftab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    struct ps_cpu_func *f = calloc(cap, sizeof *f);
    uint64_t *hash = calloc(cap, sizeof *hash), *seen = calloc(cap, sizeof *seen);
    if (!f || !hash || !seen) {
        free(f);
        free(hash);
        free(seen);
        return PS_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->f[i].function)
            continue;
        size_t s = t->hash[i] & (cap - 1);
        while (f[s].function)
            s = (s + 1) & (cap - 1);
        f[s] = t->f[i];
        hash[s] = t->hash[i];
        seen[s] = t->seen[i];
    }
    free(t->f);
    free(t->hash);
    free(t->seen);
    t->f = f;
    t->hash = hash;
    t->seen = seen;
    t->cap = cap;
    return 0;
}

static int lookup(struct ftab *t, const struct ps_frame *fr, size_t *at)
{
    if ((t->n + 1) * 2 > t->cap) {
        int rc = grow(t);
        if (rc)
            return rc;
    }
    const char *name = fr->function ? fr->function : "??";
    const char *module = fr->module ? fr->module : "";
    uint64_t h = str_hash(module, str_hash(name, 0xcbf29ce484222325ull));
    size_t s = h & (t->cap - 1);
    while (t->f[s].function &&
           !(t->hash[s] == h && strcmp(t->f[s].function, name) == 0 && strcmp(t->f[s].module, module) == 0))
        s = (s + 1) & (t->cap - 1);
    if (!t->f[s].function) {
        t->f[s] = (struct ps_cpu_func){.function = name, .file = fr->file, .module = module};
        t->hash[s] = h;
        t->n++;
    }
    *at = s;
    return 0;
}

static int func_cmp(const void *a, const void *b)
{
    const struct ps_cpu_func *x = a, *y = b;
    if (x->self != y->self)
        return x->self < y->self ? 1 : -1;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return strcmp(x->function, y->function);
}

static int thread_cmp(const void *a, const void *b)
{
    const struct ps_cpu_thread *x = a, *y = b;
    if (x->samples != y->samples)
        return x->samples < y->samples ? 1 : -1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Samples per thread (few threads: a linear search is enough). */
static int cpu_threads(struct ps_report *r)
{
    for (size_t i = 0; i < r->cpu.cap; i++) {
        const struct ps_tally_entry *e = &r->cpu.e[i];
        if (!e->count)
            continue;
        size_t k = 0;
        while (k < r->ncpu_threads && r->cpu_threads[k].tid != e->tid)
            k++;
        if (k == r->ncpu_threads) {
            struct ps_cpu_thread *g = realloc(r->cpu_threads, (k + 1) * sizeof *g);
            if (!g)
                return PS_ENOMEM;
            r->cpu_threads = g;
            g[k] = (struct ps_cpu_thread){e->tid, 0};
            r->ncpu_threads++;
        }
        r->cpu_threads[k].samples += e->weight;
    }
    if (r->ncpu_threads)
        qsort(r->cpu_threads, r->ncpu_threads, sizeof *r->cpu_threads, thread_cmp);
    return 0;
}

int ps_cpu_functions(struct ps_report *r)
{
    struct ftab t = {0};
    int rc = cpu_threads(r);
    uint64_t serial = 0;
    for (size_t i = 0; i < r->cpu.cap && !rc; i++) {
        const struct ps_tally_entry *e = &r->cpu.e[i];
        if (!e->count)
            continue;
        struct ps_frame *f;
        size_t nf;
        if ((rc = ps_report_stack_frames(r, e->stack, &f, &nf)))
            break;
        serial++;
        for (size_t k = 0; k < nf && !rc; k++) {
            size_t at;
            if ((rc = lookup(&t, &f[k], &at)))
                break;
            if (k == 0)
                t.f[at].self += e->weight;
            if (t.seen[at] != serial) {
                t.seen[at] = serial;
                t.f[at].total += e->weight;
            }
        }
        free(f);
    }
    if (!rc && t.n) {
        r->cpu_funcs = malloc(t.n * sizeof *r->cpu_funcs);
        if (!r->cpu_funcs)
            rc = PS_ENOMEM;
        for (size_t i = 0; !rc && i < t.cap; i++)
            if (t.f[i].function)
                r->cpu_funcs[r->ncpu_funcs++] = t.f[i];
        if (!rc)
            qsort(r->cpu_funcs, r->ncpu_funcs, sizeof *r->cpu_funcs, func_cmp);
    }
    free(t.f);
    free(t.hash);
    free(t.seen);
    return rc;
}
