#!/usr/bin/env python3
import time

import pstest

# t_clock traced with PERFSHIM_OFFCPU_MIN_US=500.  Truth (see t_clock.c):
# clock_gettime 100000, gettimeofday 1000, time 500, nanosleep 20 x 1 ms
# (from nap_briefly), usleep 5 x 2 ms (from main), exactly, and no other
# intercepted call (the shim's own clock reads are not the program's; the
# write to stdout is on a pipe, not a socket).  No socket: no requests.
# Off-CPU (>= 500 us each): ...;nap_briefly;nanosleep ~ 20 ms and
# ...;main;usleep ~ 10 ms.
t = pstest.Test()
if not t.target:
    t.skip("t_clock is not built")
t0 = time.monotonic()
run, rep = t.run_one([t.target], env_extra={"PERFSHIM_OFFCPU_MIN_US": "500"})
wall_us = (time.monotonic() - t0) * 1e6  # an upper bound of any time the program spent
t.eq(b"t_clock: ok\n", run.stdout, "stdout")
calls = t.calls_of(rep)

want = {"clock_gettime": 100000, "gettimeofday": 1000, "time": 500, "nanosleep": 20, "usleep": 5}
for name, n in want.items():
    c = t.call(rep, name)
    t.eq(n, c.get("count"), "calls.%s.count" % name)
    t.eq(0, c.get("errors"), "calls.%s.errors" % name)
    t.eq(0, c.get("bytes"), "calls.%s.bytes" % name)
t.eq(sorted(want), sorted(calls), "calls kinds")
# Sleeps are never shorter than asked; they get longer on a busy machine, so
# only the nanosleep median (1 ms asked) has a tight upper bound; the rest
# is bounded by the run's wall time.
ns, us = t.call(rep, "nanosleep"), t.call(rep, "usleep")
t.between(1000, 1000 * 1.5 + 500, ns.get("p50_us"), "calls.nanosleep.p50_us")
t.between(20 * 1000, wall_us, ns.get("total_us"), "calls.nanosleep.total_us")
t.between(2000, wall_us, us.get("p50_us"), "calls.usleep.p50_us")
t.between(5 * 2000, wall_us, us.get("total_us"), "calls.usleep.total_us")
for name, c in (("nanosleep", ns), ("usleep", us)):
    t.check(isinstance(c.get("max_us"), (int, float)) and isinstance(c.get("p50_us"), (int, float))
            and c["p50_us"] <= c["max_us"] <= c.get("total_us", 0),
            "calls.%s: expected p50_us <= max_us <= total_us, actual %r / %r / %r"
            % (name, c.get("p50_us"), c.get("max_us"), c.get("total_us")))
cg = t.call(rep, "clock_gettime")
t.check(isinstance(cg.get("p50_us"), (int, float)) and cg.get("p50_us") < 100,
        "calls.clock_gettime.p50_us: expected < 100, actual %r" % cg.get("p50_us"))
t.check("requests" not in rep, "requests: expected absent (no socket), actual %r"
        % rep.get("requests"))
t.eq(0, rep["summary"]["leaked_blocks"], "summary.leaked_blocks (%s)" % t.describe_leaks(rep))

folded = t.flame(run.traces[0], "offcpu")
naps = [(fr, w) for fr, w in folded if "nap_briefly" in fr]
t.check(naps, "flame --type offcpu: no line with nap_briefly (%d lines: %s)"
        % (len(folded), [";".join(fr[-3:]) for fr, _ in folded][:10]))
for fr, w in naps:
    t.eq(["main", "nap_briefly", "nanosleep"], fr[-3:],
         "flame --type offcpu: innermost frames of %s" % ";".join(fr))
# Weights are whole microseconds: each line's sum is the calls' total_us,
# give or take 1 us per call.
nap_w = sum(w for _, w in naps)
t.check(isinstance(ns.get("total_us"), (int, float)) and abs(nap_w - ns["total_us"]) <= 20 + 1,
        "flame --type offcpu: weight of nap_briefly: expected calls.nanosleep.total_us (%r) "
        "+- 21, actual %r" % (ns.get("total_us"), nap_w))
sl = [(fr, w) for fr, w in folded if fr[-1:] == ["usleep"]]
for fr, w in sl:
    t.eq(["main", "usleep"], fr[-2:], "flame --type offcpu: innermost frames of %s" % ";".join(fr))
sl_w = sum(w for _, w in sl)
t.check(isinstance(us.get("total_us"), (int, float)) and abs(sl_w - us["total_us"]) <= 5 + 1,
        "flame --type offcpu: weight of main;usleep: expected calls.usleep.total_us (%r) "
        "+- 6, actual %r" % (us.get("total_us"), sl_w))
t.done()
