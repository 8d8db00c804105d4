"""Sparse training toolkit: compaction gains and the cost of ``multiproj.nn.constrain``.

1. A 20000-100-2 MLP (float32) whose first layer reads 10 % of the input features (the
   other columns are zero, as after a projection with groups = input features): parameters
   and median CPU inference time on a batch of 256 of the masked model (dense shapes) and of
   the compacted one (``multiproj.nn.compact``), on the selected inputs and with the
   selection included; outputs compared on float64 copies.
2. ``constrain`` on an MLP of 10 Linear 512 x 512 layers (and a 512 x 10 head) whose 10
   hidden weights are constrained: the time of the projections after an Adam
   ``optimizer.step()`` as a share of the Adam update of the same step (step hooks around
   both), for a fixed radius, a ``keep`` target (the threshold of ``multiproj.radius_for``
   recomputed at every projection), frozen removed groups, an annealing schedule, and
   projections every 10 steps; whole ``opt.step()`` calls against the unconstrained
   model, timed in turns; and the paired ratio: whole steps of the same model with and
   without the constraint in alternation (median of per-pair ratios, thread CPU time and
   wall time).

Everything runs on one thread (torch and Numba).  Usage::

    python benchmarks/bench_training.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch import nn

import multiproj
import multiproj.nn as mpn

from .report import print_machine


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
        fns = {"masked": lambda: model(x), "small": lambda: small(xs), "full": lambda: full(x)}
        times = {k: [] for k in fns}
        for f in fns.values():
            f()
        for _ in range(repeat):  # in turns, so that the three share the machine's load
            for k, f in fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        t_masked, t_small, t_full = (float(np.median(times[k])) for k in ("masked", "small", "full"))
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
    names = [f"{2 * i}.weight" for i in range(depth)]
    rules = {
        "none": None,
        "radius (l1,inf bi-level)": {"params": names, "ball": "l1,inf", "radius": 20.0},
        "keep 25% (l1,inf bi-level)": {"params": names, "ball": "l1,inf", "keep": 0.25},
        "keep 25% (l1,2 bi-level)": {"params": names, "ball": "l1,2", "keep": 0.25},
        "keep 25% (l1,1 bi-level)": {"params": names, "ball": "l1,1", "keep": 0.25},
        "keep 25% l1,inf, freeze": {"params": names, "ball": "l1,inf", "keep": 0.25, "freeze": True},
        "keep 25% l1,inf, cosine 100": {"params": names, "ball": "l1,inf", "keep": 0.25,
                                        "schedule": "cosine", "steps": 100},
        "radius, every 10 steps": {"params": names, "ball": "l1,inf", "radius": 20.0, "every": 10},
        "keep 25% l1,inf, every 10": {"params": names, "ball": "l1,inf", "keep": 0.25, "every": 10},
    }
    n_params = sum(p.numel() for p in _model(width, depth).parameters())
    print(f"\n2. constrain: {depth} constrained {width} x {width} weights of a {depth + 1}-layer MLP "
          f"({n_params} parameters), Adam (torch's default CPU implementation), batch {batch}.\n"
          f"   Inside every opt.step(), a step pre-hook, a post-hook registered before "
          f"constrain and one after it time the Adam update and the projections of the same "
          f"step: 'added' is their ratio (median over {repeat} steps; the mean ratio for "
          f"'every').  'step vs none' compares whole opt.step() calls with the unconstrained "
          f"model, timed in turns (noisier: other load moves it).")
    setups, marks, handles = {}, {}, {}
    for name, rule in rules.items():
        torch.manual_seed(0)
        model = _model(width, depth)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        t = marks[name] = {"pre": 0.0, "mid": 0.0, "adam": [], "proj": []}

        def pre(o, a, k, t=t):
            t["pre"] = time.perf_counter()

        def mid(o, a, k, t=t):
            t["mid"] = time.perf_counter()

        def post(o, a, k, t=t):
            end = time.perf_counter()
            t["adam"].append(t["mid"] - t["pre"])
            t["proj"].append(end - t["mid"])

        hooks = [opt.register_step_pre_hook(pre), opt.register_step_post_hook(mid)]
        h = mpn.constrain(model, opt, rule) if rule else None
        hooks.append(opt.register_step_post_hook(post))
        assert h is None or len(h) == depth
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), target).backward()
        for _ in range(3):
            opt.step()
        t["adam"].clear()
        t["proj"].clear()
        setups[name] = opt.step
        handles[name] = (h, hooks)
    steps = {name: [] for name in setups}
    for _ in range(repeat):
        for name, step in setups.items():
            t0 = time.perf_counter()
            step()  # reuses the gradients of the last backward
            steps[name].append(time.perf_counter() - t0)
    paired = {}
    for name, (h, hooks) in handles.items():
        for hk in hooks:
            hk.remove()
        if h is not None:
            paired[name] = _paired_ratio(setups[name], h, repeat)
    print(f"{'constraint':<30}{'Adam ms':>9}{'projections ms':>16}{'added':>8}"
          f"{'step ms':>9}{'step vs none':>14}{'paired cpu':>12}{'paired wall':>13}")
    base = np.median(steps["none"])
    for name, t in marks.items():
        adam, proj = np.array(t["adam"]), np.array(t["proj"])
        every = "every" in (rules[name] or {})
        added = proj.mean() / adam.mean() if every else np.median(proj / adam)
        med = np.median(steps[name])
        print(f"{name:<30}{1e3 * np.median(adam):>9.2f}{1e3 * (proj.mean() if every else np.median(proj)):>16.3f}"
              f"{100 * added:>7.1f}%{1e3 * med:>9.2f}{100 * (med / base - 1):>13.1f}%"
              + (f"{paired[name][0]:>12.3f}{paired[name][1]:>13.3f}" if name in paired else ""))


def _paired_ratio(step, handle, repeat: int) -> tuple[float, float]:
    """Median over ``repeat`` pairs of ``t(step with the constraint) / t(step without)`` on
    the same model and optimiser (the handle's hook removed and registered again in turn,
    the order within a pair alternating), in thread CPU time (not moved by other processes'
    load) and in wall time."""
    cpu, wall = [], []
    for i in range(repeat):
        tc, tw = {}, {}
        for on in ((True, False) if i % 2 else (False, True)):
            if on and not handle.active:
                handle._register(step.__self__)
            elif not on:
                handle.remove()
            w0, c0 = time.perf_counter(), time.thread_time()
            step()
            tc[on], tw[on] = time.thread_time() - c0, time.perf_counter() - w0
        cpu.append(tc[True] / tc[False])
        wall.append(tw[True] / tw[False])
    return float(np.median(cpu)), float(np.median(wall))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    multiproj.set_num_threads(1)
    print_machine()
    bench_compaction(args.repeat)
    bench_constrain(args.repeat, args.width, args.batch)
    return 0

