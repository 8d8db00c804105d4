"""The package's import graph, read from the source with ``ast``: no import cycle, and every
import points down the layers

    integrations (nn, dask, distributed, sae, bench, cli)
      -> public API (multiproj, _api, _prox, _backend)
        -> backends (_cpu, _torch)
          -> kernels (Numba only)
            -> core (_core: ball, checks, plan, registry, config, threads).

Imports inside functions (the lazy imports that keep ``import multiproj`` light) count the
same as module-level ones.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import multiproj

ROOT = Path(multiproj.__file__).parent

# The integrations may use the public API, the primitives interface of the backends (the
# steps that dask and distributed combine on pieces of an array) and the core rules.
PRIMITIVES = {"multiproj._cpu.primitives", "multiproj._torch.primitives"}
API = {"multiproj", "multiproj._api", "multiproj._prox", "multiproj._backend"}

ALLOWED = {
    "core": {"core"},
    "kernels": {"kernels"},  # and the JIT options of multiproj._core.config, see below
    "backend": {"core", "kernels", "backend"},
    "api": {"core", "backend", "api"},
    "integration": {"core", "api", "integration"},
}
KERNEL_CONFIG = {"multiproj._core.config"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that ``name`` imports (anywhere in its source)."""
    out = set()
    pkg = _package_of(name, path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import sub`` imports the submodule when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # ``import a.b.c`` names the module a.b.c
                t = t.rpartition(".")[0]
            if t.startswith("multiproj") and t != name:
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def _layer(name: str) -> str:
    if name.startswith("multiproj._core"):
        return "core"
    if name.startswith("multiproj.kernels"):
        return "kernels"
    if name.startswith(("multiproj._cpu", "multiproj._torch")):
        return "backend"
    if name in API:
        return "api"
    return "integration"


def test_graph_is_read():
    g = _graph()
    assert "multiproj._api" in g and "multiproj._core.plan" in g["multiproj._api"]
    assert "multiproj._cpu.solvers" in g["multiproj._backend"]  # a lazy import counts
    assert "multiproj.kernels.grouped" in g["multiproj._cpu.groups"]


def test_no_import_cycle():
    g = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_imports_point_down_the_layers():
    bad = []
    for name, targets in _graph().items():
        src = _layer(name)
        for t in targets:
            dst = _layer(t)
            if src == "kernels" and t in KERNEL_CONFIG:
                continue
            if src == "integration" and dst == "backend" and t in PRIMITIVES:
                continue
            if dst not in ALLOWED[src]:
                bad.append(f"{name} ({src}) imports {t} ({dst})")
    assert not bad, "imports that point up a layer or skip the API:\n" + "\n".join(sorted(bad))


def test_layer_rules_reject_a_bad_import():
    """The checker itself: an import from the core to the API, and from a kernel to a
    backend, are reported."""
    assert "api" not in ALLOWED[_layer("multiproj._core.plan")]
    assert "backend" not in ALLOWED[_layer("multiproj.kernels.grouped")]
    assert _layer("multiproj.nn") == "integration" and _layer("multiproj.sae.train") == "integration"
    assert "backend" not in ALLOWED["integration"]  # only the primitives interface is let in


def test_primitives_interface_is_the_same_on_both_backends():
    """The primitives interface: same names and signatures on the CPU and torch backends."""
    pytest.importorskip("torch")
    from multiproj import _backend
    from multiproj._cpu import primitives as cpu
    from multiproj._torch import primitives as tp

    for fname in _backend.PRIMITIVES:
        a, b = getattr(cpu, fname), getattr(tp, fname)
        if inspect.isclass(a):
            assert inspect.isclass(b), fname
            sa, sb = inspect.signature(a.__init__), inspect.signature(b.__init__)
            assert callable(getattr(a, "sums", None)) and callable(getattr(b, "sums", None)), fname
        else:
            sa, sb = inspect.signature(a), inspect.signature(b)
        assert list(sa.parameters) == list(sb.parameters), (fname, sa, sb)
        assert [p.default for p in sa.parameters.values()] == [
            p.default for p in sb.parameters.values()
        ], fname
    import numpy as np

    assert _backend.primitives(np.zeros(2)) is cpu


@pytest.mark.parametrize(
    "message",
    [
        "does not support the ball",
        "parameter is used only by method='multilevel'",
        "needs an array with at least 2 dimensions",
        "parameter must be an int >= 1",
    ],
)
def test_each_legality_message_is_written_once(message):
    """The rules that combine method, ball, axes and levels live in one place
    (``multiproj._core.plan.resolve``, and ``check_every``): their messages appear once in
    the package's source."""
    count = sum(p.read_text().count(message) for p in ROOT.rglob("*.py"))
    assert count == 1, (message, count)
