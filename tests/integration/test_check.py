#!/usr/bin/env python3
"""perfshim check: every rule passes on a trace that meets it and fails,
naming the rule, on one that does not; JUnit XML; bad rules and bad input.

Traces (t_regress, see gatelib.py):
  base:  30 requests, then 300 ms idle (heap flat), resource samples every
         10 ms so growth can be fitted;
  worse: 30 requests of >= 20 ms each (usleep), 65636 more leaked bytes
         per request, RSS growing by the 64 KiB it touches per request.

No limit below is a timing guess: PASS limits come from the base trace's
own JSON report (measured value, rounded up), FAIL limits from what worse
does by construction (>= 20 ms a request, so p50 > 19 ms and throughput
< 60/s; more leaks, peak and allocations per request than base; heap and
RSS that only grow, so a fitted growth > 0).

Checked: exit 0 with every rule PASS on base (from a rules file), exit 1
with every rule FAIL on worse (from flags, and the same lines from a rules
file), each line naming its rule and its measured value (equal to the
report's); a rule without data (usleep on base) FAILs with "no data"; the
leak-kind selections add up the report's leaks by kind; --junit writes
XML that ElementTree parses into testsuites/testsuite/testcase, one
testcase per rule, a <failure> exactly on the failed ones and counts that
agree; bad rules files and bad flags exit 2 with one stderr line, nothing
on stdout, and leave an existing --junit file alone.
"""
import math
import os
import re
import xml.etree.ElementTree as ET

import pstest
import gatelib

t = pstest.Test()
if not t.target:
    t.skip("t_regress is not built")

base, rb = gatelib.record(t, "base", nreq=30, idle_ms=300)
worse, rw = gatelib.record(t, "worse", nreq=30, idle_ms=0)
dir_ = t.tempdir()

# ---- the truth the limits rely on ------------------------------------------------
sb, sw = rb["summary"], rw["summary"]
t.check(sw["leaked_bytes"] > sb["leaked_bytes"], "worse leaks more bytes than base (%r, %r)"
        % (sw["leaked_bytes"], sb["leaked_bytes"]))
t.check(sw["leaked_blocks"] > sb["leaked_blocks"], "worse leaks more blocks than base")
t.check(sw["peak_heap_bytes"] > sb["peak_heap_bytes"], "worse has the larger peak heap")
reqb, reqw = t.section(rb, "requests"), t.section(rw, "requests")
t.eq(30, reqb.get("count"), "base requests")
t.eq(30, reqw.get("count"), "worse requests")
apr_b = sb["allocations"] / reqb["count"]
apr_w = sw["allocations"] / reqw["count"]
t.check(apr_w > apr_b, "worse allocates more per request (%r vs %r)" % (apr_w, apr_b))
resb, resw = t.section(rb, "resources"), t.section(rw, "resources")
t.check(resb.get("verdict") != "too short", "base is long enough to fit growth (%r)" % resb.get("verdict"))
t.check(resw.get("verdict") != "too short", "worse is long enough to fit growth (%r)" % resw.get("verdict"))
t.check(resw.get("heap_growth_bytes_per_min", 0) > 0, "worse's heap grows")
t.check(resw.get("rss_growth_bytes_per_min", 0) > 0, "worse's RSS grows")
t.check("usleep" not in t.calls_of(rb), "base makes no usleep call")


def up(v):
    """A limit at or above V: V rounded up, plus one (never negative)."""
    return str(max(0, math.ceil(v)) + 1)


def kind_sum(rep, key, kinds):
    return sum(l[key] for l in rep["leaks"] if kinds is None or l.get("kind") in kinds)


NOT_REACHABLE = ("definite", "indirect", "possible", "unknown")
DEFAULT_KINDS = ("definite", "indirect", "unknown")  # a leak rule without kinds

