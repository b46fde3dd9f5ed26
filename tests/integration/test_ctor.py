#!/usr/bin/env python3
import pstest

# t_ctor: a constructor's allocations are recorded; one leaks (777 bytes).
t = pstest.Test()
run, rep = t.run_one([t.target], rc=0)
s = rep["summary"]
t.eq(1, s["leaked_blocks"], "summary.leaked_blocks")
t.eq(777, s["leaked_bytes"], "summary.leaked_bytes")
t.eq(2, s["allocations"], "summary.allocations")
t.eq(1, s["frees"], "summary.frees")
t.expect_leak(rep, "ctor_alloc", "@leak:ctor", blocks=1, bytes=777)
t.done()
