#!/usr/bin/env python3
import os

import pstest

# t_dlopen: plugin_leak in libt_plugin.so leaks 555 bytes; the plugin is
# dlclose'd before exit and must still be symbolized with file:line.
t = pstest.Test()
plugin_src = os.path.join(os.path.dirname(t.source), "t_plugin.c")
run, rep = t.run_one([t.target])
l = t.expect_leak(rep, "plugin_leak", "@leak:plugin", blocks=1, bytes=555, source=plugin_src,
                  caller="call_plugin")
if l:
    st = l["stack"]
    t.check((st[0].get("module") or "").endswith("libt_plugin.so"),
            "frame 0 module: expected .../libt_plugin.so, actual %r" % st[0].get("module"))
    if len(st) > 1:
        t.eq(pstest.marker_line(t.source, "@call:plugin"), st[1].get("line"), "call_plugin line")
        t.eq("t_dlopen.c", os.path.basename(st[1].get("file") or ""), "call_plugin file")
t.expect_no_leak(rep, "plugin_churn", why="all freed")
t.eq(1, len(t.leaks_in_file(rep, plugin_src)), "leak groups allocated in t_plugin.c")
t.done()
