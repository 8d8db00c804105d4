"""scikit-learn estimator around the SAE: :class:`SparseAutoencoderClassifier`."""

from __future__ import annotations

import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .train import DEFAULT_KEEP, EPOCH_SELECTIONS, OPTIMIZERS, SCHEDULES

__all__ = ["SparseAutoencoderClassifier", "BALLS"]

#: constraints accepted by ``ball`` (``None``: no projection)
BALLS = (None, "l1", "l1,inf", "l1,1", "l1,2")


class SparseAutoencoderClassifier(SelectorMixin, ClassifierMixin, BaseEstimator):
    r"""Supervised autoencoder classifier that selects input features with a projection.

    The model of [SAE] (SPEC s.7): encoder ``Linear(F, hidden) -> SiLU -> Linear(hidden, C)``
    whose output is the vector of class logits, decoder ``Linear(C, hidden) -> SiLU ->
    Linear(hidden, F)``, loss ``CE + recon_weight * SmoothL1`` (sums), Adam.  The first
    encoder weight ``W`` (``hidden x F``) is constrained to the ball
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
    radius : float or None, default None
        Radius of the ball.  ``None``: the default rule.  ``"double_descent"``: with ``v_j``
        the inner norm of column ``j`` of ``W`` after the first descent and ``q`` the
        ``(k+1)``-th largest ``v_j`` with ``k = ceil(default_keep * F)``, ``radius = sum_j max(v_j - q, 0)``: the
        radius at which the bi-level projection keeps ``ceil(default_keep * F)`` of the
        features (then fewer once the entries below ``threshold`` are pruned; the exact
        l1,inf projection keeps more at the same radius).  ``"projected"``:
        ``default_keep * ||W_0||_ball`` with ``W_0`` the initial weight (all its columns have
        about the same norm, so the rule above would give almost 0).  The radius used is
        ``radius_``.
    default_keep : float, default 0.1
        See ``radius``.
    schedule : {"double_descent", "projected"}, default "double_descent"
        ``"double_descent"``: ``epochs`` epochs, one projection, entries below ``threshold``
        set to zero, ``retrain_epochs`` epochs with those zeros frozen.  ``"projected"``:
        projection after every optimiser step, ``epochs + retrain_epochs`` epochs.
    epochs, retrain_epochs : int, default 20 and 20
    batch_size : int, default 32
        Mini-batch size (SPEC s.7 uses 4).
    lr : float, default 1e-4
        Learning rate (the loss is a sum over the batch, not a mean).
    optimizer : {"sgd", "adam"}, default "sgd"
        SGD with momentum 0.9, or Adam.  SPEC s.7's setting is ``optimizer="adam", lr=5e-4,
        batch_size=4, epochs=30, retrain_epochs=30``.  SGD is the default because Adam's
        per-coordinate step normalisation gives every weight the same step size whatever its
        gradient's magnitude, so that after training the column norms of ``W`` rank the
        informative features poorly (on the SPEC s.7 synthetic data, 36 % of the 64 largest
        columns are informative after Adam, 97 % after SGD) and the projection selects
        noise.
    hidden : int, default 100
    activation : {"silu", "relu", "tanh", "gelu"}, default "silu"
    recon_weight : float, default 5e-5
        Weight ``lambda`` of the reconstruction term.
    threshold : float, default 1e-3
        Double descent: entries of the projected ``W`` below it (in absolute value) are pruned.
    epoch_selection : {"last", "val_accuracy", "val_loss"}, default "last"
        Keep the weights of the last epoch, or of the best epoch on a validation split of the
        *training* data (``validation_fraction`` of it, stratified); test data never take part.
    validation_fraction : float, default 0.1
        Share of the training data held out for ``epoch_selection`` and the learning curves
        (0 disables it; then ``epoch_selection`` must be ``"last"``).
    random_state : int, default 0
        Seeds the initialisation, the mini-batch order and the validation split.
    n_threads : int or None, default 1
        torch intra-op threads during ``fit`` (restored afterwards); ``None`` leaves torch's
        setting.  One thread is the default because the SAE's matrices are small: on a 2-core
        machine shared with other jobs, torch's default of one thread per core made the tests
        about 6 times slower.
    verbose : bool, default False
        Print one line per epoch.
    callback : callable or None, default None
        ``callback(epoch, n_epochs, history)`` after every epoch (e.g. a progress bar).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.
    model_ : SupervisedAutoencoder
        The trained torch module (float32, CPU).
    support_ : ndarray of bool, shape (n_features,)
        Selected features (non-zero first-layer columns).
    n_features_selected_ : int
    feature_importances_ : ndarray of shape (n_features,)
        l2 norm of each first-layer column, divided by their sum (0 for removed features).
    feature_ranking_ : ndarray of int
        Indices of the selected features, by decreasing ``feature_importances_``.
    radius_ : float or None
        The radius used.
    history_ : dict of lists
        Per-epoch ``phase``, ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy``, ``n_selected``.
    best_epoch_ : int
        Index into ``history_`` of the kept weights.
    sparsity_ : dict
        :func:`multiproj.nn.sparsity_report` of ``model_``: per parameter, zeros, zero groups
        and, for ``"encoder.0.weight"`` (the projected ``W``), ``kept`` = the selected features.
    fit_seconds_ : float

    References
    ----------
    [SAE] M. Barlaud, F. Guyard, ICASSP 2021.  [BLP] M. Barlaud, G. Perez, J.-P. Marmorat,
    arXiv:2407.16293.

    Examples
    --------
    >>> from multiproj.sae import SparseAutoencoderClassifier, make_synthetic
    >>> d = make_synthetic(200, 50, 8)
    >>> clf = SparseAutoencoderClassifier(epochs=5, retrain_epochs=5).fit(d.X, d.y)
    >>> clf.transform(d.X).shape[1] == clf.n_features_selected_
    True
    """

    def __init__(
        self,
        *,
        ball="l1,inf",
        method="bilevel",
        radius=None,
        default_keep=DEFAULT_KEEP,
        schedule="double_descent",
        epochs=20,
        retrain_epochs=20,
        batch_size=32,
        lr=1e-4,
        optimizer="sgd",
        hidden=100,
        activation="silu",
        recon_weight=5e-5,
        threshold=1e-3,
        epoch_selection="last",
        validation_fraction=0.1,
        random_state=0,
        n_threads=1,
        verbose=False,
        callback=None,
    ):
        self.ball = ball
        self.method = method
        self.radius = radius
        self.default_keep = default_keep
        self.schedule = schedule
        self.epochs = epochs
        self.retrain_epochs = retrain_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.hidden = hidden
        self.activation = activation
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
        if not (is_real(self.default_keep) and 0 < self.default_keep <= 1):
            bad("default_keep", "a number in (0, 1]")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"one of {list(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"one of {list(SCHEDULES)}")
        for name, lo in (("epochs", 0), ("retrain_epochs", 0), ("batch_size", 1), ("hidden", 1)):
            if not is_int(getattr(self, name), lo):
                bad(name, f"an integer >= {lo}")
        if self.epochs + self.retrain_epochs < 1:
            bad("retrain_epochs", "such that epochs + retrain_epochs >= 1")
        if not (is_real(self.lr) and self.lr > 0):
            bad("lr", "a finite number > 0")
        for name in ("recon_weight", "threshold"):
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

    def _split(self, X, y_enc):
        """Validation split carved from the training data (stratified when possible)."""
        if self.validation_fraction == 0:
            return X, y_enc, None, None
        n = X.shape[0]
        n_val = int(round(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 1:
            if self.epoch_selection != "last":
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} leaves no validation or no "
                    f"training sample with {n} samples; use more data or epoch_selection='last'."
                )
            return X, y_enc, None, None
        from sklearn.model_selection import train_test_split

        counts = np.bincount(y_enc)
        strat = y_enc if counts.min() >= 2 and n_val >= counts.size else None
        tr, va = train_test_split(
            np.arange(n), test_size=n_val, random_state=self.random_state, stratify=strat
        )
        return X[tr], y_enc[tr], X[va], y_enc[va]

    # -- fit ------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train the SAE on ``X`` (n_samples, n_features) and labels ``y``; returns self."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"SparseAutoencoderClassifier needs samples of at least 2 classes; got 1 class: {self.classes_[0]!r}."
            )
        import torch

        from .model import SupervisedAutoencoder
        from .train import train_sae

        old_threads = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        t0 = time.perf_counter()
        try:
            Xt, yt, Xv, yv = self._split(X, y_enc)
            torch.manual_seed(self.random_state)
            model = SupervisedAutoencoder(X.shape[1], self.classes_.size, self.hidden, self.activation)
            f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
            i64 = lambda a: torch.as_tensor(a, dtype=torch.long)  # noqa: E731
            callback = None
            if self.verbose:
                def callback(e, total, h):
                    print(
                        f"epoch {e + 1}/{total} (phase {h['phase'][-1]}): loss {h['train_loss'][-1]:.4g} "
                        f"acc {h['train_accuracy'][-1]:.3f} val acc {h['val_accuracy'][-1]:.3f} "
                        f"features {h['n_selected'][-1]}"
                    )
            res = train_sae(
                model,
                f32(Xt),
                i64(yt),
                X_val=None if Xv is None else f32(Xv),
                y_val=None if yv is None else i64(yv),
                ball=self.ball,
                method=self.method,
                radius=self.radius,
                default_keep=self.default_keep,
                schedule=self.schedule,
                epochs=self.epochs,
                retrain_epochs=self.retrain_epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                optimizer=self.optimizer,
                recon_weight=self.recon_weight,
                threshold=self.threshold,
                epoch_selection=self.epoch_selection,
                seed=self.random_state,
                callback=self.callback or callback,
            )
        finally:
            if self.n_threads is not None:
                torch.set_num_threads(old_threads)
        self.model_ = model
        self.history_ = res.history
        self.best_epoch_ = res.best_epoch
        self.radius_ = res.radius
        self.support_ = res.support
        from multiproj.nn import sparsity_report

        self.sparsity_ = sparsity_report(model)
        self.n_features_selected_ = int(res.support.sum())
        from .train import feature_norms

        norms = feature_norms(model.first_layer.weight) * res.support
        total = norms.sum()
        self.feature_importances_ = norms / total if total > 0 else norms
        sel = np.flatnonzero(res.support)
        self.feature_ranking_ = sel[np.argsort(-norms[sel], kind="stable")]
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    # -- prediction -----------------------------------------------------------------------
    def decision_function(self, X):
        """Class logits (the latent code), shape (n_samples, n_classes); binary: logit difference."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._forward(X)[0]

    def _forward(self, X):
        # inference in float64 on a copy of the float32 model: results do not depend on how
        # the rows are batched (scikit-learn's subset-invariance check) beyond 1e-12
        import copy

        import torch

        model = copy.deepcopy(self.model_).double()
        with torch.no_grad():
            z, r = model(torch.as_tensor(X, dtype=torch.float64))
        return z.numpy(), r.numpy()

    def predict_proba(self, X):
        """Softmax of the logits, shape (n_samples, n_classes), columns in ``classes_`` order."""
        z = self._logits(X)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels, shape (n_samples,)."""
        z = self._logits(X)
        return self.classes_[np.argmax(z, axis=1)]

    def reconstruct(self, X):
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
