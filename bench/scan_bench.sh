#!/usr/bin/env bash
# perfshim reachability-scan benchmark (issue 7): a process with 1,000,000
# live blocks at exit (bench/scan_target.c), untraced vs perfshim with
# PERFSHIM_SCAN=0 vs perfshim with the exit scan, interleaved, medians of N
# rounds, plus one memcheck run for the kinds.  What is measured: the
# docstring of bench/scan_bench.py; options: --help.
#   bench/scan_bench.sh [-n 5] [--blocks 1000000] [--no-valgrind] [--build DIR] [--json FILE]
# Builds the shim, the tool and scan_target in BUILD first (default
# <repo>/build; --no-build: use it as it is).  valgrind: scripts/setup.sh --bench.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
bench_main scan_bench --target scan_target -- "$@"
