#!/usr/bin/env python3
"""CPU samples inside dl_iterate_phdr: no deadlock, the right frames.

t_cpu_loader's four threads spend their CPU time in dl_iterate_phdr
(walk_modules -> dl_iterate_phdr -> count_headers).  glibc holds the
loader's lock there and libunwind takes it too, so the sampler must not
unwind inside: those samples are put off and recorded when the call
returns, as ...;walk_modules;dl_iterate_phdr.  At 999 Hz the run has
hundreds of chances to deadlock; it must finish, and most samples must
carry that pair of frames.
"""
import pstest

t = pstest.Test()
if not t.target:
    t.skip("t_cpu_loader was not built")

run, rep = t.run_one([t.target], env_extra={"PERFSHIM_CPU_HZ": "999"}, timeout=40)
t.eq(b"t_cpu_loader: ok\n", run.stdout, "stdout")

lines = t.flame(run.traces[0], "cpu")
total = sum(w for _, w in lines)


def in_loader(frames):
    return any(a == "walk_modules" and b.endswith("dl_iterate_phdr") for a, b in zip(frames, frames[1:]))


inside = sum(w for fr, w in lines if in_loader(fr))
print("CPU samples: %d, under walk_modules;dl_iterate_phdr: %d" % (total, inside))
# 4 threads x 1.5 s at 999 Hz on 2 CPUs: ~3000 samples on an idle
# machine; a busy one gives fewer, never a handful.
t.check(total >= 300, "at least 300 samples (got %d)" % total)
t.check(inside >= 0.8 * total, "at least 80%% of samples under walk_modules;dl_iterate_phdr "
        "(%d of %d)" % (inside, total))
t.done()
