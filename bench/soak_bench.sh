#!/usr/bin/env bash
# perfshim soak benchmark (issue 5): redis-server under minutes of bounded
# loopback redis-benchmark load, untraced vs `perfshim soak`, interleaved.
# What is measured: the docstring of bench/soak_bench.py; options: --help.
#   bench/soak_bench.sh [--minutes 3] [--rounds 1] [--max-trace-mb M] [--build DIR] [--json FILE]
# Installs what it needs (scripts/setup.sh --bench), then builds the shim and
# the tool in BUILD (default <repo>/build; --no-build: use it as it is).
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
bench_main soak_bench --setup -- "$@"
