#!/usr/bin/env python3
import os
import pwd
import shutil

import pstest

# perfshim record refuses a program that is setuid to another user: the
# loader ignores LD_PRELOAD for it, and an empty "clean" report would lie.
t = pstest.Test()
if os.geteuid() != 0:
    t.skip("needs root to make a program setuid to another user")
try:
    nobody = pwd.getpwnam("nobody").pw_uid
except KeyError:
    t.skip("no user 'nobody'")
d = t.tempdir()
os.chmod(d, 0o755)
prog = os.path.join(d, "suid_prog")
shutil.copy(t.target, prog)
os.chown(prog, nobody, -1)
os.chmod(prog, 0o4755)
if not os.stat(prog).st_mode & 0o4000:
    t.skip("the file system here does not keep the setuid bit")
rc, out, err = t.perfshim_run(["record", "-o", os.path.join(d, "x.%p"), "--", prog], cwd=d)
t.eq(2, rc, "record exit status")
lines = err.decode(errors="replace").splitlines()
t.eq(1, len(lines), "stderr lines (%r)" % lines)
if lines:
    t.check("setuid" in lines[0] and "suid_prog" in lines[0], "message: %r" % lines[0])
t.eq([], sorted(n for n in os.listdir(d) if n.startswith("x.")), "traces written")
t.done()
