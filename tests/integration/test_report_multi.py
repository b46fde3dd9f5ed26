#!/usr/bin/env python3
"""`perfshim report A B`: each trace symbolized with its own module map.

Module ids are numbered per process, so id 0 is t_basic in one trace and
t_inline in the other.  A symbolizer shared across the traces once showed
the second trace's frames as '??'.  The reports of the two traces together
must equal their reports one by one.
"""
import json

import pstest

t = pstest.Test(extra_args=["--other"])
other = t.args.other
if not t.target or not other:
    t.skip("t_basic or t_inline was not built")

a = t.one_trace(t.run_traced([t.target]))[0]
b = t.one_trace(t.run_traced([other]))[0]
rc, out, err = t.perfshim_run(["report", "--format", "json", a, b])
t.eq(0, rc, "report A B exit status (stderr %r)" % err)
both = json.loads(out) if rc == 0 else []
t.eq(2, len(both), "reports in the output")
for i, path in enumerate([a, b]):
    alone = t.report(path)
    want = [[f.get("function") for f in l["stack"][:3]] for l in alone["leaks"]]
    got = [[f.get("function") for f in l["stack"][:3]] for l in both[i]["leaks"]] if len(both) > i else None
    print("trace %d: %s" % (i, want))
    t.check(all("??" not in w for w in want), "trace %d alone: frames symbolized (%s)" % (i, want))
    t.eq(want, got, "trace %d: leak stacks in 'report A B' equal its own report's" % i)
t.done()
