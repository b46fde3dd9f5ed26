#!/usr/bin/env python3
import pstest

import subprocess

# t_sigkill: killed by SIGKILL >= 1.5 s after its leaks (flush every
# 1000 ms): the trace has no end record; report exits 0 with one warning
# line, process.exit "unknown", and the leaks before the kill are present.
t = pstest.Test()
dir = t.tempdir()
env = t.traced_env(dir, extra={"PERFSHIM_FLUSH_MS": "1000"})
proc = subprocess.Popen([t.target], cwd=dir, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
t.check(pstest.kill_after_ready(proc, delay=2.5), "target never printed 'ready'")
t.eq(-9, proc.returncode, "target's fate")
traces = t.traces_in(dir)
t.eq(1, len(traces), "trace files")
if not traces:
    t.done()
rep = t.report(traces[0], allow_warning=True)
t.eq("unknown", rep["process"]["exit"], "process.exit")
t.expect_leak(rep, "leak_loop", "@leak:loop", blocks=10, bytes=2560, caller="main",
              kind="unknown")  # killed: no exit scan
t.done()
