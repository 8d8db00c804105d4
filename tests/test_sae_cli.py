"""``multiproj sae`` end to end on tiny problems, and its input errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from multiproj.cli import main  # noqa: E402
from multiproj.sae.data import DataError, load_csv  # noqa: E402

TINY = ["--folds", "2", "--epochs", "3", "--retrain-epochs", "2", "--batch-size", "16", "--lr", "1e-3",
        "--hidden", "8"]


def test_cli_synthetic_json_and_plots(tmp_path):
    js, plots = tmp_path / "out.json", tmp_path / "figs"
    rc = main(["sae", "--data", "synthetic", "--n-samples", "80", "--n-features", "20", "--n-informative", "4",
               "--radius", "0.5", "2", "--json", str(js), "--plots", str(plots), *TINY])
    assert rc == 0
    out = json.loads(js.read_text())
    for key in ("accuracy", "auc", "f1", "n_selected", "selected", "seconds", "feature_recall",
                "feature_precision", "accuracy_std", "folds", "runs", "best_radius", "settings"):
        assert key in out, key
    assert len(out["runs"]) == 2 and {r["radius"] for r in out["runs"]} == {0.5, 2.0}
    assert all(isinstance(j, int) and 0 <= j < 20 for j in out["selected"])
    assert out["selected"] == sorted(out["selected"])
    assert len(out["folds"]) == 2 and "history" in out["folds"][0]
    assert out["settings"]["batch_size"] == 16 and out["settings"]["projection"] == "l1inf-bilevel"
    for name in ("learning_curves.png", "weight_map.png", "metrics_vs_selected.png"):
        p = plots / name
        assert p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def _write(path, text):
    path.write_text(text)
    return str(path)


def _csv(tmp_path, n=40, f=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, f)) * 10
    y = np.where(X[:, 0] > 5, "tumor", "normal")
    lines = ["id," + ",".join(f"m{j}" for j in range(f)) + ",label"]
    lines += [f"s{i}," + ",".join(f"{v:.5f}" for v in X[i]) + f",{y[i]}" for i in range(n)]
    return _write(tmp_path / "data.csv", "\n".join(lines) + "\n")


def test_cli_csv_end_to_end(tmp_path, capsys):
    path = _csv(tmp_path)
    js = tmp_path / "o.json"
    rc = main(["sae", "--csv", path, "--target", "label", "--drop", "id", "--log", "--standardize",
               "--projection", "l12", "--json", str(js), "--quiet", *TINY])
    assert rc == 0
    out = json.loads(js.read_text())
    assert "feature_recall" not in out  # unknown for real data
    assert set(out["feature_names_selected"]) <= {f"m{j}" for j in range(6)}
    assert out["settings"]["log"] and out["settings"]["standardize"]


@pytest.mark.parametrize(
    "content,args,match",
    [
        ("a,b,y\n1,2,x\n3,4,z\n", ["--target", "label"], "target column 'label' is not in the header"),
        ("a,b,y\n1,2,x\n3,oops,z\n1,1,x\n", ["--target", "y"], "line 3, column 'b'.*not a number"),
        ("a,b,y\n1,2,x\n3,NaN,z\n1,1,x\n", ["--target", "y"], "line 3, column 'b'.*NaN"),
        ("a,b,y\n1,2,x\n3,,z\n1,1,x\n", ["--target", "y"], "line 3, column 'b'.*empty"),
        ("a,b,y\n1,2,x\n3,4,x\n", ["--target", "y"], "single class"),
        ("a,b,y\n1,2,x\n3,4,z\n", [], "target column 'Label' is not in the header"),
        ("a,b,y\n1,2,x\n3,4,z,5\n", ["--target", "y"], "line 3: 4 cells, the header has 3"),
        ("Name;s1;s2;s3\nLabel;A;B;A\nm1;1,5;x;2\n", [], r"line 3 \(feature 'm1'\), column 's2'.*not a number"),
    ],
    ids=["missing-target", "non-numeric", "nan", "empty-cell", "one-class", "no-target-column", "ragged", "rows-layout"],
)
def test_cli_csv_errors(tmp_path, capsys, content, args, match):
    path = _write(tmp_path / "bad.csv", content)
    rc = main(["sae", "--csv", path, *args, "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("multiproj sae: error:") and err.count("\n") == 1  # one clear line
    import re

    assert re.search(match, err), err


def test_cli_missing_file_and_negative_log(tmp_path, capsys):
    assert main(["sae", "--csv", str(tmp_path / "nope.csv"), "--target", "y", "--quiet"]) == 2
    assert "cannot read the CSV file" in capsys.readouterr().err
    path = _write(tmp_path / "neg.csv", "a,b,y\n" + "".join(f"{i - 5},{i},{'xz'[i % 2]}\n" for i in range(12)))
    assert main(["sae", "--csv", path, "--target", "y", "--log", "--quiet", *TINY]) == 2
    assert "log transform needs non-negative values" in capsys.readouterr().err


def test_load_csv_reads_labels_and_delimiters(tmp_path):
    p = _write(tmp_path / "semi.csv", "x1;x2;cls\n1;2;0\n3;4;1\n5;6;1\n")
    d = load_csv(p, "cls")
    assert d.X.shape == (3, 2) and d.y.dtype.kind == "i" and d.feature_names == ["x1", "x2"]
    with pytest.raises(DataError, match="line 2.*empty"):
        load_csv(_write(tmp_path / "r.csv", "a,b,y\n1,2\n"), "y")


def test_python_m_entry_point_help():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "multiproj", "sae", "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "100"})
    assert r.returncode == 0 and "--projection" in r.stdout and "Default radius rule" in r.stdout


def _omics(tmp_path, n=24, f=8, seed=0, decimal=","):
    """Features as rows, ';' separator, ',' decimals, a Label row and a Fold row."""
    rng = np.random.default_rng(seed)
    y = np.array(["case", "ctrl"] * (n // 2))
    X = rng.random((n, f)) + (y == "case")[:, None] * np.r_[2.0, np.zeros(f - 1)]
    fmt = lambda v: f"{v:.4f}".replace(".", decimal)  # noqa: E731
    lines = ["Name;" + ";".join(f"s{i}" for i in range(n)), "Label;" + ";".join(y),
             "Fold;" + ";".join(str(i % 3) for i in range(n))]
    lines += [f"m{j};" + ";".join(fmt(X[i, j]) for i in range(n)) for j in range(f)]
    return _write(tmp_path / "omics.csv", "\n".join(lines) + "\n"), X, y


def test_load_csv_features_as_rows(tmp_path):
    path, X, y = _omics(tmp_path)
    d = load_csv(path, "Label", drop=["Fold"])
    assert d.info["layout"] == "features as rows" and d.info["decimal"] == ","
    np.testing.assert_allclose(d.X, np.round(X, 4))
    assert list(d.y) == list(y) and d.feature_names == [f"m{j}" for j in range(8)]
    d2 = load_csv(path, "Label", fold_column="Fold", features_as_rows=True)
    assert d2.X.shape == (24, 8) and list(d2.info["folds"]) == [i % 3 for i in range(24)]
    p2, X2, _ = _omics(tmp_path, decimal=".")
    np.testing.assert_allclose(load_csv(p2, drop=["Fold"]).X, np.round(X2, 4))
    df, s = d.to_frame()
    assert list(df.columns) == d.feature_names and len(s) == 24


def test_cli_compare_omics_fold_column_and_seed(tmp_path, capsys):
    path, _, _ = _omics(tmp_path)
    js, plots = tmp_path / "c.json", tmp_path / "p"
    rc = main(["sae", "--csv", path, "--fold-column", "Fold", "--compare", "--ks", "2", "3", "--json", str(js),
               "--plots", str(plots), *TINY])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| k | method |" in out and "SelectKBest+LR" in out and "3 folds" in out
    res = json.loads(js.read_text())
    assert res["n_folds"] == 3 and res["ks"] == [2, 3] and len(res["results"]) == 8
    assert {r["method"] for r in res["results"]} == {"sae", "l1_lr", "kbest", "rf"}
    assert all(r["n_selected"] == r["k"] for r in res["results"] if r["method"] != "l1_lr")
    assert (plots / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # --fold-seed changes the folds, not the model seed
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for f, seed in ((a, "1"), (b, "2")):
        assert main(["sae", "--data", "synthetic", "--n-samples", "60", "--n-features", "12", "--n-informative", "3",
                     "--compare", "--ks", "3", "--fold-seed", seed, "--json", str(f), "--quiet", *TINY]) == 0
    assert json.loads(a.read_text())["folds"] != json.loads(b.read_text())["folds"]
