#!/usr/bin/env python3
import pstest

# t_net_server --mode thread|epoll, traced; t_net_client (--client) untraced.
# 4 connections x 100 requests, every 20th asks the server to sleep 5 ms,
# 1000-byte responses.  Truth (see t_net_server.c):
#   thread: accept x4, recv 400 (one per request line) + 4 (EOF), send 400
#           (400000 bytes), no read/write (the port file is a regular file).
#   epoll:  accept4 x4, read >= 404 with EAGAIN after each request line,
#           write 400 (400000 bytes), epoll_wait > 0, no recv/send.
#   both:   socket 1, listen 1, close 5 (4 connections + the listener);
#           400 requests, p50 fast, p99 one of the 20 slow ones (>= 5 ms);
#           peers {"listen:PORT": inbound, 4 connections, 400 requests};
#           connections_peak 4; off-CPU: ...;handle_slow;usleep ~ 20 x 5 ms.
NCONN, NPER, SLOW_EVERY, SLOW_US, RESP_LEN = 4, 100, 20, 5000, 1000
TOTAL = NCONN * NPER
REQ_BYTES = pstest.request_lines_bytes(TOTAL, SLOW_EVERY, SLOW_US, RESP_LEN)  # 4460
RESP_BYTES = TOTAL * RESP_LEN

t = pstest.Test(["--mode", "--client"])
mode = t.args.mode
if mode not in ("thread", "epoll"):
    t.fatal("--mode must be thread or epoll, not %r" % mode)
if not t.target:
    t.skip("t_net_server is not built")
client = t.program_arg("client", "t_net_client")

run, cl, port = t.client_server(
    [t.target, mode, pstest.PORTFILE, str(TOTAL)],
    lambda port: t.run_plain(pstest.net_client_argv(client, port, NCONN, NPER, SLOW_EVERY,
                                                    SLOW_US, RESP_LEN), timeout=40))
t.exit_ok(cl, "client")
t.exit_ok(run, "server")
t.eq(b"", run.stderr, "server stderr")
trace, rep = t.one_trace(run)
calls = t.calls_of(rep)

# ---- calls ---------------------------------------------------------------
t.eq(1, t.call(rep, "socket").get("count"), "calls.socket.count")
t.eq(1, t.call(rep, "listen").get("count"), "calls.listen.count")
t.eq(NCONN + 1, t.call(rep, "close").get("count"),
     "calls.close.count (4 connections + the listener; the port file is no socket)")
if mode == "thread":
    t.expect_call(rep, "accept", count=NCONN, errors=0)
    t.check("accept4" not in calls, "calls.accept4: expected absent (thread mode calls accept)")
    t.expect_call(rep, "recv", count=(TOTAL + NCONN, "400 request lines + 4 EOF"),
                  bytes=(REQ_BYTES, "all request lines"), errors=0,
                  eagain=(0, "blocking sockets"))
    t.expect_call(rep, "send", count=TOTAL, bytes=RESP_BYTES, errors=0, partial=0)
    for k in ("read", "write", "epoll_wait"):
        t.check(k not in calls, "calls.%s: expected absent in thread mode, actual %r"
                % (k, calls.get(k)))
else:
    t.expect_call(rep, "accept4", count=NCONN, errors=0)
    t.check("accept" not in calls, "calls.accept: expected absent (epoll mode calls accept4)")
    rd = t.call(rep, "read")
    c = rd.get("count")
    t.check(isinstance(c, int) and c >= TOTAL + NCONN,
            "calls.read.count: expected >= %d, actual %r" % (TOTAL + NCONN, c))
    t.check(isinstance(rd.get("eagain"), int) and rd.get("eagain") > 0,
            "calls.read.eagain: expected > 0, actual %r" % rd.get("eagain"))
    t.expect_fields(rd, "calls.read", bytes=(REQ_BYTES, "all request lines"),
                    errors=(0, "EAGAIN is not an error"))
    t.expect_call(rep, "write", count=(TOTAL, "the port file's write is no socket call"),
                  bytes=RESP_BYTES, errors=0, partial=0)
    ew = t.call(rep, "epoll_wait")
    t.check(isinstance(ew.get("count"), int) and ew.get("count") > 0,
            "calls.epoll_wait.count: expected > 0, actual %r" % ew.get("count"))
    for k in ("recv", "send"):
        t.check(k not in calls, "calls.%s: expected absent in epoll mode, actual %r"
                % (k, calls.get(k)))

