#!/usr/bin/env python3
"""perfshim diff: a regression is found with the right sites and exit 1;
two runs of the same program give exit 0 at the default threshold.

Traces (t_regress, see gatelib.py; 30 requests each, no idle time):
  base, base2: two runs of `t_regress base`;
  worse:       `t_regress worse`: cache_put leaks 65536 bytes a request
               instead of 32 (the same source line: the site grew),
               remember_request leaks 100 bytes a request (a new site),
               and slow_lookup sleeps 20 ms a request (usleep, a call
               base never makes).

Truth asserted (no timing threshold: worse is slower by construction,
>= 20 ms a request against none, and only the direction is asserted):
  diff base worse --format json: exit 1, regressed; leak_sites.new holds
    remember_request at its @leak:remember line (baseline null, current
    3000 bytes in 30 blocks); leak_sites.grown holds cache_put at its
    @leak:cache line (960 -> 1,966,080 bytes); both regressions; load_config
    (same in both) in neither list; the regressions name
    summary.leaked_bytes (the reports' values), requests.p50_us (current
    > baseline) and calls.usleep.p50_us (new: baseline null, current >=
    20 ms); every metric has its keys.
  text and markdown say REGRESSED and name the sites and usleep.
  diff base base2: exit 0, not regressed, no new or grown leak site.
  --threshold 1e9 still fails on the new leak site (from 0); -o FILE
  holds what stdout would.
  Bad input (missing trace, not a trace, one or three traces, bad format,
  bad threshold, unknown option): exit 2, one line, nothing on stdout, an
  existing -o file left as it was.
"""
import json
import os

import pstest
import gatelib

t = pstest.Test()
if not t.target:
    t.skip("t_regress is not built")
SRC = os.path.basename(t.source)

base, rb = gatelib.record(t, "base")
base2, _ = gatelib.record(t, "base")
worse, rw = gatelib.record(t, "worse")
dir_ = t.tempdir()


def diff(args):
    rc, out, err = t.perfshim_run(["diff"] + args)
    return rc, out, err.decode(errors="replace")


def diff_json(b, c, extra=()):
    rc, out, err = diff(["--format", "json"] + list(extra) + [b, c])
    try:
        return rc, json.loads(out), err
    except ValueError as e:
        t.fatal("diff --format json: not JSON (%s): %r" % (e, out[:300]))


def site_in(lst, func):
    return [s for s in lst if s.get("function") == func]


def where(s):
    return "%s %s:%s" % (s.get("function"), s.get("file"), s.get("line"))


# ---- base -> worse: regressed ------------------------------------------------------
rc, d, err = diff_json(base, worse)
t.eq(1, rc, "diff base worse: exit status (stderr %r)" % err)
t.eq("", err, "diff base worse: stderr")
t.eq(True, d.get("regressed"), "diff base worse: regressed")
for key in ("perfshim_version", "baseline", "current", "threshold_percent", "min_latency_us",
            "regressions", "metrics", "leak_sites", "alloc_sites"):
    t.check(key in d, "diff JSON has no key %r (keys %s)" % (key, sorted(d)))
t.eq(10, d.get("threshold_percent"), "default threshold")
t.eq(base, d["baseline"].get("trace"), "baseline.trace")
t.eq(worse, d["current"].get("trace"), "current.trace")

new = d["leak_sites"]["new"]
grown = d["leak_sites"]["grown"]
rem = site_in(new, "remember_request")
if t.eq(1, len(rem), "remember_request in leak_sites.new (%s)" % [where(s) for s in new]):
    s = rem[0]
    t.eq(SRC, os.path.basename(s.get("file") or ""), "remember_request's file")
    t.eq(pstest.marker_line(t.source, "@leak:remember"), s.get("line"), "remember_request's line")
    t.eq(None, s.get("baseline"), "remember_request: baseline")
    t.eq({"leaked_bytes": 3000, "leaked_blocks": 30},
         {k: (s.get("current") or {}).get(k) for k in ("leaked_bytes", "leaked_blocks")},
         "remember_request: current")
    t.eq(3000, s.get("leaked_bytes_change"), "remember_request: leaked_bytes_change")
    t.eq(True, s.get("regression"), "remember_request: regression")
    t.check(s.get("stack") and s["stack"][0].get("function") == "remember_request"
            and any(pstest.func_is(f, "handle_request") for f in s["stack"]),
            "remember_request's stack: %s" % pstest.short_stack(s.get("stack") or []))
cache = site_in(grown, "cache_put")
if t.eq(1, len(cache), "cache_put in leak_sites.grown (%s)" % [where(s) for s in grown]):
    s = cache[0]
    t.eq(pstest.marker_line(t.source, "@leak:cache"), s.get("line"), "cache_put's line")
    t.eq((960, 30 * 65536), ((s.get("baseline") or {}).get("leaked_bytes"),
                             (s.get("current") or {}).get("leaked_bytes")), "cache_put: leaked bytes")
    t.eq(30 * 65536 - 960, s.get("leaked_bytes_change"), "cache_put: leaked_bytes_change")
    t.eq(True, s.get("regression"), "cache_put: regression")
