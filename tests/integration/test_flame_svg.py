#!/usr/bin/python3
"""flame --format svg: the interactive flame graph, checked as XML, by
rsvg-convert and in headless Chromium (browser.py) against the folded text
(`--format folded`) of the same trace.

Traces, recorded under the shim:
  t_basic (--target): alloc and leak.  Truth (t_basic.c): churn 2000
    allocations, leak_hundred 3 x 100 bytes, leak_page 1 x 4096 bytes; the
    leaks are 300 + 4096 bytes in 4 blocks.
  t_threads (--threads) at PERFSHIM_CPU_HZ=10000: cpu, 9 threads.
  t_net_server thread mode (--server) with t_net_client (--client): offcpu
    in 5 threads (poll in the main thread, recv in one thread per
    connection, usleep in handle_slow).

Every SVG: parses as XML; an <svg> root with data-type and data-total (the
folded total); nothing external (no URL but the SVG namespace, no href);
header texts with the title, the command and the total; every frame a
<g class="frame"> with data-name/-start/-weight/-count/-depth, a <title>
"name (weight unit, pct%, count count_unit)" that agrees with them, a rect
of width weight/total * 1180 px >= 0.1 px, a label that is the name or its
start and ".." and fits the rect; colours from the type's palette (green
alloc/leak, warm cpu, blue offcpu); rsvg-convert renders it to a PNG 1200
px wide.

In Chromium (skipped, 77, without selenium, chromium or chromedriver):
data-ready="1", psErrors empty, no SEVERE console entry; all frames
(drawn or not) rebuild the folded lines exactly; psFlame.search(RE)
returns the share of the folded total of the lines with a frame matching
RE, within 0.1 points.  On the leak graph, real WebDriver clicks: on
leak_hundred (it then spans the full width, its label is no longer cut,
leak_page is hidden, its ancestors stay), on the root and on "Reset zoom"
(back to the start), on "Search" (prompt: "leak_page" highlights it and
shows "Matched: 93.2%"), on "Clear"; Ctrl-F opens the prompt too.  The
screenshots before and after the zoom differ; they are kept in
BUILD/Testing/flame_svg/ and their paths printed.  With --per-thread the
root's children are the thread labels; a click on one hides the others.
"""
import os
import re
import shutil
import struct
import subprocess
import time
import xml.etree.ElementTree as ET
from collections import defaultdict

import pstest
import browser  # may re-run this script under /usr/bin/python3 (for selenium)

T0 = time.time()
t = pstest.Test(extra_args=["--threads", "--server", "--client"])
if not t.target:
    t.skip("t_basic is not built")
SVG = "{http://www.w3.org/2000/svg}"
FULL = 1180.0               # the SVG's 1200 px less its margins
TITLES = {"alloc": "Allocated bytes", "leak": "Leaked bytes", "cpu": "CPU samples",
          "offcpu": "Off-CPU time"}
UNITS = {"alloc": ("bytes", "allocations"), "leak": ("bytes", "blocks"),
         "cpu": ("samples", "samples"), "offcpu": ("microseconds", "calls")}
HIGHLIGHT = "rgb(230, 30, 230)"
shots = os.path.join(os.path.dirname(os.path.dirname(t.perfshim)), "Testing", "flame_svg")
out_dir = t.tempdir()


def record(argv, env_extra=None):
    run = t.run_traced(argv, env_extra=env_extra)
    t.exit_ok(run, os.path.basename(argv[0]))
    return t.one_trace(run)[0]


def folded(trace, kind, per_thread):
    """{"a;b;c": weight} from `flame --format folded`."""
    args = ["flame", "--type", kind] + (["--per-thread"] if per_thread else []) + [trace]
    rc, out, err = t.perfshim_run(args)
    t.eq(0, rc, "%s: exit status (stderr %r)" % (" ".join(args[:-1]), err))
    fold = defaultdict(int)
    for line in out.decode().splitlines():
        stack, _, w = line.rpartition(" ")
        fold[stack] += int(w)
    return dict(fold)


def share(fold, regex):
    """Percent of the folded total in lines with a frame matching REGEX."""
    total = sum(fold.values())
    hit = sum(w for k, w in fold.items() if any(re.search(regex, f) for f in k.split(";")))
    return hit * 100.0 / total if total else 0.0


def num(text):
    return int(text.replace(",", ""))


