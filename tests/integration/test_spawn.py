#!/usr/bin/env python3
import pstest

# t_spawn: posix_spawn and vfork+execve children.  The shim must not touch
# anything in them before exec; each exec'd image writes its own trace.
t = pstest.Test()
run = t.run_traced([t.target], template="trace.%p")
t.eq(0, run.rc, "exit status (stdout %r, stderr %r)" % (run.stdout, run.stderr))
t.eq(b"spawned 2\n", run.stdout, "stdout")
t.eq(b"", run.stderr, "stderr")
t.eq(3, len(run.traces), "trace files: the parent and two exec'd children (%s)" % run.traces)
reps = [t.report(p) for p in run.traces]
parent = [r for r in reps if r["process"]["command"][1:] == []]
children = [r for r in reps if r["process"]["command"][1:] == ["child"]]
t.eq(1, len(parent), "traces of the parent")
t.eq(2, len(children), "traces of the children")
for r in parent:
    t.eq("exited 0", r["process"]["exit"], "parent process.exit")
    t.expect_leak(r, "main", "@leak:parent", blocks=1, bytes=111)
    t.eq(111, r["summary"]["leaked_bytes"], "parent leaked_bytes")
for r in children:
    t.eq("exited 5", r["process"]["exit"], "child process.exit")
    t.expect_leak(r, "main", "@leak:child", blocks=1, bytes=222)
    t.eq(222, r["summary"]["leaked_bytes"], "child leaked_bytes")
    if parent:
        t.eq(parent[0]["process"]["pid"], r["process"]["ppid"], "child's ppid is the parent's pid")
t.done()
