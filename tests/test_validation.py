"""Every error path of the input policy (README, multiproj._core.checks)."""

from __future__ import annotations

import numpy as np
import pytest

import multiproj

Y = np.arange(12, dtype=np.float64).reshape(3, 4) - 5.0


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, -np.inf])
def test_bad_radius_value(bad):
    with pytest.raises(ValueError, match="radius"):
        multiproj.project(Y, bad, "l1")


@pytest.mark.parametrize("bad", ["1", None, True, 1j])
def test_bad_radius_type(bad):
    with pytest.raises(TypeError, match="radius"):
        multiproj.project(Y, bad, "l1")


def test_one_element_radius_list_is_the_radius_of_one_ball():
    # flat balls take arrays of radii (one per ball, see axis); one ball takes one radius
    np.testing.assert_array_equal(multiproj.project(Y, [1.0], "l1"), multiproj.project(Y, 1.0, "l1"))


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ball", ["l1", "l2", "linf", "l1,inf", "l1,1", "l1,2"])
@pytest.mark.parametrize("bad", [np.nan, -np.nan, np.inf, -np.inf])
def test_non_finite_data_raises_before_writing(ball, bad, dtype, axis):
    y = Y.astype(dtype)
    y[1, 2] = bad
    method = "bilevel" if "," in ball else "exact"
    with pytest.raises(ValueError, match="finite"):
        multiproj.project(y, 1.0, ball, method=method, axis=axis)
    z = y.copy()
    with pytest.raises(ValueError, match="finite"):
        multiproj.project_(z, 1.0, ball, method=method, axis=axis)
    np.testing.assert_array_equal(z, y)  # nothing written


@pytest.mark.parametrize("ball", ["l3", "l2,1", "linf,1", "", "l1,", "l1;inf"])
def test_unknown_ball(ball):
    with pytest.raises(ValueError, match="ball"):
        multiproj.project(Y, 1.0, ball)


def test_ball_wrong_type():
    with pytest.raises(TypeError, match="ball"):
        multiproj.project(Y, 1.0, 1)


def test_unknown_method():
    with pytest.raises(ValueError, match="method"):
        multiproj.project(Y, 1.0, "l1,inf", method="fast")


def test_method_ball_mismatch():
    with pytest.raises(ValueError, match="bilevel"):
        multiproj.project(Y, 1.0, "l1", method="bilevel")


@pytest.mark.parametrize("axis", [2, -3, (0, 0), (0, 5)])
def test_bad_axis_value(axis):
    with pytest.raises(ValueError, match="axis"):
        multiproj.project(Y, 1.0, "l1,inf", method="bilevel", axis=axis)


@pytest.mark.parametrize("axis", [1.0, "0", True])
def test_bad_axis_type(axis):
    with pytest.raises(TypeError, match="axis"):
        multiproj.project(Y, 1.0, "l1,inf", method="bilevel", axis=axis)


def test_axis_none_is_the_default_0_for_mixed_balls():
    np.testing.assert_array_equal(
        multiproj.project(Y, 1.0, "l1,inf", method="bilevel", axis=None),
        multiproj.project(Y, 1.0, "l1,inf", method="bilevel", axis=0),
    )


def test_mixed_ball_on_1d():
    with pytest.raises(ValueError, match="2 dimensions"):
        multiproj.project(np.ones(5), 1.0, "l1,2")
    with pytest.raises(ValueError, match="2 dimensions"):
        multiproj.norm(np.ones(5), "l1,inf")


def test_bad_out():
    with pytest.raises(ValueError, match="out"):
        multiproj.project(Y, 1.0, "l1", out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="out"):
        multiproj.project(Y, 1.0, "l1", out=np.empty((3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="out"):
        multiproj.project(Y, 1.0, "l1", out=[[0.0] * 4] * 3)
    ro = np.empty_like(Y)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        multiproj.project(Y, 1.0, "l1", out=ro)


@pytest.mark.parametrize("y", [np.ones(3, dtype=complex), np.array(["a", "b"]), np.array([object()])])
def test_non_real_data(y):
    with pytest.raises(TypeError, match="real"):
        multiproj.project(y, 1.0, "l1")


def test_project_inplace_needs_float_array():
    with pytest.raises(TypeError, match="float32 or float64"):
        multiproj.project_(np.arange(4), 1.0, "l1")
    with pytest.raises(TypeError, match="float32 or float64"):
        multiproj.project_([1.0, 2.0], 1.0, "l1")


@pytest.mark.parametrize("n", [0, -1, 10_000])
def test_bad_thread_count(n):
    with pytest.raises(ValueError, match="threads"):
        multiproj.set_num_threads(n)


def test_thread_count_type():
    with pytest.raises(TypeError, match="threads"):
        multiproj.set_num_threads(1.5)


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, multiproj; print('numba' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
