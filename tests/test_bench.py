"""The benchmark suite (``multiproj bench``) and the demo on tiny sizes: well-formed JSON,
CSV and PNG outputs, methods read from the registry, the naive baseline.  No timing is
asserted (timings are the suite's output, not its correctness)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import multiproj
from multiproj import METHODS
from multiproj._core.ball import parse_ball
from multiproj._core.registry import Method
from multiproj.bench import report, suite
from multiproj.bench.cli import BENCH_NAMES

pytest.importorskip("matplotlib")

TINY = suite.Config(
    repeats=1,
    sizes_n=30,
    sizes_m=(20, 40),
    threads_shape=(20, 30),
    threads_tensor=(4, 4, 4),
    threads_counts=(1, 2),
    tensor_log2=12,
    tensor_orders=(2, 3, 4, 6),
    sparsity_shape=(20, 30),
    sparsity_fractions=(0.05, 0.5),
    torch_shape=(20, 30),
    torch_dtypes=("float32",),
    autograd_shape=(20, 30),
    multilevel_log2=8,
    multilevel_orders=(2, 4),
)

PNG = {
    "sizes": ["sizes.png"],
    "threads": ["threads.png"],
    "tensors": ["tensors.png"],
    "sparsity": ["sparsity.png", "identity.png"],
    "torch": ["torch.png"],
    "autograd": [],
    "multilevel": [],
}


def _not_implemented(*args, **kwargs):
    raise NotImplementedError("a method without a kernel yet")


def _read_csv(path):
    text = path.read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return comments, list(csv.DictReader(io.StringIO(body)))


def test_registry_lists_every_benchmark():
    assert tuple(suite.BENCHMARKS) == BENCH_NAMES


@pytest.mark.parametrize("name", [n for n in BENCH_NAMES if n not in ("targets", "contention", "firstcall")])
def test_each_benchmark_writes_json_csv_png(name, tmp_path):
    if name in ("torch", "autograd"):
        pytest.importorskip("torch")
    results = suite.run_benchmarks([name], TINY)
    rows = results[name]
    assert rows, name
    info = report.machine_info()
    jpath = report.write_json(tmp_path / "r.json", results, info, TINY.to_dict(), "test")
    cpath = report.write_csv(tmp_path / "r.csv", results, info, "test")
    pngs = report.write_plots(tmp_path / "plots", results, info)

    doc = json.loads(jpath.read_text(encoding="utf-8"))
    assert {"command", "machine", "config", "results"} <= set(doc)
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["cpu"] and doc["machine"]["numpy"] == np.__version__
    assert len(doc["results"][name]) == len(rows)

    comments, parsed = _read_csv(cpath)
    assert any(c.startswith("# cpu:") for c in comments)
    assert len(parsed) == len(rows)
    assert set(report.columns_of(rows)) == set(parsed[0])

    names = sorted(p.name for p in pngs)
    assert names == sorted(PNG[name])
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    for r in rows:
        assert r["method"] in METHODS or r["method"] == suite.NAIVE
        if r.get("time_ms") is not None and "ratio" in r:
            assert r["time_ms"] > 0 and r["ratio"] > 0
    assert report.tables(results)  # the console tables build


def test_methods_come_from_the_registry(monkeypatch):
    """A newly registered method appears in the benchmark without any other list to edit;
    one that raises NotImplementedError is reported as n/a."""
    fake = Method(name="fake", summary="test", balls=("l1,inf",), kernels={"numpy": f"{__name__}:_not_implemented"})
    monkeypatch.setitem(METHODS, "fake", fake)
    cfg = suite.Config(repeats=1, sizes_n=10, sizes_m=(12,), sizes_data=("normal",))
    rows = suite.run_benchmarks(["sizes"], cfg)["sizes"]
    expected = {(m.name, b.name) for m, b in suite.method_ball_pairs(cfg.sizes_balls)} | {(suite.NAIVE, "l1,inf")}
    assert {(r["method"], r["ball"]) for r in rows} == expected
    assert ("fake", "l1,inf") in expected
    (fake_row,) = [r for r in rows if r["method"] == "fake"]
    assert fake_row["time_ms"] is None and fake_row["note"].startswith("n/a")
    text = [row for _, _, body in report.tables({"sizes": rows}) for row in body if row[0] == "fake l1,inf"]
    assert text and text[0][1] == "n/a"


def test_contention_rows_and_table():
    cfg = suite.Config(repeats=1, contention_n=20, contention_m=(30,), contention_tensor=4, contention_busy=(0, 1))
    rows = suite.run_benchmarks(["contention"], cfg)["contention"]
    assert {r["busy"] for r in rows} == {0, 1}
    assert len(rows) == 2 * 4  # three 2-D kernels and the tensor, per load
    for r in rows:
        assert r["t1_ms"] > 0 and r["tn_ms"] > 0 and r["ratio"] == pytest.approx(r["tn_ms"] / r["t1_ms"])
        assert r["bound"] == (1.3 if r["busy"] else 1.0)
    ((title, header, body),) = report.tables({"contention": rows})
    assert len(body) == len(rows) and header[-1] == "within"


def test_busy_processes_are_stopped():
    with suite.busy_processes(2) as b:
        assert all(p.poll() is None for p in b.procs)
    assert all(p.poll() is not None for p in b.procs)


def test_targets_rows_and_goals():
    assert all(w["peer"] > 0 for w in suite.WORKLOADS)
    names = [w["name"] for w in suite.WORKLOADS]
    assert len(names) == len(set(names)) == 11
    y = np.random.default_rng(0).standard_normal(1000)
    rows = suite._workload_rows("l1 1e6 N(0,1), radius 1", y, lambda: multiproj.project(y, 1.0, "l1"), 1, 2.5,
                                (0.025, lambda: np.sort(np.abs(y))))
    assert len(rows) == 2
    for r in rows:
        assert r["target"] == pytest.approx(r["peer"] / suite.PEER_SPEEDUP)
        assert r["met"] == (r["ratio"] <= r["target"])
    assert rows[1]["ratio"] == pytest.approx(rows[0]["time_ms"] / rows[1]["copy_ms"])
    ((title, header, body),) = report.tables({"targets": rows})
    assert len(body) == 2 and header[-1] == "met"


def test_radius_zeroing_exact_half_of_the_columns():
    y = np.random.default_rng(3).standard_normal((30, 101))
    from multiproj.bench.baselines import radius_zeroing_exact

    r = radius_zeroing_exact(y, 0.5)
    x = multiproj.project(y, r, "l1,inf", method="exact", axis=0)
    assert abs((~x.any(axis=0)).mean() - 0.5) <= 1.5 / y.shape[1]


def test_firstcall_rows_and_table(monkeypatch):
    monkeypatch.setattr(suite, "first_call_seconds", lambda method: (2.5, 2.0))
    rows = suite.run_benchmarks(["firstcall"], suite.QUICK)["firstcall"]
    assert [r["method"] for r in rows] == list(suite.FIRST_CALL_GOAL)
    assert all(r["wall_s"] == 2.5 and r["cpu_s"] == 2.0 for r in rows)
    ((title, header, body),) = report.tables({"firstcall": rows})
    assert body[0] == ["bilevel l1,inf", "2.50 s", "2.00 s", "3 s"]


def test_naive_baseline_equals_bilevel():
    y = np.random.default_rng(1).standard_normal((25, 40))
    for radius in (0.5, 5.0, 1e6):
        expected = multiproj.project(y, radius, "l1,inf", method="bilevel", axis=0)
        np.testing.assert_allclose(suite.naive_bilevel_l1inf(y, radius), expected, rtol=1e-12, atol=1e-12)


def test_radius_zeroing_half_of_the_groups():
    y = np.random.default_rng(2).standard_normal((30, 101))
    for ball in ("l1,inf", "l1,1", "l1,2"):
        r = suite.radius_zeroing(y, parse_ball(ball), 0.5)
        x = multiproj.project(y, r, ball, method="bilevel", axis=0)
        zero = (~x.any(axis=0)).mean()
        assert abs(zero - 0.5) <= 1.5 / y.shape[1], (ball, zero)


def test_tensor_shape():
    for log2 in (12, 20, 24):
        for k in (2, 3, 4, 6):
            shape = suite.tensor_shape(log2, k)
            assert len(shape) == k and int(np.prod(shape)) == 2**log2


def test_bilevel_identity_in_sparsity_rows():
    rows = suite.run_benchmarks(["sparsity"], TINY)["sparsity"]
    bi = [r for r in rows if r["method"] == "bilevel"]
    assert bi and all(r["identity_error"] < 1e-12 for r in bi)
    assert all(0.0 <= r["zero_groups"] <= 1.0 for r in bi)


def test_cli_bench_and_errors(monkeypatch, tmp_path, capsys):
    from multiproj.cli import main

    monkeypatch.setattr(suite, "QUICK", TINY)
    code = main(["bench", "sizes", "sparsity", "--quick", "--no-progress", "--json", str(tmp_path / "b.json"), "--csv", str(tmp_path / "b.csv"), "--markdown", str(tmp_path / "b.md"), "--plots", str(tmp_path / "p")])
    assert code == 0
    doc = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert set(doc["results"]) == {"sizes", "sparsity"}
    assert (tmp_path / "p" / "identity.png").exists()
    md = (tmp_path / "b.md").read_text(encoding="utf-8")
    assert "| method ball |" in md and "Machine:" in md
    assert "Y.copy()" in capsys.readouterr().out
    assert main(["bench", "nonsense"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_demo_quick_without_sae(tmp_path, capsys):
    from multiproj.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--no-sae", "--out", str(out)]) == 0
    assert {"sizes.png", "sparsity.png", "identity.png", "demo.json"} <= {p.name for p in out.iterdir()}
    assert str(out.resolve()) in capsys.readouterr().out


def test_demo_sae_part_quick(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from multiproj.bench import demo

    monkeypatch.setattr(demo, "SAE_RUNS", (("none", None, "bilevel"), ("bi-level l1,inf", "l1,inf", "bilevel")))
    summary = demo._sae_part(tmp_path, quick=True)
    assert [r["projection"] for r in summary["runs"]] == ["none", "bi-level l1,inf"]
    for r in summary["runs"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["auc"] <= 1.0 and len(r["folds"]) == 2
    assert summary["runs"][0]["n_selected"] == 200  # no projection keeps every feature
    assert (tmp_path / "sae_features.png").read_bytes()[:4] == b"\x89PNG"
