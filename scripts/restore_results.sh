#!/bin/bash
# The reverse of publish_results.sh: rebuilds results/<name> from docs/results/<name> on a fresh clone, so that
# `receptive run CONFIG --out results/<name>` skips the published runs and continues the unfinished ones
# published with --unfinished from their training state, and `receptive report results/<name>` plots them all.
# It copies results.csv, summary.md, each <run>_metrics.jsonl to runs/<run>/metrics.jsonl and each
# unfinished/<run>/ to runs/<run>/. It refuses to overwrite a results folder that already has a results.csv.
#   scripts/restore_results.sh NAME        (reads docs/results/NAME, writes results/NAME)
set -euo pipefail
n=${1:?usage: scripts/restore_results.sh NAME (a folder under docs/results/)}
src=docs/results/$n dst=results/$n
[ -f "$src/results.csv" ] || { echo "$src/results.csv: not found (run from the repository root)" >&2; exit 1; }
if [ -e "$dst/results.csv" ]; then
  echo "$dst/results.csv already exists: restore_results.sh only fills an empty folder (move it away first)" >&2
  exit 1
fi
mkdir -p "$dst/runs"
cp "$src/results.csv" "$dst/"
if [ -f "$src/summary.md" ]; then cp "$src/summary.md" "$dst/"; fi
for f in "$src"/*_metrics.jsonl; do
  [ -f "$f" ] || continue
  r=$(basename "$f" _metrics.jsonl)
  mkdir -p "$dst/runs/$r"
  cp "$f" "$dst/runs/$r/metrics.jsonl"
done
for d in "$src"/unfinished/*/; do
  [ -d "$d" ] || continue
  r=$(basename "$d")
  mkdir -p "$dst/runs/$r"
  cp "$d"/* "$dst/runs/$r/"
  echo "restored the unfinished run $r (continues from its training state)"
done
echo "restored $(($(wc -l < "$dst/results.csv") - 1)) finished runs into $dst"
