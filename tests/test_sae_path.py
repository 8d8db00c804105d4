"""The warm-started radius path, the inner-CV refit and SparseAutoencoderCV (small epochs)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from multiproj.sae import SparseAutoencoderClassifier, SparseAutoencoderCV  # noqa: E402
from multiproj.sae.train import path_counts  # noqa: E402

from sae_fixtures import FAST, _one_torch_thread, small  # noqa: E402, F401 (fixtures)


def test_path_counts():
    c = path_counts(30, 5, 4)
    assert c[-1] == 5 and c[0] < 30 and all(a > b for a, b in zip(c, c[1:])) and len(c) == 4
    # geometric: the ratios of consecutive counts are about (5 / 30) ** (1 / 4) = 0.64
    assert np.allclose(np.array(c[1:]) / np.array(c[:-1]), (5 / 30) ** 0.25, atol=0.12)
    assert path_counts(7, 5, 10) == [6, 5]  # fewer steps than asked when F - k is small
    assert path_counts(10, 10, 5) == [10] and path_counts(30, 5, 0) == [5] and path_counts(30, 5, 1) == [5]


def test_path_keeps_exactly_k_and_records_the_elimination(small):
    clf = SparseAutoencoderClassifier(keep=5, path_steps=4, path_epochs=1, **FAST).fit(small.X, small.y)
    p = clf.path_
    counts, steps = p["counts"], len(p["counts"])
    assert counts == path_counts(30, 5, 4) and clf.n_features_selected_ == 5
    ex = p["exit_step"]
    # after step s exactly counts[s] columns are non-zero; the survivors are the selection
    for s, c in enumerate(counts):
        assert int((ex > s).sum()) == c
    np.testing.assert_array_equal(ex == steps, clf.support_)
    assert np.all(clf.entry_radius_[clf.support_] == p["radii"][-1]) and p["radii"][-1] > 0
    assert np.all(clf.entry_radius_[ex == 0] == 0)
    assert len(p["radii"]) == steps and len(clf.history_["phase"]) == FAST["epochs"] + FAST["retrain_epochs"]
    assert np.isin(clf.get_support(indices=True), small.informative).mean() >= 0.6
    W = clf.model_.first_layer.weight.detach()
    assert int((W != 0).any(dim=0).sum()) == 5


def test_path_without_second_descent_and_not_with_an_explicit_radius(small):
    clf = SparseAutoencoderClassifier(keep=4, path_steps=3, **dict(FAST, retrain_epochs=0)).fit(small.X, small.y)
    assert clf.n_features_selected_ == 4 and clf.path_["counts"][-1] == 4
    fixed = SparseAutoencoderClassifier(radius=0.5, path_steps=3, **FAST).fit(small.X, small.y)
    assert fixed.path_ is None and fixed.entry_radius_ is None
    with pytest.raises(ValueError, match="'path_steps'"):
        SparseAutoencoderClassifier(path_steps=-1).fit(small.X, small.y)


def test_refit_lr_cv_chooses_C_on_the_training_data(small):
    from sklearn.linear_model import LogisticRegressionCV

    clf = SparseAutoencoderClassifier(keep=5, refit="lr_cv", **FAST).fit(small.X, small.y)
    assert isinstance(clf.classifier_, LogisticRegressionCV)
    C = np.ravel(clf.classifier_.C_)[0]
    assert np.isclose(np.log10(C) * 2, np.round(np.log10(C) * 2))  # one of logspace(-3, 3, 13)
    np.testing.assert_allclose(clf.predict_proba(small.X),
                               clf.classifier_.predict_proba(small.X[:, clf.support_]), rtol=1e-10, atol=1e-12)


def test_sparse_autoencoder_cv(small):
    base = SparseAutoencoderClassifier(keep=5, **FAST)
    cv = SparseAutoencoderCV(base, {"lr": [3e-4, 3e-3]}, cv=2).fit(small.X, small.y)
    assert cv.best_params_["lr"] in (3e-4, 3e-3)
    scores = cv.cv_results_["mean_test_score"]
    assert scores.shape == (2,) and cv.best_score_ == pytest.approx(scores.max())
    assert cv.best_params_ == cv.cv_results_["params"][int(np.argmax(scores))]
    assert cv.best_estimator_.lr == cv.best_params_["lr"] and cv.n_features_selected_ == 5
    np.testing.assert_array_equal(cv.predict(small.X), cv.best_estimator_.predict(small.X))
    np.testing.assert_array_equal(cv.get_support(), cv.best_estimator_.support_)
    assert cv.transform(small.X).shape == (160, 5)
    assert base.__dict__.get("support_") is None  # the template is cloned, never fitted
    with pytest.raises(ValueError, match="'cv'"):
        SparseAutoencoderCV(base, cv=1).fit(small.X, small.y)
    with pytest.raises(TypeError, match="'estimator'"):
        SparseAutoencoderCV(object()).fit(small.X, small.y)


def test_public_compare_is_the_function_and_takes_a_grid(small):
    from multiproj.sae import compare

    assert inspect.isfunction(compare)
    res = compare(small.X, small.y, [5], methods=("sae",), folds=2, sae_params=FAST, sae_grid={"lr": [1e-3]})
    r = res["results"][0]
    assert r["n_selected"] == 5 and 0.5 < r["balanced_accuracy"] <= 1
    assert res["settings"]["sae_grid"] == {"lr": [1e-3]}


def test_stability_selection_along_the_path(small):
    clf = SparseAutoencoderClassifier(keep=5, n_resamples=3, path_steps=3, **FAST).fit(small.X, small.y)
    f = clf.selection_frequency_
    assert clf.n_features_selected_ == 5 and f.sum() == pytest.approx(5.0)  # each fit keeps exactly 5
    assert f[clf.support_].min() > 0 and clf.path_ is None  # the path ran in the resampled fits
    assert np.isin(clf.get_support(indices=True), small.informative).mean() >= 0.6
