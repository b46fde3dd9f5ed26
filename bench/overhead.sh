#!/usr/bin/env bash
# perfshim overhead benchmark: untraced vs perfshim vs heaptrack, interleaved,
# median of N runs.  See docs/benchmarks.md.
#   bench/overhead.sh [-n 5] [--no-perfshim] [--help]
exec python3 "$(dirname "$(readlink -f "$0")")/overhead.py" "$@"
