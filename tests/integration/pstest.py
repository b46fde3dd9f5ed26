"""pstest: the tiny harness of perfshim's integration tests (stdlib only).

A test script does:

    t = pstest.Test()                  # parses --perfshim --shim --target --source
    run = t.run_traced([t.target])     # under LD_PRELOAD, fresh temp dir
    rep = t.report(run.traces[0])      # `perfshim report --format json`, parsed
    t.eq(4, rep["summary"]["leaked_blocks"], "leaked_blocks")
    t.expect_leak(rep, "leak_page", "@leak:page", blocks=1, bytes=4096)
    t.done()                           # exit status = number of failures

Every check prints "FAIL script:line: what: expected X, actual Y".  The exit
status is the failure count (capped at 76, so it never reads as 77 = skip);
t.skip() exits 77.  On failure the temp dirs are kept and their paths printed.

Frames are innermost first.  Frame 0 is malloc's caller, except in C++ where
operator new is frame 0: user_frame() skips operator new and libstdc++.
"""
import argparse
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Run:
    def __init__(self, rc, stdout, stderr, dir, traces):
        self.rc = rc            # exit status; -N when killed by signal N
        self.stdout = stdout    # bytes
        self.stderr = stderr    # bytes
        self.dir = dir          # the temp dir (cwd of the target)
        self.traces = traces    # trace file paths, in name order


def _natural(name):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def func_is(frame, name):
    """True when the frame's function is `name` (C++: `name(args...)`)."""
    f = (frame or {}).get("function") or ""
    return f == name or f.startswith(name + "(")


def user_frame(stack):
    """Index of the first frame that is the program's own code."""
    for i, fr in enumerate(stack):
        f = fr.get("function") or ""
        mod = fr.get("module") or ""
        src = fr.get("file") or ""
        if f.startswith("operator new") or "libstdc++" in os.path.basename(mod):
            continue
        if src.startswith("/usr/include/"):
            continue  # std:: templates instantiated in the program
        return i
    return None


def short_stack(stack, n=6):
    out = []
    for fr in stack[:n]:
        out.append("%s@%s:%s%s" % (fr.get("function"), os.path.basename(fr.get("file") or "?"),
                                   fr.get("line"), "(inl)" if fr.get("inlined") else ""))
    return " <- ".join(out)


