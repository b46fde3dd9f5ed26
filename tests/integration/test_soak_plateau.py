#!/usr/bin/env python3
import pstest

import os

# t_soak_cache RUN_S, traced with PERFSHIM_SAMPLE_MS=100.  Truth (see
# t_soak_cache.c): cache_put fills a FIFO cache of CAP = RUN_S*50 entries of
# 2000 bytes during the first half of the run (200,000 bytes/s), then stays
# flat (entries keep being replaced); with the default warm-up (20% of the
# run) it grows during 2..5 s of the 2..10 s window and is flat for its last
# half, so its status is "plateau".  grow_site keeps 500 bytes every 10 ms
# to the end: 3,000,000 bytes/min, status "growing".
RUN_S = 10
SAMPLE_MS = 100
TICKS = RUN_S * 100
CAP = TICKS // 2
GROW_PER_MIN = 500 * 100 * 60        # 3,000,000 bytes/min
TOL = 0.25

t = pstest.Test()
if not t.target:
    t.skip("t_soak_cache is not built")


def one_suspect(rep, func, marker):
    found = pstest.suspects_at(rep, func)
    if not t.eq(1, len(found), "suspects at %s (%s)" % (func, pstest.describe_suspects(rep.get("leak_suspects")
                                                                          or []))):
        return {}
    s = found[0]
    st = s["stack"]
    fr = st[pstest.user_frame(st)]
    t.eq("t_soak_cache.c", os.path.basename(fr.get("file") or ""), "suspect %s: file" % func)
    t.eq(pstest.marker_line(t.source, marker), fr.get("line"), "suspect %s: line (%s)"
         % (func, marker))
    return s


run = t.run_traced([t.target, str(RUN_S)], env_extra={"PERFSHIM_SAMPLE_MS": str(SAMPLE_MS)},
                   timeout=RUN_S + 30)
t.exit_ok(run, "t_soak_cache")
trace, rep = t.one_trace(run)
t.eq(False, rep["summary"].get("live_at_end"), "summary.live_at_end")
sus = rep.get("leak_suspects")
if not t.check(isinstance(sus, list), "report has no leak_suspects list: %r" % (sus,)):
    t.done()

cache = one_suspect(rep, "cache_put", "@leak:cache")
t.eq("plateau", cache.get("status"),
     "cache_put status (filled by mid-run, flat since: %s)" % pstest.describe_suspects([cache]) if cache else "")
t.eq(CAP * 2000, cache.get("live_bytes_end"), "cache_put live_bytes_end (CAP entries)")
t.eq(CAP, cache.get("live_blocks_end"), "cache_put live_blocks_end")

grow = one_suspect(rep, "grow_site", "@leak:grow")
t.eq("growing", grow.get("status"), "grow_site status")
t.between(GROW_PER_MIN * (1 - TOL), GROW_PER_MIN * (1 + TOL), grow.get("growth_bytes_per_min"),
          "grow_site growth_bytes_per_min (truth %d, +-25%%)" % GROW_PER_MIN)
t.eq(TICKS * 500, grow.get("live_bytes_end"), "grow_site live_bytes_end")
t.eq(TICKS, grow.get("live_blocks_end"), "grow_site live_blocks_end")
t.eq(2, len(sus), "leak_suspects: the cache and the grower only (%s)" % pstest.describe_suspects(sus))

# The whole heap still grows (the grower): the verdict says so.
res = t.section(rep, "resources")
t.eq("growing", res.get("verdict"), "resources.verdict")
rc, out, err = t.perfshim_run(["report", trace])
t.eq(0, rc, "report (text) exit status (stderr %r)" % err)
lines = [l for l in out.decode(errors="replace").splitlines() if l.strip()]
t.check(lines and lines[0].startswith("VERDICT: GROWING"),
        "text report: first line: expected 'VERDICT: GROWING...', actual %r"
        % (lines[0] if lines else ""))
t.done()