# ---- requests ------------------------------------------------------------
req = t.section(rep, "requests")
t.eq(TOTAL, req.get("count"), "requests.count")
p50 = req.get("p50_us")
t.check(isinstance(p50, (int, float)) and p50 < 2000,
        "requests.p50_us: expected < 2000 (fast requests), actual %r" % p50)
t.between(SLOW_US, SLOW_US * 1.5 + 2000, req.get("p99_us"),
          "requests.p99_us (5%% of requests sleep %d us)" % SLOW_US)
t.between(SLOW_US, float("inf"), req.get("max_us"), "requests.max_us")

# ---- peers ---------------------------------------------------------------
key = "listen:%d" % port
p = t.only_peer(rep, key, direction="inbound", connections=NCONN, requests=TOTAL, errors=0,
                bytes_out=RESP_BYTES, bytes_in=REQ_BYTES)
t.between(SLOW_US, SLOW_US * 1.5 + 2000, p.get("p99_us"), "peers[%s].p99_us" % key)
t.eq(NCONN, rep.get("connections_peak"), "connections_peak")

# ---- leaks: the server frees everything ------------------------------------
s = rep["summary"]
mine = t.leaks_in_file(rep, t.source)
t.eq(0, len(mine), "leak groups allocated in t_net_server.c (%s)" % t.describe_leaks(rep))
if mode == "epoll":
    t.eq(0, s["leaked_blocks"], "summary.leaked_blocks (%s)" % t.describe_leaks(rep))
else:
    # glibc keeps a few blocks per thread (the TLS DTV) until its stack cache is trimmed.
    for l in rep["leaks"]:
        if l.get("kind") == "reachable":
            continue
        t.check(any("pthread_create" in (fr.get("function") or "") for fr in l.get("stack") or []),
                "leak that is not glibc's per-thread block: %dB/%d %s"
                % (l["bytes"], l["blocks"], pstest.short_stack(l.get("stack") or [])))

# ---- off-CPU: the 20 slow requests sleep in handle_slow -> usleep ----------
folded = t.flame(trace, "offcpu")
slow = [(fr, w) for fr, w in folded if "handle_slow" in fr]
t.check(slow, "flame --type offcpu: no line with handle_slow (%d lines: %s)"
        % (len(folded), [";".join(fr[-3:]) for fr, _ in folded][:10]))
for fr, w in slow:
    t.eq(["handle_slow", "usleep"], fr[-2:], "flame --type offcpu: innermost frames of %s"
         % ";".join(fr))
t.between(90000, 200000, sum(w for _, w in slow),
          "flame --type offcpu: weight of handle_slow (20 sleeps x %d us)" % SLOW_US)
# Weights are whole microseconds: the line's weight is calls.usleep.total_us
# (every usleep is a slow request's), give or take 1 us per call.
us = t.call(rep, "usleep")
t.eq(TOTAL // SLOW_EVERY, us.get("count"), "calls.usleep.count (the slow requests)")
slow_w = sum(w for _, w in slow)
t.check(isinstance(us.get("total_us"), (int, float)) and abs(slow_w - us["total_us"]) <= 21,
        "flame --type offcpu: weight of handle_slow: expected calls.usleep.total_us (%r) +- 21, "
        "actual %r" % (us.get("total_us"), slow_w))
if mode == "thread":
    # The other connections' threads wait in recv while a slow request sleeps.
    t.check(any(fr[-2:] == ["conn_thread", "recv"] for fr, _ in folded),
            "flame --type offcpu: no line ending conn_thread;recv")
else:
    # The event loop waits for the client to connect.
    t.check(any(fr[-2:] == ["run_epoll", "epoll_wait"] for fr, _ in folded),
            "flame --type offcpu: no line ending run_epoll;epoll_wait")
t.done()