def marker_line(source, marker):
    """1-based number of the unique line of `source` that carries `marker`
    as its trailing comment: `code; /* @leak:x */` or `code; // @leak:x`.
    (Mentions of the marker in prose comments do not count.)"""
    m = re.escape(marker)
    pat = re.compile(r"\S.*(/\*\s*%s\s*\*/|//\s*%s)\s*$" % (m, m))
    hits = []
    with open(source, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if pat.search(line) and not line.lstrip().startswith(("/*", "*", "//")):
                hits.append(n)
    if len(hits) != 1:
        raise RuntimeError("marker %s found %d times in %s" % (marker, len(hits), source))
    return hits[0]


def count_lines(text):
    return len([l for l in text.decode(errors="replace").splitlines() if l.strip()])


class Test:
    def __init__(self, extra_args=None):
        ap = argparse.ArgumentParser()
        ap.add_argument("--perfshim", required=True, help="build/bin/perfshim")
        ap.add_argument("--shim", default="", help="build/lib/libperfshim.so")
        ap.add_argument("--target", default="", help="the target program")
        ap.add_argument("--source", default="", help="the target's source file")
        for a in extra_args or []:
            ap.add_argument(a, default="")
        self.args = ap.parse_args()
        self.perfshim = os.path.abspath(self.args.perfshim)
        self.shim = os.path.abspath(self.args.shim) if self.args.shim else ""
        self.target = os.path.abspath(self.args.target) if self.args.target else ""
        self.source = self.args.source
        self.failures = 0
        self.dirs = []
        self.name = os.path.basename(sys.argv[0])
        for path, what in ((self.perfshim, "perfshim"), (self.shim, "shim")):
            if path and not os.path.exists(path):
                self.fatal("%s not found: %s" % (what, path))

    # ---- checks ----------------------------------------------------------
    def _where(self):
        for fr in inspect.stack()[2:]:
            if os.path.basename(fr.filename) != "pstest.py":
                return "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
        return self.name

    def fail(self, msg):
        self.failures += 1
        print("FAIL %s: %s" % (self._where(), msg), flush=True)

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)
        return bool(cond)

    def eq(self, expected, actual, what):
        if expected != actual:
            self.fail("%s: expected %r, actual %r" % (what, expected, actual))
            return False
        return True

    def fatal(self, msg):
        self.failures += 1
        print("FAIL %s: %s (cannot continue)" % (self._where(), msg), flush=True)
        self.done()

    def skip(self, why):
        print("SKIP %s: %s" % (self.name, why), flush=True)
        self._cleanup()
        sys.exit(SKIP)

    def _cleanup(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def done(self):
        if self.failures:
            for d in self.dirs:
                print("kept %s" % d)
            print("%s: %d failure(s)" % (self.name, self.failures), flush=True)
            sys.exit(min(self.failures, SKIP - 1))
        self._cleanup()
        print("PASS %s" % self.name, flush=True)
        sys.exit(0)

    # ---- running ---------------------------------------------------------
    def tempdir(self):
        d = tempfile.mkdtemp(prefix="perfshim-%s-" % os.path.splitext(self.name)[0])
        self.dirs.append(d)
        return d

    def base_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PERFSHIM_") and k != "LD_PRELOAD"}
        env["LC_ALL"] = "C"
        return env

    def traced_env(self, dir, template="trace.%p", extra=None):
        env = self.base_env()
        env["LD_PRELOAD"] = self.shim
        env["PERFSHIM_OUTPUT"] = os.path.join(dir, template)
        env.update(extra or {})
        return env

    def traces_in(self, dir, prefix="trace."):
        names = sorted((n for n in os.listdir(dir) if n.startswith(prefix)), key=_natural)
        return [os.path.join(dir, n) for n in names]

    def run_plain(self, argv, cwd=None, input=None, timeout=30, env=None):
        cwd = cwd or self.tempdir()
        p = subprocess.run(argv, cwd=cwd, input=input, capture_output=True,
                           timeout=timeout, env=env or self.base_env())
        return Run(p.returncode, p.stdout, p.stderr, cwd, [])

    def run_traced(self, argv, env_extra=None, template="trace.%p", input=None,
                   timeout=30, cwd=None):
        dir = self.tempdir()
        p = subprocess.run(argv, cwd=cwd or dir, input=input, capture_output=True,
                           timeout=timeout, env=self.traced_env(dir, template, env_extra))
        return Run(p.returncode, p.stdout, p.stderr, dir, self.traces_in(dir))

    def run_one(self, argv, rc=0, **kw):
        """Run ARGV traced; expect exit status RC and exactly one trace;
        return (run, report).  Stops the test when there is no trace."""
        run = self.run_traced(argv, **kw)
        self.eq(rc, run.rc, "exit status")
        self.eq(1, len(run.traces), "trace files (%s)" % run.traces)
        if not run.traces:
            self.done()
        return run, self.report(run.traces[0])

    def perfshim_run(self, args, timeout=60, cwd=None, env=None):
        p = subprocess.run([self.perfshim] + args, capture_output=True, timeout=timeout,
                           cwd=cwd, env=env or self.base_env())
        return p.returncode, p.stdout, p.stderr

    def report(self, trace, allow_warning=False):
        """`perfshim report --format json TRACE`, parsed.  Fails (fatally)
        unless it exits 0 with valid JSON; stderr must be empty unless
        allow_warning, then it must be exactly one line."""
        rc, out, err = self.perfshim_run(["report", "--format", "json", trace])
        if rc != 0:
            self.fatal("report %s: expected exit 0, actual %d; stderr: %s"
                       % (os.path.basename(trace), rc, err.decode(errors="replace").strip()))
        try:
            rep = json.loads(out)
        except ValueError as e:
            self.fatal("report %s: output is not JSON (%s): %r"
                       % (os.path.basename(trace), e, out[:200]))
        nerr = count_lines(err)
        if allow_warning:
            self.eq(1, nerr, "report %s: warning lines on stderr (%r)"
                    % (os.path.basename(trace), err.decode(errors="replace")))
        else:
            self.eq(0, nerr, "report %s: stderr lines (%r)"
                    % (os.path.basename(trace), err.decode(errors="replace")))
        self.check_common(rep)
        return rep

    # ---- report checks ----------------------------------------------------
    def check_common(self, rep):
        """Contract invariants that hold for every report."""
        for key in ("perfshim_version", "trace_format_version", "process", "summary", "leaks"):
            if not self.check(key in rep, "report has no key %r (keys: %s)"
                              % (key, sorted(rep))):
                self.done()
        s = rep["summary"]
        for key in ("allocations", "frees", "reallocations", "total_allocated_bytes",
                    "peak_heap_bytes", "leaked_bytes", "leaked_blocks",
                    "reachable_bytes", "reachable_blocks"):
            self.check(isinstance(s.get(key), int), "summary.%s: expected an integer, actual %r"
                       % (key, s.get(key)))
        for key in ("pid", "ppid", "command", "exit"):
            self.check(key in rep["process"], "process has no key %r" % key)
        leaked = [l for l in rep["leaks"] if l.get("kind") != "reachable"]
        self.eq(s.get("leaked_bytes"), sum(l["bytes"] for l in leaked),
                "summary.leaked_bytes vs sum of the leaks' bytes")
        self.eq(s.get("leaked_blocks"), sum(l["blocks"] for l in leaked),
                "summary.leaked_blocks vs sum of the leaks' blocks")
        sizes = [l["bytes"] for l in rep["leaks"]]
        self.check(sizes == sorted(sizes, reverse=True),
                   "leaks are not sorted largest bytes first: %s" % sizes[:20])
        for l in rep["leaks"]:
            for fr in l.get("stack", []):
                if "libperfshim" in (fr.get("module") or ""):
                    self.fail("the shim's own frame is shown: %s" % short_stack(l["stack"]))
                    break

    def leaks_at(self, rep, func, source=None, line=None):
        """Leak groups whose first user frame is `func` (and file/line)."""
        out = []
        for l in rep["leaks"]:
            st = l.get("stack") or []
            i = user_frame(st)
            if i is None or not func_is(st[i], func):
                continue
            if source and os.path.basename(st[i].get("file") or "") != os.path.basename(source):
                continue
            if line is not None and st[i].get("line") != line:
                continue
            out.append(l)
        return out

    def leaks_in_file(self, rep, source):
        """Leak groups whose first user frame is in `source`."""
        out = []
        for l in rep["leaks"]:
            st = l.get("stack") or []
            i = user_frame(st)
            if i is not None and os.path.basename(st[i].get("file") or "") == os.path.basename(source):
                out.append(l)
        return out

    def describe_leaks(self, rep, n=12):
        return "; ".join("%dB/%d %s" % (l["bytes"], l["blocks"], short_stack(l.get("stack") or [], 3))
                         for l in rep["leaks"][:n]) or "(none)"

    def expect_leak(self, rep, func, marker, blocks, bytes, source=None, kind="unknown",
                    caller=None):
        """Exactly one leak group whose first user frame is `func` at the
        marker's line of `source` (default: --source), with these counts."""
        source = source or self.source
        line = marker_line(source, marker)
        groups = self.leaks_at(rep, func)
        if len(groups) != 1:
            self.fail("leak groups whose first user frame is %s: expected 1, actual %d; leaks: %s"
                      % (func, len(groups), self.describe_leaks(rep)))
            groups = self.leaks_at(rep, func, source, line)
            if len(groups) != 1:
                return None
        l = groups[0]
        st = l["stack"]
        i = user_frame(st)
        fr = st[i]
        what = "leak in %s" % func
        self.eq(os.path.basename(source), os.path.basename(fr.get("file") or ""), what + ": file")
        self.eq(line, fr.get("line"), what + ": line (%s)" % marker)
        self.eq(blocks, l["blocks"], what + ": blocks")
        self.eq(bytes, l["bytes"], what + ": bytes")
        if kind is not None:
            self.eq(kind, l.get("kind"), what + ": kind")
        if caller is not None:
            self.check(i + 1 < len(st) and func_is(st[i + 1], caller),
                       "%s: caller frame: expected %s, actual %s"
                       % (what, caller, short_stack(st[i + 1:i + 2]) if i + 1 < len(st) else "none"))
        return l

    def expect_no_leak(self, rep, func, source=None, line=None, why=""):
        groups = self.leaks_at(rep, func, source, line)
        self.check(not groups, "false leak at %s%s%s: %s"
                   % (func, ":%s" % line if line else "", " (%s)" % why if why else "",
                      "; ".join("%dB/%d" % (g["bytes"], g["blocks"]) for g in groups)))


def kill_after_ready(proc, ready=b"ready", delay=2.5, timeout=20):
    """Wait for a line containing `ready` on proc.stdout, sleep, SIGKILL."""
    deadline = time.time() + timeout
    line = b""
    while time.time() < deadline:
        line = proc.stdout.readline()
        if ready in line or not line:
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=timeout)
    return ready in line
