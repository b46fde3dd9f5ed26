#!/usr/bin/env python3
import pstest

# t_closefds: the target closes every fd, dup2s /dev/null over 3..63 and
# chdirs to /; the trace is still complete and both leaks are reported.
t = pstest.Test()
run, rep = t.run_one([t.target], rc=0)
s = rep["summary"]
t.eq("exited 0", rep["process"]["exit"], "process.exit (a complete trace)")
t.eq(2, s["leaked_blocks"], "summary.leaked_blocks")
t.eq(1887, s["leaked_bytes"], "summary.leaked_bytes")
t.eq(52, s["allocations"], "summary.allocations")
t.eq(50, s["frees"], "summary.frees")
t.expect_leak(rep, "leak_before", "@leak:before_close", blocks=1, bytes=888, caller="main")
t.expect_leak(rep, "leak_after", "@leak:after_close", blocks=1, bytes=999, caller="main")
t.done()
