#!/usr/bin/env bash
# Set up, build, and show perfshim on a program with real leaks:
# examples/leaky.c, a toy request handler that leaks on an error path and
# in its config parser.  Prints the text report of its trace.
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
