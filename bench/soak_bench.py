#!/usr/bin/env python3
"""perfshim soak benchmark (issue 5): a real server under minutes of load, untraced vs `perfshim soak`.

Run through bench/soak_bench.sh (it installs what is missing with
scripts/setup.sh --bench and builds BUILD first); docs/benchmarks.md,
section "Soak (issue 5)".  Python 3 standard library only.  Everything runs
on 127.0.0.1; every process we start runs in its own session and is killed
(that session, and the processes we saw under it, by pid) if it is still
there at the end.

    bench/soak_bench.sh [--minutes 3] [--rounds 1] [--max-trace-mb M] [--json FILE] ...
    (--help lists them all)

The server is Debian's redis-server (--bind 127.0.0.1 --port FREE --save ''
--appendonly no, in a temp dir).  The load is one shell command, run again
and again until the time is up:

    echo "S <time>" >> LOG; timeout -s KILL T redis-benchmark -h 127.0.0.1 -p PORT
        -c 20 -P 1 -n 100000 -r 100000 -t set,get --csv >> LOG; echo "E <status> <time>" >> LOG

so every invocation is bounded (-n requests, `timeout` seconds) and leaves
its start, its CSV and its end in LOG.  Each round runs, in this order:

  untraced  the server as is; this script starts it, waits for PING, runs
            the load loop for the duration, kills the load in flight, stops
            the server with SIGTERM (SIGKILL after 10 s);
  traced    perfshim soak --duration D --load '<the same command>' -o TRACE
            [--max-trace-mb M] -- redis-server ...  (dogfoods the soak
            command: it waits for the listening socket, loops the load,
            stops the server, prints its report).  Without `perfshim soak`
            in the tool (older trees) the script does the same itself with
            LD_PRELOAD=libperfshim.so and says so.

Throughput = requests of the completed redis-benchmark invocations (-n x
tests) / the time those invocations took (from the S and E marks); the one
killed at the end counts in neither.  The ratio traced/untraced is the median
of the per-round ratios.  For each traced run it prints the trace's size and
bytes per minute (file size / run minutes), and from `perfshim report
--format json` (run under /usr/bin/time -v, whose wall time and maximum RSS
are the analyzer's cost) resources.shim_memory_peak_bytes, RSS and heap
growth, the verdict, and the soak report's VERDICT line.

Exit status: 0 when every run completed, 1 when some run failed (server did
not start, the load never completed, soak exited non-zero, no trace, the
analyzer failed: listed under FAILURES), 2 when it cannot run (tools
missing, not built, bad arguments).
"""
import argparse
import csv
import datetime
import glob
import io
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import cpu_idle, fmt_bytes, med, free_port, tail  # noqa: E402

READY_TIMEOUT = 30      # s: the server answers PING / listens (soak's default --ready-timeout)
GRACE = 10              # s: SIGTERM, then SIGKILL (soak's default --grace)


def clean_env():
    env = benchlib.clean_env()
    env["LC_ALL"] = "C"
    return env


def die(msg, code=2):
    print("soak_bench: " + msg, file=sys.stderr)
    sys.exit(code)


# --------------------------------------------------------------- processes ---

def proc_table():
    """{pid: (ppid, starttime, comm)} of every process we can read."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                s = f.read()
        except OSError:
            continue
        # comm is in parentheses and may hold spaces or parentheses itself
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        out[int(name)] = (int(rest[1]), rest[19], comm)
    return out


def descendants(root):
    """{(pid, starttime): comm} of the processes below ROOT (not ROOT)."""
    t = proc_table()
    kids = {}
    for pid, (ppid, _, _) in t.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = {}, list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in t:
            out[(pid, t[pid][1])] = t[pid][2]
            todo += kids.get(pid, [])
    return out


def still_alive(seen):
    """The entries of SEEN ({(pid, starttime): comm}) that still run (not zombies)."""
    t = proc_table()
    left = {}
    for (pid, st), comm in seen.items():
        if pid in t and t[pid][1] == st:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        continue
            except OSError:
                continue
            left[(pid, st)] = comm
    return left


def kill_seen(seen):
    """SIGKILL every process of SEEN that is still the same process."""
    for (pid, _), _ in still_alive(seen).items():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_session(proc):
    """SIGKILL the session (process group) we started PROC in, and reap PROC."""
    if proc is None or proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def slurp(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def vm_hwm(pid):
    """Peak RSS (VmHWM) of PID in bytes, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# -------------------------------------------------------------------- load ---

