"""Every ball x method on every kind of memory: read-only arrays, memory-mapped files,
``np.frombuffer``, broadcast (zero-stride) arrays, Fortran order, negative strides,
non-contiguous slices, ``out=`` that overlaps the input, ``out=`` with a zero stride, masked
arrays, and strided / expanded CPU tensors.

Each result is compared with the same call on a fresh C-contiguous copy of the input, its
dtype is checked, and the input is checked to be untouched (unless it is ``out``).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import multiproj

# id -> (shape, function of (y, out) returning the result; out=None for a new array)
PROJECT_CASES = {
    "l1/exact": ((6, 5), dict(ball="l1", method="exact")),
    "l2/exact": ((6, 5), dict(ball="l2", method="exact")),
    "linf/exact": ((6, 5), dict(ball="linf", method="exact")),
    "l1,inf/exact": ((6, 5), dict(ball="l1,inf", method="exact")),
    "l1,inf/exact/axis1": ((6, 5), dict(ball="l1,inf", method="exact", axis=1)),
    "l1,inf/bilevel": ((6, 5), dict(ball="l1,inf", method="bilevel")),
    "l1,inf/bilevel/axis1": ((6, 5), dict(ball="l1,inf", method="bilevel", axis=1)),
    "l1,1/exact": ((6, 5), dict(ball="l1,1", method="exact")),
    "l1,1/bilevel": ((6, 5), dict(ball="l1,1", method="bilevel")),
    "l1,1/bilevel/axis1": ((6, 5), dict(ball="l1,1", method="bilevel", axis=1)),
    "l1,2/exact": ((6, 5), dict(ball="l1,2", method="exact")),
    "l1,2/bilevel": ((6, 5), dict(ball="l1,2", method="bilevel")),
    "l1,2/bilevel/axis1": ((6, 5), dict(ball="l1,2", method="bilevel", axis=1)),
    "l1,inf,inf/multilevel": ((4, 5, 6), dict(ball="l1,inf,inf", method="multilevel")),
    "l1,2,2/multilevel": ((4, 5, 6), dict(ball="l1,2,2", method="multilevel")),
    "l1,1,inf/multilevel": ((4, 5, 6), dict(ball="l1,1,inf", method="multilevel")),
    "l1,inf,inf/multilevel/levels": ((4, 5, 6), dict(ball="l1,inf,inf", method="multilevel", levels=(2, 0, 1))),
    # batched flat balls: one ball per column / row / index of the axes left out, each with
    # its own radius (an array of the batch shape, its keepdims form, or a broadcast view)
    "l1/batched/axis0": ((6, 5), dict(ball="l1", method="exact", axis=0)),
    "l1/batched/axis1": ((6, 5), dict(ball="l1", method="exact", axis=1)),
    "l2/batched/axis0": ((6, 5), dict(ball="l2", method="exact", axis=0)),
    "linf/batched/axis1": ((6, 5), dict(ball="linf", method="exact", axis=1)),
    "l1/batched/axis02": ((4, 5, 6), dict(ball="l1", method="exact", axis=(0, 2))),
    "l2/batched/axis2": ((4, 5, 6), dict(ball="l2", method="exact", axis=2)),
    "l1/batched/axis0/keepdims_radius": ((6, 5), dict(ball="l1", method="exact", axis=0, radius="keepdims")),
    "l1/batched/axis1/broadcast_radius": ((6, 5), dict(ball="l1", method="exact", axis=1, radius="broadcast")),
}
PROX_CASES = {
    "prox/l1": ((6, 5), dict(norm="l1")),
    "prox/l1,2": ((6, 5), dict(norm="l1,2")),
    "prox/l1,2/axis1": ((6, 5), dict(norm="l1,2", axis=1)),
    "prox/l1,inf": ((6, 5), dict(norm="l1,inf")),
    "prox/l1,inf/axis1": ((6, 5), dict(norm="l1,inf", axis=1)),
}
ALL_CASES = {**PROJECT_CASES, **PROX_CASES}


def _norm_kwargs(kw):
    if kw["method"] == "multilevel":
        return {"levels": kw["levels"]} if "levels" in kw else {}
    return {"axis": kw["axis"]} if "axis" in kw else {}


def _values(y):
    """A NumPy copy of the values of ``y`` (array, masked array or tensor)."""
    if isinstance(y, np.ma.MaskedArray):
        return np.array(y.data)
    if type(y).__module__.startswith("torch"):
        return y.detach().resolve_neg().numpy().copy()
    return np.array(y)


def call(case, y, out=None):
    """The case's projection (radius 0.3 x the norm: well outside the ball) or prox
    (strength 0.4 x the largest magnitude)."""
    shape, kw = ALL_CASES[case]
    if case.startswith("prox"):
        lam = 0.4 * float(np.max(np.abs(_values(y))))
        return multiproj.prox(y, lam, kw["norm"], axis=kw.get("axis", 0))
    kw = dict(kw)
    ball, method, form = kw.pop("ball"), kw.pop("method"), kw.pop("radius", None)
    r = 0.3 * multiproj.norm(_values(y), ball, **_norm_kwargs(ALL_CASES[case][1]))
    if form == "keepdims":  # the balls' axis kept with length 1
        r = np.expand_dims(r, kw["axis"])
    elif form == "broadcast":  # a read-only zero-stride view: one radius for every ball
        r = np.broadcast_to(np.min(r, keepdims=True), r.shape)
    return multiproj.project(y, r, ball, method=method, out=out, **kw)


def tolerance(dtype):
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)


def base(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _slices_reversed(ndim):
    return tuple(slice(None, None, -1) for _ in range(ndim))


# name -> function (C-contiguous base array, tmp_path) -> array of the same shape
def _readonly(a, tmp):
    b = a.copy()
    b.setflags(write=False)
    return b


def _mmap(a, tmp):
    f = tmp / "y.npy"
    np.save(f, a)
    return np.load(f, mmap_mode="r")


def _mmap_fortran(a, tmp):
    f = tmp / "yf.npy"
    np.save(f, np.asfortranarray(a))
    return np.load(f, mmap_mode="r")


def _mmap_copy_on_write(a, tmp):
    f = tmp / "yc.npy"
    np.save(f, a)
    return np.load(f, mmap_mode="c")


def _frombuffer(a, tmp):
    return np.frombuffer(a.tobytes(), dtype=a.dtype).reshape(a.shape)


def _broadcast(a, tmp):
    return np.broadcast_to(a[:1], a.shape)


def _broadcast_inner(a, tmp):
    return np.broadcast_to(a[..., :1], a.shape)


def _fortran(a, tmp):
    return np.asfortranarray(a)


def _negative(a, tmp):
    return a.copy()[_slices_reversed(a.ndim)]


def _negative_first(a, tmp):
    return a.copy()[::-1]


def _noncontiguous(a, tmp):
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
    v = big[tuple(slice(1, None, 2) for _ in a.shape)]
    v[...] = a
    return v


def _noncontiguous_readonly(a, tmp):
    v = _noncontiguous(a, tmp)
    v.setflags(write=False)
    return v


def _transposed_readonly(a, tmp):
    b = np.ascontiguousarray(np.transpose(a)).T  # same values, reversed memory order
    b.setflags(write=False)
    return b


KINDS = {
    "readonly": _readonly,
    "mmap": _mmap,
    "mmap_fortran": _mmap_fortran,
    "mmap_copy_on_write": _mmap_copy_on_write,
    "frombuffer": _frombuffer,
    "broadcast": _broadcast,
    "broadcast_inner": _broadcast_inner,
    "fortran": _fortran,
    "negative_strides": _negative,
    "negative_first_axis": _negative_first,
    "noncontiguous": _noncontiguous,
    "noncontiguous_readonly": _noncontiguous_readonly,
    "transposed_readonly": _transposed_readonly,
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case", list(ALL_CASES))
def test_memory_kind(case, kind, dtype, tmp_path):
    shape = ALL_CASES[case][0]
    y = KINDS[kind](base(shape, dtype), tmp_path)
    before = np.array(y, copy=True)
    expected = call(case, np.ascontiguousarray(before.copy()))
    res = call(case, y)
    assert isinstance(res, np.ndarray) and res.dtype == dtype and res.shape == shape
    np.testing.assert_allclose(res, expected, **tolerance(dtype))
    np.testing.assert_array_equal(y, before)  # input untouched
    assert not np.shares_memory(res, y)
    if kind.startswith("mmap") and kind != "mmap_copy_on_write":
        np.testing.assert_array_equal(np.load(tmp_path / ("yf.npy" if "fortran" in kind else "y.npy")), before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(ALL_CASES))
def test_masked_array_raises(case, dtype):
    shape = ALL_CASES[case][0]
    a = base(shape, dtype)
    mask = np.zeros(shape, dtype=bool)
    mask.flat[::3] = True
    y = np.ma.masked_array(a, mask=mask)
    with pytest.raises(TypeError, match="'y'") as info:
        call(case, y)
    assert "mask" in str(info.value)
    np.testing.assert_array_equal(y.data, a)
    np.testing.assert_array_equal(y.mask, mask)


def test_masked_array_every_entry_point():
    y = np.ma.masked_array([3.0, 100.0], mask=[0, 1])
    for fn in (
        lambda: multiproj.project(y, 1.0, "l1"),
        lambda: multiproj.project_(y, 1.0, "l1"),
        lambda: multiproj.norm(y, "l1"),
        lambda: multiproj.prox(y, 1.0, "l1"),
    ):
        with pytest.raises(TypeError, match="'y'.*mask|mask.*'y'"):
            fn()
    # a masked array without any masked entry is refused too: the mask would be dropped
    with pytest.raises(TypeError, match="'y'"):
        multiproj.project(np.ma.masked_array([3.0, 1.0]), 1.0, "l1")


# --------------------------------------------------------------------------- out=
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shift", [1, 3, -1, -4])
@pytest.mark.parametrize("case", list(PROJECT_CASES))
def test_out_overlapping_shifted_view(case, shift, dtype):
    shape = PROJECT_CASES[case][0]
    n = int(np.prod(shape))
    buf = np.zeros(n + abs(shift), dtype=dtype)
    y_off, o_off = (0, shift) if shift > 0 else (-shift, 0)
    y = buf[y_off : y_off + n].reshape(shape)
    out = buf[o_off : o_off + n].reshape(shape)
    y[...] = base(shape, dtype)
    expected = call(case, y.copy())
    res = call(case, y, out=out)
    assert res is out
    np.testing.assert_allclose(out, expected, **tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(PROJECT_CASES))
def test_out_is_transposed_input(case, dtype):
    nd = len(PROJECT_CASES[case][0])
    shape = (5,) * nd
    y = base(shape, dtype, seed=3)
    expected = call(case, y.copy())
    out = y.T
    res = call(case, y, out=out)
    assert res is out
    np.testing.assert_allclose(out, expected, **tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(PROJECT_CASES))
def test_out_reversed_view_of_input(case, dtype):
    """``out`` a different view of ``y``'s memory: the same strides (in place in effect),
    and every axis reversed (entries swap places)."""
    shape = PROJECT_CASES[case][0]
    y = base(shape, dtype, seed=4)
    expected = call(case, y.copy())
    out = y[_slices_reversed(y.ndim)][_slices_reversed(y.ndim)]  # same memory, same order
    assert out is not y and out.base is not None
    res = call(case, y, out=out)
    assert res is out
    np.testing.assert_allclose(res, expected, **tolerance(dtype))
    # the same memory with every axis reversed: each entry is written where another lives
    z = base(shape, dtype, seed=5)
    expected = call(case, z.copy())
    out = z[_slices_reversed(z.ndim)]
    res = call(case, z[_slices_reversed(z.ndim)][_slices_reversed(z.ndim)], out=out)
    assert res is out
    np.testing.assert_allclose(out, expected, **tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(PROJECT_CASES))
def test_out_other_layouts(case, dtype):
    """``out`` not overlapping ``y`` but laid out differently (Fortran, negative strides,
    non-contiguous)."""
    shape = PROJECT_CASES[case][0]
    y = base(shape, dtype, seed=6)
    y0 = y.copy()
    expected = call(case, y.copy())
    for out in (
        np.empty(shape, dtype=dtype, order="F"),
        np.empty(shape, dtype=dtype)[_slices_reversed(len(shape))],
        np.empty(tuple(2 * s for s in shape), dtype=dtype)[tuple(slice(None, None, 2) for _ in shape)],
    ):
        res = call(case, y, out=out)
        assert res is out
        np.testing.assert_allclose(out, expected, **tolerance(dtype))
        np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("case", list(PROJECT_CASES))
def test_out_with_zero_stride_raises(case):
    shape = PROJECT_CASES[case][0]
    y = base(shape, np.float64)
    row = np.zeros(shape[1:])
    out = as_strided(row, shape=shape, strides=(0,) + row.strides, writeable=True)
    with pytest.raises(ValueError, match="'out'"):
        call(case, y, out=out)
    np.testing.assert_array_equal(row, 0.0)  # nothing written
    with pytest.raises(ValueError, match="'out'"):  # a broadcast view is read-only anyway
        call(case, y, out=np.broadcast_to(row, shape))


# ------------------------------------------------------------------------- torch tensors
torch = pytest.importorskip("torch")


def _tensor_kinds(a):
    t = torch.from_numpy(a.copy())
    big = torch.zeros(tuple(2 * s + 1 for s in a.shape), dtype=t.dtype)
    nc = big[tuple(slice(1, None, 2) for _ in a.shape)]
    nc.copy_(t)
    return {
        "contiguous": t,
        "noncontiguous": nc,
        "transposed": torch.from_numpy(np.ascontiguousarray(np.transpose(a))).permute(*reversed(range(a.ndim))),
        "expanded": t[:1].expand(*a.shape),
        "neg_bit": torch.from_numpy(-a.copy())._neg_view(),
        "requires_grad": t.clone().requires_grad_(True),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(ALL_CASES))
def test_tensor_memory_kinds(case, dtype):
    shape = ALL_CASES[case][0]
    for name, t in _tensor_kinds(base(shape, dtype)).items():
        before = t.detach().clone()
        expected = call(case, before.numpy().copy())
        res = call(case, t)
        assert isinstance(res, torch.Tensor) and res.dtype == t.dtype, name
        np.testing.assert_allclose(res.detach().numpy(), expected, **tolerance(dtype), err_msg=name)
        assert torch.equal(t.detach(), before), name


@pytest.mark.parametrize("case", list(PROJECT_CASES))
def test_tensor_out_overlapping(case):
    shape = PROJECT_CASES[case][0]
    n = int(np.prod(shape))
    for shift in (1, -2):
        buf = torch.zeros(n + abs(shift), dtype=torch.float64)
        y_off, o_off = (0, shift) if shift > 0 else (-shift, 0)
        y = buf[y_off : y_off + n].view(shape)
        out = buf[o_off : o_off + n].view(shape)
        y.copy_(torch.from_numpy(base(shape, np.float64)))
        expected = call(case, y.numpy().copy())
        res = call(case, y, out=out)
        assert res is out
        np.testing.assert_allclose(out.numpy(), expected, **tolerance(np.float64))
    cube = torch.from_numpy(base((5,) * len(shape), np.float64, seed=7))
    expected = call(case, cube.numpy().copy())
    out = cube.permute(*reversed(range(cube.ndim)))
    call(case, cube, out=out)
    np.testing.assert_allclose(out.numpy(), expected, **tolerance(np.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", [c for c in PROJECT_CASES if not c.startswith("l1,inf/exact")])
def test_cuda_out_overlapping_and_strided(case):
    """The device path (torch operations): ``out`` sharing the input's storage goes
    through a buffer; strided and expanded inputs give the host's result."""
    shape = PROJECT_CASES[case][0]
    n = int(np.prod(shape))
    host = base(shape, np.float64, seed=8)
    expected = call(case, host.copy())
    buf = torch.zeros(n + 1, dtype=torch.float64, device="cuda")
    y = buf[1:].view(shape)
    y.copy_(torch.from_numpy(host))
    out = buf[:n].view(shape)
    assert call(case, y, out=out) is out
    np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=1e-12, atol=1e-13)
    t = torch.from_numpy(np.ascontiguousarray(np.transpose(host))).cuda().permute(*reversed(range(host.ndim)))
    np.testing.assert_allclose(call(case, t).cpu().numpy(), expected, rtol=1e-12, atol=1e-13)
