#!/usr/bin/env python3
import pstest

import os

# t_soak_grow RUN_S, traced with PERFSHIM_SAMPLE_MS=100.  Truth (see
# t_soak_grow.c): grow_site keeps malloc(1000) every 10 ms on absolute
# deadlines = 6,000,000 bytes/min, 6000 blocks/min, RUN_S*100 blocks live at
# exit; churn_site allocates 20,000 blocks/s at a constant live size (never
# a suspect).  The report's default warm-up is min(60 s, 20% of the run).
RUN_S = 10
SAMPLE_MS = 100
TICKS = RUN_S * 100
GROW_BYTES = 1000
GROW_PER_MIN = GROW_BYTES * 100 * 60          # 6,000,000 bytes/min
GROW_BLOCKS_PER_MIN = 100 * 60                # 6000 blocks/min
TOL = 0.25                                    # growth rates: within 25% of the truth
RING_BYTES = sum(32 + (i * 37) % 480 for i in range(512))   # the churn ring's live bytes

t = pstest.Test()
if not t.target:
    t.skip("t_soak_grow is not built")
GROW_LINE = pstest.marker_line(t.source, "@leak:grow")


def near(truth, actual, what, tol=TOL):
    return t.between(truth * (1 - tol), truth * (1 + tol), actual,
                     "%s (truth %s, +-%d%%)" % (what, truth, round(tol * 100)))


run = t.run_traced([t.target, str(RUN_S)], env_extra={"PERFSHIM_SAMPLE_MS": str(SAMPLE_MS)},
                   timeout=RUN_S + 30)
t.exit_ok(run, "t_soak_grow")
trace, rep = t.one_trace(run)
dur = rep["process"].get("duration_s")
t.between(RUN_S, RUN_S + 5, dur, "process.duration_s")
t.eq(False, rep["summary"].get("live_at_end"), "summary.live_at_end (the process exited)")
t.eq(False, rep["summary"].get("sampled"), "summary.sampled (no trace cap)")

# ---- leak_suspects ---------------------------------------------------------
sus = rep.get("leak_suspects")
if not t.check(isinstance(sus, list) and sus, "leak_suspects: expected a non-empty list, "
               "actual %r" % (sus,)):
    t.done()
rates = [s.get("growth_bytes_per_min") for s in sus]
t.check(rates == sorted(rates, reverse=True),
        "leak_suspects not sorted by growth_bytes_per_min descending: %s" % rates)
for s in sus:
    t.check(s.get("status") in ("growing", "plateau", "slowing"),
            "leak_suspects: bad status %r" % s.get("status"))
    t.between(0.0, 1.0, s.get("steadiness"), "leak_suspects[].steadiness")
    for fr in s.get("stack") or []:
        t.check(not pstest.func_is(fr, "churn_site"),
                "churn_site (constant live size) is a suspect: %s" % pstest.describe_suspects([s]))
        t.check("libperfshim" not in (fr.get("module") or ""),
                "the shim's own frame in a suspect: %s" % pstest.describe_suspects([s]))

top = sus[0]
st = top.get("stack") or []
i = pstest.user_frame(st)
if t.check(i is not None and pstest.func_is(st[i], "grow_site"),
           "top suspect: expected grow_site, actual %s" % pstest.describe_suspects(sus)):
    t.eq("t_soak_grow.c", os.path.basename(st[i].get("file") or ""), "top suspect: file")
    t.eq(GROW_LINE, st[i].get("line"), "top suspect: line (@leak:grow)")
    t.check(i + 1 < len(st) and pstest.func_is(st[i + 1], "main"),
            "top suspect: caller frame: expected main, actual %s" % pstest.short_stack(st[i + 1:]))
t.eq(1, len(pstest.suspects_at(rep, "grow_site")), "suspects at grow_site (%s)" % pstest.describe_suspects(sus))
t.eq("growing", top.get("status"), "top suspect status")
near(GROW_PER_MIN, top.get("growth_bytes_per_min"), "top suspect growth_bytes_per_min")
near(GROW_BLOCKS_PER_MIN, top.get("growth_blocks_per_min"), "top suspect growth_blocks_per_min")
t.eq(TICKS * GROW_BYTES, top.get("live_bytes_end"), "top suspect live_bytes_end (every block kept)")
t.eq(TICKS, top.get("live_blocks_end"), "top suspect live_blocks_end")
t.between(0.95, 1.0, top.get("steadiness"),
          "top suspect steadiness (R^2 of a straight line, 1000 equal steps)")

# the same blocks as a leak group
t.expect_leak(rep, "grow_site", "@leak:grow", blocks=TICKS, bytes=TICKS * GROW_BYTES, kind=None,
              caller="main")
t.expect_no_leak(rep, "churn_site", why="the ring is freed before exit")

# ---- resources ---------------------------------------------------------------
res = t.section(rep, "resources")
for key in ("rss_start_bytes", "rss_peak_bytes", "rss_end_bytes", "rss_growth_bytes_per_min",
            "heap_growth_bytes_per_min", "threads_peak", "fds_peak", "samples", "vm_peak_bytes",
            "heap_end_bytes", "warmup_s", "window_s", "verdict", "cpu_s",
            "shim_memory_peak_bytes", "trace_bytes", "trace_bytes_per_min", "memory"):
    t.check(key in res, "resources has no key %r (keys: %s)" % (key, sorted(res)))
