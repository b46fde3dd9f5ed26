#!/usr/bin/env python3
import os

import pstest

# perfshim record: passes the exit status through (t_exit_code exits 3),
# prints the trace path on stderr, and -o / the default template work.
t = pstest.Test()
dir = t.tempdir()
tmpl = os.path.join(dir, "rec.%p.trace")
rc, out, err = t.perfshim_run(["record", "-o", tmpl, "--", t.target], cwd=dir)
t.eq(3, rc, "record's exit status")
traces = t.traces_in(dir, "rec.")
t.eq(1, len(traces), "trace files (%s)" % os.listdir(dir))
if traces:
    t.check(traces[0].encode() in err, "stderr: expected the trace path %s, actual %r" % (traces[0], err))
    rep = t.report(traces[0])
    t.eq("exited 3", rep["process"]["exit"], "process.exit")
    t.expect_leak(rep, "leak_one", "@leak:one", blocks=1, bytes=42, caller="main")
    t.eq("rec.%d.trace" % rep["process"]["pid"], os.path.basename(traces[0]), "file name from -o")
# Without -o: perfshim.%p.trace in the working directory.
dir2 = t.tempdir()
rc, out, err = t.perfshim_run(["record", t.target], cwd=dir2)
t.eq(3, rc, "record's exit status (no -o)")
names = os.listdir(dir2)
t.check(len(names) == 1 and names[0].startswith("perfshim.") and names[0].endswith(".trace"),
        "default output: expected one perfshim.PID.trace, actual %s" % names)

# Knob flags: --stack-depth 1 keeps one frame (the caller of malloc, plus
# the frames inlined there); --net 0 leaves the program's calls alone.
dir3 = t.tempdir()
rc, out, err = t.perfshim_run(["record", "--stack-depth", "1", "--net", "0", "-o",
                               os.path.join(dir3, "k.%p.trace"), "--", t.target], cwd=dir3)
t.eq(3, rc, "record's exit status (knob flags)")
traces = t.traces_in(dir3, "k.")
if t.eq(1, len(traces), "trace files with knob flags"):
    rep = t.report(traces[0])
    t.eq({}, rep["calls"], "calls with --net 0")
    for leak in rep["leaks"]:
        t.eq(1, len([f for f in leak["stack"] if not f["inlined"]]), "frames with --stack-depth 1")
# A flag that names no knob, or a knob without its value: one line, status 2.
for args, what in ((["--bogus", "1", "--", t.target], "unknown option '--bogus'"),
                   (["--flush-ms"], "--flush-ms needs a value"),
                   (["--output-x", "1", "--", t.target], "unknown option")):
    rc, out, err = t.perfshim_run(["record"] + args, cwd=dir3)
    t.eq(2, rc, "record %s: status" % " ".join(args))
    t.check(what.encode() in err and err.count(b"\n") == 1,
            "record %s: expected one line with %r, actual %r" % (" ".join(args), what, err))
t.done()