def load_command(args, tools, port, log):
    """The shell command of one bounded load invocation; it appends to LOG."""
    q = shlex.quote(log)
    bench = [tools["timeout"], "-s", "KILL", str(args.load_timeout), tools["bench"],
             "-h", "127.0.0.1", "-p", str(port), "-c", str(args.clients), "-P", str(args.pipeline),
             "-n", str(args.requests)]
    if args.keyspace > 0:
        bench += ["-r", str(args.keyspace)]
    bench += ["-t", args.tests, "--csv"]
    return ('echo "S $(date +%%s.%%N)" >> %s; %s >> %s 2>/dev/null; echo "E $? $(date +%%s.%%N)" >> %s'
            % (q, " ".join(shlex.quote(a) for a in bench), q, q))


def parse_load(path, args):
    """What the load log says: completed invocations, their requests and time."""
    want = sorted(t.upper() for t in args.tests.split(","))
    per_run = args.requests * len(want)
    rec = {"invocations": 0, "completed": 0, "failed": [], "requests": 0, "busy_s": 0.0,
           "bench_rps": {t: [] for t in want}}
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return rec
    start, rows = None, {}
    for line in lines:
        if line.startswith("S "):
            rec["invocations"] += 1
            start, rows = float(line.split()[1]), {}
        elif line.startswith("E ") and start is not None:
            _, status, end = line.split()
            if status == "0" and sorted(rows) == want:
                rec["completed"] += 1
                rec["requests"] += per_run
                rec["busy_s"] += float(end) - start
                for t, rps in rows.items():
                    rec["bench_rps"][t].append(rps)
            else:
                rec["failed"].append("status %s, tests %s" % (status, sorted(rows)))
            start = None
        elif start is not None and line.startswith('"') and not line.startswith('"test"'):
            r = next(csv.reader(io.StringIO(line)))
            if len(r) >= 2:
                try:
                    rows[r[0]] = float(r[1])
                except ValueError:
                    pass
    if rec["busy_s"] > 0:
        rec["rps"] = rec["requests"] / rec["busy_s"]
    return rec


