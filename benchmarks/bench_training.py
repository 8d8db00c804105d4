"""Sparse training toolkit: compaction gains and the cost of ``multiproj.nn.constrain``.

1. A 20000-100-2 MLP (float32) whose first layer reads 10 % of the input features (the
   other columns are zero, as after a projection with groups = input features): parameters
   and median CPU inference time on a batch of 256 of the masked model (dense shapes) and of
   the compacted one (``multiproj.nn.compact``), on the selected inputs and with the
   selection included; outputs compared on float64 copies.
2. ``constrain`` on a model with 10 constrained weights: median (and mean) time of
   ``optimizer.step()`` (Adam) and of a whole training step (forward, backward, step), timed
   in turns across the settings, without and with the constraints (a fixed radius, or a
   ``keep`` target whose radius ``multiproj.radius_for`` recomputes at every projection;
   projecting after every step or every 10 steps).

Everything runs on one thread (torch and Numba).  Usage::

    python benchmarks/bench_training.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from _common import median_time, print_machine
from torch import nn

import multiproj
import multiproj.nn as mpn


def bench_compaction(repeat: int) -> None:
    torch.manual_seed(0)
    F, h, C, keep = 20000, 100, 2, 2000
    model = nn.Sequential(nn.Linear(F, h), nn.ReLU(), nn.Linear(h, C)).eval()
    kept = torch.randperm(F)[:keep].sort().values
    with torch.no_grad():
        mask = torch.zeros(F, dtype=torch.bool)
        mask[kept] = True
        model[0].weight[:, ~mask] = 0
    x = torch.randn(256, F)
    res = mpn.compact(model, x)
    small, full = res.model, res.with_input_selection()
    xs = res.select_input(x)
    with torch.no_grad():
        t_masked = median_time(lambda: model(x), repeat)
        t_small = median_time(lambda: small(xs), repeat)
        t_full = median_time(lambda: full(x), repeat)
        m64, s64 = copy.deepcopy(model).double(), mpn.compact(copy.deepcopy(model).double(), x.double()).model
        x64 = x.double()
        same = torch.allclose(s64(x64[:, res.input_index]), m64(x64), rtol=1e-10, atol=1e-12)
        diff32 = float((small(xs) - model(x)).abs().max())
    p0, p1 = res.params_before, res.params_after
    print(f"\n1. compaction of a {F}-{h}-{C} MLP, {keep} of {F} inputs kept, batch 256, float32")
    print(f"{'model':<34}{'parameters':>12}{'median ms':>11}{'speed-up':>10}")
    print(f"{'masked (dense shapes)':<34}{p0:>12d}{1e3 * t_masked:>11.3f}{1.0:>10.1f}")
    print(f"{'compacted, selected inputs':<34}{p1:>12d}{1e3 * t_small:>11.3f}{t_masked / t_small:>10.1f}")
    print(f"{'compacted, selection included':<34}{p1:>12d}{1e3 * t_full:>11.3f}{t_masked / t_full:>10.1f}")
    print(f"parameters: {p0 / p1:.1f}x fewer; outputs equal (float64 allclose rtol 1e-10): {same}; "
          f"float32 max |diff| {diff32:.2e}")


def _model(width: int, depth: int) -> nn.Sequential:
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def bench_constrain(repeat: int, width: int, batch: int) -> None:
    depth = 10
    x = torch.randn(batch, width)
    target = torch.randint(0, 10, (batch,))
    rules = {
        "none": None,
        "radius (l1,inf bi-level)": {"params": [f"{2 * i}.weight" for i in range(depth)],
                                     "ball": "l1,inf", "radius": 20.0},
        "keep 25% (l1,inf bi-level)": {"params": [f"{2 * i}.weight" for i in range(depth)],
                                       "ball": "l1,inf", "keep": 0.25},
        "keep 25% (l1,2 bi-level)": {"params": [f"{2 * i}.weight" for i in range(depth)],
                                     "ball": "l1,2", "keep": 0.25},
        "radius, every 10 steps": {"params": [f"{2 * i}.weight" for i in range(depth)],
                                   "ball": "l1,inf", "radius": 20.0, "every": 10},
        "keep 25% l1,inf, every 10": {"params": [f"{2 * i}.weight" for i in range(depth)],
                                      "ball": "l1,inf", "keep": 0.25, "every": 10},
    }
    n_params = sum(p.numel() for p in _model(width, depth).parameters())
    print(f"\n2. constrain: {depth} constrained {width} x {width} weights "
          f"({n_params} parameters), Adam, batch {batch}; the settings are timed in turns "
          f"(one call each per round, {repeat} rounds), so that they share the machine's load")
    setups = {}
    for name, rule in rules.items():
        torch.manual_seed(0)
        model = _model(width, depth)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        h = mpn.constrain(model, opt, rule) if rule else None
        assert h is None or len(h) == depth

        def train_step(model=model, opt=opt):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), target).backward()
            opt.step()

        train_step()
        train_step()
        setups[name] = (opt.step, train_step)
    times = {name: ([], []) for name in setups}
    for _ in range(repeat):
        for k in (0, 1):
            for name, fns in setups.items():
                t0 = time.perf_counter()
                fns[k]()  # opt.step reuses the gradients of the last backward
                times[name][k].append(time.perf_counter() - t0)
    # medians; with every=10 only one step in ten projects, so the mean is shown as well
    print(f"{'constraint':<30}{'opt.step ms':>12}{'added':>9}{'mean added':>12}"
          f"{'train step ms':>15}{'added':>9}{'mean added':>12}")
    base = {k: (np.median(times["none"][k]), np.mean(times["none"][k])) for k in (0, 1)}
    for name, tt in times.items():
        row = f"{name:<30}"
        for k, width_ in ((0, 12), (1, 15)):
            med, mean = np.median(tt[k]), np.mean(tt[k])
            row += (f"{1e3 * med:>{width_}.3f}{100 * (med / base[k][0] - 1):>8.1f}%"
                    f"{100 * (mean / base[k][1] - 1):>11.1f}%")
        print(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(1)
    multiproj.set_num_threads(1)
    print_machine()
    bench_compaction(args.repeat)
    bench_constrain(args.repeat, args.width, args.batch)


if __name__ == "__main__":
    main()
