#!/usr/bin/env bash
# Set up, build and run the whole test suite through ctest:
#  1. the normal build: unit, lint and integration tests (real programs under the real shim);
#  2. the analyzer under AddressSanitizer + UndefinedBehaviorSanitizer, same tests;
#  3. the trace-reader fuzz target (clang/libFuzzer), a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null
(cd build && ctest --output-on-failure -j"$jobs")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPERFSHIM_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" -L 'unit|integration')

if command -v clang >/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DPERFSHIM_FUZZ=ON \
    -DPERFSHIM_SANITIZE=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" >/dev/null
  (cd build-fuzz && ctest --output-on-failure -L fuzz)
fi
