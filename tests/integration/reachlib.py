"""reachlib: the truth of tests/targets/t_reach.c and the comparison of
memcheck's and perfshim's leak kinds (issue 7).  stdlib only.

A "table" is {(kind, line): [bytes, blocks]}: per kind, the blocks whose
allocating function (malloc's direct caller) is a line of t_reach.c.  Only
those are compared: glibc's own blocks (thread DTVs, made by calloc in ld.so
with pthread_create in t_reach.c further down the stack) differ between
valgrind and a real run (valgrind runs __libc_freeres; its DTVs are 288
bytes, glibc's 320 here) and are printed, never compared.
"""
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pstest

pstest.HELPER_FILES.add("reachlib.py")   # FAIL lines name the test's line

KINDS = ("definite", "indirect", "possible", "reachable", "unknown")
VG_KIND = {"Leak_DefinitelyLost": "definite", "Leak_IndirectlyLost": "indirect",
           "Leak_PossiblyLost": "possible", "Leak_StillReachable": "reachable"}

# mode -> [(marker, kind, bytes, blocks)]: memcheck's answer, as the top
# comment of t_reach.c states it.
_GLOBAL = [("global", "reachable", 208, 1)]
_STATIC = [("static", "reachable", 176, 1)]
_LIST = [("list_head", "definite", 64, 1), ("list_node", "indirect", 240, 5)]
_INTERIOR = [("interior", "possible", 256, 1)]
_CHAIN = [("chain_parent", "reachable", 128, 1), ("chain_child", "reachable", 96, 1)]
_CYCLE = [("cycle", "definite", 32, 1), ("cycle", "indirect", 64, 2)]
_LOST = [("lost", "definite", 512, 1)]
_TLS = [("tls_main", "reachable", 224, 1), ("tls_thread", "reachable", 240, 1)]
_THREADS = [("thread_read", "reachable", 304, 1), ("thread_lost", "definite", 400, 1),
            ("thread_cond", "reachable", 336, 1), ("thread_spin", "reachable", 368, 1)]
_TAIL = [("tail_bin", "definite", 1000, 1), ("tail_top", "definite", 4104, 1),
         ("tail_guard", "reachable", 16, 1)]
_SERVER = _GLOBAL + _LIST + _INTERIOR + _CHAIN

TRUTH = {
    "global": _GLOBAL, "static": _STATIC, "list": _LIST, "interior": _INTERIOR,
    "chain": _CHAIN, "cycle": _CYCLE, "lost": _LOST, "tls": _TLS,
    "threads": _THREADS, "tail": _TAIL,
    "all": _GLOBAL + _STATIC + _LIST + _INTERIOR + _CHAIN + _CYCLE + _LOST + _TLS + _THREADS,
    # fork: per process
    "fork-parent": [("fork_pre", "reachable", 160, 1), ("fork_parent_lost", "definite", 320, 1)],
    "fork-child": [("fork_child_lost", "definite", 272, 1), ("fork_child_kept", "reachable", 288, 1)],
    # valgrind's child also has the block it inherited (not in perfshim's child trace)
    "fork-child-inherited": [("fork_pre", "definite", 160, 1)],
    "server": _SERVER,
    "server-late": [("server_late", "unknown", 432, 1)],
}


def truth_table(source, rows):
    """The table of ROWS (see TRUTH), markers turned into line numbers."""
    out = {}
    for marker, kind, nbytes, blocks in rows:
        key = (kind, pstest.marker_line(source, "@leak:" + marker))
        cur = out.setdefault(key, [0, 0])
        cur[0] += nbytes
        cur[1] += blocks
    return out


def marker_names(source, rows):
    """line -> marker name, for messages."""
    return {pstest.marker_line(source, "@leak:" + m): m for m, _, _, _ in rows}


def fmt_table(table, names=None):
    names = names or {}
    if not table:
        return "(nothing)"
    return ", ".join("%s@%s:%s %d/%d" % (k, l, names.get(l, "?"), v[0], v[1])
                     for (k, l), v in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])))


