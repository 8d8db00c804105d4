"""The typed public API: every public function and method is annotated, the ``py.typed``
marker ships, and mypy (configured in pyproject.toml) finds no error in the public modules."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import multiproj

ROOT = Path(__file__).resolve().parents[1]

#: the modules a user imports, with the names they make public (``__all__``)
PUBLIC = ["multiproj", "multiproj.nn", "multiproj.sae", "multiproj.dask", "multiproj.distributed"]


def _needs(module: str) -> None:
    extra = {"multiproj.nn": "torch", "multiproj.distributed": "torch", "multiproj.dask": "dask",
             "multiproj.sae": "sklearn"}.get(module)
    if extra:
        pytest.importorskip(extra)


def _public_callables(module_name: str):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if not getattr(obj, "__module__", "").startswith("multiproj"):
            continue
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(value, property):
                    value = value.fget
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if inspect.isfunction(value):
                    yield f"{module_name}.{name}.{attr}", value
        else:
            yield f"{module_name}.{name}", obj


def _missing_annotations(fn) -> list[str]:
    sig = inspect.signature(fn)
    missing = [p.name for p in sig.parameters.values()
               if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    if fn.__name__ != "__init__" and sig.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize("module", PUBLIC)
def test_public_functions_are_annotated(module):
    _needs(module)
    found = dict(_public_callables(module))
    assert found, module
    bad = {name: miss for name, fn in found.items() if (miss := _missing_annotations(fn))}
    assert not bad, f"public callables without annotations: {bad}"


def test_the_checker_sees_a_missing_annotation():
    def typed(x: int) -> int:
        return x

    def untyped(x, y: int):
        return x

    assert _missing_annotations(typed) == []
    assert _missing_annotations(untyped) == ["x", "return"]


def test_py_typed_ships_with_the_package():
    assert (Path(multiproj.__file__).parent / "py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'multiproj = ["py.typed"]' in pyproject  # package data of the wheel and sdist


def _cache() -> str:
    # the cache next to the sources keeps reruns to seconds (torch's annotations are read once)
    return os.environ.get("MYPY_CACHE_DIR", str(ROOT / ".mypy_cache"))


def test_mypy_is_clean_on_the_public_modules():
    pytest.importorskip("mypy")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("needs the source tree (pyproject.toml holds the mypy configuration)")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", _cache(),
         "--no-error-summary", "--hide-error-context"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in r.stdout, r.stdout


def test_mypy_reports_a_type_error(tmp_path):
    """The configuration type-checks: a wrong call of the public API is an error."""
    pytest.importorskip("mypy")
    bad = tmp_path / "bad.py"
    bad.write_text("import multiproj\n\nx: float = multiproj.norm([1.0, 2.0], 'l1', axis='0')\n")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", _cache(), str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 1 and "axis" in r.stdout and "bad.py:3" in r.stdout, r.stdout + r.stderr
