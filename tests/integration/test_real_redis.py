#!/usr/bin/env python3
import subprocess

import pstest
import redisutil

# A real jemalloc program: Debian's redis-server links libjemalloc.so.2, so
# its malloc/free (and mallocx/dallocx where it uses them) reach jemalloc
# through the shim.  Bounded loopback load from redis-benchmark, then
# SHUTDOWN NOSAVE.  Every free must match a recorded allocation (no
# untracked frees: jemalloc-side frees are seen), and the report must be
# symbolized into redis' own functions.
t = pstest.Test()
redis = redisutil.Redis(t)
srv, port, d = redis.start()
try:
    b = subprocess.run([redis.bench, "-h", "127.0.0.1", "-p", str(port), "-n", "5000", "-c", "10",
                        "-t", "set,get,lpush,lpop,sadd", "-q"], capture_output=True,
                       timeout=60, env=redis.env)
    t.eq(0, b.returncode, "redis-benchmark exit status (%r)" % b.stderr[-300:])
finally:
    out = redis.stop(srv, port)
t.eq(0, srv.returncode, "redis-server exit status (log %r)" % out[-400:])
traces = t.traces_in(d, "redis.")
t.eq(1, len(traces), "trace files (%r)" % traces)
if not traces:
    t.done()
rep = t.report(traces[0])
s = rep["summary"]
t.eq("exited 0", rep["process"]["exit"], "process.exit")
t.check(s["allocations"] > 25000, "summary.allocations: expected > 25000 for 25000 requests, "
        "actual %d" % s["allocations"])
t.check(s["frees"] > 0.9 * s["allocations"] - 20000,
        "summary.frees %d: most request allocations are freed (allocations %d)"
        % (s["frees"], s["allocations"]))
t.eq(0, s["untracked_frees"], "summary.untracked_frees (a free the shim never saw allocated)")
funcs = {f["function"] for l in rep["leaks"] for f in l["stack"]}
t.check("zmalloc" in funcs or "ztrymalloc_usable" in funcs or "ztrymalloc_usable_internal" in funcs,
        "redis' allocator wrapper symbolized in leak stacks (functions seen: %s)"
        % sorted(funcs)[:20])
t.check("main" in funcs, "main in leak stacks")
t.done()
