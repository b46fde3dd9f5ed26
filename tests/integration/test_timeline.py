#!/usr/bin/env python3
import pstest

import json
import os
import shutil
import statistics
import subprocess
import xml.etree.ElementTree as ET

# `perfshim timeline` on t_soak_grow RUN_S traced with PERFSHIM_SAMPLE_MS=100.
# Truth (see t_soak_grow.c): one thread; the heap grows 100,000 bytes/s
# (grow_site, exact deadlines) while churn_site keeps a constant live size.
#   csv:  the spec's header exactly, one row per sample, time_s increasing,
#         ~duration/period rows 100 ms apart, counters never decreasing,
#         heap_live_bytes rising at ~100,000 bytes/s;
#   json: pid, command, sample_ms, samples with the csv's keys and values;
#   svg:  well-formed XML with axis labels and units, renders (rsvg-convert);
#   -o FILE writes what stdout would; a trace recorded with
#   PERFSHIM_SAMPLE_MS=0 has no samples: exit 2 and one line.
RUN_S = 3
SAMPLE_MS = 100
HEAP_RATE = 100000.0        # bytes/s from grow_site
TOL = 0.25
COLS = ["time_s", "rss_bytes", "vm_bytes", "heap_live_bytes", "heap_live_blocks",
        "heap_usable_bytes", "threads", "fds", "cpu_percent", "allocations_total", "frees_total"]
HEADER = ",".join(COLS)

t = pstest.Test()
if not t.target:
    t.skip("t_soak_grow is not built")


def timeline(args):
    return t.perfshim_run(["timeline"] + args)


run = t.run_traced([t.target, str(RUN_S)], env_extra={"PERFSHIM_SAMPLE_MS": str(SAMPLE_MS)},
                   timeout=RUN_S + 30)
t.exit_ok(run, "t_soak_grow")
trace, rep = t.one_trace(run)
dur = rep["process"].get("duration_s") or RUN_S

# ---- csv (the default) --------------------------------------------------------------
rc, out, err = timeline([trace])
t.eq(0, rc, "timeline exit status (stderr %r)" % err)
t.eq(b"", err, "timeline stderr")
csv_text = out.decode(errors="replace")
lines = csv_text.splitlines()
t.eq(HEADER, lines[0] if lines else None, "csv header")
rows = []
for l in lines[1:]:
    f = l.split(",")
    if not t.eq(len(COLS), len(f), "csv row fields (%r)" % l):
        t.done()
    try:
        rows.append({c: (float(v) if c in ("time_s", "cpu_percent") else int(v))
                     for c, v in zip(COLS, f)})
    except ValueError:
        t.fatal("csv row does not parse: %r" % l)
bad = [l.split(",")[0] for l in lines[1:] if len(l.split(",")[0].partition(".")[2]) != 3]
t.check(not bad, "csv time_s not with 3 decimals: %r" % bad[:5])
exp = dur * 1000.0 / SAMPLE_MS
t.between(int(exp * 0.75) - 1, int(exp) + 2, len(rows),
          "csv rows (%.2f s at %d ms)" % (dur, SAMPLE_MS))
t.eq(len(rows), (rep.get("resources") or {}).get("samples"), "csv rows vs resources.samples")
if len(rows) < 3:
    t.done()
ts = [r["time_s"] for r in rows]
t.check(all(a < b for a, b in zip(ts, ts[1:])), "csv time_s not increasing: %s" % ts)
t.between(0.0, dur + 0.5, ts[0], "csv first time_s (seconds since the start)")
t.between(0.0, dur + 0.5, ts[-1], "csv last time_s")
gap = statistics.median(b - a for a, b in zip(ts, ts[1:]))
t.between(SAMPLE_MS / 1000.0 * 0.8, SAMPLE_MS / 1000.0 * 1.2, gap, "csv median time_s step")
for c in ("allocations_total", "frees_total"):
    v = [r[c] for r in rows]
    t.check(all(a <= b for a, b in zip(v, v[1:])), "csv %s decreases: %s" % (c, v))
    t.check(v[-1] > v[0], "csv %s does not grow: %s" % (c, v))
for r in rows:
    t.eq(1, r["threads"], "csv threads at %.3f s (one thread; the shim's not counted)" % r["time_s"])
    t.check(r["rss_bytes"] > 0 and r["vm_bytes"] >= r["rss_bytes"],
            "csv at %.3f s: rss %d, vm %d" % (r["time_s"], r["rss_bytes"], r["vm_bytes"]))
    t.check(r["heap_usable_bytes"] >= r["heap_live_bytes"] > 0,
            "csv at %.3f s: heap_usable_bytes %d < heap_live_bytes %d"
            % (r["time_s"], r["heap_usable_bytes"], r["heap_live_bytes"]))
    t.between(3, 3 + 32, r["fds"], "csv fds at %.3f s" % r["time_s"])
    t.between(0.0, 200.0, r["cpu_percent"], "csv cpu_percent at %.3f s (one thread)" % r["time_s"])
    if t.failures > 10:
        break


