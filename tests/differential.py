"""Differential run: random cases over every ball x method x memory kind x magnitude x
backend, each checked against the longdouble references of tests/naive.py.

    PYTHONPATH=src python tests/differential.py --cases 3000 --seed 1

A case draws a ball and method (flat l1/l2/linf, l1,1, l1,2, l1,inf exact and bi-level,
multi-level of order 3 with any inner norms, prox l1/l1,2/l1,inf), a dtype, a shape, data
(normal, ties, sparse, heavy tails) at one magnitude or mixed magnitudes from subnormal to
near overflow, a radius (0, 1e-9, 0.01, 0.3, 0.99, 1 or 1.5 times the norm), a memory kind
for ``y`` (C, F, read-only, negative strides, non-contiguous, broadcast), an ``out`` mode
(none, separate, in place, overlapping shift, ``y.T``) and a backend (NumPy, CPU tensor
through the API, the torch-operations solvers that CUDA tensors use).  Checked: dtype,
input untouched (unless it is ``out``), feasibility ``||x|| <= r (1 + c eps)`` (plus
``c eps ||y||`` where an outer l1 threshold is subtracted, plus the subnormal spacing),
entry-wise agreement with the reference to ``c eps max|y|`` (``c = 16``), and the
optimality certificate of the exact projections (``0.01 <= r / ||y|| < 0.9``, data in the
normal range, relative gap within ``32 n eps`` in absolute value).  Prints the failures
by class and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import naive  # noqa: E402

import multiproj  # noqa: E402

BALLS = [
    ("l1", "exact"), ("l2", "exact"), ("linf", "exact"), ("l1,1", "exact"), ("l1,1", "bilevel"),
    ("l1,2", "exact"), ("l1,2", "bilevel"), ("l1,inf", "exact"), ("l1,inf", "bilevel"),
    ("multilevel", "multilevel"), ("prox", "prox"),
]
FRACS = [0.0, 1e-9, 0.01, 0.3, 0.99, 1.0, 1.5]


def eps(dt):
    return float(np.finfo(dt).eps)


def sub(dt):
    return float(np.finfo(dt).smallest_subnormal)


def draw_data(rng, shape, dt):
    kind = rng.choice(["normal", "ties", "sparse", "heavy"])
    y = {"normal": lambda: rng.standard_normal(shape),
         "ties": lambda: rng.integers(-3, 4, shape).astype(float),
         "sparse": lambda: rng.standard_normal(shape) * (rng.random(shape) < 0.3),
         "heavy": lambda: rng.standard_cauchy(shape)}[kind]()
    fi = np.finfo(dt)
    lo, hi = np.log2(float(fi.smallest_subnormal)) + 8, np.log2(float(fi.max)) - 12
    if rng.random() < 0.25:  # mixed magnitudes inside the array
        y = y * 2.0 ** rng.uniform(lo, hi, shape)
    else:
        y = y * 2.0 ** float(rng.uniform(lo, hi))
    y = np.clip(y, -float(fi.max) / 16, float(fi.max) / 16).astype(dt)
    if not np.any(y):
        y.flat[0] = 1.0
    return y, kind


def memory(rng, a):
    kind = rng.choice(["C", "F", "readonly", "negative", "noncontig", "broadcast"])
    if kind == "F":
        return np.asfortranarray(a), kind
    if kind == "readonly":
        b = a.copy()
        b.setflags(write=False)
        return b, kind
    if kind == "negative":
        return a.copy()[tuple(slice(None, None, -1) for _ in a.shape)], kind
    if kind == "noncontig":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        v = big[tuple(slice(None, None, 2) for _ in a.shape)]
        v[...] = a
        return v, kind
    if kind == "broadcast":
        return np.broadcast_to(a[:1], a.shape), kind
    return a, kind


def reference(y, r, ball, method, norms, levels):
    if method == "multilevel":
        return naive.ld_multilevel(y, r, norms, levels), naive.ld_multilevel_norm(y, norms, levels)
    return naive.ld_project(y, r, ball, method), naive.ld_norm(y, ball)


def ref_norm(x, ball, method, norms, levels):
    if method == "multilevel":
        return naive.ld_multilevel_norm(x, norms, levels)
    return naive.ld_norm(x, ball)


def torch_ops_project(t, r, ball, method, levels):
    ops = None
    for name in ("multiproj._torch.solvers", "multiproj._torch_ops"):
        try:
            ops = importlib.import_module(name)
            break
        except ImportError:
            continue
    from multiproj._core.ball import parse_ball

    b = parse_ball(ball)
    if method == "multilevel":
        return ops.project_multilevel(t, r, b, levels=levels)
    if method == "bilevel":
        return ops.project_bilevel(t, r, b, axes=(0,))
    return ops.project_exact(t, r, b, axes=None if b.is_flat else (0,))


CURRENT: dict = {}  # the case being run, for the failure report


def one_case(rng, torch):
    ball, method = BALLS[rng.integers(len(BALLS))]
    dt = [np.float32, np.float64][rng.integers(2)]
    norms, levels = None, None
    if method == "multilevel":
        norms = ("1",) + tuple(rng.choice(["1", "2", "inf"], 2))
        ball = "l" + ",".join(norms)
        shape = tuple(int(s) for s in rng.integers(1, 5, 3))
        levels = ((0,), (1,), (2,))
    elif method == "prox":
        ball = ["l1", "l1,2", "l1,inf"][rng.integers(3)]
        shape = tuple(int(s) for s in rng.integers(1, 8, 2))
    else:
        shape = tuple(int(s) for s in rng.integers(1, 8, 2))
    a, kind = draw_data(rng, shape, dt)
    frac = FRACS[rng.integers(len(FRACS))]
    desc = CURRENT
    desc.clear()
    desc.update(ball=ball, method=method, dtype=np.dtype(dt).name, shape=shape, data=kind, frac=frac)
    y, mk = memory(rng, a)
    a = np.array(y)  # the values the call sees (a broadcast view repeats its first slice)
    desc["memory"] = mk
    if method == "prox":
        big = float(np.max(np.abs(a.astype(np.float64))))
        lam = frac * big
        p = multiproj.prox(y, lam, ball)
        assert p.dtype == dt, "dtype"
        err = float(np.max(np.abs(p.astype(naive.LD) - naive.ld_prox(a, lam, ball))))
        assert err <= 16 * eps(dt) * big + 4 * sub(dt), f"prox error {err:.3g} (max|y| {big:.3g})"
        return desc
    ny_ref = reference(a, 0.0, ball, method, norms, levels)[1]
    r = frac * float(ny_ref)
    backend = ["numpy", "tensor", "torch-ops"][rng.integers(3)] if torch is not None else "numpy"
    desc["backend"] = backend
    kw = {"levels": levels} if method == "multilevel" else {}
    out_mode = "none"
    before = np.array(y, copy=True)
    if backend == "numpy":
        out_mode = rng.choice(["none", "separate", "inplace", "shift", "transpose"])
        if out_mode == "separate":
            out = np.empty(shape, dt, order=rng.choice(["C", "F"]))
            x = multiproj.project(y, r, ball, method=method, out=out, **kw)
            assert x is out
        elif out_mode == "inplace" and y.flags.writeable:
            y = y.copy()
            x = multiproj.project(y, r, ball, method=method, out=y, **kw)
        elif out_mode == "shift":
            n = a.size
            buf = np.zeros(n + 1, dt)
            yy = buf[1:].reshape(shape)
            yy[...] = a
            x = multiproj.project(yy, r, ball, method=method, out=buf[:n].reshape(shape), **kw)
        elif out_mode == "transpose" and len(set(shape)) == 1:
            yy = a.copy()
            x = multiproj.project(yy, r, ball, method=method, out=yy.T, **kw)
        else:
            out_mode = "none"
            x = multiproj.project(y, r, ball, method=method, **kw)
            np.testing.assert_array_equal(y, before, err_msg="input modified")
    elif backend == "tensor":
        t = torch.from_numpy(np.ascontiguousarray(a).copy())
        if rng.random() < 0.5 and a.ndim == 2:
            t = torch.from_numpy(np.ascontiguousarray(a.T).copy()).T
        x = multiproj.project(t, r, ball, method=method, **kw).numpy()
    else:
        x = torch_ops_project(torch.from_numpy(a.copy()), r, ball, method, levels)
        if x is None:
            return desc
        x = x.numpy()
    desc["out"] = out_mode
    assert x.dtype == dt, "dtype"
    assert np.isfinite(x).all(), "non-finite result"
    ref, _ = reference(a, r, ball, method, norms, levels)
    nx = ref_norm(x, ball, method, norms, levels)
    e = eps(dt)
    outer_l1 = ball not in ("l2", "linf")
    allowed = naive.LD(r) * (1 + 16 * e) + (16 * e * ny_ref if outer_l1 else 0) + 4 * a.size * sub(dt)
    assert nx <= allowed, f"infeasible: ||x|| {float(nx):.6g} > r {r:.6g} (||y|| {float(ny_ref):.3g})"
    big = float(np.max(np.abs(a.astype(np.float64))))
    err = float(np.max(np.abs(x.astype(naive.LD) - ref)))
    assert err <= 16 * e * big + 4 * sub(dt), f"error {err:.3g} vs max|y| {big:.3g}"
    fi = np.finfo(dt)
    if method == "exact" and 0.01 <= frac < 0.9 and big >= float(fi.smallest_normal) / e:
        gap = float(naive.ld_gap(a, x, r, ball))
        assert abs(gap) <= 32 * a.size * e, f"certificate gap {gap:.3g}"
    return desc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    rng = np.random.default_rng(args.seed)
    fails = Counter()
    seen = Counter()
    examples = {}
    for i in range(args.cases):
        state = rng.bit_generator.state
        try:
            desc = one_case(rng, torch)
            seen[(desc["ball"].count(",") > 1 and "multilevel" or desc["ball"], desc["method"])] += 1
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            case_rng = np.random.default_rng()
            case_rng.bit_generator.state = state
            key = f"{type(exc).__name__}: {str(exc).split(':')[0][:60]}"
            fails[key] += 1
            if key not in examples:
                examples[key] = (i, traceback.format_exc(limit=3) + f"\n{dict(CURRENT)}")
    print(f"{args.cases} cases, seed {args.seed}; by ball/method: {dict(seen)}")
    print(f"failures: {sum(fails.values())}")
    for key, n in fails.most_common():
        print(f"  {n:5d}  {key}  (first: case {examples[key][0]})")
        print("        " + examples[key][1].strip().splitlines()[-1])
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
