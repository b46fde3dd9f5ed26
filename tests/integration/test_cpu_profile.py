#!/usr/bin/env python3
"""CPU profile of t_cpu_split: shares, sample counts, threads, rates.

t_cpu_split NTHREADS SECONDS: every burning thread spends 70% of its CPU
time in burn_a and 30% in burn_b (the target checks that itself, within 1
point), in slices of random length (10 ms on average).  So of the CPU
samples of a run ~70% are in burn_a, ~30% in burn_b, and there are about
hz x CPU seconds of them (the CPU seconds measured from the child's
rusage; they include the shim's own threads, which are not sampled).
Runs: 1 thread 3 s at the default 99 Hz; 4 threads 3 s at 249 Hz (one
sample per 4 ms tick at most: enough samples per thread to judge each
thread's share even when other work leaves the 4 threads little CPU);
1 thread 2 s at 999 Hz (vs the 99 Hz run: ~10x the samples per CPU second);
1 thread 1 s at PERFSHIM_CPU_HZ=0; 1 thread 1 s untraced (the stdout).

Shares are sampled, so they are judged within max(TOL, 4 binomial standard
deviations) of the truth: TOL when there are enough samples (>= 336 for 10
points at 70/30), wider only when a loaded machine gave the run little CPU;
the tolerance used is printed.
"""
import math
import os
import re
import resource

import pstest

TRUTH_A, TRUTH_B = 70.0, 30.0
TOL = 10.0            # points, for shares over all samples of a run
TOL_THREAD = 15.0     # points, for one thread's samples
MIN_SAMPLES = 60      # fewer (a starved run) and a share says little: a failure of its own
HZ4 = 249             # the 4-thread run's rate

t = pstest.Test()
if not t.target:
    t.skip("t_cpu_split was not built")


def expected_stdout(nthreads):
    return ("t_cpu_split: %d thread(s), 70%% burn_a: ok\n" % nthreads).encode()