def slope(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


# grow_site: +1000 bytes and +1 block every 10 ms.  The least-squares slope
# over the rows well inside the loop: not before the ring is filled (the
# first milliseconds), not after RUN_S s (the ring is freed before exit,
# and a last sample may be taken at exit).
body = [r for r in rows if 0.05 <= r["time_s"] <= RUN_S - 0.05]
if t.check(len(body) >= 10, "csv: rows between 0.05 and %.2f s: %d" % (RUN_S - 0.05, len(body))):
    xs = [r["time_s"] for r in body]
    t.between(HEAP_RATE * (1 - TOL), HEAP_RATE * (1 + TOL),
              slope(xs, [r["heap_live_bytes"] for r in body]),
              "csv heap_live_bytes slope, bytes/s (truth %d)" % HEAP_RATE)
    t.between(100 * (1 - TOL), 100 * (1 + TOL), slope(xs, [r["heap_live_blocks"] for r in body]),
              "csv heap_live_blocks slope, blocks/s (truth 100)")

# -o FILE: the same bytes as stdout
outfile = os.path.join(run.dir, "tl.csv")
rc, out2, err = timeline(["-o", outfile, trace])
t.eq(0, rc, "timeline -o exit status (stderr %r)" % err)
t.eq(b"", out2, "timeline -o: stdout")
if os.path.exists(outfile):
    with open(outfile, "rb") as f:
        t.eq(out, f.read(), "timeline -o FILE vs stdout")
else:
    t.fail("timeline -o did not write %s" % outfile)
rc, out3, err = timeline(["--format", "csv", trace])
t.eq(out, out3, "timeline --format csv vs the default")

# ---- json ------------------------------------------------------------------------------
rc, out, err = timeline(["--format", "json", trace])
t.eq(0, rc, "timeline --format json exit status (stderr %r)" % err)
try:
    js = json.loads(out)
except ValueError as e:
    js = {}
    t.fail("timeline json does not parse: %s: %r" % (e, out[:200]))
t.eq(rep["process"]["pid"], js.get("pid"), "json pid")
t.eq(rep["process"]["command"], js.get("command"), "json command")
t.eq(SAMPLE_MS, js.get("sample_ms"), "json sample_ms")
samples = js.get("samples")
if t.check(isinstance(samples, list), "json samples: %r" % (samples,)):
    t.eq(len(rows), len(samples), "json samples vs csv rows")
    for s, r in zip(samples, rows):
        if not t.eq(sorted(COLS), sorted(s), "json sample keys"):
            break
        for c in COLS:
            if c in ("time_s", "cpu_percent"):
                ok = isinstance(s[c], (int, float)) and abs(s[c] - r[c]) <= (0.0005 if c == "time_s" else 0.05)
            else:
                ok = s[c] == r[c]
            if not t.check(ok, "json %s at %.3f s: %r, csv %r" % (c, r["time_s"], s[c], r[c])):
                break

# ---- svg --------------------------------------------------------------------------------
svgfile = os.path.join(run.dir, "tl.svg")
rc, out, err = timeline(["--format", "svg", "-o", svgfile, trace])
t.eq(0, rc, "timeline --format svg exit status (stderr %r)" % err)
try:
    root = ET.parse(svgfile).getroot()
except (ET.ParseError, OSError) as e:
    t.fatal("svg does not parse as XML: %s" % e)
t.eq("{http://www.w3.org/2000/svg}svg", root.tag, "svg root element")
texts = [("".join(el.itertext())).strip() for el in root.iter()
         if el.tag.rsplit("}", 1)[-1] == "text"]
joined = " | ".join(texts).lower()
t.check(len(texts) >= 8, "svg: expected axis labels and ticks as <text>, actual %r" % texts)
for want, why in ((("rss",), "an RSS panel"), (("heap",), "the heap"),
                  (("thread",), "a threads panel"), (("fd", "file desc"), "an fds panel"),
                  (("(s)", "seconds", "time (s", " s)"), "the time axis in seconds"),
                  (("bytes", "mib", "kib", "(b)"), "a bytes unit")):
    t.check(any(w in joined for w in want), "svg: no <text> for %s (%s): %s"
            % (why, " or ".join(want), texts[:40]))
for el in root.iter():
    tag = el.tag.rsplit("}", 1)[-1]
    for attr in ("href", "{http://www.w3.org/1999/xlink}href"):
        ref = el.get(attr) or ""
        t.check(not ref.startswith(("http:", "https:", "file:")),
                "svg: not self-contained: <%s %s=%r>" % (tag, attr, ref))
rsvg = shutil.which("rsvg-convert")
if rsvg:
    png = os.path.join(run.dir, "tl.png")
    p = subprocess.run([rsvg, "-o", png, svgfile], capture_output=True, timeout=30)
    t.eq(0, p.returncode, "rsvg-convert exit status (stderr %r)" % p.stderr)
    if os.path.exists(png):
        with open(png, "rb") as f:
            t.eq(b"\x89PNG\r\n\x1a\n", f.read(8), "rsvg-convert output: PNG signature")
    else:
        t.fail("rsvg-convert wrote no PNG")
else:
    print("note: rsvg-convert not installed: the SVG is not rendered")

# ---- bad input --------------------------------------------------------------------------------
for args, what in ((["--format", "bogus", trace], "--format bogus"),
                   ([os.path.join(run.dir, "no-such.trace")], "a missing trace")):
    rc, out, err = timeline(args)
    t.eq(2, rc, "timeline %s: exit status" % what)
    t.eq(1, pstest.count_lines(err), "timeline %s: stderr lines (%r)" % (what, err))

# ---- a trace without samples ------------------------------------------------------------------
run0 = t.run_traced([t.target, "1"], env_extra={"PERFSHIM_SAMPLE_MS": "0"}, timeout=30)
t.exit_ok(run0, "t_soak_grow (PERFSHIM_SAMPLE_MS=0)")
trace0, rep0 = t.one_trace(run0)
t.check("resources" not in rep0, "report of a trace without samples has 'resources': %r"
        % rep0.get("resources"))
rc, out, err = timeline([trace0])
t.eq(2, rc, "timeline of a trace without samples: exit status")
t.eq(b"", out, "timeline of a trace without samples: stdout")
t.eq(1, pstest.count_lines(err), "timeline of a trace without samples: stderr lines (%r)" % err)
t.check(b"no resource samples" in err, "timeline of a trace without samples: stderr %r" % err)
t.done()