# (label, qualifier or None, base PASS limit, measured on base; worse FAIL limit, measured on worse)
# measured: ("int", n) exact, ("float", x) within 0.06 (one decimal printed), None: not checked
RULES = [
    ("max_leaked_bytes", None, str(kind_sum(rb, "bytes", DEFAULT_KINDS)),
     ("int", kind_sum(rb, "bytes", DEFAULT_KINDS)),
     str(kind_sum(rb, "bytes", DEFAULT_KINDS)), ("int", kind_sum(rw, "bytes", DEFAULT_KINDS))),
    ("max_leaked_blocks", None, str(kind_sum(rb, "blocks", DEFAULT_KINDS)),
     ("int", kind_sum(rb, "blocks", DEFAULT_KINDS)),
     str(kind_sum(rb, "blocks", DEFAULT_KINDS)), ("int", kind_sum(rw, "blocks", DEFAULT_KINDS))),
    ("max_leaked_bytes", "all", str(kind_sum(rb, "bytes", None)), ("int", kind_sum(rb, "bytes", None)),
     str(kind_sum(rb, "bytes", None)), ("int", kind_sum(rw, "bytes", None))),
    ("max_leaked_blocks", "+".join(NOT_REACHABLE), str(sb["leaked_blocks"]), ("int", sb["leaked_blocks"]),
     str(sb["leaked_blocks"]), ("int", kind_sum(rw, "blocks", NOT_REACHABLE))),
    ("max_peak_heap", None, str(sb["peak_heap_bytes"]), ("int", sb["peak_heap_bytes"]),
     str(sb["peak_heap_bytes"]), ("int", sw["peak_heap_bytes"])),
    ("max_heap_growth_per_min", None, up(resb["heap_growth_bytes_per_min"]),
     ("float", resb["heap_growth_bytes_per_min"]), "0", ("float", resw["heap_growth_bytes_per_min"])),
    ("max_rss_growth_per_min", None, up(resb["rss_growth_bytes_per_min"]),
     ("float", resb["rss_growth_bytes_per_min"]), "0", ("float", resw["rss_growth_bytes_per_min"])),
    ("max_latency", "requests.p50", up(reqb["p50_us"]), ("float", reqb["p50_us"]),
     "19ms", ("float", reqw["p50_us"])),
    ("max_latency", "requests.p99", up(reqb["p99_us"]) + "us", ("float", reqb["p99_us"]),
     "0.019s", ("float", reqw["p99_us"])),
    ("min_throughput", None, str(max(0, math.floor(reqb["throughput_rps"]) - 1)),
     ("float", reqb["throughput_rps"]), "60", ("float", reqw["throughput_rps"])),
    ("max_allocs_per_request", None, repr(apr_b), ("float", apr_b), repr(apr_b), ("float", apr_w)),
]
# max_latency per call: recv on base (passes at its own p99), usleep on worse (>= 20 ms)
BASE_CALL = ("max_latency", "recv.p99", up(t.call(rb, "recv").get("p99_us", 0)),
             ("float", t.call(rb, "recv").get("p99_us")))
WORSE_CALL = ("max_latency", "usleep.p50", "19000", ("float", t.call(rw, "usleep").get("p50_us")))

LINE = re.compile(r"^(PASS|FAIL)  (\S+(?: \S+)?)\s{2,}(measured (-?[0-9.]+) .*|no data: .*)$")


def label(name, qual):
    return name + (" " + qual if qual else "")


def parse(out):
    """[(verdict, label, measured or None, whole line)] and the last line."""
    lines = out.decode(errors="replace").splitlines()
    got = []
    for l in lines[:-1]:
        m = LINE.match(l)
        if not t.check(m, "check output line does not parse: %r" % l):
            continue
        got.append((m.group(1), m.group(2), float(m.group(4)) if m.group(4) else None, l))
    return got, (lines[-1] if lines else "")


def expect_lines(what, got, rules, verdict):
    t.eq([label(r[0], r[1]) for r in rules], [g[1] for g in got], what + ": the rules, in order")
    for r, g in zip(rules, got):
        t.eq(verdict, g[0], "%s: %s (%s)" % (what, label(r[0], r[1]), g[3]))
        kind, want = r[3]
        if kind == "int":
            t.eq(float(want), g[2], "%s: %s measured" % (what, label(r[0], r[1])))
        elif want is not None:
            t.check(g[2] is not None and abs(g[2] - want) <= 0.06,
                    "%s: %s measured %r, report says %r" % (what, label(r[0], r[1]), g[2], want))