mem = res.get("memory") or {}
for key in ("rss_bytes", "rss_anon_bytes", "rss_file_bytes", "heap_live_bytes",
            "allocator_overhead_bytes", "allocator_free_bytes", "non_heap_bytes", "allocator"):
    t.check(key in mem, "resources.memory has no key %r (keys: %s)" % (key, sorted(mem)))
t.check("glibc" in str(mem.get("allocator")).lower(),
        "resources.memory.allocator: expected glibc's, actual %r" % mem.get("allocator"))
t.eq("growing", res.get("verdict"), "resources.verdict")
near(GROW_PER_MIN, res.get("heap_growth_bytes_per_min"),
     "resources.heap_growth_bytes_per_min (the churn's live size is constant)")
# RSS follows the heap (every kept byte is written), page-granular, plus the
# shim's own memory: a looser, stated tolerance.
near(GROW_PER_MIN, res.get("rss_growth_bytes_per_min"), "resources.rss_growth_bytes_per_min",
     tol=0.5)
if isinstance(dur, (int, float)):
    exp = dur * 1000.0 / SAMPLE_MS
    t.between(int(exp * 0.75) - 1, int(exp) + 2, res.get("samples"),
              "resources.samples (%.2f s at %d ms)" % (dur, SAMPLE_MS))
    t.between(0.2 * dur - 0.1, 0.2 * dur + 0.1, res.get("warmup_s"),
              "resources.warmup_s (default: 20%% of a %.2f s run)" % dur)
    w = res.get("warmup_s") if isinstance(res.get("warmup_s"), (int, float)) else 0.2 * dur
    t.between(dur - w - 0.6, dur - w + 0.05, res.get("window_s"),
              "resources.window_s (the run after the warm-up)")
t.eq(1, res.get("threads_peak"), "resources.threads_peak (one thread; the shim's not counted)")
t.between(3, 3 + 32, res.get("fds_peak"), "resources.fds_peak (stdio + the shim's own)")
t.between(TICKS * GROW_BYTES * 0.95, TICKS * GROW_BYTES + RING_BYTES + 64 * 1024,
          res.get("heap_end_bytes"), "resources.heap_end_bytes (the grower's 1,000,000 bytes at "
          "the last sample, the ring maybe)")
for key in ("rss_start_bytes", "rss_peak_bytes", "rss_end_bytes", "vm_peak_bytes",
            "shim_memory_peak_bytes", "trace_bytes"):
    t.between(1, float("inf"), res.get(key), "resources.%s" % key)
t.check(isinstance(res.get("rss_peak_bytes"), int) and isinstance(res.get("rss_end_bytes"), int)
        and res["rss_peak_bytes"] >= res["rss_end_bytes"],
        "resources.rss_peak_bytes >= rss_end_bytes: %r, %r"
        % (res.get("rss_peak_bytes"), res.get("rss_end_bytes")))
t.between(0, os.path.getsize(trace), res.get("trace_bytes"),
          "resources.trace_bytes (at most the file's size)")

# ---- text report: the verdict first ----------------------------------------------
rc, out, err = t.perfshim_run(["report", trace])
t.eq(0, rc, "report (text) exit status (stderr %r)" % err)
lines = [l for l in out.decode(errors="replace").splitlines() if l.strip()]
first = lines[0] if lines else ""
t.check(first.startswith("VERDICT: GROWING"),
        "text report: first line: expected 'VERDICT: GROWING...', actual %r" % first)
t.check("grow_site" in first and "t_soak_grow.c:%d" % GROW_LINE in first,
        "text report: verdict line names the top suspect grow_site (t_soak_grow.c:%d): %r"
        % (GROW_LINE, first))
t.check("LIVE AT END" not in out.decode(errors="replace"),
        "text report says LIVE AT END for a process that exited")

# ---- --warmup -----------------------------------------------------------------------
rc, out, err = t.perfshim_run(["report", "--format", "json", "--warmup", "5s", trace])
if t.eq(0, rc, "report --warmup 5s exit status (stderr %r)" % err):
    import json
    rep5 = json.loads(out)
    res5 = rep5.get("resources") or {}
    t.between(4.99, 5.01, res5.get("warmup_s"), "report --warmup 5s: resources.warmup_s")
    s5 = rep5.get("leak_suspects") or [{}]
    st5 = s5[0].get("stack") or []
    i5 = pstest.user_frame(st5)
    t.check(i5 is not None and pstest.func_is(st5[i5], "grow_site"),
            "report --warmup 5s: top suspect: expected grow_site, actual %s" % pstest.describe_suspects(s5))
    near(GROW_PER_MIN, s5[0].get("growth_bytes_per_min"),
         "report --warmup 5s: top suspect growth_bytes_per_min")
for bad in ("bogus", "-1s", "5x"):
    rc, out, err = t.perfshim_run(["report", "--warmup", bad, trace])
    t.eq(2, rc, "report --warmup %s: exit status" % bad)
    t.eq(1, pstest.count_lines(err), "report --warmup %s: stderr lines (%r)" % (bad, err))
t.done()
