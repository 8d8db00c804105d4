"""Differentiable projections and prox (multiproj._autograd): exact VJPs checked by
torch.autograd.gradcheck in float64.

Keeping away from kinks.  The maps are piecewise linear or smooth; gradcheck's central
differences (eps = 1e-6) are only meaningful where the active sets do not change within
eps of the point.  Every test point is built with distinct magnitudes separated by gaps
(a random permutation of an evenly spaced grid, random signs), and the radius is picked
from a fixed list of fractions of the norm as the first one whose *kink margin* exceeds
``MARGIN``: the smallest distance, over every comparison that decides an active set
(entries against clip levels and thresholds, group norms against the outer threshold,
the two largest entries of every fibre whose maximum is taken, the norm against the
radius), computed by :func:`kink_margin` from the forward result.  The margin is asserted,
so a point near a kink fails the test instead of passing by luck.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import multiproj
from multiproj._core.ball import parse_ball
from multiproj._torch import autograd as _autograd
from multiproj.nn import Projection

MARGIN = 1e-3
FRACTIONS = (0.35, 0.55, 0.2, 0.7, 0.45, 0.8, 0.3, 0.6, 0.15, 0.9, 0.25, 0.4, 0.5, 0.65)
ROOT = Path(__file__).resolve().parents[1]

# (ball, method, shape, axis, levels)
CASES = [
    ("l1", "exact", (5, 6), None, None),
    ("l2", "exact", (5, 6), None, None),
    ("linf", "exact", (5, 6), None, None),
    ("l1,1", "exact", (5, 6), 0, None),
    ("l1,2", "exact", (5, 6), 0, None),
    ("l1,inf", "exact", (5, 6), 0, None),
    ("l1,inf", "exact", (4, 7), 1, None),
    ("l1,inf", "exact", (3, 4, 3), (0, 2), None),
    ("l1,inf", "bilevel", (5, 6), 0, None),
    ("l1,inf", "bilevel", (4, 7), 1, None),
    ("l1,1", "bilevel", (5, 6), 0, None),
    ("l1,1", "bilevel", (4, 7), 1, None),
    ("l1,2", "bilevel", (5, 6), 0, None),
    ("l1,2", "bilevel", (3, 4, 3), (0, 2), None),
    ("l1,inf", "multilevel", (5, 6), 0, (1, 0)),
    ("l1,inf,inf", "multilevel", (3, 4, 3), 0, None),
    ("l1,1,1", "multilevel", (3, 4, 3), 0, None),
    ("l1,2,inf", "multilevel", (3, 4, 3), 0, None),
    ("l1,inf,2", "multilevel", (3, 4, 3), 0, (2, 0, 1)),
    ("l1,1,inf", "multilevel", (3, 4, 3), 0, None),
    ("l1,inf,1", "multilevel", (3, 4, 3), 0, (1, 2, 0)),
    ("l1,2,1", "multilevel", (3, 4, 3), 0, ((0,), (2,), (1,))),
    ("l1,inf,2,1", "multilevel", (2, 3, 2, 3), 0, None),
    ("l1,inf,inf", "multilevel", (2, 3, 2, 3), 0, ((0, 3), (1,), (2,))),
]
PROX = [("l1", (5, 6), 0), ("l1,2", (5, 6), 0), ("l1,2", (4, 7), 1), ("l1,inf", (5, 6), 0),
        ("l1,inf", (4, 7), 1)]


def _ids(cases):
    return ["-".join(str(c) for c in case if c is not None).replace(" ", "") for case in cases]


def gapped(shape, seed, dtype=torch.float64):
    """Distinct magnitudes in [0.5, 3] separated by gaps, random signs and order."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = np.linspace(0.5, 3.0, n)[rng.permutation(n)]
    signs = rng.choice([-1.0, 1.0], size=n)
    return torch.tensor((mags * signs).reshape(shape), dtype=dtype)


