#!/usr/bin/env bash
# Sweep throughput and data-parallel step time on this machine, one rank against two (README: Distributed runs;
# docs/scaling.md uses the numbers). Usage: bench/mpi_scaling.sh [BUILD_DIR] [OUT_DIR]
#   1. a sweep of 8 short Fashion-MNIST runs (CNN and window2d attention, 2 % of the data, 2 epochs, 4 seeds):
#      1 process × 2 threads against mpirun -np 2 × 1 thread; runs per hour from the wall time;
#   2. one CNN run and one patch-attention run (10 % of the data, 2 epochs, batch 64): 1 process × 2 threads
#      against train.data_parallel over 2 ranks × 1 thread; training images per second from results.csv.
# Each configuration runs 3 times, alternating, and the medians are printed, with the CPU named.
set -euo pipefail
build=${1:-build}
out=${2:-/tmp/receptive_mpi_scaling}
bin=$build/receptive
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
mpi=(mpirun -np 2 --oversubscribe "${root[@]}")
rm -rf "$out" && mkdir -p "$out"
# the quick start's two Fashion-MNIST models, 2 epochs; $1: name, $2: the sweep line
config() {
  cat <<YAML
name: $1
dataset: {name: fashion-mnist, val_fraction: 0.1}
train: {epochs: 2, batch_size: 64, lr: 0.003, weight_decay: 0.05, warmup_epochs: 1, progress: false}
models:
  cnn: {type: cnn, channels: [32, 64, 128], blocks: [2, 2, 1]}
  attention_window: {type: patch_attention, patch_size: 4, dim: 64, depth: 4, heads: 4, position: relative,
                     policy: {kind: window2d, kernel: 3}}
sweep: $2
YAML
}
config mpi_sweep "{train_size: [0.02], seeds: [0, 1, 2, 3]}" > "$out/sweep.yaml"
config mpi_dp "{train_size: [0.1], seeds: [0]}" > "$out/dp.yaml"
calc() { python3 -c "print(round($1, 2))"; }
wall() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); calc "$t1 - $t0"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() {  # col CSV MODEL COLUMN
  python3 -c "import csv,sys; r=[x for x in csv.DictReader(open(sys.argv[1])) if x['model']==sys.argv[2]]; print(r[0][sys.argv[3]])" "$@"
}
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
for i in 1 2 3; do
  wall "$bin" --threads 2 run "$out/sweep.yaml" --out "$out/s1_$i" >> "$out/sweep_1x2.txt"
  wall "${mpi[@]}" "$bin" --threads 1 run "$out/sweep.yaml" --out "$out/s2_$i" >> "$out/sweep_2x1.txt"
  "$bin" --threads 2 run "$out/dp.yaml" --out "$out/d1_$i" > /dev/null 2>&1
  "${mpi[@]}" "$bin" --threads 1 run "$out/dp.yaml" --out "$out/d2_$i" --set train.data_parallel=true > /dev/null 2>&1
  for m in cnn attention_window; do
    col "$out/d1_$i/results.csv" $m items_per_second >> "$out/dp_${m}_1x2.txt"
    col "$out/d2_$i/results.csv" $m items_per_second >> "$out/dp_${m}_2x1.txt"
  done
done
s1=$(median < "$out/sweep_1x2.txt"); s2=$(median < "$out/sweep_2x1.txt")
echo "sweep of 8 runs: 1 process x 2 threads $s1 s ($(calc "3600*8/$s1") runs/h); 2 ranks x 1 thread $s2 s ($(calc "3600*8/$s2") runs/h); all: $(tr '\n' ' ' < "$out/sweep_1x2.txt")| $(tr '\n' ' ' < "$out/sweep_2x1.txt")"
for m in cnn attention_window; do
  a=$(median < "$out/dp_${m}_1x2.txt"); b=$(median < "$out/dp_${m}_2x1.txt")
  echo "data parallel $m, batch 64: 1 process x 2 threads $a images/s; 2 ranks x 1 thread $b images/s (ratio $(calc "$b/$a")); all: $(tr '\n' ' ' < "$out/dp_${m}_1x2.txt")| $(tr '\n' ' ' < "$out/dp_${m}_2x1.txt")"
done