def load_loop(cmd, seconds, seen):
    """Run `sh -c CMD` again and again for SECONDS; the one in flight at the
    end is killed (its session).  Returns how many were started."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        p = subprocess.Popen(["sh", "-c", cmd], env=clean_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        n += 1
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    p.wait(timeout=min(left, 1.0))
                    break
                except subprocess.TimeoutExpired:
                    seen.update(descendants(p.pid))
        finally:
            kill_session(p)
            kill_seen(seen)
        if p.returncode not in (0, -signal.SIGKILL) and time.monotonic() < deadline:
            time.sleep(0.1)     # a load that fails at once must not spin
    return n


# ------------------------------------------------------------------ server ---

def server_args(tools, port, d):
    return [tools["server"], "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", d]


def ping(tools, port):
    try:
        p = subprocess.run([tools["cli"], "-h", "127.0.0.1", "-p", str(port), "ping"],
                           capture_output=True, timeout=5, env=clean_env())
    except subprocess.TimeoutExpired:
        return False
    return p.returncode == 0 and p.stdout.strip() == b"PONG"


def run_direct(args, tools, d, seconds, shim=None):
    """The server started by us (untraced, or with LD_PRELOAD=SHIM when the
    tool has no soak command), the load loop, SIGTERM.  Returns (rec, errors)."""
    rec, errors = {"runner": "direct"}, []
    port = free_port()
    log = os.path.join(d, "load.log")
    env = clean_env()
    if shim:
        env["LD_PRELOAD"] = shim
        env["PERFSHIM_OUTPUT"] = os.path.join(d, "trace", "soak.%p.trace")
        if args.max_trace_mb is not None:
            env["PERFSHIM_MAX_TRACE_MB"] = str(args.max_trace_mb)
        for k, v in args.knobs:
            env["PERFSHIM_" + k.upper().replace("-", "_")] = v
    seen = {}
    with open(os.path.join(d, "server.log"), "wb") as out:
        srv = subprocess.Popen(server_args(tools, port, d), env=env, cwd=d, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and srv.poll() is None and not ping(tools, port):
            time.sleep(0.05)
        if srv.poll() is not None or not ping(tools, port):
            errors.append("server did not answer PING within %d s (status %s)\n%s"
                          % (READY_TIMEOUT, srv.poll(), tail(slurp(os.path.join(d, "server.log")))))
            return rec, errors
        t0 = time.monotonic()
        rec["load_started"] = load_loop(load_command(args, tools, port, log), seconds, seen)
        rec["wall_s"] = time.monotonic() - t0
        rec["vm_hwm_bytes"] = vm_hwm(srv.pid)
        if srv.poll() is not None:
            errors.append("server exited before the end of the run (status %s)" % srv.returncode)
        else:
            os.kill(srv.pid, signal.SIGTERM)
            end = time.monotonic() + GRACE
            while time.monotonic() < end:
                pid, st, ru = os.wait4(srv.pid, os.WNOHANG)
                if pid:
                    srv.returncode = os.waitstatus_to_exitcode(st)
                    rec["server_cpu_s"] = ru.ru_utime + ru.ru_stime
                    break
                time.sleep(0.05)
            else:
                errors.append("server did not exit within %d s of SIGTERM (killed)" % GRACE)
            rec["server_status"] = srv.returncode
            if srv.returncode not in (0, None):
                errors.append("server exited with status %s after SIGTERM\n%s"
                              % (srv.returncode, tail(slurp(os.path.join(d, "server.log")))))
    finally:
        kill_session(srv)
        kill_seen(seen)
    rec.update(parse_load(log, args))
    return rec, errors


def duration_arg(seconds):
    if seconds % 60 == 0:
        return "%dm" % (seconds // 60)
    if seconds == int(seconds):
        return "%ds" % seconds
    return "%dms" % round(seconds * 1000)


def run_soak(args, tools, tool, d, seconds):
    """`perfshim soak` of the server with the load.  Returns (rec, errors)."""
    rec, errors = {"runner": "perfshim soak"}, []
    port = free_port()
    log = os.path.join(d, "load.log")
    os.makedirs(os.path.join(d, "trace"))
    cmd = [tool, "soak", "--duration", duration_arg(seconds),
           "--load", load_command(args, tools, port, log),
           "-o", os.path.join(d, "trace", "soak.%p.trace")]
    if args.max_trace_mb is not None:
        cmd += ["--max-trace-mb", str(args.max_trace_mb)]
    for k, v in args.knobs:
        cmd += ["--" + k.lower().replace("_", "-"), v]
    cmd += ["--"] + server_args(tools, port, d)
    rec["command"] = cmd
    seen = {}
    out_path, err_path = os.path.join(d, "soak.out"), os.path.join(d, "soak.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(cmd, env=clean_env(), cwd=d, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, start_new_session=True)
    t0 = time.monotonic()
    limit = seconds + READY_TIMEOUT + 2 * GRACE + args.timeout
    try:
        while p.poll() is None and time.monotonic() - t0 < limit:
            seen.update(descendants(p.pid))
            time.sleep(0.5)
        rec["wall_s"] = time.monotonic() - t0
        if p.returncode is None:
            errors.append("perfshim soak still running %d s after its start (killed)" % limit)
        else:
            rec["soak_status"] = p.returncode
            if p.returncode != 0:
                errors.append("perfshim soak exited with status %d\n%s"
                              % (p.returncode, tail(slurp(err_path))))
            left = still_alive(seen)
            if left:
                errors.append("perfshim soak exited leaving processes it started running: %s (killed)"
                              % ", ".join("%d %s" % (pid, c) for (pid, _), c in sorted(left.items())))
    finally:
        kill_session(p)
        kill_seen(seen)
    with open(out_path, errors="replace") as f:
        text = f.read()
    rec["verdict_line"] = next((l.strip() for l in text.splitlines() if l.startswith("VERDICT")), None)
    if rec["verdict_line"] is None and p.returncode is not None:
        errors.append("perfshim soak printed no VERDICT line on stdout\n%s" % tail(text))
    rec.update(parse_load(log, args))
    return rec, errors


# ---------------------------------------------------------------- analysis ---

def elapsed_s(text):
    """/usr/bin/time's 'h:mm:ss' or 'm:ss.ss' in seconds."""
    s = 0.0
    for part in text.split(":"):
        s = s * 60 + float(part)
    return s