# --------------------------------------------------------------------------- kink margins
def _spec(case, ndim):
    ball, method, _, axis, levels = case
    return _autograd._spec(ndim, parse_ball(ball), method, axis, levels)


def _fibre_top2_gap(v, dims):
    """Smallest gap between the two largest entries of the fibres of ``v`` along ``dims``."""
    keep = [d for d in range(v.ndim) if d not in dims]
    m = v.permute(keep + list(dims)).reshape(-1, int(np.prod([v.shape[d] for d in dims])))
    if m.shape[1] < 2:
        return np.inf
    top = torch.topk(m, 2, dim=1).values
    return float((top[:, 0] - top[:, 1]).min())


def _l1_margin(v, w, u, dims):
    """Margin of the l1 projections of the fibres of ``v >= 0`` (radius ``u``, result ``w``):
    the distance of every entry to its fibre's threshold (changed fibres only)."""
    changed = u < _norm(v, "1", dims) if dims else None
    cnt = (w > 0).sum(dim=dims, keepdim=True) if dims else (w > 0).sum()
    tot = torch.where(w > 0, v, 0.0).sum(dim=dims, keepdim=True) if dims else torch.where(w > 0, v, 0.0).sum()
    tau = (tot - u) / cnt.clamp_min(1)
    d = (v - tau).abs()
    if changed is not None:
        d = torch.where(changed & (cnt > 0), d, np.inf)
    return float(d.min())


def _norm(t, q, dims):
    return _autograd._aggregate(t, q, dims)


def kink_margin(case, y, x, r) -> float:
    """Distance (in the data's units) from ``(y, r)`` to the nearest change of active set."""
    spec = _spec(case, y.ndim)
    a = y.abs()
    if spec.kind == "linf":
        return float((a - r).abs().min())
    if spec.kind == "l2":
        return abs(float(torch.linalg.vector_norm(y)) - r)
    if spec.kind == "l1inf":
        axes = spec.axes
        total = float(_norm(a, "inf", axes).sum())
        if total <= r:
            return r - total
        mu = torch.amax(x.abs(), dim=axes, keepdim=True)
        act = mu > 0
        excess = torch.where(a > mu, a - mu, 0.0).sum(dim=axes, keepdim=True)
        theta = float(excess[act].max())
        l1 = a.sum(dim=axes, keepdim=True)
        m = [float(torch.where(act, (a - mu).abs(), np.inf).min()), float(mu[act].min())]
        if (~act).any():
            m.append(float((theta - l1[~act]).min()))
        return min(m)
    norms, levels = spec.norms, spec.levels
    k = len(norms)
    V, U = [None] * (k + 1), [None] * (k + 1)
    V[k], U[k] = a, x.abs()
    for lvl in range(k, 1, -1):
        V[lvl - 1] = _norm(V[lvl], norms[lvl - 1], levels[lvl - 1])
        U[lvl - 1] = _norm(U[lvl], norms[lvl - 1], levels[lvl - 1])
    total = float(V[1].sum())
    if total <= r:
        return r - total
    m = [_l1_margin(V[1].reshape(-1), U[1].reshape(-1), r, ())]
    for lvl in range(2, k + 1):
        q, dims = norms[lvl - 1], levels[lvl - 1]
        v, w, u, n = V[lvl], U[lvl], U[lvl - 1], V[lvl - 1]
        if q == "inf":
            m.append(_fibre_top2_gap(v, dims))
            changed = (u < n) & (u > 0)
            m.append(float(torch.where(changed, (v - u).abs(), np.inf).min()))
        elif q == "1":
            m.append(_l1_margin(v, w, u, dims))
    return min(m)


