#!/usr/bin/env python3
"""perfshim CPU-sampling benchmark: perfshim's sampler vs gperftools' CPU profiler.

Run through bench/cpu_bench.sh (it builds BUILD first); docs/benchmarks.md,
section "CPU sampling overhead".  Python 3 standard library only.

    bench/cpu_bench.sh [-n 5] [--rates 99,999] [--workloads a,b] [--build DIR] [--json FILE]
    (--help lists them all)

Real CPU-bound programs, each run in every configuration below, interleaved
round-robin (the configuration order rotates every round), N rounds; the
figures are medians of the rounds:

  (a) xz -9 -T1 -c INPUT: INPUT is generated text (seeded PRNG, --xz-mb MiB,
      ~0.7 s per MiB here); xz makes a few hundred allocations in all, so
      its overhead is the sampler's alone;
  (b) PYTHONMALLOC=malloc /usr/bin/python3 bench/workload_json.py RECORDS
      (overhead.sh's workload (b)): millions of malloc/free from deep
      CPython stacks, so allocation tracing and sampling compete;
  (c) (not in the default set) sqlite3 -readonly DB 'sorts, GROUP BY, string
      functions' over a generated 200,000-row table: deep C stacks and
      about 1.9M allocation events.

Configurations, for each rate HZ of --rates (default 99 and 999):

  untraced        the program alone
  perfshim@0      LD_PRELOAD=libperfshim.so PERFSHIM_CPU_HZ=0: allocation
                  tracing without CPU sampling, the baseline of the
                  sampler's own cost
  perfshim@HZ     the same with PERFSHIM_CPU_HZ=HZ
  gperftools@HZ   LD_PRELOAD=libprofiler.so.0 CPUPROFILE=FILE
                  CPUPROFILE_FREQUENCY=HZ (Debian's libgoogle-perftools4)

Measured per run: wall time, CPU time (user+sys, rusage of the child from
wait4), peak RSS, the size of the trace / profile, and the samples:
perfshim's from `perfshim report --format json TRACE` (cpu.samples, a
weighted count: one timer signal that passed k sampling points counts k),
gperftools' by reading its profile (the sum of the per-stack counts; its
period is in the header), cross-checked on the last round against
`google-pprof --text` ("Total: N samples") when google-pprof is installed.
The program's standard output must be byte-identical (sha256) in every run
and configuration to the untraced warm-up run's, so every configuration does
the same work.

Printed: a table of medians [min..max] per workload and configuration, the
ratios perfshim@HZ / untraced, perfshim@HZ / perfshim@0 and gperftools@HZ /
untraced (of medians, wall and CPU), added CPU per sample, samples per
CPU-second (an expected HZ; gperftools' setitimer is capped at the kernel's
tick rate), and how busy the machine was meanwhile, per round and in all:
the CPU share of other processes (/proc/stat busy time less ours) and steal
time (the hypervisor running something else on our virtual CPUs).  A run
that overruns --timeout is examined before it is killed: its threads' states
and wait channels, and their stacks (eu-stack, else gdb), printed under
FAILURES.  No figure is compared with a threshold.

Exit status: 0 when every run completed, 1 when some run failed (crash,
non-zero exit, timeout, output differing from the untraced run, no trace or
profile, the analyzer failed: listed under FAILURES), 2 when it cannot run
(not built, tools missing, bad arguments).
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import cpu_idle, fmt_bytes, med, tail  # noqa: E402
from overhead import Result, keep, run as overhead_run  # noqa: E402  (a run's outcome and its describe(); --keep copies)

GPERF_DEFAULT = "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"
SETUP_HINT = "scripts/setup.sh --bench installs it (xz-utils, libgoogle-perftools4)"

SQLITE_QUERY = (
    "PRAGMA temp_store=MEMORY;"
    " SELECT k, count(*), sum(length(s)), max(upper(s)), length(group_concat(substr(s,6,4),''))"
    "  FROM (SELECT k, s FROM t ORDER BY substr(s,10) || id DESC) GROUP BY k ORDER BY 2 DESC, 1 LIMIT 3;"
    " SELECT count(DISTINCT lower(s) || k), sum(instr(s, '7')) FROM t;"
    " SELECT count(*) FROM (SELECT replace(s, '0', 'zz') AS r FROM t ORDER BY r LIMIT 100000 OFFSET 5);")


def clean_env():
    return benchlib.clean_env(("PYTHONMALLOC", "CPUPROFILE", "CPUPROFILE_FREQUENCY",
                               "CPUPROFILE_REALTIME", "CPUPROFILESIGNAL", "CPUPROFILE_PER_THREAD_TIMERS"))


def die(msg, code=2):
    print("cpu_bench: " + msg, file=sys.stderr)
    sys.exit(code)


def hang_report(pid, path):
    """What a process that overran its time is doing: per thread its state and
    kernel wait channel, then every thread's user stack (eu-stack, else gdb)."""
    lines = []
    try:
        tids = sorted(os.listdir("/proc/%d/task" % pid), key=int)
    except OSError as e:
        tids = []
        lines.append("cannot list threads: %s" % e)
    for t in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                st = f.read()
            with open("/proc/%d/task/%s/wchan" % (pid, t)) as f:
                wchan = f.read().strip()
            comm = st[st.index("(") + 1:st.rindex(")")]
            f = st[st.rindex(")") + 2:].split()
            lines.append("thread %s (%s): state %s, wchan %s, utime %s stime %s ticks"
                         % (t, comm, f[0], wchan or "-", f[11], f[12]))
        except (OSError, ValueError, IndexError) as e:
            lines.append("thread %s: %s" % (t, e))
    for cmd in (["eu-stack", "-p", str(pid)],
                ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"]):
        if shutil.which(cmd[0]):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                lines.append("$ " + " ".join(cmd))
                lines.append((r.stdout + r.stderr).strip())
                break
            except subprocess.TimeoutExpired:
                lines.append("$ %s: timed out" % " ".join(cmd))
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return text


def run(cmd, env, workdir, timeout):
    """overhead.run, and a run that overruns TIMEOUT is examined first
    (hang_report, into WORKDIR/hang.txt and res.hang)."""
    def examine(pid, res):
        res.hang = hang_report(pid, os.path.join(workdir, "hang.txt"))
    res = overhead_run(cmd, env, workdir, timeout, on_timeout=examine)
    if not hasattr(res, "hang"):
        res.hang = None
    return res


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def kernel_hz():
    """The kernel's tick rate (CONFIG_HZ: CPU-time timers fire at ticks), or None:
    from /boot/config-*, else two reads of /proc/timer_list (root only) 0.2 s apart."""
    try:
        with open("/boot/config-" + platform.release()) as f:
            m = re.search(r"^CONFIG_HZ=(\d+)", f.read(), re.M)
            if m:
                return int(m.group(1))
    except OSError:
        pass

    def sample():
        with open("/proc/timer_list") as f:
            head = f.read(4096)
        return (int(re.search(r"^now at (\d+) nsecs", head, re.M).group(1)),
                int(re.search(r"^jiffies: (\d+)", head, re.M).group(1)))
    try:
        t0, j0 = sample()
        time.sleep(0.2)
        t1, j1 = sample()
    except (OSError, AttributeError, ValueError):
        return None
    hz = (j1 - j0) * 1e9 / max(1, t1 - t0)
    return min((100, 250, 300, 1000), key=lambda h: abs(h - hz))


def machine_ticks():
    """(all, idle, steal) jiffies of the machine (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0), v[7] if len(v) > 7 else 0
    except (OSError, ValueError, IndexError):
        return None


def our_cpu():
    """CPU seconds of this script and every child it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def other_load(a, b):
    """Between A and B, each (monotonic time, machine_ticks(), our_cpu()): the
    fractions of the machine's CPU time that other processes used (busy time
    less ours: targets, analyzers, this script) and that the hypervisor took
    from our virtual CPUs (steal), as {"other": x, "steal": y}, or None."""
    (t0, m0, o0), (t1, m1, o1) = a, b
    if not m0 or not m1 or t1 <= t0 or m1[0] <= m0[0]:
        return None
    hz, cap = float(os.sysconf("SC_CLK_TCK")), (t1 - t0) * (os.cpu_count() or 1)
    steal_s = (m1[2] - m0[2]) / hz
    busy_s = ((m1[0] - m0[0]) - (m1[1] - m0[1])) / hz - steal_s
    return {"other": max(0.0, (busy_s - (o1 - o0)) / cap), "steal": max(0.0, steal_s / cap)}


def fmt_load(x):
    if x is None:
        return "unknown"
    return "other processes %.0f%%, steal %.0f%%%s" % (
        100 * x["other"], 100 * x["steal"],
        "  (busy: expect noisy figures)" if x["other"] > 0.1 or x["steal"] > 0.05 else "")


def version_of(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def deb_version(pkg):
    v = version_of(["dpkg-query", "-W", "-f=${Version}", pkg])
    return v if v and "no packages" not in v.lower() else "unknown"


# ------------------------------------------------------------------ inputs ---

def make_text(path, size):
    """SIZE bytes of text from a seeded PRNG: 5000 made-up words, 12 a line,
    and a 32-bit number per line (xz -9 packs it to about 40%)."""
    r = random.Random(12345)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(r.choice(letters) for _ in range(r.randint(2, 10))) for _ in range(5000)]
    n = 0
    with open(path, "w") as f:
        while n < size:
            line = " ".join(r.choice(vocab) for _ in range(12)) + " %d\n" % r.getrandbits(32)
            line = line[:size - n]
            f.write(line)
            n += len(line)


def make_db(sqlite3, path, rows):
    sql = ("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT);"
           " WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<%d)"
           " INSERT INTO t SELECT x, (x*7919)%%1009, printf('name-%%08d-%%s', (x*104729)%%1000003, hex(x*x))"
           " FROM c;" % rows)
    r = subprocess.run([sqlite3, path, sql], capture_output=True, text=True, env=clean_env())
    if r.returncode != 0:
        die("cannot generate the sqlite3 database:\n%s" % tail(r.stderr))


# ------------------------------------------------------------ gperftools ---

def parse_gperf(path):
    """gperftools' legacy CPU profile: (samples, period_us), or None if it is not one.
    Machine words: header 0, 3, 0, period, 0; records count, depth, pc...;
    trailer 0, 1, 0; then /proc/self/maps as text."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    n = len(data) // 8

    def w(i):
        return struct.unpack_from("<Q", data, 8 * i)[0]
    if n < 8 or w(0) != 0 or w(1) < 3:
        return None
    period = w(3)
    i, samples = 2 + w(1), 0
    while i + 1 < n:
        count, depth = w(i), w(i + 1)
        if count == 0 and depth == 1:           # trailer
            return samples, period
        if i + 2 + depth > n:
            return None
        samples += count
        i += 2 + depth
    return None


def pprof_total(pprof, binary, profile, timeout):
    """google-pprof --text's "Total: N samples", or an error string."""
    try:
        r = subprocess.run([pprof, "--text", binary, profile], capture_output=True, text=True,
                           timeout=timeout, env=clean_env())
    except subprocess.TimeoutExpired:
        return "google-pprof timed out"
    m = re.search(r"^Total: (\d+) samples", r.stdout, re.M)
    return int(m.group(1)) if m else "no 'Total:' line (%s)" % (r.stderr.strip().splitlines() or ["?"])[-1]


# ------------------------------------------------------------------- main ---

class Config:
    def __init__(self, kind, hz=None):
        self.kind, self.hz = kind, hz
        self.name = kind if hz is None else "%s@%d" % (kind, hz)


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `| head` ends us quietly
    ap = argparse.ArgumentParser(prog="bench/cpu_bench.sh",
                                 description="CPU sampling overhead: untraced vs perfshim "
                                             "(PERFSHIM_CPU_HZ) vs gperftools' CPU profiler")
    ap.add_argument("-n", "--runs", type=int, default=5, help="rounds (median), default 5")
    ap.add_argument("--rates", default="99,999", help="sampling rates, Hz (default 99,999)")
    ap.add_argument("--workloads", default="a,b",
                    help="a (xz), b (python3), c (sqlite3), comma-separated (default a,b)")
    ap.add_argument("--build", "--build-dir", dest="build_dir", default=os.path.join(ROOT, "build"),
                    help="perfshim build tree (default: <repo>/build)")
    ap.add_argument("--no-build", action="store_true", help="(cpu_bench.sh) do not build BUILD first")
    ap.add_argument("--xz-mb", type=float, default=3.0,
                    help="(a) size of the generated xz input, MiB (default 3: ~2 s here)")
    ap.add_argument("--records", type=int, default=25000,
                    help="(b) workload_json.py records (default 25000: ~1.3 s here)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="(b) interpreter: a real ELF binary, not a pyenv shim script "
                         "(default /usr/bin/python3)")
    ap.add_argument("--rows", type=int, default=200000, help="(c) rows of the generated table (default 200000)")
    ap.add_argument("--gperftools", default=GPERF_DEFAULT,
                    help="gperftools' libprofiler (default %s)" % GPERF_DEFAULT)
    ap.add_argument("--no-gperftools", action="store_true", help="skip the gperftools configurations")
    ap.add_argument("--timeout", type=float, default=60,
                    help="seconds per run (default 60; a run takes ~5 s) before it is examined "
                         "(thread states, eu-stack or gdb backtraces: printed under FAILURES) and killed")
    ap.add_argument("--keep", metavar="DIR", help="keep the last round's traces and profiles in DIR")
    ap.add_argument("--json", metavar="FILE", help="also write all figures as JSON")
    args = ap.parse_args()
    try:
        rates = sorted({int(x) for x in args.rates.split(",") if x.strip()})
    except ValueError:
        die("--rates takes comma-separated integers, e.g. 99,999")
    if not rates or any(r < 1 or r > 10000 for r in rates):
        die("--rates: each rate must be 1..10000 (PERFSHIM_CPU_HZ's range; 0 is always run)")
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if not workloads or any(w not in ("a", "b", "c") for w in workloads) or len(set(workloads)) != len(workloads):
        die("--workloads takes a, b and/or c, comma-separated")
    if args.runs < 1 or args.xz_mb <= 0 or args.records < 1 or args.rows < 1 or args.timeout <= 0:
        die("-n, --xz-mb, --records, --rows and --timeout must be positive")

    tools = {"xz": shutil.which("xz"), "sqlite3": shutil.which("sqlite3"),
             "pprof": shutil.which("google-pprof")}
    missing = []
    if "a" in workloads and not tools["xz"]:
        missing.append("xz (package xz-utils)")
    if "c" in workloads and not tools["sqlite3"]:
        missing.append("sqlite3 (package sqlite3; scripts/setup.sh --test installs it)")
    if "b" in workloads and not os.access(args.python, os.X_OK):
        missing.append("python interpreter %s (--python)" % args.python)
    if not args.no_gperftools and not os.access(args.gperftools, os.R_OK):
        missing.append("%s (package libgoogle-perftools4; or --no-gperftools)" % args.gperftools)
    if missing:
        die("not installed: %s.\n%s" % ("; ".join(missing), SETUP_HINT))
    args.build_dir = os.path.abspath(args.build_dir)
    shim, tool = benchlib.built(args.build_dir, "cpu_bench")

    configs = [Config("untraced"), Config("perfshim", 0)] + [Config("perfshim", hz) for hz in rates]
    if not args.no_gperftools:
        configs += [Config("gperftools", hz) for hz in rates]

    tmp = tempfile.mkdtemp(prefix="perfshim-cpubench-")
    try:
        return bench(args, workloads, rates, configs, tools, shim, tool, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(args, workloads, rates, configs, tools, shim, tool, tmp):
    # Snapshot: the build tree may be rebuilt while we run.
    snap = os.path.join(tmp, "snapshot")
    os.makedirs(os.path.join(snap, "bin"))
    os.makedirs(os.path.join(snap, "lib"))
    shutil.copy2(shim, os.path.join(snap, "lib", "libperfshim.so"))
    shutil.copy2(tool, os.path.join(snap, "bin", "perfshim"))
    shown_shim = "%s, %s (copied at start)" % (shim, tool)
    shim, tool = os.path.join(snap, "lib", "libperfshim.so"), os.path.join(snap, "bin", "perfshim")
    base_env = clean_env()

    wl = {}
    if "a" in workloads:
        inp = os.path.join(tmp, "xz-input.txt")
        make_text(inp, int(args.xz_mb * 1024 * 1024))
        wl["a"] = {"cmd": [tools["xz"], "-9", "-T1", "-c", inp], "env": {}, "name": "xz",
                   "desc": "xz -9 -T1 -c INPUT (%s of generated text, seeded; %s)"
                           % (fmt_bytes(os.path.getsize(inp)), version_of([tools["xz"], "--version"]))}
    if "b" in workloads:
        wl["b"] = {"cmd": [args.python, os.path.join(HERE, "workload_json.py"), str(args.records)],
                   "env": {"PYTHONMALLOC": "malloc"}, "name": "python3",
                   "desc": "PYTHONMALLOC=malloc %s bench/workload_json.py %d (%s)"
                           % (args.python, args.records, version_of([args.python, "--version"]))}
    if "c" in workloads:
        db = os.path.join(tmp, "bench.db")
        make_db(tools["sqlite3"], db, args.rows)
        wl["c"] = {"cmd": [tools["sqlite3"], "-readonly", db, SQLITE_QUERY], "env": {}, "name": "sqlite3",
                   "desc": "sqlite3 -readonly DB QUERY (%d generated rows, %s; sorts, GROUP BY, "
                           "string functions; sqlite %s)"
                           % (args.rows, fmt_bytes(os.path.getsize(db)),
                              version_of([tools["sqlite3"], "--version"]).split(" ")[0])}

    khz = kernel_hz()
    started = datetime.datetime.now()
    meta = {"started": started.isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "platform": platform.platform(), "kernel_config_hz": khz,
            "runs": args.runs, "rates": rates, "configs": [c.name for c in configs],
            "perfshim": shown_shim, "gperftools": None if args.no_gperftools else
            "%s (libgoogle-perftools4 %s)" % (args.gperftools, deb_version("libgoogle-perftools4")),
            "workloads": {k: {"cmd": v["cmd"], "env": v["env"], "desc": v["desc"]} for k, v in wl.items()}}
    print("perfshim CPU sampling benchmark  %s  host %s  %d CPUs  %s"
          % (started.strftime("%Y-%m-%d %H:%M"), platform.node(), os.cpu_count() or 0, platform.platform()))
    print("%d rounds, interleaved round-robin (configuration order rotated each round); medians [min..max]"
          % args.runs)
    print("configurations: %s" % ", ".join(c.name for c in configs))
    print("perfshim: %s" % shown_shim)
    if meta["gperftools"]:
        print("gperftools: %s, CPUPROFILE=FILE CPUPROFILE_FREQUENCY=HZ" % meta["gperftools"])
    print("kernel tick: CONFIG_HZ=%s (CPU-time timers fire at ticks)" % (khz or "unknown"))
    for k, v in wl.items():
        print("workload (%s): %s" % (k, v["desc"]))
    print("Noise: nothing is pinned (no taskset); other load on the machine shows as spread.")
    idle_before = cpu_idle()
    print("CPU idle just before the first run (other load): %s" % idle_before)
    print(flush=True)

    data = {w: {c.name: [] for c in configs} for w in wl}
    failures = []
    reference = {}
    pprof_check = {}

    # Warm-up (page cache, imports): one untraced run each, not counted; its output is the reference.
    for w, spec in wl.items():
        d = os.path.join(tmp, "warmup-" + w)
        os.makedirs(d)
        r = run(spec["cmd"], dict(base_env, **spec["env"]), d, args.timeout)
        if not r.ok():
            die("(%s) the untraced warm-up run failed: %s\n%s" % (w, r.describe(), tail(r.stderr)))
        out = os.path.join(d, "stdout.txt")
        reference[w] = (sha256(out), os.path.getsize(out))
        shutil.rmtree(d, ignore_errors=True)

    t0 = time.monotonic()
    ticks0, ours0 = machine_ticks(), our_cpu()
    round_load = []
    for rnd in range(args.runs):
        r0 = (time.monotonic(), machine_ticks(), our_cpu())
        k = rnd % len(configs)
        order = configs[k:] + configs[:k]
        last = rnd == args.runs - 1
        for w, spec in wl.items():
            for c in order:
                d = os.path.join(tmp, "r%d-%s-%s" % (rnd, w, c.name.replace("@", "-")))
                os.makedirs(d)
                rec = one_run(args, spec, c, shim, tool, base_env, reference[w], d,
                              "(%s) %s round %d" % (w, c.name, rnd + 1), failures)
                rec["round"] = rnd + 1
                data[w][c.name].append(rec)
                if last and c.kind == "gperftools" and rec.get("files") and tools["pprof"]:
                    prof = rec["files"][0]
                    pprof_check[(w, c.name)] = {
                        "google_pprof_total": pprof_total(tools["pprof"], os.path.realpath(spec["cmd"][0]),
                                                          prof, args.timeout),
                        "parsed": rec.get("samples")}
                if last and args.keep and rec.get("files"):
                    keep(args.keep, rec["files"], "%s-%s" % (w, c.name.replace("@", "-")))
                if not last:
                    shutil.rmtree(d, ignore_errors=True)
        load = other_load(r0, (time.monotonic(), machine_ticks(), our_cpu()))
        round_load.append(load)
        print("round %d/%d done (%.0f s elapsed; meanwhile %s)"
              % (rnd + 1, args.runs, time.monotonic() - t0, fmt_load(load)), flush=True)
    elapsed = time.monotonic() - t0
    meta.update({"elapsed_s": round(elapsed, 1), "cpu_idle_before": idle_before,
                 "other_load": other_load((t0, ticks0, ours0),
                                                   (time.monotonic(), machine_ticks(), our_cpu())),
                 "other_load_per_round": round_load})

    summary = report(args, wl, rates, configs, data, reference, pprof_check, failures, meta, khz)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "runs": data, "summary": summary,
                       "google_pprof_check": {"%s %s" % k: v for k, v in pprof_check.items()},
                       "reference_output": {w: {"sha256": s, "bytes": n} for w, (s, n) in reference.items()},
                       "failures": failures}, f, indent=1, default=str)
        print("figures written to %s" % args.json)
    return 1 if failures else 0


