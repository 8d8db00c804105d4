"""scikit-learn estimator around the SAE: :class:`SparseAutoencoderClassifier`."""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .train import DEFAULT_KEEP, EPOCH_SELECTIONS, OPTIMIZERS, SCHEDULES

__all__ = ["SparseAutoencoderClassifier", "BALLS", "REFITS"]

#: constraints accepted by ``ball`` (``None``: no projection)
BALLS = (None, "l1", "l1,inf", "l1,1", "l1,2")
#: final classifiers on the selected features
REFITS = ("sae", "lr", "lr_cv")


class SparseAutoencoderClassifier(SelectorMixin, ClassifierMixin, BaseEstimator):
    r"""Supervised autoencoder classifier that selects input features with a projection.

    The model of [SAE]: encoder ``Linear(F, hidden) -> SiLU -> Linear(hidden, C)`` whose
    output is the vector of class logits, decoder ``Linear(C, hidden) -> SiLU ->
    Linear(hidden, F)``, loss ``sum_i w_i CE_i + recon_weight * sum SmoothL1`` (sums over the
    batch), trained by SGD with momentum 0.9 (``optimizer="sgd"``, the default) or Adam.
    The first encoder weight ``W`` (``hidden x F``) is constrained to the ball
    ``{W : ||W||_ball <= radius}`` with groups = input features (columns of ``W``): with
    ``ball="l1,inf"`` and ``method="bilevel"`` [BLP] whole columns become zero, i.e. the
    features are removed.  The selected features are those whose column is not zero.

    Parameters
    ----------
    ball : {"l1,inf", "l1,1", "l1,2", "l1"} or None, default "l1,inf"
        Constraint on ``W``; ``None`` trains without projection (all features kept).
        ``"l1"`` takes ``W`` as one vector.
    method : {"bilevel", "exact"}, default "bilevel"
        Projection method (:data:`multiproj.METHODS`).  ``"exact"`` with ``"l1,inf"`` is the
        exact Euclidean projection; ``"l1"`` and ``"l1,2"`` are always exact.
    keep : int or float, default 10
        Features to select: a number (int, capped at ``F``) or a share of ``F`` (float in
        ``(0, 1]``, ``ceil(keep * F)``).  ``"double_descent"`` without ``radius``: the
        projection at the end of the first descent uses the radius
        (:func:`multiproj.radius_for`) at which it keeps exactly that many features, those
        of largest column score (the ball's inner norm); the pruning of entries below
        ``threshold`` never empties a kept column, so ``n_features_selected_ == keep``
        (fewer only when tied scores make the count infeasible).  ``"projected"`` without
        ``radius``: the radius is ``keep / F`` times the norm of the initial weight (the
        count is then not exact).
    radius : float or None, default None
        An explicit radius (overrides ``keep``; the number of features then depends on the
        scale of ``W``).  The radius used is ``radius_``.
    n_resamples : int, default 0
        Stability selection: ``> 0`` fits the first descent on that many stratified
        subsamples (``resample_fraction`` of the training data, without replacement) and on
        the whole training data; each fit ranks the features by column score; the features
        kept are the ``keep`` most often in the top ``keep``, ties broken by the mean
        column score (divided by each fit's largest).  With ``path_steps > 0`` each fit runs
        the path and the features are ranked by the share of the path they survive
        (``exit_step / steps``) averaged over the fits, then by frequency and mean score.
        The full fit's first layer then keeps exactly those columns for the second descent.
        0: the projection (or the path) of the full fit alone decides.
    resample_fraction : float, default 0.5
        Size of each subsample, as a share of the training data.
    path_steps : int, default 5
        ``"double_descent"`` without ``radius``: ``> 0`` replaces the single projection at
        the end of the first descent by a warm-started path of that many radii, each keeping
        fewer features (geometrically from ``F`` to ``keep``), with ``path_epochs`` epochs
        of training between two projections and the removed columns frozen at zero
        (:func:`multiproj.sae.train.train_sae`).  The features kept are the survivors of the
        last step; ``path_`` and ``entry_radius_`` record the path.  0: one projection.
        5 is the default because, on six data sets (docs/sae_results.md: wine, breast
        cancer, diabetes, digits, single-cell PBMC, the synthetic set; two numbers of
        features each), it brought the mean balanced accuracy from 0.027 below the best of
        three baselines to 0.007 below it, and the cells where the SAE is at least the best
        baseline with a stability >= 0.5 from 2 to 3 of 12, for about 20 % more epochs.
    path_epochs : int, default 2
        Epochs of training between two steps of the path.
    refit : {"sae", "lr", "lr_cv"}, default "lr"
        Final classifier on the selected features: the SAE retrained with the other
        features removed (the second descent), or a logistic regression
        (``LogisticRegression(C=1, class_weight)``) fitted on the selected columns of the
        training data (``predict``, ``predict_proba`` and ``decision_function`` then come
        from it; ``reconstruct`` still uses the SAE).  ``"lr"`` is the default: with a
        handful of features the retrained network (20 epochs) is less accurate than a
        logistic regression on the same features (breast cancer, 5 and 10 features:
        0.949 -> 0.955 balanced accuracy; wine, 10 features: 0.960 -> 0.977), and the
        selection is the same.  ``"lr_cv"``: the same logistic regression with ``C`` chosen
        among ``logspace(-3, 3, 13)`` by 5-fold stratified cross-validation on the training
        data (balanced accuracy).
    class_weight : "balanced", dict or None, default "balanced"
        Weights of the cross-entropy per class (``"balanced"``: ``n / (C n_c)``), multiplied
        by ``sample_weight`` of :meth:`fit`.  Also used by ``refit="lr"``.
    schedule : {"double_descent", "projected"}, default "double_descent"
        ``"double_descent"``: ``epochs`` epochs, one projection, entries below ``threshold``
        set to zero, ``retrain_epochs`` epochs with those zeros frozen.  ``"projected"``:
        projection after every optimiser step, ``epochs + retrain_epochs`` epochs.
    epochs, retrain_epochs : int, default 20 and 20
    batch_size : int, default 32
        Mini-batch size ([SAE] uses 4).
    lr : float, default 1e-4
        Learning rate (the loss is a sum over the batch, not a mean).
    optimizer : {"sgd", "adam"}, default "sgd"
        SGD with momentum 0.9, or Adam.  [SAE]'s setting is ``optimizer="adam", lr=5e-4,
        batch_size=4, epochs=30, retrain_epochs=30``.  SGD is the default because Adam's
        per-coordinate step normalisation gives every weight the same step size whatever its
        gradient's magnitude, so that after training the column norms of ``W`` rank the
        informative features poorly (on the synthetic data of [SAE], 36 % of the 64 largest
        columns are informative after Adam, 97 % after SGD) and the projection selects
        noise.
    hidden : int, default 100
    activation : {"silu", "relu", "tanh", "gelu"}, default "silu"
    init_scale : float, default 0.1
        Factor applied to torch's initial first-layer weight.  The projection ranks the
        features by their column norms; a small factor makes those norms reflect what
        training learned rather than the random initialisation.  On four data sets (wine,
        breast cancer, digits, the synthetic set; 10/20 or 5/10 features, docs/sae_results.md)
        0.1 brought the mean balanced accuracy from 0.006 below the best baseline to 0.001
        below it.
    recon_weight : float, default 5e-5
        Weight ``lambda`` of the reconstruction term.
    threshold : float, default 1e-3
        Double descent: entries of the projected ``W`` below it (in absolute value) are pruned.
    epoch_selection : {"last", "val_accuracy", "val_loss"}, default "last"
        Keep the weights of the last epoch, or of the best epoch on a validation split of the
        *training* data (``validation_fraction`` of it, stratified); test data never take part.
        With ``"last"`` no validation split is made: every training sample is used to fit.
    validation_fraction : float, default 0.1
        Share of the training data held out when ``epoch_selection`` is not ``"last"``.
    random_state : int, default 0
        Seeds the initialisation, the mini-batch order, the subsamples and the validation split.
    n_threads : int or None, default 1
        torch intra-op threads during ``fit`` (restored afterwards); ``None`` leaves torch's
        setting.  One thread is the default because the SAE's matrices are small: on a 2-core
        machine shared with other jobs, torch's default of one thread per core made the tests
        about 6 times slower.
    verbose : bool, default False
        Print one line per epoch.
    callback : callable or None, default None
        ``callback(epoch, n_epochs, history)`` after every epoch of the final fit.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.
    model_ : SupervisedAutoencoder
        The trained torch module (float32, CPU).  Predictions use a float64 copy made once
        at the end of ``fit``.
    classifier_ : LogisticRegression or None
        The final classifier with ``refit="lr"``.
    support_ : ndarray of bool, shape (n_features,)
        Selected features (non-zero first-layer columns).
    n_features_selected_ : int
    path_ : dict or None
        With ``path_steps > 0``: ``counts``, ``radii``, ``exit_step``, ``entry_radius`` of
        the path (:class:`multiproj.sae.train.TrainResult`); ``None`` otherwise, and with
        ``n_resamples > 0`` (the path then ran in each resampled fit).
    entry_radius_ : ndarray of shape (n_features,) or None
        ``path_["entry_radius"]``: per feature, the radius of the last step of the path at
        which its column is non-zero (0 for the features removed by the first projection).
    selection_frequency_ : ndarray of shape (n_features,) or None
        With ``n_resamples > 0``: share of the fits in whose top ``keep`` each feature is.
    feature_importances_ : ndarray of shape (n_features,)
        l2 norm of each first-layer column, divided by their sum (0 for removed features).
    feature_ranking_ : ndarray of int
        Indices of the selected features, by decreasing ``feature_importances_``.
    radius_ : float or None
        The radius used.
    history_ : dict of lists
        Per-epoch ``phase``, ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy``, ``n_selected`` of the final fit.
    best_epoch_ : int
        Index into ``history_`` of the kept weights.
    sparsity_ : dict
        :func:`multiproj.nn.sparsity_report` of ``model_``: per parameter, zeros, zero groups
        and, for ``"encoder.0.weight"`` (the projected ``W``), ``kept`` = the selected features.
    fit_seconds_ : float
        Wall-clock time of ``fit`` (the first fit of a process also pays for importing torch
        and compiling the projection kernels).

    References
    ----------
    [SAE] M. Barlaud, F. Guyard, ICASSP 2021.  [BLP] M. Barlaud, G. Perez, J.-P. Marmorat,
    arXiv:2407.16293.

    Examples
    --------
    >>> from multiproj.sae import SparseAutoencoderClassifier, make_synthetic
    >>> d = make_synthetic(200, 50, 8)
    >>> clf = SparseAutoencoderClassifier(keep=8, epochs=5, retrain_epochs=5).fit(d.X, d.y)
    >>> clf.n_features_selected_, clf.transform(d.X).shape[1]
    (8, 8)
    """

    def __init__(
        self,
        *,
        ball: str | None = "l1,inf",
        method: str = "bilevel",
        keep: int | float = DEFAULT_KEEP,
        radius: float | None = None,
        n_resamples: int = 0,
        resample_fraction: float = 0.5,
        refit: str = "lr",
        class_weight: str | dict | None = "balanced",
        schedule: str = "double_descent",
        path_steps: int = 5,
        path_epochs: int = 2,
        epochs: int = 20,
        retrain_epochs: int = 20,
        batch_size: int = 32,
        lr: float = 1e-4,
        optimizer: str = "sgd",
        hidden: int = 100,
        activation: str = "silu",
        init_scale: float = 0.1,
        recon_weight: float = 5e-5,
        threshold: float = 1e-3,
        epoch_selection: str = "last",
        validation_fraction: float = 0.1,
        random_state: int = 0,
        n_threads: int | None = 1,
        verbose: bool = False,
        callback: Callable[[int, int, dict], None] | None = None,
    ) -> None:
        self.ball = ball
        self.method = method
        self.keep = keep
        self.radius = radius
        self.n_resamples = n_resamples
        self.resample_fraction = resample_fraction
        self.refit = refit
        self.class_weight = class_weight
        self.schedule = schedule
        self.path_steps = path_steps
        self.path_epochs = path_epochs
        self.epochs = epochs
        self.retrain_epochs = retrain_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.hidden = hidden
        self.activation = activation
        self.init_scale = init_scale
        self.recon_weight = recon_weight
        self.threshold = threshold
        self.epoch_selection = epoch_selection
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback

    # -- checks ---------------------------------------------------------------------------
    def _check_params(self):
        def bad(name, expected):
            raise ValueError(
                f"The {name!r} parameter of SparseAutoencoderClassifier must be {expected}. "
                f"Got {getattr(self, name)!r} instead."
            )

        def is_int(v, lo):
            return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= lo

        def is_real(v):
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)

        if self.ball not in BALLS:
            bad("ball", f"one of {list(BALLS)}")
        import multiproj

        if self.method not in multiproj.METHODS:
            bad("method", f"one of {sorted(multiproj.METHODS)}")
        if self.radius is not None and not (is_real(self.radius) and self.radius >= 0):
            bad("radius", "None or a finite number >= 0")
        if not (is_int(self.keep, 1) or (is_real(self.keep) and not isinstance(self.keep, numbers.Integral)
                                          and 0 < self.keep <= 1)):
            bad("keep", "an int >= 1 (a number of features) or a float in (0, 1] (a share)")
        if not is_int(self.n_resamples, 0):
            bad("n_resamples", "an integer >= 0")
        if not (is_real(self.resample_fraction) and 0 < self.resample_fraction < 1):
            bad("resample_fraction", "a number in (0, 1)")
        if self.refit not in REFITS:
            bad("refit", f"one of {list(REFITS)}")
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            bad("class_weight", "None, 'balanced' or a dict {class: weight}")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"one of {list(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"one of {list(SCHEDULES)}")
        for name, lo in (("epochs", 0), ("retrain_epochs", 0), ("batch_size", 1), ("hidden", 1),
                         ("path_steps", 0), ("path_epochs", 0)):
            if not is_int(getattr(self, name), lo):
                bad(name, f"an integer >= {lo}")
        if self.epochs + self.retrain_epochs < 1:
            bad("retrain_epochs", "such that epochs + retrain_epochs >= 1")
        if not (is_real(self.lr) and self.lr > 0):
            bad("lr", "a finite number > 0")
        for name in ("recon_weight", "threshold", "init_scale"):
            if not (is_real(getattr(self, name)) and getattr(self, name) >= 0):
                bad(name, "a finite number >= 0")
        if self.epoch_selection not in EPOCH_SELECTIONS:
            bad("epoch_selection", f"one of {list(EPOCH_SELECTIONS)}")
        if not (is_real(self.validation_fraction) and 0 <= self.validation_fraction < 1):
            bad("validation_fraction", "a number in [0, 1)")
        if self.epoch_selection != "last" and self.validation_fraction == 0:
            bad("epoch_selection", "'last' when validation_fraction=0")
        if self.n_threads is not None and not is_int(self.n_threads, 1):
            bad("n_threads", "None or an integer >= 1")

    def _split(self, X, y_enc, w):
        """Validation split carved from the training data (stratified when possible), only
        when the epoch selection uses it."""
        if self.epoch_selection == "last" or self.validation_fraction == 0:
            return X, y_enc, w, None, None
        n = X.shape[0]
        n_val = int(round(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no validation or no "
                f"training sample with {n} samples; use more data or epoch_selection='last'."
            )
        from sklearn.model_selection import train_test_split

        counts = np.bincount(y_enc)
        strat = y_enc if counts.min() >= 2 and n_val >= counts.size else None
        tr, va = train_test_split(
            np.arange(n), test_size=n_val, random_state=self.random_state, stratify=strat
        )
        return X[tr], y_enc[tr], w[tr], X[va], y_enc[va]

    def _train_kwargs(self):
        return dict(
            ball=self.ball, method=self.method, radius=self.radius, keep=self.keep, schedule=self.schedule,
            epochs=self.epochs, retrain_epochs=self.retrain_epochs, batch_size=self.batch_size, lr=self.lr,
            optimizer=self.optimizer, recon_weight=self.recon_weight, threshold=self.threshold,
            epoch_selection=self.epoch_selection, path_steps=self.path_steps, path_epochs=self.path_epochs,
        )

    def _new_model(self, F):
        import torch

        from .model import SupervisedAutoencoder

        m = SupervisedAutoencoder(F, self.classes_.size, self.hidden, self.activation)
        if self.init_scale != 1.0:
            with torch.no_grad():
                m.first_layer.weight.mul_(self.init_scale)
        return m

    def _stability_support(self, X, y_enc, w, k):
        """Stability selection over subsamples (see ``n_resamples``); returns (mask, freq)."""
        import torch

        from .train import column_scores, train_sae

        n, F = X.shape
        rng = np.random.default_rng(self.random_state)
        hits = np.zeros(F)
        score = np.zeros(F)
        fits = []
        depth = np.zeros(F)
        use_path = self.path_steps > 0
        for b in range(self.n_resamples + 1):
            if b < self.n_resamples:
                idx = _stratified_subsample(y_enc, self.resample_fraction, rng)
            else:
                idx = np.arange(n)
            torch.manual_seed(self.random_state + 1 + b)
            m = self._new_model(F)
            kw = self._train_kwargs()
            kw.update(retrain_epochs=0, epoch_selection="last")
            if not use_path:
                kw.update(ball=None)
            res = train_sae(m, _f32(X[idx]), _i64(y_enc[idx]), sample_weight=w[idx], seed=self.random_state + 1 + b,
                            **kw)
            s = column_scores(m.first_layer.weight, self.ball or "l1,2")
            if use_path:
                top = np.flatnonzero(res.support)
                depth += res.path["exit_step"] / len(res.path["counts"])
            else:
                top = np.argsort(-s, kind="stable")[:k]
            hits[top] += 1
            score += s / s.max() if s.max() > 0 else s
            fits.append(b)
        freq = hits / len(fits)
        # by frequency in the top k (with the path: by the mean share of the path survived,
        # a finer count of the same), then by the mean relative column score
        order = np.lexsort((-score, -freq)) if not use_path else np.lexsort((-score, -freq, -depth))
        mask = np.zeros(F, dtype=bool)
        mask[order[:k]] = True
        return mask, freq

    # -- fit ------------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> SparseAutoencoderClassifier:
        """Train the SAE on ``X`` (n_samples, n_features) and labels ``y``; returns self.

        ``sample_weight`` (n_samples,) weights each sample's cross-entropy (times the class
        weights of ``class_weight``).
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        from sklearn.utils.class_weight import compute_sample_weight
        from sklearn.utils.validation import _check_sample_weight

        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"SparseAutoencoderClassifier needs samples of at least 2 classes; got 1 class: {self.classes_[0]!r}."
            )
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if self.class_weight is not None:
            w = w * compute_sample_weight(self.class_weight, y)
        import torch

        from multiproj.nn import sparsity_report

        from .train import feature_norms, n_keep, train_sae

        old_threads = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        t0 = time.perf_counter()
        try:
            Xt, yt, wt, Xv, yv = self._split(X, y_enc, w)
            k = n_keep(self.keep, X.shape[1])
            support, self.selection_frequency_ = None, None
            if self.n_resamples > 0 and self.ball is not None and self.schedule == "double_descent" and self.radius is None:
                support, self.selection_frequency_ = self._stability_support(Xt, yt, wt, k)
            torch.manual_seed(self.random_state)
            model = self._new_model(X.shape[1])
            callback: Callable[[int, int, dict], None] | None = None
            if self.verbose:
                def callback(e, total, h):
                    print(
                        f"epoch {e + 1}/{total} (phase {h['phase'][-1]}): loss {h['train_loss'][-1]:.4g} "
                        f"acc {h['train_accuracy'][-1]:.3f} val acc {h['val_accuracy'][-1]:.3f} "
                        f"features {h['n_selected'][-1]}"
                    )
            res = train_sae(
                model, _f32(Xt), _i64(yt), X_val=None if Xv is None else _f32(Xv),
                y_val=None if yv is None else _i64(yv), sample_weight=wt, support=support,
                seed=self.random_state, callback=self.callback or callback, **self._train_kwargs(),
            )
        finally:
            if self.n_threads is not None:
                torch.set_num_threads(old_threads)
        assert res.support is not None  # train_sae sets it
        self.model_ = model
        self.history_ = res.history
        self.best_epoch_ = res.best_epoch
        self.radius_ = res.radius
        self.support_ = res.support
        self.sparsity_ = sparsity_report(model)
        self.n_features_selected_ = int(res.support.sum())
        norms = feature_norms(model.first_layer.weight) * res.support
        total = norms.sum()
        self.feature_importances_ = norms / total if total > 0 else norms
        sel = np.flatnonzero(res.support)
        self.feature_ranking_ = sel[np.argsort(-norms[sel], kind="stable")]
        self.path_ = res.path
        self.entry_radius_ = None if res.path is None else res.path["entry_radius"]
        self.classifier_ = None
        if self.refit in ("lr", "lr_cv") and sel.size:
            self.classifier_ = self._refit_classifier(X[:, sel], y_enc, w)
        import copy

        # inference in float64 on a copy of the float32 model, made once: results do not
        # depend on how the rows are batched (scikit-learn's subset-invariance check)
        self._model64_ = copy.deepcopy(model).double().eval()
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _refit_classifier(self, Xs, y_enc, w):
        """The logistic regression on the selected columns: ``C=1``, or (``"lr_cv"``) ``C``
        chosen among 13 values in ``[1e-3, 1e3]`` by stratified inner cross-validation on
        these training data (balanced accuracy, weighted by ``w``)."""
        from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

        if self.refit == "lr":
            return LogisticRegression(C=1.0, max_iter=2000).fit(Xs, y_enc, sample_weight=w)
        from sklearn.model_selection import StratifiedKFold

        n_splits = int(min(5, np.bincount(y_enc).min()))
        if n_splits < 2:  # a class with one sample: no stratified split
            return LogisticRegression(C=1.0, max_iter=2000).fit(Xs, y_enc, sample_weight=w)
        import inspect

        cv = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        kw = dict(Cs=np.logspace(-3, 3, 13), cv=cv, scoring="balanced_accuracy", max_iter=2000)
        # the l2 penalty and the scalar C_ of the versions that announce them as defaults
        params = inspect.signature(LogisticRegressionCV).parameters
        if "l1_ratios" in params and "use_legacy_attributes" in params:
            kw.update(l1_ratios=(0.0,), use_legacy_attributes=False)
        return LogisticRegressionCV(**kw).fit(Xs, y_enc, sample_weight=w)

    # -- prediction -----------------------------------------------------------------------
    def decision_function(self, X: ArrayLike) -> NDArray[Any]:
        """Class logits, shape (n_samples, n_classes); binary: the logit difference.

        From the SAE's latent code, or from the logistic regression with ``refit="lr"``.
        """
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.classifier_ is not None:
            d = self.classifier_.decision_function(X[:, self.support_])
            return np.column_stack([np.zeros_like(d), d]) if d.ndim == 1 else d
        return self._forward(X)[0]

    def _forward(self, X):
        import torch

        with torch.no_grad():
            z, r = self._model64_(torch.as_tensor(X, dtype=torch.float64))
        return z.numpy(), r.numpy()

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """Softmax of the logits, shape (n_samples, n_classes), columns in ``classes_`` order."""
        z = self._logits(X)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predicted class labels, shape (n_samples,)."""
        z = self._logits(X)
        return self.classes_[np.argmax(z, axis=1)]

    def reconstruct(self, X: ArrayLike) -> NDArray[Any]:
        """The decoder's reconstruction of ``X`` (n_samples, n_features)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._forward(X)[1]

    # -- feature selection (SelectorMixin gives transform, get_support, inverse_transform) --
    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.allow_nan = False
        return tags


def _f32(a):
    import torch

    return torch.tensor(np.asarray(a), dtype=torch.float32)  # a copy: read-only input is fine


def _i64(a):
    import torch

    return torch.tensor(np.asarray(a), dtype=torch.long)


def _stratified_subsample(y_enc, fraction, rng) -> np.ndarray:
    """Indices of a subsample without replacement with ``fraction`` of each class (at least
    one sample per class)."""
    out = []
    for c in np.unique(y_enc):
        idx = np.flatnonzero(y_enc == c)
        m = max(1, int(round(fraction * idx.size)))
        out.append(rng.choice(idx, size=m, replace=False))
    return np.sort(np.concatenate(out))
