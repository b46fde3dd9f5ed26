#!/usr/bin/env python3
import os
import stat

import pstest

# The trace file contract (CONTRACT.md, Recording): created 0600, never over
# an existing file (".1", ".2", ... is appended), never through a symlink,
# %p and %e expanded, relative templates resolved against the working
# directory; an unwritable place gives one line on stderr and the target
# runs on untraced with its output and exit status unchanged.
t = pstest.Test()
exe = os.path.basename(t.target)

# %p and %e, mode 0600
d = t.tempdir()
p = pstest.subprocess.run([t.target], cwd=d, capture_output=True, timeout=30,
                          env=t.traced_env(d, template="out.%e.%p.trace"))
t.eq(3, p.returncode, "exit status")
names = [n for n in os.listdir(d) if n.startswith("out.")]
t.eq(1, len(names), "trace files (%r)" % names)
if names:
    n = names[0]
    t.check(n.startswith("out.%s." % exe) and n.endswith(".trace") and n.split(".")[-2].isdigit(),
            "%%e/%%p expansion: got %r" % n)
    mode = stat.S_IMODE(os.stat(os.path.join(d, n)).st_mode)
    t.eq(0o600, mode, "trace file mode")

# A template without %p: the second run must not overwrite the first.
d = t.tempdir()
env = t.traced_env(d, template="fixed.trace")
for i in range(3):
    pstest.subprocess.run([t.target], cwd=d, capture_output=True, timeout=30, env=env)
t.eq(["fixed.trace", "fixed.trace.1", "fixed.trace.2"], sorted(os.listdir(d)),
     "files after three runs with a fixed name")
sizes = [os.path.getsize(os.path.join(d, n)) for n in sorted(os.listdir(d))]
t.check(all(s > 16 for s in sizes), "each run wrote a whole trace: sizes %r" % sizes)

# A symlink (dangling or not) at the expanded name is never followed.
d = t.tempdir()
victim = os.path.join(d, "victim.txt")
with open(victim, "w") as f:
    f.write("precious\n")
os.symlink(victim, os.path.join(d, "link.trace"))
os.symlink(os.path.join(d, "nowhere"), os.path.join(d, "dangling.trace"))
for tmpl in ("link.trace", "dangling.trace"):
    pstest.subprocess.run([t.target], cwd=d, capture_output=True, timeout=30,
                          env=t.traced_env(d, template=tmpl))
with open(victim) as f:
    t.eq("precious\n", f.read(), "file behind the symlink")
t.check(not os.path.exists(os.path.join(d, "nowhere")), "dangling symlink target was created")
t.check(os.path.isfile(os.path.join(d, "link.trace.1")) and
        not os.path.islink(os.path.join(d, "link.trace.1")), "trace written beside the symlink")

# A relative template is resolved against the working directory at start.
d = t.tempdir()
os.mkdir(os.path.join(d, "sub"))
env = t.base_env()
env["LD_PRELOAD"] = t.shim
env["PERFSHIM_OUTPUT"] = "sub/rel.%p.trace"
pstest.subprocess.run([t.target], cwd=d, capture_output=True, timeout=30, env=env)
t.eq(1, len(os.listdir(os.path.join(d, "sub"))), "trace under the relative directory")

# Unwritable output: one line on stderr, same exit status and stdout.
d = t.tempdir()
plain = t.run_plain([t.target])
env = t.base_env()
env["LD_PRELOAD"] = t.shim
env["PERFSHIM_OUTPUT"] = os.path.join(d, "no", "such", "dir", "x.trace")
p = pstest.subprocess.run([t.target], cwd=d, capture_output=True, timeout=30, env=env)
t.eq(plain.rc, p.returncode, "exit status when the trace cannot be written")
t.eq(plain.stdout, p.stdout, "stdout when the trace cannot be written")
lines = p.stderr.decode(errors="replace").splitlines()
t.eq(1, len(lines), "stderr lines when the trace cannot be written (%r)" % lines)
if lines:
    t.check(lines[0].startswith("perfshim: cannot create trace") and "No such file" in lines[0],
            "message: %r" % lines[0])
t.done()
