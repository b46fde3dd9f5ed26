#!/usr/bin/env bash
# perfshim soak benchmark (issue 5): redis-server under minutes of bounded
# loopback redis-benchmark load, untraced vs `perfshim soak`, interleaved.
# What is measured: the docstring of bench/soak_bench.py; options: --help.
#   bench/soak_bench.sh [--minutes 3] [--rounds 1] [--max-trace-mb M] [--build DIR] [--json FILE]
# Installs what it needs (scripts/setup.sh --bench), then builds the shim and
# the tool in BUILD (default <repo>/build; --no-build: use it as it is).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
root=$(cd "$here/.." && pwd)
build="$root/build"
nobuild=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -h|--help) exec python3 "$here/soak_bench.py" --help ;;
    --build|--build-dir) build=${args[i + 1]:-} ;;
    --build=*|--build-dir=*) build=${args[i]#*=} ;;
    --no-build) nobuild=1 ;;
  esac
done
[ -n "$build" ] || { echo "soak_bench: --build needs a directory" >&2; exit 2; }

"$root/scripts/setup.sh" --bench || { echo "soak_bench: scripts/setup.sh --bench failed" >&2; exit 2; }

if [ "$nobuild" -eq 0 ]; then
  log=$(mktemp)
  if ! { [ -f "$build/CMakeCache.txt" ] ||
         cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
     ! cmake --build "$build" -j"$(nproc)" --target perfshim_preload perfshim >>"$log" 2>&1; then
    echo "soak_bench: building perfshim in $build failed:" >&2
    tail -n 20 "$log" | sed 's/^/      | /' >&2
    rm -f "$log"
    exit 2
  fi
  rm -f "$log"
fi
exec python3 "$here/soak_bench.py" "$@"
