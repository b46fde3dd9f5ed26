"""Helpers shared by the benchmark scripts (overhead.py, net_bench.py):
medians, formatting, the verdict word, a clean environment, a check for
other load on the machine, and the build outputs a wrapper has built.  Python 3 standard library only."""
import os
import socket
import statistics
import sys
import time


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_range(xs, fmt):
    """'median [min..max]' of the values that are not None, each with FMT."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return "failed"
    return ("%s [%s..%s]" % (fmt, fmt, fmt)) % (statistics.median(xs), min(xs), max(xs))


def fmt_bytes(n):
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def verdict(ok):
    return "PASS" if ok else "MISS"


def tail(text, n=6):
    """The last N non-empty lines of a command's output, indented."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [l for l in (text or "").strip().splitlines() if l.strip()]
    return "\n".join("      | " + l for l in lines[-n:]) or "      | (no output)"


def clean_env(extra_drop=()):
    """The environment without LD_PRELOAD, PERFSHIM_* and allocator knobs."""
    env = dict(os.environ)
    for k in list(env):
        if k in ("LD_PRELOAD", "MALLOC_CONF") + tuple(extra_drop) or k.startswith("PERFSHIM_"):
            del env[k]
    return env


def cpu_idle(seconds=1.0):
    """Fraction of all CPUs idle over a short sample (/proc/stat): other load."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0)
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return "unknown"
    idle = (i1 - i0) / float(max(1, t1 - t0))
    return "%.0f%%%s" % (100 * idle, "  (other load present: expect noisy figures)"
                         if idle < 0.85 else "")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry a lost race)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def built(build_dir, name, *extra):
    """(shim, tool, BUILD/bin/EXTRA...) in BUILD_DIR, or exit 2 with one line
    naming the bench/NAME.sh wrapper that builds them."""
    paths = [os.path.join(build_dir, "lib", "libperfshim.so"), os.path.join(build_dir, "bin", "perfshim")]
    paths += [os.path.join(build_dir, "bin", e) for e in extra]
    for p in paths:
        if not os.access(p, os.R_OK):
            print("%s: %s missing: run bench/%s.sh, which builds it" % (name, p, name), file=sys.stderr)
            sys.exit(2)
    return paths
