"""The conventions shared by every ``multiproj`` command: help texts with defaults, exit
codes (0 ok, 2 usage or data error on one line naming the option, 1 internal failure), the
compile status line, and the demo's progress lines."""

from __future__ import annotations

import argparse
import io
import logging

import numpy as np
import pytest

from multiproj import cli
from multiproj.cli import build_parser, main

COMMANDS = sorted(cli.COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help_and_a_default(name):
    parser = _subparsers()[name]
    formatter = parser._get_formatter()
    assert isinstance(formatter, cli.HelpFormatter)
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = formatter._get_help_string(action)
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help text"
        flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        required = action.required or (not action.option_strings and action.nargs is None)
        if not (flag or required or "default" in text):
            missing.append(action.option_strings or action.dest)
    assert not missing, f"{name}: options whose help states no default: {missing}"
    assert cli.EXIT_STATUS in parser.format_help()


def test_help_formatter_states_the_default():
    p = argparse.ArgumentParser(formatter_class=cli.HelpFormatter)
    p.add_argument("--n", type=int, default=7, help="a count")
    p.add_argument("--m", default=None, help="a name (default: none)")
    p.add_argument("--flag", action="store_true", help="a flag")
    text = " ".join(p.format_help().split())
    assert "a count (default: 7)" in text and "(default: none)" in text
    assert "a flag (default" not in text


def _one_line_error(capsys, name: str, flag: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"multiproj {name}: error:"), err
    assert err.count("\n") == 1, err  # one line
    assert flag in err, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def array_file(tmp_path):
    path = tmp_path / "y.npy"
    np.save(path, np.random.default_rng(0).standard_normal((6, 5)))
    return path


def test_project_usage_and_data_errors(tmp_path, array_file, capsys):
    out = str(tmp_path / "x.npy")
    assert main(["project", str(array_file), out, "--radius", "abc"]) == 2
    _one_line_error(capsys, "project", "--radius")
    assert main(["project", str(array_file), out, "--radius", "-1"]) == 2
    _one_line_error(capsys, "project", "--radius")
    assert main(["project", str(array_file), out, "--radius", "1", "--axis", "7"]) == 2
    _one_line_error(capsys, "project", "--axis")
    (tmp_path / "file").write_text("")
    assert main(["project", str(array_file), out, "--radius", "1", "--json", str(tmp_path / "file" / "r.json")]) == 2
    _one_line_error(capsys, "project", "--json")
    assert not (tmp_path / "x.npy").exists()


def test_sae_usage_and_data_errors(tmp_path, capsys):
    assert main(["sae", "--folds", "two"]) == 2
    _one_line_error(capsys, "sae", "--folds")
    assert main(["sae", "--keep", "1.5"]) == 2
    _one_line_error(capsys, "sae", "--keep")
    (tmp_path / "file").write_text("")
    assert main(["sae", "--json", str(tmp_path / "file" / "o.json")]) == 2  # checked before training
    _one_line_error(capsys, "sae", "--json")
    pytest.importorskip("sklearn")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,x\n3,oops,z\n1,1,x\n")
    assert main(["sae", "--csv", str(bad), "--target", "y", "--quiet"]) == 2
    _one_line_error(capsys, "sae", "--csv")
    args = ["sae", "--data", "synthetic", "--n-samples", "20", "--n-features", "5", "--quiet"]
    assert main([*args, "--n-informative", "9"]) == 2
    _one_line_error(capsys, "sae", "--n-informative")
    assert main([*args, "--n-informative", "2", "--folds", "1"]) == 2
    _one_line_error(capsys, "sae", "--folds")


def test_sae_library_errors_name_the_option(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    args = ["sae", "--data", "synthetic", "--n-samples", "40", "--n-features", "6", "--n-informative", "2",
            "--folds", "2", "--epochs", "1", "--retrain-epochs", "1", "--quiet"]
    assert main([*args, "--hidden", "0"]) == 2
    _one_line_error(capsys, "sae", "--hidden")


def test_sae_defaults_are_the_estimators():
    pytest.importorskip("sklearn")
    from multiproj.sae import SparseAutoencoderClassifier
    from multiproj.sae.cli import ESTIMATOR_DEFAULTS, FLAGS

    params = SparseAutoencoderClassifier().get_params()
    assert ESTIMATOR_DEFAULTS == {k: params[k] for k in ESTIMATOR_DEFAULTS}
    sae = _subparsers()["sae"]
    options = {s for a in sae._actions for s in a.option_strings}
    assert set(FLAGS.values()) <= options, set(FLAGS.values()) - options
    defaults = vars(sae.parse_args([]))
    for name, value in ESTIMATOR_DEFAULTS.items():
        assert defaults[name] == value, name


def test_bench_usage_and_data_errors(tmp_path, capsys):
    assert main(["bench", "sizes", "--repeats", "0"]) == 2
    _one_line_error(capsys, "bench", "--repeats")
    assert main(["bench", "sizes", "--threads", "x"]) == 2
    _one_line_error(capsys, "bench", "--threads")
    (tmp_path / "file").write_text("")
    assert main(["bench", "sizes", "--quick", "--plots", str(tmp_path / "file")]) == 2
    _one_line_error(capsys, "bench", "--plots")
    assert main(["bench", "sizes", "--quick", "--json", str(tmp_path)]) == 2  # a folder, not a file
    _one_line_error(capsys, "bench", "--json")


def test_demo_usage_and_data_errors(tmp_path, capsys):
    assert main(["demo", "--out"]) == 2
    _one_line_error(capsys, "demo", "--out")
    (tmp_path / "file").write_text("")
    assert main(["demo", "--out", str(tmp_path / "file")]) == 2
    _one_line_error(capsys, "demo", "--out")
    assert main(["demo", "--bogus"]) == 2
    _one_line_error(capsys, "demo", "--bogus")


def test_internal_failure_exits_1_with_a_traceback(monkeypatch, array_file, tmp_path, capsys):
    def broken(args):
        raise RuntimeError("a bug")

    build = cli.build_parser

    def build_broken():
        parser = build()
        _subparsers_of(parser)["project"].set_defaults(func=broken)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_broken)
    assert main(["project", str(array_file), str(tmp_path / "x.npy"), "--radius", "1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug" in err and "internal error" in err


def _subparsers_of(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    return _subparsers_of(build_parser())


def test_no_command_and_help_exit_codes(capsys):
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert main(["project", "--help"]) == 0


# ------------------------------------------------------------------ compile status line
def _compile_record(logger: logging.Logger) -> None:
    logger.info("compiling x", extra={"multiproj_compile": "start"})


def test_compile_status_prints_one_line(monkeypatch, array_file, tmp_path, capsys):
    import multiproj

    real = multiproj.project
    logger = logging.getLogger("multiproj")

    def project(*args, **kwargs):  # two compilations announced by the library's logger
        _compile_record(logger)
        _compile_record(logger)
        return real(*args, **kwargs)

    monkeypatch.setattr(multiproj, "project", project)
    out = str(tmp_path / "x.npy")
    assert main(["project", str(array_file), out, "--radius", "1"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("multiproj project: compiling the Numba kernels")
    assert main(["project", str(array_file), out, "--radius", "1", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert not logger.handlers  # the handler is removed after the command


def test_compilations_are_logged(caplog):
    """The compilation log tags its records for the CLI's status line: a compilation of a
    function of the package logs a ``start`` and an ``end`` record (with its duration), and
    nothing for other functions."""
    import numba

    import multiproj.kernels  # noqa: F401 - installs the listener

    def make(module: str):
        namespace = {"__name__": module}
        exec("def probe(x):\n    return x + 1\n", namespace)
        return numba.njit(namespace["probe"])

    ours, theirs = make("multiproj._probe_for_tests"), make("elsewhere")
    with caplog.at_level(logging.DEBUG, logger="multiproj"):
        assert ours(1) == 2 and theirs(1) == 2
    records = [r for r in caplog.records if r.name == "multiproj"]
    assert [getattr(r, "multiproj_compile", None) for r in records] == ["start", "end"], records
    assert records[0].levelno == logging.INFO and "_probe_for_tests.probe" in records[0].getMessage()
    assert records[1].levelno == logging.INFO and records[1].seconds >= 0
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="multiproj"):
        assert ours(2) == 3  # compiled already: nothing logged
    assert not [r for r in caplog.records if r.name == "multiproj"]


# -------------------------------------------------------------------- demo progress
def test_fold_progress_lines():
    from multiproj.bench.demo import FoldProgress

    stream = io.StringIO()
    bar = FoldProgress("l1", 2, stream=stream)
    for k in range(2):
        bar.fold_start(k)
        bar.epoch(0, 3, {"train_loss": [0.5], "n_selected": [7]})
        bar.fold_end(k, {"accuracy": 0.75, "n_selected": 4})
    lines = stream.getvalue().splitlines()  # not a terminal: no per-epoch line
    assert len(lines) == 2
    assert lines[0].startswith("  l1: fold 1/2 done in ") and lines[0].endswith("accuracy 0.750, 4 features kept")
    assert lines[1].startswith("  l1: fold 2/2 done in ")


@pytest.mark.parametrize("progress", [True, False])
def test_demo_sae_part_shows_progress_unless_quiet(monkeypatch, tmp_path, capsys, progress):
    pytest.importorskip("sklearn")
    pytest.importorskip("torch")
    import multiproj.sae as sae
    from multiproj.bench import demo

    seen = []

    def fake_cv(X, y, params, *, folds, on_fold_start=None, on_fold_end=None, **kw):
        seen.append(params.get("callback") is not None)
        for k in range(folds):
            if on_fold_start is not None:
                on_fold_start(k)
            if params.get("callback") is not None:
                params["callback"](0, 1, {"train_loss": [0.1], "n_selected": [3]})
            if on_fold_end is not None:
                on_fold_end(k, {"accuracy": 1.0, "n_selected": 3})
        raise RuntimeError("stop here")  # the demo reports a failed constraint and goes on

    monkeypatch.setattr(sae, "cross_validate_sae", fake_cv)
    demo._sae_part(tmp_path, quick=True, progress=progress)
    err = capsys.readouterr().err
    assert seen == [progress] * len(demo.SAE_RUNS)
    if progress:
        for label, _, _ in demo.SAE_RUNS:
            assert f"  {label}: fold 2/2 done in " in err
    else:
        assert "fold" not in err
