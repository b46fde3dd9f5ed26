#!/usr/bin/env python3
import pstest

# t_late_free: frees from an atexit handler, a destructor, and an atexit
# handler registered by the destructor (runs after the shim's destructor).
t = pstest.Test()
plain = t.run_plain([t.target])
run = t.run_traced([t.target])
t.eq(plain.rc, run.rc, "exit status, traced vs untraced")
t.eq(0, run.rc, "exit status")
t.eq(plain.stdout, run.stdout, "stdout, traced vs untraced")
t.eq(b"main done\natexit\ndtor\nvery late\n", run.stdout, "stdout")
t.eq(b"", run.stderr, "stderr of the traced run")
t.eq(1, len(run.traces), "trace files")
if not run.traces:
    t.done()
rep = t.report(run.traces[0])
t.eq("exited 0", rep["process"]["exit"], "process.exit")
for marker in ("@alloc:freed_in_atexit", "@alloc:freed_in_dtor"):
    t.expect_no_leak(rep, "main", t.source, pstest.marker_line(t.source, marker),
                     why="freed before the shim's destructor: " + marker)
t.done()
