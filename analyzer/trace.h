/* Reading a trace: the first stage of the analyzer pipeline.
 *
 *   reader (records) -> streams (per-thread decoding, merge by time)
 *                    -> sink callbacks, in tick order
 *
 * Data model: a trace is the process's identity (PROCESS), the module map
 * and stack table (metadata, kept whole: proportional to unique stacks),
 * and a time-ordered sequence of events delivered to a sink one by one and
 * never stored: memory is bounded by two flush rounds of raw chunk bytes,
 * not by the length of the trace.  A REALLOC is delivered as its two
 * halves: a FREE at the first tick and an ALLOC at the second, both with
 * `realloc` set.
 */
#ifndef PERFSHIM_TRACE_H
#define PERFSHIM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perfshim/trace_format.h"
#include "symbolize.h"

struct ps_net;

struct ps_process {
    uint64_t pid, ppid;
    int clock_kind;
    uint64_t hz;
    uint64_t start_tick, start_mono_ns, start_unix_ns;
    char *version;
    char *exe;
    char **argv;
    size_t argc;
    uint64_t cpu_hz;     /* v3: CPU samples per second of each thread's CPU time; 0 off */
};

/* How the process ended, as far as the trace knows. */
struct ps_ending {
    bool has_end;        /* an END record was read */
    int kind;            /* enum ps_exit_kind when has_end */
    int code;
    int signal;          /* from EXIT_SIGNAL (perfshim record), 0 if none */
    bool exec_seen;      /* an EXEC event was the last thing the process did */
    char *exec_path;
    bool truncated;      /* the file ends inside a record */
    uint64_t end_tick;   /* END's tick, or the last event's */
};

/* Markers the reader puts into the event stream at their tick, so that a
 * sink sees them in order with the events (kinds no trace event uses). */
enum ps_marker { PS_MARK_SAMPLE = 200, PS_MARK_SAMPLING = 201, PS_MARK_SCAN = 202 };

struct ps_event {
    uint64_t tick;
    uint32_t thread;     /* stream serial */
    uint8_t kind;        /* PS_EV_ALLOC / FREE / THREAD_START / THREAD_EXIT / EXEC / OFFCPU / CPU_SAMPLE,
                          * or a marker: addr is then the index into samples / levels */
    bool realloc;        /* one half of a REALLOC */
    uint64_t addr;       /* OFFCPU: the call kind (enum ps_call_kind) */
    uint64_t size;       /* OFFCPU: nanoseconds blocked; CPU_SAMPLE: samples (>= 1) */
    uint32_t stack;
    uint64_t tid;        /* THREAD_START, CPU_SAMPLE */
};

struct ps_stack {
    uint32_t depth;      /* 0: not defined in the trace (cut short) */
    uint64_t *ips;       /* innermost first, return addresses */
    uint64_t tick;       /* when it was defined: picks the module instance */
};

struct ps_module_rec {
    struct ps_module m;  /* what the symbolizer needs */
    uint64_t load_tick, unload_tick; /* unload_tick UINT64_MAX while loaded */
    uint8_t *build_id_buf;
    uint64_t shim_id;    /* the id the shim gave it (reused after a fork) */
};

/* One RESOURCE record; heap_* are filled in by the heap analysis when the
 * event stream reaches the sample's tick. */
struct ps_sample {
    uint64_t tick;
    uint64_t rss, vm, rss_anon, rss_file, threads, fds, cpu_ns, shim_cpu_ns;
    uint64_t allocs, frees, bytes_alloc, heap_usable, shim_resident, trace_bytes;
    uint64_t heap_bytes, heap_blocks; /* the analyzer's, at this tick */
};

/* The last MEMORY record: the allocator's view and the shim's memory. */
struct ps_memory {
    bool present;
    uint64_t tick, shim_resident, shim_mapped;
    int allocator;       /* 0 unknown, 1 glibc */
    uint64_t system, in_use, free, mmapped;
    uint64_t shim_resident_peak;
};

/* A SAMPLING record: from TICK on, allocation events are sampled at SHIFT. */
struct ps_level {
    uint64_t tick;
    unsigned shift;      /* one sample per 2^shift bytes; PS_SAMPLE_OFF: stopped */
    uint64_t big, cap;   /* big: 2^shift (0 when stopped); cap: the size cap */
};

/* A reachability scan (SCAN, SCAN_PAIRS, SCAN_END records).  The pairs are
 * held until the heap analysis classifies the blocks at the scan's tick,
 * then freed; the totals stay. */
struct ps_scan {
    uint64_t tick;
    uint64_t id;
    int trigger;                 /* enum ps_scan_trigger */
    uint64_t threads, missed;    /* threads asked to stop; of them not stopped */
    uint64_t (*heap)[2];         /* the allocator's memory: [lo, hi), ascending */
    size_t nheap;
    uint64_t (*pairs)[2];        /* (where, value); where 0: a register */
    size_t npairs, pairs_cap;
    bool complete;               /* SCAN_END read */
    uint64_t bytes, pause_ns, total_ns;
    /* filled by the heap analysis (ps_heap_reach) */
    bool classified;
    uint64_t blocks;             /* live blocks classified */
    uint64_t kind_bytes[5], kind_blocks[5]; /* by enum ps_kind (heap.h) */
};

struct ps_trace {
    char *path;
    uint32_t version;          /* the file's format version */
    struct ps_process proc;
    struct ps_ending end;
    struct ps_stack *stacks;   /* indexed by id */
    size_t nstacks;
    struct ps_module_rec *modules;
    size_t nmodules;
    /* sync points (tick, mono ns) for converting ticks to time */
    uint64_t (*syncs)[2];
    size_t nsyncs, syncs_cap;
    struct ps_net *net;        /* call, peer and process statistics (net.h) */
    struct ps_sample *samples; /* RESOURCE records, in file order */
    size_t nsamples, samples_cap;
    struct ps_memory mem;
    struct ps_level *levels;   /* SAMPLING records */
    size_t nlevels;
    struct ps_scan *scans;     /* reachability scans, in file (and tick) order */
    size_t nscans;
    uint64_t file_bytes;       /* the trace file's size */
    uint64_t events;           /* events delivered */
    uint64_t last_tick;
};

typedef void (*ps_event_fn)(void *ctx, const struct ps_event *ev);

/* Open PATH and read it through, delivering events to FN in time order.
 * Returns 0, or a negative PS_E* with a detail line set.  A file that ends
 * inside a record is not an error: *T has end.truncated set. */
int ps_trace_read(const char *path, ps_event_fn fn, void *ctx, struct ps_trace **out);
void ps_trace_free(struct ps_trace *t);

/* Seconds since the process started, for a tick. */
double ps_trace_seconds(const struct ps_trace *t, uint64_t tick);
/* The module that held ADDRESS when a stack captured at TICK was taken. */
const struct ps_module *ps_trace_module_at(const struct ps_trace *t, uint64_t address, uint64_t tick);
/* The command line, arguments joined by spaces ('' for an empty one), cut
 * with "..." when it does not fit SIZE (at least 4) bytes. */
void ps_trace_command(const struct ps_trace *t, char *buf, size_t size);
/* "exited 0", "signal 9", "exec", "unknown". */
const char *ps_trace_exit_string(const struct ps_trace *t, char *buf, size_t size);

#endif
