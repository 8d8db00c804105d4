"""Torch tensors through the public API (CPU: Numba kernels on zero-copy views), the torch-ops
device code path (run here on CPU tensors), in-place projection, and CUDA (skipped without
a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DTYPES, make_data, tol
from hypothesis import given, settings
from hypothesis import strategies as st

import naive

torch = pytest.importorskip("torch")

import multiproj  # noqa: E402
from multiproj._core.ball import parse_ball  # noqa: E402
from multiproj._torch import bridge as _torch  # noqa: E402
from multiproj._torch import primitives as _torch_prims  # noqa: E402
from multiproj._torch import solvers as _torch_ops  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
cuda_only = [pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")]
DEVICES = ["cpu", pytest.param("cuda", marks=cuda_only)]


def _cases():
    """(method, ball) for every ball of every registered method."""
    out = []
    for name, m in multiproj.METHODS.items():
        for ball in m.balls:
            out.append((name, ball))
    return out


CASES = _cases()


def _data(ball, dtype, seed=0):
    """Data for ``ball``: 2-D for flat and l1,q balls, order-k tensor for the k-level ones."""
    order = parse_ball(ball).order
    shape = {1: (7, 9), 2: (7, 9), 3: (4, 5, 6), 4: (3, 4, 3, 5)}[order]
    return make_data("normal", shape, dtype, seed)


def _kwargs(method, ball, y):
    if method == "multilevel":
        return {"levels": tuple(range(y.ndim))} if parse_ball(ball).order == y.ndim else {}
    return {} if parse_ball(ball).is_flat else {"axis": 0}


def _numpy_ref(y, radius, ball, method, **kw):
    try:
        return multiproj.project(y, radius, ball, method=method, **kw)
    except NotImplementedError as exc:  # a method/ball whose NumPy solver has not landed
        pytest.skip(str(exc))


def _radius(y, ball, method, kw, frac=0.3):
    nkw = {"levels": kw["levels"]} if "levels" in kw else ({"axis": kw["axis"]} if "axis" in kw else {})
    return frac * multiproj.norm(y, ball, **nkw)


# --------------------------------------------------------------------------- CPU = NumPy
@pytest.mark.parametrize("method,ball", CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_cpu_tensor_equals_numpy(method, ball, dtype):
    y = _data(ball, dtype)
    kw = _kwargs(method, ball, y)
    r = _radius(y, ball, method, kw)
    ref = _numpy_ref(y, r, ball, method, **kw)
    t = torch.from_numpy(y.copy())
    before = t.clone()
    res = multiproj.project(t, r, ball, method=method, **kw)
    assert isinstance(res, torch.Tensor) and type(res) is torch.Tensor
    assert res.dtype == t.dtype and res.device == t.device
    assert res.data_ptr() != t.data_ptr()
    assert torch.equal(t, before)  # input untouched
    np.testing.assert_array_equal(res.numpy(), ref)  # the same kernels: bit for bit
    assert multiproj.norm(res, ball, **_norm_kw(kw)) == multiproj.norm(ref, ball, **_norm_kw(kw))


def _norm_kw(kw):
    return {k: v for k, v in kw.items() if k in ("axis", "levels")}


# --------------------------------------------------------------------------- device code path
@pytest.mark.parametrize("method,ball", CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("frac", [0.3, 0.0, 2.0], ids=["outside", "zero", "inside"])
def test_torch_ops_equal_numpy(method, ball, dtype, frac):
    """The torch-ops solvers that CUDA tensors use, run on CPU tensors."""
    y = _data(ball, dtype, seed=1)
    kw = _kwargs(method, ball, y)
    r = _radius(y, ball, method, kw, frac)
    ref = _numpy_ref(y, r, ball, method, **kw)
    b = parse_ball(ball)
    solver = multiproj.METHODS[method].solver("torch")
    axes, levels = _axes_levels(method, b, y, kw)
    t = torch.from_numpy(y.copy())
    res = solver(t, r, b, axes=axes, levels=levels, out=None)
    assert res.dtype == t.dtype and res.data_ptr() != t.data_ptr()
    np.testing.assert_array_equal(t.numpy(), y)
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(res.numpy(), ref, rtol=rtol, atol=atol * max(1.0, r))
    # out= and in place give the same values
    o = torch.empty_like(t)
    assert solver(t, r, b, axes=axes, levels=levels, out=o) is o
    np.testing.assert_array_equal(o.numpy(), res.numpy())
    assert solver(t, r, b, axes=axes, levels=levels, out=t) is t
    np.testing.assert_array_equal(t.numpy(), res.numpy())


def _axes_levels(method, b, y, kw):
    if method == "multilevel":
        from multiproj._core.checks import check_levels

        return None, check_levels(kw.get("levels"), y.ndim, b)
    return (None if b.is_flat else (kw["axis"],)), None


@pytest.mark.parametrize("q", ["1", "2", "inf"])
@pytest.mark.parametrize("axis", [(0,), (1,), (0, 2)])
def test_torch_ops_bilevel_layouts_vs_naive(q, axis):
    y = make_data("ties", (4, 6, 5), np.float64, seed=3)
    ball = f"l1,{q}"
    r = 0.4 * naive.mixed_norm(y, q, axis)
    ref = naive.bilevel(y, r, q, axis)
    for t in (torch.from_numpy(y.copy()), torch.from_numpy(np.asfortranarray(y))):
        res = _torch_ops.project_bilevel(t, r, parse_ball(ball), axes=axis)
        np.testing.assert_allclose(res.numpy(), ref, rtol=1e-12, atol=1e-12)
        assert _torch_ops.norm(res, parse_ball(ball), axes=axis) == pytest.approx(r, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-10, 10, allow_nan=False, width=64), min_size=1, max_size=40),
    st.floats(0.0, 30.0),
)
def test_torch_ops_flat_l1_exact(values, radius):
    v = np.array(values)
    ref = naive.proj_l1(v, radius)
    res = _torch_ops.project_flat(torch.from_numpy(v), radius, parse_ball("l1")).numpy()
    np.testing.assert_allclose(res, ref, rtol=1e-12, atol=1e-12)
    assert np.all(res * v >= 0)  # signs kept
    if np.abs(v).sum() > radius:
        assert np.abs(res).sum() == pytest.approx(radius, rel=1e-12, abs=1e-12)
        if radius > 1e-3:  # the relative certificate is meaningless at rounding scale
            # x_i = |y_i| - tau rounds by eps |y_i| / 2, which is eps max|y| / tau of the gap
            tau = float(np.abs(v - res).max())
            assert naive.gap_l1(v, res, radius) <= 1e-9 + 4 * np.finfo(np.float64).eps * np.abs(v).max() / tau


def test_l1_thresholds_rows_vs_naive():
    a = np.abs(make_data("ties", (6, 11), np.float64, seed=4))
    r = np.array([0.0, 0.5, 3.0, 100.0, 7.0, 1e-9])
    tau = _torch_prims.l1_thresholds(torch.from_numpy(a), torch.from_numpy(r)).numpy()
    for g in range(6):
        if a[g].sum() > r[g] > 0:
            x = np.maximum(a[g] - tau[g], 0)
            np.testing.assert_allclose(x, naive.proj_l1(a[g], r[g]), atol=1e-12)
        elif r[g] >= a[g].sum():
            assert tau[g] <= 0


def test_primitives_match_numpy_backend():
    """group_norms -> outer_l1 -> apply_group_radii agree with the NumPy backend's."""
    from multiproj._cpu import groups
    from multiproj._cpu import primitives as cpu

    y = make_data("normal", (8, 30), np.float64, seed=5)
    t = torch.from_numpy(y)
    for q in ("1", "2", "inf"):
        v = _torch_prims.group_norms(t, q, (0,))
        assert v.shape == (1, 30) and v.dtype == torch.float64
        vn = groups.group_norms(y[None, :, :], q)  # canonical (A, N, B) = (1, 8, 30)
        np.testing.assert_allclose(v.numpy().ravel(), vn.ravel(), rtol=1e-12)
        vk = cpu.group_norms(y, q, (0,))  # the CPU primitive: same keepdims shape
        assert vk.shape == (1, 30)
        np.testing.assert_allclose(v.numpy(), vk, rtol=1e-12)
        u, inside = _torch_prims.outer_l1(v, 5.0)
        un, inside_n = cpu.outer_l1(vk, 5.0)
        assert inside == inside_n is False
        np.testing.assert_allclose(u.numpy(), un, rtol=1e-12, atol=1e-14)
        x = _torch_prims.apply_group_radii(t, q, v, u, (0,))
        np.testing.assert_allclose(x.numpy(), naive.bilevel(y, 5.0, q, 0), rtol=1e-12, atol=1e-12)
        xn = cpu.apply_group_radii(y, q, vk, un, (0,))
        np.testing.assert_allclose(xn, naive.bilevel(y, 5.0, q, 0), rtol=1e-12, atol=1e-12)
    tau = np.linspace(0.0, 1.5, 30).reshape(1, 30)
    ref = np.sign(y) * np.maximum(np.abs(y) - tau, 0.0)
    np.testing.assert_allclose(cpu.soft_threshold(y, tau, (0,)), ref, rtol=0, atol=1e-15)
    np.testing.assert_allclose(_torch_prims.soft_threshold(t, torch.from_numpy(tau), (0,)).numpy(), ref,
                               rtol=0, atol=1e-15)
    u, inside = _torch_prims.outer_l1(torch.ones(3, dtype=torch.float64), 10.0)
    assert inside is True and torch.equal(u, torch.ones(3, dtype=torch.float64))


