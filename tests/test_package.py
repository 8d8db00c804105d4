"""The package surface: lazy integration attributes, the typing marker, the CLI's exit codes
for a missing optional dependency."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import multiproj


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_import_does_not_load_numba_or_torch():
    r = _run("import sys, multiproj; print('numba' in sys.modules, 'torch' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("name", ["nn", "sae", "dask", "distributed", "bench"])
def test_integrations_are_lazy_attributes(name):
    r = _run(
        "import sys, multiproj\n"
        f"assert 'multiproj.{name}' not in sys.modules\n"
        f"m = multiproj.{name}\n"
        f"assert m is sys.modules['multiproj.{name}']\n"
        f"assert '{name}' in dir(multiproj)\n"
        "print('ok')"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        multiproj.nope  # noqa: B018


def test_py_typed_marker_ships():
    assert (Path(multiproj.__file__).parent / "py.typed").is_file()


def test_missing_extra_gives_a_one_line_hint_and_exit_2():
    # sklearn made unimportable: the sae command must name the extra, not print a traceback
    r = _run(
        "import sys\n"
        "sys.modules['sklearn'] = None\n"
        "from multiproj.cli import main\n"
        "raise SystemExit(main(['sae', '--data', 'synthetic', '--n-samples', '40', "
        "'--n-features', '10']))"
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert 'pip install "multiproj[sae]"' in r.stderr
    assert "Traceback" not in r.stderr
