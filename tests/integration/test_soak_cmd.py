#!/usr/bin/env python3
import pstest

import json
import os
import shlex
import signal
import subprocess
import time

# `perfshim soak` against t_net_server (epoll mode: it serves any number of
# connections, and with NREQ_TOTAL = 100000000 it never ends on its own; see
# t_net_server.c), with t_net_client (--client), untraced, as the load: one
# connection, 20 requests of 100 bytes on 127.0.0.1, then 0.2 s of sleep, so
# a soak of D seconds runs at most 5*D loads.  --case:
#   run       --duration 6s --warmup 1s: exit 0, stdout starts with the text
#             report's verdict, the trace is kept (-o), it has the load's
#             requests and "signal 15" (--stop term, the default)
#   kill      --stop kill --format json: exit 0, the JSON report on stdout,
#             process.exit "signal 9", the trace kept
#   sigint    --duration 60s, SIGINT to soak after ~3 s: exit 0, a report,
#             the trace kept, well before the 60 s
#   notready  a server that never listens, --ready-timeout 2s: exit 2, one
#             line on stderr, nothing left running
#   early     a server that ends on its own (NREQ_TOTAL 20) before the end of
#             the duration: exit 1, the report still printed
#   badflags  no --duration / --stop bogus / --duration 5x / no server: exit
#             2, one line on stderr, no server started
# Every case: no process started by the soak outlives it (none has the
# test's directory in its command line or as its working directory).
NREQ_FOREVER = "100000000"

t = pstest.Test(["--case", "--client"])
case = t.args.case
if not t.target:
    t.skip("t_net_server is not built")
client = t.program_arg("client", "t_net_client")
dir = t.tempdir()
portfile = os.path.join(dir, "port")
template = os.path.join(dir, "trace.%p")
procs = []   # every soak Popen, killed in the finally below


def load_cmd(nreq=20):
    """One load run: wait (bounded) for the port file, 20 requests, 0.2 s."""
    pf, cl = shlex.quote(portfile), shlex.quote(client)
    return ("for i in $(seq 200); do [ -s %s ] && break; sleep 0.01; done; "
            "%s $(cat %s) 1 %d 0 0 100; sleep 0.2" % (pf, cl, pf, nreq))


def server(nreq=NREQ_FOREVER):
    return [t.target, "epoll", portfile, nreq]


def strays():
    """Processes (but this one) whose command line names our directory or
    whose working directory it is: the soak's server and loads."""
    out = []
    me = os.getpid()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read()
            cwd = os.readlink("/proc/%s/cwd" % p)
        except OSError:
            continue
        if dir.encode() in cmd or cwd == dir:
            out.append((int(p), cmd.replace(b"\0", b" ").decode(errors="replace").strip()))
    return out