def analyze(tool, trace, timeout, d):
    """perfshim report --format json under /usr/bin/time -v: (figures, errors)."""
    tfile = os.path.join(d, "time.txt")
    cmd = ["/usr/bin/time", "-v", "-o", tfile, tool, "report", "--format", "json", trace]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env())
    except subprocess.TimeoutExpired:
        return {}, ["perfshim report timed out after %d s" % timeout]
    out, errors = {}, []
    try:
        with open(tfile) as f:
            t = f.read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
        out["analyzer_max_rss_bytes"] = int(m.group(1)) * 1024 if m else None
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t)
        out["analyzer_wall_s"] = elapsed_s(m.group(1)) if m else None
    except OSError:
        errors.append("/usr/bin/time wrote no statistics")
    if p.returncode != 0:
        return out, errors + ["perfshim report --format json: exit status %d\n%s"
                              % (p.returncode, tail(p.stderr))]
    try:
        rep = json.loads(p.stdout)
    except ValueError as e:
        return out, errors + ["perfshim report: not JSON (%s)" % e]
    if isinstance(rep, list):
        rep = rep[0] if rep else {}
    summary = rep.get("summary") or {}
    res = rep.get("resources")
    out["exit"] = (rep.get("process") or {}).get("exit")
    out["duration_s"] = (rep.get("process") or {}).get("duration_s")
    out["sampled"] = summary.get("sampled")
    out["live_at_end"] = summary.get("live_at_end")
    out["allocations"] = summary.get("allocations")
    out["leak_suspects"] = len(rep.get("leak_suspects") or [])
    if res is None:
        errors.append("perfshim report: no 'resources' in the JSON (no resource samples?)")
    else:
        out["resources"] = {k: res.get(k) for k in (
            "shim_memory_peak_bytes", "trace_bytes", "trace_bytes_per_min", "rss_start_bytes",
            "rss_peak_bytes", "rss_end_bytes", "rss_growth_bytes_per_min",
            "heap_growth_bytes_per_min", "heap_end_bytes", "verdict", "samples", "cpu_s",
            "warmup_s", "window_s", "threads_peak", "fds_peak")}
        missing = [k for k, v in out["resources"].items() if v is None]
        if missing:
            errors.append("perfshim report: resources lack %s" % ", ".join(missing))
    return out, errors


# -------------------------------------------------------------------- main ---

def has_soak(tool):
    p = subprocess.run([tool, "--help"], capture_output=True, text=True, env=clean_env())
    return re.search(r"^\s+soak\b", p.stdout + p.stderr, re.M) is not None


