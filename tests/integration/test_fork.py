#!/usr/bin/env python3
import os

import pstest

# t_fork: parent leaks 1111 before and 3333 after the fork; the child leaks
# 2222; each process has its own trace and the child's covers only what it
# allocated after the fork.
t = pstest.Test()
run = t.run_traced([t.target])
t.eq(0, run.rc, "exit status")
t.eq(2, len(run.traces), "trace files (%s)" % [os.path.basename(p) for p in run.traces])
if len(run.traces) != 2:
    t.done()
reps = [t.report(p) for p in run.traces]
parent = [r for r in reps if r["process"]["pid"] in [o["process"]["ppid"] for o in reps]]
child = [r for r in reps if r["process"]["ppid"] in [o["process"]["pid"] for o in reps]]
if not t.check(len(parent) == 1 and len(child) == 1,
               "parent/child by pid/ppid: pids %s" % [(r["process"]["pid"], r["process"]["ppid"]) for r in reps]):
    t.done()
p, c = parent[0], child[0]
t.eq("exited 0", p["process"]["exit"], "parent process.exit")
t.eq("exited 0", c["process"]["exit"], "child process.exit")
t.eq(2, p["summary"]["leaked_blocks"], "parent summary.leaked_blocks")
t.eq(4444, p["summary"]["leaked_bytes"], "parent summary.leaked_bytes")
t.expect_leak(p, "leak_before_fork", "@leak:parent_before", blocks=1, bytes=1111, caller="main")
t.expect_leak(p, "leak_after_wait", "@leak:parent_after", blocks=1, bytes=3333, caller="main")
t.expect_no_leak(p, "leak_in_child", why="the child's leak is in the child's trace")
t.eq(1, c["summary"]["leaked_blocks"], "child summary.leaked_blocks")
t.eq(2222, c["summary"]["leaked_bytes"], "child summary.leaked_bytes")
t.eq(2, c["summary"]["allocations"], "child summary.allocations (2222 and 50 after fork)")
t.eq(1, c["summary"]["frees"], "child summary.frees")
t.expect_leak(c, "leak_in_child", "@leak:child", blocks=1, bytes=2222, caller="main")
t.expect_no_leak(c, "leak_before_fork", why="allocated by the parent before the fork")
t.done()
