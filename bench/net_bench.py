#!/usr/bin/env python3
"""perfshim network benchmark: redis-server throughput, untraced vs perfshim vs strace.

Run through bench/net_bench.sh (docs/benchmarks.md covers bench/overhead.sh).  Python 3 standard
library only.  Everything runs on 127.0.0.1; every server is started in its
own session and killed (that session only) if it does not exit by itself.

    bench/net_bench.sh [-n ROUNDS] [--requests N] [--pipeline P] [--no-strace] ...
    (--help lists them all; needs scripts/setup.sh --bench; builds BUILD if missing)

Three variants, interleaved in each round (order rotated): untraced;
LD_PRELOAD=libperfshim.so with default settings (trace in a temp dir, deleted
after); `strace -f -c -o /dev/null redis-server ...` (sends N/5 requests by
default: it is ~10x slower and throughput is a rate).  Two loads: -P 1 (one
request per round trip, every request costs the server a read and a write)
and -P 16 (pipelined: 16 requests per read, so per-call costs weigh 16x
less and per-request costs show).

Each run starts a fresh redis-server (--save '' --appendonly no, in a temp
dir), waits for `redis-cli ping`, runs redis-benchmark (untraced) against it,
then SHUTDOWN NOSAVE: the traced server exits normally and writes its end
record.  Throughput is redis-benchmark's own requests/s per test.

Exit status: 0 when every run completed (PASS/MISS are informational, never a
failure), 1 when some run failed (server did not start or exited non-zero,
benchmark failed or timed out, no trace written, analyzer failed: the errors
are printed), 2 when the benchmark cannot run (redis or strace missing, build
failed, bad arguments).
"""
import argparse
import csv
import datetime
import glob
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import cpu_idle, fmt_bytes, med, free_port, tail, verdict  # noqa: E402,F401


def clean_env():
    env = benchlib.clean_env()
    env["LC_ALL"] = "C"
    return env

TARGET_KEEP = 0.90      # issue 4: perfshim keeps at least 90% of untraced throughput
VARIANTS = ("untraced", "perfshim", "perfshim-nonet", "strace")
LABEL = {"untraced": "untraced", "perfshim": "perfshim", "perfshim-nonet": "perfshim NET=0",
         "strace": "strace -f -c"}
CSV_COLUMNS = ["test", "rps", "avg_latency_ms", "min_latency_ms", "p50_latency_ms",
               "p95_latency_ms", "p99_latency_ms", "max_latency_ms"]
# What redis-benchmark and this script send besides the measured commands:
# CONFIG GET save + CONFIG GET appendonly (one connection, pipelined, at
# start-up), our readiness PING and the final SHUTDOWN (no reply: an analyzer
# may leave it out).  See tests/integration/test_real_redis_net.py.
EXTRA_REQUESTS = 3


def die(msg, code=2):
    print("net_bench: " + msg, file=sys.stderr)
    sys.exit(code)


# ------------------------------------------------------------------ server ---

class Server:
    """A redis-server (possibly wrapped) in its own session."""

    def __init__(self, tools, prefix, env, workdir):
        self.tools = tools
        self.prefix = prefix
        self.env = env
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.status = None     # exit code once reaped
        self.cpu = None        # user+sys of the server's process tree (wait4)
        self.log_path = os.path.join(workdir, "server.log")

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def ping(self):
        try:
            p = subprocess.run([self.tools["cli"], "-h", "127.0.0.1", "-p", str(self.port), "ping"],
                               capture_output=True, timeout=5, env=clean_env())
        except subprocess.TimeoutExpired:
            return False
        return p.returncode == 0 and p.stdout.strip() == b"PONG"

    def start(self, timeout=15):
        """Start on a free port (retrying when another process took it);
        returns an error string or None."""
        for _ in range(5):
            self.port = free_port()
            cmd = self.prefix + [self.tools["server"], "--port", str(self.port),
                                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--daemonize", "no", "--dir", self.workdir]
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.workdir,
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            self.status = None
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.reap(block=False):
                    break
                if self.ping():
                    return None
                time.sleep(0.05)
            if self.status is None:
                self.kill()
                return "did not answer PING within %d s" % timeout
            if b"in use" not in self.log():
                return "exited with status %s at start-up" % self.status
            # the port was taken between free_port() and the bind: retry
        return "could not find a free port in 5 attempts"

    def reap(self, block):
        if self.status is not None:
            return True
        pid, st, ru = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        self.status = os.waitstatus_to_exitcode(st)
        self.proc.returncode = self.status
        self.cpu = ru.ru_utime + ru.ru_stime
        return True

    def shutdown(self, timeout=20):
        """SHUTDOWN NOSAVE and wait for the exit; kill when it hangs.
        Returns an error string or None."""
        try:
            subprocess.run([self.tools["cli"], "-h", "127.0.0.1", "-p", str(self.port),
                            "shutdown", "nosave"], capture_output=True, timeout=10, env=clean_env())
        except subprocess.TimeoutExpired:
            pass
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.reap(block=False):
                return None if self.status == 0 else "exited with status %s" % self.status
            time.sleep(0.02)
        self.kill()
        return "did not exit within %d s of SHUTDOWN NOSAVE (killed)" % timeout

    def kill(self):
        if self.proc is None or self.status is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)   # the session we started, only
        except ProcessLookupError:
            pass
        self.reap(block=True)


