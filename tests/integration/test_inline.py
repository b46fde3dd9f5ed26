#!/usr/bin/env python3
import os

import pstest

# t_inline (-O2): frame 0 is the always_inline helper (inlined: true) at the
# malloc line, frame 1 its noinline caller at the call line.
t = pstest.Test()
run, rep = t.run_one([t.target], rc=0)
t.eq(1, rep["summary"]["leaked_blocks"], "summary.leaked_blocks")
t.eq(321, rep["summary"]["leaked_bytes"], "summary.leaked_bytes")
t.eq(1, len(rep["leaks"]), "leak groups (%s)" % t.describe_leaks(rep))
if rep["leaks"]:
    st = rep["leaks"][0]["stack"]
    t.check(len(st) >= 3, "stack depth: expected >= 3, actual %d (%s)" % (len(st), pstest.short_stack(st)))
    if len(st) >= 3:
        want = [("inline_helper", "@leak:inline_helper", True),
                ("outer_noinline", "@leak:outer_call", False)]
        for i, (func, marker, inl) in enumerate(want):
            fr = st[i]
            t.eq(func, fr.get("function"), "frame %d function" % i)
            t.eq("t_inline.c", os.path.basename(fr.get("file") or ""), "frame %d file" % i)
            t.eq(pstest.marker_line(t.source, marker), fr.get("line"), "frame %d line (%s)" % (i, marker))
            t.eq(inl, fr.get("inlined"), "frame %d inlined" % i)
        t.eq("main", st[2].get("function"), "frame 2 function")
t.done()
