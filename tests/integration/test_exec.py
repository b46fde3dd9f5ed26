#!/usr/bin/env python3
import os

import pstest

# t_exec: the image leaks 1234 then execs itself; stage 2 leaks 4321.  Same
# pid, two files: trace.PID and trace.PID.1.  Pre-exec report: exit "exec",
# its live blocks listed with kind "unknown".  Post-exec: exactly 4321 leaked.
t = pstest.Test()
run = t.run_traced([t.target])
t.eq(0, run.rc, "exit status")
names = [os.path.basename(p) for p in run.traces]
if not t.eq(2, len(names), "trace files (%s)" % names):
    t.done()
pre = t.report(run.traces[0])
pid = pre["process"]["pid"]
t.eq(["trace.%d" % pid, "trace.%d.1" % pid], names, "trace file names")
post = t.report(run.traces[1])
t.eq(pid, post["process"]["pid"], "post-exec pid")
t.eq("exec", pre["process"]["exit"], "pre-exec process.exit")
t.expect_leak(pre, "leak_pre_exec", "@leak:pre_exec", blocks=1, bytes=1234, kind="unknown",
              caller="main")
t.eq("exited 0", post["process"]["exit"], "post-exec process.exit")
t.eq(["stage2"], post["process"]["command"][1:], "post-exec command arguments")
t.eq(1, post["summary"]["leaked_blocks"], "post-exec summary.leaked_blocks")
t.eq(4321, post["summary"]["leaked_bytes"], "post-exec summary.leaked_bytes")
t.expect_leak(post, "leak_post_exec", "@leak:post_exec", blocks=1, bytes=4321, caller="main")
t.expect_no_leak(post, "leak_pre_exec", why="belongs to the pre-exec image")
t.done()
