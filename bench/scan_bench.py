#!/usr/bin/env python3
"""perfshim reachability-scan benchmark (issue 7): the cost of the scan at
exit for a process with 1,000,000 live blocks, and its agreement with memcheck.

Run through bench/scan_bench.sh (it builds BUILD first); docs/benchmarks.md,
section "Reachability scan".  Python 3 standard library only.

    bench/scan_bench.sh [-n 5] [--blocks 1000000] [--no-valgrind] [--build DIR] [--json FILE]

The target is bench/scan_target.c (BUILD/bin/scan_target, -O2 -g): it makes
--blocks live blocks (a list, a tree, an array of pointers and its pointees,
interior-only blocks, lost blocks and lost lists, interleaved) and exits 0;
its top comment gives the kinds.  Configurations, interleaved round-robin
(the order rotates every round), N rounds, medians:

  untraced         the program alone
  perfshim scan=0  LD_PRELOAD=libperfshim.so PERFSHIM_SCAN=0: tracing
                   without the exit scan
  perfshim scan    the same with the scan (the default)
  valgrind         memcheck --leak-check=full --show-leak-kinds=all --xml=yes,
                   one run after the rounds (slow); --no-valgrind skips it

Measured per run: wall time, peak RSS (rusage of the child from wait4), the
trace's size; for "perfshim scan" also the scan's own duration and block
count (the exit entry of `perfshim report --format json`'s "scans") and the
time `perfshim report` takes on that trace.  Printed: medians [min..max],
the ratios scan / untraced and scan / scan=0 (wall, RSS), the wall time and
RSS the scan adds (scan - scan=0, and per live block), and the kinds (blocks
and bytes per kind of the blocks allocated by scan_target.c): expected (from
the target's rules), perfshim's (every round), memcheck's.  No figure is
compared with a threshold.

Exit status: 0 when every run completed and the kinds agree, 1 when some run
failed or perfshim's / memcheck's kinds differ from the expected ones
(listed under FAILURES), 2 when it cannot run (not built, bad arguments).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import cpu_idle, fmt_bytes, med, tail  # noqa: E402
from overhead import run  # noqa: E402  (wall time, peak RSS of a child, timeout)

KINDS = ("definite", "indirect", "possible", "reachable", "unknown")
VG_KIND = {"Leak_DefinitelyLost": "definite", "Leak_IndirectlyLost": "indirect",
           "Leak_PossiblyLost": "possible", "Leak_StillReachable": "reachable"}
CONFIGS = ("untraced", "perfshim scan=0", "perfshim scan")
SOURCE = "scan_target.c"


def die(msg, code=2):
    print("scan_bench: " + msg, file=sys.stderr)
    sys.exit(code)


def expected_kinds(n):
    """{kind: [bytes, blocks]} of scan_target N (its top comment's rules)."""
    nl = nt = 3 * n // 10
    na = 3 * n // 10 - 2
    npos, nlost, nll = n // 100, n // 100, n // 50
    pointees = sum(16 + 16 * (i % 7) for i in range(na))
    return {
        "reachable": [nl * 32 + nt * 48 + 8 * na + pointees + 8 * npos, nl + nt + 1 + na + 1],
        "possible": [npos * 64, npos],
        "definite": [nlost * 80 + nll * 64, nlost + nll],
        "indirect": [3 * nll * 32, 3 * nll],
    }


def perfshim_kinds(rep):
    """{kind: [bytes, blocks]} of the leak groups whose first frame is in
    scan_target.c; and the same of the other groups (glibc's own)."""
    ours, other = {}, {}
    for l in rep.get("leaks") or []:
        st = l.get("stack") or []
        f = os.path.basename((st[0].get("file") or "") if st else "")
        d = ours if f == SOURCE else other
        cur = d.setdefault(l.get("kind"), [0, 0])
        cur[0] += l["bytes"]
        cur[1] += l["blocks"]
    return ours, other


def valgrind_kinds(path):
    """The same from memcheck's XML (a definite record's <leakedbytes>
    includes its indirect bytes: the direct ones are in its text)."""
    ours, other = {}, {}
    for err in ET.parse(path).getroot().iter("error"):
        kind = VG_KIND.get(err.findtext("kind") or "")
        if kind is None:
            continue
        xw = err.find("xwhat")
        nbytes = int(xw.findtext("leakedbytes"))
        m = re.search(r"\(([\d,]+) direct, ([\d,]+) indirect\)", xw.findtext("text") or "")
        if m:
            nbytes = int(m.group(1).replace(",", ""))
        frames = [fr for fr in err.iter("frame")
                  if "vgpreload_" not in os.path.basename(fr.findtext("obj") or "")]
        f = os.path.basename(frames[0].findtext("file") or "") if frames else ""
        d = ours if f == SOURCE else other
        cur = d.setdefault(kind, [0, 0])
        cur[0] += nbytes
        cur[1] += int(xw.findtext("leakedblocks"))
    return ours, other


def fmt_kinds(d):
    if d is None:
        return "n/a"
    return "  ".join("%s %d/%s" % (k, d[k][1], fmt_bytes(d[k][0])) for k in KINDS if k in d) or "(none)"


def fmt_s(xs):
    return benchlib.fmt_range(xs, "%.3f")


def fmt_mib(xs):
    return benchlib.fmt_range([x / 1024.0 if x is not None else None for x in xs], "%.1f")


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "n/a"


def one_run(cfg, target, nblocks, shim, tool, base_env, d, timeout, failures, label, last):
    env = dict(base_env)
    if cfg != "untraced":
        env.update({"LD_PRELOAD": shim, "PERFSHIM_OUTPUT": os.path.join(d, "trace.%p")})
        if cfg == "perfshim scan=0":
            env["PERFSHIM_SCAN"] = "0"
    r = run([target, str(nblocks)], env, d, timeout)
    rec = {"wall_s": r.wall, "maxrss_kb": r.maxrss_kb, "cpu_s": r.cpu}
    if not r.ok():
        failures.append("%s: %s\n%s" % (label, r.describe(), tail(r.stderr)))
        return rec
    if cfg == "untraced":
        return rec
    traces = sorted(n for n in os.listdir(d) if n.startswith("trace."))
    if len(traces) != 1:
        failures.append("%s: expected one trace, found %s" % (label, traces))
        return rec
    trace = os.path.join(d, traces[0])
    rec["trace_bytes"] = os.path.getsize(trace)
    if cfg == "perfshim scan=0" and not last:
        return rec
    t0 = time.perf_counter()
    p = subprocess.run([tool, "report", "--format", "json", trace], capture_output=True, timeout=timeout)
    rec["report_s"] = time.perf_counter() - t0
    if p.returncode != 0:
        failures.append("%s: perfshim report exit %d\n%s" % (label, p.returncode, tail(p.stderr)))
        return rec
    try:
        rep = json.loads(p.stdout)
    except ValueError as e:
        failures.append("%s: perfshim report: not JSON (%s)" % (label, e))
        return rec
    rec["kinds"], rec["kinds_other"] = perfshim_kinds(rep)
    scans = rep.get("scans")
    rec["scans"] = scans
    if cfg == "perfshim scan":
        ex = [s for s in scans or [] if s.get("trigger") == "exit"]
        if not ex:
            failures.append("%s: no exit scan in the report (scans: %r)" % (label, scans))
        else:
            rec["scan_ms"] = ex[-1].get("duration_ms")
            rec["scan_blocks"] = ex[-1].get("blocks")
    elif scans:
        failures.append("%s: PERFSHIM_SCAN=0, yet the report has scans: %r" % (label, scans))
    return rec


def run_valgrind(target, nblocks, base_env, d, timeout, failures):
    xml = os.path.join(d, "memcheck.xml")
    cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--xml=yes",
           "--xml-file=" + xml, target, str(nblocks)]
    r = run(cmd, base_env, d, timeout)
    rec = {"wall_s": r.wall, "maxrss_kb": r.maxrss_kb, "cpu_s": r.cpu}
    if not r.ok():
        failures.append("valgrind: %s\n%s" % (r.describe(), tail(r.stderr)))
        return rec
    try:
        rec["kinds"], rec["kinds_other"] = valgrind_kinds(xml)
    except (OSError, ET.ParseError, ValueError, TypeError) as e:
        failures.append("valgrind: cannot read %s: %s" % (xml, e))
    return rec


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `| head` ends us quietly
    ap = argparse.ArgumentParser(prog="bench/scan_bench.sh",
                                 description="cost of perfshim's reachability scan at exit "
                                             "(1M live blocks) and its agreement with memcheck")
    ap.add_argument("-n", "--runs", type=int, default=5, help="rounds (median), default 5")
    ap.add_argument("--blocks", type=int, default=1000000,
                    help="live blocks at exit (>= 1000, a multiple of 100; default 1000000)")
    ap.add_argument("--build", "--build-dir", dest="build_dir", default=os.path.join(ROOT, "build"),
                    help="perfshim build tree (default: <repo>/build)")
    ap.add_argument("--no-build", action="store_true", help="(scan_bench.sh) do not build BUILD first")
    ap.add_argument("--no-valgrind", action="store_true", help="skip the memcheck run")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run before it is killed (600)")
    ap.add_argument("--json", metavar="FILE", help="also write all figures as JSON")
    args = ap.parse_args()
    if args.runs < 1 or args.blocks < 1000 or args.blocks % 100 or args.timeout <= 0:
        die("-n >= 1, --blocks >= 1000 and a multiple of 100, --timeout > 0")
    build = os.path.abspath(args.build_dir)
    shim, tool, target = benchlib.built(build, "scan_bench", "scan_target")
    vg = None if args.no_valgrind else shutil.which("valgrind")
    if not args.no_valgrind and not vg:
        print("scan_bench: valgrind is not installed (scripts/setup.sh --bench): no memcheck run",
              file=sys.stderr)

    tmp = tempfile.mkdtemp(prefix="perfshim-scanbench-")
    try:
        return bench(args, shim, tool, target, vg, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(args, shim, tool, target, vg, tmp):
    # Snapshot: the build tree may be rebuilt while we run.
    snap = os.path.join(tmp, "snapshot")
    os.makedirs(snap)
    for p in (shim, tool, target):
        shutil.copy2(p, snap)
    shown = "%s, %s, %s (copied at start)" % (shim, tool, target)
    shim, tool, target = (os.path.join(snap, os.path.basename(p)) for p in (shim, tool, target))
    base_env = benchlib.clean_env()
    expected = expected_kinds(args.blocks)

    started = datetime.datetime.now()
    print("perfshim reachability-scan benchmark  %s  host %s  %d CPUs  %s"
          % (started.strftime("%Y-%m-%d %H:%M"), platform.node(), os.cpu_count() or 0, platform.platform()))
    print("target: scan_target %d (bench/scan_target.c, -O2 -g): %d live blocks at exit"
          % (args.blocks, sum(v[1] for v in expected.values())))
    print("%d rounds, interleaved round-robin (order rotated each round); medians [min..max]" % args.runs)
    print("perfshim: %s" % shown)
    idle = cpu_idle()
    print("CPU idle just before the first run (other load): %s" % idle)
    print(flush=True)

    failures = []
    data = {c: [] for c in CONFIGS}
    # warm-up (page cache), not counted
    d = os.path.join(tmp, "warmup")
    os.makedirs(d)
    r = run([target, str(args.blocks)], base_env, d, args.timeout)
    if not r.ok():
        die("the untraced warm-up run failed: %s\n%s" % (r.describe(), tail(r.stderr)))
    t0 = time.monotonic()
    for rnd in range(args.runs):
        k = rnd % len(CONFIGS)
        order = CONFIGS[k:] + CONFIGS[:k]
        for c in order:
            d = os.path.join(tmp, "r%d-%s" % (rnd, c.replace(" ", "-").replace("=", "")))
            os.makedirs(d)
            rec = one_run(c, target, args.blocks, shim, tool, base_env, d, args.timeout, failures,
                          "%s round %d" % (c, rnd + 1), rnd == args.runs - 1)
            rec["round"] = rnd + 1
            data[c].append(rec)
            shutil.rmtree(d, ignore_errors=True)
        print("round %d/%d done (%.0f s elapsed)" % (rnd + 1, args.runs, time.monotonic() - t0), flush=True)
    vgrec = None
    if vg:
        d = os.path.join(tmp, "valgrind")
        os.makedirs(d)
        print("valgrind (one run) ...", flush=True)
        vgrec = run_valgrind(target, args.blocks, base_env, d, args.timeout, failures)
    print()

    def col(c, key):
        return [r.get(key) for r in data[c]]

    w = {c: med(col(c, "wall_s")) for c in CONFIGS}
    m = {c: med(col(c, "maxrss_kb")) for c in CONFIGS}
    print("%-17s %-28s %-28s %s" % ("configuration", "wall s", "max RSS MiB", "trace"))
    for c in CONFIGS:
        tb = med(col(c, "trace_bytes"))
        print("%-17s %-28s %-28s %s" % (c, fmt_s(col(c, "wall_s")), fmt_mib(col(c, "maxrss_kb")),
                                         fmt_bytes(tb) if tb is not None else "-"))
    if vgrec:
        print("%-17s %-28s %-28s %s" % ("valgrind (1 run)", fmt_s([vgrec.get("wall_s")]),
                                         fmt_mib([vgrec.get("maxrss_kb")]), "-"))
    scan_ms = col("perfshim scan", "scan_ms")
    print()
    nscanned = med(col("perfshim scan", "scan_blocks"))
    print("scan duration (report scans[exit].duration_ms): %s ms; blocks scanned: %s"
          % (benchlib.fmt_range(scan_ms, "%.1f"), "%d" % nscanned if nscanned is not None else "n/a"))
    print("perfshim report on the scanned trace: %s s" % fmt_s(col("perfshim scan", "report_s")))
    ws, w0, wu = w["perfshim scan"], w["perfshim scan=0"], w["untraced"]
    ms, m0, mu = m["perfshim scan"], m["perfshim scan=0"], m["untraced"]
    print("wall: scan / untraced %s, scan / scan=0 %s, scan=0 / untraced %s"
          % (ratio(ws, wu), ratio(ws, w0), ratio(w0, wu)))
    print("RSS:  scan / untraced %s, scan / scan=0 %s, scan=0 / untraced %s"
          % (ratio(ms, mu), ratio(ms, m0), ratio(m0, mu)))
    nb = sum(v[1] for v in expected.values())
    if ws is not None and w0 is not None:
        print("added by the scan (medians, scan - scan=0): wall %.3f s (%.0f ns per live block), "
              "RSS %s (%.1f bytes per live block)"
              % (ws - w0, (ws - w0) * 1e9 / nb, fmt_bytes((ms - m0) * 1024) if ms and m0 else "n/a",
                 (ms - m0) * 1024.0 / nb if ms and m0 else float("nan")))
    if vgrec and vgrec.get("wall_s") and wu:
        print("valgrind / untraced: wall %s, RSS %s; valgrind / perfshim scan: wall %s"
              % (ratio(vgrec["wall_s"], wu), ratio(vgrec.get("maxrss_kb"), mu), ratio(vgrec["wall_s"], ws)))

    print()
    print("kinds of scan_target.c's blocks (blocks/bytes):")
    print("  expected         %s" % fmt_kinds(expected))
    ps_runs = [r.get("kinds") for r in data["perfshim scan"] if r.get("kinds") is not None]
    distinct = []
    for kd in ps_runs:
        if kd not in distinct:
            distinct.append(kd)
    for kd in distinct:
        print("  perfshim scan    %s  (%d of %d rounds)%s"
              % (fmt_kinds(kd), ps_runs.count(kd), len(data["perfshim scan"]),
                 "" if kd == expected else "  DIFFERS"))
        if kd != expected:
            failures.append("perfshim's kinds differ from the expected ones: %s" % fmt_kinds(kd))
    noscan = [r.get("kinds") for r in data["perfshim scan=0"] if r.get("kinds") is not None]
    if noscan:
        print("  perfshim scan=0  %s  (last round)" % fmt_kinds(noscan[-1]))
    if vgrec and vgrec.get("kinds") is not None:
        same = vgrec["kinds"] == expected
        print("  valgrind         %s%s" % (fmt_kinds(vgrec["kinds"]), "" if same else "  DIFFERS"))
        if not same:
            failures.append("memcheck's kinds differ from the expected ones: %s" % fmt_kinds(vgrec["kinds"]))
        if distinct:
            print("  perfshim and memcheck agree: %s"
                  % ("yes" if all(kd == vgrec["kinds"] for kd in distinct) else "NO"))
        print("  not compared (glibc's own): memcheck %s; perfshim %s"
              % (fmt_kinds(vgrec.get("kinds_other")),
                 fmt_kinds((data["perfshim scan"][-1] or {}).get("kinds_other"))))

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": {"started": started.isoformat(timespec="seconds"), "host": platform.node(),
                                "cpus": os.cpu_count(), "platform": platform.platform(),
                                "blocks": args.blocks, "runs": args.runs, "perfshim": shown,
                                "cpu_idle_before": idle},
                       "expected_kinds": expected, "runs": data, "valgrind": vgrec,
                       "failures": failures}, f, indent=1, default=str)
        print("figures written to %s" % args.json)
    if failures:
        print("\nFAILURES")
        for f in failures:
            print("- " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
