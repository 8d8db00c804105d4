"""Inner cross-validation of the SAE's settings: :class:`SparseAutoencoderCV`."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["SparseAutoencoderCV", "DEFAULT_GRID"]

#: settings tried by default: the learning rate of SGD
DEFAULT_GRID = {"lr": [1e-4, 1e-3]}


class SparseAutoencoderCV(SelectorMixin, ClassifierMixin, BaseEstimator):
    """:class:`~multiproj.sae.SparseAutoencoderClassifier` whose settings are chosen by
    cross-validation on the training data only.

    ``fit(X, y)`` runs :class:`sklearn.model_selection.GridSearchCV` over ``param_grid`` with
    ``cv`` stratified folds of ``(X, y)`` (shuffled with ``random_state``) and ``scoring``,
    then refits the best setting on all of ``(X, y)``: data passed to ``predict`` later never
    take part in the choice.  ``predict``, ``predict_proba``, ``decision_function`` and the
    feature selection (``transform``, ``get_support``) are those of the refitted estimator.

    Parameters
    ----------
    estimator : SparseAutoencoderClassifier or None, default None
        The settings not searched (``keep``, ``ball``, epochs, ...); ``None``: the defaults.
    param_grid : dict or list of dict, default ``{"lr": [1e-4, 1e-3]}``
        Parameter names of the estimator and the values to try (e.g. ``"keep"``, ``"lr"``,
        ``"path_steps"``, ``"radius"``).
    cv : int, default 3
        Number of stratified inner folds (at most the size of the smallest class).
    scoring : str or callable, default "balanced_accuracy"
    random_state : int, default 0
        Shuffles the inner folds.

    Attributes
    ----------
    best_estimator_ : SparseAutoencoderClassifier
    best_params_ : dict
    best_score_ : float
    cv_results_ : dict
        Of the grid search.
    classes_, n_features_in_, support_, n_features_selected_, feature_importances_,
    feature_ranking_
        Of ``best_estimator_``.

    Examples
    --------
    >>> from multiproj.sae import SparseAutoencoderCV, SparseAutoencoderClassifier, make_synthetic
    >>> d = make_synthetic(120, 30, 5)
    >>> base = SparseAutoencoderClassifier(keep=5, epochs=3, retrain_epochs=2)
    >>> cv = SparseAutoencoderCV(base, {"lr": [1e-4, 1e-3]}, cv=2).fit(d.X, d.y)
    >>> sorted(cv.best_params_), cv.n_features_selected_
    (['lr'], 5)
    """

    best_estimator_: Any
    support_: NDArray

    def __init__(
        self,
        estimator: Any = None,
        param_grid: dict | list[dict] | None = None,
        *,
        cv: int = 3,
        scoring: Any = "balanced_accuracy",
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> SparseAutoencoderCV:
        """Search ``param_grid`` by inner cross-validation on ``(X, y)``, refit the best on
        all of it; returns self.  ``sample_weight`` goes to every fit."""
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        from .estimator import SparseAutoencoderClassifier

        if not (isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool) and self.cv >= 2):
            raise ValueError(
                f"The 'cv' parameter of SparseAutoencoderCV must be an integer >= 2. Got {self.cv!r} instead."
            )
        est = SparseAutoencoderClassifier() if self.estimator is None else self.estimator
        if not isinstance(est, SparseAutoencoderClassifier):
            raise TypeError(
                "The 'estimator' parameter of SparseAutoencoderCV must be a SparseAutoencoderClassifier "
                f"or None. Got {type(est).__name__} instead."
            )
        grid = DEFAULT_GRID if self.param_grid is None else self.param_grid
        y_arr = np.asarray(y)
        _, counts = np.unique(y_arr, return_counts=True)
        n_splits = int(min(self.cv, counts.min()))
        if n_splits < 2:
            raise ValueError(
                "SparseAutoencoderCV needs at least 2 samples of every class for its inner folds; "
                f"the smallest class has {counts.min()}."
            )
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        search = GridSearchCV(clone(est), grid, scoring=self.scoring, cv=folds, refit=True, error_score="raise")
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        search.fit(X, y, **params)
        self.best_estimator_ = search.best_estimator_
        self.best_params_ = search.best_params_
        self.best_score_ = float(search.best_score_)
        self.cv_results_ = search.cv_results_
        b = self.best_estimator_
        for name in ("classes_", "n_features_in_", "support_", "n_features_selected_", "feature_importances_",
                     "feature_ranking_"):
            setattr(self, name, getattr(b, name))
        if hasattr(b, "feature_names_in_"):
            self.feature_names_in_ = b.feature_names_in_
        return self

    def predict(self, X: ArrayLike) -> NDArray:
        """Predicted class labels of the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    def predict_proba(self, X: ArrayLike) -> NDArray:
        """Class probabilities of the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    def decision_function(self, X: ArrayLike) -> NDArray:
        """Decision function of the refitted best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    def _get_support_mask(self) -> NDArray:
        check_is_fitted(self)
        return self.support_