def prox_margin(name, axes, y, x, lam) -> float:
    a = y.abs()
    if name == "l1":
        return float((a - lam).abs().min())
    if name == "l1,2":
        return float((torch.linalg.vector_norm(y, 2.0, dim=axes) - lam).abs().min())
    l1 = a.sum(dim=axes, keepdim=True)
    tau = torch.amax(x.abs(), dim=axes, keepdim=True)  # the l1 thresholds of active groups
    act = l1 > lam
    m = [float((l1 - lam).abs().min())]
    if act.any():
        m.append(float(torch.where(act, (a - tau).abs(), np.inf).min()))
    return min(m)


def outside_point(case, seed=0):
    """A gapped point and a radius (outside the ball) at a kink margin > MARGIN."""
    ball, method, shape, axis, levels = case
    for s in range(seed, seed + 20):
        y = gapped(shape, s)
        nrm = multiproj.norm(y, ball, axis=axis, levels=levels if method == "multilevel" else None)
        for f in FRACTIONS:
            r = f * nrm
            x = multiproj.project(y, r, ball, method=method, axis=axis, levels=levels)
            if kink_margin(case, y, x, r) > MARGIN:
                return y, r
    raise AssertionError(f"no point away from kinks for {case}")


def _fn(case):
    ball, method, _, axis, levels = case
    return lambda y, r: multiproj.project(y, r, ball, method=method, axis=axis, levels=levels)


# --------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_gradcheck_outside(case):
    y, r = outside_point(case)
    x = multiproj.project(y, r, case[0], method=case[1], axis=case[3], levels=case[4])
    assert not torch.equal(x, y)  # really outside
    assert kink_margin(case, y, x, r) > MARGIN
    yy = y.clone().requires_grad_()
    rr = torch.tensor(r, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_fn(case), (yy, rr), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_gradcheck_inside_is_identity(case):
    ball, method, shape, axis, levels = case
    y = gapped(shape, 3)
    nrm = multiproj.norm(y, ball, axis=axis, levels=levels if method == "multilevel" else None)
    r = 1.25 * nrm
    x = multiproj.project(y, r, ball, method=method, axis=axis, levels=levels)
    assert torch.equal(x, y) and kink_margin(case, y, x, r) > MARGIN
    yy = y.clone().requires_grad_()
    rr = torch.tensor(r, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_fn(case), (yy, rr), eps=1e-6, atol=1e-8, rtol=1e-6)
    g = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gy, gr = torch.autograd.grad(_fn(case)(yy, rr), (yy, rr), g)
    assert torch.equal(gy, g) and float(gr) == 0.0  # the identity, exactly


@pytest.mark.parametrize("case", PROX, ids=_ids(PROX))
@pytest.mark.parametrize("regime", ["small", "large"])
def test_gradcheck_prox(case, regime):
    name, shape, axis = case
    axes = tuple(range(len(shape))) if name == "l1" else (axis,)
    factors = (0.4, 0.33, 0.47) if regime == "small" else (1.05, 1.13, 1.21)
    for seed, f in [(s, f) for s in range(20) for f in factors]:
        y = gapped(shape, seed)
        a = y.abs()
        scale = {"l1": float(a.median()), "l1,2": float(torch.linalg.vector_norm(y, 2.0, dim=axes).median()),
                 "l1,inf": float(a.sum(dim=axes).median())}[name]
        lam = f * scale
        x = multiproj.prox(y, lam, name, axis=axis)
        if prox_margin(name, axes, y, x, lam) > MARGIN:
            break
    assert prox_margin(name, axes, y, x, lam) > MARGIN
    assert not torch.equal(x, y)
    if regime == "large":  # some entries (groups) zeroed, others kept
        assert bool((x == 0).any()) and bool((x != 0).any())
    yy = y.clone().requires_grad_()
    ll = torch.tensor(lam, dtype=torch.float64, requires_grad=True)
    fn = lambda y, lam: multiproj.prox(y, lam, name, axis=axis)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (yy, ll), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_l1_jacobian_is_sparsemax_formula():
    """Dense check of the flat l1 Jacobian diag(1_S) - s s^T / |S| on a small vector."""
    y = gapped((7,), 5)
    r = 2.0
    x = multiproj.project(y, r, "l1")
    S = x != 0
    s = torch.sign(y) * S
    J_ref = torch.diag(S.to(torch.float64)) - torch.outer(s, s) / S.sum()
    J = torch.autograd.functional.jacobian(lambda t: multiproj.project(t, r, "l1"), y.clone())
    torch.testing.assert_close(J, J_ref, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- forward
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_forward_identical_to_non_differentiable_path(case, dtype):
    ball, method, shape, axis, levels = case
    y = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(2))
    r = 0.4 * multiproj.norm(y, ball, axis=axis, levels=levels if method == "multilevel" else None)
    ref = multiproj.project(y, r, ball, method=method, axis=axis, levels=levels)
    yy = y.clone().requires_grad_()
    res = multiproj.project(yy, r, ball, method=method, axis=axis, levels=levels)
    assert res.grad_fn is not None and res.dtype == dtype
    assert torch.equal(res.detach(), ref)
    res.backward(torch.ones_like(res))
    assert yy.grad.dtype == dtype and torch.isfinite(yy.grad).all()
    with torch.no_grad():  # grad mode off: today's path
        assert multiproj.project(yy, r, ball, method=method, axis=axis, levels=levels).grad_fn is None


@pytest.mark.parametrize("name,shape,axis", PROX)
def test_prox_forward_identical(name, shape, axis):
    y = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    ref = multiproj.prox(y, 0.5, name, axis=axis)
    res = multiproj.prox(y.clone().requires_grad_(), 0.5, name, axis=axis)
    assert res.grad_fn is not None and torch.equal(res.detach(), ref)


def test_float32_gradients_match_float64():
    case = ("l1,inf", "bilevel", (5, 6), 0, None)
    y, r = outside_point(case)
    g = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    grads = []
    for dt in (torch.float64, torch.float32):
        yy = y.to(dt).requires_grad_()
        rr = torch.tensor(r, dtype=dt, requires_grad=True)
        out = multiproj.project(yy, rr, "l1,inf", method="bilevel", axis=0)
        gy, gr = torch.autograd.grad(out, (yy, rr), g.to(dt))
        assert gy.dtype == dt and gr.dtype == dt
        grads.append((gy.double(), gr.double()))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-5, atol=1e-5)


