"""The compilation log: one INFO record when a kernel of the package starts compiling (not
for the kernels it calls, nor for other code's Numba functions) and one with its
duration."""

from __future__ import annotations

import logging

import pytest

numba = pytest.importorskip("numba")

from multiproj.kernels import compile as kc  # noqa: E402


def _fresh(name: str, module: str):
    src = f"def {name}(x):\n    return x + 1\n"
    ns: dict = {}
    exec(compile(src, f"<{name}>", "exec"), ns)
    fn = ns[name]
    fn.__module__ = module
    return fn


def test_first_compilation_is_logged_once(caplog):
    inner = numba.njit(cache=False)(_fresh("inner_k", "multiproj.kernels.fake"))

    def outer_k(x):
        return inner(x) * 2

    outer_k.__module__ = "multiproj.kernels.fake"
    outer = numba.njit(cache=False)(outer_k)
    kc.log_compilations()
    with caplog.at_level(logging.INFO, logger="multiproj"):
        assert outer(1) == 4
        assert outer(2) == 6  # compiled already: nothing logged
    msgs = [r.getMessage() for r in caplog.records if r.name == "multiproj"]
    assert msgs[0] == "compiling fake.test_first_compilation_is_logged_once.<locals>.outer_k (first use; cached afterwards)"
    assert len(msgs) == 2 and msgs[1].startswith("compiled fake.") and msgs[1].endswith(" s")
    assert all("inner_k" not in m for m in msgs)  # compiled inside outer_k


def test_other_code_is_not_logged(caplog):
    user = numba.njit(cache=False)(_fresh("user_fn", "user_module"))
    kc.log_compilations()
    with caplog.at_level(logging.INFO, logger="multiproj"):
        assert user(1) == 2
    assert not [r for r in caplog.records if r.name == "multiproj"]