def run_measured(argv, env_extra=None):
    """run_traced(argv), plus the CPU seconds (user + system) the child
    used, from its rusage (RUSAGE_CHILDREN before and after)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = t.run_traced(argv, env_extra=env_extra, timeout=30)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return run, cpu


def folded_cpu(trace, per_thread=False):
    """`perfshim flame --type cpu [--per-thread] --format folded TRACE`,
    parsed: [(frames outermost first, samples)]."""
    args = ["flame", "--type", "cpu", "--format", "folded"] + (["--per-thread"] if per_thread else [])
    rc, out, err = t.perfshim_run(args + [trace])
    what = "flame --type cpu%s" % (" --per-thread" if per_thread else "")
    if not t.eq(0, rc, "%s exit status (stderr %r)" % (what, err.decode(errors="replace").strip())):
        return []
    lines = []
    for l in out.decode(errors="replace").splitlines():
        stack, _, w = l.rpartition(" ")
        if not t.check(stack and w.isdigit() and int(w) > 0,
                       "%s: line is not 'f1;f2;... SAMPLES': %r" % (what, l)):
            continue
        lines.append((stack.split(";"), int(w)))
    return lines


def shares(lines):
    """(total samples, % with burn_a on the stack, % with burn_b)."""
    total = sum(w for _, w in lines)
    a = sum(w for fr, w in lines if "burn_a" in fr)
    b = sum(w for fr, w in lines if "burn_b" in fr)
    if not total:
        return 0, None, None
    return total, 100.0 * a / total, 100.0 * b / total


def tolerance(base, n, p=TRUTH_A / 100):
    """max(base, 4 binomial standard deviations in points) for N samples."""
    return max(base, 400.0 * math.sqrt(p * (1 - p) / n)) if n else base


def top_function(cpu, name):
    for f in cpu.get("top_functions") or []:
        if f.get("function") == name:
            return f
    t.fail("cpu.top_functions has no %s (functions: %s)"
           % (name, [f.get("function") for f in cpu.get("top_functions") or []]))
    return {}


def cpu_section(rep, hz):
    cpu = rep.get("cpu")
    if not t.check(isinstance(cpu, dict), "report has no 'cpu' object (keys: %s)" % sorted(rep)):
        return {}
    t.eq(hz, cpu.get("hz"), "cpu.hz")
    for key in ("samples", "dropped"):
        t.check(isinstance(cpu.get(key), int), "cpu.%s: expected an integer, actual %r"
                % (key, cpu.get(key)))
    t.check(isinstance(cpu.get("threads"), list), "cpu.threads: expected a list, actual %r"
            % cpu.get("threads"))
    t.check(isinstance(cpu.get("top_functions"), list), "cpu.top_functions: expected a list")
    return cpu


def check_run(nthreads, run, cpu_s, label, hz):
    """The checks common to the 1- and 4-thread runs; returns (report,
    its cpu object, folded lines, pid)."""
    t.eq(0, run.rc, "%s: exit status (stderr %r)" % (label, run.stderr.decode(errors="replace")))
    t.eq(expected_stdout(nthreads), run.stdout, "%s: stdout" % label)
    t.eq(b"", run.stderr, "%s: stderr" % label)
    trace, rep = t.one_trace(run)
    pid = rep["process"]["pid"]
    cpu = cpu_section(rep, hz)

    lines = folded_cpu(trace)
    total, pa, pb = shares(lines)
    tol = tolerance(TOL, total)
    print("%s: %d samples, burn_a %s%%, burn_b %s%% (tolerance %.1f points), cpu %.2f s, "
          "expected samples %.0f" % (label, total, pa and round(pa, 1), pb and round(pb, 1), tol,
                                     cpu_s, hz * cpu_s))
    t.between(0.5 * hz * cpu_s, 1.3 * hz * cpu_s, total,
              "%s: CPU samples (%d Hz x %.2f CPU s = %.0f)" % (label, hz, cpu_s, hz * cpu_s))
    t.check(total >= MIN_SAMPLES, "%s: expected >= %d CPU samples, actual %d"
            % (label, MIN_SAMPLES, total))
    t.between(TRUTH_A - tol, TRUTH_A + tol, pa, "%s: %% of samples in burn_a" % label)
    t.between(TRUTH_B - tol, TRUTH_B + tol, pb, "%s: %% of samples in burn_b" % label)
    t.check(pa is not None and pa + pb >= 95, "%s: samples in burn_a or burn_b: expected >= 95%%, "
            "actual %s%% (stacks: %s)" % (label, pa and round(pa + pb, 1), lines[:10]))
    parent = "main" if nthreads == 1 else "worker"
    for fr, w in lines:
        for f in ("burn_a", "burn_b"):
            if f in fr:
                i = fr.index(f)
                t.check(i >= 2 and fr[i - 1] == "work" and fr[i - 2] == parent,
                        "%s: %s's callers: expected ...;%s;work;%s, actual %s"
                        % (label, f, parent, f, ";".join(fr)))
    t.eq(total, cpu.get("samples"), "%s: cpu.samples vs the folded total" % label)
    t.eq(0, cpu.get("dropped"), "%s: cpu.dropped" % label)

    threads = cpu.get("threads") or []
    t.eq(total, sum(th.get("samples", 0) for th in threads),
         "%s: sum of cpu.threads[].samples vs cpu.samples" % label)
    top = cpu.get("top_functions") or []
    for f, truth in (("burn_a", TRUTH_A), ("burn_b", TRUTH_B)):
        e = top_function(cpu, f)
        t.between(truth - tol, truth + tol, e.get("self_percent"), "%s: %s.self_percent" % (label, f))
        t.eq("t_cpu_split.c", os.path.basename(e.get("file") or ""), "%s: %s.file" % (label, f))
        t.eq("t_cpu_split", os.path.basename(e.get("module") or ""), "%s: %s.module" % (label, f))
        if total and isinstance(e.get("self_samples"), int):
            t.between(e["self_samples"] * 100.0 / total - 0.01, e["self_samples"] * 100.0 / total + 0.01,
                      e.get("self_percent"), "%s: %s.self_percent vs self_samples / samples" % (label, f))
            t.check(e.get("total_samples", -1) >= e["self_samples"],
                    "%s: %s: total_samples %r < self_samples %r"
                    % (label, f, e.get("total_samples"), e["self_samples"]))
    print("%s: top_functions %s" % (label, [(e.get("function"), e.get("self_percent"),
                                            e.get("total_percent")) for e in top[:8]]))
    return rep, cpu, lines, pid


# --- untraced: the stdout to expect -------------------------------------
plain = t.run_plain([t.target, "1", "1"], timeout=30)
t.exit_ok(plain, "untraced t_cpu_split 1 1")
t.eq(expected_stdout(1), plain.stdout, "untraced t_cpu_split 1 1: stdout")

# --- 1 thread, 3 s --------------------------------------------------------
run1, cpu1_s = run_measured([t.target, "1", "3"])
rep1, cpu1, lines1, pid1 = check_run(1, run1, cpu1_s, "1 thread", 99)
threads1 = cpu1.get("threads") or []
t.eq([pid1], [th.get("tid") for th in threads1], "1 thread: cpu.threads tids (the main thread)")
t.between(95, 100, top_function(cpu1, "main").get("total_percent"), "1 thread: main.total_percent")
t.between(95, 100, top_function(cpu1, "work").get("total_percent"), "1 thread: work.total_percent")
total1 = sum(w for _, w in lines1)

# --- 4 threads, 3 s -------------------------------------------------------
run4, cpu4_s = run_measured([t.target, "4", "3"], env_extra={"PERFSHIM_CPU_HZ": str(HZ4)})
rep4, cpu4, lines4, pid4 = check_run(4, run4, cpu4_s, "4 threads", HZ4)
t.between(95, 100, top_function(cpu4, "start_thread").get("total_percent"),
          "4 threads: start_thread.total_percent")
t.between(95, 100, top_function(cpu4, "worker").get("total_percent"),
          "4 threads: worker.total_percent")
report_threads = {th.get("tid"): th.get("samples") for th in cpu4.get("threads") or []}
workers_in_report = sorted(tid for tid in report_threads if tid != pid4)
t.eq(4, len(workers_in_report), "4 threads: worker threads in cpu.threads (%r)" % report_threads)

# --per-thread: every line starts with "main thread PID" or "thread TID".
if run4.traces:
    pt = folded_cpu(run4.traces[0], per_thread=True)
    t.eq(sum(w for _, w in lines4), sum(w for _, w in pt), "4 threads: --per-thread total vs folded total")
    per = {}
    for fr, w in pt:
        m = re.fullmatch(r"(main thread|thread) (\d+)", fr[0])
        if not t.check(m, "--per-thread: first frame is not 'main thread PID' or 'thread TID': %r"
                       % ";".join(fr)):
            continue
        tid = int(m.group(2))
        t.eq(tid == pid4, m.group(1) == "main thread",
             "--per-thread: %r labels the main thread (pid %d)" % (fr[0], pid4))
        d = per.setdefault(tid, {"total": 0, "a": 0, "b": 0})
        d["total"] += w
        d["a"] += w if "burn_a" in fr else 0
        d["b"] += w if "burn_b" in fr else 0
    workers = sorted(tid for tid in per if tid != pid4)
    t.eq(4, len(workers), "--per-thread: distinct worker threads (%r)" % per)
    t.eq(sorted(report_threads), sorted(per), "--per-thread tids vs cpu.threads tids")
    for tid in workers:
        d = per[tid]
        t.eq(report_threads.get(tid), d["total"], "thread %d: --per-thread samples vs cpu.threads" % tid)
        share = 100.0 * d["a"] / d["total"] if d["total"] else None
        tol = tolerance(TOL_THREAD, d["total"])
        print("thread %d: %d samples, burn_a %.1f%% (tolerance %.1f points)"
              % (tid, d["total"], share or 0, tol))
        t.check(d["total"] >= 50, "thread %d: expected >= 50 samples, actual %d" % (tid, d["total"]))
        t.between(TRUTH_A - tol, TRUTH_A + tol, share,
                  "thread %d: %% of its samples in burn_a" % tid)
        t.check(d["a"] + d["b"] >= 0.95 * d["total"],
                "thread %d: samples in burn_a/burn_b %d of %d" % (tid, d["a"] + d["b"], d["total"]))
    main_samples = per.get(pid4, {}).get("total", 0)
    t.check(main_samples <= 3, "the main thread only waits in pthread_join: expected <= 3 samples, "
            "actual %d" % main_samples)

# --- 999 Hz: ~10x the samples per CPU second of 99 Hz -------------------------
run9, cpu9_s = run_measured([t.target, "1", "2"], env_extra={"PERFSHIM_CPU_HZ": "999"})
t.eq(0, run9.rc, "999 Hz: exit status (stderr %r)" % run9.stderr.decode(errors="replace"))
t.eq(expected_stdout(1), run9.stdout, "999 Hz: stdout")
trace9, rep9 = t.one_trace(run9)
cpu9 = cpu_section(rep9, 999)
lines9 = folded_cpu(trace9)
total9, pa9, pb9 = shares(lines9)
t.eq(total9, cpu9.get("samples"), "999 Hz: cpu.samples vs the folded total")
t.between(0.5 * 999 * cpu9_s, 1.3 * 999 * cpu9_s, total9,
          "999 Hz: CPU samples (999 Hz x %.2f CPU s = %.0f)" % (cpu9_s, 999 * cpu9_s))
# Above the tick rate a signal stands for ~4 samples: ~250 independent ones per CPU second.
t.between(TRUTH_A - tolerance(TOL, min(total9, 250 * cpu9_s)), TRUTH_A + tolerance(TOL, min(total9, 250 * cpu9_s)),
          pa9, "999 Hz: % of samples in burn_a")
if total1 and cpu1_s > 0 and cpu9_s > 0:
    expected_ratio = (999 * cpu9_s) / (99 * cpu1_s)
    ratio = total9 / total1
    print("999 Hz: %d samples (burn_a %.1f%%), cpu %.2f s; ratio to 99 Hz %.2f, expected %.2f"
          % (total9, pa9 or 0, cpu9_s, ratio, expected_ratio))
    t.between(0.5, 1.5, ratio / expected_ratio,
              "samples at 999 Hz / at 99 Hz (%d / %d), over the expected %.2f"
              % (total9, total1, expected_ratio))

# --- PERFSHIM_CPU_HZ=0: no CPU profile ----------------------------------------
run0 = t.run_traced([t.target, "1", "1"], env_extra={"PERFSHIM_CPU_HZ": "0"}, timeout=30)
t.eq(0, run0.rc, "PERFSHIM_CPU_HZ=0: exit status (stderr %r)" % run0.stderr.decode(errors="replace"))
t.eq(expected_stdout(1), run0.stdout, "PERFSHIM_CPU_HZ=0: stdout")
t.eq(b"", run0.stderr, "PERFSHIM_CPU_HZ=0: stderr")
trace0, rep0 = t.one_trace(run0)
cpu0 = rep0.get("cpu")
t.check(cpu0 is None or cpu0.get("samples") == 0,
        "PERFSHIM_CPU_HZ=0: expected no CPU samples in the report, actual cpu = %r"
        % ({k: v for k, v in cpu0.items() if k != "top_functions"} if isinstance(cpu0, dict) else cpu0))
rc, out, err = t.perfshim_run(["flame", "--type", "cpu", trace0])
t.eq(2, rc, "PERFSHIM_CPU_HZ=0: flame --type cpu exit status")
t.eq(b"", out, "PERFSHIM_CPU_HZ=0: flame --type cpu stdout")
errlines = err.decode(errors="replace").splitlines()
t.eq(1, len(errlines), "PERFSHIM_CPU_HZ=0: flame --type cpu stderr lines (%r)" % errlines)
t.check(errlines and errlines[0].startswith("perfshim") and "CPU" in errlines[0],
        "PERFSHIM_CPU_HZ=0: flame --type cpu: expected one 'perfshim: ... CPU ...' line, actual %r"
        % errlines)
t.done()
