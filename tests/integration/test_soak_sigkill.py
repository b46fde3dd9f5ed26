#!/usr/bin/env python3
import pstest

import subprocess

# t_soak_grow 30 under plain LD_PRELOAD (PERFSHIM_SAMPLE_MS=100, flush every
# 1000 ms), SIGKILLed KILL_AFTER_S after its "ready": a soak that was cut
# short.  The trace has no end record: report exits 0 with one warning line;
# summary.live_at_end is true and the text report's leak section says
# "LIVE AT END"; the resource samples up to the last flush are there and
# `perfshim timeline` reads them.
KILL_AFTER_S = 4.0
SAMPLE_MS = 100
HEADER = ("time_s,rss_bytes,vm_bytes,heap_live_bytes,heap_live_blocks,heap_usable_bytes,"
          "threads,fds,cpu_percent,allocations_total,frees_total")

t = pstest.Test()
if not t.target:
    t.skip("t_soak_grow is not built")
dir = t.tempdir()
env = t.traced_env(dir, extra={"PERFSHIM_FLUSH_MS": "1000", "PERFSHIM_SAMPLE_MS": str(SAMPLE_MS)})
proc = subprocess.Popen([t.target, "30"], cwd=dir, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
try:
    t.check(pstest.kill_after_ready(proc, delay=KILL_AFTER_S), "target never printed 'ready'")
finally:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
t.eq(-9, proc.returncode, "target's fate")
traces = t.traces_in(dir)
t.eq(1, len(traces), "trace files")
if not traces:
    t.done()
trace = traces[0]

rep = t.report(trace, allow_warning=True)
t.eq("unknown", rep["process"]["exit"], "process.exit (plain LD_PRELOAD)")
t.eq(True, rep["summary"].get("live_at_end"), "summary.live_at_end (no end record)")
res = t.section(rep, "resources")
# Killed >= 4 s after start, at most 1 s of events lost: ~30 samples of 100 ms.
t.between(5, float("inf"), res.get("samples"), "resources.samples")
# The grower's blocks up to the last flush (100 a second, >= 3 s of them).
g = t.leaks_at(rep, "grow_site")
t.eq(1, len(g), "leak groups at grow_site (%s)" % t.describe_leaks(rep))
if g:
    t.between(200, 3000, g[0]["blocks"], "grow_site blocks live at end")
    t.eq(g[0]["blocks"] * 1000, g[0]["bytes"], "grow_site bytes (1000 per block)")

# ---- text report ----------------------------------------------------------------
rc, out, err = t.perfshim_run(["report", trace])
t.eq(0, rc, "report (text) exit status (stderr %r)" % err)
t.eq(1, pstest.count_lines(err), "report (text): warning lines on stderr (%r)" % err)
text = out.decode(errors="replace")
t.check("LIVE AT END" in text, "text report does not say LIVE AT END:\n%s" % text[:3000])
first = ([l for l in text.splitlines() if l.strip()] or [""])[0]
t.check(first.startswith("VERDICT: "), "text report: first line: expected the verdict, actual %r"
        % first)

# ---- timeline -----------------------------------------------------------------------
rc, out, err = t.perfshim_run(["timeline", trace])
t.eq(0, rc, "timeline exit status (stderr %r)" % err)
t.between(0, 1, pstest.count_lines(err), "timeline: stderr lines (a warning at most): %r" % err)
rows = out.decode(errors="replace").splitlines()
t.eq(HEADER, rows[0] if rows else "", "timeline csv header")
data = [r.split(",") for r in rows[1:] if r.strip()]
t.eq(res.get("samples"), len(data), "timeline rows vs resources.samples")
times = []
for r in data:
    if not t.eq(11, len(r), "timeline row fields (%r)" % ",".join(r)):
        break
    times.append(float(r[0]))
t.check(all(a < b for a, b in zip(times, times[1:])), "timeline: time_s not increasing: %s"
        % times[:50])
t.done()
