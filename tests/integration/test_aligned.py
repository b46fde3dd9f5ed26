#!/usr/bin/env python3
import pstest

# t_aligned: requested sizes are what the shim records; pvalloc's block is
# freed (its request is rounded by glibc itself), so never asserted.
t = pstest.Test()
run, rep = t.run_one([t.target], rc=0)
s = rep["summary"]
t.eq(6, s["leaked_blocks"], "summary.leaked_blocks")
t.eq(996, s["leaked_bytes"], "summary.leaked_bytes")
t.eq(13, s["allocations"], "summary.allocations (6 leaked + 7 freed)")
t.eq(7, s["frees"], "summary.frees")
t.eq(1, s["reallocations"], "summary.reallocations (reallocarray(q, 5, 8))")
for func, marker, size in (("leak_posix_memalign", "@leak:posix_memalign", 100),
                           ("leak_aligned_alloc", "@leak:aligned_alloc", 256),
                           ("leak_memalign", "@leak:memalign", 77),
                           ("leak_valloc", "@leak:valloc", 200),
                           ("leak_calloc", "@leak:calloc", 300),
                           ("leak_reallocarray", "@leak:reallocarray", 63)):
    t.expect_leak(rep, func, marker, blocks=1, bytes=size, caller="main")
t.expect_no_leak(rep, "freed_ones", why="all freed")
t.done()