def rgb(fill):
    m = re.match(r"^rgb\((\d+), ?(\d+), ?(\d+)\)$", fill or "")
    return tuple(int(x) for x in m.groups()) if m else None


def palette_ok(kind, c):
    r, g, b = c
    if kind in ("alloc", "leak"):
        return g > r and g > b
    if kind == "cpu":
        return r >= 205 and r > g and r > b
    return b > r and b > g


def make_svg(trace, kind, per_thread, name):
    path = os.path.join(out_dir, name)
    args = ["flame", "--type", kind, "--format", "svg"] + (["--per-thread"] if per_thread else [])
    rc, out, err = t.perfshim_run(args + ["-o", path, trace])
    t.eq(0, rc, "%s: exit status (stderr %r)" % (" ".join(args), err))
    t.eq(b"", out + err, "%s: stdout and stderr" % " ".join(args))
    return path


def check_static(path, kind, fold, per_thread, command):
    """The SVG as a file: XML, self-contained, header, frames, rsvg."""
    what = "svg %s%s" % (kind, " --per-thread" if per_thread else "")
    with open(path, "rb") as f:
        data = f.read()
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        t.fatal("%s: not XML: %s" % (what, e))
    total = sum(fold.values())
    t.eq(SVG + "svg", root.tag, what + ": root element")
    t.eq(kind, root.get("data-type"), what + ": data-type")
    t.eq(str(total), root.get("data-total"), what + ": data-total vs the folded total")
    urls = set(re.findall(rb"[a-z]+://[^\s\"'<>)]*", data))
    t.eq({b"http://www.w3.org/2000/svg"}, urls, what + ": URLs in the file (self-contained)")
    for el in root.iter():
        for a in el.attrib:
            t.check(not a.endswith("href") and a != "src", "%s: <%s %s=%r>"
                    % (what, el.tag, a, el.get(a)))
    scripts = [el for el in root.iter(SVG + "script")]
    t.check(scripts and all((el.text or "").strip() for el in scripts), what + ": inline scripts")
    t.eq(1, len(list(root.iter(SVG + "style"))), what + ": inline <style> elements")
    texts = {el.get("id"): "".join(el.itertext()) for el in root.iter(SVG + "text") if el.get("id")}
    t.check(TITLES[kind] in texts.get("ps-title", ""), "%s: title %r" % (what, texts.get("ps-title")))
    t.check(command in texts.get("ps-command", ""), "%s: command %r" % (what, texts.get("ps-command")))
    unit, count_unit = UNITS[kind]
    t.check(("total %s %s" % ("{:,}".format(total), unit)) in texts.get("ps-total", ""),
            "%s: total %r" % (what, texts.get("ps-total")))
    ids = {el.get("id") for el in root.iter(SVG + "g")}
    t.check({"ps-reset", "ps-search", "ps-clear", "ps-frames"} <= ids, "%s: controls %s" % (what, ids))
    frames = [g for g in root.iter(SVG + "g") if g.get("class") == "frame"]
    omitted = int(root.get("data-omitted", "-1"))
    t.eq(omitted > 0, "ps-omitted" in texts, "%s: a note iff frames are omitted (%d)" % (what, omitted))
    tip_re = re.compile(r"^(.*) \(([\d,]+) %s, (\d+\.\d\d)%%, ([\d,]+) %s\)$"
                        % (re.escape(unit), re.escape(count_unit)))
    bad = 0
    for g in frames:
        name, w, d = g.get("data-name"), int(g.get("data-weight")), int(g.get("data-depth"))
        tip = "".join(g.find(SVG + "title").itertext())
        m = tip_re.match(tip)
        rect, label = g.find(SVG + "rect"), "".join(g.find(SVG + "text").itertext())
        width = float(rect.get("width"))
        ok = (m and m.group(1) == name and num(m.group(2)) == w
              and abs(float(m.group(3)) - w * 100.0 / total) <= 0.0051
              and num(m.group(4)) == int(g.get("data-count"))
              and abs(width - w / total * FULL) <= 0.01 and width >= 0.1
              and (label == name or label == "" or (label.endswith("..") and name.startswith(label[:-2])))
              and (not label or len(label) * 7.2 + 6 <= width + 0.01))
        c = rgb(rect.get("fill"))
        if d >= (2 if per_thread else 1):
            ok = ok and c and palette_ok(kind, c)
        if not ok:
            bad += 1
            if bad <= 5:
                t.fail("%s: frame %r: title %r, width %s, label %r, fill %s"
                       % (what, name, tip, width, label, rect.get("fill")))
    roots = [g for g in frames if g.get("data-depth") == "0"]
    t.eq([("all", str(total))], [(g.get("data-name"), g.get("data-weight")) for g in roots],
         what + ": the root frame")
    if per_thread:
        labels = sorted({k.split(";")[0] for k in fold})
        got = sorted(g.get("data-name") for g in frames if g.get("data-depth") == "1")
        t.eq(labels, got, what + ": the root's children are the threads")
    rsvg = shutil.which("rsvg-convert")
    if rsvg:
        png = path[:-4] + ".png"
        p = subprocess.run([rsvg, "-o", png, path], capture_output=True, timeout=60)
        t.eq(0, p.returncode, "%s: rsvg-convert exit status (stderr %r)" % (what, p.stderr))
        with open(png, "rb") as f:
            head = f.read(24)
        t.eq(b"\x89PNG\r\n\x1a\n", head[:8], what + ": rsvg-convert output is a PNG")
        if len(head) == 24:
            t.eq(1200, struct.unpack(">I", head[16:20])[0], what + ": PNG width")
    else:
        print("note: rsvg-convert not installed: the SVGs are not rendered")
    return {g.get("data-name"): g for g in frames}


