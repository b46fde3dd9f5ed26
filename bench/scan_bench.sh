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
here=$(dirname "$(readlink -f "$0")")
root=$(cd "$here/.." && pwd)
build="$root/build"
nobuild=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -h|--help) exec python3 "$here/scan_bench.py" --help ;;
    --build|--build-dir) build=${args[i + 1]:-} ;;
    --build=*|--build-dir=*) build=${args[i]#*=} ;;
    --no-build) nobuild=1 ;;
  esac
done
[ -n "$build" ] || { echo "scan_bench: --build needs a directory" >&2; exit 2; }

if [ "$nobuild" -eq 0 ]; then
  command -v cmake >/dev/null || { echo "scan_bench: cmake not installed: run scripts/setup.sh" >&2; exit 2; }
  log=$(mktemp)
  if ! { [ -f "$build/CMakeCache.txt" ] ||
         cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
     ! cmake --build "$build" -j"$(nproc)" --target perfshim_preload perfshim scan_target >>"$log" 2>&1; then
    echo "scan_bench: building perfshim in $build failed:" >&2
    tail -n 20 "$log" | sed 's/^/      | /' >&2
    rm -f "$log"
    exit 2
  fi
  rm -f "$log"
fi
exec python3 "$here/scan_bench.py" "$@"
