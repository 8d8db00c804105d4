"""The benchmark scripts under ``benchmarks/`` call ``main`` of a :mod:`multiproj.bench`
module: each one runs here at a tiny size and prints its table."""

from __future__ import annotations

import time

import pytest


def test_interleaved_times_orders_and_ratio():
    from multiproj.bench.baselines import interleaved_times

    calls = []
    slow = lambda: (calls.append("fn"), time.sleep(0.004))  # noqa: E731
    fast = lambda: calls.append("ref")  # noqa: E731
    t_fn, t_ref, ratio = interleaved_times(slow, fast, repeats=3, warmup=1)
    assert calls == ["fn", "ref"] + ["ref", "fn"] * 3
    assert t_fn >= 0.004 > t_ref and ratio > 1.0


def test_print_machine_uses_machine_info(capsys):
    from multiproj.bench.report import machine_line, print_machine

    info = print_machine()
    line = capsys.readouterr().out.strip()
    assert line.startswith("machine: ") and info["cpu"] in line
    assert line == "machine: " + machine_line(info)


def test_core_quick(capsys):
    from multiproj.bench.core import main

    assert main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "bi-level l1,inf, 200 x 2000" in out and "ratio to sort" in out
    rows = [ln for ln in out.splitlines() if ln.strip()[:1].isdigit() and "|" in ln]
    assert rows and all(len(r.split("|")) == 9 for r in rows)


def test_l1inf_quick(capsys):
    from multiproj.bench.l1inf import main

    assert main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    body = [ln for ln in out.splitlines() if ln.startswith("| normal") or ln.startswith("| uniform")]
    assert len(body) == 5  # 3 radii of the normal matrix, 2 uniform widths
    gaps = [float(ln.rstrip(" |").rsplit("|", 1)[1]) for ln in body]
    assert max(abs(g) for g in gaps) < 1e-8  # the certificate of every exact result


def test_multilevel_tiny_with_per_pass(capsys):
    from multiproj.bench.multilevel import main

    seen = []

    def per_pass(Y, log2_size, threads, repeats, order):
        seen.append((Y.size, log2_size, tuple(threads), order))
        return [{"stage": "level 1", "pass": "project", "entries": 4, "fibres": 1, "serial": True,
                 **{n: 1e-3 for n in threads}}]

    argv = ["--log2-size", "8", "--repeats", "1", "--rounds", "1", "--threads", "1",
            "--families", "inf", "--levels-order", "2"]
    assert main(argv, per_pass=per_pass) == 0
    out = capsys.readouterr().out
    assert "(a) multi-level projection of 256 float64 entries" in out
    assert "| l1,inf,inf | " in out and "copy into existing" in out
    assert seen == [(256, 8, (1,), 2)] and "| 2 | project | level 1 | 4 | 1 | 1.000 ms | serial |" in out


def test_multilevel_without_per_pass_has_no_pass_table(capsys):
    from multiproj.bench.multilevel import main

    assert main(["--log2-size", "6", "--repeats", "1", "--rounds", "1", "--threads", "1",
                 "--families", "mixed"]) == 0
    out = capsys.readouterr().out
    assert "l1,2,inf,2" in out and "per-pass" not in out


def test_autograd_tiny(capsys):
    pytest.importorskip("torch")
    from multiproj.bench.autograd import main

    assert main(["--shape", "20", "30", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [ln.split() for ln in lines if ln.split()[:1] in (["l1,inf"], ["l1"])]
    assert [r[:2] for r in rows] == [["l1,inf", "bilevel"], ["l1,inf", "exact"], ["l1", "exact"]]
    assert all(len(r) == 7 and float(r[2]) > 0 for r in rows)


def test_training_tiny(capsys):
    pytest.importorskip("torch")
    from multiproj.bench.training import main

    assert main(["--repeat", "1", "--width", "16", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "outputs equal (float64 allclose rtol 1e-10): True" in out
    assert "keep 25% l1,inf, every 10" in out


def test_torch_path_interleaved_order():
    pytest.importorskip("torch")
    from multiproj.bench import torch_path

    calls = []
    ta, tb = torch_path._interleaved(lambda: (calls.append("a"), time.sleep(0.003)),
                                     lambda: calls.append("b"), repeat=2, warmup=0)
    assert calls == ["a", "b", "a", "b"] and ta >= 0.003 > tb


def test_gpu_check_without_cuda_exits_cleanly(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the check itself runs on it")
    from multiproj.bench.gpu import device_timer, main

    assert main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out
    t = device_timer("cpu")(lambda: time.sleep(0.002), 2)
    assert t >= 0.002


def test_distributed_dask_part(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("dask")
    from multiproj.bench.distributed import main

    assert main(["--only", "dask", "--dask-gb", "0.01", "--limit-gb", "2", "--no-lazy"]) == 0
    out = capsys.readouterr().out
    assert "compute_radii=True" in out and "ok: ||X||_1,inf = 1000.000000" in out


def test_sae_compare_quick(capsys, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import json

    from multiproj.bench.sae_compare import main

    path = tmp_path / "sae.json"
    assert main(["--quick", "--rows", "none", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "# machine: " in out and "| none | - |" in out
    doc = json.loads(path.read_text())
    assert list(doc["results"]) == ["none"] and "scikit-learn" in doc["machine"]


def test_scripts_are_thin():
    """Every script but the two white-box ones (they read backend internals) only calls a
    ``main`` of multiproj.bench."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    for name in ("bench_core", "bench_l1inf", "bench_torch", "bench_autograd", "bench_training",
                 "bench_distributed", "gpu_check", "sae_compare", "bench_threads", "bench_targets",
                 "bench_first_call", "bench_batched"):
        text = (root / f"{name}.py").read_text()
        code = [ln for ln in text.split('"""', 2)[2].splitlines() if ln.strip()]
        assert len(code) <= 6, (name, code)
        assert any("multiproj.bench" in ln for ln in code), name
    assert not (root / "_common.py").exists()


def test_batched_quick(capsys):
    from multiproj.bench.batched import main

    assert main(["--rows", "40", "--cols", "60", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    errs = [float(ln.rsplit("=", 1)[1]) for ln in out.splitlines() if "sort-based reference" in ln]
    assert len(errs) == 2 and max(errs) < 1e-12
    rows = [ln.split() for ln in out.splitlines() if ln.split()[:1] == ["1"]]
    assert [r[1] for r in rows] == ["0", "1"] and all(float(r[5]) > 0 for r in rows)
