#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (-DRECEPTIVE_SANITIZE=address,undefined)
# in build-sanitize/ and runs the whole test suite there; any sanitizer report aborts its test, so a clean run
# is a green ctest. Usage: scripts/sanitize.sh [extra ctest arguments]   (SANITIZE_CXX picks the compiler)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SANITIZE_BUILD:-build-sanitize}
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="${SANITIZE_CXX:-clang++}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRECEPTIVE_SANITIZE=address,undefined -DRECEPTIVE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j2 --timeout 1500 "$@"
