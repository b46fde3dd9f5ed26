#!/usr/bin/env python3
import os

import pstest

# t_jemalloc: malloc/calloc/free reaching jemalloc and jemalloc's *allocx
# API are all seen; dallocx/sdallocx frees are not leaks.  The shim scans
# for reachability under glibc's malloc only (docs/reachability.md): here
# the kinds stay "unknown" and there is no scan.
t = pstest.Test()
if not t.target or not os.path.exists(t.target):
    t.skip("t_jemalloc was not built (no libjemalloc-dev)")
run, rep = t.run_one([t.target], rc=0)
s = rep["summary"]
t.eq(4, s["leaked_blocks"], "summary.leaked_blocks")
t.eq(1350, s["leaked_bytes"], "summary.leaked_bytes")
t.eq(8, s["allocations"], "summary.allocations (malloc x2, mallocx x5, calloc)")
t.eq(4, s["frees"], "summary.frees (free, dallocx x2, sdallocx)")
t.check(s["reallocations"] >= 1, "summary.reallocations: expected >= 1 (rallocx), actual %d"
        % s["reallocations"])
t.expect_leak(rep, "leak_malloc", "@leak:je_malloc", blocks=1, bytes=100, caller="main", kind="unknown")
t.expect_leak(rep, "leak_mallocx", "@leak:mallocx", blocks=1, bytes=300, caller="main", kind="unknown")
t.expect_leak(rep, "leak_rallocx", "@leak:rallocx", blocks=1, bytes=800, caller="main", kind="unknown")
t.expect_leak(rep, "leak_calloc", "@leak:je_calloc", blocks=1, bytes=150, caller="main", kind="unknown")
t.eq([], rep.get("scans"), "scans (not glibc's malloc)")
t.expect_no_leak(rep, "freed_ones", why="freed with free/dallocx/sdallocx")
t.done()
