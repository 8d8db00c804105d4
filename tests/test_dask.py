"""multiproj.dask: lazy chunk-parallel projections equal the NumPy ones for any chunking."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import multiproj  # noqa: E402
from multiproj import dask as mpdask  # noqa: E402

from conftest import make_data, tol  # noqa: E402

CHUNKS_2D = [(40, 30), (7, 30), (40, 7), (13, 11), (1, 30)]


def _compute(x):
    with dask.config.set(scheduler="threads", num_workers=2):
        return x.compute()


@pytest.mark.parametrize("ball", ["l1,inf", "l1,1", "l1,2"])
@pytest.mark.parametrize("axis", [0, 1])
def test_bilevel_matches_numpy_for_every_chunking(ball, axis, dtype):
    y = make_data("normal", (40, 30), dtype, seed=3)
    r = 0.3 * multiproj.norm(y, ball, axis=axis)
    ref = multiproj.project(y, r, ball, method="bilevel", axis=axis)
    rtol, atol = tol(dtype)
    for chunks in CHUNKS_2D:
        x = da.from_array(y, chunks=chunks)
        res = mpdask.project(x, r, ball, axis=axis)
        assert isinstance(res, da.Array) and res.chunks == x.chunks and res.dtype == dtype
        np.testing.assert_allclose(_compute(res), ref, rtol=rtol, atol=atol, err_msg=str(chunks))


@pytest.mark.parametrize("compute_radii", [True, False])
def test_3d_tuple_axis_and_lazy_graph(compute_radii):
    y = make_data("heavy", (6, 5, 8), np.float64, seed=4)
    for ball, axis in [("l1,inf", (0, 2)), ("l1,1", (1, 2)), ("l1,2", 1)]:
        r = 0.25 * multiproj.norm(y, ball, axis=axis)
        ref = multiproj.project(y, r, ball, method="bilevel", axis=axis)
        x = da.from_array(y, chunks=(4, 2, 3))
        res = mpdask.project(x, r, ball, axis=axis, compute_radii=compute_radii)
        np.testing.assert_allclose(_compute(res), ref, rtol=1e-10, atol=1e-12, err_msg=ball)


@pytest.mark.skipif("multilevel" not in multiproj.METHODS, reason="no multi-level method")
@pytest.mark.parametrize("ball", ["l1,inf,inf", "l1,1,1", "l1,2,1", "l1,1,2"])
def test_multilevel_matches_numpy(ball):
    y = make_data("normal", (6, 5, 8), np.float64, seed=5)
    for levels, chunks in [(None, (2, 3, 4)), (((2,), 0, 1), (6, 2, 3))]:
        kw = {} if levels is None else {"levels": levels}
        r = 0.3 * multiproj.norm(y, ball, levels=levels or (0, 1, 2))
        ref = multiproj.project(y, r, ball, method="multilevel", **kw)
        res = mpdask.project(da.from_array(y, chunks=chunks), r, ball, method="multilevel", **kw)
        np.testing.assert_allclose(_compute(res), ref, rtol=1e-10, atol=1e-12)


def test_generated_array_regimes_and_flat_balls():
    # a lazily generated array (the same chunks are produced in both passes)
    x = da.random.default_rng(0).standard_normal((50, 60), chunks=(20, 25))
    y = x.compute()
    for r in (0.0, 5.0, 1e9):  # zero radius, outside, inside the ball
        res = _compute(mpdask.project(x, r, "l1,inf", axis=0))
        np.testing.assert_allclose(res, multiproj.project(y, r, "l1,inf", method="bilevel"), atol=1e-12)
    assert np.count_nonzero(_compute(mpdask.project(x, 0.0, "l1,2"))) == 0
    for ball in ("l2", "linf"):
        res = _compute(mpdask.project(x, 3.0, ball, method="exact"))
        np.testing.assert_allclose(res, multiproj.project(y, 3.0, ball), rtol=1e-12, atol=1e-12)
    v = mpdask.group_norms(x, "l1,inf", axis=0)
    assert v.shape == (1, 60)
    np.testing.assert_allclose(_compute(v).sum(), multiproj.norm(y, "l1,inf", axis=0), rtol=1e-12)


def test_integer_input_is_converted_and_dtype_kept():
    yi = np.arange(-12, 12).reshape(4, 6)
    res = mpdask.project(da.from_array(yi, chunks=2), 5.0, "l1,inf")
    assert res.dtype == np.float64
    np.testing.assert_allclose(_compute(res), multiproj.project(yi, 5.0, "l1,inf", method="bilevel"))
    y32 = da.ones((4, 6), chunks=2, dtype=np.float32)
    assert mpdask.project(y32, 1.0, "l1,2").dtype == np.float32


def test_errors():
    x = da.ones((4, 6), chunks=2)
    with pytest.raises(TypeError, match="dask.array.Array"):
        mpdask.project(np.ones((4, 6)), 1.0, "l1,inf")
    with pytest.raises(ValueError, match="radius"):
        mpdask.project(x, -1.0, "l1,inf")
    with pytest.raises(ValueError, match="flat"):
        mpdask.project(x, 1.0, "l1", method="exact")
    with pytest.raises(ValueError, match="axis"):
        mpdask.project(x, 1.0, "l1,inf", axis=2)
    with pytest.raises(ValueError, match="levels"):
        mpdask.project(x, 1.0, "l1,inf", levels=(0, 1))
    with pytest.raises(TypeError, match="compute_radii"):
        mpdask.project(x, 1.0, "l1,inf", compute_radii="yes")
    with pytest.raises(TypeError, match="dtype"):
        mpdask.project(da.ones((4, 6), chunks=2, dtype=complex), 1.0, "l1,inf")
    bad = da.from_array(np.array([[1.0, np.nan], [0.0, 1.0]]), chunks=1)
    with pytest.raises(ValueError, match="finite"):
        mpdask.project(bad, 1.0, "l1,inf")  # radii computed at the call
    lazy = mpdask.project(bad, 1.0, "l1,inf", compute_radii=False)  # nothing computed yet
    with pytest.raises(ValueError, match="finite"):
        _compute(lazy)