def rules_file(name, rules):
    path = os.path.join(dir_, name)
    with open(path, "w") as f:
        f.write("# perfshim check rules (test_check.py)\n\n")
        for name_, qual, limit in rules:
            f.write("%s %s%s   # a comment\n" % (name_, (qual + " ") if qual else "", limit))
    return path


def flags(rules):
    out = []
    for name_, qual, limit in rules:
        out += ["--" + name_.replace("_", "-"), ("%s=%s" % (qual, limit)) if qual else limit]
    return out


def junit_check(path, rules, failed_labels, what):
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        t.fail("%s: JUnit file does not parse: %s" % (what, e))
        return
    t.eq("testsuites", root.tag, what + ": root element")
    suites = root.findall("testsuite")
    t.eq(1, len(suites), what + ": testsuite elements")
    if not suites:
        return
    s = suites[0]
    cases = s.findall("testcase")
    t.eq([label(r[0], r[1]) for r in rules], [c.get("name") for c in cases], what + ": testcase names")
    t.eq(str(len(rules)), s.get("tests"), what + ": testsuite tests=")
    t.eq(str(len(failed_labels)), s.get("failures"), what + ": testsuite failures=")
    t.eq(str(len(failed_labels)), root.get("failures"), what + ": testsuites failures=")
    for c in cases:
        fails = c.findall("failure")
        want = c.get("name") in failed_labels
        t.eq(1 if want else 0, len(fails), "%s: <failure> in testcase %r" % (what, c.get("name")))
        for f in fails:
            t.check(c.get("name") in (f.text or "") and f.get("message"),
                    "%s: the failure names its rule and has a message: %r" % (what, f.text))
        t.check(c.get("classname"), what + ": testcase classname")


# ---- base: every rule holds (rules file) ------------------------------------------------
base_rules = RULES + [BASE_CALL]
junit_b = os.path.join(dir_, "base.xml")
path = rules_file("base.rules", [(r[0], r[1], r[2]) for r in RULES] + [BASE_CALL[:3]])
rc, out, err = t.perfshim_run(["check", "--rules", path, "--junit", junit_b, base])
t.eq(0, rc, "check base: exit status (stdout %r, stderr %r)" % (out, err))
t.eq(b"", err, "check base: stderr")
got, last = parse(out)
expect_lines("check base", got, [(r[0], r[1], r[2], r[3]) for r in base_rules], "PASS")
t.check("PASSED" in last, "check base: last line %r" % last)
junit_check(junit_b, base_rules, set(), "junit base")

# ---- worse: every rule fails, naming it (flags; then a rules file) -----------------------
worse_rules = [(r[0], r[1], r[4], r[5]) for r in RULES] + [WORSE_CALL]
junit_w = os.path.join(dir_, "worse.xml")
rc, out, err = t.perfshim_run(["check"] + flags([r[:3] for r in worse_rules]) + ["--junit=" + junit_w, worse])
t.eq(1, rc, "check worse: exit status (stderr %r)" % err)
t.eq(b"", err, "check worse: stderr")
got, last = parse(out)
expect_lines("check worse", got, worse_rules, "FAIL")
t.check("FAILED: %d of %d" % (len(worse_rules), len(worse_rules)) in last, "check worse: last line %r" % last)
junit_check(junit_w, worse_rules, {label(r[0], r[1]) for r in worse_rules}, "junit worse")
path = rules_file("worse.rules", [r[:3] for r in worse_rules])
rc2, out2, err2 = t.perfshim_run(["check", "--rules=" + path, worse])
t.eq((1, out), (rc2, out2), "check worse: a rules file gives what the flags give")

# one failing rule among passing ones: only it fails, and the exit status is 1
rc, out, err = t.perfshim_run(["check", "--max-peak-heap", str(sw["peak_heap_bytes"]),
                               "--max-latency", "requests.p50=19ms", worse])
