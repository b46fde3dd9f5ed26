#!/usr/bin/env bash
# Set up, build, and show perfshim on a program with real leaks and a slow
# path: examples/leaky.c, a toy key-value server on 127.0.0.1 that leaks on
# an error path and in its config parser, and now and then waits 2 ms for
# its "disk".  Prints the text report of its trace (leaks, requests, calls,
# peers) and its leak and off-CPU flame graphs as folded stacks.  Then a
# 20-second soak of the same program as a long-running server under a
# looping client: the verdict, the growing site, where its CPU time goes,
# a timeline chart and an interactive CPU flame graph.  Last, the first
# run as one HTML page, and a CI gate (perfshim check) on it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
out=$(mktemp -d)
echo "== perfshim record -o $out/leaky.%p.trace -- build/bin/leaky_demo"
build/bin/perfshim record -o "$out/leaky.%p.trace" -- build/bin/leaky_demo
echo
echo "== perfshim report $out/leaky.*.trace"
build/bin/perfshim report "$out"/leaky.*.trace
echo
echo "== perfshim flame --type leak $out/leaky.*.trace   (folded stacks for flamegraph.pl)"
build/bin/perfshim flame --type leak "$out"/leaky.*.trace
echo
echo "== perfshim flame --type offcpu $out/leaky.*.trace   (microseconds blocked, by stack)"
build/bin/perfshim flame --type offcpu "$out"/leaky.*.trace
echo
# A free loopback port for the soak (bash's /dev/tcp: a connect that fails means free).
port=$((20000 + RANDOM % 20000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
echo "== perfshim soak --duration 20s --warmup 4s --load 'leaky_demo --client $port' -- leaky_demo --serve $port"
(cd "$out" && "$OLDPWD"/build/bin/perfshim soak --duration 20s --warmup 4s -o "soak.%p.trace" \
   --load "$OLDPWD/build/bin/leaky_demo --client $port" -- "$OLDPWD"/build/bin/leaky_demo --serve "$port")
echo
echo "== perfshim timeline --format svg -o $out/soak.svg $out/soak.*.trace   (open it in a browser)"
build/bin/perfshim timeline --format svg -o "$out/soak.svg" "$out"/soak.*.trace
build/bin/perfshim timeline "$out"/soak.*.trace | sed -n 1,5p
echo
echo "== perfshim flame --type cpu $out/soak.*.trace   (CPU samples by stack; the 5 heaviest)"
build/bin/perfshim flame --type cpu "$out"/soak.*.trace | sort -t' ' -k2 -nr | sed -n 1,5p
echo
echo "== perfshim flame --type cpu --format svg -o $out/cpu.svg $out/soak.*.trace   (click to zoom, Ctrl-F to search)"
build/bin/perfshim flame --type cpu --format svg -o "$out/cpu.svg" "$out"/soak.*.trace
ls -l "$out/cpu.svg"
echo
echo "== perfshim report --format html -o $out/report.html $out/leaky.*.trace   (one page, offline)"
build/bin/perfshim report --format html -o "$out/report.html" "$out"/leaky.*.trace
ls -l "$out/report.html"
echo
echo "== perfshim check --max-leaked-bytes definite+indirect=0 --max-latency requests.p99=50ms $out/leaky.*.trace"
echo "   (a CI gate: exit 1 when a rule breaks; this example leaks on purpose)"
rc=0
build/bin/perfshim check --max-leaked-bytes definite+indirect=0 --max-latency requests.p99=50ms \
  "$out"/leaky.*.trace || rc=$?
echo "exit status $rc"