def test_radius_tensor_only():
    """A radius that requires grad with data that does not: the result is differentiable in
    the radius only; a plain float radius gives no radius gradient."""
    y = gapped((5, 6), 7)
    r = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    out = multiproj.project(y, r, "l1,inf", method="exact", axis=0)
    assert out.grad_fn is not None
    (gr,) = torch.autograd.grad(out.sum(), r)
    assert gr.shape == () and float(gr) != 0.0
    lam = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (gl,) = torch.autograd.grad(multiproj.prox(y, lam, "l1").sum(), lam)
    assert float(gl) == -float((torch.sign(y) * (y.abs() > 0.5)).sum())  # d soft(y, lam) / d lam


def test_radius_derivative_is_the_radius_sensitivity():
    """dL/dr against the exact difference quotient of a piecewise-linear map (no kink between
    r and r + h)."""
    for case in CASES:
        if case[0] in ("l2", "l1,2") or case[0].count("2"):
            continue
        y, r = outside_point(case)
        g = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        rr = torch.tensor(r, dtype=torch.float64, requires_grad=True)
        (gr,) = torch.autograd.grad(_fn(case)(y, rr), rr, g)
        h = 1e-7
        fd = float(((_fn(case)(y, r + h) - _fn(case)(y, r)) * g).sum()) / h
        assert abs(float(gr) - fd) < 1e-6 * max(1.0, abs(fd)), case


@pytest.mark.parametrize("case", [c for c in CASES if c[0] not in ("l2", "linf")], ids=_ids(
    [c for c in CASES if c[0] not in ("l2", "linf")]))
