#!/usr/bin/env python3
import pstest

# t_net_client traced against t_net_server (--server, thread mode) untraced.
# 3 connections x 40 requests, every 10th asks for a 4 ms sleep, 3000-byte
# responses.  Truth (see t_net_client.c): socket 3, connect 3, send 120
# (the request lines' bytes), recv >= 120 (120 x 3000 bytes), close 3;
# 120 requests measured from the send to the first bytes of the answer, so
# p50 is fast and p99 is a slow one (>= 4 ms); one outbound peer
# "127.0.0.1:PORT" with 3 connections; connections_peak 3; no leak.
NCONN, NPER, SLOW_EVERY, SLOW_US, RESP_LEN = 3, 40, 10, 4000, 3000
TOTAL = NCONN * NPER
REQ_BYTES = pstest.request_lines_bytes(TOTAL, SLOW_EVERY, SLOW_US, RESP_LEN)
RESP_BYTES = TOTAL * RESP_LEN

t = pstest.Test(["--server"])
if not t.target:
    t.skip("t_net_client is not built")
server = t.program_arg("server", "t_net_server")

sr, run, port = t.client_server(
    [server, "thread", pstest.PORTFILE, str(TOTAL)],
    lambda port: t.run_traced(pstest.net_client_argv(t.target, port, NCONN, NPER, SLOW_EVERY,
                                                     SLOW_US, RESP_LEN), timeout=40),
    traced_server=False)
t.exit_ok(run, "client")
t.eq(b"", run.stderr, "client stderr")
t.exit_ok(sr, "untraced server")
t.eq([], t.traces_in(sr.dir), "trace files of the untraced server")
rep = t.one_trace(run)[1]
calls = t.calls_of(rep)

# ---- calls ---------------------------------------------------------------
t.eq(NCONN, t.call(rep, "socket").get("count"), "calls.socket.count")
t.expect_call(rep, "connect", count=NCONN, errors=0)
t.expect_call(rep, "send", count=TOTAL, bytes=(REQ_BYTES, "all request lines"), partial=0,
              errors=0)
recv = t.call(rep, "recv")
c = recv.get("count")
t.check(isinstance(c, int) and c >= TOTAL, "calls.recv.count: expected >= %d, actual %r" % (TOTAL, c))
t.expect_fields(recv, "calls.recv", bytes=RESP_BYTES, errors=0)
t.eq(NCONN, t.call(rep, "close").get("count"), "calls.close.count")
for k in ("accept", "accept4", "listen", "read", "write"):
    t.check(k not in calls, "calls.%s: expected absent, actual %r" % (k, calls.get(k)))

# ---- requests ------------------------------------------------------------
req = t.section(rep, "requests")
t.eq(TOTAL, req.get("count"), "requests.count")
p50 = req.get("p50_us")
t.check(isinstance(p50, (int, float)) and p50 < SLOW_US,
        "requests.p50_us: expected < %d, actual %r" % (SLOW_US, p50))
t.between(SLOW_US, float("inf"), req.get("p99_us"),
          "requests.p99_us (10%% of requests wait for a %d us sleep)" % SLOW_US)
t.between(SLOW_US, float("inf"), req.get("max_us"), "requests.max_us")

# ---- peers ---------------------------------------------------------------
key = "127.0.0.1:%d" % port
p = t.only_peer(rep, key, direction="outbound", connections=NCONN, requests=TOTAL, errors=0,
                bytes_out=REQ_BYTES, bytes_in=RESP_BYTES)
t.between(SLOW_US, float("inf"), p.get("p99_us"), "peers[%s].p99_us" % key)
t.between(0, 1e6, p.get("connect_p50_us"), "peers[%s].connect_p50_us" % key)
t.between(0, 1e6, p.get("connect_max_us"), "peers[%s].connect_max_us" % key)
t.eq(NCONN, rep.get("connections_peak"), "connections_peak")

t.eq(0, rep["summary"]["leaked_blocks"], "summary.leaked_blocks (%s)" % t.describe_leaks(rep))
t.done()
