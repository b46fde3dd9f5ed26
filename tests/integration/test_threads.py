#!/usr/bin/env python3
import pstest

# t_threads: 8 threads x 5 blocks of 1000+16*i bytes from one call path
# (one group: 40 blocks, 42240 bytes); 160000 churn blocks freed across
# threads; no false leak whose allocating frame is in t_threads.c.
t = pstest.Test()
run, rep = t.run_one([t.target], timeout=50)
s = rep["summary"]
t.expect_leak(rep, "thread_leak", "@leak:thread", blocks=40, bytes=42240, caller="thread_main")
mine = t.leaks_in_file(rep, t.source)
t.eq(1, len(mine), "leak groups allocated in t_threads.c (%s)"
     % "; ".join(pstest.short_stack(l["stack"], 3) for l in mine))
t.expect_no_leak(rep, "thread_main", why="churn blocks are all freed")
t.check(s["allocations"] >= 160040, "summary.allocations: expected >= 160040, actual %d" % s["allocations"])
t.check(s["frees"] >= 160000, "summary.frees: expected >= 160000, actual %d" % s["frees"])
t.eq(s["allocations"] - s["frees"], s["leaked_blocks"] + s["reachable_blocks"],
     "live blocks at exit (allocations - frees) vs leaked + reachable blocks")
others = [l for l in rep["leaks"] if l not in mine]
t.check(sum(l["blocks"] for l in others) <= 32,
        "glibc's own per-thread blocks: expected <= 32 blocks, actual %s" % t.describe_leaks(rep))
t.done()
