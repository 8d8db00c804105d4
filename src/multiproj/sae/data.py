"""Data for the SAE: the synthetic set of SPEC s.7 and CSV files (samples x features).

The CSV reader needs no pandas: a header row, one row per sample, one column for the
class labels (``target``, any strings), every other kept column numeric.  Any problem
(missing file or column, a non-numeric, empty or NaN/inf cell, a single class) raises one
:class:`DataError` (a ``ValueError``) whose message names the file, the row and the column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "DataError", "make_synthetic", "load_csv"]


class DataError(ValueError):
    """Invalid input data (the message says where and why)."""


@dataclass
class Dataset:
    """Features, labels and what is known about them.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,)
        Class labels (any sortable type).
    feature_names : list of str
    informative : ndarray of int or None
        0-based indices of the truly informative features when known (synthetic data).
    name : str
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    informative: np.ndarray | None = None
    name: str = ""
    info: dict = field(default_factory=dict)


def make_synthetic(
    n_samples: int = 1000,
    n_features: int = 1000,
    n_informative: int = 64,
    n_classes: int = 2,
    class_sep: float = 1.0,
    random_state: int = 0,
) -> Dataset:
    """The synthetic data of SPEC s.7 (scikit-learn ``make_classification``).

    ``n_redundant=0, n_repeated=0, n_clusters_per_class=1`` and ``shuffle=False``, so the
    informative features are the first ``n_informative`` columns: ``informative`` is
    ``arange(n_informative)`` and the recall and precision of a selection can be measured.
    """
    from sklearn.datasets import make_classification

    if not 1 <= n_informative <= n_features:
        raise ValueError(
            f"The 'n_informative' parameter must be in [1, n_features={n_features}]. "
            f"Got {n_informative} instead."
        )
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_repeated=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=class_sep,
        shuffle=False,
        random_state=random_state,
    )
    return Dataset(
        X=X,
        y=y,
        feature_names=[f"x{j}" for j in range(n_features)],
        informative=np.arange(n_informative),
        name=f"synthetic {n_samples}x{n_features}, {n_informative} informative, seed {random_state}",
    )


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def load_csv(path, target: str, *, drop=(), delimiter: str | None = None) -> Dataset:
    """Read a CSV file: header row, rows = samples, ``target`` = the label column.

    Parameters
    ----------
    path : str or path-like
    target : str
        Name of the label column (labels may be any strings).
    drop : sequence of str
        Other columns to ignore (e.g. a sample identifier).
    delimiter : str, optional
        ``","``, ``";"`` or tab; guessed from the header row when omitted.

    Raises
    ------
    DataError
        Missing file or column, ragged rows, a cell that is empty, not a number, NaN or inf,
        fewer than two samples or classes.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        raise DataError(f"cannot read the CSV file {str(path)!r}: {exc.strerror or exc}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataError(f"the CSV file {str(path)!r} is empty (a header row is needed).")
    delim = delimiter or _sniff_delimiter(lines[0])
    rows = [r for r in csv.reader(lines, delimiter=delim) if any(c.strip() for c in r)]
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise DataError(
            f"the target column {target!r} is not in the header of {str(path)!r}; "
            f"columns are: {', '.join(header[:20])}{', ...' if len(header) > 20 else ''}."
        )
    missing = [d for d in drop if d not in header]
    if missing:
        raise DataError(f"the column(s) to drop {missing} are not in the header of {str(path)!r}.")
    t = header.index(target)
    keep = [j for j, h in enumerate(header) if j != t and h not in set(drop)]
    if not keep:
        raise DataError(f"the CSV file {str(path)!r} has no feature column besides {target!r}.")
    body = rows[1:]
    X = np.empty((len(body), len(keep)))
    y = []
    for i, row in enumerate(body):
        line = i + 2  # 1-based, after the header
        if len(row) != len(header):
            raise DataError(
                f"{str(path)!r}, line {line}: {len(row)} cells, the header has {len(header)}."
            )
        label = row[t].strip()
        if not label:
            raise DataError(f"{str(path)!r}, line {line}: the target column {target!r} is empty.")
        y.append(label)
        for k, j in enumerate(keep):
            cell = row[j].strip()
            try:
                v = float(cell)
            except ValueError:
                what = "is empty" if not cell else f"is not a number ({cell!r})"
                raise DataError(f"{str(path)!r}, line {line}, column {header[j]!r}: the cell {what}.") from None
            if not math.isfinite(v):
                raise DataError(
                    f"{str(path)!r}, line {line}, column {header[j]!r}: the cell is {cell!r}; "
                    "NaN and infinite values are not accepted (impute them first)."
                )
            X[i, k] = v
    if len(y) < 2:
        raise DataError(f"the CSV file {str(path)!r} has {len(y)} sample row(s); at least 2 are needed.")
    y = np.asarray(y)
    # numeric labels stay numeric (0/1 rather than "0"/"1")
    try:
        y_num = y.astype(np.float64)
        if np.all(y_num == np.round(y_num)):
            y = y_num.astype(np.int64)
    except ValueError:
        pass
    if np.unique(y).size < 2:
        raise DataError(f"the target column {target!r} of {str(path)!r} has a single class ({y[0]!r}).")
    return Dataset(X=X, y=y, feature_names=[header[j] for j in keep], name=str(path))