def rebuild(nodes):
    """Folded lines from the graph's frames [name, start, weight, count,
    depth], drawn or not: preorder by (start, depth), self weights."""
    out, stack = defaultdict(int), []

    def pop():
        name, w, below, path = stack.pop()
        if w > below and path:
            out[";".join(path)] += w - below

    for name, start, w, count, d in sorted(nodes, key=lambda n: (n[1], n[4])):
        while len(stack) > d:
            pop()
        if len(stack) != d:
            t.fail("frame %r at depth %d has no parent" % (name, d))
            return {}
        if stack:
            stack[-1][2] += w
        stack.append([name, w, 0, stack[-1][3] + [name] if stack else []])
    while stack:
        pop()
    return dict(out)


svgs = []   # (path, kind, fold, per_thread, searches, click)

# ---- t_basic: alloc and leak -------------------------------------------------------
basic = record([t.target])
for kind in ("alloc", "leak"):
    fold = folded(basic, kind, False)
    path = make_svg(basic, kind, False, "basic-%s.svg" % kind)
    frames = check_static(path, kind, fold, False, t.target)
    want = {"churn": 2000, "leak_hundred": 3, "leak_page": 1} if kind == "alloc" else \
        {"leak_hundred": 3, "leak_page": 1}
    got = {n: int(g.get("data-count")) for n, g in frames.items() if n in want}
    if kind == "alloc":
        want.pop("leak_hundred")  # 300 of 4.9 MB: narrower than 0.1 px, not drawn
        t.check("leak_hundred" not in frames, "svg alloc: leak_hundred (0.07 px) is drawn")
    t.eq(want, got, "svg %s: data-count of the allocating functions (t_basic's truth)" % kind)
    if kind == "leak":
        t.eq(("leak_page (4,096 bytes, 93.18%, 1 blocks)", "4096"),
             ("".join(frames["leak_page"].find(SVG + "title").itertext()),
              frames["leak_page"].get("data-weight")), "svg leak: leak_page's title and weight")
    svgs.append((path, kind, fold, False, ["churn", "leak_", "^leak_(page|hundred)$", "main|churn"]))

# ---- t_threads: cpu ----------------------------------------------------------------
threads = t.args.threads and os.path.abspath(t.args.threads)
if threads and os.path.exists(threads):
    th = record([threads], {"PERFSHIM_CPU_HZ": "10000"})
    for per_thread in (False, True):
        fold = folded(th, "cpu", per_thread)
        if not t.check(fold, "flame --type cpu: no samples from t_threads at 10000 Hz"):
            continue
        path = make_svg(th, "cpu", per_thread, "threads-cpu%s.svg" % ("-pt" if per_thread else ""))
        check_static(path, "cpu", fold, per_thread, threads)
        svgs.append((path, "cpu", fold, per_thread, ["thread_main", "malloc|free"]))
else:
    print("note: --threads (t_threads) not given: no cpu graph")

