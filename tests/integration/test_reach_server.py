#!/usr/bin/env python3
"""t_reach server (issue 7): a scan on demand in a process that never exits.

--case signal:   PERFSHIM_SCAN_SIGNAL=SIGUSR2; the test sends SIGUSR2 (the
                 target must not see it: its default action would kill it),
                 polls `perfshim report` on the live trace until "scans" has
                 the scan (<= 10 s), then sends SIGUSR1: the target allocates
                 server_late (432, lost) after the scan.  Once that block is
                 in the trace it is SIGKILLed: every block has the scan's
                 kind, server_late is "unknown" (no scan covered it).
--case signum:   the same with PERFSHIM_SCAN_SIGNAL=12 (SIGUSR2's number).
--case interval: PERFSHIM_SCAN_INTERVAL_S=1, no signal: at least one scan
                 with trigger "interval", then SIGKILL; no late block.
The kinds are memcheck's for `t_reach server-exit` (the same leaks, then a
normal exit), checked under valgrind when it is installed.
"""
import json
import os
import signal
import time

import pstest
import reachlib

t = pstest.Test(extra_args=["--case"])
case = t.args.case
if case not in ("signal", "signum", "interval"):
    t.fatal("unknown --case %r" % case)
rows = reachlib.TRUTH["server"]
late_rows = reachlib.TRUTH["server-late"]
names = reachlib.marker_names(t.source, rows + late_rows)
expected = reachlib.truth_table(t.source, rows)
late_line = pstest.marker_line(t.source, "@leak:server_late")

if reachlib.valgrind_path():
    rc, procs, p = reachlib.run_valgrind(t, [t.target, "server-exit"])
    t.eq(0, rc, "exit status under valgrind (stderr %r)" % p.stderr.decode(errors="replace")[-400:])
    if t.eq(1, len(procs), "valgrind XML files (one process)"):
        vg, _ = reachlib.valgrind_table(procs[0][2], t.source)
        print("valgrind (server-exit): %s" % reachlib.fmt_table(vg, names))
        reachlib.compare(t, expected, vg, "valgrind vs the truth table", names)
else:
    print("valgrind is not installed: the truth table alone (scripts/setup.sh --test installs it)")

env = {"PERFSHIM_FLUSH_MS": "100"}
if case == "signal":
    env["PERFSHIM_SCAN_SIGNAL"] = "SIGUSR2"
elif case == "signum":
    env["PERFSHIM_SCAN_SIGNAL"] = str(int(signal.SIGUSR2))
else:
    env["PERFSHIM_SCAN_INTERVAL_S"] = "1"
bg = t.start_traced([t.target, "server"], env_extra=env)


def stdout_has(word, timeout):
    """True once the target's stdout has WORD (<= TIMEOUT s, 20 ms steps)."""
    deadline = time.time() + timeout
    for _ in range(int(timeout / 0.02) + 1):
        with open(bg._out_path, "rb") as f:
            if word in f.read():
                return True
        if not bg.running() or time.time() > deadline:
            return False
        time.sleep(0.02)
    return False


def live_report():
    """`perfshim report --format json` of the live trace (cut short: one
    warning on stderr), parsed; None when there is no trace or no JSON yet."""
    traces = t.traces_in(bg.dir)
    if not traces:
        return None
    rc, out, _ = t.perfshim_run(["report", "--format", "json", traces[0]], timeout=20)
    if rc != 0:
        return None
    try:
        return json.loads(out)
    except ValueError:
        return None


def poll(cond, timeout=10):
    """The first live report for which cond(report) holds (<= TIMEOUT s,
    100 ms steps), else None."""
    deadline = time.time() + timeout
    for _ in range(int(timeout / 0.1) + 1):
        rep = live_report()
        if rep is not None and cond(rep):
            return rep
        if not bg.running() or time.time() > deadline:
            return None
        time.sleep(0.1)
    return None


if not t.check(stdout_has(b"ready", 20), "the target never wrote 'ready'"):
    t.done()
if case in ("signal", "signum"):
    os.kill(bg.pid, signal.SIGUSR2)
rep = poll(lambda r: r.get("scans"), timeout=10)
t.check(rep is not None, "no scan in the live trace within 10 s (target running: %s)" % bg.running())
t.check(bg.running(), "the target died after the scan trigger (it must never see %s)"
        % env.get("PERFSHIM_SCAN_SIGNAL", "a signal"))
if rep is None or not bg.running():
    bg.kill()
    run = bg.wait(timeout=5)
    print("target exit %r, stderr %r" % (run.rc, run.stderr.decode(errors="replace")))
    t.done()

exp = dict(expected)
if case != "interval":
    os.kill(bg.pid, signal.SIGUSR1)
    t.check(stdout_has(b"late", 10), "the target never wrote 'late' after SIGUSR1")
    seen = poll(lambda r: any((l.get("stack") or [{}])[0].get("line") == late_line
                              for l in r.get("leaks") or []), timeout=10)
    t.check(seen is not None, "server_late never showed up in the live trace within 10 s")
    exp.update(reachlib.truth_table(t.source, late_rows))
bg.kill()
run = bg.wait(timeout=10)
t.eq(-signal.SIGKILL, run.rc, "the target's fate")
traces = t.traces_in(bg.dir)
t.eq(1, len(traces), "trace files")
if not traces:
    t.done()
rep = t.report(traces[0], allow_warning=True)
t.eq("unknown", rep["process"]["exit"], "process.exit (killed, plain LD_PRELOAD)")
ps, others = reachlib.perfshim_table(rep, t.source)
print("perfshim (%s): %s" % (case, reachlib.fmt_table(ps, names)))
for l in others:
    print("  perfshim, not compared: %s %d/%d %s" % (l.get("kind"), l["bytes"], l["blocks"],
                                                    pstest.short_stack(l.get("stack") or [], 4)))
reachlib.compare(t, exp, ps, "perfshim vs the scan's truth", names)
reachlib.check_summary(t, rep, "perfshim", scanned=False)
trigger = "interval" if case == "interval" else "signal"
scans = reachlib.check_scans(t, rep, "perfshim", trigger, nscans=None if case == "interval" else 1)
for sc in scans:
    t.eq(trigger, sc.get("trigger"), "every scan's trigger")
    t.check(isinstance(sc.get("blocks"), int) and sc["blocks"] >= 10,
            "scan %r: blocks >= the 10 blocks live from the start" % sc)
times = [sc.get("time_s") for sc in scans]
t.check(times == sorted(times), "scans in time order: %s" % times)
t.done()
