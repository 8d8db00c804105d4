"""The documentation builds without a single warning, and every public page is in it.

The build runs ``sphinx-build -W --keep-going -b html`` on docs/ (numpydoc, sphinx-gallery
executing every examples/plot_*.py, myst for the benchmarks page) into a temporary folder.
Skipped only when Sphinx is not installed (``pip install ".[docs]"``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (page, text that must be on it): one per public module, so a name that drops out of the
# API reference or a gallery example that stops producing its figure is noticed
EXPECTED = {
    "index.html": "multiproj",
    "api.html": "multiproj.project",
    "generated/multiproj.project.html": "Parameters",
    "generated/multiproj.nn.register_projection.html": "register_projection",
    "generated/multiproj.sae.SparseAutoencoderClassifier.html": "SparseAutoencoderClassifier",
    "generated/multiproj.dask.project.html": "dask",
    "generated/multiproj.distributed.project.html": "shard_axis",
    "generated/multiproj.bench.run_benchmarks.html": "run_benchmarks",
    "benchmarks.html": "Y.copy()",
    "algorithms/l1inf.html": "mu_j",
    "user_guide/axis.html": "sphx_glr_plot_axis_convention_001.png",
}


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    out = tmp_path / "html"
    env = dict(os.environ, MPLBACKEND="Agg")
    res = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT, env=env,
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    for page, text in EXPECTED.items():
        path = out / page
        assert path.is_file(), f"{page} was not built"
        assert text in path.read_text(encoding="utf-8"), f"{page} lacks {text!r}"
    # every example of the gallery has its page and at least one figure
    examples = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
    assert examples
    for name in examples:
        assert (out / "auto_examples" / f"{name}.html").is_file(), name
        assert list((out / "_images").glob(f"sphx_glr_{name}_*.png")), f"{name} drew no figure"
