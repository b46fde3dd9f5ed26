#!/usr/bin/env python3
import os
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pstest  # noqa: E402

# A real jemalloc program: Debian's redis-server links libjemalloc.so.2, so
# its malloc/free (and mallocx/dallocx where it uses them) reach jemalloc
# through the shim.  Bounded loopback load from redis-benchmark, then
# SHUTDOWN NOSAVE.  Every free must match a recorded allocation (no
# untracked frees: jemalloc-side frees are seen), and the report must be
# symbolized into redis' own functions.
t = pstest.Test()
server = shutil.which("redis-server")
bench = shutil.which("redis-benchmark")
cli = shutil.which("redis-cli")
if not (server and bench and cli):
    t.skip("redis-server, redis-benchmark or redis-cli not installed")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
d = t.tempdir()
env = t.traced_env(d, template="redis.%p")
srv = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--daemonize", "no", "--dir", d],
                       cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    deadline = time.time() + 15
    up = False
    while time.time() < deadline and not up:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            up = True
        except OSError:
            time.sleep(0.1)
    if not up:
        t.fatal("redis-server did not listen on 127.0.0.1:%d within 15 s" % port)
    b = subprocess.run([bench, "-h", "127.0.0.1", "-p", str(port), "-n", "5000", "-c", "10",
                        "-t", "set,get,lpush,lpop,sadd", "-q"], capture_output=True,
                       timeout=60, env=t.base_env())
    t.eq(0, b.returncode, "redis-benchmark exit status (%r)" % b.stderr[-300:])
    subprocess.run([cli, "-p", str(port), "shutdown", "nosave"], capture_output=True,
                   timeout=15, env=t.base_env())
    out, _ = srv.communicate(timeout=20)
finally:
    if srv.poll() is None:
        srv.kill()
        srv.wait()
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