def expect_no_strays(what):
    left = strays()
    deadline = time.time() + 3
    while left and time.time() < deadline:   # a process being killed right now
        time.sleep(0.1)
        left = strays()
    t.check(not left, "%s: processes left running: %s" % (what, left))
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def soak(args, timeout=60, interrupt_after=None):
    """perfshim soak ARGS in our directory: (rc, stdout, stderr, seconds).
    interrupt_after: send SIGINT to soak that many seconds after the
    server's port file appeared."""
    out_path, err_path = os.path.join(dir, "soak.out"), os.path.join(dir, "soak.err")
    start = time.time()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen([t.perfshim, "soak"] + args, cwd=dir, env=t.base_env(),
                             stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
    procs.append(p)
    if interrupt_after is not None:
        if t.wait_file(portfile, timeout=20) is None:
            t.fail("the server never wrote its port file")
        time.sleep(interrupt_after)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        t.fail("soak %s still runs after %s s: killed" % (" ".join(args), timeout))
        p.kill()
        rc = p.wait(timeout=10)
    elapsed = time.time() - start
    with open(out_path, "rb") as f:
        o = f.read()
    with open(err_path, "rb") as f:
        e = f.read()
    return rc, o, e, elapsed


def first_line(out):
    lines = [l for l in out.decode(errors="replace").splitlines() if l.strip()]
    return lines[0] if lines else ""


def one_trace_report(what):
    """The one trace the soak kept, reported as JSON (a warning line is
    allowed: a server stopped by a signal has no end record)."""
    traces = t.traces_in(dir)
    if not t.eq(1, len(traces), "%s: trace files kept (%s)" % (what, os.listdir(dir))):
        return None
    rc, out, err = t.perfshim_run(["report", "--format", "json", traces[0]])
    if not t.eq(0, rc, "%s: report of the kept trace: exit status (stderr %r)" % (what, err)):
        return None
    t.between(0, 1, pstest.count_lines(err), "%s: report stderr lines (%r)" % (what, err))
    rep = json.loads(out)
    t.check_common(rep)
    return rep


def expect_requests(rep, what, at_least=20):
    n = (rep.get("requests") or {}).get("count")
    t.between(at_least, float("inf"), n, "%s: requests.count (whole loads of 20)" % what)


try:
    if case == "run":
        rc, out, err, secs = soak(["--duration", "6s", "--warmup", "1s", "--load", load_cmd(),
                                   "-o", template, "--"] + server(), timeout=60)
        t.eq(0, rc, "soak exit status (stderr %r)" % err)
        t.check(first_line(out).startswith("VERDICT: "),
                "soak stdout: expected the text report, verdict first; actual %r" % out[:300])
        t.check("after a 1.0 s warm-up" in first_line(out),
                "soak verdict line: expected 'after a 1.0 s warm-up' (--warmup 1s): %r"
                % first_line(out))
        t.between(6.0, float("inf"), secs, "soak wall time, s (--duration 6s)")
        rep = one_trace_report("run")
        if rep:
            t.eq("signal 15", rep["process"].get("exit"), "process.exit (--stop term)")
            t.between(5.9, float("inf"), rep["process"].get("duration_s"),
                      "process.duration_s (6 s of soak after the server was ready)")
            expect_requests(rep, "run")
            t.eq(rep["process"].get("pid"),
                 int(os.path.basename(t.traces_in(dir)[0]).split(".")[1]),
                 "process.pid vs the trace name (-o trace.%p)")
        expect_no_strays("run")

    elif case == "kill":
        rc, out, err, secs = soak(["--duration", "2s", "--stop", "kill", "--format", "json",
                                   "--load", load_cmd(), "-o", template, "--"] + server())
        t.eq(0, rc, "soak --stop kill exit status (stderr %r)" % err)
        try:
            rep = json.loads(out)
        except ValueError as e:
            rep = None
            t.fail("soak --format json: stdout is not JSON (%s): %r" % (e, out[:300]))
        if rep:
            t.check_common(rep)
            t.eq("signal 9", rep["process"].get("exit"), "soak report: process.exit (--stop kill)")
            expect_requests(rep, "kill")
            t.check("resources" in rep, "soak report: no resources (keys %s)" % sorted(rep))
        kept = one_trace_report("kill")
        if kept and rep:
            t.eq(rep["process"].get("pid"), kept["process"].get("pid"),
                 "the kept trace is the reported one (pid)")
        expect_no_strays("kill")

    elif case == "sigint":
        rc, out, err, secs = soak(["--duration", "60s", "--load", load_cmd(), "-o", template,
                                   "--"] + server(), timeout=40, interrupt_after=3.0)
        t.eq(0, rc, "soak interrupted by SIGINT: exit status (stderr %r)" % err)
        t.check(first_line(out).startswith("VERDICT: "),
                "soak interrupted: expected the text report; stdout %r" % out[:300])
        t.between(3.0, 30.0, secs, "soak interrupted after ~3 s: wall time, s")
        rep = one_trace_report("sigint")
        if rep:
            t.eq("signal 15", rep["process"].get("exit"), "process.exit (the stop sequence)")
            expect_requests(rep, "sigint")
        expect_no_strays("sigint")

    elif case == "notready":
        rc, out, err, secs = soak(["--duration", "5s", "--ready-timeout", "2s", "--load",
                                   load_cmd(), "-o", template, "--", "sleep", "37.5"])
        t.eq(2, rc, "soak, server never ready: exit status (stderr %r)" % err)
        t.eq(1, pstest.count_lines(err), "soak, server never ready: stderr lines (%r)" % err)
        t.between(2.0, 15.0, secs, "soak, server never ready: wall time, s (--ready-timeout 2s)")
        expect_no_strays("notready")

    elif case == "early":
        # 20 requests and the server ends: one load run is all it takes.
        rc, out, err, secs = soak(["--duration", "6s", "--load", load_cmd(), "-o", template,
                                   "--"] + server("20"))
        t.eq(1, rc, "soak, server ended on its own: exit status (stderr %r)" % err)
        t.check(first_line(out).startswith("VERDICT: "),
                "soak, server ended on its own: expected the report; stdout %r" % out[:300])
        rep = one_trace_report("early")
        if rep:
            t.eq("exited 0", rep["process"].get("exit"), "process.exit (served 20, returned 0)")
            expect_requests(rep, "early")
        expect_no_strays("early")

    elif case == "badflags":
        for args, what in (
                (["--load", load_cmd(), "--"] + server(), "--duration missing"),
                (["--duration", "5s", "--stop", "bogus", "--"] + server(), "--stop bogus"),
                (["--duration", "5x", "--"] + server(), "--duration 5x"),
                (["--duration", "5s", "--ready-timeout", "soon", "--"] + server(),
                 "--ready-timeout soon"),
                (["--duration", "5s", "--bogus-flag", "--"] + server(), "an unknown flag"),
                (["--duration", "5s"], "no server command")):
            rc, out, err, secs = soak(args, timeout=20)
            t.eq(2, rc, "soak %s: exit status (stderr %r)" % (what, err))
            t.eq(1, pstest.count_lines(err), "soak %s: stderr lines (%r)" % (what, err))
            t.eq(b"", out, "soak %s: stdout" % what)
            t.check(not os.path.exists(portfile), "soak %s: the server was started" % what)
            t.eq([], t.traces_in(dir), "soak %s: trace files" % what)
            expect_no_strays(what)
    else:
        t.fatal("--case must be run|kill|sigint|notready|early|badflags, not %r" % case)
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    for pid, _ in strays():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
t.done()
