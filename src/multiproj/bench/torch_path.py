"""PyTorch benchmarks (CPU): the cost of going through a tensor, and of projecting in training.

1. ``multiproj.project`` on a CPU tensor vs the same call on the NumPy array (the tensor
   path runs the same Numba kernels on a zero-copy view: the ratio should be ~1.00;
   target <= 1.05).  The array is the tensor's storage (``t.numpy()``), and calls are
   interleaved (array, tensor, array, ...) so that memory placement and machine load
   affect both alike.
2. The projection hook of :func:`multiproj.nn.register_projection` on the 100 x 20000 first
   weight of a 20000-100-2 MLP vs one Adam training step (forward, backward, step) with a
   batch of 64 (target: hook <= 10% of the step).

Usage::

    python benchmarks/bench_torch.py            # full
    python benchmarks/bench_torch.py --quick    # fewer sizes and repeats
    python benchmarks/bench_torch.py --threads 1 --cpu-time   # one thread, CPU clock
                                                # (robust when the machine is loaded)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import multiproj
import multiproj.nn as mpn

from .baselines import interleaved_times
from .report import print_machine


CLOCK = time.perf_counter


def _interleaved(fa, fb, repeat: int, warmup: int = 2) -> tuple[float, float]:
    """Medians of ``fa`` and ``fb`` timed alternately (``fa`` first at each turn)."""
    tb, ta, _ = interleaved_times(fb, fa, repeat, warmup, clock=CLOCK)
    return ta, tb


def bench_overhead(quick: bool) -> list[float]:
    print("\n1. CPU tensor vs NumPy array, same call (median, interleaved)")
    print(f"{'case':<34} {'shape':>12} {'dtype':>8} {'numpy':>10} {'tensor':>10} {'ratio':>6}")
    cases = [
        ("bilevel", "l1,inf", {"axis": 0}),
        ("bilevel", "l1,1", {"axis": 0}),
        ("bilevel", "l1,2", {"axis": 0}),
        ("exact", "l1", {}),
    ]
    if "multilevel" in multiproj.METHODS:
        cases.append(("multilevel", "l1,inf", {"levels": (1, 0)}))
    shapes = [(100, 100), (1000, 1000)] if quick else [(100, 100), (1000, 1000), (1000, 4000)]
    repeat = 9 if quick else 25
    ratios = []
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    for shape in shapes:
        for dtype in (np.float32, np.float64):
            # the array is the tensor's own storage: the comparison isolates the dispatch
            # from memory placement (which alone moves timings by a few percent)
            t = torch.rand(shape, generator=gen, dtype=torch.float32 if dtype == np.float32 else torch.float64)
            y = t.numpy()
            for method, ball, kw in cases:
                r = 0.3 * multiproj.norm(y, ball, **kw)  # the groups of the projection
                ta, tt = _interleaved(
                    lambda: multiproj.project(y, r, ball, method=method, **kw),
                    lambda: multiproj.project(t, r, ball, method=method, **kw),
                    repeat,
                )
                ratio = tt / ta
                ratios.append(ratio)
                name = f"{method} {ball}"
                print(
                    f"{name:<34} {'x'.join(map(str, shape)):>12} {np.dtype(dtype).name:>8} "
                    f"{ta * 1e3:>8.3f}ms {tt * 1e3:>8.3f}ms {ratio:>6.3f}"
                )
    # in place: project_ on a tensor vs on an array
    y = rng.uniform(0, 1, (1000, 1000)).astype(np.float32)
    t = torch.nn.Parameter(torch.from_numpy(y.copy()))
    r = 0.3 * multiproj.norm(y, "l1,inf")
    ta, tt = _interleaved(
        lambda: multiproj.project_(y, r, "l1,inf", method="bilevel"),
        lambda: multiproj.project_(t, r, "l1,inf", method="bilevel"),
        repeat,
    )
    print(f"{'project_ bilevel l1,inf (Parameter)':<34} {'1000x1000':>12} {'float32':>8} "
          f"{ta * 1e3:>8.3f}ms {tt * 1e3:>8.3f}ms {tt / ta:>6.3f}")
    big = [x for x in ratios[len(cases) * 2:]]  # shapes from 1000 x 1000 on
    print(f"median ratio, arrays >= 1000x1000: {np.median(big):.3f} (target <= 1.05); "
          f"all: {np.median(ratios):.3f}; max: {max(ratios):.3f}")
    return ratios


def bench_hook(quick: bool) -> float:
    print("\n2. Projection hook vs an Adam step: MLP 20000-100-2, batch 64, float32")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20000, 100), torch.nn.SiLU(), torch.nn.Linear(100, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(64, 20000)
    y = torch.randint(0, 2, (64,))
    loss_fn = torch.nn.CrossEntropyLoss()
    w = model[0].weight
    radius = 0.2 * multiproj.norm(w, "l1,inf", axis=0)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    def project():
        multiproj.project_(w, radius, "l1,inf", method="bilevel", axis=0)

    repeat = 15 if quick else 41
    for _ in range(3):
        step()
    t_proj, t_step = _interleaved(project, step, repeat)
    h = mpn.register_projection(opt, w, radius, "l1,inf", method="bilevel", axis=0)
    t_with = _interleaved(step, step, repeat)[0]
    rep = mpn.sparsity_report(model[0])["weight"]
    h.remove()
    t_without = _interleaved(step, step, repeat)[0]
    dst = torch.empty_like(w)
    t_copy = _interleaved(lambda: dst.copy_(w.detach()), step, repeat)[0]
    print(f"Adam step (forward + backward + step): {t_step * 1e3:8.3f} ms")
    print(f"copy of the weight (dst.copy_(w)):      {t_copy * 1e3:8.3f} ms "
          f"(projection = {t_proj / t_copy:.2f} x copy)")
    print(f"projection of the 100x20000 weight:     {t_proj * 1e3:8.3f} ms "
          f"= {100 * t_proj / t_step:.1f}% of a step (target <= 10%)")
    print(f"step with the hook / without:          {t_with * 1e3:8.3f} / {t_without * 1e3:.3f} ms "
          f"(+{100 * (t_with / t_without - 1):.1f}%)")
    print(f"after {h.steps} projected steps: {rep['zero_groups']} of {rep['groups']} input features removed")
    return t_proj / t_step


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both Numba and torch (default: their defaults)")
    p.add_argument("--cpu-time", action="store_true",
                   help="time with the process CPU clock instead of wall time: robust on a "
                   "loaded machine, meaningful with --threads 1")
    args = p.parse_args(argv)
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    if args.threads is not None:
        multiproj.set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    print_machine()
    print(f"numba threads: {multiproj.get_num_threads()}, torch threads: {torch.get_num_threads()}, "
          f"clock: {'process CPU time' if args.cpu_time else 'wall'}")
    bench_overhead(args.quick)
    bench_hook(args.quick)
    return 0

