/* The report model: what every output format shows, built once from a
 * trace and its heap analysis, symbolized, and handed to a writer.  No
 * writer analyses anything; no analysis knows an output format. */
#ifndef PERFSHIM_REPORT_H
#define PERFSHIM_REPORT_H

#include <stdio.h>

#include "growth.h"
#include "heap.h"
#include "net.h"
#include "symbolize.h"
#include "tally.h"
#include "trace.h"

struct ps_rframe {
    struct ps_frame f;       /* strings owned by the symbolizer */
};

struct ps_leak {
    uint64_t bytes, blocks;
    uint32_t stack;
    const char *kind;        /* ps_kind_names[]: "unknown" when no scan covered it */
    struct ps_frame *frames; /* innermost first, inline frames expanded */
    size_t nframes;
};

struct ps_suspect_rep {
    struct ps_suspect s;
    struct ps_frame *frames; /* innermost first */
    size_t nframes;
};

/* A function's share of the CPU samples: SELF when it was the innermost
 * frame (inline frames count as functions of their own), TOTAL when it was
 * anywhere on the stack (once per sample, however deep the recursion). */
struct ps_cpu_func {
    const char *function;    /* strings owned by the symbolizer */
    const char *file;        /* of the innermost frame seen; may be NULL */
    const char *module;
    uint64_t self, total;
};

struct ps_report_opts {
    double warmup_s;         /* < 0: the default (growth.h) */
};

struct ps_report {
    struct ps_trace *t;
    struct ps_heap *h;
    struct ps_symbolizer *sym;
    char exit[64];
    double duration_s;
    double peak_s;
    uint64_t leaked_bytes, leaked_blocks;      /* every kind but reachable */
    uint64_t reachable_bytes, reachable_blocks;
    uint64_t kind_bytes[PS_KIND_COUNT], kind_blocks[PS_KIND_COUNT]; /* by enum ps_kind */
    const struct ps_scan *last_scan;           /* the scan the kinds come from; NULL: none */
    struct ps_leak *leaks;   /* largest bytes first */
    size_t nleaks;
    struct ps_net_summary net; /* calls, requests, peers */
    struct ps_tally off;     /* blocked ns by (stack, call, thread) */
    struct ps_tally cpu;     /* CPU samples by (stack, thread) */
    struct ps_cpu_func *cpu_funcs; /* by self samples, then total */
    size_t ncpu_funcs;
    struct ps_cpu_thread {
        uint64_t tid, samples;
    } *cpu_threads;          /* by samples, most first */
    size_t ncpu_threads;
    uint64_t *serial_tid;    /* thread serial -> tid (THREAD_START) */
    size_t nserials;
    bool live_at_end;        /* no END: leaks are blocks live when the trace ends */
    struct ps_growth growth;
    struct ps_resources res; /* .present: the trace has resource samples */
    struct ps_suspect_rep *suspects; /* growing sites, fastest first */
    size_t nsuspects;
};

/* Read TRACE, analyse it and symbolize the leaks: the pipeline in one call.
 * Warnings (truncated trace, changed modules) go to stderr, once each. */
int ps_report_build(const char *path, struct ps_symbolizer *sym, const struct ps_report_opts *opts,
                    struct ps_report **out);
void ps_report_free(struct ps_report *r);

/* The thread id of stream SERIAL, 0 when unknown. */
uint64_t ps_report_tid(const struct ps_report *r, uint32_t serial);
/* Fill r->cpu_funcs and r->cpu_threads from r->cpu (cpu.c). */
int ps_cpu_functions(struct ps_report *r);

/* Symbolized frames of stack ID (innermost first), into a new array the
 * caller frees (the strings stay the symbolizer's). */
int ps_report_stack_frames(struct ps_report *r, uint32_t id, struct ps_frame **frames, size_t *n);

int ps_write_text(FILE *out, struct ps_report **r, size_t n);
int ps_write_json(FILE *out, struct ps_report **r, size_t n);
/* OBJ[KEY] = V, written exactly (cJSON's numbers are doubles); for the
 * other JSON writers (diff) too. */
struct cJSON;
void ps_json_add_u64(struct cJSON *obj, const char *key, uint64_t v);
/* Print DOC and a newline to OUT, then delete it: 0, PS_ENOMEM or PS_EIO. */
int ps_json_print(FILE *out, struct cJSON *doc);
int ps_write_markdown(FILE *out, struct ps_report **r, size_t n);

/* "src/x.c" for display: the path relative to the current directory when
 * it is below it. */
const char *ps_display_path(const char *file);

#endif
