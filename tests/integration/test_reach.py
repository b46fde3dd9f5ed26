#!/usr/bin/env python3
"""t_reach --mode M (issue 7): the kind of every block live at exit.

The truth table (reachlib.TRUTH[M], the top comment of t_reach.c) is
checked against memcheck's answer when valgrind is installed, and
perfshim's exit scan (PERFSHIM_SCAN on by default) must give exactly the
same kinds, bytes and blocks per @leak line.  Blocks allocated by glibc
itself (thread DTVs) are printed, not compared.
"""
import os

import pstest
import reachlib

t = pstest.Test(extra_args=["--mode"])
mode = t.args.mode
if mode not in reachlib.TRUTH:
    t.fatal("unknown --mode %r" % mode)
rows = reachlib.TRUTH[mode]
names = reachlib.marker_names(t.source, rows)
expected = reachlib.truth_table(t.source, rows)
print("truth (%s): %s" % (mode, reachlib.fmt_table(expected, names)))

# memcheck, when it is there: it must agree with the table.
vg = None
if reachlib.valgrind_path():
    rc, procs, p = reachlib.run_valgrind(t, [t.target, mode])
    t.eq(0, rc, "exit status under valgrind (stderr %r)" % p.stderr.decode(errors="replace")[-400:])
    if t.eq(1, len(procs), "valgrind XML files (one process)"):
        vg, others = reachlib.valgrind_table(procs[0][2], t.source)
        print("valgrind (%s): %s" % (mode, reachlib.fmt_table(vg, names)))
        for r in others:
            print("  valgrind, not compared (glibc's own): %s" % reachlib.describe_vg(r))
        reachlib.compare(t, expected, vg, "valgrind vs the truth table", names)
else:
    print("valgrind is not installed: the truth table alone (scripts/setup.sh --test installs it)")

# perfshim: exit scan on by default.
run, rep = t.run_one([t.target, mode], rc=0)
ps, others = reachlib.perfshim_table(rep, t.source)
print("perfshim (%s): %s" % (mode, reachlib.fmt_table(ps, names)))
for l in others:
    print("  perfshim, not compared (glibc's own): %s %d/%d %s"
          % (l.get("kind"), l["bytes"], l["blocks"], pstest.short_stack(l.get("stack") or [], 4)))
reachlib.compare(t, expected, ps, "perfshim vs the truth table", names)
if vg is not None and vg != expected:
    reachlib.compare(t, vg, ps, "perfshim vs valgrind", names)
reachlib.check_summary(t, rep, "perfshim")
scans = reachlib.check_scans(t, rep, "perfshim", "exit", nscans=1)
if scans:
    t.eq(sum(l["blocks"] for l in rep["leaks"]), scans[-1].get("blocks"),
         "the exit scan's blocks vs the blocks live at exit")

# PERFSHIM_SCAN=0: no scan, every block "unknown", the same bytes per line.
if mode == "all":
    run0, rep0 = t.run_one([t.target, mode], rc=0, env_extra={"PERFSHIM_SCAN": "0"})
    unk = {}
    for (kind, line), (b, n) in expected.items():
        cur = unk.setdefault(("unknown", line), [0, 0])
        cur[0] += b
        cur[1] += n
    ps0, _ = reachlib.perfshim_table(rep0, t.source)
    reachlib.compare(t, unk, ps0, "PERFSHIM_SCAN=0 vs every block unknown", names)
    t.eq([], rep0.get("scans"), "PERFSHIM_SCAN=0: scans")
    t.eq(0, rep0["summary"].get("reachable_blocks"), "PERFSHIM_SCAN=0: summary.reachable_blocks")
    t.eq(sum(l["bytes"] for l in rep0["leaks"]), rep0["summary"].get("leaked_bytes"),
         "PERFSHIM_SCAN=0: summary.leaked_bytes counts every block")
    reachlib.check_summary(t, rep0, "PERFSHIM_SCAN=0", scanned=False)
t.done()
