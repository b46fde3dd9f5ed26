#!/usr/bin/env python3
import pstest

import resource

# t_soak_fds NFDS HOLD_MS NTHREADS, traced with PERFSHIM_SAMPLE_MS=100.
# Truth (see t_soak_fds.c): NFDS descriptors of /dev/null open at once for
# HOLD_MS ms, on top of stdin/out/err and whatever the shim holds;
# 1 + NTHREADS threads for the whole run (the shim's own thread is not the
# target's and is not counted); after the close, the fds are back down.
NFDS, HOLD_MS, NTHREADS = 2000, 1500, 3
SAMPLE_MS = 100
FDS_SLACK = 32      # stdin/out/err + the shim's own descriptors

t = pstest.Test()
if not t.target:
    t.skip("t_soak_fds is not built")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < NFDS + 64:
    t.skip("the hard RLIMIT_NOFILE (%d) is below %d" % (hard, NFDS + 64))

run = t.run_traced([t.target, str(NFDS), str(HOLD_MS), str(NTHREADS)],
                   env_extra={"PERFSHIM_SAMPLE_MS": str(SAMPLE_MS)}, timeout=30)
t.exit_ok(run, "t_soak_fds")
trace, rep = t.one_trace(run)
res = t.section(rep, "resources")
t.between(NFDS, NFDS + FDS_SLACK, res.get("fds_peak"), "resources.fds_peak")
t.eq(1 + NTHREADS, res.get("threads_peak"),
     "resources.threads_peak (main + %d; the shim's thread not counted)" % NTHREADS)

# The timeline shows the same peaks, the hold, and the drop after the close.
rc, out, err = t.perfshim_run(["timeline", trace])
t.eq(0, rc, "timeline exit status (stderr %r)" % err)
t.eq(b"", err, "timeline stderr")
rows = [l for l in out.decode(errors="replace").splitlines() if l.strip()]
cols = rows[0].split(",") if rows else []
if t.check("fds" in cols and "threads" in cols, "timeline header: %r" % (rows[:1],)):
    fi, ti = cols.index("fds"), cols.index("threads")
    data = [r.split(",") for r in rows[1:]]
    fds = [int(r[fi]) for r in data]
    threads = [int(r[ti]) for r in data]
    t.check(fds, "timeline: no rows")
    if fds:
        t.eq(res.get("fds_peak"), max(fds), "timeline: max fds vs resources.fds_peak")
        t.eq(res.get("threads_peak"), max(threads), "timeline: max threads vs threads_peak")
        held = [f for f in fds if f >= NFDS]
        # 1.5 s held, sampled every 100 ms: ~15 rows.
        t.between(5, float("inf"), len(held), "timeline: rows with >= %d fds" % NFDS)
        t.between(0, FDS_SLACK, fds[-1], "timeline: fds in the last row (after the close)")
        t.check(all(n <= 1 + NTHREADS for n in threads),
                "timeline: threads above %d: %s" % (1 + NTHREADS, threads))
t.done()
