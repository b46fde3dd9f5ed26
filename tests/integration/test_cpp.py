#!/usr/bin/env python3
import pstest

# t_cpp: operator new is frame 0 and make_widget the first user frame;
# std::vector growth; an exception thrown 30 frames deep is caught; glibc's
# backtrace() sees > 5 frames; stdout identical with and without the shim.
t = pstest.Test()
plain = t.run_plain([t.target])
run = t.run_traced([t.target])
t.eq(plain.rc, run.rc, "exit status, traced vs untraced")
t.eq(0, run.rc, "exit status (stderr %r)" % run.stderr[-300:])
t.eq(plain.stdout, run.stdout, "stdout, traced vs untraced")
t.check(b"caught: deep failure at depth 30\n" in run.stdout,
        "stdout: expected the exception to be caught, actual %r" % run.stdout)
t.check(b"backtrace frames > 5: yes\n" in run.stdout,
        "stdout: expected backtrace() > 5 frames, actual %r" % run.stdout)
t.eq(1, len(run.traces), "trace files")
if not run.traces:
    t.done()
rep = t.report(run.traces[0])
w = t.expect_leak(rep, "make_widget", "@leak:new", blocks=1, bytes=48, caller="main")
if w:
    f0 = w["stack"][0].get("function") or ""
    t.check(f0.startswith("operator new"), "make_widget leak: frame 0: expected operator new, actual %r" % f0)
line_obj = pstest.marker_line(t.source, "@leak:vector_obj")
line_push = pstest.marker_line(t.source, "@leak:vector_push")
obj = t.leaks_at(rep, "fill_vector", t.source, line_obj)
push = t.leaks_at(rep, "fill_vector", t.source, line_push)
t.eq([(1, 24)], [(l["blocks"], l["bytes"]) for l in obj],
     "vector object leak at t_cpp.cpp:%d (leaks: %s)" % (line_obj, t.describe_leaks(rep)))
t.eq([(1, 4096)], [(l["blocks"], l["bytes"]) for l in push],
     "vector buffer leak at t_cpp.cpp:%d (leaks: %s)" % (line_push, t.describe_leaks(rep)))
t.eq(3, len(t.leaks_in_file(rep, t.source)), "leak groups allocated in t_cpp.cpp")
t.expect_no_leak(rep, "thrower", why="the exception object is freed after the catch")
t.done()
