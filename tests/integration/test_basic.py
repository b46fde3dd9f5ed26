#!/usr/bin/env python3
import os
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pstest  # noqa: E402

# t_basic: 3 x 100 bytes from leak_hundred, 1 x 4096 from leak_page, no
# false leaks among 2000 malloc/free pairs of various sizes.
t = pstest.Test()
run, rep = t.run_one([t.target], rc=0)
s = rep["summary"]
t.eq(1, rep["trace_format_version"], "trace_format_version")
t.eq("exited 0", rep["process"]["exit"], "process.exit")
t.check(os.path.basename(rep["process"]["command"][0]) == "t_basic",
        "process.command: expected [.../t_basic], actual %r" % rep["process"]["command"])
t.eq(4, s["leaked_blocks"], "summary.leaked_blocks")
t.eq(4396, s["leaked_bytes"], "summary.leaked_bytes")
t.eq(2004, s["allocations"], "summary.allocations")
t.eq(2000, s["frees"], "summary.frees")
t.eq(0, s["reallocations"], "summary.reallocations")
t.eq(4949396, s["total_allocated_bytes"], "summary.total_allocated_bytes (valgrind's figure)")
t.check(s["peak_heap_bytes"] >= 4396, "summary.peak_heap_bytes: expected >= 4396, actual %r"
        % s["peak_heap_bytes"])
t.eq(2, len(rep["leaks"]), "leak groups (%s)" % t.describe_leaks(rep))
t.expect_leak(rep, "leak_page", "@leak:page", blocks=1, bytes=4096, caller="main")
t.expect_leak(rep, "leak_hundred", "@leak:hundred", blocks=3, bytes=300, caller="main")
t.expect_no_leak(rep, "churn", why="every churn block is freed")
if rep["leaks"]:
    t.check(pstest.func_is(rep["leaks"][0]["stack"][0], "leak_page"),
            "largest leak first: expected leak_page, actual %s"
            % pstest.short_stack(rep["leaks"][0]["stack"], 1))
t.done()
