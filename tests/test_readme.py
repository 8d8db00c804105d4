"""The README's Python examples run as written, and say what they print.

Each ```python block of README.md is found by a line it contains (so that editing the
README around it does not break the test) and executed.  Values that the README states in
comments are checked.  The distributed and Dask examples of the user guide
(docs/user_guide/distributed.rst) are run the same way.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DISTRIBUTED_RST = ROOT / "docs" / "user_guide" / "distributed.rst"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def _block(marker: str) -> str:
    found = [b for b in _blocks() if marker in b]
    assert len(found) == 1, f"README: expected one python block containing {marker!r}, got {len(found)}"
    return found[0]


def _rst_block(path: Path, marker: str) -> str:
    """The ``.. code-block:: python`` of an rst page that contains ``marker``, dedented."""
    text = path.read_text()
    found = []
    for m in re.finditer(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text, flags=re.M):
        body = "\n".join(line[3:] for line in m.group(1).splitlines())
        if marker in body:
            found.append(body.strip("\n") + "\n")
    assert len(found) == 1, f"{path.name}: expected one python block containing {marker!r}, got {len(found)}"
    return found[0]


def test_every_python_block_is_covered():
    markers = ("W = np.random.default_rng(0)", "import torch, multiproj, multiproj.nn",
               "SparseAutoencoderClassifier(ball=")
    blocks = _blocks()
    assert len(blocks) == len(markers)
    for b in blocks:
        assert sum(m in b for m in markers) == 1, b[:80]


def test_numpy_quick_start_exact_prox_and_multilevel():
    ns: dict = {}
    exec(_block("W = np.random.default_rng(0)"), ns)
    mp = ns["multiproj"]
    W0 = np.random.default_rng(0).standard_normal((100, 1000))   # W before project_ changed it
    X, E = ns["X"], ns["E"]
    assert mp.norm(X, "l1,inf", axis=0) == pytest.approx(50.0, rel=1e-12)
    assert 0 < (np.abs(X).max(axis=0) == 0).mean() < 1
    # the exact projection is on the same sphere, a different point, and the closest one
    assert mp.norm(E, "l1,inf", axis=0) == pytest.approx(50.0, rel=1e-9)
    assert not np.allclose(E, X)
    assert np.linalg.norm(W0 - E) < np.linalg.norm(W0 - X)
    assert ns["P"].shape == W0.shape and not np.array_equal(ns["P"], W0)
    T5 = ns["T5"]
    assert mp.norm(T5, "l1,inf,inf", levels=(1, 0, (2, 3))) == pytest.approx(5.0, rel=1e-12)
    assert round(float((np.abs(T5).max(axis=(0, 2, 3)) == 0).mean()), 2) == 0.53
    # project_ changed W in place, as it says, onto the bi-level l1,1 sphere of radius 50
    assert mp.norm(ns["W"], "l1,1", axis=0) == pytest.approx(50.0, rel=1e-9)
    assert np.abs(ns["W"]).sum() < np.abs(W0).sum()


def test_torch_block():
    pytest.importorskip("torch")
    ns: dict = {}
    exec(_block("import torch, multiproj, multiproj.nn"), ns)
    torch, mp = ns["torch"], ns["multiproj"]
    assert mp.norm(ns["X"], "l1,inf", axis=0) == pytest.approx(50.0, rel=1e-5)
    w = ns["model"][0].weight
    assert isinstance(w, torch.nn.Parameter)
    assert mp.norm(w, "l1,inf", axis=0) == pytest.approx(50.0, rel=1e-5)
    assert not ns["h"].active
    report = ns["mpn"].sparsity_report(ns["model"])["0.weight"]
    # (the uniform initialisation puts every column maximum near 1/sqrt(20000): at this
    # radius the bi-level projection shrinks them all and removes none)
    assert len(report["kept"]) + report["zero_groups"] == 20000


def test_distributed_block_as_a_script(tmp_path):
    pytest.importorskip("torch")
    script = tmp_path / "sharded.py"
    script.write_text(_rst_block(DISTRIBUTED_RST, "save as sharded.py"))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


@pytest.mark.slow
def test_dask_block(capsys):
    pytest.importorskip("dask")
    exec(_rst_block(DISTRIBUTED_RST, "import dask.array"), {})
    kept, _, total, *rest = capsys.readouterr().out.split()
    assert 0 < int(kept) < int(total) == 50_000
    assert float(rest[-1]) == pytest.approx(100.0, rel=1e-9)


@pytest.mark.slow
def test_sae_block():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    ns: dict = {}
    exec(_block("SparseAutoencoderClassifier(ball="), ns)
    clf = ns["clf"]
    assert 0 < clf.n_features_selected_ < 1000
    assert clf.transform(ns["d"].X).shape == (1000, clf.n_features_selected_)
