#!/usr/bin/env python3
import pstest

# t_realloc: glibc counting: realloc(NULL,n) = allocation, realloc(p,0) =
# free, other reallocs = reallocations; the block carries its last
# realloc's stack and size.
t = pstest.Test()
run, rep = t.run_one([t.target], rc=0)
s = rep["summary"]
t.eq(3, s["allocations"], "summary.allocations (realloc(NULL,64), malloc(1000), malloc(10))")
t.eq(2, s["frees"], "summary.frees (realloc(a,0), free(c))")
t.eq(5, s["reallocations"], "summary.reallocations (shrink, move, move back, grow in place, last)")
t.eq(1, s["leaked_blocks"], "summary.leaked_blocks")
t.eq(3000, s["leaked_bytes"], "summary.leaked_bytes")
t.eq(1, len(rep["leaks"]), "leak groups (%s)" % t.describe_leaks(rep))
t.expect_leak(rep, "last_realloc", "@leak:last_realloc", blocks=1, bytes=3000, caller="main")
t.done()
