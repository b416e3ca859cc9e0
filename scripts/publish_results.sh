#!/bin/bash
# Copies what a results folder shows into docs/results/<name> for committing: results.csv, summary.md,
# receptive_by_step.csv, the plots
# and each finished run's metrics.jsonl (as <run>_metrics.jsonl). Checkpoints and training states stay behind,
# except with --unfinished: then each run that has started but is not in results.csv also has its config.yaml,
# metrics.jsonl and training state copied to docs/results/<name>/unfinished/<run>/ (about 3 MB per run of 140 K
# parameters: weights, optimizer moments, the last and best weights), so that a sweep split over sessions or machines continues losslessly from a fresh clone
# (scripts/restore_results.sh puts them back). Unfinished runs published earlier that have since finished are
# removed.
#   scripts/publish_results.sh NAME [--unfinished]   (reads results/NAME, writes docs/results/NAME)
set -euo pipefail
n=${1:?usage: scripts/publish_results.sh NAME [--unfinished] (NAME: a folder under results/)}
unfinished=0
case "${2:-}" in
  "") ;;
  --unfinished) unfinished=1 ;;
  *) echo "publish_results.sh: unknown option '$2' (expected --unfinished)" >&2; exit 1 ;;
esac
src=results/$n dst=docs/results/$n
[ -f "$src/results.csv" ] || { echo "$src/results.csv: not found (run from the repository root)" >&2; exit 1; }
mkdir -p "$dst/plots"
cp "$src/results.csv" "$dst/"
if [ -f "$src/summary.md" ]; then cp "$src/summary.md" "$dst/"; fi
if [ -f "$src/receptive_by_step.csv" ]; then cp "$src/receptive_by_step.csv" "$dst/"; fi
cp "$src"/plots/*.png "$dst/plots/" 2>/dev/null || true
for d in "$src"/runs/*/; do
  [ -d "$d" ] || continue
  r=$(basename "$d")
  if grep -q ",$r," "$src/results.csv"; then
    if [ -f "$d/metrics.jsonl" ]; then cp "$d/metrics.jsonl" "$dst/${r}_metrics.jsonl"; fi
    rm -rf "$dst/unfinished/$r"
  elif [ "$unfinished" = 1 ] && [ -f "$d/train_state.safetensors" ]; then
    mkdir -p "$dst/unfinished/$r"
    for f in config.yaml metrics.jsonl train_state.safetensors; do
      if [ -f "$d/$f" ]; then cp "$d/$f" "$dst/unfinished/$r/"; fi
    done
    echo "published the unfinished run $r"
  fi
done
if [ -d "$dst/unfinished" ]; then rmdir "$dst/unfinished" 2>/dev/null || true; fi
