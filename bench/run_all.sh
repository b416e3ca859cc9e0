#!/usr/bin/env bash
# Runs every benchmark program with repetitions and prints the medians (wall time and counters), one table
# per program. The machine is shared and noisy: compare numbers measured in the same run, e.g. each program's
# own reference or raw-BLAS ceiling. Usage: bench/run_all.sh [BUILD_DIR] [REPETITIONS]
set -euo pipefail
build=${1:-build}
reps=${2:-5}
export RECEPTIVE_BENCH_THREADS=${RECEPTIVE_BENCH_THREADS:-2}
# where the numbers come from: CPU, ISAs, GEMM backend and kernel, and a GEMM probe beside the fp32 peak
"$build/receptive" info --threads "$RECEPTIVE_BENCH_THREADS" || true
echo
for b in "$build"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b") (${RECEPTIVE_BENCH_THREADS} threads, median of $reps)"
  "$b" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true --benchmark_format=console \
    2>/dev/null | grep -E '_median|^Benchmark' || echo "(failed)"
  echo
done