def run_benchmark(tools, port, tests, requests, clients, pipeline, timeout):
    """redis-benchmark --csv: ({TEST: {rps, p50_latency_ms, ...}}, error)."""
    cmd = [tools["bench"], "-h", "127.0.0.1", "-p", str(port), "-n", str(requests),
           "-c", str(clients), "-P", str(pipeline), "-t", tests, "--csv"]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env(),
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "redis-benchmark timed out after %d s" % timeout
    if p.returncode != 0:
        return None, "redis-benchmark exit status %d\n%s" % (p.returncode, tail(p.stderr))
    rows = list(csv.reader(io.StringIO(p.stdout.decode(errors="replace"))))
    if not rows or rows[0] != CSV_COLUMNS:
        return None, "redis-benchmark --csv: unexpected header %r" % (rows[:1],)
    out = {}
    for r in rows[1:]:
        if len(r) == len(CSV_COLUMNS):
            out[r[0]] = {k: float(v) for k, v in zip(CSV_COLUMNS[1:], r[1:])}
    want = [t.upper() for t in tests.split(",")]
    if sorted(out) != sorted(want):
        return None, "redis-benchmark --csv: tests %s, expected %s" % (sorted(out), sorted(want))
    return out, None


# ----------------------------------------------------------------- helpers ---

def fmt_rps(xs):
    return benchlib.fmt_range(xs, "%.0f")


