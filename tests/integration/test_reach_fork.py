#!/usr/bin/env python3
"""t_reach fork (issue 7): parent and child leak differently, each process
is scanned at its own exit and writes its own trace.

parent: fork_pre reachable (a global), fork_parent_lost definite.
child:  fork_child_lost definite, fork_child_kept reachable; it clears the
        global that kept fork_pre, so valgrind's child also lists fork_pre
        as definite, while perfshim's child trace (what the child allocated)
        has no fork_pre group at all.
"""
import os

import pstest
import reachlib

t = pstest.Test()
rows_p, rows_c = reachlib.TRUTH["fork-parent"], reachlib.TRUTH["fork-child"]
rows_inh = reachlib.TRUTH["fork-child-inherited"]
names = reachlib.marker_names(t.source, rows_p + rows_c)
exp_p = reachlib.truth_table(t.source, rows_p)
exp_c = reachlib.truth_table(t.source, rows_c)
exp_c_vg = reachlib.truth_table(t.source, rows_c + rows_inh)
line_pre = pstest.marker_line(t.source, "@leak:fork_pre")


def parent_child(items, pid_of, ppid_of, what):
    """(parent, child) among two processes, by pid/ppid; None when unclear."""
    par = [x for x in items if pid_of(x) in [ppid_of(o) for o in items]]
    chi = [x for x in items if ppid_of(x) in [pid_of(o) for o in items]]
    if not t.check(len(items) == 2 and len(par) == 1 and len(chi) == 1,
                   "%s: parent/child by pid/ppid: %s" % (what, [(pid_of(x), ppid_of(x)) for x in items])):
        return None
    return par[0], chi[0]


vg_p = vg_c = None
if reachlib.valgrind_path():
    rc, procs, p = reachlib.run_valgrind(t, [t.target, "fork"])
    t.eq(0, rc, "exit status under valgrind (stderr %r)" % p.stderr.decode(errors="replace")[-400:])
    pc = parent_child(procs, lambda x: x[0], lambda x: x[1], "valgrind XML files")
    if pc:
        vg_p, _ = reachlib.valgrind_table(pc[0][2], t.source)
        vg_c, _ = reachlib.valgrind_table(pc[1][2], t.source)
        print("valgrind parent: %s" % reachlib.fmt_table(vg_p, names))
        print("valgrind child:  %s" % reachlib.fmt_table(vg_c, names))
        reachlib.compare(t, exp_p, vg_p, "valgrind parent vs the truth table", names)
        reachlib.compare(t, exp_c_vg, vg_c, "valgrind child vs the truth table", names)
else:
    print("valgrind is not installed: the truth table alone (scripts/setup.sh --test installs it)")

run = t.run_traced([t.target, "fork"])
t.eq(0, run.rc, "exit status (stderr %r)" % run.stderr.decode(errors="replace"))
t.eq(2, len(run.traces), "trace files (%s)" % [os.path.basename(x) for x in run.traces])
reps = [t.report(x) for x in run.traces]
pc = parent_child(reps, lambda r: r["process"]["pid"], lambda r: r["process"]["ppid"], "traces")
if not pc:
    t.done()
for who, rep, exp, vg in (("parent", pc[0], exp_p, vg_p), ("child", pc[1], exp_c, vg_c)):
    t.eq("exited 0", rep["process"]["exit"], "%s process.exit" % who)
    ps, _ = reachlib.perfshim_table(rep, t.source)
    print("perfshim %s: %s" % (who, reachlib.fmt_table(ps, names)))
    reachlib.compare(t, exp, ps, "perfshim %s vs the truth table" % who, names)
    if vg is not None:
        # valgrind's child has the inherited block too: not in the child's trace
        vg_own = {k: v for k, v in vg.items() if who == "parent" or k[1] != line_pre}
        if vg_own != exp:
            reachlib.compare(t, vg_own, ps, "perfshim %s vs valgrind" % who, names)
    reachlib.check_summary(t, rep, "perfshim " + who)
    scans = reachlib.check_scans(t, rep, "perfshim " + who, "exit", nscans=1)
    live = sum(l["blocks"] for l in rep["leaks"])
    if scans and who == "parent":
        t.eq(live, scans[-1].get("blocks"), "parent: the exit scan's blocks vs the blocks live at exit")
    elif scans:   # the child's scan may count the blocks it inherited, its trace does not
        t.check(isinstance(scans[-1].get("blocks"), int) and scans[-1]["blocks"] >= live,
                "child: the exit scan's blocks (%r) >= the blocks live at exit in its trace (%d)"
                % (scans[-1].get("blocks"), live))
t.check(not [k for k in reachlib.perfshim_table(pc[1], t.source)[0] if k[1] == line_pre],
        "child trace: no fork_pre group (allocated by the parent before the fork)")
t.done()
