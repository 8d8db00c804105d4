"""Data for the SAE: the synthetic set of [SAE] and delimited text files.

:func:`load_csv` reads two layouts with pandas' C parser:

* samples as rows: a header row, one row per sample, one column of class labels
  (``target``), every other kept column numeric;
* features as rows (the usual omics export): the first column holds the feature names, the
  header row the sample names, and one row, named ``target`` (e.g. ``Label``), the class
  labels.  Detected when ``target`` is not a column name but a first-column entry, or forced
  with ``features_as_rows=True``.

The separator (``,``, ``;`` or tab) is guessed from the first line and the decimal mark
(``.`` or ``,``) from the cells when the separator is not a comma.  Any problem (missing
file, row or column, a non-numeric, empty or NaN/inf cell, a single class) raises one
:class:`DataError` (a ``ValueError``) whose message names the file, the line and the column.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Dataset", "DataError", "make_synthetic", "load_csv", "read_table"]


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
    info : dict
        ``layout`` ("samples as rows" or "features as rows"), ``folds`` (one fold id per
        sample when a fold column or row was read, else absent), ``decimal``, ``sep``.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    informative: np.ndarray | None = None
    name: str = ""
    info: dict = field(default_factory=dict)

    def to_frame(self) -> tuple[Any, Any]:
        """``(X, y)`` as a pandas DataFrame (columns = feature names) and a Series."""
        import pandas as pd

        return pd.DataFrame(self.X, columns=self.feature_names), pd.Series(self.y, name="label")


def make_synthetic(
    n_samples: int = 1000,
    n_features: int = 1000,
    n_informative: int = 64,
    n_classes: int = 2,
    class_sep: float = 1.0,
    random_state: int = 0,
) -> Dataset:
    """The synthetic data of [SAE] and [BLP] (scikit-learn ``make_classification``).

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
    return max(counts, key=lambda d: counts[d]) if max(counts.values()) > 0 else ","


def _labels(values) -> np.ndarray:
    """Labels as strings, or as ints when every label is an integer."""
    y = np.asarray([v.strip() for v in values])
    try:
        y_num = y.astype(np.float64)
        if np.all(np.isfinite(y_num)) and np.all(y_num == np.round(y_num)):
            return y_num.astype(np.int64)
    except ValueError:
        pass
    return y


def read_table(path, *, sep=None):
    """Read a delimited text file into a DataFrame of strings (no header, no type guessing),
    keeping one row per line of the file; returns ``(frame, sep)``."""
    import pandas as pd

    try:
        with open(path, encoding="utf-8-sig") as fh:
            first = fh.readline()
    except OSError as exc:
        raise DataError(f"cannot read the CSV file {str(path)!r}: {exc.strerror or exc}") from None
    if not first.strip():
        raise DataError(f"the CSV file {str(path)!r} is empty (a header row is needed).")
    sep = sep or _sniff_delimiter(first)
    try:
        df = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False,
                         encoding="utf-8-sig", engine="c")
    except pd.errors.ParserError as exc:
        import re

        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise DataError(
                f"{str(path)!r}, line {m.group(2)}: {m.group(3)} cells, the header has {m.group(1)}."
            ) from None
        raise DataError(f"cannot parse the CSV file {str(path)!r}: {exc}") from None
    return df, sep


def _to_float(block: np.ndarray, decimal: str, where) -> np.ndarray:
    """Convert a 2-D array of strings to float64; ``where(i, j)`` names a cell for errors."""
    b = np.char.strip(block.astype(str))
    if decimal == ",":
        b = np.char.replace(b, ",", ".")
    try:
        X = b.astype(np.float64)
    except ValueError:
        X = None
    if X is None:  # locate the first cell that is not a number, in file order
        import pandas as pd

        bad = np.zeros(b.shape, dtype=bool)
        for j in range(b.shape[1]):
            bad[:, j] = pd.to_numeric(pd.Series(b[:, j]), errors="coerce").isna().to_numpy() & ~np.isin(
                np.char.lower(b[:, j]), ["nan", "-nan", "+nan"]
            )
        i, j = np.argwhere(bad)[0] if bad.any() else (0, 0)
        cell = block[i, j].strip()
        what = "is empty" if not cell else f"is not a number ({cell!r})"
        raise DataError(f"{where(i, j)}: the cell {what}.")
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"{where(i, j)}: the cell is {block[i, j].strip()!r}; NaN and infinite values are not accepted "
            "(impute them first)."
        )
    return X


def _guess_decimal(block: np.ndarray, sep: str) -> str:
    if sep == ",":
        return "."
    sample = block[: min(block.shape[0], 50)].ravel()
    return "," if any("," in c for c in sample) else "."