def ensure_built(build_dir):
    shim = os.path.join(build_dir, "lib", "libperfshim.so")
    tool = os.path.join(build_dir, "bin", "perfshim")
    if os.access(shim, os.R_OK) and os.access(tool, os.X_OK):
        return shim, tool
    if not shutil.which("cmake"):
        die("perfshim is not built (%s missing) and cmake is not installed: "
            "run scripts/setup.sh first" % (shim if not os.access(shim, os.R_OK) else tool))
    print("perfshim is not built in %s: building it (cmake, RelWithDebInfo)" % build_dir, flush=True)
    jobs = str(os.cpu_count() or 2)
    for cmd in (["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                ["cmake", "--build", build_dir, "-j", jobs, "--target", "perfshim_preload", "perfshim"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            die("build failed: %s\n%s" % (" ".join(cmd), tail(r.stdout + r.stderr, 20)))
    if not (os.access(shim, os.R_OK) and os.access(tool, os.X_OK)):
        die("build finished but %s or %s is missing" % (shim, tool))
    return shim, tool


# -------------------------------------------------------------------- main ---

def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `| head` ends us quietly
    ap = argparse.ArgumentParser(prog="bench/net_bench.sh",
                                 description="redis-server throughput: untraced vs perfshim vs strace -f -c")
    ap.add_argument("-n", "--runs", type=int, default=5, help="rounds (median), default 5")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"),
                    help="perfshim build tree (default: <repo>/build; built there when missing)")
    ap.add_argument("--requests", type=int, default=100000,
                    help="redis-benchmark -n for the -P 1 load, per test (default 100000)")
    ap.add_argument("--pipelined-requests", type=int, default=1000000,
                    help="redis-benchmark -n for the pipelined load, per test (default 1000000)")
    ap.add_argument("--pipeline", type=int, default=16,
                    help="-P of the pipelined load (default 16; 0 = no pipelined load)")
    ap.add_argument("--clients", type=int, default=20, help="redis-benchmark -c (default 20)")
    ap.add_argument("--tests", default="set,get", help="redis-benchmark -t (default set,get)")
    ap.add_argument("--strace-divisor", type=int, default=5,
                    help="the strace variant sends N/this requests (it runs ~10x slower; "
                         "throughput is a rate, so the figures stay comparable), default 5")
    ap.add_argument("--no-strace", action="store_true", help="skip the strace variant")
    ap.add_argument("--net-off", action="store_true",
                    help="add a fourth variant: perfshim with PERFSHIM_NET=0 (allocation tracing "
                         "only), to tell the socket/clock hooks' cost from the rest")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per benchmark run before it is abandoned")
    ap.add_argument("--json", metavar="FILE", help="also write all raw figures as JSON")
    args = ap.parse_args()
    if args.runs < 1 or args.requests < 1 or args.clients < 1 or args.strace_divisor < 1 \
            or args.pipeline < 0 or args.pipelined_requests < 1:
        die("-n, --requests, --pipelined-requests, --clients and --strace-divisor must be >= 1")
    tests = ",".join(t.strip().lower() for t in args.tests.split(",") if t.strip())
    if not tests:
        die("--tests is empty")
    tools = {"server": shutil.which("redis-server"), "bench": shutil.which("redis-benchmark"),
             "cli": shutil.which("redis-cli")}
    missing = [k for k, v in (("redis-server", tools["server"]), ("redis-benchmark", tools["bench"]),
                              ("redis-cli", tools["cli"])) if not v]
    variants = list(VARIANTS)
    if not args.net_off:
        variants.remove("perfshim-nonet")
    if args.no_strace:
        variants.remove("strace")
    else:
        tools["strace"] = shutil.which("strace")
        if not tools["strace"]:
            missing.append("strace")
    if missing:
        die("%s not installed: run scripts/setup.sh --bench" % ", ".join(missing))
    args.build_dir = os.path.abspath(args.build_dir)
    shim, tool = ensure_built(args.build_dir)

    tmp = tempfile.mkdtemp(prefix="perfshim-netbench-")
    try:
        return bench(args, tests, variants, tools, shim, tool, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def one_run(args, tools, variant, shape, shim, d, analyze=False, tool=None):
    """One server start + one redis-benchmark + shutdown.  Returns (rec, errors)."""
    rec = {}
    env = clean_env()
    prefix = []
    requests = shape["requests"]
    if variant.startswith("perfshim"):
        tdir = os.path.join(d, "trace")
        os.makedirs(tdir)
        env["LD_PRELOAD"] = shim
        env["PERFSHIM_OUTPUT"] = os.path.join(tdir, "perfshim.%p.trace")
        if variant == "perfshim-nonet":
            env["PERFSHIM_NET"] = "0"
    elif variant == "strace":
        prefix = [tools["strace"], "-f", "-c", "-o", "/dev/null"]
        requests = max(1, requests // args.strace_divisor)
    rec["requests"] = requests
    srv = Server(tools, prefix, env, d)
    errors = []
    try:
        err = srv.start()
        if err:
            return rec, ["server %s\n%s" % (err, tail(srv.log()))]
        if shape["requests"] > 0:
            res, err = run_benchmark(tools, srv.port, args.tests, requests, args.clients,
                                     shape["pipeline"], args.timeout)
            if err:
                errors.append(err)
            else:
                rec["rps"] = {k: v["rps"] for k, v in res.items()}
                rec["p50_ms"] = {k: v["p50_latency_ms"] for k, v in res.items()}
        err = srv.shutdown()
        if err:
            errors.append("server %s\n%s" % (err, tail(srv.log())))
        rec["cpu"] = srv.cpu
    finally:
        srv.kill()
    if variant.startswith("perfshim"):
        traces = glob.glob(os.path.join(d, "trace", "*"))
        if not traces:
            errors.append("no trace file written under PERFSHIM_OUTPUT")
        else:
            rec["trace_files"] = len(traces)
            rec["size"] = sum(os.path.getsize(t) for t in traces)
            if analyze:
                rec["check"] = analyze_trace(tool, max(traces, key=os.path.getsize), srv.port,
                                             errors, args.timeout)
    return rec, errors


def analyze_trace(tool, trace, port, errors, timeout):
    """What the report says about the run (last round only)."""
    try:
        t0 = time.perf_counter()
        p = subprocess.run([tool, "report", "--format", "json", trace], capture_output=True,
                           timeout=timeout, env=clean_env())
        wall = time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        errors.append("perfshim report timed out after %d s" % timeout)
        return None
    if p.returncode != 0:
        errors.append("perfshim report --format json: exit status %d\n%s" % (p.returncode, tail(p.stderr)))
        return None
    try:
        rep = json.loads(p.stdout)
    except ValueError as e:
        errors.append("perfshim report: not JSON (%s)" % e)
        return None
    calls = rep.get("calls") or {}
    peer = (rep.get("peers") or {}).get("listen:%d" % port) or {}
    req = rep.get("requests")
    return {"report_s": wall, "exit": (rep.get("process") or {}).get("exit"),
            "requests": req.get("count") if isinstance(req, dict) else None,
            "req_p50_us": req.get("p50_us") if isinstance(req, dict) else None,
            "req_p99_us": req.get("p99_us") if isinstance(req, dict) else None,
            "connections": peer.get("connections"),
            "calls": {k: (calls.get(k) or {}).get("count") for k in ("read", "write", "accept4",
                                                                     "epoll_wait")},
            "has_keys": [k for k in ("requests", "peers", "calls") if k in rep]}


def bench(args, tests, variants, tools, shim, tool, tmp):
    # Snapshot: the build tree may be rebuilt while the benchmark runs.
    snap = os.path.join(tmp, "snapshot")
    os.makedirs(snap)
    shutil.copy2(shim, os.path.join(snap, "libperfshim.so"))
    shutil.copy2(tool, os.path.join(snap, "perfshim"))
    print_shim = "%s, %s (copied at start)" % (shim, tool)
    shim, tool = os.path.join(snap, "libperfshim.so"), os.path.join(snap, "perfshim")
    ntests = len(tests.split(","))
    args.tests = tests

    shapes = [{"name": "P1", "pipeline": 1, "requests": args.requests}]
    if args.pipeline > 1:
        shapes.append({"name": "P%d" % args.pipeline, "pipeline": args.pipeline,
                       "requests": args.pipelined_requests})
    test_names = [t.upper() for t in tests.split(",")]

    started = datetime.datetime.now()
    ver = subprocess.run([tools["server"], "--version"], capture_output=True, text=True).stdout.strip()
    print("perfshim network benchmark  %s  host %s  %d CPUs  %s"
          % (started.strftime("%Y-%m-%d %H:%M"), platform.node(), os.cpu_count() or 0,
             platform.platform()))
    print("%d rounds, variants interleaved (order rotated each round); medians [min..max]" % args.runs)
    print("server: %s" % ver)
    print("  redis-server --bind 127.0.0.1 --port FREE --save '' --appendonly no, fresh per run;")
    print("  stopped by SHUTDOWN NOSAVE (the traced server exits normally)")
    print("perfshim: %s" % print_shim)
    print("  LD_PRELOAD, default settings, PERFSHIM_OUTPUT=<tmp>/perfshim.%p.trace (deleted after)")
    if "perfshim-nonet" in variants:
        print("perfshim NET=0: the same with PERFSHIM_NET=0 (socket/clock interception off)")
    if "strace" in variants:
        print("strace: %s -f -c -o /dev/null redis-server ... (N/%d requests: it is ~10x slower)"
              % (tools["strace"], args.strace_divisor))
    for s in shapes:
        print("load %-4s redis-benchmark -h 127.0.0.1 -c %d -P %d -n %d -t %s --csv (untraced)"
              % (s["name"], args.clients, s["pipeline"], s["requests"], tests))
    print("Noise: nothing is pinned (no taskset); server and redis-benchmark share the CPUs.")
    print("CPU idle just before the first run (other load): %s" % cpu_idle())
    print(flush=True)

    failures = []
    data = {s["name"]: {v: [] for v in variants} for s in shapes}

    # Warm-up (page cache, first-run costs): one untraced run, not counted;
    # and one idle traced server (start, PING, SHUTDOWN): the trace's fixed size.
    d = os.path.join(tmp, "warmup")
    os.makedirs(d)
    _, errs = one_run(args, tools, "untraced", dict(shapes[0], requests=min(20000, args.requests)), shim, d)
    failures += ["warm-up (untraced): " + e for e in errs]
    shutil.rmtree(d, ignore_errors=True)
    d = os.path.join(tmp, "idle")
    os.makedirs(d)
    idle, errs = one_run(args, tools, "perfshim", dict(shapes[0], requests=0), shim, d)
    failures += ["idle traced server: " + e for e in errs]
    shutil.rmtree(d, ignore_errors=True)
    idle_size = idle.get("size")

    for rnd in range(args.runs):
        order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
        last = rnd == args.runs - 1
        for s in shapes:
            for v in order:
                d = os.path.join(tmp, "r%d-%s-%s" % (rnd, s["name"], v))
                os.makedirs(d)
                rec, errs = one_run(args, tools, v, s, shim, d, analyze=last and v == "perfshim",
                                    tool=tool)
                rec["round"] = rnd
                for e in errs:
                    failures.append("(%s) %s round %d: %s" % (s["name"], v, rnd + 1, e))
                if "rps" not in rec:
                    rec.pop("size", None)
                data[s["name"]][v].append(rec)
                shutil.rmtree(d, ignore_errors=True)
        print("round %d/%d done (%.0f s elapsed)"
              % (rnd + 1, args.runs, (datetime.datetime.now() - started).total_seconds()), flush=True)

    report(args, shapes, test_names, ntests, variants, data, idle_size, failures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started.isoformat(), "host": platform.node(), "server": ver,
                       "variants": variants, "shapes": shapes, "idle_trace_bytes": idle_size,
                       "runs": data, "failures": failures}, f, indent=1, default=str)
    return 1 if failures else 0


def report(args, shapes, test_names, ntests, variants, data, idle_size, failures):
    P = print
    traced = [v for v in variants if v.startswith("perfshim")]

    def rps(shape, v, test):
        return [r["rps"].get(test) for r in data[shape][v] if "rps" in r]

    def row(first, cells, w):
        return first + "".join(("%-" + str(w) + "s ") % c for c in cells)

    P()
    P("=" * 100)
    P("THROUGHPUT, requests/s (redis-benchmark's own rps): median [min..max] of %d rounds" % args.runs)
    P(row("load test  ", [LABEL[v] for v in variants], 26))
    for s in shapes:
        for t in test_names:
            P(row("%-4s %-5s " % (s["name"], t), [fmt_rps(rps(s["name"], v, t)) for v in variants], 26))

    P()
    P("RATIO vs untraced (median rps / median untraced rps); target: perfshim keeps >= %.0f%%"
      % (100 * TARGET_KEEP))
    others = [v for v in variants if v != "untraced"]
    P(row("load test  ", [LABEL[v] for v in others], 18))
    ratios = []
    for s in shapes:
        for t in test_names:
            u = med(rps(s["name"], "untraced", t))
            cells = []
            for v in others:
                x = med(rps(s["name"], v, t))
                if x is None or not u:
                    cells.append("n/a")
                    continue
                r = x / u
                if v == "perfshim":
                    ratios.append((r, s["name"], t))
                    cells.append("%.3f  %s" % (r, verdict(r >= TARGET_KEEP)))
                else:
                    cells.append("%.3f" % r)
            P(row("%-4s %-5s " % (s["name"], t), cells, 18))

    P()
    P("LATENCY seen by redis-benchmark, p50 ms (median of rounds)")
    P(row("load test  ", [LABEL[v] for v in variants], 15))
    for s in shapes:
        for t in test_names:
            cells = []
            for v in variants:
                m = med([r["p50_ms"].get(t) for r in data[s["name"]][v] if "p50_ms" in r])
                cells.append("%.3f" % m if m is not None else "-")
            P(row("%-4s %-5s " % (s["name"], t), cells, 15))

    P()
    P("SERVER CPU per request (user+sys of the server's process tree from wait4, strace included,")
    P("start-up and shutdown included / requests sent), median")
    P(row("load ", [LABEL[v] for v in variants], 15))
    for s in shapes:
        cells = []
        for v in variants:
            m = med([r["cpu"] * 1e6 / (r["requests"] * ntests) for r in data[s["name"]][v]
                     if r.get("cpu") is not None and "rps" in r])
            cells.append("%.2f us" % m if m is not None else "-")
        P(row("%-4s " % s["name"], cells, 15))

    P()
    P("TRACE SIZE per perfshim run (all files under PERFSHIM_OUTPUT; requests = commands the")
    P("benchmark sent; the idle server's trace, start + PING + SHUTDOWN, is the fixed part)")
    P("idle server (perfshim, default settings): %s" % fmt_bytes(idle_size))
    P("%-4s %-15s %-10s %-42s %10s %14s" % ("load", "variant", "requests", "size per run (rounds in order)",
                                            "median", "B/request"))
    for s in shapes:
        for v in traced:
            recs = [r for r in data[s["name"]][v] if r.get("size") is not None]
            if not recs:
                P("%-4s %-15s n/a" % (s["name"], LABEL[v]))
                continue
            reqs = s["requests"] * ntests
            sizes = [r["size"] for r in recs]
            m = med(sizes)
            bpr = "%.2f" % (m / reqs)
            if idle_size is not None:
                bpr += " (%.2f)" % ((m - idle_size) / reqs)
            P("%-4s %-15s %-10d %-42s %10s %14s" % (s["name"], LABEL[v], reqs,
                                                    ", ".join(fmt_bytes(x) for x in sizes),
                                                    fmt_bytes(m), bpr))
    P("(B/request in parentheses: with the idle server's size taken off)")

    P()
    P("CHECKS (last round's perfshim traces, perfshim report --format json)")
    for s in shapes:
        recs = [r for r in data[s["name"]].get("perfshim", []) if r.get("check")]
        if not recs:
            P("%-4s no report" % s["name"])
            continue
        c = recs[-1]["check"]
        sent = recs[-1]["requests"] * ntests
        if c["requests"] is None:
            P("%-4s process.exit=%r  no 'requests' in the report (of requests/peers/calls it has: %s)"
              % (s["name"], c["exit"], ", ".join(c["has_keys"]) or "none"))
        else:
            # by the request rule a read carrying P pipelined commands is one request
            P("%-4s process.exit=%r  requests.count=%s (commands sent %d; by the rule about "
              "%d/%d + %d others)  p50 %s us  p99 %s us"
              % (s["name"], c["exit"], c["requests"], sent, sent, s["pipeline"], EXTRA_REQUESTS,
                 c["req_p50_us"], c["req_p99_us"]))
        P("      connections (listen peer)=%s  calls: %s  report took %.2f s"
          % (c["connections"], "  ".join("%s=%s" % kv for kv in sorted(c["calls"].items())),
             c["report_s"]))

    P()
    for sh in shapes:
        rs = [r for r in ratios if r[1] == sh["name"]]
        if rs:
            worst = min(rs)
            P("TARGET (-P %d) perfshim keeps at least %.0f%% of untraced throughput: %s   "
              "(worst ratio %.3f, %s)" % (sh["pipeline"], 100 * TARGET_KEEP,
                                         verdict(worst[0] >= TARGET_KEEP), worst[0], worst[2]))
        else:
            P("TARGET (-P %d) perfshim keeps at least %.0f%% of untraced throughput: n/a "
              "(no successful runs)" % (sh["pipeline"], 100 * TARGET_KEEP))
    if failures:
        P()
        P("FAILURES (%d) -- a run whose server or benchmark failed is left out of the figures;"
          % len(failures))
        P("a failed report (CHECKS) does not remove its run's throughput")
        for f in failures:
            P("  - " + f)
    else:
        P("all runs completed")
    P("PASS/MISS are informational; this benchmark never fails on a threshold.")


if __name__ == "__main__":
    sys.exit(main())
