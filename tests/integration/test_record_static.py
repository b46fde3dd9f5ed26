#!/usr/bin/env python3
import os

import pstest

# perfshim record refuses a static binary (it cannot be preloaded): exit 2,
# one line on stderr, no "clean" trace.
t = pstest.Test()
if not t.target or not os.path.exists(t.target):
    t.skip("no static target (libc.a missing)")
dir = t.tempdir()
rc, out, err = t.perfshim_run(["record", "-o", os.path.join(dir, "rec.%p.trace"), "--", t.target],
                              cwd=dir)
t.eq(2, rc, "record's exit status")
t.eq(1, pstest.count_lines(err), "stderr lines (%r)" % err)
t.eq([], os.listdir(dir), "files written")
t.done()
