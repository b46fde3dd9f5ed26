/* Every PERFSHIM_* environment variable, in one table.
 *
 * X(NAME, default, one-line help).  The shim reads them once at start-up,
 * `perfshim --help` prints them, and a test checks that each appears in
 * docs/usage.md.  Each one is documented there with its default. */
#ifndef PERFSHIM_OPTIONS_H
#define PERFSHIM_OPTIONS_H

#define PS_OPTIONS(X)                                                                  \
    X(OUTPUT, "perfshim.%p.trace",                                                     \
      "trace file template: %p pid, %e executable name, %% a percent sign")            \
    X(FLUSH_MS, "1000", "longest time (ms) an event waits in memory before it is written") \
    X(VERBOSE, "0", "1: also say on stderr which trace file each process writes")        \
    X(STACK_DEPTH, "64", "deepest allocation stack recorded, in frames (0-128; 0: no stacks)") \
    X(BUFFER_KB, "256", "per-thread event buffer in KiB (16-65536, rounded to a power of two)") \
    X(CLOCK, "auto", "time source: auto (TSC when the kernel trusts it), tsc, monotonic") \
    X(COMPRESS, "1", "zstd level for chunks the background thread writes (0: none, 1-19)") \
    X(NET, "1", "1: time socket, clock and sleep calls, requests and peers; 0: allocations only") \
    X(OFFCPU_MIN_US, "1000", "a socket/wait/sleep call blocked this long (us) records its stack (off-CPU flame)") \
    X(SAMPLE_MS, "250", "resource sampler period in ms: RSS, heap, threads, fds, CPU (0: off)") \
    X(METRICS_FILE, "", "Prometheus text file rewritten on every sample (%p pid, %e name; empty: none)") \
    X(CPU_HZ, "99", "CPU samples per second of each thread's CPU time (0: no CPU profile; at most 10000)") \
    X(CPU_SIGNAL, "SIGPROF", "signal of the CPU sampler's timers: a name (SIGPROF, SIGRTMIN+4) or a number") \
    X(SCAN, "1", "1: classify leaks by reachability (a pointer scan at normal exit); 0: no scan") \
    X(SCAN_SIGNAL, "", "a signal that makes the shim scan now (a name like SIGUSR2, or its number; empty: none)") \
    X(SCAN_INTERVAL_S, "0", "scan every this many seconds, for servers that never exit (0: never)") \
    X(MAX_TRACE_MB, "0", "trace size cap in MiB: past half of it allocations are sampled (0: no cap)") \
    X(DISABLE, "0", "1: load but record nothing (the target runs untraced)")           \
    X(RECORD_LOG, "", "set by perfshim record: file where each process appends its trace path")

#endif
