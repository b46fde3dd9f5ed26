#!/usr/bin/env bash
# perfshim CPU sampling benchmark: xz and CPython untraced, under perfshim
# (PERFSHIM_CPU_HZ=0, 99, 999) and under gperftools' CPU profiler (99, 999),
# interleaved, medians of N rounds.  What is measured: the docstring of
# bench/cpu_bench.py; options: --help.
#   bench/cpu_bench.sh [-n 5] [--rates 99,999] [--workloads a,b] [--build DIR] [--json FILE]
# Builds the shim and the tool in BUILD first (default <repo>/build; --no-build:
# use it as it is).  Needs xz and gperftools' libprofiler:
# scripts/setup.sh --bench installs them (xz-utils, libgoogle-perftools4).
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
bench_main cpu_bench -- "$@"