# ------------------------------------------------------------- valgrind ---

def valgrind_path():
    return shutil.which("valgrind")


def run_valgrind(t, argv, timeout=50):
    """Run ARGV under memcheck (XML, one file per process).  Returns (rc,
    [(pid, ppid, records)]) with records as parse_valgrind_xml gives them."""
    d = t.tempdir()
    cmd = [valgrind_path(), "--leak-check=full", "--show-leak-kinds=all",
           "--xml=yes", "--xml-file=" + os.path.join(d, "vg.%p.xml")] + argv
    p = subprocess.run(cmd, cwd=d, capture_output=True, timeout=timeout, env=t.base_env())
    procs = []
    for n in sorted(os.listdir(d)):
        if n.startswith("vg.") and n.endswith(".xml"):
            procs.append(parse_valgrind_xml(os.path.join(d, n)))
    return p.returncode, procs, p


def parse_valgrind_xml(path):
    """(pid, ppid, records): each record a dict kind, bytes (direct bytes:
    a definite record's <leakedbytes> adds its indirect bytes), blocks,
    frames [(fn, file, line)] innermost first, text."""
    root = ET.parse(path).getroot()
    pid = int(root.findtext("pid") or 0)
    ppid = int(root.findtext("ppid") or 0)
    recs = []
    for err in root.iter("error"):
        kind = VG_KIND.get(err.findtext("kind") or "")
        if kind is None:
            continue
        xw = err.find("xwhat")
        text = xw.findtext("text") or ""
        nbytes = int(xw.findtext("leakedbytes"))
        m = re.search(r"\(([\d,]+) direct, ([\d,]+) indirect\)", text)
        if m:
            nbytes = int(m.group(1).replace(",", ""))
        frames = []
        st = err.find("stack")
        for fr in (st.findall("frame") if st is not None else []):
            line = fr.findtext("line")
            frames.append((fr.findtext("fn") or "?", fr.findtext("file") or "",
                           int(line) if line else None, fr.findtext("obj") or ""))
        recs.append({"kind": kind, "bytes": nbytes, "blocks": int(xw.findtext("leakedblocks")),
                     "frames": frames, "text": text})
    return pid, ppid, recs


def _vg_alloc_frame(frames):
    """The frame of the allocator's caller: the first one outside
    valgrind's preloaded replacement (vgpreload_*.so)."""
    for fr in frames:
        if "vgpreload_" not in os.path.basename(fr[3]):
            return fr
    return None


def valgrind_table(recs, source):
    """(table of the records whose allocator's caller is in SOURCE, the
    other records)."""
    base = os.path.basename(source)
    table, others = {}, []
    for r in recs:
        fr = _vg_alloc_frame(r["frames"])
        if fr and os.path.basename(fr[1]) == base and fr[2]:
            cur = table.setdefault((r["kind"], fr[2]), [0, 0])
            cur[0] += r["bytes"]
            cur[1] += r["blocks"]
        else:
            others.append(r)
    return table, others


def describe_vg(r):
    return "%s %d/%d %s" % (r["kind"], r["bytes"], r["blocks"],
                            " <- ".join("%s@%s:%s" % (f[0], os.path.basename(f[1]) or "?", f[2])
                                        for f in r["frames"][:5]))


# ------------------------------------------------------------- perfshim ---

def perfshim_table(rep, source):
    """(table of the leak groups whose frame 0 -- malloc's caller -- is in
    SOURCE, the other groups)."""
    base = os.path.basename(source)
    table, others = {}, []
    for l in rep.get("leaks") or []:
        st = l.get("stack") or []
        fr = st[0] if st else {}
        if os.path.basename(fr.get("file") or "") == base and fr.get("line"):
            cur = table.setdefault((l.get("kind"), fr["line"]), [0, 0])
            cur[0] += l["bytes"]
            cur[1] += l["blocks"]
        else:
            others.append(l)
    return table, others


