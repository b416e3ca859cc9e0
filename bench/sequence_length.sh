#!/usr/bin/env bash
# Time per training step and peak memory against sequence length (README: Sequences), one process per case so
# that each peak RSS is that case's own: every benchmark of bench_sequence (GRU, LSTM, Transformer full / causal /
# window1d; L = 64 … 4096; batch 1 and 32; 1 and 2 threads) runs under /usr/bin/time -v with 3 repetitions.
# Usage: bench/sequence_length.sh [BUILD_DIR] [OUT_CSV] [FILTER]   (FILTER: a regex of case names, default all)
# Writes OUT_CSV (default /tmp/receptive_sequence_length.csv): model,L,batch,threads,ms_per_step,peak_rss_mb
# (ms_per_step: the median of the repetitions), and prints the CPU line first.
set -euo pipefail
build=${1:-build}
out=${2:-/tmp/receptive_sequence_length.csv}
filter=${3:-.}
bin=$build/bench_sequence
[ -x "$bin" ] || { echo "sequence_length.sh: $bin not found (build with -DRECEPTIVE_BUILD_BENCH=ON)" >&2; exit 1; }
"$bin" --benchmark_list_tests 2>&1 | head -1  # the machine line
echo "model,L,batch,threads,ms_per_step,peak_rss_mb" > "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" --benchmark_list_tests 2>/dev/null | grep -E "$filter" | while read -r name; do
  base=${name%/real_time}
  /usr/bin/time -v "$bin" --benchmark_filter="^${base}/real_time\$" --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_format=csv > "$tmp/out.csv" 2> "$tmp/time.txt"
  ms=$(grep '_median"' "$tmp/out.csv" | cut -d, -f3)
  unit=$(grep '_median"' "$tmp/out.csv" | cut -d, -f5)
  [ "$unit" = "ms" ] || { echo "sequence_length.sh: unexpected time unit '$unit' for $name" >&2; exit 1; }
  kb=$(grep "Maximum resident set size" "$tmp/time.txt" | awk '{print $NF}')
  IFS=/ read -r _ model l b t <<< "$base"
  row="$model,${l#L:},${b#B:},${t#threads:},$ms,$(awk -v k="$kb" 'BEGIN{printf "%.1f", k/1024}')"
  echo "$row" | tee -a "$out"
done
echo "wrote $out"
