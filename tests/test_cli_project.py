"""``multiproj project`` end to end on small files."""

from __future__ import annotations

import numpy as np
import pytest

import multiproj
from multiproj.cli import main


@pytest.fixture
def y():
    return np.random.default_rng(0).standard_normal((12, 9))


def test_project_npy(tmp_path, y, capsys):
    src, dst = tmp_path / "y.npy", tmp_path / "x.npy"
    np.save(src, y)
    assert main(["project", str(src), str(dst), "--radius", "2", "--ball", "l1,inf", "--method", "bilevel"]) == 0
    x = np.load(dst)
    np.testing.assert_array_equal(x, multiproj.project(y, 2.0, "l1,inf", method="bilevel", axis=0))
    assert "->" in capsys.readouterr().out


def test_project_csv_and_multilevel(tmp_path, y):
    src, dst = tmp_path / "y.csv", tmp_path / "x.csv"
    np.savetxt(src, y, delimiter=",")
    args = ["project", str(src), str(dst), "--radius", "1.5", "--ball", "l1,2", "--method", "multilevel", "--levels", "(0, 1)"]
    assert main(args) == 0
    x = np.loadtxt(dst, delimiter=",")
    np.testing.assert_allclose(x, multiproj.project(y, 1.5, "l1,2", method="bilevel", axis=1), rtol=1e-12)


@pytest.mark.parametrize(
    "extra,message",
    [(["--radius", "-1"], "radius"), (["--radius", "1", "--ball", "l3"], "ball"), (["--radius", "1", "--levels", "(0,"], "")],
)
def test_project_errors(tmp_path, y, capsys, extra, message):
    src = tmp_path / "y.npy"
    np.save(src, y)
    assert main(["project", str(src), str(tmp_path / "x.npy"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("multiproj project: error:") and message in err
    assert not (tmp_path / "x.npy").exists()


def test_missing_input(tmp_path, capsys):
    assert main(["project", str(tmp_path / "nope.npy"), str(tmp_path / "x.npy"), "--radius", "1"]) == 2
    assert "error" in capsys.readouterr().err
