#!/usr/bin/env python3
"""The same two ~140 K-parameter architectures in PyTorch and in receptive, side by side: training images/s
(batch 128, forward + backward + AdamW step) and inference images/s (evaluation mode, no autograd, batch 64 as
receptive's train.eval_batch_size default, or --eval-batch; the same on both sides).

    python3 bench/pytorch_train.py [--threads 2] [--repeats 5] [--steps 20] [--eval-batch 64|128|500]
                                   [--receptive build/bench_train]

Fair by construction:
- each side runs in its own process while the other is idle: receptive's bench_train first (to completion),
  then PyTorch in a child process (this parent never imports torch, so no OpenMP threads of it can spin);
- each side with its best kernels: PyTorch's OpenBLAS picks its kernel from a table of CPU models and falls back
  to generic SSE3 code on CPUs it does not know; the child checks the core OpenBLAS selected and, when it is a
  generic one on a CPU with AVX2 / AVX-512, reruns with OPENBLAS_CORETYPE set to the right family;
- medians: every number is the median of --repeats repetitions (each the median step time of --steps steps).

Needs Debian's python3-torch (apt-get install python3-torch); prints a note and exits 0 when it is missing.
"""
import argparse
import json
import os
import subprocess
import sys
import time

GENERIC_CORES = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Barcelona", "Opteron", "Bobcat",
                 "Generic", "Katmai", "Coppermine", "Northwood", "Banias"}
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-torch lives in the system Python


def cpu_description():
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    if "amx_tile" in flags:
        isa += " + AMX"
    return model, isa, flags


# ---- the PyTorch side (runs in the child process) ----

def build(torch):
    nn = torch.nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    cnn = nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                        nn.MaxPool2d(2), *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))

    class ViT(nn.Module):
        def __init__(self, dim=64, depth=4, heads=4, mlp=128, patch=4):
            super().__init__()
            self.embed = nn.Conv2d(1, dim, patch, stride=patch)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.zeros(1, 50, dim))
            layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, depth)
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, 10)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    return {"cnn": cnn, "vit_full": ViT()}


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def torch_train(torch, model, steps, batch=128):
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.arange(batch) % 10
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for i in range(steps + 3):
        t = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t)
    return batch / median(times)