# ---- t_net_server (thread mode): offcpu by thread -----------------------------------
server = t.args.server and os.path.abspath(t.args.server)
client = t.args.client and os.path.abspath(t.args.client)
if server and client and os.path.exists(server) and os.path.exists(client):
    srv, cl, port = t.client_server(
        [server, "thread", pstest.PORTFILE, "400"],
        lambda port: t.run_plain(pstest.net_client_argv(client, port, 4, 100, 20, 5000, 1000),
                                 timeout=40))
    t.exit_ok(cl, "t_net_client")
    t.exit_ok(srv, "t_net_server")
    net = t.one_trace(srv)[0]
    for per_thread in (False, True):
        fold = folded(net, "offcpu", per_thread)
        path = make_svg(net, "offcpu", per_thread, "net-offcpu%s.svg" % ("-pt" if per_thread else ""))
        check_static(path, "offcpu", fold, per_thread, server)
        if per_thread:
            t.check(len({k.split(";")[0] for k in fold}) >= 5,
                    "offcpu --per-thread: threads %s (main + 4 connections)" % sorted(fold))
        svgs.append((path, "offcpu", fold, per_thread, ["usleep", "recv|poll", "handle_slow"]))
else:
    print("note: --server/--client (t_net_server, t_net_client) not given: no offcpu graph")


# ---- in Chromium --------------------------------------------------------------------
def frame_el(b, name):
    els = b.find('g.frame[data-name="%s"]' % name)
    t.eq(1, len(els), "frames named %s" % name)
    return els[0] if els else None


def box(b, el):
    """(x, width) of a frame's rect on screen; None when not displayed."""
    return b.js("var r = arguments[0].querySelector('rect'); if (getComputedStyle(arguments[0])"
                ".display === 'none') return null; var c = r.getBoundingClientRect();"
                "return [c.x, c.width];", el)


def label(b, el):
    return b.js("return arguments[0].querySelector('text').textContent", el)


def healthy(b, what):
    t.eq("1", b.js("return document.documentElement.getAttribute('data-ready')"), what + ": data-ready")
    t.eq([], b.js("return window.psErrors"), what + ": psErrors")
    t.eq([], b.severe_logs(), what + ": SEVERE console entries")


def interact_leak(b, path):
    """Clicks, zoom, search and clear on t_basic's leak graph."""
    os.makedirs(shots, exist_ok=True)
    hundred, page, main, allf = (frame_el(b, n) for n in ("leak_hundred", "leak_page", "main", "all"))
    if not all((hundred, page, main, allf)):
        return
    full = box(b, allf)
    t.between(FULL - 1, FULL + 1, full and full[1], "the root's width on screen")
    want = 300.0 / 4396 * FULL
    x0 = box(b, hundred)
    t.between(want - 1, want + 1, x0 and x0[1], "leak_hundred's width before the click")
    t.check(label(b, hundred).endswith(".."), "leak_hundred's label before: %r" % label(b, hundred))
    before = os.path.join(shots, "leak-before.png")
    png0 = b.screenshot(before)
    b.click(hundred)
    got = box(b, hundred)
    t.check(got and abs(got[0] - full[0]) <= 1 and got[1] >= full[1] - 1,
            "leak_hundred after the click: (x, width) %r, expected the root's %r" % (got, full))
    t.eq("leak_hundred", label(b, hundred), "leak_hundred's label after the zoom")
    t.eq(False, page.is_displayed(), "leak_page displayed after the zoom on leak_hundred")
    t.eq(None, box(b, page), "leak_page's box after the zoom")
    t.check(main.is_displayed() and "anc" in main.get_attribute("class"),
            "main (an ancestor) shown and faded after the zoom: class %r" % main.get_attribute("class"))
    t.check(abs((box(b, main) or [0, 0])[1] - full[1]) <= 1, "main spans the full width")
    t.check("off" not in b.find("#ps-reset")[0].get_attribute("class"), "Reset zoom enabled when zoomed")
    after = os.path.join(shots, "leak-after.png")
    png1 = b.screenshot(after)
    t.check(png0 != png1, "the screenshots before and after the zoom are the same")
    print("screenshot before the zoom: %s" % before)
    print("screenshot after the zoom:  %s" % after)
    b.click(allf)  # the root resets
    t.check(page.is_displayed(), "leak_page shown again after a click on the root")
    x1 = box(b, hundred)
    t.check(x1 and x0 and abs(x1[1] - x0[1]) < 0.5, "leak_hundred after the reset: %r, before %r" % (x1, x0))
    b.click(page)
    t.eq(False, hundred.is_displayed(), "leak_hundred displayed after the zoom on leak_page")
    b.click(b.find("#ps-reset")[0])
    t.check(hundred.is_displayed(), "leak_hundred shown again after Reset zoom")
    t.check("off" in b.find("#ps-reset")[0].get_attribute("class"), "Reset zoom disabled when not zoomed")
    # Search through the control and the prompt, then Clear.
    b.click(b.find("#ps-search")[0])
    a = b.alert()
    a.send_keys("leak_page")
    a.accept()
    matched = b.find("#ps-matched")[0]
    t.eq("Matched: 93.2%", matched.text, "the Matched text after a search for leak_page")
    t.eq(HIGHLIGHT, b.js("return getComputedStyle(arguments[0].querySelector('rect')).fill", page),
         "leak_page's fill when matched")
    t.eq(["leak_page"], b.js("return Array.from(document.querySelectorAll('g.frame.match'))"
                             ".map(function (e) { return e.getAttribute('data-name'); })"),
         "frames highlighted by the search")
    b.screenshot(os.path.join(shots, "leak-search.png"))
    b.click(b.find("#ps-clear")[0])
    t.eq(False, matched.is_displayed(), "Matched text displayed after Clear")
    t.eq(0, b.js("return document.querySelectorAll('g.frame.match').length"), "highlights after Clear")
    # Ctrl-F opens the same prompt.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    ActionChains(b.driver).key_down(Keys.CONTROL).send_keys("f").key_up(Keys.CONTROL).perform()
    try:
        a = b.alert()
        t.check("Search" in a.text, "the Ctrl-F prompt says %r" % a.text)
        a.send_keys("leak_hundred")
        a.accept()
        t.eq("Matched: 6.82%", b.find("#ps-matched")[0].text, "the Matched text after Ctrl-F leak_hundred")
    except Exception as e:  # NoAlertPresentException
        t.fail("Ctrl-F did not open a prompt: %s" % e)
    b.js("psFlame.clear()")


