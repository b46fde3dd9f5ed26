#!/usr/bin/env python3
import pstest

# t_exit_code: exit(3) passes through the shim; the report says "exited 3".
t = pstest.Test()
run = t.run_traced([t.target])
t.eq(3, run.rc, "exit status")
t.eq(b"", run.stdout + run.stderr, "output of the traced run")
t.eq(1, len(run.traces), "trace files")
if not run.traces:
    t.done()
rep = t.report(run.traces[0])
t.eq("exited 3", rep["process"]["exit"], "process.exit")
t.eq(1, rep["summary"]["leaked_blocks"], "summary.leaked_blocks")
t.expect_leak(rep, "leak_one", "@leak:one", blocks=1, bytes=42, caller="main")
t.done()