def test_torch_ops_multilevel_equals_bilevel_on_reshape():
    """Tri-level l1,inf,inf = bi-level l1,inf of the d1 x (d2 d3) matrix [MLP s.4]."""
    y = make_data("normal", (5, 4, 3), np.float64, seed=6)
    t = torch.from_numpy(y)
    r = 2.0
    tri = _torch_ops.project_multilevel(t, r, parse_ball("l1,inf,inf"), levels=((0,), (1,), (2,)))
    bi = _torch_ops.project_bilevel(t.reshape(5, 12), r, parse_ball("l1,inf"), axes=(1,))
    np.testing.assert_allclose(tri.reshape(5, 12).numpy(), bi.numpy(), rtol=1e-12, atol=1e-14)


def test_torch_ops_nan_raises():
    y = torch.randn(4, 5, dtype=torch.float64)
    y[1, 2] = float("nan")
    for ball, solver in [("l1", "project_flat"), ("l2", "project_flat"), ("linf", "project_flat")]:
        with pytest.raises(ValueError, match="finite"):
            getattr(_torch_ops, solver)(y, 1.0, parse_ball(ball))
    for q in ("1", "2", "inf"):
        with pytest.raises(ValueError, match="finite"):
            _torch_ops.project_bilevel(y, 1.0, parse_ball(f"l1,{q}"), axes=(0,))


