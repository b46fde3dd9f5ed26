#!/usr/bin/env python3
import os

import pstest

# t_basic: 3 x 100 bytes from leak_hundred, 1 x 4096 from leak_page, no
# false leaks among 2000 malloc/free pairs of various sizes.
t = pstest.Test()
run, rep = t.run_one([t.target], rc=0)
s = rep["summary"]
t.eq(3, rep["trace_format_version"], "trace_format_version")
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

# Folded stacks: one line per distinct stack, outermost first, weight in bytes.
def folded(kind):
    rc, stdout, stderr = t.perfshim_run(["flame", "--type", kind, run.traces[0]])
    t.eq(0, rc, "flame --type %s exit status (stderr %r)" % (kind, stderr))
    out = {}
    for ln in stdout.decode().splitlines():
        stack, _, w = ln.rpartition(" ")
        t.check(stack and w.isdigit(), "folded line %r" % ln)
        t.check(stack not in out, "stack folded twice: %r" % stack)
        out[stack] = int(w) if w.isdigit() else 0
    return out

leak = folded("leak")
t.eq(2, len(leak), "flame --type leak lines (%r)" % leak)
for func, weight in (("leak_hundred", 300), ("leak_page", 4096)):
    hits = [w for st, w in leak.items() if st.endswith(";main;" + func)]
    t.eq([weight], hits, "flame --type leak weight of ...;main;%s" % func)
alloc = folded("alloc")
t.eq(s["total_allocated_bytes"], sum(alloc.values()), "flame --type alloc total weight")
t.check(any(st.endswith(";main;churn") for st in alloc), "flame --type alloc has ...;main;churn")
t.done()
