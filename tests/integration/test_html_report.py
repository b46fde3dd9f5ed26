#!/usr/bin/python3
"""report --format html: one self-contained page, checked as a file and in
headless Chromium (browser.py).

Trace: `t_regress worse 30 0` (see gatelib.py) with PERFSHIM_CPU_HZ=997:
leaks at cache_put (30 x 65536 bytes), remember_request (30 x 100) and
load_config (256); 30 requests; usleep, recv and send calls; resource
samples every 10 ms.

As a file: parsed by html.parser without an unclosed element; no URL but
the SVG namespace, no src attribute, every href a same-page "#" anchor
(self-contained, no network); one <details> per leak site, the first
(largest) naming cache_put; the calls table lists usleep; a timeline
<svg>; flame graphs for alloc, leak and offcpu at least, each an
<svg class="ps-flame"> with its data-type; the `flame --format svg` of the
same trace still starts with the XML declaration (the embedded writer is
a mode, not a replacement).

In Chromium (skipped, 77, without selenium, chromium or chromedriver):
<body data-ready="1">, psErrors empty, no SEVERE console entry; the first
leak's <details> is closed and its stack hidden, a real click on its
<summary> opens it and shows the frames (cache_put first); every flame
graph's root has data-ready="1" and its psFlame lists frames, the leak
graph's among them cache_put; a click on a frame of the leak graph zooms
it (the frame then spans the graph's width) without errors.  A screenshot
is saved into a kept temp dir and its path printed.

Bad input: a missing trace, a file that is not a trace and --format htm
exit 2 with one stderr line, and leave an existing -o file alone.
"""
import html.parser
import os
import re
import tempfile

import pstest
import gatelib
import browser  # may re-run this script under /usr/bin/python3 (for selenium)

t = pstest.Test()
if not t.target:
    t.skip("t_regress is not built")

trace, rep = gatelib.record(t, "worse", env_extra={"PERFSHIM_CPU_HZ": "997"})
dir_ = t.tempdir()
page = os.path.join(dir_, "report.html")
rc, out, err = t.perfshim_run(["report", "--format", "html", "-o", page, trace])
t.eq((0, b"", b""), (rc, out, err), "report --format html -o: exit status, stdout, stderr")
with open(page, encoding="utf-8") as f:
    doc = f.read()


class Tags(html.parser.HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.attrs.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.attrs.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass
        else:
            self.errors.append("</%s> without <%s>" % (tag, tag))


p = Tags()
p.feed(doc)
p.close()
t.eq([], p.errors, "html: stray end tags")
t.eq([], p.stack, "html: elements left open")
t.eq({"://www.w3.org/2000/svg"}, set(re.findall(r"://[^\s\"'<>)]*", doc)), "URLs in the page (self-contained)")
for tag, a in p.attrs:
    t.check("src" not in a, "<%s src=%r>: nothing is loaded" % (tag, a.get("src")))
    t.check(a.get("href") is None or a["href"].startswith("#"), "<%s href=%r>: same-page links only"
            % (tag, a.get("href")))
nleaks = len(rep["leaks"])
t.eq(nleaks, len(re.findall(r'<table class="leaks">.*?</table>', doc, re.S)[0].split("<details")) - 1
     if '<table class="leaks">' in doc else 0, "one <details> per leak site")
t.check(re.search(r'<table class="calls">.*?<th>usleep</th>', doc, re.S), "the calls table lists usleep")
t.check('class="ps-timeline"' in doc, "a timeline chart")
types = re.findall(r'<svg [^>]*class="ps-flame"[^>]*data-type="(\w+)"', doc)
t.check({"alloc", "leak", "offcpu"} <= set(types), "flame graphs in the page: %s" % types)
rc, out, err = t.perfshim_run(["flame", "--type", "leak", "--format", "svg", trace])
t.check(rc == 0 and out.startswith(b"<?xml"), "flame --format svg is still a document of its own")

# ---- in the browser ------------------------------------------------------------------
shots = tempfile.mkdtemp(prefix="perfshim-html-report-")   # kept: the screenshot's home
with browser.Browser(t) as b:
    b.open(page)
    ready = b.wait_js("return document.body && document.body.getAttribute('data-ready')")
    t.eq("1", ready, "body data-ready (psErrors %r)" % b.js("return window.psErrors"))
    t.eq([], b.js("return window.psErrors"), "psErrors after load")
    t.eq([], b.severe_logs(), "SEVERE console entries after load")
    det = b.find("table.leaks details")
    if t.check(det, "leak <details> elements"):
        first = det[0]
        t.eq(False, b.js("return arguments[0].open", first), "the first leak's <details> is closed at first")
        items = first.find_elements("css selector", "ol.stack li")
        # closed <details> content is laid out but not rendered (content-visibility)
        shown = "return arguments[0].checkVisibility()"
        t.check(items and not b.js(shown, items[0]), "its stack is hidden at first")
        summary = first.find_elements("css selector", "summary")[0]
        b.click(summary)
        t.eq(True, b.js("return arguments[0].open", first), "the <details> is open after a click on its summary")
        t.check(items and b.js(shown, items[0]), "its stack is shown after the click")
        t.check(items and "cache_put" in items[0].text, "its first frame: %r" % (items[0].text if items else None))
    flames = b.js("return Array.from(document.querySelectorAll('svg.ps-flame')).map(function (s) {"
                  " return [s.getAttribute('data-type'), s.getAttribute('data-ready'),"
                  " s.psFlame ? s.psFlame.frames().length : -1]; })")
    t.eq(sorted(types), sorted(f[0] for f in flames), "flame graphs in the DOM")
    for kind, ready, n in flames:
        t.eq("1", ready, "flame %s: data-ready" % kind)
        t.check(n > 1, "flame %s: psFlame.frames() has %r frames" % (kind, n))
    leak_names = b.js("var s = document.querySelector('svg.ps-flame[data-type=leak]');"
                      " return s ? s.psFlame.frames().map(function (f) { return f[0]; }) : [];")
    t.check("cache_put" in leak_names, "the leak graph has cache_put: %s" % leak_names[:20])
    frame = b.find('svg.ps-flame[data-type="leak"] g.frame[data-name="remember_request"] rect')
    if t.check(frame, "remember_request drawn in the leak graph"):
        b.js("arguments[0].scrollIntoView({block: 'center'})", frame[0])
        b.click(frame[0])
        width = b.js("return arguments[0].getAttribute('width')", frame[0])
        t.eq("1180.00", width, "remember_request spans the graph after a click (zoom)")
    t.eq([], b.js("return window.psErrors"), "psErrors after the clicks")
    t.eq([], b.severe_logs(), "SEVERE console entries after the clicks")
    b.js("window.scrollTo(0, 0)")
    shot = os.path.join(shots, "report.png")
    png = b.screenshot(shot)
    t.check(png.startswith(b"\x89PNG"), "the screenshot is a PNG")
    print("screenshot: %s" % shot)

# ---- bad input --------------------------------------------------------------------------
keep = os.path.join(dir_, "keep.html")
with open(keep, "w") as f:
    f.write("<p>mine</p>\n")
for what, args in [
    ("missing trace", ["report", "--format", "html", "-o", keep, os.path.join(dir_, "nope.trace")]),
    ("not a trace", ["report", "--format", "html", "-o", keep, gatelib.not_a_trace(t)]),
    ("bad format", ["report", "--format", "htm", "-o", keep, trace]),
]:
    gatelib.bad_input(t, args, what, keep)
t.done()
