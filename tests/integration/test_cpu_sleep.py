#!/usr/bin/env python3
"""A sleeping program gets (almost) no CPU samples.

t_cpu_sleep does ~1 ms of work, then sleeps 2 s in nanosleep (main;nap).
CPU-time timers only run while the thread runs: at 99 Hz at most a few
samples (start-up, exit), while the off-CPU flame has ~2 s under
main;nap;nanosleep.
"""
import pstest

t = pstest.Test()
if not t.target:
    t.skip("t_cpu_sleep was not built")

run, rep = t.run_one([t.target], timeout=30)
t.eq(b"t_cpu_sleep: ok\n", run.stdout, "stdout")
t.eq(b"", run.stderr, "stderr")
trace = run.traces[0]

cpu = rep.get("cpu")
if t.check(isinstance(cpu, dict), "report has no 'cpu' object (keys: %s)" % sorted(rep)):
    t.eq(99, cpu.get("hz"), "cpu.hz (the sampler was on)")
    t.between(0, 3, cpu.get("samples"), "cpu.samples")
    t.between(0, 3, sum(th.get("samples", 0) for th in cpu.get("threads") or []),
              "sum of cpu.threads[].samples")

lines = t.flame(trace, "cpu")
total = sum(w for _, w in lines)
print("CPU samples: %d (%s)" % (total, lines))
t.between(0, 3, total, "flame --type cpu: samples")

off = t.flame(trace, "offcpu")
slept = sum(w for fr, w in off if fr[-3:] == ["main", "nap", "nanosleep"])
print("off-CPU in main;nap;nanosleep: %d us (all: %s)" % (slept, off))
t.between(1.9e6, 2.6e6, slept, "flame --type offcpu: microseconds in ...;main;nap;nanosleep")
t.done()
