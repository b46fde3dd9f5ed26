#!/usr/bin/env python3
import os

import pstest

import random
import re
import shutil
import struct

# Bad input to `perfshim report`: --case empty|random|garbage_after_header|
# truncated|version|missing.  Exit 2 and one line for bad input; exit 0 and
# one warning line for a trace cut short after its 16-byte header; never a
# crash (exit >= 128 or a signal) and never a hang.
# --target is a program whose traced run makes a real trace (t_basic).
HEADER = 16

t = pstest.Test(["--case"])
case = t.args.case
dir = t.tempdir()


def report(path):
    rc, out, err = t.perfshim_run(["report", "--format", "json", path], timeout=20)
    return rc, out, err


def expect_bad(path, what, mention=()):
    rc, out, err = report(path)
    t.eq(2, rc, "%s: exit status (stderr %r)" % (what, err[:300]))
    t.eq(1, pstest.count_lines(err), "%s: stderr lines (%r)" % (what, err[:300]))
    for m in mention:  # as a whole number
        t.check(re.search(rb"(?<![0-9.])" + m.encode() + rb"(?![0-9.])", err),
                "%s: stderr should mention %r, actual %r" % (what, m, err))


def real_trace():
    run = t.run_traced([t.target])
    if run.rc != 0 or len(run.traces) != 1:
        t.fatal("could not make a real trace: rc %d, traces %s" % (run.rc, run.traces))
    rc, out, err = report(run.traces[0])
    if rc != 0:
        t.fatal("the real trace itself does not report: rc %d, %r" % (rc, err))
    with open(run.traces[0], "rb") as f:
        return f.read()


def write(name, data):
    path = os.path.join(dir, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


if case == "empty":
    expect_bad(write("empty.trace", b""), "empty file")
elif case == "missing":
    expect_bad(os.path.join(dir, "no-such.trace"), "missing file")
elif case == "random":
    rnd = random.Random(1234)
    for n in (1, 15, 16, 17, 100, 4096, 65536):
        expect_bad(write("random%d.trace" % n, bytes(rnd.getrandbits(8) for _ in range(n))),
                   "%d random bytes" % n)
elif case == "garbage_after_header":
    # A valid header followed by random bytes: corrupt inside (exit 2) or,
    # when the garbage happens to read as a record cut short, truncated
    # (exit 0); one line on stderr either way; never a crash.
    rnd = random.Random(99)
    head = b"PERFSHIM" + struct.pack("<II", 1, 0)
    for i in range(30):
        n = rnd.choice((1, 7, 64, 1000, 20000))
        path = write("garbage%d.trace" % i, head + bytes(rnd.getrandbits(8) for _ in range(n)))
        rc, out, err = report(path)
        t.check(rc in (0, 2), "garbage #%d (%d bytes): exit status: expected 0 or 2, actual %d; %r"
                % (i, n, rc, err[:200]))
        t.eq(1, pstest.count_lines(err), "garbage #%d: stderr lines (%r)" % (i, err[:300]))
elif case == "truncated":
    data = real_trace()
    n = len(data)
    if n <= 300:
        offsets = list(range(n))
    else:
        offsets = sorted(set(list(range(0, 160)) + list(range(n - 24, n)) +
                             [HEADER + (n - HEADER) * k // 160 for k in range(160)]))
    print("trace is %d bytes; %d truncation offsets" % (n, len(offsets)))
    path = os.path.join(dir, "cut.trace")
    # Expected: cut inside the header -> exit 2 + one line; anywhere after
    # it -> exit 0 + one warning line + JSON.  Outcomes that differ are
    # reported once per run of consecutive offsets with the same outcome.
    bad = []  # (offset, outcome, stderr)
    for off in offsets:
        with open(path, "wb") as f:
            f.write(data[:off])
        rc, out, err = report(path)
        lines = pstest.count_lines(err)
        if rc < 0 or rc >= 128:
            outcome = "CRASH exit %d" % rc
        elif off < HEADER:
            outcome = None if (rc, lines) == (2, 1) else "exit %d, %d stderr lines" % (rc, lines)
        elif (rc, lines) != (0, 1):
            outcome = "exit %d, %d stderr lines" % (rc, lines)
        else:
            try:
                __import__("json").loads(out)
                outcome = None
            except ValueError:
                outcome = "exit 0 but output is not JSON"
        if outcome:
            bad.append((off, outcome, err.decode(errors="replace").strip()[:200]))
    runs = []
    for off, outcome, err in bad:
        if runs and runs[-1][2] == outcome:
            runs[-1][1] = off
            runs[-1][3] += 1
        else:
            runs.append([off, off, outcome, 1, err])
    for first, last, outcome, count, err in runs:
        want = "exit 2 + 1 line" if first < HEADER else "exit 0 + 1 warning line + JSON"
        t.fail("cut at offsets %d..%d of %d (%d tested): expected %s, actual %s; e.g. stderr %r"
               % (first, last, n, count, want, outcome, err))
elif case == "version":
    data = bytearray(real_trace())
    t.eq(b"PERFSHIM", bytes(data[:8]), "magic")
    t.eq(3, struct.unpack("<I", data[8:12])[0], "format version in the header")
    data[8:12] = struct.pack("<I", 99)
    expect_bad(write("v99.trace", bytes(data)), "version 99", mention=("99", "1"))
else:
    t.fatal("unknown --case %r" % case)
t.done()
