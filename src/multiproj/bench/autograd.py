"""Cost of differentiating through a projection (CPU, one thread).

For a 1000 x 10000 float64 tensor and the bi-level l1,inf (axis=0), exact l1,inf (axis=0)
and flat l1 projections, at a radius of a tenth of the norm:

* ``fwd``: ``multiproj.project`` of a tensor that does not require grad (today's path);
* ``fwd+grad``: the same call on a tensor that requires grad (records the graph and saves
  ``y`` and ``x`` for the backward);
* ``bwd``: ``out.backward(g)`` alone (the hand-written VJP of :mod:`multiproj._autograd`).

Reported: medians over ``--repeat`` runs, with the calls interleaved (fwd, fwd+grad, bwd,
fwd, ...) so that machine load affects all three alike; the ratios ``bwd / fwd`` (target
<= 1.5) and ``fwd+grad / fwd`` (target <= 1.1) are formed from medians of the same run.
``--cpu-time`` uses the process CPU clock instead of the wall clock (robust on a loaded
machine).

Usage::

    python benchmarks/bench_autograd.py [--repeat 9] [--shape 1000 10000] [--cpu-time] [--extra]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import multiproj

from .report import print_machine

CASES = [("l1,inf", "bilevel"), ("l1,inf", "exact"), ("l1", "exact")]
# with --extra: projections whose CPU backward is the generic torch-operations VJP
EXTRA = [("l1,2", "bilevel"), ("l1,1", "bilevel"), ("linf", "exact"), ("l2", "exact")]


def measure(y, g, ball: str, method: str, fraction: float, repeat: int,
            clock=time.perf_counter) -> tuple[float, float, float]:
    """Median seconds of ``fwd`` (``project`` of ``y``, no grad), ``fwd+grad`` (the same
    call on a copy that requires grad) and ``bwd`` (``out.backward(g)``), groups = the
    columns (``axis=0``) at a radius of ``fraction`` times the norm; the three calls take
    turns, after two warm-up turns."""
    yg = y.clone().requires_grad_()
    r = fraction * multiproj.norm(y, ball, axis=0)
    kw = dict(method=method, axis=0)
    t_f, t_fg, t_b = [], [], []
    for i in range(repeat + 2):  # two warm-up turns
        t0 = clock()
        multiproj.project(y, r, ball, **kw)
        t1 = clock()
        out = multiproj.project(yg, r, ball, **kw)
        t2 = clock()
        out.backward(g)
        t3 = clock()
        yg.grad = None
        del out
        if i >= 2:
            t_f.append(t1 - t0)
            t_fg.append(t2 - t1)
            t_b.append(t3 - t2)
    f, fg, b = (float(np.median(t)) for t in (t_f, t_fg, t_b))
    return f, fg, b


def data(shape, seed: int = 0):
    """The float64 tensor ``y`` and the output gradient ``g`` (normal, ``seed``)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(tuple(shape), dtype=torch.float64, generator=gen)
    g = torch.randn(tuple(shape), dtype=torch.float64, generator=gen)
    return y, g


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=2, default=(1000, 10000))
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--fraction", type=float, default=0.1, help="radius / norm")
    ap.add_argument("--cpu-time", action="store_true")
    ap.add_argument("--extra", action="store_true", help="also the torch-operations VJPs")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    multiproj.set_num_threads(1)
    clock = time.process_time if args.cpu_time else time.perf_counter
    print_machine()
    print(f"shape {tuple(args.shape)} float64, 1 thread, {args.repeat} repeats, "
          f"{'CPU' if args.cpu_time else 'wall'} clock, radius = {args.fraction} x norm")
    y, g = data(args.shape)
    print(f"{'ball':8s} {'method':8s} {'fwd ms':>8s} {'fwd+grad':>9s} {'bwd ms':>8s} "
          f"{'bwd/fwd':>8s} {'fwdg/fwd':>9s}")
    for ball, method in CASES + (EXTRA if args.extra else []):
        f, fg, b = (1e3 * t for t in measure(y, g, ball, method, args.fraction, args.repeat, clock))
        print(f"{ball:8s} {method:8s} {f:8.1f} {fg:9.1f} {b:8.1f} {b / f:8.2f} {fg / f:9.2f}")
    return 0
