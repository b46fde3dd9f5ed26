#!/usr/bin/env python3
"""perfshim overhead benchmark: perfshim vs heaptrack vs untraced.

Run through bench/overhead.sh; see docs/benchmarks.md for what is measured and
how to read the output.  Python 3 standard library only.

Exit status: 0 when every run completed (PASS/MISS are informational, never a
failure), 1 when some run failed (target crashed or exited non-zero, no trace
written, analyzer failed: the errors are printed), 2 when the benchmark cannot
run at all (perfshim not built, bad arguments).
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import cpu_idle, fmt_bytes, med, tail, verdict  # noqa: E402,F401


def clean_env():
    return benchlib.clean_env(("PYTHONMALLOC", "DUMP_HEAPTRACK_OUTPUT"))

TARGET_ADDED_FRACTION = {"a": 0.25, "b": 0.40}   # perfshim added / heaptrack added
TARGET_ANALYZER_SPEEDUP = 2.0                     # heaptrack_print time / perfshim report time


def die(msg, code=2):
    print("overhead: " + msg, file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------- running ---

class Result:
    def __init__(self):
        self.wall = None
        self.maxrss_kb = None
        self.cpu = None
        self.rc = None
        self.stdout = ""
        self.stderr = ""
        self.timed_out = False

    def ok(self):
        return self.rc == 0 and not self.timed_out

    def describe(self):
        if self.timed_out:
            return "timed out"
        if self.rc is not None and self.rc < 0:
            try:
                name = signal.Signals(-self.rc).name
            except ValueError:
                name = str(-self.rc)
            return "killed by signal %d (%s)" % (-self.rc, name)
        if self.rc is not None and self.rc > 128 and self.rc - 128 < 65:
            return "exit status %d (shell-reported signal %d?)" % (self.rc, self.rc - 128)
        return "exit status %s" % self.rc


def run(cmd, env, workdir, timeout, on_timeout=None):
    """Run cmd; wall time, and the peak RSS of the child's process tree (wait4).
    A run that overruns TIMEOUT is killed (its session only), after
    on_timeout(pid, res) if given (to examine it first)."""
    res = Result()
    out_path = os.path.join(workdir, "stdout.txt")
    err_path = os.path.join(workdir, "stderr.txt")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             cwd=workdir, start_new_session=True)

        def kill():
            res.timed_out = True
            try:
                if on_timeout:
                    on_timeout(p.pid, res)
            finally:
                try:
                    os.killpg(p.pid, signal.SIGKILL)   # the session we started, only
                except ProcessLookupError:
                    pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        res.wall = time.perf_counter() - t0
        timer.join()
        res.rc = os.waitstatus_to_exitcode(status)
        p.returncode = res.rc
        res.maxrss_kb = ru.ru_maxrss
        res.cpu = ru.ru_utime + ru.ru_stime
    with open(out_path, "r", errors="replace") as f:
        res.stdout = f.read()
    with open(err_path, "r", errors="replace") as f:
        res.stderr = f.read()
    return res


# ----------------------------------------------------------------- parsing ---

HT_RE = {
    "calls": re.compile(r"^calls to allocation functions: (\d+)", re.M),
    "temporary": re.compile(r"^temporary memory allocations: (\d+)", re.M),
    "runtime": re.compile(r"^total runtime: ([\d.]+)s", re.M),
}


def parse_heaptrack_print(text):
    d = {}
    for k, rx in HT_RE.items():
        m = rx.search(text)
        if m:
            d[k] = float(m.group(1)) if k == "runtime" else int(m.group(1))
    return d


def perfshim_events(report):
    s = report.get("summary", {})
    return s.get("allocations", 0) + s.get("frees", 0) + s.get("reallocations", 0)


# ---------------------------------------------------------------- helpers ---

def fmt_s(xs):
    return benchlib.fmt_range(xs, "%.3f")


def build_alloc_bench(args, tmp):
    if args.alloc_bench:
        if not os.access(args.alloc_bench, os.X_OK):
            die("--alloc-bench %s is not executable" % args.alloc_bench)
        return os.path.abspath(args.alloc_bench), "given"
    built = os.path.join(args.build_dir, "bin", "alloc_bench")
    if os.access(built, os.X_OK):
        return built, "from the build tree"
    cc = os.environ.get("CC", "cc")
    exe = os.path.join(tmp, "alloc_bench")
    r = subprocess.run([cc, "-O2", "-g", "-pthread", "-o", exe,
                        os.path.join(HERE, "alloc_bench.c")], capture_output=True, text=True)
    if r.returncode != 0:
        die("cannot compile bench/alloc_bench.c with %s:\n%s" % (cc, r.stderr))
    return exe, "compiled by this script with %s -O2 -g" % cc


# -------------------------------------------------------------------- main ---

def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `| head` ends us quietly
    ap = argparse.ArgumentParser(prog="bench/overhead.sh",
                                 description="perfshim vs heaptrack overhead benchmark")
    ap.add_argument("-n", "--runs", type=int, default=5, help="runs per configuration (median), default 5")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"),
                    help="perfshim build tree (default: <repo>/build)")
    ap.add_argument("--alloc-bench", help="alloc_bench binary (default: BUILD/bin/alloc_bench, "
                    "else compiled from bench/alloc_bench.c into a temp dir)")
    ap.add_argument("--pairs", type=int, default=2000000, help="alloc_bench pairs per thread (default 2000000)")
    ap.add_argument("--records", type=int, default=25000, help="workload_json.py records (default 25000)")
    ap.add_argument("--python", default="/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK)
                    else os.path.realpath(sys.executable),
                    help="python interpreter for workload (b): a real ELF binary, not a "
                         "pyenv shim script (default /usr/bin/python3)")
    ap.add_argument("--workloads", default="a,b", help="a, b or a,b (default a,b)")
    ap.add_argument("--no-perfshim", action="store_true",
                    help="development mode: run untraced and heaptrack only")
    ap.add_argument("--no-heaptrack", action="store_true", help="skip heaptrack")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run before it is killed")
    ap.add_argument("--keep", metavar="DIR", help="keep the last round's traces in DIR")
    ap.add_argument("--json", metavar="FILE", help="also write all raw figures as JSON")
    args = ap.parse_args()
    if args.runs < 1:
        die("-n must be >= 1")
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if not workloads or any(w not in ("a", "b") for w in workloads):
        die("--workloads takes a, b or a,b")
    args.build_dir = os.path.abspath(args.build_dir)

    shim = os.path.join(args.build_dir, "lib", "libperfshim.so")
    tool = os.path.join(args.build_dir, "bin", "perfshim")
    configs = ["untraced"]
    if not args.no_perfshim:
        missing = [p for p in (shim, tool) if not os.access(p, os.R_OK)]
        if missing:
            die("perfshim is not built (missing %s); build it first, or use --no-perfshim"
                % ", ".join(missing))
        configs.append("perfshim")
    heaptrack = shutil.which("heaptrack")
    heaptrack_print = shutil.which("heaptrack_print")
    if not args.no_heaptrack:
        if not heaptrack or not heaptrack_print:
            print("note: heaptrack/heaptrack_print not found; heaptrack columns skipped")
        else:
            configs.append("heaptrack")
    if "b" in workloads and not os.access(args.python, os.X_OK):
        die("python interpreter %s not found (--python)" % args.python)

    tmp = tempfile.mkdtemp(prefix="perfshim-bench-")
    try:
        return bench(args, workloads, configs, shim, tool, heaptrack, heaptrack_print, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(args, workloads, configs, shim, tool, heaptrack, heaptrack_print, tmp):
    alloc_bench, how = build_alloc_bench(args, tmp)
    if "perfshim" in configs:
        # Snapshot: the build tree may be rebuilt while the benchmark runs.
        snap = os.path.join(tmp, "snapshot")
        os.makedirs(snap)
        shutil.copy2(shim, os.path.join(snap, "libperfshim.so"))
        shutil.copy2(tool, os.path.join(snap, "perfshim"))
        print_shim = "%s, %s (copied at start)" % (shim, tool)
        shim, tool = os.path.join(snap, "libperfshim.so"), os.path.join(snap, "perfshim")
    base_env = clean_env()
    wl = {
        "a": {"cmd": [alloc_bench, "-p", str(args.pairs)], "env": {},
              "desc": "alloc_bench -p %d (2 threads, %d malloc+free pairs, 300 stacks, depth 10-20)"
                      % (args.pairs, 2 * args.pairs)},
        "b": {"cmd": [args.python, os.path.join(HERE, "workload_json.py"), str(args.records)],
              "env": {"PYTHONMALLOC": "malloc"},
              "desc": "PYTHONMALLOC=malloc %s bench/workload_json.py %d (json build/dumps/loads)"
                      % (args.python, args.records)},
    }
    wl = {k: v for k, v in wl.items() if k in workloads}

    started = datetime.datetime.now()
    print("perfshim overhead benchmark  %s  host %s  %d CPUs  %s"
          % (started.strftime("%Y-%m-%d %H:%M"), platform.node(), os.cpu_count() or 0,
             platform.platform()))
    print("%d rounds, interleaved round-robin (config order rotated each round); medians [min..max]"
          % args.runs)
    print("alloc_bench: %s (%s)" % (alloc_bench, how))
    if "perfshim" in configs:
        print("perfshim: %s" % print_shim)
    for k, v in wl.items():
        print("workload (%s): %s" % (k, v["desc"]))
    print("Noise: nothing is pinned (no taskset); other load on the machine shows as spread.")
    print("CPU idle just before the first run (other load): %s" % cpu_idle())
    print(flush=True)

    # data[w][config] -> list of dicts per run
    data = {w: {c: [] for c in configs} for w in wl}
    failures = []
    reference_stdout = {}
    sizes_extra = {}

    # Warm-up (page cache, python's imports): one untraced run each, not counted.
    for w, spec in wl.items():
        d = os.path.join(tmp, "warmup-" + w)
        os.makedirs(d)
        env = dict(base_env, **spec["env"])
        r = run(spec["cmd"], env, d, args.timeout)
        if not r.ok():
            failures.append("(%s) untraced warm-up: %s\n%s" % (w, r.describe(), tail(r.stderr)))
        reference_stdout[w] = r.stdout

    for rnd in range(args.runs):
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        last = rnd == args.runs - 1
        for w, spec in wl.items():
            for c in order:
                d = os.path.join(tmp, "r%d-%s-%s" % (rnd, w, c))
                os.makedirs(d)
                env = dict(base_env, **spec["env"])
                rec = {"round": rnd}
                label = "(%s) %s round %d" % (w, c, rnd + 1)
                if c == "untraced":
                    r = run(spec["cmd"], env, d, args.timeout)
                elif c == "perfshim":
                    tdir = os.path.join(d, "trace")
                    os.makedirs(tdir)
                    env["LD_PRELOAD"] = shim
                    env["PERFSHIM_OUTPUT"] = os.path.join(tdir, "perfshim.%p.trace")
                    r = run(spec["cmd"], env, d, args.timeout)
                else:
                    r = run([heaptrack, "-o", os.path.join(d, "ht")] + spec["cmd"], env, d, args.timeout)
                if not r.ok():
                    failures.append("%s: target %s\n%s" % (label, r.describe(), tail(r.stderr)))
                    data[w][c].append(rec)
                    continue
                rec["wall"] = r.wall
                rec["cpu"] = r.cpu
                if c != "heaptrack" and r.stdout != reference_stdout.get(w):
                    # heaptrack's own chatter goes to stdout, so it is not compared
                    failures.append("%s: program output differs from the untraced run:\n"
                                    "      untraced: %r\n      traced:   %r"
                                    % (label, reference_stdout.get(w, "")[:200], r.stdout[:200]))

                if c == "perfshim":
                    traces = sorted(glob.glob(os.path.join(d, "trace", "*")), key=os.path.getsize)
                    if not traces:
                        failures.append("%s: no trace file written under PERFSHIM_OUTPUT" % label)
                    else:
                        trace = traces[-1]
                        rec["trace_files"] = len(traces)
                        rec["size"] = sum(os.path.getsize(t) for t in traces)
                        a = run([tool, "report", "--format", "json", trace], base_env, d, args.timeout)
                        if not a.ok():
                            failures.append("%s: `perfshim report --format json` %s\n%s"
                                            % (label, a.describe(), tail(a.stderr)))
                        else:
                            rec["an_wall"] = a.wall
                            rec["an_rss_kb"] = a.maxrss_kb
                            try:
                                rep = json.loads(a.stdout)
                                rec["events"] = perfshim_events(rep)
                                rec["summary"] = rep.get("summary", {})
                            except ValueError as e:
                                failures.append("%s: report is not valid JSON: %s" % (label, e))
                            if a.stderr.strip():
                                rec["an_stderr"] = a.stderr.strip()[:500]
                        if last:
                            sizes_extra[(w, c)] = zstd_size(trace)
                            keep(args.keep, traces, "%s-perfshim" % w)
                elif c == "heaptrack":
                    files = glob.glob(os.path.join(d, "ht.*"))
                    if not files:
                        failures.append("%s: heaptrack wrote no output file" % label)
                    else:
                        f = files[0]
                        rec["size"] = os.path.getsize(f)
                        rec["file"] = os.path.basename(f)
                        a = run([heaptrack_print, f], base_env, d, args.timeout)
                        if not a.ok():
                            failures.append("%s: heaptrack_print %s\n%s" % (label, a.describe(), tail(a.stderr)))
                        else:
                            rec["an_wall"] = a.wall
                            rec["an_rss_kb"] = a.maxrss_kb
                            ht = parse_heaptrack_print(a.stdout)
                            rec["ht"] = ht
                            if "calls" in ht:
                                rec["events"] = 2 * ht["calls"]
                        if last:
                            sizes_extra[(w, c)] = raw_size(f)
                            keep(args.keep, [f], "%s-heaptrack" % w)
                data[w][c].append(rec)
                shutil.rmtree(d, ignore_errors=True)
        print("round %d/%d done (%.0f s elapsed)"
              % (rnd + 1, args.runs, (datetime.datetime.now() - started).total_seconds()), flush=True)

    report(args, wl, configs, data, sizes_extra, failures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started.isoformat(), "host": platform.node(),
                       "configs": configs, "workloads": {k: v["desc"] for k, v in wl.items()},
                       "runs": data, "failures": failures}, f, indent=1, default=str)
    return 1 if failures else 0


def zstd_size(path):
    """perfshim trace size after zstd -3, for comparison with heaptrack's compressed file."""
    z = shutil.which("zstd")
    if not z:
        return None
    r = subprocess.run([z, "-3", "-q", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return len(r.stdout) if r.returncode == 0 else None


def raw_size(path):
    """heaptrack's output uncompressed (it writes zstd or gzip)."""
    dec = ["zstd", "-dc"] if path.endswith(".zst") else ["gzip", "-dc"]
    if not shutil.which(dec[0]):
        return None
    try:
        p = subprocess.Popen(dec + [path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        n = 0
        while True:
            b = p.stdout.read(1 << 20)
            if not b:
                break
            n += len(b)
        return n if p.wait() == 0 else None
    except OSError:
        return None


def keep(dest, files, prefix):
    if not dest:
        return
    os.makedirs(dest, exist_ok=True)
    for f in files:
        shutil.copy(f, os.path.join(dest, prefix + "-" + os.path.basename(f)))


def col(recs, key):
    return [r.get(key) for r in recs]


def report(args, wl, configs, data, sizes_extra, failures):
    P = print
    P()
    P("=" * 100)
    P("WALL TIME, seconds: median [min..max] of %d runs" % args.runs)
    P("%-4s %-22s %-22s %-22s" % ("", "untraced", "perfshim", "heaptrack"))
    for w in wl:
        cells = [fmt_s(col(data[w][c], "wall")) if c in configs else "-"
                 for c in ("untraced", "perfshim", "heaptrack")]
        P("(%s)  %-22s %-22s %-22s" % (w, cells[0], cells[1], cells[2]))

    P()
    P("OVERHEAD (medians; CPU = user+sys of the whole process tree, heaptrack's interpreter and")
    P("compressor included; per-pair figures divide by all pairs of both threads)")
    for w in wl:
        u = med(col(data[w]["untraced"], "wall"))
        added = {}
        for c in ("perfshim", "heaptrack"):
            if c not in configs:
                continue
            t = med(col(data[w][c], "wall"))
            if t is None or u is None:
                P("(%s)  %-9s  n/a (no successful run)" % (w, c))
                continue
            added[c] = t - u
            ev = med(col(data[w][c], "events"))
            cu, ct = med(col(data[w]["untraced"], "cpu")), med(col(data[w][c], "cpu"))
            extra = ""
            if w == "a":
                pairs = 2.0 * args.pairs
                extra = "   per malloc+free pair: +%.0f ns wall, +%.0f ns CPU" % (
                    (t - u) * 1e9 / pairs, (ct - cu) * 1e9 / pairs)
            elif ev:
                extra = "   per event: +%.0f ns wall, +%.0f ns CPU (%s events)" % (
                    (t - u) * 1e9 / ev, (ct - cu) * 1e9 / ev, int(ev))
            P("(%s)  %-9s  slowdown x%.2f   added %.3f s wall, %.3f s CPU%s"
              % (w, c, t / u, t - u, ct - cu, extra))
        if "perfshim" in added and "heaptrack" in added:
            frac = added["perfshim"] / added["heaptrack"] if added["heaptrack"] > 0 else float("inf")
            tgt = TARGET_ADDED_FRACTION[w]
            P("(%s)  perfshim added time / heaptrack added time = %.3f   (target <= %.2f)  %s"
              % (w, frac, tgt, verdict(frac <= tgt)))
            cu = med(col(data[w]["untraced"], "cpu"))
            cp, ch = med(col(data[w]["perfshim"], "cpu")), med(col(data[w]["heaptrack"], "cpu"))
            if None not in (cu, cp, ch) and ch > cu:
                P("(%s)  (same ratio on CPU time, less sensitive to other load: %.3f)"
                  % (w, (cp - cu) / (ch - cu)))

    P()
    P("TRACE SIZE (median over runs; events: perfshim = allocations+frees+reallocations from its")
    P("report; heaptrack = 2 x 'calls to allocation functions' from heaptrack_print, i.e. each")
    P("allocation plus its free, leaks ignored; heaptrack's file is zstd-compressed as it writes it)")
    P("%-4s %-10s %12s %12s %10s   %s" % ("", "tool", "file", "events", "B/event", "reference"))
    for w in wl:
        for c in ("perfshim", "heaptrack"):
            if c not in configs:
                continue
            size = med(col(data[w][c], "size"))
            ev = med(col(data[w][c], "events"))
            bpe = "%.2f" % (size / ev) if size and ev else "n/a"
            extra = sizes_extra.get((w, c))
            if c == "perfshim":
                ref = ("after zstd -3: %s (%.2f B/event)" % (fmt_bytes(extra), extra / ev)) \
                    if extra and ev else ""
            else:
                ref = ("uncompressed: %s (%.2f B/event)" % (fmt_bytes(extra), extra / ev)) \
                    if extra and ev else ""
            P("(%s)  %-10s %12s %12s %10s   %s"
              % (w, c, fmt_bytes(size), "%d" % ev if ev else "n/a", bpe, ref))

    P()
    P("ANALYZER: perfshim report --format json vs heaptrack_print (default output), same traces")
    P("%-4s %-26s %-26s %-9s" % ("", "perfshim report", "heaptrack_print", "speedup"))
    for w in wl:
        cells = []
        for c in ("perfshim", "heaptrack"):
            if c not in configs:
                cells.append("-")
                continue
            t = col(data[w][c], "an_wall")
            rss = med(col(data[w][c], "an_rss_kb"))
            cells.append("%s, %s" % (fmt_s(t).split(" ")[0] + " s" if med(t) is not None else "failed",
                                    "RSS " + fmt_bytes(rss * 1024) if rss else "RSS n/a"))
        ps, hp = med(col(data[w].get("perfshim", []), "an_wall")), med(col(data[w].get("heaptrack", []), "an_wall"))
        sp = ""
        if ps and hp:
            sp = "x%.2f   (target >= x%.1f)  %s" % (hp / ps, TARGET_ANALYZER_SPEEDUP,
                                                  verdict(hp / ps >= TARGET_ANALYZER_SPEEDUP))
        P("(%s)  %-26s %-26s %s" % (w, cells[0], cells[1], sp))

    P()
    P("CHECKS")
    for w in wl:
        for c in ("perfshim", "heaptrack"):
            if c not in configs:
                continue
            recs = [r for r in data[w][c] if "events" in r]
            if not recs:
                continue
            r = recs[-1]
            if c == "perfshim":
                s = r.get("summary", {})
                line = "allocations=%s frees=%s reallocations=%s" % (
                    s.get("allocations"), s.get("frees"), s.get("reallocations"))
            else:
                line = "calls to allocation functions=%s temporary=%s" % (
                    r["ht"].get("calls"), r["ht"].get("temporary"))
            if w == "a":
                line += "   (alloc_bench itself: %d mallocs, %d frees)" % (
                    2 * (args.pairs + 4096), 2 * (args.pairs + 4096))
            P("(%s)  %-9s %s" % (w, c, line))
            if r.get("an_stderr"):
                P("      perfshim report stderr: %s" % r["an_stderr"].splitlines()[0])
    if failures:
        P()
        P("FAILURES (%d) -- figures above exclude these runs" % len(failures))
        for f in failures:
            P("  - " + f)
    else:
        P("all runs completed%s" % ("; program output under perfshim identical to untraced"
                                    if "perfshim" in configs else ""))
    P("PASS/MISS are informational; this benchmark never fails on a threshold.")


if __name__ == "__main__":
    sys.exit(main())
