# Shared by the bench/*.sh wrappers that build before they measure.
#
#   . "$(dirname "$(readlink -f "$0")")/lib.sh"
#   bench_main NAME [--setup] [--target T]... -- "$@"
#
# Parses the wrapper's own options out of "$@" (--help, --build DIR,
# --no-build), optionally installs the benchmark packages first
# (scripts/setup.sh --bench), builds the shim, the tool and the extra
# targets in BUILD (default <repo>/build), then runs bench/NAME.py with the
# arguments unchanged.  Exit 2 and one line on stderr when it cannot.

bench_main() {
  local name=$1 setup=0
  local -a targets=(perfshim_preload perfshim)
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case "$1" in
      --setup) setup=1 ;;
      --target) targets+=("$2"); shift ;;
    esac
    shift
  done
  shift # --
  local here root build nobuild=0
  here=$(dirname "$(readlink -f "$0")")
  root=$(cd "$here/.." && pwd)
  build="$root/build"
  local -a args=("$@")
  local i
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
      -h|--help) exec python3 "$here/$name.py" --help ;;
      --build|--build-dir) build=${args[i + 1]:-} ;;
      --build=*|--build-dir=*) build=${args[i]#*=} ;;
      --no-build) nobuild=1 ;;
    esac
  done
  [ -n "$build" ] || { echo "$name: --build needs a directory" >&2; exit 2; }
  if [ "$setup" -eq 1 ]; then
    "$root/scripts/setup.sh" --bench || { echo "$name: scripts/setup.sh --bench failed" >&2; exit 2; }
  fi
  if [ "$nobuild" -eq 0 ]; then
    command -v cmake >/dev/null || { echo "$name: cmake not installed: run scripts/setup.sh" >&2; exit 2; }
    local log
    log=$(mktemp)
    if ! { [ -f "$build/CMakeCache.txt" ] ||
           cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
       ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >>"$log" 2>&1; then
      echo "$name: building perfshim in $build failed:" >&2
      tail -n 20 "$log" | sed 's/^/      | /' >&2
      rm -f "$log"
      exit 2
    fi
    rm -f "$log"
  fi
  exec python3 "$here/$name.py" "$@"
}
