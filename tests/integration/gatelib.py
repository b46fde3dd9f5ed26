"""gatelib: what the tests of `perfshim check`, `diff` and `report --format
html` share: runs of t_regress (tests/targets/t_regress.c) and the bad-input
assertion.

    import gatelib
    trace, rep = gatelib.record(t, "base", nreq=30, idle_ms=300)   # (path, report)
    gatelib.bad_input(t, ["check", "--rules", "x", trace], "what")  # exit 2, one line

t_regress MODE NREQ IDLE_MS: a loopback server whose client speaks raw
syscalls (the shim sees the server side only).  base: 32 leaked bytes per
request at cache_put, no sleep; worse: 65536 leaked bytes per request at
the same cache_put line, 100 more at remember_request, and a 20 ms usleep
per request in slow_lookup.  Both leak 256 bytes at load_config and keep
512 bytes reachable (keep_table).
"""
import os

import pstest

pstest.HELPER_FILES.add("gatelib.py")

SAMPLE_MS = "10"   # enough resource samples in a sub-second run for growth fits


def record(t, mode, nreq=30, idle_ms=0, env_extra=None):
    """Run t_regress MODE NREQ IDLE_MS traced (resource samples every 10 ms);
    expect exit 0 and one trace.  Returns (trace path, its JSON report)."""
    env = {"PERFSHIM_SAMPLE_MS": SAMPLE_MS}
    env.update(env_extra or {})
    run = t.run_traced([t.target, mode, str(nreq), str(idle_ms)], env_extra=env)
    t.exit_ok(run, "t_regress %s" % mode)
    return t.one_trace(run)


def leak_site(rep, func):
    """The report's leaks whose first frame is FUNC."""
    return [l for l in rep["leaks"] if l.get("stack") and pstest.func_is(l["stack"][0], func)]


def bad_input(t, args, what, output=None):
    """`perfshim ARGS` is bad input: exit 2, nothing on stdout, exactly one
    line on stderr starting "perfshim: ".  OUTPUT, a file that exists
    beforehand, must be left as it was.  Returns the stderr line."""
    before = None
    if output:
        with open(output, "rb") as f:
            before = f.read()
    rc, out, err = t.perfshim_run(args)
    text = err.decode(errors="replace")
    t.eq(2, rc, "%s: exit status (stderr %r)" % (what, text))
    t.eq(b"", out, "%s: stdout" % what)
    lines = [l for l in text.splitlines() if l.strip()]
    t.eq(1, len(lines), "%s: stderr lines (%r)" % (what, text))
    t.check(text.startswith("perfshim: "), "%s: stderr starts with 'perfshim: ' (%r)" % (what, text))
    if output:
        with open(output, "rb") as f:
            t.eq(before, f.read(), "%s: %s left as it was" % (what, os.path.basename(output)))
    return lines[0] if lines else ""


def not_a_trace(t):
    """A file that is not a trace (text), in a fresh temp dir."""
    path = os.path.join(t.tempdir(), "notes.txt")
    with open(path, "w") as f:
        f.write("this is not a perfshim trace\n" * 10)
    return path
