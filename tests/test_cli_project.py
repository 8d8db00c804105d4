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


def test_default_method_is_the_apis(tmp_path, y):
    src, dst = tmp_path / "y.npy", tmp_path / "x.npy"
    np.save(src, y)
    assert main(["project", str(src), str(dst), "--radius", "2", "--ball", "l1"]) == 0
    np.testing.assert_array_equal(np.load(dst), multiproj.project(y, 2.0, "l1"))
    assert main(["project", str(src), str(dst), "--radius", "2"]) == 0  # l1,inf, exact, axis 0
    np.testing.assert_array_equal(np.load(dst), multiproj.project(y, 2.0, "l1,inf"))


def test_json_report_norms_and_sparsity(tmp_path, y, capsys):
    import json

    src, dst = tmp_path / "y.npy", tmp_path / "x.npy"
    np.save(src, y)
    assert main(["project", str(src), str(dst), "--radius", "3", "--ball", "l1,2", "--method", "bilevel",
                 "--axis", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    x = np.load(dst)
    assert report["ball"] == "l1,2" and report["method"] == "bilevel" and report["axis"] == [1]
    assert report["norm_before"] == pytest.approx(multiproj.norm(y, "l1,2", axis=1), rel=1e-12)
    assert report["norm_after"] == pytest.approx(multiproj.norm(x, "l1,2", axis=1), rel=1e-12)
    assert report["norm_after"] <= 3 * (1 + 1e-12)
    zero_rows = int(np.all(x == 0, axis=1).sum())  # axis 1 reduced: the groups are the rows
    assert report["groups"] == y.shape[0] and report["zero_groups"] == zero_rows > 0
    assert report["zero_fraction"] == pytest.approx(float(np.mean(x == 0)))
    js = tmp_path / "sub" / "r.json"
    assert main(["project", str(src), str(dst), "--radius", "3", "--json", str(js), "--quiet"]) == 0
    assert json.loads(js.read_text())["method"] == "exact" and capsys.readouterr().out == ""


def test_several_axes(tmp_path):
    y = np.random.default_rng(1).standard_normal((3, 4, 5))
    src, dst = tmp_path / "y.npy", tmp_path / "x.npy"
    np.save(src, y)
    assert main(["project", str(src), str(dst), "--radius", "2", "--ball", "l1,inf", "--method", "bilevel",
                 "--axis", "0", "1"]) == 0
    np.testing.assert_array_equal(np.load(dst), multiproj.project(y, 2.0, "l1,inf", method="bilevel", axis=(0, 1)))


def test_batched_flat_balls_report_one_norm_per_ball(tmp_path, y, capsys):
    import json

    src, dst = tmp_path / "y.npy", tmp_path / "x.npy"
    np.save(src, y)
    assert main(["project", str(src), str(dst), "--radius", "1", "--ball", "l1", "--axis", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    x = np.load(dst)
    np.testing.assert_array_equal(x, multiproj.project(y, 1.0, "l1", axis=1))
    assert report["balls"] == y.shape[0] and len(report["norm_after"]) == y.shape[0]
    np.testing.assert_allclose(report["norm_before"], np.abs(y).sum(axis=1), rtol=1e-12)
    assert max(report["norm_after"]) <= 1 + 1e-12
    assert main(["project", str(src), str(dst), "--radius", "1", "--ball", "l1", "--axis", "1"]) == 0
    assert f"over {y.shape[0]} balls" in capsys.readouterr().out
