#!/usr/bin/env python3
"""flame --format pprof and --format speedscope, read back by their consumers.

Recorded under the shim: t_basic (--target: alloc and leak), t_clock
(--clock: offcpu, with PERFSHIM_OFFCPU_MIN_US=500 so that every sleep is
kept) and t_threads (--threads: cpu at PERFSHIM_CPU_HZ=10000, 9 threads).
Every export must say what `perfshim flame --format folded` says for the
same trace, to the byte, microsecond or nanosecond:

  pprof: `go tool pprof -raw` (the profile as pprof itself decodes it)
    rebuilds the folded lines exactly: each sample's locations innermost
    first, each location's lines innermost first (inline chains), the
    thread_name label as root with --per-thread; values in the documented
    unit (offcpu weight * 1000 ns, cpu weight * period ns).  `-top` gives
    per-function flat and cum totals equal to those of the folded lines.
    Sample types, default sample type, period and the mappings' "already
    symbolized" flags are the documented ones; t_basic's and t_clock's
    counts are their sources' truth.
  speedscope: the structure its file format requires (frame indices valid,
    samples and weights of one length, weights summing to endValue), each
    sample root first, and the same stacks and per-function totals.

pprof runs with HOME, GOCACHE, GOPATH and PPROF_TMPDIR in a temp dir, no
module proxy, and HTTP(S) proxies pointed at a closed port: it must need
nothing but the file.  Skips (77) when `go` is not installed.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
from collections import defaultdict

import pstest

t = pstest.Test(extra_args=["--clock", "--threads"])
GO = shutil.which("go")
if not GO:
    t.skip("go is not installed (Debian golang-go): no `go tool pprof` to read the export")
clock = t.program_arg("clock", "t_clock")
threads = t.program_arg("threads", "t_threads")
out_dir = t.tempdir()
go_home = t.tempdir()
go_env = t.base_env()
go_env.update({
    "HOME": go_home, "GOCACHE": os.path.join(go_home, "cache"),
    "GOPATH": os.path.join(go_home, "gopath"), "PPROF_TMPDIR": os.path.join(go_home, "pprof"),
    "PPROF_BINARY_PATH": os.path.join(go_home, "binaries"), "GOPROXY": "off",
    "GOSUMDB": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "", "GOTELEMETRY": "off",
    "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": "",
    "no_proxy": "",
})
for d in ("binaries", "pprof"):
    os.makedirs(os.path.join(go_home, d), exist_ok=True)

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
TYPES = {  # sample types, the second one the default
    "alloc": [("alloc_objects", "count"), ("alloc_space", "bytes")],
    "leak": [("inuse_objects", "count"), ("inuse_space", "bytes")],
    "cpu": [("samples", "count"), ("cpu", "nanoseconds")],
    "offcpu": [("calls", "count"), ("offcpu", "nanoseconds")],
}
TOP_UNIT = {"bytes": "B", "nanoseconds": "ns"}
SPEEDSCOPE_UNIT = {"alloc": "bytes", "leak": "bytes", "cpu": "nanoseconds", "offcpu": "microseconds"}


def fold_name(name):
    """A frame name as folded text prints it."""
    return name.replace(";", ":").replace("\n", " ")


def record(argv, env_extra=None):
    run = t.run_traced(argv, env_extra=env_extra)
    t.eq(0, run.rc, "%s exit status (stderr %r)" % (os.path.basename(argv[0]), run.stderr))
    t.eq(1, len(run.traces), "%s trace files" % os.path.basename(argv[0]))
    if not run.traces:
        t.done()
    return run.traces[0]


def folded(trace, kind, per_thread):
    """{stack outermost first joined by ';': weight} from --format folded."""
    args = ["flame", "--type", kind] + (["--per-thread"] if per_thread else []) + [trace]
    rc, out, err = t.perfshim_run(args)
    t.eq(0, rc, "flame --type %s --format folded exit status (stderr %r)" % (kind, err))
    lines = {}
    for ln in out.decode().splitlines():
        stack, _, w = ln.rpartition(" ")
        if t.check(stack and w.isdigit() and stack not in lines, "folded line %r" % ln):
            lines[stack] = int(w)
    return lines


def per_function(stacks, skip_root):
    """(flat, cum) per function name of {stack: weight}: flat counts the
    innermost frame, cum each function once per stack.  SKIP_ROOT drops the
    first frame (the thread of --per-thread, which pprof keeps as a label)."""
    flat, cum = defaultdict(int), defaultdict(int)
    for stack, w in stacks.items():
        names = stack.split(";")[1 if skip_root else 0:]
        if not names:
            continue
        flat[names[-1]] += w
        for n in set(names):
            cum[n] += w
    return dict(flat), dict(cum)


def export(trace, kind, fmt, per_thread):
    path = os.path.join(out_dir, "%s%s.%s" % (kind, "-per-thread" if per_thread else "", fmt))
    args = ["flame", "--type", kind, "--format", fmt] + (["--per-thread"] if per_thread else [])
    rc, out, err = t.perfshim_run(args + ["-o", path, trace])
    t.eq(0, rc, "flame --type %s --format %s exit status (stderr %r)" % (kind, fmt, err))
    t.eq(b"", out + err, "flame --format %s -o FILE: stdout and stderr" % fmt)
    if not os.path.exists(path):
        t.fatal("flame --format %s wrote no %s" % (fmt, path))
    with open(path, "rb") as f:
        return path, f.read()


# ---- pprof -----------------------------------------------------------------------

def go_pprof(args, path):
    p = subprocess.run([GO, "tool", "pprof"] + args + [path], capture_output=True, timeout=60,
                       cwd=go_home, env=go_env, stdin=subprocess.DEVNULL)
    what = "go tool pprof %s %s" % (" ".join(args), os.path.basename(path))
    t.eq(0, p.returncode, "%s exit status (stderr %r)" % (what, p.stderr[-2000:]))
    t.eq("", p.stderr.decode(errors="replace"), "%s stderr" % what)
    return p.stdout.decode(errors="replace")


SAMPLE_RE = re.compile(r"^\s*(-?\d+(?:\s+-?\d+)*):((?:\s+\d+)*)\s*$")
LABEL_RE = re.compile(r"^\s+([A-Za-z_][\w.]*):\[(.*)\]\s*$")
LOC_RE = re.compile(r"^\s*(\d+): (0x[0-9a-f]+) (?:M=(\d+) )?(.*)$")
LINE_RE = re.compile(r"^(.*) (\S*):(-?\d+) s=-?\d+(?:\((.*)\))?$")
MAP_RE = re.compile(r"^(\d+): 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (\S+)\s*(.*)$")


def parse_raw(text):
    """`go tool pprof -raw` output (pprof's Profile.String()) as a dict."""
    p = {"comments": [], "period_type": None, "period": None, "types": [], "default": None,
         "samples": [], "locations": {}, "mappings": {}}
    section, loc = "head", None
    for ln in text.splitlines():
        if section == "head":
            if ln.startswith("Comment: "):
                p["comments"].append(ln[len("Comment: "):])
            elif ln.startswith("PeriodType: "):
                p["period_type"] = tuple(ln[len("PeriodType: "):].split()) or None
            elif ln.startswith("Period: "):
                p["period"] = int(ln[len("Period: "):])
            elif ln == "Samples:":
                section = "types"
        elif section == "types":
            for tok in ln.split():
                if tok.endswith("[dflt]"):
                    tok = tok[:-len("[dflt]")]
                    p["default"] = tok.split("/")[0]
                p["types"].append(tuple(tok.split("/", 1)))
            section = "samples"
        elif section == "samples":
            if ln.strip() == "Locations":
                section = "locations"
            elif SAMPLE_RE.match(ln):
                m = SAMPLE_RE.match(ln)
                p["samples"].append({"values": [int(v) for v in m.group(1).split()],
                                     "locations": [int(v) for v in m.group(2).split()],
                                     "labels": {}})
            elif LABEL_RE.match(ln) and p["samples"]:
                m = LABEL_RE.match(ln)
                p["samples"][-1]["labels"][m.group(1)] = m.group(2)
            elif ln.strip():
                t.fail("pprof -raw: unexpected sample line %r" % ln)
        elif section == "locations":
            if ln.strip() == "Mappings":
                section = "mappings"
                continue
            m = LOC_RE.match(ln)
            if m:
                loc = {"address": int(m.group(2), 16), "mapping": int(m.group(3) or 0), "lines": []}
                p["locations"][int(m.group(1))] = loc
                rest = m.group(4)
            else:
                rest = ln.strip()
            lm = LINE_RE.match(rest)
            if t.check(loc is not None and lm, "pprof -raw: location line %r" % ln):
                loc["lines"].append({"function": lm.group(1), "file": lm.group(2),
                                     "line": int(lm.group(3))})
        elif section == "mappings" and ln.strip():
            m = MAP_RE.match(ln)
            if t.check(m, "pprof -raw: mapping line %r" % ln):
                p["mappings"][int(m.group(1))] = {"file": m.group(2), "flags": m.group(3)}
    return p


TOP_RE = re.compile(r"^\s*(-?[\d.]+)([a-zA-Z]*)\s+-?[\d.]+%\s+-?[\d.]+%\s+(-?[\d.]+)([a-zA-Z]*)"
                    r"\s+-?[\d.]+%\s+(.+?)(?: \(inline\))?$")


def pprof_top(path, sample_index, unit):
    """{function: (flat, cum)} from `go tool pprof -top`, every node."""
    args = ["-top", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0",
            "-sample_index=%s" % sample_index]
    if unit in TOP_UNIT:
        args.append("-unit=" + TOP_UNIT[unit])
    text = go_pprof(args, path)
    rows, started = {}, False
    for ln in text.splitlines():
        if re.match(r"^\s*flat\s+flat%\s+sum%\s+cum\s+cum%\s*$", ln):
            started = True
            continue
        if not started or not ln.strip():
            continue
        m = TOP_RE.match(ln)
        if not t.check(m, "pprof -top: row %r" % ln):
            continue
        suffix = TOP_UNIT.get(unit, "")
        for u in (m.group(2), m.group(4)):
            t.check(u in ("", suffix), "pprof -top: unit %r in %r (want %r)" % (u, ln, suffix))
        flat, cum = round(float(m.group(1))), round(float(m.group(3)))
        f0, c0 = rows.get(m.group(5), (0, 0))
        rows[m.group(5)] = (f0 + flat, c0 + cum)
    t.check(started, "pprof -top: no table in %r" % text[:500])
    return rows


def check_pprof(trace, kind, per_thread, fold, scale, period=None, command=None):
    """The pprof export of TRACE against its folded lines FOLD; returns the
    decoded profile for truth checks."""
    what = "pprof %s%s" % (kind, " --per-thread" if per_thread else "")
    path, data = export(trace, kind, "pprof", per_thread)
    t.eq(b"\x1f\x8b", data[:2], what + ": gzip magic")
    try:
        gzip.decompress(data)
    except (OSError, EOFError) as e:
        t.fail("%s: not a complete gzip stream: %s" % (what, e))
    prof = parse_raw(go_pprof(["-raw"], path))
    types = TYPES[kind]
    t.eq(types, prof["types"], what + ": sample types")
    t.eq(types[1][0], prof["default"], what + ": default sample type")
    if kind == "cpu":
        t.eq(("cpu", "nanoseconds"), prof["period_type"], what + ": period type")
        t.eq(period, prof["period"], what + ": period")
    if command:
        t.eq(command, prof["comments"][:1], what + ": first comment (the command line)")
    t.check(prof["mappings"], what + ": no mapping")
    for mid, m in prof["mappings"].items():
        t.eq("[FN][FL][LN][IN]", m["flags"].strip(), "%s: mapping %s (%s) symbolized flags"
             % (what, mid, m["file"]))
    # Rebuild the folded lines from what pprof decoded.
    rebuilt = defaultdict(int)
    for s in prof["samples"]:
        names = []
        for lid in s["locations"]:
            loc = prof["locations"].get(lid)
            if not t.check(loc and loc["lines"], "%s: sample location %s has no lines" % (what, lid)):
                continue
            if not loc["address"]:
                t.eq(0, loc["mapping"], what + ": pseudo-frame location mapping")
            names += [fold_name(l["function"]) for l in loc["lines"]]
        names.reverse()
        if per_thread:
            label, tid = s["labels"].get("thread_name"), s["labels"].get("thread")
            t.check(label and tid and label.split()[-1] == tid,
                    "%s: labels thread_name %r and thread %r" % (what, label, tid))
            names.insert(0, label or "?")
        else:
            t.eq({}, s["labels"], what + ": sample labels without --per-thread")
        t.eq(2, len(s["values"]), what + ": values per sample")
        rebuilt[";".join(names)] += s["values"][1] if len(s["values"]) == 2 else 0
    want = {k: v * scale for k, v in fold.items()}
    t.eq(want, dict(rebuilt), what + ": stacks and %s per stack, vs folded * %d"
         % (types[1][0], scale))
    # pprof's own per-function aggregation.
    if not per_thread:
        flat, cum = per_function(want, False)
        top = pprof_top(path, types[1][0], types[1][1])
        t.eq({n: (flat.get(n, 0), cum[n]) for n in cum}, top,
             what + ": per-function (flat, cum) %s from -top vs folded" % types[1][0])
    return prof


def counts_by_leaf(prof):
    """{innermost function: sum of the first value (objects, calls)}."""
    out = defaultdict(int)
    for s in prof["samples"]:
        loc = prof["locations"].get(s["locations"][0]) if s["locations"] else None
        if loc and loc["lines"]:
            out[loc["lines"][0]["function"]] += s["values"][0]
    return dict(out)


def location_line(prof, func):
    """(file basename, line) of the lines of pprof's locations in FUNC."""
    return sorted({(os.path.basename(l["file"]), l["line"]) for loc in prof["locations"].values()
                   for l in loc["lines"] if l["function"] == func})


# ---- speedscope ------------------------------------------------------------------

def check_speedscope(trace, kind, per_thread, fold, scale):
    what = "speedscope %s%s" % (kind, " --per-thread" if per_thread else "")
    _, data = export(trace, kind, "speedscope", per_thread)
    try:
        doc = json.loads(data)
    except ValueError as e:
        t.fatal("%s: not JSON (%s): %r" % (what, e, data[:200]))
    t.eq(SPEEDSCOPE_SCHEMA, doc.get("$schema"), what + ": $schema")
    t.check(str(doc.get("exporter", "")).startswith("perfshim "),
            "%s: exporter: expected 'perfshim VERSION', actual %r" % (what, doc.get("exporter")))
    t.check(isinstance(doc.get("name"), str), what + ": name is not a string")
    t.eq(0, doc.get("activeProfileIndex"), what + ": activeProfileIndex")
    frames = (doc.get("shared") or {}).get("frames")
    if not t.check(isinstance(frames, list), what + ": shared.frames is not a list"):
        return None
    keys = []
    for i, fr in enumerate(frames):
        ok = (isinstance(fr, dict) and isinstance(fr.get("name"), str)
              and isinstance(fr.get("file", ""), str)
              and (isinstance(fr.get("line", 1), int) and fr.get("line", 1) > 0)
              and set(fr) <= {"name", "file", "line"})
        t.check(ok, "%s: frame %d %r" % (what, i, fr))
        keys.append((fr.get("name"), fr.get("file"), fr.get("line")) if isinstance(fr, dict) else i)
    t.eq(len(keys), len(set(keys)), what + ": frames deduplicated by (name, file, line)")
    profiles = doc.get("profiles")
    if not t.check(isinstance(profiles, list) and profiles, what + ": no profiles"):
        return None
    roots = sorted({k.split(";")[0] for k in fold})
    if per_thread:
        names = [p.get("name") for p in profiles]
        t.eq(roots, sorted(names), what + ": one profile per thread, named by its label")
        mains = [n for n in names if str(n).startswith("main thread ")]
        t.check(len(mains) <= 1 and (not mains or names[0] == mains[0]),
                "%s: the main thread's profile first: %r" % (what, names))
    else:
        t.eq(1, len(profiles), what + ": profiles when threads are merged")
    rebuilt, firsts = defaultdict(int), set()
    for p in profiles:
        pw = "%s profile %r" % (what, p.get("name"))
        t.eq("sampled", p.get("type"), pw + ": type")
        t.eq(SPEEDSCOPE_UNIT[kind], p.get("unit"), pw + ": unit")
        t.eq(0, p.get("startValue"), pw + ": startValue")
        samples, weights = p.get("samples"), p.get("weights")
        if not t.check(isinstance(samples, list) and isinstance(weights, list)
                       and len(samples) == len(weights),
                       "%s: samples and weights: two lists of one length" % pw):
            continue
        t.check(all(isinstance(w, int) and w > 0 for w in weights), pw + ": weights > 0 integers")
        t.eq(sum(weights), p.get("endValue"), pw + ": endValue vs sum of weights")
        for st, w in zip(samples, weights):
            if not t.check(isinstance(st, list) and st and all(
                    isinstance(i, int) and 0 <= i < len(frames) for i in st),
                    "%s: sample %r: frame indices in [0, %d)" % (pw, st, len(frames))):
                continue
            names = [fold_name(frames[i]["name"]) for i in st]
            firsts.add(names[0])
            if per_thread:
                names.insert(0, p.get("name"))
            rebuilt[";".join(names)] += w
    want = {k: v * scale for k, v in fold.items()}
    t.eq(want, dict(rebuilt), what + ": stacks (root first) and weights vs folded * %d" % scale)
    # Root first: a sample's first frame is a folded line's outermost one.
    outermost = {k.split(";")[1 if per_thread else 0] for k in fold}
    t.eq(sorted(outermost), sorted(firsts), what + ": first frame of the samples (outermost)")
    t.eq(per_function(want, per_thread), per_function(dict(rebuilt), per_thread),
         what + ": per-function (flat, cum) totals vs folded")
    return frames


# ---- t_basic: alloc and leak -----------------------------------------------------

basic = record([t.target])
# Truth (t_basic.c): 2000 churn blocks, 3 x 100 from leak_hundred, 1 x 4096
# from leak_page; no stdio, so nothing else allocates.
for kind, want_counts in (("alloc", {"churn": 2000, "leak_hundred": 3, "leak_page": 1}),
                          ("leak", {"leak_hundred": 3, "leak_page": 1})):
    fold = folded(basic, kind, False)
    prof = check_pprof(basic, kind, False, fold, 1, command=[t.target])
    t.eq(want_counts, counts_by_leaf(prof), "pprof %s: %s per allocating function"
         % (kind, TYPES[kind][0][0]))
    frames = check_speedscope(basic, kind, False, fold, 1)
    for func, marker in (("leak_hundred", "@leak:hundred"), ("leak_page", "@leak:page")):
        at = [("t_basic.c", pstest.marker_line(t.source, marker))]
        t.eq(at, location_line(prof, func), "pprof %s: file:line of %s" % (kind, func))
        got = sorted({(os.path.basename(fr.get("file") or ""), fr.get("line"))
                      for fr in frames or [] if fr.get("name") == func})
        t.eq(at, got, "speedscope %s: file:line of the %s frame" % (kind, func))
leak = folded(basic, "leak", False)
t.eq([300, 4096], sorted(leak.values()), "flame --type leak weights (t_basic's truth)")

# ---- t_clock: offcpu -------------------------------------------------------------

# Truth (t_clock.c): nanosleep 20 x 1 ms from nap_briefly, usleep 5 x 2 ms
# from main; with the 500 us threshold every one of them is recorded.
ck = record([clock], {"PERFSHIM_OFFCPU_MIN_US": "500"})
for per_thread in (False, True):
    fold = folded(ck, "offcpu", per_thread)
    t.eq(2, len(fold), "flame --type offcpu%s lines (%r)" % (" --per-thread" * per_thread, fold))
    t.check(any(k.endswith(";main;nap_briefly;nanosleep") for k in fold),
            "offcpu folded has ...;main;nap_briefly;nanosleep: %r" % sorted(fold))
    prof = check_pprof(ck, "offcpu", per_thread, fold, 1000, command=[clock])
    t.eq({"nanosleep": 20, "usleep": 5}, counts_by_leaf(prof), "pprof offcpu: calls per blocked call")
    for loc in prof["locations"].values():
        if loc["lines"] and loc["lines"][0]["function"] in ("nanosleep", "usleep"):
            t.eq((0, 0, 1), (loc["address"], loc["mapping"], len(loc["lines"])),
                 "pprof offcpu: pseudo-frame %s (address, mapping, lines)"
                 % loc["lines"][0]["function"])
    check_speedscope(ck, "offcpu", per_thread, fold, 1)

# ---- t_threads: cpu --------------------------------------------------------------

HZ = 10000
th = record([threads], {"PERFSHIM_CPU_HZ": str(HZ)})
period = 1000000000 // HZ
for per_thread in (False, True):
    fold = folded(th, "cpu", per_thread)
    t.check(sum(fold.values()) > 0, "flame --type cpu: no samples from t_threads at %d Hz" % HZ)
    prof = check_pprof(th, "cpu", per_thread, fold, period, period=period, command=[threads])
    t.check(all(s["values"][0] >= 1 for s in prof["samples"]), "pprof cpu: samples/count >= 1")
    if per_thread:
        tids = {s["labels"].get("thread") for s in prof["samples"]}
        t.check(len(tids) >= 2, "pprof cpu --per-thread: threads %r (t_threads runs 9)" % tids)
    check_speedscope(th, "cpu", per_thread, fold, period)

t.done()