def test_torch_ops_float32_l2_overflow_is_not_nan():
    """Squares of 1e20 overflow float32: the group norms are redone in float64."""
    y = torch.full((3, 4), 1e20, dtype=torch.float32)
    res = _torch_ops.project_bilevel(y, 1e20, parse_ball("l1,2"), axes=(0,))
    ref = naive.bilevel(y.numpy(), 1e20, "2", 0)
    np.testing.assert_allclose(res.numpy(), ref, rtol=1e-6)


# --------------------------------------------------------------------------- CPU tensor details
def test_numpy_view_is_zero_copy():
    t = torch.randn(6, 8)
    for s in (t, t.t(), t[:, ::2]):
        a = _torch._numpy_view(s)
        assert a.__array_interface__["data"][0] == s.data_ptr()
        assert a.strides == tuple(x * s.element_size() for x in s.stride())


def test_requires_grad_and_non_contiguous_input():
    base = torch.randn(9, 7, dtype=torch.float64, requires_grad=True)
    y = base.t()  # non-contiguous, with a grad_fn
    res = multiproj.project(y, 1.0, "l1,inf", method="bilevel", axis=0)
    assert res.requires_grad and res.grad_fn is not None  # differentiable (see test_autograd)
    with torch.no_grad():
        res_ng = multiproj.project(y, 1.0, "l1,inf", method="bilevel", axis=0)
    assert not res_ng.requires_grad and res_ng.grad_fn is None
    torch.testing.assert_close(res.detach(), res_ng, rtol=0, atol=0)
    ref = multiproj.project(base.detach().numpy().T, 1.0, "l1,inf", method="bilevel", axis=0)
    np.testing.assert_array_equal(res.detach().numpy(), ref)
    assert multiproj.norm(y, "l1,inf", axis=0) == multiproj.norm(base.detach().numpy().T, "l1,inf", axis=0)


def test_neg_bit_tensor():
    neg_view = getattr(torch, "_neg_view", None)
    if neg_view is None:
        pytest.skip("torch._neg_view not available")
    t = torch.randn(5, 6, dtype=torch.float64)
    n = neg_view(t)
    assert n.is_neg()
    res = multiproj.project(n, 1.0, "l1,1", method="bilevel")
    np.testing.assert_array_equal(
        res.numpy(), multiproj.project(-t.numpy(), 1.0, "l1,1", method="bilevel")
    )


