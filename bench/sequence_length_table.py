#!/usr/bin/env python3
"""Markdown tables from bench/sequence_length.sh's CSV (model,L,batch,threads,ms_per_step,peak_rss_mb):
time per training step against L for each model at batch 1 and 32 on 1 and 2 threads, the speed-up from 1 to 2
threads, how time and peak memory grow with L (the exponent of a power law fitted between the shortest and the
longest L), and the peak RSS against L.

    python3 bench/sequence_length_table.py /tmp/receptive_sequence_length.csv > table.md
"""
import csv
import math
import sys
from collections import defaultdict


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = list(csv.DictReader(open(sys.argv[1])))
    if not rows:
        sys.exit(f"{sys.argv[1]}: no rows")
    ms = {}
    rss = {}
    for r in rows:
        key = (r["model"], int(r["L"]), int(r["batch"]), int(r["threads"]))
        ms[key] = float(r["ms_per_step"])
        rss[key] = float(r["peak_rss_mb"])
    models = list(dict.fromkeys(r["model"] for r in rows))
    lengths = sorted({k[1] for k in ms})
    batches = sorted({k[2] for k in ms})
    threads = sorted({k[3] for k in ms})

    def cell(d, key, fmt):
        return fmt.format(d[key]) if key in d else "–"

    for b in batches:
        print(f"\nTime per training step (ms), batch {b}; in brackets the speed-up from 1 to 2 threads:\n")
        print("| model | " + " | ".join(f"L = {L}" for L in lengths) + " |")
        print("| --- |" + " ---: |" * len(lengths))
        for m in models:
            cells = []
            for L in lengths:
                one, two = (m, L, b, 1), (m, L, b, 2)
                if one in ms and two in ms:
                    cells.append(f"{ms[one]:.3g} / {ms[two]:.3g} ({ms[one] / ms[two]:.2f}×)")
                else:
                    t = [cell(ms, (m, L, b, t), "{:.3g}") for t in threads]
                    cells.append(" / ".join(t))
            print(f"| {m} | " + " | ".join(cells) + " |")
        print("\n(each cell: 1 thread / 2 threads)")

    print(f"\nGrowth with L, 1 thread: the exponent k of time ∝ L^k between L = {lengths[0]} and {lengths[-1]}, and of "
          f"the peak RSS above the model's smallest one ∝ L^k between L = {lengths[1]} and {lengths[-1]} (the "
          "process's own memory, which does not grow with L, left out):\n")
    print("| model | batch | time k | memory above baseline k | peak RSS (MB) at " +
          " / ".join(str(L) for L in lengths) + " |")
    print("| --- | ---: | ---: | ---: | --- |")
    lo, hi = lengths[0], lengths[-1]
    for m in models:
        for b in batches:
            a, z = (m, lo, b, 1), (m, hi, b, 1)
            if a not in ms or z not in ms:
                continue
            k_time = math.log(ms[z] / ms[a]) / math.log(hi / lo)
            # memory: the growth of what the step adds over the smallest case (the process itself is ~constant)
            mid = [(m, L, b, 1) for L in lengths if (m, L, b, 1) in rss]
            base = min(rss[k] for k in mid)
            above_lo = rss[(m, lengths[1], b, 1)] - base if (m, lengths[1], b, 1) in rss else float("nan")
            above_hi = rss[z] - base
            k_mem = (math.log(above_hi / above_lo) / math.log(hi / lengths[1])
                     if above_lo > 1 and above_hi > 1 else float("nan"))
            mem = " / ".join(f"{rss[k]:.0f}" for k in mid)
            print(f"| {m} | {b} | {k_time:.2f} | {k_mem:.2f} | {mem} |")


if __name__ == "__main__":
    main()