def interact_threads(b, fold):
    """--per-thread: a click on one thread hides the others."""
    totals = defaultdict(int)
    for k, w in fold.items():
        totals[k.split(";")[0]] += w
    name = max(totals, key=lambda k: (totals[k], k))
    el, allf = frame_el(b, name), frame_el(b, "all")
    if not el or not allf:
        return
    b.click(el)
    got, full = box(b, el), box(b, allf)
    t.check(got and full and got[1] >= full[1] - 1, "%s after the click: %r (root %r)" % (name, got, full))
    others = [e for e in b.find('g.frame[data-depth="1"]') if e.get_attribute("data-name") != name]
    t.check(others, "no other thread drawn beside %s (%s)" % (name, sorted(totals)))
    shown = [e.get_attribute("data-name") for e in others if box(b, e) is not None]
    t.eq([], shown, "other threads shown after the zoom on %s" % name)
    b.js("psFlame.reset()")
    t.eq([], [e.get_attribute("data-name") for e in others if box(b, e) is None],
         "threads hidden after the reset")


with browser.Browser(t) as b:
    for path, kind, fold, per_thread, searches in svgs:
        what = "chromium %s" % os.path.basename(path)
        b.open(path)
        if not t.check(b.wait_js("return document.documentElement.getAttribute('data-ready')"),
                       what + ": data-ready never set (psErrors %r)" % b.js("return window.psErrors")):
            continue
        healthy(b, what)
        t.eq(fold, rebuild(b.js("return psFlame.frames()")),
             what + ": the graph's frames (drawn or not) vs the folded lines")
        for term in searches:
            got = b.js("return psFlame.search(arguments[0])", term)
            want = share(fold, term)
            t.check(isinstance(got, (int, float)) and abs(got - want) <= 0.1,
                    "%s: psFlame.search(%r) = %r, folded share %.4f%%" % (what, term, got, want))
        t.eq(0, b.js("return psFlame.search('leak_(')"), what + ": search for an invalid regex (literal)")
        b.js("psFlame.clear()")
        if kind == "leak":
            interact_leak(b, path)
        if per_thread:
            interact_threads(b, fold)
        healthy(b, what + " after the interactions")
    profile = b.profile
t.eq([], browser.pids_with(profile), "processes left with the browser's profile after quit")
print("runtime %.1f s" % (time.time() - T0))
t.done()
