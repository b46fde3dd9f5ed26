#!/usr/bin/env python3
import pstest

import os
import re
import shutil
import socket
import time
import urllib.request

# PERFSHIM_METRICS_FILE: t_soak_steady 20 20 0 2 (2 worker threads churning
# 2000 blocks/s each at a constant live size, 3 threads in all) runs traced
# with PERFSHIM_SAMPLE_MS=100 and PERFSHIM_METRICS_FILE=DIR/perfshim_%e_%p.prom.
# While it runs: the file exists under its expanded name, parses as
# Prometheus text format (prometheus_client's parser when installed, else a
# strict line grammar), has every metric of the spec once with labels
# {pid, exe}, gauges and counters typed as such, and values that match the
# target: threads 3, heap live = the rings' bytes, allocations_total
# growing between two reads.  When prometheus-node-exporter is installed,
# its textfile collector serves the metrics on 127.0.0.1.
SAMPLE_MS = 100
WORKERS = 2
RING = 1024
RING_BYTES = sum(16 + (i * 61) % 1009 for i in range(RING))   # each worker's live ring
MAX_SLOT = 1024
METRICS = ["perfshim_rss_bytes", "perfshim_vm_bytes", "perfshim_heap_live_bytes",
           "perfshim_heap_live_blocks", "perfshim_threads", "perfshim_open_fds",
           "perfshim_cpu_seconds_total", "perfshim_allocations_total", "perfshim_frees_total",
           "perfshim_shim_memory_bytes", "perfshim_trace_bytes", "perfshim_uptime_seconds"]
# Debian's package installs /usr/bin/prometheus-node-exporter
NODE_EXPORTER = shutil.which("prometheus-node-exporter")

t = pstest.Test()
if not t.target:
    t.skip("t_soak_steady is not built")

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    text_string_to_metric_families = None
    print("note: prometheus_client is not installed: a strict line grammar parses the file")

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
VALUE = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|NaN|[-+]Inf"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,(?:%s))*,?)?\})?[ ](%s)(?:[ ]-?[0-9]+)?$"
                       % (NAME, LABEL, LABEL, VALUE))
COMMENT_RE = re.compile(r"^# (HELP|TYPE) (%s)(?: (.*))?$" % NAME)


def parse(text):
    """{sample name: [(labels dict, value)]}, {sample name: type}."""
    samples, types = {}, {}
    if text_string_to_metric_families is not None:
        try:
            for fam in text_string_to_metric_families(text):
                for s in fam.samples:
                    samples.setdefault(s.name, []).append((dict(s.labels), s.value))
                    types[s.name] = fam.type
        except ValueError as e:
            t.fail("prometheus_client cannot parse the metrics file: %s\n%s" % (e, text))
        return samples, types
    declared = {}
    for n, line in enumerate(text.split("\n"), 1):
        if line == "" and n == len(text.split("\n")):
            break   # the final newline
        m = COMMENT_RE.match(line)
        if m:
            if m.group(1) == "TYPE":
                if not t.check(m.group(3) in ("gauge", "counter", "untyped", "summary",
                                              "histogram"), "line %d: bad TYPE: %r" % (n, line)):
                    continue
                declared[m.group(2)] = m.group(3)
            continue
        m = SAMPLE_RE.match(line)
        if not t.check(m, "metrics file line %d is not Prometheus text format: %r" % (n, line)):
            continue
        labels = dict((k, v) for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                                    m.group(2) or ""))
        samples.setdefault(m.group(1), []).append((labels, float(m.group(3))))
        name = m.group(1)
        types[name] = declared.get(name) or declared.get(re.sub(r"_total$", "", name)) or "untyped"
    t.check(text.endswith("\n"), "metrics file does not end in a newline")
    return samples, types


def read_metrics(path, what):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    samples, types = parse(text)
    vals = {}
    for m in METRICS:
        got = samples.get(m) or []
        if not t.eq(1, len(got), "%s: samples of %s (file:\n%s)" % (what, m, text)):
            continue
        labels, v = got[0]
        t.eq({"pid": str(srv.pid), "exe": "t_soak_steady"}, labels, "%s: %s labels" % (what, m))
        t.eq("counter" if m.endswith("_total") else "gauge", types.get(m), "%s: %s type" % (what, m))
        vals[m] = v
    return vals


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


mdir = os.path.join(t.tempdir(), "metrics")
os.mkdir(mdir)
srv = t.start_traced([t.target, "20", "20", "0", str(WORKERS)],
                     env_extra={"PERFSHIM_SAMPLE_MS": str(SAMPLE_MS),
                                "PERFSHIM_METRICS_FILE": os.path.join(mdir, "perfshim_%e_%p.prom")})