NOTED = []     # the "no cpu section" note is printed once


def one_run(args, spec, c, shim, tool, base_env, ref, d, label, failures):
    env = dict(base_env, **spec["env"])
    out_dir = os.path.join(d, "out")
    os.makedirs(out_dir)
    if c.kind == "perfshim":
        env.update({"LD_PRELOAD": shim, "PERFSHIM_CPU_HZ": str(c.hz),
                    "PERFSHIM_OUTPUT": os.path.join(out_dir, "perfshim.%p.trace")})
    elif c.kind == "gperftools":
        env.update({"LD_PRELOAD": args.gperftools, "CPUPROFILE": os.path.join(out_dir, "cpu.prof"),
                    "CPUPROFILE_FREQUENCY": str(c.hz)})
    rec = {}
    r = run(spec["cmd"], env, d, args.timeout)
    if not r.ok():
        msg = "%s: %s\n%s" % (label, r.describe(), tail(r.stderr))
        if r.hang:
            rec["hang_report"] = r.hang
            lines = r.hang.rstrip().splitlines()
            msg += ("\n    what it was doing when it was killed (also in --json, hang_report;"
                    " --keep DIR keeps it with the trace):\n"
                    + "\n".join("      | " + x for x in lines[:150])
                    + ("\n      | ... (%d more lines)" % (len(lines) - 150) if len(lines) > 150 else ""))
            if args.keep:
                keep(args.keep, [os.path.join(d, "hang.txt")] + glob.glob(os.path.join(out_dir, "*")),
                     "hung-%s" % label.replace(" ", "_").replace("(", "").replace(")", ""))
        failures.append(msg)
        return rec
    rec.update({"wall": r.wall, "cpu": r.cpu, "maxrss_kb": r.maxrss_kb})
    out = os.path.join(d, "stdout.txt")
    digest, size = sha256(out), os.path.getsize(out)
    rec["output_sha256"] = digest
    if (digest, size) != ref:
        rec["output_differs"] = True
        failures.append("%s: program output differs from the untraced warm-up run's "
                        "(%d bytes, sha256 %s.. against %d bytes, %s..)"
                        % (label, size, digest[:12], ref[1], ref[0][:12]))
    if c.kind == "untraced":
        return rec

    files = sorted(glob.glob(os.path.join(out_dir, "*")), key=os.path.getsize, reverse=True)
    rec["files"] = files
    if not files:
        failures.append("%s: no %s written\n%s" % (label, "trace" if c.kind == "perfshim" else "profile",
                                                  tail(r.stderr)))
        return rec
    rec["size"] = sum(os.path.getsize(f) for f in files)
    rec["nfiles"] = len(files)
    if c.kind == "gperftools":
        samples, period = 0, None
        for f in files:
            p = parse_gperf(f)
            if p is None:
                if os.path.getsize(f):        # an empty file is what it leaves for a child it did not profile
                    failures.append("%s: %s is not a gperftools CPU profile" % (label, os.path.basename(f)))
                continue
            samples += p[0]
            period = p[1]
        rec["samples"] = samples
        rec["period_us"] = period
        return rec

    samples = dropped = allocations = None
    for f in files:
        a = run([tool, "report", "--format", "json", f], base_env, d, args.timeout)
        if not a.ok():
            failures.append("%s: `perfshim report --format json %s` %s\n%s"
                            % (label, os.path.basename(f), a.describe(), tail(a.stderr)))
            continue
        try:
            rep = json.loads(a.stdout)
        except ValueError as e:
            failures.append("%s: report is not valid JSON: %s" % (label, e))
            continue
        rec["report_wall"] = rec.get("report_wall", 0.0) + a.wall
        s = rep.get("summary", {})
        allocations = (allocations or 0) + s.get("allocations", 0) + s.get("reallocations", 0)
        cpu = rep.get("cpu")
        if cpu is not None:
            samples = (samples or 0) + int(cpu.get("samples", 0))
            dropped = (dropped or 0) + int(cpu.get("dropped", 0))
            rec["report_hz"] = cpu.get("hz")
            rec["report_cpu_seconds"] = (rec.get("report_cpu_seconds") or 0) + cpu.get("cpu_seconds", 0)
        if rep.get("process", {}).get("trace_truncated"):
            rec["truncated"] = True
    rec.update({"samples": samples, "dropped": dropped, "allocations": allocations})
    if c.hz and samples is None and not NOTED:
        NOTED.append(label)
        print("note: %s: the report has no \"cpu\" section: this shim does not sample CPU "
              "(PERFSHIM_CPU_HZ ignored); sample columns stay empty" % label, flush=True)
    if c.hz == 0 and samples:
        failures.append("%s: PERFSHIM_CPU_HZ=0 but the report counts %d CPU samples" % (label, samples))
    return rec


