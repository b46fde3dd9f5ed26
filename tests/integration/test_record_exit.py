#!/usr/bin/env python3
import os
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pstest  # noqa: E402

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
t.done()