def load_csv(path: str | os.PathLike[str], target: str = "Label", *, drop: Sequence[str] = (), delimiter: str | None = None, decimal: str | None = None,
             features_as_rows: bool | None = None, fold_column: str | None = None) -> Dataset:
    """Read a delimited text file (two layouts, see the module docstring).

    Parameters
    ----------
    path : str or path-like
    target : str, default "Label"
        Name of the label column (samples as rows) or row (features as rows).
    drop : sequence of str
        Other columns (rows) to ignore, e.g. a sample identifier.
    delimiter : str, optional
        ``","``, ``";"`` or tab; guessed from the first line when omitted.
    decimal : {".", ","}, optional
        Decimal mark; guessed when omitted (``,`` only with another separator).
    features_as_rows : bool, optional
        The layout; detected when omitted.
    fold_column : str, optional
        A column (row) giving each sample's fold; stored in ``info["folds"]`` and not a feature.

    Raises
    ------
    DataError
        Missing file, column or row, ragged rows, a cell that is empty, not a number, NaN or
        inf, fewer than two samples or classes.
    """
    df, sep = read_table(path, sep=delimiter)
    raw = df.to_numpy(dtype=object)
    lines = np.arange(raw.shape[0]) + 1  # 1-based line of each row
    nonempty = np.array([any(str(c).strip() for c in r) for r in raw])
    raw, lines = raw[nonempty], lines[nonempty]
    P = str(path)
    header = [str(h).strip() for h in raw[0]]
    first_col = [str(c).strip() for c in raw[:, 0]]
    if features_as_rows is None:
        features_as_rows = target not in header and target in first_col[1:]
    special = [c for c in (target, fold_column) if c]
    if not features_as_rows:
        for name in special:
            if name not in header:
                hint = " (it is a row name: pass features_as_rows / --features-as-rows)" if name in first_col else ""
                raise DataError(
                    f"the {'target' if name == target else 'fold'} column {name!r} is not in the header of {P!r}{hint}; "
                    f"columns are: {', '.join(header[:20])}{', ...' if len(header) > 20 else ''}."
                )
        missing = [d for d in drop if d not in header]
        if missing:
            raise DataError(f"the column(s) to drop {missing} are not in the header of {P!r}.")
        t = header.index(target)
        skip = {t} | {header.index(d) for d in drop} | ({header.index(fold_column)} if fold_column else set())
        keep = [j for j in range(len(header)) if j not in skip]
        body, blines = raw[1:], lines[1:]
        if not keep:
            raise DataError(f"the CSV file {P!r} has no feature column besides {target!r}.")
        labels = body[:, t]
        empty = np.flatnonzero([not str(v).strip() for v in labels])
        if empty.size:
            raise DataError(f"{P!r}, line {blines[empty[0]]}: the target column {target!r} is empty.")
        block = body[:, keep]
        dec = decimal or _guess_decimal(block, sep)
        X = _to_float(block, dec, lambda i, j: f"{P!r}, line {blines[i]}, column {header[keep[j]]!r}")
        names = [header[j] for j in keep]
        folds = body[:, header.index(fold_column)] if fold_column else None
        layout = "samples as rows"
    else:
        for name in special:
            if name not in first_col[1:]:
                raise DataError(
                    f"the {'target' if name == target else 'fold'} row {name!r} is not in the first column of {P!r} "
                    f"(features as rows); first entries: {', '.join(first_col[1:21])}."
                )
        missing = [d for d in drop if d not in first_col[1:]]
        if missing:
            raise DataError(f"the row(s) to drop {missing} are not in the first column of {P!r}.")
        samples = header[1:]
        t = first_col.index(target, 1)
        skip = {0, t} | {first_col.index(d, 1) for d in drop} | ({first_col.index(fold_column, 1)} if fold_column else set())
        keep = [i for i in range(raw.shape[0]) if i not in skip]
        if not keep:
            raise DataError(f"the CSV file {P!r} has no feature row besides {target!r}.")
        labels = raw[t, 1:]
        empty = np.flatnonzero([not str(v).strip() for v in labels])
        if empty.size:
            raise DataError(f"{P!r}, line {lines[t]}, column {samples[empty[0]]!r}: the label is empty.")
        block = raw[keep, 1:]
        dec = decimal or _guess_decimal(block, sep)
        X = _to_float(block, dec, lambda i, j: (f"{P!r}, line {lines[keep[i]]} (feature {first_col[keep[i]]!r}), "
                                                 f"column {samples[j]!r}")).T.copy()
        names = [first_col[i] for i in keep]
        folds = raw[first_col.index(fold_column, 1), 1:] if fold_column else None
        layout = "features as rows"
    if X.shape[0] < 2:
        raise DataError(f"the CSV file {P!r} has {X.shape[0]} sample(s); at least 2 are needed.")
    y = _labels(labels)
    if np.unique(y).size < 2:
        raise DataError(f"the target {target!r} of {P!r} has a single class ({y[0]!r}).")
    info = {"layout": layout, "sep": sep, "decimal": dec}
    if folds is not None:
        info["folds"] = _labels(folds)
    return Dataset(X=X, y=y, feature_names=names, name=P, info=info)
