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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the list first (a pipe into `head` would end bench_sequence with SIGPIPE, which pipefail turns into an exit)
"$bin" --benchmark_list_tests > "$tmp/list.txt" 2> "$tmp/machine.txt"
head -1 "$tmp/machine.txt"  # the machine line
grep -E "$filter" "$tmp/list.txt" > "$tmp/cases.txt" || { echo "sequence_length.sh: no case matches '$filter'" >&2; exit 1; }
echo "model,L,batch,threads,ms_per_step,peak_rss_mb" > "$out"
while read -r name; do
  base=${name%/real_time}
  /usr/bin/time -v "$bin" --benchmark_filter="^${base}/real_time\$" --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_format=csv < /dev/null > "$tmp/out.csv" 2> "$tmp/time.txt"
  ms=$(grep '_median"' "$tmp/out.csv" | cut -d, -f3)
  unit=$(grep '_median"' "$tmp/out.csv" | cut -d, -f5)
  [ "$unit" = "ms" ] || { echo "sequence_length.sh: unexpected time unit '$unit' for $name" >&2; exit 1; }
  kb=$(grep "Maximum resident set size" "$tmp/time.txt" | awk '{print $NF}')
  IFS=/ read -r _ model l b t <<< "$base"
  row="$model,${l#L:},${b#B:},${t#threads:},$ms,$(awk -v k="$kb" 'BEGIN{printf "%.1f", k/1024}')"
  echo "$row" | tee -a "$out"
done < "$tmp/cases.txt"
echo "wrote $out"
