#!/usr/bin/env python3
import pstest

# t_signal: a SIGALRM handler allocates every 200 us while the main loop
# is in malloc/free.  Nested calls pass through the re-entrancy guard; the
# program must finish, print the same, and leak exactly its one marked block.
t = pstest.Test()
plain = t.run_plain([t.target], timeout=120)
run, rep = t.run_one([t.target], timeout=120)
t.eq(plain.stdout, run.stdout, "stdout, traced vs untraced")
t.eq(b"", run.stderr, "stderr of the traced run")
t.eq("exited 0", rep["process"]["exit"], "process.exit")
s = rep["summary"]
t.check(s["allocations"] >= 2000000, "allocations: expected >= 2,000,000, actual %d" % s["allocations"])
t.eq(200, s["leaked_bytes"], "summary.leaked_bytes")
t.eq(1, s["leaked_blocks"], "summary.leaked_blocks")
t.expect_leak(rep, "leak_once", "@leak:once", blocks=1, bytes=200, caller="main")
t.done()
