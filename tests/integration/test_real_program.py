#!/usr/bin/env python3
import os
import sys

import pstest

import shutil

# Real programs under the shim: stdout and exit status identical to the
# untraced run, every trace's report parses, and the program made > 1000
# allocations.  --program python|sqlite3|git|gcc|cppcheck; exit 77 when the
# program is not installed.
C_FILE = b"""#include <stdio.h>
#include <stdlib.h>
struct node { struct node *next; int v; };
int main(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 10; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = head; n->v = i; head = n;
    }
    char *leak = malloc(16);
    leak[0] = 0;
    printf("%d\\n", head->v);
    return 0;
}
"""
PY = ("import json, hashlib\n"
      "d = {'k%d' % i: [j * 1.5 for j in range(i % 7)] for i in range(3000)}\n"
      "s = json.dumps(d, sort_keys=True)\n"
      "assert json.loads(s) == d\n"
      "print(len(s), hashlib.sha256(s.encode()).hexdigest())\n")
SQL = b"""CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
INSERT INTO t SELECT i, 'name' || i, i * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v), max(name) FROM t;
SELECT name FROM t WHERE id % 500 = 0 ORDER BY name;
"""
GIT_ENV = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": "/nonexistent"}

t = pstest.Test(["--program"])
prog = t.args.program
python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
steps = {  # program -> (executable to look for, [(argv, stdin)], files to set up)
    "python": (python, [([python, "-c", PY], None)], {}),
    "sqlite3": ("sqlite3", [(["sqlite3", ":memory:"], SQL)], {}),
    "git": ("git", [(["git", "--version"], None),
                    (["git", "init", "-q", "-b", "main", "repo"], None),
                    (["git", "-C", "repo", "add", "."], None),
                    (["git", "-C", "repo", "commit", "-q", "-m", "files"], None),
                    (["git", "-C", "repo", "log", "--stat", "--format=%H %s"], None)],
            dict(("repo/f%d.txt" % i, b"file %d\n" % i) for i in range(200))),
    "gcc": ("gcc", [(["gcc", "-O2", "-Wall", "-c", "x.c", "-o", "x.o"], None)], {"x.c": C_FILE}),
    "cppcheck": ("cppcheck", [(["cppcheck", "--enable=warning", "x.c"], None)], {"x.c": C_FILE}),
}
if prog not in steps:
    t.fatal("unknown --program %r" % prog)
exe, cmds, files = steps[prog]
if not shutil.which(exe):
    t.skip("%s is not installed" % exe)

work_plain, work_traced = t.tempdir(), t.tempdir()
for d in (work_plain, work_traced):
    for name, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
extra = GIT_ENV if prog == "git" else {}
max_allocs = 0
for argv, stdin in cmds:
    env = t.base_env()
    env.update(extra)
    plain = t.run_plain(argv, cwd=work_plain, input=stdin, env=env)
    tdir = t.tempdir()
    env = t.traced_env(tdir)
    env.update(extra)
    traced = t.run_plain(argv, cwd=work_traced, input=stdin, env=env, timeout=50)
    what = " ".join(argv[:3])
    t.eq(plain.rc, traced.rc, "%s: exit status, traced vs untraced" % what)
    t.eq(plain.stdout, traced.stdout, "%s: stdout, traced vs untraced" % what)
    quiet = "-q" in argv or prog == "gcc" or argv[-1] == "."
    t.check(plain.stdout or quiet, "%s: the untraced run printed nothing" % what)
    traces = t.traces_in(tdir)
    t.check(len(traces) >= 1, "%s: expected at least one trace file, actual none" % what)
    for tr in traces:
        rep = t.report(tr)
        max_allocs = max(max_allocs, rep["summary"]["allocations"])
if prog == "gcc":
    with open(os.path.join(work_plain, "x.o"), "rb") as a, open(os.path.join(work_traced, "x.o"), "rb") as b:
        t.check(a.read() == b.read(), "gcc: x.o differs between traced and untraced runs")
t.check(max_allocs > 1000, "%s: summary.allocations: expected > 1000, actual max %d" % (prog, max_allocs))
t.done()
