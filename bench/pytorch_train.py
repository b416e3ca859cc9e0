#!/usr/bin/env python3
"""Training throughput of the same two ~140 K-parameter architectures in PyTorch, printed beside receptive's.

    python3 bench/pytorch_train.py [--threads 2] [--steps 30] [--receptive build/bench_train]

Needs Debian's python3-torch (apt-get install python3-torch); prints a note and exits 0 when it is missing.
When --receptive points at the bench_train binary, its numbers are measured in the same run and printed
side by side.
"""
import argparse
import json
import os
import subprocess
import sys
import time


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


def measure(torch, model, steps, batch=128):
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
    times.sort()
    return batch / times[len(times) // 2]


def receptive_numbers(binary, threads):
    out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_min_time=2"], capture_output=True,
                         text=True, env={"RECEPTIVE_BENCH_THREADS": str(threads)}, check=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        name = b["name"].split("/")[1]
        res[name] = b["images/s"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--receptive", default="")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        # Debian's python3-torch lives in the system Python; another python3 first on PATH (pyenv, a venv)
        # does not see it
        system = "/usr/bin/python3"
        if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system):
            os.execv(system, [system] + sys.argv)
        print("PyTorch is not installed (apt-get install python3-torch); nothing to compare")
        return 0
    torch.set_num_threads(a.threads)
    ours = receptive_numbers(a.receptive, a.threads) if a.receptive else {}
    print(f"training images/s, batch 128, {a.threads} threads (median of {a.steps} steps)")
    print(f"{'model':<12} {'params':>8} {'PyTorch ' + torch.__version__:>16} {'receptive':>10} {'ratio':>6}")
    for name, model in build(torch).items():
        params = sum(p.numel() for p in model.parameters())
        theirs = measure(torch, model, a.steps)
        mine = ours.get(name)
        ratio = f"{mine / theirs:.2f}" if mine else "-"
        mine_text = "-" if mine is None else str(round(mine))
        print(f"{name:<12} {params:>8} {theirs:>16.0f} {mine_text:>10} {ratio:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