def test_radius_zero_right_derivative(case):
    """At radius 0 the radius gradient is the right derivative: P(y, h) / h for small h
    (P(y, 0) = 0 and the map is linear in r on [0, h])."""
    y = gapped(case[2], 11)
    g = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    rr = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    yy = y.clone().requires_grad_()
    out = _fn(case)(yy, rr)
    assert torch.count_nonzero(out) == 0
    gy, gr = torch.autograd.grad(out, (yy, rr), g)
    h = 1e-8
    fd = float((_fn(case)(y, h) * g).sum()) / h
    assert abs(float(gr) - fd) < 1e-5 * max(1.0, abs(fd))
    assert torch.count_nonzero(gy) == 0 or case[0].endswith("2")  # x = 0 stays 0 near y


def test_outside_autograd_paths_unchanged():
    p = torch.nn.Parameter(torch.randn(5, 6, dtype=torch.float64))
    ptr = p.data_ptr()
    multiproj.project_(p, 1.0, "l1,inf", method="bilevel")
    assert p.data_ptr() == ptr and p.grad_fn is None
    out = torch.empty(5, 6, dtype=torch.float64)
    res = multiproj.project(p, 1.0, "l1,inf", method="bilevel", out=out)
    assert res is out and out.grad_fn is None


def test_bad_radius_tensor():
    y = torch.randn(3, 4, requires_grad=True)
    with pytest.raises(TypeError, match="'radius'"):
        multiproj.project(y, torch.ones(2, requires_grad=True), "l1")
    with pytest.raises(ValueError, match="'radius'"):
        multiproj.project(y, torch.tensor(-1.0, requires_grad=True), "l1")


# --------------------------------------------------------------------------- layer
def test_projection_layer_learns_radius():
    torch.manual_seed(0)
    layer = Projection(3.0, "l1,inf", method="bilevel", axis=0, learn_radius=True)
    assert isinstance(layer.rho, torch.nn.Parameter)
    assert abs(float(layer.radius.detach()) - 3.0) < 1e-12
    y = gapped((5, 6), 1).requires_grad_()
    out = layer(y)
    ref = multiproj.project(y.detach(), 3.0, "l1,inf", method="bilevel", axis=0)
    torch.testing.assert_close(out.detach(), ref, rtol=1e-12, atol=1e-12)
    (out * torch.arange(30.0, dtype=torch.float64).reshape(5, 6)).sum().backward()
    assert layer.rho.grad is not None and float(layer.rho.grad) != 0.0 and y.grad is not None
    with torch.no_grad():
        layer.rho.fill_(-50.0)
    assert float(layer.radius.detach()) > 0.0  # softplus keeps it positive
    fixed = Projection(2.0, "l1")
    assert fixed.method == "exact" and not list(fixed.parameters())
    assert "_radius" in dict(fixed.named_buffers())
    with pytest.raises(ValueError, match="'radius'"):
        Projection(0.0, "l1", learn_radius=True)
    assert "l1,inf" in repr(layer)


def test_projection_layer_as_weight_parametrization():
    from torch.nn.utils import parametrize

    torch.manual_seed(0)
    lin = torch.nn.Linear(6, 3).double()
    parametrize.register_parametrization(lin, "weight", Projection(0.5, "l1,inf", axis=0))
    assert multiproj.norm(lin.weight.detach(), "l1,inf", axis=0) <= 0.5 + 1e-12
    lin(torch.randn(4, 6, dtype=torch.float64)).sum().backward()
    assert lin.parametrizations.weight.original.grad is not None


