#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan + libFuzzer) in build-fuzz/ and runs each
# for SECONDS on a copy of its seed corpus (tests/fuzz/corpus/<harness>/). Prints executions per harness and exits
# non-zero if any harness found a crash (the reproducer is left in build-fuzz/fuzz-work/<harness>/).
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. scripts/fuzz.sh 600 idx config
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_OPT (CMake build type, default RelWithDebInfo), FUZZ_JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
build=${FUZZ_BUILD:-build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/setup.sh installs clang)"; exit 2; }
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE="${FUZZ_OPT:-RelWithDebInfo}" \
  -DRECEPTIVE_FUZZ=ON -DRECEPTIVE_SANITIZE=address,undefined -DRECEPTIVE_NATIVE=OFF \
  -DRECEPTIVE_BUILD_TESTS=OFF -DRECEPTIVE_BUILD_BENCH=OFF >/dev/null
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do n=$(basename "$f" .cpp); harnesses+=("${n#fuzz_}"); done
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" --target "${targets[@]}" ${FUZZ_JOBS:+-j "$FUZZ_JOBS"}
build=$(cd "$build" && pwd)  # absolute (FUZZ_BUILD may be either)
failed=0
scratch=${TMPDIR:-/tmp}
[ -d /dev/shm ] && scratch=/dev/shm
for h in "${harnesses[@]}"; do
  TMPDIR=$scratch scripts/fuzz_one.sh "$build/fuzz_$h" "$PWD/tests/fuzz/corpus/$h" "$seconds" \
    "$build/fuzz-work/$h" || failed=1
done
exit $failed
