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
here=$(dirname "$(readlink -f "$0")")
root=$(cd "$here/.." && pwd)
build="$root/build"
nobuild=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -h|--help) exec python3 "$here/cpu_bench.py" --help ;;
    --build|--build-dir) build=${args[i + 1]:-} ;;
    --build=*|--build-dir=*) build=${args[i]#*=} ;;
    --no-build) nobuild=1 ;;
  esac
done
[ -n "$build" ] || { echo "cpu_bench: --build needs a directory" >&2; exit 2; }

if [ "$nobuild" -eq 0 ]; then
  command -v cmake >/dev/null || { echo "cpu_bench: cmake not installed: run scripts/setup.sh" >&2; exit 2; }
  log=$(mktemp)
  if ! { [ -f "$build/CMakeCache.txt" ] ||
         cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
     ! cmake --build "$build" -j"$(nproc)" --target perfshim_preload perfshim >>"$log" 2>&1; then
    echo "cpu_bench: building perfshim in $build failed:" >&2
    tail -n 20 "$log" | sed 's/^/      | /' >&2
    rm -f "$log"
    exit 2
  fi
  rm -f "$log"
fi
exec python3 "$here/cpu_bench.py" "$@"
