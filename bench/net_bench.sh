#!/usr/bin/env bash
# perfshim network benchmark: redis-server throughput under redis-benchmark
# load, untraced vs perfshim vs strace -f -c, interleaved, median of N rounds.
# What is measured: the docstring of bench/net_bench.py; options: --help.
#   bench/net_bench.sh [-n 5] [--help]
exec python3 "$(dirname "$(readlink -f "$0")")/net_bench.py" "$@"
