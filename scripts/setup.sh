#!/usr/bin/env bash
# Install what perfshim needs from Debian's packages (Debian 12).
#   scripts/setup.sh          build dependencies
#   scripts/setup.sh --test   + what the test suite runs (real programs, clang for the fuzz target,
#                             rsvg-convert and node_exporter as real consumers of our SVG and metrics,
#                             Chromium + chromedriver + selenium for the interactive SVG, go's
#                             pprof for our pprof export, valgrind whose memcheck checks the
#                             reachability corpus)
#   scripts/setup.sh --bench  + the tools the benchmarks compare against (heaptrack, strace)
#                             and run (redis-server, redis-benchmark for bench/net_bench.sh,
#                             gperftools' libprofiler for bench/cpu_bench.sh, valgrind for
#                             bench/scan_bench.sh)
# Packages already installed are not fetched again, so this is quick and
# works offline on a machine that has them.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libunwind-dev libdw-dev libelf-dev libcjson-dev libzstd-dev zlib1g-dev)
for arg in "$@"; do
  case "$arg" in
    --test) pkgs+=(python3 g++ libjemalloc-dev libjemalloc2 clang libclang-rt-14-dev
                   sqlite3 git cppcheck binutils redis-server redis-tools
                   librsvg2-bin python3-prometheus-client prometheus-node-exporter
                   chromium chromium-driver python3-selenium golang-go valgrind) ;;
    --bench) pkgs+=(python3 heaptrack time strace redis-server redis-tools
                    libgoogle-perftools4 xz-utils valgrind) ;;
    *) echo "setup.sh: unknown option '$arg' (--test, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup.sh: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