got, _ = parse(out)
t.eq(1, rc, "one of two rules fails: exit status")
t.eq([("PASS", "max_peak_heap"), ("FAIL", "max_latency requests.p50")], [g[:2] for g in got],
     "one of two rules fails: verdicts")

# a rule without data fails and says so
rc, out, err = t.perfshim_run(["check", "--max-latency", "usleep.p50=1s", base])
t.eq(1, rc, "no data: exit status")
t.check(re.search(rb"^FAIL  max_latency usleep.p50  no data: the trace has no usleep calls", out, re.M),
        "no data: the line says so (%r)" % out)

# --include-reachable: the default leak rules count every kind
rc, out, err = t.perfshim_run(["check", "--include-reachable", "--max-leaked-bytes", "0", base])
got, _ = parse(out)
t.eq([kind_sum(rb, "bytes", None)], [g[2] for g in got], "--include-reachable: measured bytes (every kind)")
reach = kind_sum(rb, "bytes", ("reachable",))
rc, out, err = t.perfshim_run(["check", "--max-leaked-bytes", "reachable=0", base])
t.eq(1 if reach else 0, rc, "max_leaked_bytes reachable=0: exit status (reachable bytes %d)" % reach)

# ---- bad rules, bad flags, bad input: exit 2, one line --------------------------------------
keep = os.path.join(dir_, "keep.xml")
with open(keep, "w") as f:
    f.write("<testsuites/>\n")
BAD_RULES = [
    ("unknown", "max_leaked_bytes 0\nbogus_rule 1\n", "bogus_rule"),
    ("limit", "max_leaked_bytes lots\n", "bad limit"),
    ("percentile", "max_latency requests.p98 5ms\n", "p98"),
    ("call", "max_latency recvv.p99 5ms\n", "recvv"),
    ("no-what", "max_latency requests.p99\n", "WHAT.PERCENTILE"),
    ("kinds", "max_leaked_bytes definit 0\n", "definit"),
    ("words", "max_peak_heap 1G and more words\n", "NAME [QUALIFIER] LIMIT"),
    ("extra", "max_peak_heap heap 1G\n", "extra"),
    ("negative", "max_peak_heap -1\n", "bad limit"),
    ("empty", "# nothing but a comment\n\n", "no rules"),
    ("binary", "max_peak_heap 1\0\n", "not text"),
]
for case, text, word in BAD_RULES:
    p = os.path.join(dir_, "bad-%s.rules" % case)
    with open(p, "w") as f:
        f.write(text)
    line = gatelib.bad_input(t, ["check", "--rules", p, "--junit", keep, base], "rules file " + case, keep)
    t.check(word in line, "rules file %s: %r names %r" % (case, line, word))
    if case in ("unknown", "limit", "percentile"):
        t.check(":%d:" % text.count("\n") in line, "rules file %s: %r names the line" % (case, line))
missing = os.path.join(dir_, "missing.rules")
gatelib.bad_input(t, ["check", "--rules", missing, base], "missing rules file")
junk = gatelib.not_a_trace(t)
for what, args in [
    ("no rules", ["check", base]),
    ("no trace", ["check", "--max-leaked-bytes", "0"]),
    ("--max-latency without WHAT", ["check", "--max-latency", "5ms", base]),
    ("bad latency unit", ["check", "--max-latency", "requests.p99=5parsecs", base]),
    ("unknown option", ["check", "--max-leaks", "0", base]),
    ("value missing", ["check", base, "--max-peak-heap"]),
    ("--junit without file", ["check", "--max-peak-heap", "1", base, "--junit"]),
    ("two traces", ["check", "--max-peak-heap", "1", base, worse]),
    ("missing trace", ["check", "--max-peak-heap", "1", os.path.join(dir_, "nope.trace")]),
    ("not a trace", ["check", "--max-peak-heap", "1", "--junit", keep, junk]),
]:
    gatelib.bad_input(t, args, what, keep if "--junit" in args and what != "--junit without file" else None)
t.done()