def torch_infer(torch, model, steps, batch=500):
    model.eval()
    x = torch.randn(batch, 1, 28, 28)
    times = []
    with torch.no_grad():
        for i in range(max(steps // 2, 3) + 2):
            t = time.perf_counter()
            model(x)
            if i >= 2:
                times.append(time.perf_counter() - t)
    return batch / median(times)


def openblas_core():
    import ctypes
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
            fn = lib.openblas_get_corename
            fn.restype = ctypes.c_char_p
            return fn().decode()
        except (OSError, AttributeError):
            continue
    return "none"


def require_openblas(core):
    """Stops the comparison when PyTorch's BLAS is not OpenBLAS. Debian's python3-torch takes whatever provides
    libblas.so.3; on a machine without libopenblas0 that is the reference BLAS (libblas3), whose unblocked loops
    make PyTorch's linear layers 10-30x slower, and any ratio against it would be meaningless."""
    if core == "none":
        print("PyTorch's BLAS (libblas.so.3) is not OpenBLAS: probably Debian's reference BLAS, which would make "
              "this comparison unfair; install OpenBLAS (apt-get install libopenblas0-pthread) and run again",
              file=sys.stderr)
        sys.exit(1)


def child(a):
    import torch
    torch.set_num_threads(a.threads)
    core = openblas_core()
    res = {"torch": torch.__version__, "openblas_core": core,
           "coretype_env": os.environ.get("OPENBLAS_CORETYPE", ""), "models": {}}
    if a.probe_only:
        print(json.dumps(res))
        return 0
    for name, model in build(torch).items():
        params = sum(p.numel() for p in model.parameters())
        train = median([torch_train(torch, model, a.steps) for _ in range(a.repeats)])
        infer = median([torch_infer(torch, model, a.steps, a.eval_batch) for _ in range(a.repeats)])
        res["models"][name] = {"params": params, "train": train, "infer": infer}
    print(json.dumps(res))
    return 0


def run_child(a, extra_env, probe_only=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), **extra_env)
    cmd = [SYSTEM_PYTHON, os.path.abspath(__file__), "--child", "--threads", str(a.threads), "--repeats",
           str(a.repeats), "--steps", str(a.steps), "--eval-batch", str(a.eval_batch)] + (["--probe-only"] if probe_only else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"PyTorch child failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- receptive's side ----

def receptive_numbers(binary, threads, repeats, eval_batch):
    out = subprocess.run([binary, "--benchmark_format=json", f"--benchmark_repetitions={repeats}",
                          "--benchmark_report_aggregates_only=true",
                          f"--benchmark_filter=BM_(train_step/(cnn|vit_full)/|infer/(cnn|vit_full)/{eval_batch}/)"],
                         capture_output=True, text=True, env=dict(os.environ, RECEPTIVE_BENCH_THREADS=str(threads)),
                         check=True)
    res = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        kind, name = b["run_name"].split("/")[:2]
        res.setdefault(name, {})["train" if kind == "BM_train_step" else "infer"] = b["images/s"]
    machine = out.stderr.strip().splitlines()[0] if out.stderr.strip() else ""
    return res, machine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--receptive", default="")
    ap.add_argument("--eval-batch", type=int, default=64,
                    help="inference batch on both sides (bench_train has 500, 128 and 64)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--probe-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    if not os.path.exists(SYSTEM_PYTHON) or subprocess.run([SYSTEM_PYTHON, "-c", "import torch"],
                                                           capture_output=True).returncode != 0:
        print("PyTorch is not installed (apt-get install python3-torch); nothing to compare")
        return 0
    model, isa, flags = cpu_description()
    # PyTorch's BLAS kernel: keep OpenBLAS's own choice unless it is a generic one on a CPU it does not know
    probe = run_child(a, {}, probe_only=True)
    require_openblas(probe["openblas_core"])
    print(f"CPU: {model} ({isa}), {a.threads} threads; medians of {a.repeats} repetitions; inference batch {a.eval_batch}")
    ours, machine = receptive_numbers(a.receptive, a.threads, a.repeats, a.eval_batch) if a.receptive else ({}, "")
    if machine:
        print(f"receptive: {machine}")
    env = {}
    if probe["openblas_core"] in GENERIC_CORES and ("avx2" in flags or "avx512f" in flags):
        env["OPENBLAS_CORETYPE"] = "SKYLAKEX" if "avx512f" in flags else "HASWELL"
    theirs = run_child(a, env)
    note = f" (OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}: detected '{probe['openblas_core']}')" if env else ""
    print(f"PyTorch {theirs['torch']}: OpenBLAS core '{theirs['openblas_core']}'{note}, oneDNN for convolutions")
    print(f"{'model':<10} {'params':>7} | {'train: PyTorch':>14} {'receptive':>9} {'ratio':>5} | "
          f"{'infer: PyTorch':>14} {'receptive':>9} {'ratio':>5} | {'receptive infer/train':>21}")
    for name, t in theirs["models"].items():
        mine = ours.get(name, {})

        def cell(kind):
            m = mine.get(kind)
            return (f"{m:>9.0f}", f"{m / t[kind]:>5.2f}") if m else (f"{'-':>9}", f"{'-':>5}")
        tr, trr = cell("train")
        inf, infr = cell("infer")
        ratio = f"{mine['infer'] / mine['train']:>21.2f}" if mine.get("infer") and mine.get("train") else f"{'-':>21}"
        print(f"{name:<10} {t['params']:>7} | {t['train']:>14.0f} {tr} {trr} | {t['infer']:>14.0f} {inf} {infr} | {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