# ----------------------------------------------------------------- report ---

def col(recs, key):
    return [r.get(key) for r in recs]


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(x):
    return "%.3f" % x if x is not None else "n/a"


def report(args, wl, rates, configs, data, reference, pprof_check, failures, meta, khz):
    P = print
    summary = {}
    P()
    P("=" * 110)
    P("MEDIANS [min..max] of %d rounds. CPU = user+sys of the program (wait4 rusage), the shim's and"
      % args.runs)
    P("profiler's own threads included. samples: perfshim's report cpu.samples (weighted: one signal")
    P("standing for k sampling points counts k); gperftools' profile, summed. /CPU-s = samples / median CPU.")
    for w, spec in wl.items():
        P()
        P("(%s) %s   output %s, identical in every run: %s"
          % (w, spec["desc"], fmt_bytes(reference[w][1]),
             "no" if any(r.get("output_differs") for c in configs for r in data[w][c.name]) else "yes"))
        P("  %-16s %-22s %-22s %-11s %-17s %-8s %s"
          % ("config", "wall s", "CPU s", "peak RSS", "trace/profile", "samples", "/CPU-s"))
        summary[w] = {}
        for c in configs:
            recs = data[w][c.name]
            m = {k: med(col(recs, k)) for k in ("wall", "cpu", "maxrss_kb", "size", "samples", "dropped",
                                                "allocations", "report_wall")}
            m["completed"] = sum(1 for r in recs if r.get("wall") is not None)
            summary[w][c.name] = m
            per_cpu = ratio(m["samples"], m["cpu"])
            m["samples_per_cpu_s"] = per_cpu
            P("  %-16s %-22s %-22s %-11s %-17s %-8s %s"
              % (c.name, benchlib.fmt_range(col(recs, "wall"), "%.3f"),
                 benchlib.fmt_range(col(recs, "cpu"), "%.3f"),
                 fmt_bytes(m["maxrss_kb"] * 1024) if m["maxrss_kb"] else "n/a",
                 fmt_bytes(m["size"]) if m["size"] is not None else "-",
                 "%d" % m["samples"] if m["samples"] is not None else "-",
                 "%.1f" % per_cpu if per_cpu is not None else "-"))

    P()
    P("RATIOS of medians, wall / CPU (1.000 = no cost). perfshim@HZ / perfshim@0 is the sampler's own")
    P("cost on top of allocation tracing. Added CPU per sample: perfshim (CPU@HZ - CPU@0) / samples,")
    P("gperftools (CPU@HZ - CPU untraced) / samples; microseconds, noisy when the difference is small.")
    P("  %-12s %-6s %-26s %-26s %-26s %s" % ("workload", "HZ", "perfshim@HZ / untraced",
                                             "perfshim@HZ / perfshim@0", "gperftools@HZ / untraced",
                                             "added CPU/sample: perfshim, gperftools"))
    ratios = {}
    for w, spec in wl.items():
        s = summary[w]
        u, p0 = s["untraced"], s["perfshim@0"]
        ratios[w] = {}
        for hz in rates:
            p, g = s["perfshim@%d" % hz], s.get("gperftools@%d" % hz)
            r = {"perfshim_vs_untraced": {"wall": ratio(p["wall"], u["wall"]), "cpu": ratio(p["cpu"], u["cpu"])},
                 "perfshim_vs_perfshim0": {"wall": ratio(p["wall"], p0["wall"]), "cpu": ratio(p["cpu"], p0["cpu"])},
                 "gperftools_vs_untraced": {"wall": ratio(g["wall"], u["wall"]) if g else None,
                                            "cpu": ratio(g["cpu"], u["cpu"]) if g else None},
                 "perfshim_added_cpu_us_per_sample":
                     (p["cpu"] - p0["cpu"]) * 1e6 / p["samples"]
                     if p["samples"] and p["cpu"] is not None and p0["cpu"] is not None else None,
                 "gperftools_added_cpu_us_per_sample":
                     (g["cpu"] - u["cpu"]) * 1e6 / g["samples"]
                     if g and g["samples"] and g["cpu"] is not None and u["cpu"] is not None else None}
            ratios[w][hz] = r

            def pair(x):
                return "%s / %s" % (fmt_ratio(x["wall"]), fmt_ratio(x["cpu"]))
            a1, a2 = r["perfshim_added_cpu_us_per_sample"], r["gperftools_added_cpu_us_per_sample"]
            P("  %-12s %-6d %-26s %-26s %-26s %s, %s"
              % ("(%s) %s" % (w, spec["name"]), hz, pair(r["perfshim_vs_untraced"]),
                 pair(r["perfshim_vs_perfshim0"]),
                 pair(r["gperftools_vs_untraced"]) if "gperftools@%d" % hz in s else "-",
                 "%.0f us" % a1 if a1 is not None else "n/a",
                 "%.0f us" % a2 if a2 is not None else "n/a"))

    P()
    P("CHECKS")
    for w in wl:
        s = summary[w]
        for hz in rates:
            p = s["perfshim@%d" % hz]
            if p["samples"] is None:
                P("(%s) perfshim@%d: no CPU samples in the report (no \"cpu\" section)" % (w, hz))
                continue
            exp = hz * p["cpu"] if p["cpu"] else None
            q = ratio(p["samples"], exp)
            P("(%s) perfshim@%d: %d samples for %.2f CPU-s x %d Hz = %.0f expected: x%s%s; dropped %s"
              % (w, hz, p["samples"], p["cpu"] or 0, hz, exp or 0, fmt_ratio(q),
                 "  <- far from 1: see the traces (--keep)" if q is not None and not 0.5 <= q <= 1.5 else "",
                 "%d" % p["dropped"] if p["dropped"] is not None else "n/a"))
        for hz in rates:
            g = s.get("gperftools@%d" % hz)
            if not g or g["samples"] is None:
                continue
            pc = pprof_check.get((w, "gperftools@%d" % hz))
            cap = " (tick-limited: CONFIG_HZ=%d)" % khz if khz and hz > khz else ""
            P("(%s) gperftools@%d: %d samples = %.1f per CPU-s%s%s"
              % (w, hz, g["samples"], g["samples_per_cpu_s"] or 0, cap,
                 "; last round: parsed %s, google-pprof --text Total %s"
                 % (pc["parsed"], pc["google_pprof_total"]) if pc else ""))
        allocs = {c.name: s[c.name]["allocations"] for c in configs if c.kind == "perfshim"}
        P("(%s) allocation events recorded by perfshim (median, allocs+reallocs): %s"
          % (w, ", ".join("%s %s" % (k, "%d" % v if v is not None else "n/a") for k, v in allocs.items())))
    P("outputs: %s" % ("identical to the untraced run's in every run"
                       if not any("output differs" in f for f in failures) else "SOME DIFFER (see FAILURES)"))
    P("benchmark time %.0f s; CPU idle before: %s; during the runs: %s"
      % (meta["elapsed_s"], meta["cpu_idle_before"], fmt_load(meta["other_load"])))
    if failures:
        P()
        P("FAILURES (%d)" % len(failures))
        for f in failures:
            P("  - " + f)
    P("No figure is compared with a threshold; exit status 1 only for failed runs.")
    return {"medians": summary, "ratios": ratios}


if __name__ == "__main__":
    sys.exit(main())
