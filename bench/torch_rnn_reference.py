#!/usr/bin/env python3
"""Prints the PyTorch values pinned in tests/framework/test_recurrent.cpp: two bidirectional layers of
torch.nn.LSTM and torch.nn.GRU (batch_first, input 2, hidden 3) in float64, with x and every parameter set by
pattern() (parameter i in named order gets offset 1 + i, x gets 0.1), the outputs, h_n (and c_n), and for the loss
Σ pattern(output, 0.7) ⊙ output: the gradient of x and, per parameter, Σ pattern(p, 0.3) ⊙ grad(p).

    /usr/bin/python3 bench/torch_rnn_reference.py      (needs Debian's python3-torch)
"""
import math

import torch


def pattern(shape, offset):
    n = math.prod(shape)
    return torch.tensor([0.5 * math.sin(0.37 * k + offset) for k in range(n)], dtype=torch.float64).reshape(shape)


def fmt(t):
    return "{" + ", ".join(f"{v:.9g}" for v in t.flatten().tolist()) + "}"


def main():
    torch.set_default_dtype(torch.float64)
    print(f"# PyTorch {torch.__version__}")
    for name, cls in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
        m = cls(2, 3, num_layers=2, bidirectional=True, batch_first=True)
        for i, (_, p) in enumerate(m.named_parameters()):
            with torch.no_grad():
                p.copy_(pattern(p.shape, 1.0 + i))
        x = pattern((2, 3, 2), 0.1).requires_grad_(True)
        y, state = m(x)
        (pattern(y.shape, 0.7) * y).sum().backward()
        print(f"{name} output {fmt(y)}")
        if name == "lstm":
            print(f"{name} h_n {fmt(state[0])}")
            print(f"{name} c_n {fmt(state[1])}")
        else:
            print(f"{name} h_n {fmt(state)}")
        print(f"{name} x.grad {fmt(x.grad)}")
        sums = [float((pattern(p.shape, 0.3) * p.grad).sum()) for _, p in m.named_parameters()]
        print(f"{name} weighted parameter gradients {fmt(torch.tensor(sums))}")


if __name__ == "__main__":
    main()
