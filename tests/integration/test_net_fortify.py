#!/usr/bin/env python3
import subprocess

import pstest

# t_net_fortify, built with _FORTIFY_SOURCE=2, calls __read_chk, __recv_chk,
# __recvfrom_chk, __poll_chk and __ppoll_chk (checked with nm below, so the
# test cannot pass by accident on plain calls).  Each counts under its plain
# name: 10 each of read, recv, recvfrom, poll and ppoll; 10 write and 20
# send; 4 bytes per data call.  The sockets come from socketpair, which the
# shim does not hook: they are classified on first use.
t = pstest.Test()
if not t.target:
    t.skip("t_net_fortify is not built")
syms = subprocess.run(["nm", "-D", t.target], capture_output=True, text=True).stdout
for chk in ("__read_chk", "__recv_chk", "__recvfrom_chk", "__poll_chk", "__ppoll_chk"):
    if not t.check(chk in syms, "t_net_fortify does not import %s (fortification off?)" % chk):
        t.done()

run, rep = t.run_one([t.target], rc=0)
for name, count in (("read", 10), ("recv", 10), ("recvfrom", 10), ("write", 10), ("send", 20)):
    t.expect_call(rep, name, count=count, bytes=4 * count, errors=0)
for name in ("poll", "ppoll"):
    t.expect_call(rep, name, count=10, errors=0)
t.eq(2, t.call(rep, "close").get("count"), "calls.close.count")
t.done()
