#!/usr/bin/env python3
import os

import pstest

# perfshim record on a target that SIGKILLs itself 2.5 s after its leaks:
# record knows the signal, so the report says "signal 9".
t = pstest.Test()
dir = t.tempdir()
tmpl = os.path.join(dir, "rec.%p.trace")
rc, out, err = t.perfshim_run(["record", "-o", tmpl, "--", t.target, "self"], cwd=dir)
t.check(rc in (137, -9), "record's exit status: expected 137 (128+9) or death by signal 9, actual %d" % rc)
traces = t.traces_in(dir, "rec.")
t.eq(1, len(traces), "trace files")
if not traces:
    t.done()
rcr, outr, errr = t.perfshim_run(["report", "--format", "json", traces[0]])
t.eq(0, rcr, "report exit status (stderr %r)" % errr)
if rcr == 0:
    import json
    rep = json.loads(outr)
    t.check_common(rep)
    t.eq("signal 9", rep["process"]["exit"], "process.exit")
    t.expect_leak(rep, "leak_loop", "@leak:loop", blocks=10, bytes=2560, caller="main",
                  kind="unknown")  # killed: no exit scan
t.done()