exporter = None
try:
    t0 = time.time()
    path = os.path.join(mdir, "perfshim_t_soak_steady_%d.prom" % srv.pid)
    t.wait_file(path, timeout=10, proc=srv)
    if not t.check(os.path.exists(path), "no metrics file %s (dir: %s)" % (path, os.listdir(mdir))):
        t.done()
    time.sleep(max(0.0, 0.6 - (time.time() - t0)))   # threads and rings set up
    v1 = read_metrics(path, "first read")
    v2 = v1
    deadline = time.time() + 5
    while time.time() < deadline:   # three periods at least, then until the counter moves
        time.sleep(0.35)
        v2 = read_metrics(path, "second read")
        if v2.get("perfshim_allocations_total", 0) > v1.get("perfshim_allocations_total", 0):
            break
    t.check(srv.running(), "the target ended during the reads")
    print("parser: %s; first read %s; second read %s"
          % ("prometheus_client" if text_string_to_metric_families else "line grammar", v1, v2))
    for v, what in ((v1, "first read"), (v2, "second read")):
        t.check(v.get("perfshim_rss_bytes", 0) > 0, "%s: perfshim_rss_bytes %r"
                % (what, v.get("perfshim_rss_bytes")))
        t.check(v.get("perfshim_vm_bytes", 0) >= v.get("perfshim_rss_bytes", 1),
                "%s: vm %r < rss %r" % (what, v.get("perfshim_vm_bytes"), v.get("perfshim_rss_bytes")))
        t.eq(1 + WORKERS, v.get("perfshim_threads"),
             "%s: perfshim_threads (main + %d workers; the shim's thread not counted)" % (what, WORKERS))
        t.between(3, 3 + 32, v.get("perfshim_open_fds"), "%s: perfshim_open_fds" % what)
        # usable sizes: >= the requested bytes, <= 24 bytes more per block (+ glibc's own)
        blocks = WORKERS * RING
        t.between(WORKERS * (RING_BYTES - MAX_SLOT), WORKERS * RING_BYTES + 24 * blocks + 65536,
                  v.get("perfshim_heap_live_bytes"),
                  "%s: perfshim_heap_live_bytes (the rings: %d requested bytes)"
                  % (what, WORKERS * RING_BYTES))
        t.between(blocks - WORKERS, blocks + 64, v.get("perfshim_heap_live_blocks"),
                  "%s: perfshim_heap_live_blocks (the rings' blocks)" % what)
        t.check(v.get("perfshim_allocations_total", 0) >= v.get("perfshim_frees_total", 0) > 0,
                "%s: allocations_total %r, frees_total %r" % (what, v.get("perfshim_allocations_total"),
                                                             v.get("perfshim_frees_total")))
        t.between(0.0, 60.0, v.get("perfshim_cpu_seconds_total"), "%s: cpu_seconds_total" % what)
        t.between(1, 64 << 20, v.get("perfshim_shim_memory_bytes"), "%s: shim_memory_bytes" % what)
        t.between(0, float("inf"), v.get("perfshim_trace_bytes"), "%s: trace_bytes" % what)
        t.between(0.0, time.time() - t0 + 1.0, v.get("perfshim_uptime_seconds"),
                  "%s: uptime_seconds" % what)
    t.check(v2.get("perfshim_allocations_total", 0) > v1.get("perfshim_allocations_total", 0),
            "perfshim_allocations_total did not increase between two reads: %r then %r"
            % (v1.get("perfshim_allocations_total"), v2.get("perfshim_allocations_total")))
    t.check(v2.get("perfshim_uptime_seconds", 0) > v1.get("perfshim_uptime_seconds", 0),
            "perfshim_uptime_seconds did not increase: %r then %r"
            % (v1.get("perfshim_uptime_seconds"), v2.get("perfshim_uptime_seconds")))

    # ---- node_exporter's textfile collector --------------------------------------
    if NODE_EXPORTER:
        port = free_port()
        exporter = t.start_plain([NODE_EXPORTER, "--collector.disable-defaults",
                                  "--collector.textfile",
                                  "--collector.textfile.directory=" + mdir,
                                  "--web.listen-address=127.0.0.1:%d" % port])
        body, last_err = "", None
        deadline = time.time() + 10
        while time.time() < deadline and exporter.running():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
                    body = r.read().decode(errors="replace")
                if "perfshim_rss_bytes{" in body:
                    break
            except OSError as e:
                last_err = e
            time.sleep(0.2)
        rss = [l for l in body.splitlines() if l.startswith("perfshim_rss_bytes{")]
        print("node_exporter on 127.0.0.1:%d: %s" % (port, rss))
        t.eq(1, len(rss), "node_exporter /metrics: perfshim_rss_bytes lines (last error %r; "
             "exporter running %s)" % (last_err, exporter.running()))
        if rss:
            t.check('pid="%d"' % srv.pid in rss[0] and float(rss[0].rsplit(" ", 1)[1]) > 0,
                    "node_exporter: %r" % rss[0])
        t.check("node_textfile_scrape_error 0" in body,
                "node_exporter: node_textfile_scrape_error is not 0: %s"
                % [l for l in body.splitlines() if "textfile" in l and not l.startswith("#")])
    else:
        print("note: prometheus-node-exporter is not installed: the textfile collector is not tried")
finally:
    if exporter is not None:
        exporter.kill()
    srv.kill()
t.done()