for lst, what in ((new, "new"), (grown, "grown")):
    t.eq([], site_in(lst, "load_config"), "load_config (unchanged) in leak_sites.%s" % what)
t.eq([], site_in(new, "cache_put"), "cache_put is matched, not new")

regs = {r.get("name"): r for r in d["regressions"]}
lb = regs.get("summary.leaked_bytes") or {}
t.eq((rb["summary"]["leaked_bytes"], rw["summary"]["leaked_bytes"]), (lb.get("baseline"), lb.get("current")),
     "regression summary.leaked_bytes")
p50 = regs.get("requests.p50_us") or {}
t.check(p50 and p50["current"] > p50["baseline"], "regression requests.p50_us slower: %r" % p50)
us = regs.get("calls.usleep.p50_us") or {}
t.check(us and us.get("baseline") is None and us.get("current", 0) >= 20000,
        "regression calls.usleep.p50_us, a call new in CURRENT: %r" % us)
t.check("leak_sites.new" in regs and "leak_sites.grown" in regs,
        "regressions name the leak sites: %s" % sorted(regs))
for m in d["metrics"]:
    t.check(set(m) >= {"name", "baseline", "current", "change", "change_percent", "gated", "regression"},
            "metric keys: %r" % m)
names = [m["name"] for m in d["metrics"]]
t.check("calls.recv.p99_us" in names and "resources.heap_growth_bytes_per_min" in names,
        "metrics list calls and resources: %s" % names)

rc, out, err = diff([base, worse])
text = out.decode(errors="replace")
t.eq(1, rc, "diff (text): exit status (stderr %r)" % err)
t.check(text.startswith("REGRESSED"), "diff (text) starts with REGRESSED: %r" % text[:80])
for word in ("remember_request", "cache_put", "usleep", "leaked bytes", "%s:%d" % (SRC, pstest.marker_line(t.source, "@leak:cache"))):
    t.check(word in text, "diff (text) mentions %r" % word)
rc, out, err = diff(["--format", "markdown", base, worse])
md = out.decode(errors="replace")
t.eq(1, rc, "diff --format markdown: exit status")
t.check(md.startswith("## perfshim diff") and "**REGRESSED**" in md and "| remember_request" not in md
        and "`remember_request" in md, "diff markdown: %r" % md[:300])

# a new leak site is a regression whatever the threshold
rc, d2, err = diff_json(base, worse, ["--threshold", "1e9"])
t.eq(1, rc, "--threshold 1e9: exit status (a new leak site)")
t.eq(["leak_sites.new"], sorted({r["name"] for r in d2["regressions"]} - {"calls.usleep.p50_us"}),
     "--threshold 1e9: what still counts (new site; usleep new)")

# -o FILE: what stdout would be
outf = os.path.join(dir_, "diff.json")
rc, out, err = diff(["-o", outf, "--format=json", base, worse])
t.eq((1, b""), (rc, out), "diff -o: exit status and stdout")
with open(outf) as f:
    t.eq(d, json.load(f), "diff -o FILE holds the JSON")

# ---- the same program twice: no regression ---------------------------------------------
rc, d, err = diff_json(base, base2)
t.eq(0, rc, "diff base base2: exit status (regressions %s)" % json.dumps(d.get("regressions"))[:600])
t.eq(False, d.get("regressed"), "diff base base2: regressed")
t.eq(([], []), (d["leak_sites"]["new"], d["leak_sites"]["grown"]), "diff base base2: new and grown leak sites")
t.eq([], d["alloc_sites"]["new"], "diff base base2: new allocation sites")
rc, out, err = diff([base, base2])
t.eq(0, rc, "diff base base2 (text): exit status")
t.check(out.startswith(b"no regression"), "diff base base2 (text): %r" % out[:80])

# ---- bad input ------------------------------------------------------------------------
keep = os.path.join(dir_, "keep.txt")
with open(keep, "w") as f:
    f.write("keep me\n")
junk = gatelib.not_a_trace(t)
missing = os.path.join(dir_, "missing.trace")
for what, args in [
    ("missing baseline", ["diff", "-o", keep, missing, worse]),
    ("missing current", ["diff", "-o", keep, base, missing]),
    ("not a trace", ["diff", "-o", keep, base, junk]),
    ("one trace", ["diff", base]),
    ("three traces", ["diff", base, base2, worse]),
    ("bad format", ["diff", "--format", "html", base, worse]),
    ("bad threshold", ["diff", "--threshold", "-5", base, worse]),
    ("threshold not a number", ["diff", "--threshold", "ten", base, worse]),
    ("threshold missing", ["diff", base, worse, "--threshold"]),
    ("unknown option", ["diff", "--thresold", "5", base, worse]),
]:
    gatelib.bad_input(t, args, what, keep if "-o" in args else None)
t.done()
