#!/usr/bin/env python3
import pstest

# t_net_udp server traced, t_net_udp client untraced, N = 200 datagrams.
# Truth (see t_net_udp.c): the server makes 1 socket, N recvfrom ("PING i\n"),
# N sendto ("PONG i\n"), 1 close and no other socket call; every datagram
# received is a request (its socket's first data call is a receive).
N = 200
PING_BYTES = sum(len("PING %d\n" % i) for i in range(N))
PONG_BYTES = sum(len("PONG %d\n" % i) for i in range(N))

t = pstest.Test()
if not t.target:
    t.skip("t_net_udp is not built")

run, cl, port = t.client_server(
    [t.target, "server", pstest.PORTFILE, str(N)],
    lambda port: t.run_plain([t.target, "client", str(port), str(N)], timeout=40))
t.exit_ok(cl, "client")
t.exit_ok(run, "server")
rep = t.one_trace(run)[1]
calls = t.calls_of(rep)

t.expect_call(rep, "recvfrom", count=N, bytes=PING_BYTES, errors=0)
t.expect_call(rep, "sendto", count=N, bytes=PONG_BYTES, errors=0, partial=0)
t.eq(1, t.call(rep, "socket").get("count"), "calls.socket.count")
t.eq(1, t.call(rep, "close").get("count"), "calls.close.count (the port file is no socket)")
others = sorted(set(calls) - {"socket", "recvfrom", "sendto", "close"})
t.eq([], others, "calls other than socket/recvfrom/sendto/close")

req = t.section(rep, "requests")
t.eq(N, req.get("count"), "requests.count")

# An unconnected datagram server is an inbound peer on its local port, with
# "/udp" to keep it apart from a TCP listener on the same number; datagram
# sockets are not connections.
key = "listen:%d/udp" % port
peers = rep.get("peers") or {}
t.eq([key], sorted(peers), "peer keys")
pe = peers.get(key, {})
t.eq("inbound", pe.get("direction"), "peer direction")
t.eq(N, pe.get("requests"), "peer requests")
t.eq(0, pe.get("connections"), "peer connections (datagrams open none)")
t.eq(calls["recvfrom"]["bytes"], pe.get("bytes_in"), "peer bytes_in")
t.eq(calls["sendto"]["bytes"], pe.get("bytes_out"), "peer bytes_out")
t.eq(0, rep.get("connections_peak"), "connections_peak")
t.done()
