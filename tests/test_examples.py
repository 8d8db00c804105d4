"""Every script of examples/ runs as a plain script and exits 0 (matplotlib on Agg)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
# the optional dependencies an example may import; a missing one skips that example
OPTIONAL = ("torch", "sklearn", "dask", "matplotlib")


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    source = script.read_text(encoding="utf-8")
    for mod in OPTIONAL:
        if re.search(rf"^\s*(import|from) {mod}\b", source, flags=re.M):
            pytest.importorskip(mod)
    env = dict(os.environ, MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stdout.strip(), f"{script.name} printed nothing"
