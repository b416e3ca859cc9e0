#!/usr/bin/env bash
# Runs one libFuzzer harness for SECONDS on a copy of its seed corpus; prints the executions and exits non-zero
# on a crash (the reproducer is left in WORK/). Usage: fuzz_one.sh HARNESS CORPUS SECONDS WORK
# FUZZ_RUNS=N stops after N executions instead (SECONDS is then the cap); FUZZ_TIMEOUT=S flags an input that runs
# longer than S seconds (default 20; raise it on a loaded machine, where a starved process can stall that long).
set -euo pipefail
harness=$1 corpus=$2 seconds=$3 work=$4
rm -rf "$work" && mkdir -p "$work/corpus"
cp -r "$corpus"/. "$work/corpus/" 2>/dev/null || true
cd "$work"
set +e
"$harness" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -print_final_stats=1 -rss_limit_mb=2048 -max_len=65536 -timeout="${FUZZ_TIMEOUT:-20}" \
  -artifact_prefix="$work/" corpus > log 2>&1
rc=$?
set -e
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' log | grep -o '[0-9]*$' || echo "?")
secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' log | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$seconds")
echo "$(basename "$harness"): ${execs} executions in ${secs} s, exit ${rc}"
if [ "$rc" -ne 0 ]; then
  tail -n 60 log
  ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null || true
fi
exit "$rc"