@pytest.mark.parametrize(
    "tdtype,expected",
    [(torch.int64, torch.float64), (torch.bool, torch.float64), (torch.float16, torch.float32),
     (torch.bfloat16, torch.float32)],
)
def test_dtype_policy(tdtype, expected):
    t = (torch.arange(12).reshape(3, 4) % 3).to(tdtype)
    res = multiproj.project(t, 2.0, "l1")
    assert res.dtype == expected
    np.testing.assert_allclose(res.numpy(), naive.proj_l1(t.to(torch.float64).numpy(), 2.0).reshape(3, 4), rtol=1e-6, atol=1e-6)
    assert multiproj.norm(t, "l1") == pytest.approx(float(t.to(torch.float64).abs().sum()))


def test_complex_and_sparse_rejected():
    with pytest.raises(TypeError, match="real"):
        multiproj.project(torch.zeros(3, dtype=torch.complex64), 1.0, "l1")
    with pytest.raises(TypeError, match="dense"):
        multiproj.project(torch.eye(3).to_sparse(), 1.0, "l1")


def test_out_tensor():
    y = torch.randn(5, 7)
    out = torch.empty(7, 5).t()  # a strided out
    assert multiproj.project(y, 1.0, "l1,2", method="bilevel", out=out) is out
    np.testing.assert_array_equal(out.numpy(), multiproj.project(y.numpy(), 1.0, "l1,2", method="bilevel"))
    with pytest.raises(TypeError, match="out"):
        multiproj.project(y, 1.0, "l1", out=np.empty((5, 7), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        multiproj.project(y, 1.0, "l1", out=torch.empty(5, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        multiproj.project(y, 1.0, "l1", out=torch.empty(7, 5))
    with pytest.raises(ValueError, match="distinct memory"):
        multiproj.project(y, 1.0, "l1", out=torch.empty(5, 1).expand(5, 7))


@pytest.mark.parametrize("method,ball", [("exact", "l1"), ("bilevel", "l1,inf"), ("multilevel", "l1,1")])
def test_project_inplace_tensor(method, ball):
    p = torch.nn.Parameter(torch.randn(6, 9, dtype=torch.float32))
    ref = multiproj.project(p.detach().numpy().copy(), 1.0, ball, method=method)
    ptr, version = p.data_ptr(), p._version
    assert multiproj.project_(p, 1.0, ball, method=method) is p
    assert p.data_ptr() == ptr and isinstance(p, torch.nn.Parameter) and p.requires_grad
    assert p._version > version  # autograd sees the in-place write
    np.testing.assert_array_equal(p.detach().numpy(), ref)


def test_project_inplace_strided_view_writes_storage():
    base = torch.randn(8, 10, dtype=torch.float64)
    view = base.t()
    ref = multiproj.project(view.numpy().copy(), 1.0, "l1,inf", method="bilevel")
    multiproj.project_(view, 1.0, "l1,inf", method="bilevel")
    np.testing.assert_array_equal(base.numpy().T, ref)


def test_project_inplace_errors():
    with pytest.raises(TypeError, match="float32 or float64"):
        multiproj.project_(torch.zeros(3, 4, dtype=torch.int32), 1.0, "l1")
    with pytest.raises(ValueError, match="distinct memory"):
        multiproj.project_(torch.zeros(3, 1).expand(3, 4), 1.0, "l1")


def test_empty_and_errors():
    e = torch.zeros(0, 4)
    res = multiproj.project(e, 1.0, "l1,inf", method="bilevel")
    assert res.shape == (0, 4) and res.dtype == torch.float32
    with pytest.raises(ValueError, match="finite"):
        multiproj.project(torch.tensor([1.0, float("inf")]), 1.0, "l1")
    with pytest.raises(ValueError, match="axis"):
        multiproj.project(torch.zeros(3, 4), 1.0, "l1,inf", method="bilevel", axis=3)
    with pytest.raises(ValueError, match="radius"):
        multiproj.project(torch.zeros(3, 4), -1.0, "l1")


def test_radius_may_be_a_tensor():
    y = torch.randn(4, 5)
    a = multiproj.project(y, torch.tensor(2.0), "l1")
    b = multiproj.project(y, 2.0, "l1")
    assert torch.equal(a, b)


# --------------------------------------------------------------------------- devices
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,ball", CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_device_result_equals_numpy(device, method, ball, dtype):
    y = _data(ball, dtype, seed=2)
    kw = _kwargs(method, ball, y)
    r = _radius(y, ball, method, kw)
    ref = _numpy_ref(y, r, ball, method, **kw)
    t = torch.from_numpy(y.copy()).to(device)
    res = multiproj.project(t, r, ball, method=method, **kw)
    assert res.device == t.device and res.dtype == t.dtype
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(res.cpu().numpy(), ref, rtol=rtol, atol=atol)
    nrm = multiproj.norm(res, ball, **_norm_kw(kw))
    assert nrm == pytest.approx(multiproj.norm(ref, ball, **_norm_kw(kw)), rel=1e-5)
    ptr = t.data_ptr()
    assert multiproj.project_(t, r, ball, method=method, **kw) is t and t.data_ptr() == ptr
    np.testing.assert_allclose(t.cpu().numpy(), ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("device", DEVICES)
def test_device_hook(device):
    import multiproj.nn as mpn

    lin = torch.nn.Linear(16, 4).to(device)
    opt = torch.optim.Adam(lin.parameters(), lr=0.05)
    mpn.register_projection(opt, lin.weight, 0.5, "l1,inf")
    x = torch.randn(8, 16, device=device)
    for _ in range(3):
        opt.zero_grad()
        lin(x).pow(2).sum().backward()
        opt.step()
        assert multiproj.norm(lin.weight, "l1,inf") <= 0.5 * (1 + 1e-5)
    assert lin.weight.device.type == device


# --------------------------------------------------------------------------- prox
PROX_NORMS = ["l1", "l1,2", "l1,inf"]


@pytest.mark.parametrize("norm", PROX_NORMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("lam", [0.0, 0.7, 50.0])
def test_prox_tensor_equals_numpy(norm, dtype, lam):
    y = make_data("normal", (6, 9), dtype, seed=7)
    ref = multiproj.prox(y, lam, norm, axis=0)
    t = torch.from_numpy(y.copy())
    res = multiproj.prox(t, lam, norm, axis=0)
    assert isinstance(res, torch.Tensor) and res.dtype == t.dtype and res.data_ptr() != t.data_ptr()
    np.testing.assert_array_equal(res.numpy(), ref)  # CPU: the NumPy code, bit for bit
    np.testing.assert_array_equal(t.numpy(), y)
    dev = _torch_ops.prox(t, lam, parse_ball(norm), axes=(0,))  # the device code path
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(dev.numpy(), ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("norm", PROX_NORMS)
def test_prox_device(device, norm):
    y = make_data("normal", (5, 8), np.float32, seed=8)
    ref = multiproj.prox(y, 0.5, norm, axis=1)
    res = multiproj.prox(torch.from_numpy(y).to(device), 0.5, norm, axis=1)
    assert res.device.type == device and res.dtype == torch.float32
    np.testing.assert_allclose(res.cpu().numpy(), ref, rtol=2e-5, atol=2e-5)


def test_flat_l1_prefilter_path(monkeypatch):
    """The Michelot pre-filter used for long vectors gives the same threshold."""
    y = make_data("ties", (40, 50), np.float64, seed=9)
    ref = naive.proj_l1(y, 25.0).reshape(y.shape)
    for limit in (1 << 20, 10):
        monkeypatch.setattr(_torch_prims, "_SORT_DIRECTLY", limit)
        res = _torch_ops.project_flat(torch.from_numpy(y), 25.0, parse_ball("l1"))
        np.testing.assert_allclose(res.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ball", ["l1", "l2", "linf", "l1,inf", "l1,1", "l1,2", "l1,2,inf"])
def test_torch_ops_norm_equals_numpy(ball):
    y = make_data("normal", (4, 5, 6), np.float64, seed=10)
    t = torch.from_numpy(y).permute(2, 0, 1)  # non-contiguous
    b = parse_ball(ball)
    if b.order == 3:
        kw, got = {"levels": (0, 1, 2)}, _torch_ops.norm(t, b, levels=((0,), (1,), (2,)))
    elif b.is_flat:
        kw, got = {}, _torch_ops.norm(t, b)
    else:
        kw, got = {"axis": 1}, _torch_ops.norm(t, b, axes=(1,))
    assert got == pytest.approx(multiproj.norm(t.numpy(), ball, **kw), rel=1e-12)
    assert _torch_ops.norm(torch.zeros(0, 3), parse_ball("l1")) == 0.0