# --------------------------------------------------------------------------- devices
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_cuda_matches_cpu(case):
    y, r = outside_point(case)
    g = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    res = []
    for dev in ("cpu", "cuda"):
        yy = y.to(dev).requires_grad_()
        rr = torch.tensor(r, dtype=torch.float64, device=dev, requires_grad=True)
        out = _fn(case)(yy, rr)
        assert out.device.type == dev
        gy, gr = torch.autograd.grad(out, (yy, rr), g.to(dev))
        res.append((out.detach().cpu(), gy.cpu(), gr.cpu()))
    for a, b in zip(*res):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    yy = y.cuda().requires_grad_()
    rr = torch.tensor(r, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(_fn(case), (yy, rr), eps=1e-6, atol=1e-8, rtol=1e-6)


# --------------------------------------------------------------------------- example
def test_gallery_example_runs(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    script = ROOT / "examples" / "plot_differentiable_layer.py"
    env = dict(os.environ, MPLBACKEND="Agg", NUMBA_NUM_THREADS="1",
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "selected features" in proc.stdout
    assert "learned radius" in proc.stdout


def _torch_vjp(spec, y, x, g, r):
    """The torch-operations VJP (the path of device tensors) of a projection."""
    if spec.kind == "l1inf":
        return _autograd._vjp_l1inf(y, x, g, r, spec.axes)
    if spec.kind == "linf":
        return _autograd._vjp_linf(y, x, g, r)
    if spec.kind == "l2":
        return _autograd._vjp_l2(y, x, g, r)
    return _autograd._vjp_levels(y, x, g, r, spec.norms, spec.levels)


@pytest.mark.parametrize("layout", ["c", "t", "strided"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_numba_vjps_match_torch_vjps(layout, dtype):
    """The fused CPU kernels (flat l1, l2, linf, exact l1,inf, bi-level l1,inf / l1,1 /
    l1,2) agree with the torch formulas, on C-ordered, transposed and strided data, and with an expanded gradient."""
    gen = torch.Generator().manual_seed(9)
    base = torch.randn(12, 9, dtype=dtype, generator=gen)
    y = {"c": base, "t": base.t(), "strided": base[::2, 1:]}[layout]
    cases = [("l1,inf", "bilevel", 0), ("l1,inf", "bilevel", 1), ("l1,inf", "exact", 0),
             ("l1,inf", "exact", 1), ("l1", "exact", None), ("l1,2", "bilevel", 0),
             ("l1,2", "exact", 1), ("l1,1", "bilevel", 0), ("l1,1", "bilevel", 1),
             ("linf", "exact", None), ("l2", "exact", None)]
    grads = [torch.randn(y.shape, dtype=dtype, generator=gen), torch.ones(()).to(dtype).expand(y.shape)]
    for ball, method, axis in cases:
        r = 0.3 * multiproj.norm(y, ball, axis=axis)
        x = multiproj.project(y, r, ball, method=method, axis=axis)
        spec = _autograd._spec(y.ndim, parse_ball(ball), method, axis, None)
        for g in grads:
            fast = _autograd._cpu_vjp(spec, y, x, g, r)
            assert fast is not None
            ref = _torch_vjp(spec, y, x, g, r)
            tol = 1e-12 if dtype == torch.float64 else 1e-5
            torch.testing.assert_close(fast[0], ref[0], rtol=tol, atol=tol)
            torch.testing.assert_close(fast[1], ref[1].to(dtype), rtol=tol, atol=tol)
    t3 = torch.randn(3, 4, 5, dtype=dtype, generator=gen)  # reduced axes not adjacent: a copy
    for ball, method in (("l1,inf", "bilevel"), ("l1,inf", "exact"), ("l1,2", "bilevel"),
                         ("l1,1", "bilevel")):
        r = 0.3 * multiproj.norm(t3, ball, axis=(0, 2))
        x = multiproj.project(t3, r, ball, method=method, axis=(0, 2))
        spec = _autograd._spec(3, parse_ball(ball), method, (0, 2), None)
        g = torch.randn(t3.shape, dtype=dtype, generator=gen)
        fast = _autograd._cpu_vjp(spec, t3, x, g, r)
        ref = _torch_vjp(spec, t3, x, g, r)
        torch.testing.assert_close(fast[0], ref[0], rtol=1e-5, atol=1e-5)