def knob(s):
    if "=" not in s:
        raise argparse.ArgumentTypeError("expected NAME=VALUE, e.g. sample-ms=100")
    k, v = s.split("=", 1)
    k = k.strip()
    if k.upper().startswith("PERFSHIM_"):
        k = k[9:]
    return k, v


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(prog="bench/soak_bench.sh",
                                 description="redis-server under minutes of loopback load: "
                                             "untraced vs perfshim soak")
    ap.add_argument("--minutes", type=float, default=3.0, help="length of each run (default 3)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds of untraced + traced, interleaved (default 1); ratio = median")
    ap.add_argument("--max-trace-mb", type=int, metavar="M",
                    help="PERFSHIM_MAX_TRACE_MB for the traced run (default: none, no cap)")
    ap.add_argument("--knob", type=knob, action="append", default=[], dest="knobs", metavar="NAME=VALUE",
                    help="another PERFSHIM_* knob for the traced run, e.g. sample-ms=100 (repeatable)")
    ap.add_argument("--build", "--build-dir", dest="build_dir", default=os.path.join(ROOT, "build"),
                    help="perfshim build tree (default: <repo>/build)")
    ap.add_argument("--no-build", action="store_true", help="(soak_bench.sh) do not build BUILD first")
    ap.add_argument("--requests", type=int, default=100000,
                    help="redis-benchmark -n per test and invocation (default 100000)")
    ap.add_argument("--clients", type=int, default=20, help="redis-benchmark -c (default 20)")
    ap.add_argument("--pipeline", type=int, default=1, help="redis-benchmark -P (default 1)")
    ap.add_argument("--keyspace", type=int, default=100000,
                    help="redis-benchmark -r: random keys (default 100000; 0: one key)")
    ap.add_argument("--tests", default="set,get", help="redis-benchmark -t (default set,get)")
    ap.add_argument("--load-timeout", type=int, default=60,
                    help="seconds one redis-benchmark invocation may take (timeout -s KILL; default 60)")
    ap.add_argument("--timeout", type=int, default=600,
                    help="seconds allowed to the analyzer (and to soak after its duration; default 600)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the 10 s untraced warm-up run (not counted)")
    ap.add_argument("--keep", metavar="DIR", help="keep traces, load logs and soak output under DIR")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    if args.minutes <= 0 or args.rounds < 1 or args.requests < 1 or args.clients < 1 \
            or args.pipeline < 1 or args.keyspace < 0 or args.load_timeout < 1 or args.timeout < 1:
        die("--minutes, --rounds, --requests, --clients, --pipeline, --load-timeout and --timeout "
            "must be positive")
    if args.max_trace_mb is not None and args.max_trace_mb < 0:
        die("--max-trace-mb must be >= 0")
    args.tests = ",".join(t.strip().lower() for t in args.tests.split(",") if t.strip())
    if not args.tests:
        die("--tests is empty")
    tools = {"server": shutil.which("redis-server"), "bench": shutil.which("redis-benchmark"),
             "cli": shutil.which("redis-cli"), "timeout": shutil.which("timeout")}
    missing = [n for n, k in (("redis-server", "server"), ("redis-benchmark", "bench"),
                              ("redis-cli", "cli"), ("timeout", "timeout")) if not tools[k]]
    if not os.access("/usr/bin/time", os.X_OK):
        missing.append("/usr/bin/time")
    if missing:
        die("%s not installed: run scripts/setup.sh --bench" % ", ".join(missing))
    args.build_dir = os.path.abspath(args.build_dir)
    shim, tool = benchlib.built(args.build_dir, "soak_bench")
    tmp = tempfile.mkdtemp(prefix="perfshim-soakbench-")
    try:
        return bench(args, tools, shim, tool, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(args, tools, shim, tool, tmp):
    # Snapshot: the build tree may be rebuilt while we run.  bin/ and lib/
    # side by side, so the tool finds the shim as it does in a build tree.
    snap = os.path.join(tmp, "snapshot")
    os.makedirs(os.path.join(snap, "bin"))
    os.makedirs(os.path.join(snap, "lib"))
    shutil.copy2(shim, os.path.join(snap, "lib", "libperfshim.so"))
    shutil.copy2(tool, os.path.join(snap, "bin", "perfshim"))
    print_shim = "%s, %s (copied at start)" % (shim, tool)
    shim, tool = os.path.join(snap, "lib", "libperfshim.so"), os.path.join(snap, "bin", "perfshim")
    soak = has_soak(tool)
    seconds = round(args.minutes * 60, 3)

    started = datetime.datetime.now()
    ver = subprocess.run([tools["server"], "--version"], capture_output=True, text=True).stdout.strip()
    P = print
    P("perfshim soak benchmark  %s  host %s  %d CPUs  %s"
      % (started.strftime("%Y-%m-%d %H:%M"), platform.node(), os.cpu_count() or 0, platform.platform()))
    P("%d round(s) of %g min per run, untraced then traced; throughput ratio = median of rounds"
      % (args.rounds, args.minutes))
    P("server: %s" % ver)
    P("  redis-server --port FREE --bind 127.0.0.1 --save '' --appendonly no, fresh per run")
    P("load: again and again until the time is up: timeout -s KILL %d redis-benchmark -h 127.0.0.1"
      % args.load_timeout)
    P("  -c %d -P %d -n %d%s -t %s --csv (untraced; throughput = completed invocations' requests"
      % (args.clients, args.pipeline, args.requests,
         " -r %d" % args.keyspace if args.keyspace else "", args.tests))
    P("  / their time)")
    P("perfshim: %s" % print_shim)
    cap = ("PERFSHIM_MAX_TRACE_MB=%d" % args.max_trace_mb) if args.max_trace_mb is not None else "no trace cap"
    knobs = " ".join("%s=%s" % kv for kv in args.knobs)
    if soak:
        P("traced: perfshim soak --duration %s --load '<the load>' -o <tmp>/soak.%%p.trace%s%s"
          % (duration_arg(seconds), " --max-trace-mb %d" % args.max_trace_mb
             if args.max_trace_mb is not None else "",
             "".join(" --%s %s" % (k, v) for k, v in args.knobs)))
        P("  -- redis-server ...  (%s)" % cap)
    else:
        P("traced: FALLBACK, this perfshim has no 'soak' command: LD_PRELOAD=libperfshim.so "
          "redis-server ..., load loop and SIGTERM by this script (%s%s)" % (cap, " " + knobs if knobs else ""))
    P("Noise: nothing is pinned (no taskset); server and redis-benchmark share the CPUs.")
    P("CPU idle just before the first run (other load): %s" % cpu_idle())
    P(flush=True)

    failures = []
    if not args.no_warmup:
        d = os.path.join(tmp, "warmup")
        os.makedirs(d)
        _, errs = run_direct(args, tools, d, 10)
        failures += ["warm-up (untraced): " + e for e in errs]
        shutil.rmtree(d, ignore_errors=True)

    rounds = []
    for rnd in range(args.rounds):
        r = {}
        for variant in ("untraced", "traced"):
            d = os.path.join(tmp, "r%d-%s" % (rnd + 1, variant))
            os.makedirs(d)
            if variant == "untraced":
                rec, errs = run_direct(args, tools, d, seconds)
            elif soak:
                rec, errs = run_soak(args, tools, tool, d, seconds)
            else:
                os.makedirs(os.path.join(d, "trace"))
                rec, errs = run_direct(args, tools, d, seconds, shim=shim)
                rec["runner"] = "LD_PRELOAD (fallback)"
            if rec.get("completed", 0) == 0 and not errs:
                errs.append("no redis-benchmark invocation completed (%d started; %s)"
                            % (rec.get("invocations", 0), "; ".join(rec.get("failed", [])[:3]) or "-"))
            if variant == "traced":
                traces = sorted(glob.glob(os.path.join(d, "trace", "*")), key=os.path.getsize)
                rec["trace_files"] = len(traces)
                if not traces:
                    errs.append("no trace file written")
                else:
                    if len(traces) > 1:
                        errs.append("%d trace files, expected 1 (the server's): %s"
                                    % (len(traces), ", ".join(os.path.basename(t) for t in traces)))
                    trace = traces[-1]
                    rec["trace_bytes_file"] = os.path.getsize(trace)
                    rec["trace_bytes_per_min_file"] = rec["trace_bytes_file"] / args.minutes
                    fig, aerrs = analyze(tool, trace, args.timeout, d)
                    rec.update(fig)
                    errs += aerrs
            for e in errs:
                failures.append("round %d %s: %s" % (rnd + 1, variant, e))
            r[variant] = rec
            P("round %d/%d %-8s %s  (%s, %d of %d redis-benchmark runs completed, %.0f%% of the time "
              "under load)%s" % (rnd + 1, args.rounds, variant,
                                 "%.0f req/s" % rec["rps"] if rec.get("rps") else "no throughput",
                                 rec.get("runner", "direct"), rec.get("completed", 0),
                                 rec.get("invocations", 0), 100 * rec.get("busy_s", 0) / seconds,
                                 "  FAILED" if errs else ""), flush=True)
            if args.keep:
                dst = os.path.join(args.keep, "r%d-%s" % (rnd + 1, variant))
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(d, dst)
            shutil.rmtree(d, ignore_errors=True)
        rounds.append(r)

    summary = report(args, rounds, soak, failures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started.isoformat(), "host": platform.node(), "server": ver,
                       "minutes": args.minutes, "runner": "perfshim soak" if soak else "LD_PRELOAD (fallback)",
                       "max_trace_mb": args.max_trace_mb, "knobs": dict(args.knobs),
                       "load": {"clients": args.clients, "pipeline": args.pipeline,
                                "requests": args.requests, "keyspace": args.keyspace,
                                "tests": args.tests, "load_timeout": args.load_timeout},
                       "summary": summary, "rounds": rounds, "failures": failures},
                      f, indent=1, default=str)
    return 1 if failures else 0


