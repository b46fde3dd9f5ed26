/* Flame graphs: one model, four writers.
 *
 *   report (heap sites, off-CPU table, CPU samples)
 *       -> ps_flame_build: weighted, symbolized stacks of one type
 *       -> folded text | interactive SVG | pprof | speedscope
 *
 * A flame holds each distinct recorded stack once, with its frames
 * symbolized (inline frames expanded, the shim's own frames dropped), its
 * thread when threads are kept apart, and its weight.  Writers only format:
 * they never read the trace or the report.
 */
#ifndef PERFSHIM_FLAME_H
#define PERFSHIM_FLAME_H

#include <stdbool.h>
#include <stdio.h>

#include "report.h"

enum ps_flame_type { PS_FLAME_ALLOC, PS_FLAME_LEAK, PS_FLAME_CPU, PS_FLAME_OFFCPU };

/* One weighted stack.  FRAMES are innermost first (as everywhere in the
 * report model); for offcpu the innermost frame is a pseudo-frame naming
 * the call that blocked ("recv", "epoll_wait": module "", address 0).
 * Two entries may fold to the same names: writers that print names merge
 * them, writers that keep addresses (pprof) need not. */
struct ps_flame_stack {
    struct ps_frame *frames;  /* innermost first; strings owned elsewhere */
    size_t nframes;
    uint64_t tid;             /* the thread, when --per-thread; else 0 */
    uint64_t weight;          /* in ps_flame.unit */
    uint64_t count;           /* allocations / live blocks / samples / blocked calls */
};

struct ps_flame {
    enum ps_flame_type type;
    const char *type_name;    /* "alloc", "leak", "cpu", "offcpu" */
    const char *title;        /* "Allocated bytes", "CPU samples", ... */
    const char *unit;         /* "bytes", "samples" or "microseconds" */
    const char *count_unit;   /* "allocations", "blocks", "samples", "calls" */
    bool per_thread;
    struct ps_flame_stack *stacks;
    size_t nstacks;
    uint64_t total;           /* sum of weights */
    /* what the trace says about the run, for headers and exports */
    const char *command;      /* argv joined by spaces */
    uint64_t pid;
    uint64_t start_unix_ns;
    double duration_s;
    uint64_t cpu_hz;          /* cpu: the sampling rate (0 otherwise) */
    uint64_t period;          /* cpu: nanoseconds of CPU time one sample stands for */
};

/* Build the flame of TYPE from R.  PER_THREAD keeps threads apart (cpu and
 * offcpu only: heap sites are not split by thread; PS_EUSAGE otherwise). */
int ps_flame_build(struct ps_report *r, enum ps_flame_type type, bool per_thread, struct ps_flame *out);
void ps_flame_free(struct ps_flame *f);

/* "thread 1234" (or "main thread 1234" for the process's own pid), the
 * root frame that --per-thread adds in the folded and SVG outputs. */
void ps_flame_thread_label(const struct ps_flame *f, uint64_t tid, char *buf, size_t size);
/* The name a frame shows in folded text and the SVG ("??" when unknown). */
const char *ps_flame_frame_name(const struct ps_frame *fr);

/* Writers: 0, or a negative PS_E* code (PS_EIO on a write error). */
int ps_flame_write_folded(FILE *out, const struct ps_flame *f);
int ps_flame_write_svg(FILE *out, const struct ps_flame *f);        /* flame_svg.c */
/* The same graph as an <svg> element for an HTML page (no XML declaration,
 * no error hook of its own): its ids start with IDP ("leak-", made of
 * [a-z0-9-]), the root is IDP "flame", its styles apply inside it only,
 * and its API is the root element's psFlame rather than window's. */
int ps_flame_write_svg_embedded(FILE *out, const struct ps_flame *f, const char *idp);
int ps_flame_write_pprof(FILE *out, const struct ps_flame *f);      /* flame_pprof.c */
int ps_flame_write_speedscope(FILE *out, const struct ps_flame *f); /* flame_speedscope.c */

#endif
