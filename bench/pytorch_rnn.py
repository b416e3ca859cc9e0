#!/usr/bin/env python3
"""LSTM and GRU training steps, torch.nn.LSTM / torch.nn.GRU against receptive's ops (bench/bench_rnn.cpp), at the
same shapes and thread counts: one layer, batch first, B = 32, H = 128, and
    rows:   T = 28,  I = 28 (row-order Fashion-MNIST)
    pixels: T = 784, I = 1  (pixel-order Fashion-MNIST)
A step is the forward pass with a constant input and backward from a fixed gradient of the output (the gradients
of all four parameters), in milliseconds; every line names the CPU.

    python3 bench/pytorch_rnn.py [--receptive build/bench_rnn] [--threads 1 2] [--repeats 3] [--steps 10]
                                 [--shapes rows pixels]

Each side runs in its own process while the other is idle (receptive's bench_rnn first, then one PyTorch child
per thread count). PyTorch's BLAS kernel is checked as bench/pytorch_train.py does (OPENBLAS_CORETYPE when
OpenBLAS falls back to a generic core). Numbers are medians over --repeats repetitions of the median step time of
--steps steps. Needs Debian's python3-torch; prints a note and exits 0 when it is missing.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_train import GENERIC_CORES, SYSTEM_PYTHON, cpu_description, median, openblas_core, require_openblas  # noqa: E402

SHAPES = {"rows": (28, 28), "pixels": (784, 1)}  # name: (T, I)
B, H = 32, 128


def torch_step_ms(torch, cell, T, I, steps):
    cls = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    m = cls(I, H, batch_first=True)
    x = torch.randn(B, T, I)
    dy = torch.randn(B, T, H)
    wall, cpu = [], []
    for i in range(steps + 2):
        t, c = time.perf_counter(), time.process_time()
        m.zero_grad(set_to_none=True)
        y, _ = m(x)
        y.backward(dy)
        if i >= 2:
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    return 1e3 * median(wall), 1e3 * median(cpu)


def child(a):
    import torch
    torch.set_num_threads(a.threads)
    res = {"torch": torch.__version__, "openblas_core": openblas_core(), "ms": {}}
    if not a.probe_only:
        for cell in ("lstm", "gru"):
            for shape in a.shapes:
                T, I = SHAPES[shape]
                runs = [torch_step_ms(torch, cell, T, I, a.steps) for _ in range(a.repeats)]
                res["ms"][f"{cell}_{shape}"] = [median([r[0] for r in runs]), median([r[1] for r in runs])]
    print(json.dumps(res))
    return 0


def run_child(a, threads, env_extra, probe_only=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **env_extra)
    cmd = [SYSTEM_PYTHON, os.path.abspath(__file__), "--child", "--threads", str(threads), "--repeats",
           str(a.repeats), "--steps", str(a.steps), "--shapes", *a.shapes] + (["--probe-only"] if probe_only else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"PyTorch child failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def receptive_ms(binary, repeats, shapes):
    out = subprocess.run([binary, "--benchmark_format=json", f"--benchmark_repetitions={repeats}",
                          "--benchmark_report_aggregates_only=true", f"--benchmark_filter=_({'|'.join(shapes)})/"],
                         capture_output=True, text=True, check=True)
    res = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        # the median over repetitions (with one repetition Google Benchmark reports the run itself)
        if b.get("aggregate_name", "median" if repeats == 1 else None) != "median":
            continue
        # BM_rnn_train_step/lstm_rows/threads:1/real_time
        parts = b["run_name"].split("/")
        name, threads = parts[1], int(parts[2].split(":")[1])
        scale = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b["time_unit"]]
        res[(name, threads)] = (b["real_time"] * scale, b["cpu_time"] * scale)
    machine = out.stderr.strip().splitlines()[0] if out.stderr.strip() else ""
    return res, machine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--receptive", default="")
    ap.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--probe-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        a.threads = a.threads[0]
        return child(a)
    if not os.path.exists(SYSTEM_PYTHON) or subprocess.run([SYSTEM_PYTHON, "-c", "import torch"],
                                                           capture_output=True).returncode != 0:
        print("PyTorch is not installed (apt-get install python3-torch); nothing to compare")
        return 0
    model, isa, flags = cpu_description()
    cpu = f"{model} ({isa})"
    probe = run_child(a, 1, {}, probe_only=True)
    require_openblas(probe["openblas_core"])
    ours, machine = receptive_ms(a.receptive, a.repeats, a.shapes) if a.receptive else ({}, "")
    if machine:
        print(f"receptive: {machine}")
    env = {}
    if probe["openblas_core"] in GENERIC_CORES and ("avx2" in flags or "avx512f" in flags):
        env["OPENBLAS_CORETYPE"] = "SKYLAKEX" if "avx512f" in flags else "HASWELL"
    print(f"step = forward + backward of one layer, B={B}, H={H}; milliseconds, medians of {a.repeats} repetitions;"
          " wall time, and CPU time (PyTorch: the process; receptive: the main thread, all of it at 1 thread)")
    print(f"{'layer':<13} {'threads':>7} | {'PyTorch ms':>10} {'receptive ms':>12} {'speed-up':>8} | "
          f"{'CPU: PyTorch':>12} {'receptive':>9} {'ratio':>6} | CPU")
    for threads in a.threads:
        theirs = run_child(a, threads, env)
        for key, (t_ms, t_cpu) in theirs["ms"].items():
            mine = ours.get((key, threads))
            wall = f"{mine[0]:>12.2f} {t_ms / mine[0]:>7.2f}x" if mine else f"{'-':>12} {'-':>8}"
            cpu_cell = f"{mine[1]:>9.2f} {t_cpu / mine[1]:>5.2f}x" if mine else f"{'-':>9} {'-':>6}"
            print(f"{key:<13} {threads:>7} | {t_ms:>10.2f} {wall} | {t_cpu:>12.2f} {cpu_cell} | {cpu}, "
                  f"PyTorch {theirs['torch']} (OpenBLAS core '{theirs['openblas_core']}')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
