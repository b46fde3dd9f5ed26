"""pstest: the tiny harness of perfshim's integration tests (stdlib only).

A test script does:

    t = pstest.Test()                  # parses --perfshim --shim --target --source
    run = t.run_traced([t.target])     # under LD_PRELOAD, fresh temp dir
    rep = t.report(run.traces[0])      # `perfshim report --format json`, parsed
    t.eq(4, rep["summary"]["leaked_blocks"], "leaked_blocks")
    t.expect_leak(rep, "leak_page", "@leak:page", blocks=1, bytes=4096)
    t.done()                           # exit status = number of failures

Servers: bg = t.start_traced([...]) runs in the background (same env as
run_traced); t.wait_file(path, timeout, bg) waits for its port file;
run = bg.wait(timeout) collects it; done() kills whatever still runs.
t.client_server([server, ..., pstest.PORTFILE, ...], client) does all of
that for a server that writes its port to a file and a client run against it.

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
PORTFILE = object()   # in start_server's argv: the port file's path
HELPER_FILES = {"pstest.py"}   # modules whose frames FAIL lines skip (see _where)


class Run:
    def __init__(self, rc, stdout, stderr, dir, traces):
        self.rc = rc            # exit status; -N when killed by signal N
        self.stdout = stdout    # bytes
        self.stderr = stderr    # bytes
        self.dir = dir          # the temp dir (cwd of the target)
        self.traces = traces    # trace file paths, in name order


class Background:
    """A process started by Test.start_traced / Test.start_plain.  Its
    stdout and stderr go to files in its dir (never a pipe that could fill
    up); wait() collects them into a Run."""

    def __init__(self, argv, cwd, env, dir, traced, test):
        self.dir = dir
        self.traced = traced
        self._test = test
        n = len(test.procs)
        self._out_path = os.path.join(dir, "bg%d.stdout" % n)
        self._err_path = os.path.join(dir, "bg%d.stderr" % n)
        with open(self._out_path, "wb") as out, open(self._err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, cwd=cwd or dir, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        self.pid = self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def kill(self):
        """SIGKILL it if it still runs (safe to call more than once)."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def wait(self, timeout=30):
        """Wait for the exit; a process still running after `timeout`
        seconds is killed and counted as a failure.  Returns a Run (traces:
        the trace files in its dir when it was started traced)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._test.fail("%s still runs after %ss: killed" % (self.proc.args[0], timeout))
            self.kill()
            rc = self.proc.returncode
        with open(self._out_path, "rb") as f:
            out = f.read()
        with open(self._err_path, "rb") as f:
            err = f.read()
        traces = self._test.traces_in(self.dir) if self.traced else []
        return Run(rc, out, err, self.dir, traces)


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


def suspects_at(rep, func):
    """The report's leak suspects whose first frame in the program is FUNC."""
    out = []
    for s in rep.get("leak_suspects") or []:
        st = s.get("stack") or []
        i = user_frame(st)
        if i is not None and func_is(st[i], func):
            out.append(s)
    return out


def describe_suspects(sus):
    """One line for failure messages: status, live bytes, rate, stack."""
    return "; ".join("%s %r %.0f B/min %s" % (s.get("status"), s.get("live_bytes_end"),
                                              s.get("growth_bytes_per_min") or 0,
                                              short_stack(s.get("stack") or [], 3))
                     for s in sus[:8]) or "(none)"


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


def request_lines_bytes(total, slow_every, slow_us, resp_len):
    """Bytes of all request lines t_net_client sends."""
    n = 0
    for i in range(total):
        s = slow_us if slow_every and i % slow_every == slow_every - 1 else 0
        n += len("REQ %d %d\n" % (s, resp_len))
    return n


