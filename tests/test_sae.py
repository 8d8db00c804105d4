"""Sparse supervised autoencoder: model, schedules, estimator API, no-leakage evaluation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import multiproj  # noqa: E402
from multiproj.sae import SparseAutoencoderClassifier, make_synthetic  # noqa: E402
from multiproj.sae.evaluate import cross_validate_sae, fit_fold, make_pipeline  # noqa: E402
from multiproj.sae.model import SAELoss, SupervisedAutoencoder  # noqa: E402
from multiproj.sae.train import train_sae  # noqa: E402

FAST = dict(epochs=3, retrain_epochs=3, batch_size=16, lr=1e-3, n_threads=1)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models: one intra-op thread is faster, and robust on a loaded 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def small():
    """An easy problem: 6 informative features (the first ones) among 40."""
    return make_synthetic(n_samples=240, n_features=40, n_informative=6, class_sep=2.0, random_state=1)


def test_model_shapes_and_loss():
    torch.manual_seed(0)
    m = SupervisedAutoencoder(12, 3, hidden=7)
    x = torch.randn(5, 12)
    z, r = m(x)
    assert z.shape == (5, 3) and r.shape == (5, 12)
    assert m.first_layer.weight.shape == (7, 12)
    y = torch.tensor([0, 1, 2, 0, 1])
    loss = SAELoss(recon_weight=0.5)(z, r, x, y)
    ref = torch.nn.functional.cross_entropy(z, y, reduction="sum") + 0.5 * torch.nn.functional.smooth_l1_loss(
        r, x, reduction="sum"
    )
    assert torch.allclose(loss, ref)
    with pytest.raises(ValueError, match="activation"):
        SupervisedAutoencoder(3, 2, activation="sigmoidish")


def _train(schedule, ball, method, radius, callback=None, **kw):
    d = make_synthetic(160, 30, 5, class_sep=2.0, random_state=0)
    torch.manual_seed(0)
    m = SupervisedAutoencoder(30, 2, hidden=16)
    X = torch.as_tensor(d.X, dtype=torch.float32)
    y = torch.as_tensor(d.y)
    res = train_sae(m, X, y, ball=ball, method=method, radius=radius, schedule=schedule,
                    epochs=3, retrain_epochs=3, batch_size=16, callback=callback, **kw)
    return m, res


def test_double_descent_keeps_pruned_features_at_zero():
    zero_cols = []
    model = {}

    def cb(e, total, h):
        W = model["m"].first_layer.weight.detach()
        zero_cols.append((W == 0).all(dim=0).numpy().copy())

    # the callback needs the model: build it the same way as _train, seeded identically
    d = make_synthetic(160, 30, 5, class_sep=2.0, random_state=0)
    torch.manual_seed(0)
    m = model["m"] = SupervisedAutoencoder(30, 2, hidden=16)
    X, y = torch.as_tensor(d.X, dtype=torch.float32), torch.as_tensor(d.y)
    res = train_sae(m, X, y, ball="l1,inf", method="bilevel", radius=0.5, schedule="double_descent",
                    epochs=3, retrain_epochs=4, batch_size=16, callback=cb)
    W = m.first_layer.weight.detach()
    assert res.radius == 0.5
    pruned = zero_cols[3]  # after the first epoch of the second descent
    assert 0 < pruned.sum() < 30  # the projection removed some features, not all
    for z in zero_cols[3:]:
        np.testing.assert_array_equal(z, pruned)  # pruned columns stay exactly zero
    assert not np.any(zero_cols[0])  # nothing is zero before the projection
    np.testing.assert_array_equal(res.support, ~pruned)
    assert (W[:, pruned] == 0).all()
    assert res.history["n_selected"][3:] == [int((~pruned).sum())] * 4


@pytest.mark.parametrize("ball,method", [("l1,inf", "bilevel"), ("l1,inf", "exact"), ("l1,2", "bilevel"), ("l1", "exact")])
def test_projected_schedule_stays_in_the_ball(ball, method):
    norms = []
    holder = {}

    def cb(e, total, h):
        W = holder["m"].first_layer.weight.detach()
        kw = {} if ball == "l1" else {"axis": 0}
        norms.append(multiproj.norm(W, ball, **kw))

    d = make_synthetic(120, 25, 4, class_sep=2.0, random_state=0)
    torch.manual_seed(0)
    m = holder["m"] = SupervisedAutoencoder(25, 2, hidden=8)
    res = train_sae(m, torch.as_tensor(d.X, dtype=torch.float32), torch.as_tensor(d.y), ball=ball,
                    method=method, radius=0.3, schedule="projected", epochs=2, retrain_epochs=1,
                    batch_size=16, callback=cb)
    assert len(norms) == 3
    assert max(norms) <= 0.3 * (1 + 1e-5)
    W = m.first_layer.weight.detach()
    np.testing.assert_array_equal(res.support, (W != 0).any(dim=0).numpy())
    if ball != "l1,2":
        assert res.support.sum() < 25  # some features removed


def test_double_descent_without_retraining_projects_at_the_end():
    d = make_synthetic(160, 30, 5, class_sep=2.0, random_state=0)
    torch.manual_seed(0)
    m = SupervisedAutoencoder(30, 2, hidden=16)
    res = train_sae(m, torch.as_tensor(d.X, dtype=torch.float32), torch.as_tensor(d.y), ball="l1,inf",
                    radius=0.5, epochs=3, retrain_epochs=0, batch_size=16)
    W = m.first_layer.weight.detach()
    assert multiproj.norm(W, "l1,inf", axis=0) <= 0.5 * (1 + 1e-5)
    assert 0 < res.support.sum() < 30 and res.best_epoch == 2


def test_no_projection_keeps_all_features():
    m, res = _train("double_descent", None, "exact", None)
    assert res.support.all() and res.radius is None


def test_default_radius_rule():
    from multiproj.sae.train import default_radius

    torch.manual_seed(0)
    W = torch.randn(8, 50)
    r = default_radius(W, "l1,inf", keep=0.2)
    X = multiproj.project(W, r, "l1,inf", method="bilevel", axis=0)
    assert int((X != 0).any(dim=0).sum()) == 10  # the bi-level projection keeps 20 % of the columns
    kept = (X != 0).any(dim=0).numpy()
    v = W.abs().amax(dim=0).numpy()
    assert v[kept].min() > v[~kept].max()  # ... the ones with the largest norms
    # in training: the rule is applied to the weight at the projection
    m, res = _train("double_descent", "l1,inf", "bilevel", None, keep=0.2)
    assert res.radius is not None and res.radius > 0
    assert 0 < res.support.sum() <= 6
    # "projected": a share of the norm of the initial weight
    torch.manual_seed(0)
    w0 = SupervisedAutoencoder(30, 2, hidden=16).first_layer.weight.detach()
    m, res = _train("projected", "l1,inf", "bilevel", None, keep=0.2)
    assert res.radius == pytest.approx(0.2 * multiproj.norm(w0, "l1,inf", axis=0), rel=1e-6)


def test_seeded_training_is_reproducible(small):
    a = SparseAutoencoderClassifier(**FAST, random_state=3).fit(small.X, small.y)
    b = SparseAutoencoderClassifier(**FAST, random_state=3).fit(small.X, small.y)
    np.testing.assert_array_equal(a.predict_proba(small.X), b.predict_proba(small.X))
    np.testing.assert_array_equal(a.support_, b.support_)


def test_estimator_api(small):
    X, y = small.X, np.where(small.y == 1, "case", "control")
    clf = SparseAutoencoderClassifier(**FAST, radius=1.0)
    assert clf.fit(X, y) is clf
    assert set(clf.classes_) == {"case", "control"}
    P = clf.predict_proba(X)
    assert P.shape == (X.shape[0], 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    pred = clf.predict(X)
    assert set(pred) <= {"case", "control"}
    np.testing.assert_array_equal(pred, clf.classes_[P.argmax(axis=1)])
    assert clf.score(X, y) == pytest.approx(np.mean(pred == y))
    assert clf.score(X, y) > 0.8
    mask = clf.get_support()
    assert mask.dtype == bool and mask.shape == (X.shape[1],)
    assert clf.n_features_selected_ == mask.sum() == clf.transform(X).shape[1]
    np.testing.assert_array_equal(clf.transform(X), X[:, mask])
    np.testing.assert_array_equal(clf.get_support(indices=True), np.flatnonzero(mask))
    fi = clf.feature_importances_
    assert fi.shape == (X.shape[1],) and np.all(fi[~mask] == 0) and fi.sum() == pytest.approx(1.0)
    rank = clf.feature_ranking_
    assert sorted(rank) == list(np.flatnonzero(mask))
    assert np.all(np.diff(fi[rank]) <= 0)
    W = clf.model_.first_layer.weight.detach().numpy()
    assert np.all(W[:, ~mask] == 0)
    rep = clf.sparsity_["encoder.0.weight"]
    assert rep["kept"] == list(np.flatnonzero(mask)) and rep["zero_groups"] == X.shape[1] - mask.sum()
    assert len(clf.history_["train_loss"]) == 6
    assert clf.decision_function(X).shape == (X.shape[0],)


def test_estimator_rejects_bad_parameters(small):
    with pytest.raises(ValueError, match="'ball'"):
        SparseAutoencoderClassifier(ball="l7").fit(small.X, small.y)
    with pytest.raises(ValueError, match="'radius'"):
        SparseAutoencoderClassifier(radius=-1.0).fit(small.X, small.y)
    with pytest.raises(ValueError, match="'epoch_selection'"):
        SparseAutoencoderClassifier(epoch_selection="val_loss", validation_fraction=0).fit(small.X, small.y)


def test_pipeline_cross_val_score_and_grid_search(small):
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = Pipeline([("scale", StandardScaler()), ("sae", SparseAutoencoderClassifier(**FAST))])
    scores = cross_val_score(pipe, small.X, small.y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.6)
    gs = GridSearchCV(pipe, {"sae__radius": [0.5, 2.0]}, cv=2).fit(small.X, small.y)
    assert gs.best_params_["sae__radius"] in (0.5, 2.0)
    assert gs.predict(small.X).shape == (small.X.shape[0],)
    # the selector half of the estimator inside a pipeline
    sel = Pipeline([("sae", SparseAutoencoderClassifier(**FAST, radius=0.5))]).fit(small.X, small.y)
    assert sel[-1].transform(small.X).shape[1] == sel[-1].n_features_selected_


def test_selection_recovers_informative_features(small):
    clf = SparseAutoencoderClassifier(epochs=10, retrain_epochs=5, batch_size=16, keep=0.25, n_threads=1)
    clf.fit(small.X, small.y)
    sel = clf.get_support(indices=True)
    recall = np.isin(small.informative, sel).mean()
    precision = np.isin(sel, small.informative).mean()
    assert recall >= 5 / 6, (sel, recall)
    assert precision >= 0.5, (sel, precision)
    # the ranking puts informative features first
    assert np.isin(clf.feature_ranking_[:4], small.informative).all()


def _corrupt(X, y, test, seed=0):
    rng = np.random.default_rng(seed)
    X2, y2 = X.copy(), y.copy()
    X2[test] = rng.standard_normal((len(test), X.shape[1])) * 100 + 50  # wild values
    y2[test] = rng.permutation(y2[test])[::-1]
    return X2, y2


@pytest.mark.parametrize("selection", ["val_accuracy", "last"])
def test_no_leakage_test_fold_does_not_influence_training(small, selection):
    """Everything fitted (scaler, network, default radius, epoch selection) must be the same
    when the test rows are replaced by garbage; only the test metrics may change."""
    X, y = small.X, small.y
    n = X.shape[0]
    rng = np.random.default_rng(0)
    perm = rng.permutation(n)
    test, train = np.sort(perm[: n // 4]), np.sort(perm[n // 4:])
    pipe = make_pipeline(dict(FAST, epoch_selection=selection), standardize=True)
    a = fit_fold(pipe, X, y, train, test, informative=small.informative)
    X2, y2 = _corrupt(X, y, test)
    b = fit_fold(pipe, X2, y2, train, test, informative=small.informative)
    assert a["selected"] == b["selected"]
    assert a["best_epoch"] == b["best_epoch"] and a["radius"] == b["radius"]
    for key in a["history"]:
        np.testing.assert_array_equal(a["history"][key], b["history"][key])  # NaN == NaN here
    np.testing.assert_array_equal(a["weights"], b["weights"])
    np.testing.assert_array_equal(a["model"]["scale"].mean_, b["model"]["scale"].mean_)
    assert a["accuracy"] != b["accuracy"]  # the corruption did reach the test metrics


def test_cross_validate_metrics(small):
    res = cross_validate_sae(small.X, small.y, dict(FAST), folds=3, seed=0, informative=small.informative)
    for key in ("accuracy", "auc", "f1", "n_selected", "pct_selected", "seconds", "feature_recall",
                "feature_precision"):
        assert key in res and key + "_std" in res
        assert len([f[key] for f in res["folds"]]) == 3
    assert 0.5 < res["accuracy"] <= 1 and 0.5 < res["auc"] <= 1
    assert res["pct_selected"] == pytest.approx(100 * res["n_selected"] / 40)
    assert all(0 <= j < 40 for j in res["selected"])
    assert sorted(res["ranking"]) == res["selected"]
    # AUC comes from probabilities, not hard labels: it differs from the balanced accuracy
    assert any(f["auc"] != f["accuracy"] for f in res["folds"])


def test_multiclass(small):
    d = make_synthetic(300, 20, 6, n_classes=3, class_sep=2.0, random_state=0)
    clf = SparseAutoencoderClassifier(**FAST).fit(d.X, d.y)
    assert clf.predict_proba(d.X).shape == (300, 3)
    res = cross_validate_sae(d.X, d.y, dict(FAST), folds=2)
    assert 0.4 < res["auc"] <= 1