def signed_rate(x):
    if x is None:
        return "n/a"
    return ("+" if x >= 0 else "-") + fmt_bytes(abs(x)) + "/min"


def report(args, rounds, soak, failures):
    P = print
    U = [r["untraced"] for r in rounds]
    T = [r["traced"] for r in rounds]
    ratios = [t["rps"] / u["rps"] for u, t in zip(U, T) if u.get("rps") and t.get("rps")]

    def res(key):
        return [t["resources"].get(key) for t in T if t.get("resources")]

    def brange(xs, f=fmt_bytes):
        xs = [x for x in xs if x is not None]
        if not xs:
            return "n/a"
        if len(xs) == 1:
            return f(xs[0])
        return "%s [%s..%s]" % (f(med(xs)), f(min(xs)), f(max(xs)))

    def rate(x):
        return fmt_bytes(x) + "/min"

    def secs(x):
        return "%.2f s" % x

    def rps(x):
        return "%.0f" % x

    s = {"throughput_untraced_rps": med([u.get("rps") for u in U]),
         "throughput_traced_rps": med([t.get("rps") for t in T]),
         "throughput_ratio": med(ratios),
         "trace_bytes": med([t.get("trace_bytes_file") for t in T]),
         "trace_bytes_per_min": med([t.get("trace_bytes_per_min_file") for t in T]),
         "report_trace_bytes_per_min": med(res("trace_bytes_per_min")),
         "shim_memory_peak_bytes": med(res("shim_memory_peak_bytes")),
         "rss_growth_bytes_per_min": med(res("rss_growth_bytes_per_min")),
         "heap_growth_bytes_per_min": med(res("heap_growth_bytes_per_min")),
         "rss_peak_bytes_traced": med(res("rss_peak_bytes")),
         "vm_hwm_bytes_untraced": med([u.get("vm_hwm_bytes") for u in U]),
         "verdicts": [t.get("resources", {}).get("verdict") for t in T],
         "analyzer_wall_s": med([t.get("analyzer_wall_s") for t in T]),
         "analyzer_max_rss_bytes": med([t.get("analyzer_max_rss_bytes") for t in T])}

    rows = []

    def row(cells):
        rows.append(cells)
    P()
    P("=" * 100)
    P("SOAK: redis-server, %g min per run, %d round(s); traced by %s; %s"
      % (args.minutes, args.rounds, "perfshim soak" if soak else "LD_PRELOAD (FALLBACK: no soak command)",
         ("PERFSHIM_MAX_TRACE_MB=%d" % args.max_trace_mb) if args.max_trace_mb is not None else "no trace cap"))
    P("medians [min..max] over rounds where there are several")
    row(("", "untraced", "traced"))
    row(("throughput, requests/s", brange([u.get("rps") for u in U], rps),
                         brange([t.get("rps") for t in T], rps)))
    row(("throughput ratio traced/untraced",
                   brange(ratios, lambda x: "%.3f" % x)
                   + ("  (per round: %s)" % ", ".join("%.3f" % x for x in ratios) if len(ratios) > 1 else "")))
    row(("server RSS peak", brange([u.get("vm_hwm_bytes") for u in U]) + " (VmHWM)",
                         brange(res("rss_peak_bytes")) + " (report rss_peak_bytes)"))
    row(("server CPU", brange([u.get("server_cpu_s") for u in U], secs) + " (wait4)",
                         brange(res("cpu_s"), secs) + " (report cpu_s)"))
    row(("trace size", "", brange([t.get("trace_bytes_file") for t in T])))
    row(("trace bytes per minute (size/min)", "",
                         brange([t.get("trace_bytes_per_min_file") for t in T], rate)
                         + "   (report: %s)" % brange(res("trace_bytes_per_min"), rate)))
    row(("shim memory peak (report)", "", brange(res("shim_memory_peak_bytes"))))
    row(("RSS growth (report)", "", brange(res("rss_growth_bytes_per_min"), signed_rate)))
    row(("heap growth (report)", "", brange(res("heap_growth_bytes_per_min"), signed_rate)))
    row(("verdict (report)", "", ", ".join(str(v) for v in s["verdicts"])))
    row(("samples / warm-up / window (report)", "",
                         ", ".join("%s / %s s / %s s" % (t["resources"].get("samples"), t["resources"].get("warmup_s"),
                                                          t["resources"].get("window_s"))
                                   for t in T if t.get("resources")) or "n/a"))
    row(("sampled / live_at_end / suspects", "",
                         ", ".join("%s / %s / %s" % (t.get("sampled"), t.get("live_at_end"), t.get("leak_suspects"))
                                   for t in T if "exit" in t) or "n/a"))
    row(("process exit (report)", "", ", ".join(str(t.get("exit")) for t in T if "exit" in t) or "n/a"))
    row(("analyzer: report --format json", "",
                         "%s wall, max RSS %s (/usr/bin/time -v)"
                         % (brange([t.get("analyzer_wall_s") for t in T], secs),
                            brange([t.get("analyzer_max_rss_bytes") for t in T]))))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows if len(r) == 3)
    for r in rows:
        if len(r) == 3:
            P(("%-*s  %-*s  %s" % (w0, r[0], w1, r[1], r[2])).rstrip())
        else:
            P("%-*s  %s" % (w0, r[0], r[1]))
    for i, t in enumerate(T):
        if t.get("verdict_line"):
            P("soak's report, round %d: %s" % (i + 1, t["verdict_line"]))
    if failures:
        P()
        P("FAILURES (%d) -- a run without throughput is left out of the figures" % len(failures))
        for f in failures:
            P("  - " + f)
    else:
        P("all runs completed")
    return s


if __name__ == "__main__":
    sys.exit(main())
