#!/usr/bin/env bash
# Cost of one intercepted call: untraced vs under perfshim, interleaved,
# median of N runs (default 5).  See docs/benchmarks.md.
#   bench/call_cost.sh [-n 5]
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
n=5
[[ "${1:-}" == "-n" ]] && n=$2
[[ -x "$root/build/bin/call_cost" && -f "$root/build/lib/libperfshim.so" ]] ||
  { cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build "$root/build" -j"$(nproc)" >/dev/null; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$n"); do
  "$root/build/bin/call_cost" >>"$tmp/untraced"
  (cd "$tmp" && LD_PRELOAD="$root/build/lib/libperfshim.so" PERFSHIM_OUTPUT="$tmp/t.%p.trace" \
     "$root/build/bin/call_cost" >>"$tmp/traced")
  rm -f "$tmp"/t.*.trace
done
/usr/bin/python3 - "$tmp/untraced" "$tmp/traced" <<'PY'
import statistics, sys
def load(p):
    d = {}
    for line in open(p):
        k, v = line.split()
        d.setdefault(k, []).append(float(v))
    return {k: statistics.median(v) for k, v in d.items()}
u, t = load(sys.argv[1]), load(sys.argv[2])
print("%-16s %12s %12s %10s" % ("call", "untraced ns", "perfshim ns", "added ns"))
for k in u:
    print("%-16s %12.1f %12.1f %10.1f" % (k, u[k], t[k], t[k] - u[k]))
PY
