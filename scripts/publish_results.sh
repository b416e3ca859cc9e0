#!/bin/bash
# Copies what a results folder shows into docs/results/<name> for committing: results.csv, summary.md, the plots
# and each finished run's metrics.jsonl (as <run>_metrics.jsonl). Checkpoints and training states stay behind.
#   scripts/publish_results.sh NAME        (reads results/NAME, writes docs/results/NAME)
set -euo pipefail
n=${1:?usage: scripts/publish_results.sh NAME (a folder under results/)}
src=results/$n dst=docs/results/$n
[ -f "$src/results.csv" ] || { echo "$src/results.csv: not found (run from the repository root)" >&2; exit 1; }
mkdir -p "$dst/plots"
cp "$src/results.csv" "$dst/"
if [ -f "$src/summary.md" ]; then cp "$src/summary.md" "$dst/"; fi
cp "$src"/plots/*.png "$dst/plots/" 2>/dev/null || true
for d in "$src"/runs/*/; do
  r=$(basename "$d")
  if grep -q ",$r," "$src/results.csv" && [ -f "$d/metrics.jsonl" ]; then cp "$d/metrics.jsonl" "$dst/${r}_metrics.jsonl"; fi
done