def _by_line(table):
    out = {}
    for (kind, line), v in table.items():
        out.setdefault(line, {})[kind] = tuple(v)
    return out


def _fmt_kinds(d):
    return ", ".join("%s %d bytes/%d blocks" % (k, v[0], v[1]) for k, v in sorted(d.items())) or "none"


def compare(t, expected, actual, what, names):
    """EXPECTED == ACTUAL: one FAIL line per @leak line whose kinds, bytes
    or blocks differ."""
    ok = True
    e, a = _by_line(expected), _by_line(actual)
    for line in sorted(set(e) | set(a)):
        if e.get(line) != a.get(line):
            ok = False
            t.fail("%s: line %d (@leak:%s): expected %s; actual %s"
                   % (what, line, names.get(line, "?"), _fmt_kinds(e.get(line) or {}),
                      _fmt_kinds(a.get(line) or {})))
    return ok


def check_summary(t, rep, who, scanned=True):
    """summary.leak_kinds is consistent with the leak groups and the
    summary's totals; with scanned, no block is "unknown"."""
    s = rep.get("summary") or {}
    lk = s.get("leak_kinds")
    if not t.check(isinstance(lk, dict), "%s: summary.leak_kinds missing (summary keys %s)"
                   % (who, sorted(s))):
        return
    t.eq(sorted(KINDS), sorted(lk), "%s: summary.leak_kinds keys" % who)
    for k in KINDS:
        groups = [l for l in rep["leaks"] if l.get("kind") == k]
        v = lk.get(k) or {}
        t.eq(sum(l["bytes"] for l in groups), v.get("bytes"), "%s: leak_kinds.%s.bytes vs its groups" % (who, k))
        t.eq(sum(l["blocks"] for l in groups), v.get("blocks"), "%s: leak_kinds.%s.blocks vs its groups" % (who, k))
    t.eq((lk.get("reachable") or {}).get("bytes"), s.get("reachable_bytes"), "%s: summary.reachable_bytes" % who)
    t.eq((lk.get("reachable") or {}).get("blocks"), s.get("reachable_blocks"), "%s: summary.reachable_blocks" % who)
    t.eq(sum((lk.get(k) or {}).get("bytes") or 0 for k in KINDS if k != "reachable"),
         s.get("leaked_bytes"), "%s: summary.leaked_bytes = every kind but reachable" % who)
    for l in rep["leaks"]:
        if l.get("kind") not in KINDS:
            t.fail("%s: leak kind %r not one of %s" % (who, l.get("kind"), KINDS))
            break
    if scanned:
        t.eq({"bytes": 0, "blocks": 0}, {"bytes": (lk.get("unknown") or {}).get("bytes"),
                                         "blocks": (lk.get("unknown") or {}).get("blocks")},
             "%s: leak_kinds.unknown after an exit scan" % who)


def check_scans(t, rep, who, trigger, nscans=1):
    """rep["scans"]: NSCANS entries (None: at least one), the last with
    TRIGGER; at exit, the last scan saw every block left in the report.
    Returns the scans."""
    scans = rep.get("scans")
    if not t.check(isinstance(scans, list), "%s: report has no 'scans' list (keys %s)"
                   % (who, sorted(rep))):
        return []
    if nscans is not None:
        t.eq(nscans, len(scans), "%s: number of scans (%s)" % (who, scans))
    elif not t.check(scans, "%s: no scan in the report" % who):
        return scans
    for sc in scans:
        t.check(isinstance(sc.get("time_s"), (int, float)) and isinstance(sc.get("blocks"), int)
                and isinstance(sc.get("duration_ms"), (int, float)) and sc.get("duration_ms") >= 0,
                "%s: scan entry %r: time_s, blocks, duration_ms" % (who, sc))
    if scans:
        t.eq(trigger, scans[-1].get("trigger"), "%s: the last scan's trigger" % who)
    return scans