def net_client_argv(client, port, nconn, nper, slow_every, slow_us, resp_len):
    """t_net_client's command line (see t_net_client.c)."""
    return [client] + [str(x) for x in (port, nconn, nper, slow_every, slow_us, resp_len)]


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
        self.procs = []     # Background processes; done() kills what still runs
        self.name = os.path.basename(sys.argv[0])
        for path, what in ((self.perfshim, "perfshim"), (self.shim, "shim")):
            if path and not os.path.exists(path):
                self.fatal("%s not found: %s" % (what, path))

    def program_arg(self, opt, what):
        """The absolute path that --OPT names (a program the test needs
        besides --target); stops the test when it is not there."""
        given = getattr(self.args, opt)
        path = os.path.abspath(given) if given else ""
        if not path or not os.path.exists(path):
            self.fatal("--%s (%s) not found: %r" % (opt, what, given))
        return path

    # ---- checks ----------------------------------------------------------
    def _where(self):
        for fr in inspect.stack()[2:]:
            if os.path.basename(fr.filename) not in HELPER_FILES:
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

    def exit_ok(self, run, who):
        """`who` (a Run) exited 0; its stderr goes into the message."""
        return self.eq(0, run.rc, "%s exit status (stderr %r)"
                       % (who, run.stderr.decode(errors="replace")))

    def between(self, lo, hi, actual, what):
        """lo <= actual <= hi for a number `actual` (None etc. fail)."""
        ok = (isinstance(actual, (int, float)) and not isinstance(actual, bool)
              and lo <= actual <= hi)
        if not ok:
            self.fail("%s: expected within [%s, %s], actual %r" % (what, lo, hi, actual))
        return ok

    def fatal(self, msg):
        self.failures += 1
        print("FAIL %s: %s (cannot continue)" % (self._where(), msg), flush=True)
        self.done()

    def skip(self, why):
        print("SKIP %s: %s" % (self.name, why), flush=True)
        self._cleanup()
        sys.exit(SKIP)

    def _cleanup(self):
        self.kill_all()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def done(self):
        self.kill_all()
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

    def start_traced(self, argv, env_extra=None, template="trace.%p", cwd=None):
        """Start ARGV under LD_PRELOAD in the background, in a fresh temp dir
        (the same environment as run_traced).  Returns a Background."""
        dir = self.tempdir()
        bg = Background(argv, cwd, self.traced_env(dir, template, env_extra), dir, True, self)
        self.procs.append(bg)
        return bg

    def start_plain(self, argv, cwd=None, env=None):
        """Start ARGV untraced in the background, in a fresh temp dir."""
        dir = self.tempdir()
        bg = Background(argv, cwd, env or self.base_env(), dir, False, self)
        self.procs.append(bg)
        return bg

    def kill_all(self):
        """SIGKILL every background process that still runs."""
        for bg in self.procs:
            bg.kill()

    def wait_file(self, path, timeout=20, proc=None):
        """The text of `path` once it exists and is not empty; None after
        `timeout` seconds, or as soon as the Background `proc` has exited
        without writing it."""
        deadline = time.time() + timeout
        while True:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if text:
                    return text
            except FileNotFoundError:
                pass
            if proc is not None and not proc.running() and not os.path.exists(path):
                return None
            if time.time() >= deadline:
                return None
            time.sleep(0.01)

    def start_server(self, argv, traced=True, timeout=20):
        """Start a server that writes its port number to a file (the
        t_net_* targets): PORTFILE in ARGV stands for that file's path.
        Traced (start_traced) or not (start_plain).  Returns (Background,
        port); stops the test when no port file comes within `timeout` s."""
        portfile = os.path.join(self.tempdir(), "port")
        argv = [portfile if a is PORTFILE else a for a in argv]
        srv = self.start_traced(argv) if traced else self.start_plain(argv)
        text = self.wait_file(portfile, timeout=timeout, proc=srv)
        if text is None:
            run = srv.wait(timeout=5)
            self.fatal("no port file from the %s (exit %r, stderr %r)"
                       % ("traced server" if traced else "server", run.rc,
                          run.stderr.decode(errors="replace")))
        return srv, int(text.strip())

    def client_server(self, server_argv, client, traced_server=True):
        """start_server(server_argv, traced_server); then client(port), which
        runs the client and returns its Run; then wait (20 s) for the
        server's exit.  Whatever still runs is killed on the way out.
        Returns (server Run, client Run, port)."""
        try:
            srv, port = self.start_server(server_argv, traced_server)
            cl = client(port)
            return srv.wait(timeout=20), cl, port
        finally:
            self.kill_all()

    def one_trace(self, run):
        """Exactly one trace file in `run`: (its path, its report).  Stops
        the test when there is none."""
        self.eq(1, len(run.traces), "trace files (%s)" % run.traces)
        if not run.traces:
            self.done()
        return run.traces[0], self.report(run.traces[0])

    def run_one(self, argv, rc=0, **kw):
        """Run ARGV traced; expect exit status RC and exactly one trace;
        return (run, report).  Stops the test when there is no trace."""
        run = self.run_traced(argv, **kw)
        self.eq(rc, run.rc, "exit status")
        return run, self.one_trace(run)[1]

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

    def flame(self, trace, kind):
        """`perfshim flame --type KIND TRACE` (folded), parsed: a list of
        (frames outermost first, weight).  A failure when it does not exit
        0 or a line does not parse."""
        rc, out, err = self.perfshim_run(["flame", "--type", kind, trace])
        if not self.eq(0, rc, "flame --type %s exit status (stderr %r)"
                       % (kind, err.decode(errors="replace").strip())):
            return []
        lines = []
        for l in out.decode(errors="replace").splitlines():
            if not l.strip():
                continue
            stack, _, w = l.rpartition(" ")
            try:
                weight = int(w)
            except ValueError:
                try:
                    weight = float(w)
                except ValueError:
                    self.fail("flame --type %s: line does not end in a weight: %r" % (kind, l))
                    continue
            lines.append((stack.split(";"), weight))
        return lines

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

    def calls_of(self, rep):
        """rep["calls"] (socket/clock interception); stops the test when
        the report has no such object."""
        calls = rep.get("calls")
        if not isinstance(calls, dict):
            self.fatal("report has no 'calls' object (keys: %s)" % sorted(rep))
        return calls

    def section(self, rep, key):
        """rep[key] when it is an object ("requests", "peers"); {} after a
        failure when it is not."""
        v = rep.get(key)
        if not self.check(isinstance(v, dict), "report has no '%s' object (keys: %s)"
                          % (key, sorted(rep))):
            return {}
        return v

    def expect_fields(self, obj, what, **want):
        """obj[k] == v for each k=v of `want`, in order; the messages name
        "WHAT.k", and v = (value, note) adds " (note)".  Returns obj."""
        for k, v in want.items():
            note = ""
            if isinstance(v, tuple):
                v, note = v[0], " (%s)" % v[1]
            self.eq(v, obj.get(k), "%s.%s%s" % (what, k, note))
        return obj

    def expect_call(self, rep, name, **want):
        """calls.NAME (see call()) with these fields (see expect_fields)."""
        return self.expect_fields(self.call(rep, name), "calls." + name, **want)

    def only_peer(self, rep, key, **want):
        """rep["peers"] has exactly the one key `key`; that peer has these
        fields (see expect_fields).  Returns the peer ({} when missing)."""
        peers = self.section(rep, "peers")
        self.eq([key], sorted(peers), "peers keys")
        return self.expect_fields(peers.get(key) or {}, "peers[%s]" % key, **want)

    def call(self, rep, name):
        """rep["calls"][name] (socket/clock interception); {} after a
        failure when the report has no such entry."""
        calls = rep.get("calls")
        if not isinstance(calls, dict):
            self.fail("report has no 'calls' object (keys: %s)" % sorted(rep))
            return {}
        c = calls.get(name)
        if not isinstance(c, dict):
            self.fail("calls.%s: missing (calls: %s)" % (name, sorted(calls)))
            return {}
        return c

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

    def expect_leak(self, rep, func, marker, blocks, bytes, source=None, kind="definite",
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
