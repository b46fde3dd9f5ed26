#!/usr/bin/env bash
# Set up, build, and show perfshim on a program with real leaks and a slow
# path: examples/leaky.c, a toy key-value server on 127.0.0.1 that leaks on
# an error path and in its config parser, and now and then waits 2 ms for
# its "disk".  Prints the text report of its trace (leaks, requests, calls,
# peers) and its leak and off-CPU flame graphs as folded stacks.
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
