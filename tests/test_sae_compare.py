"""Exact keep-k, the new training options, multi-class, the comparison with the baselines,
the data formats and the pipeline pieces of the SAE (small epochs: CI time)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import multiproj  # noqa: E402
from multiproj.sae import SparseAutoencoderClassifier  # noqa: E402
from multiproj.sae.compare import compare, consensus, default_ks, format_table, stability  # noqa: E402

from sae_fixtures import FAST, _one_torch_thread, small  # noqa: E402, F401 (fixtures)


@pytest.mark.parametrize(
    "ball,method", [("l1,inf", "bilevel"), ("l1,inf", "exact"), ("l1,1", "bilevel"), ("l1,2", "bilevel"), ("l1", "exact")]
)
@pytest.mark.parametrize("keep", [1, 7, 0.5])
def test_keep_k_gives_exactly_k(small, ball, method, keep):
    clf = SparseAutoencoderClassifier(ball=ball, method=method, keep=keep, refit="sae", **FAST).fit(small.X, small.y)
    k = keep if isinstance(keep, int) else 15
    assert clf.n_features_selected_ == k == clf.transform(small.X).shape[1]
    W = clf.model_.first_layer.weight.detach()
    assert int((W != 0).any(dim=0).sum()) == k
    assert clf.history_["n_selected"][-1] == k  # the second descent keeps the count


def test_default_radius_keeps_top_columns_and_ties():
    from multiproj.sae.train import default_radius

    torch.manual_seed(0)
    W = torch.randn(8, 50)
    for ball, method, score in (("l1,inf", "bilevel", W.abs().amax(0)), ("l1,2", "bilevel", W.norm(dim=0)),
                                ("l1,inf", "exact", W.abs().sum(0))):
        r = default_radius(W, ball, keep=12, method=method)
        X = multiproj.project(W, r, ball, method=method, axis=0)
        kept = (X != 0).any(dim=0).numpy()
        assert kept.sum() == 12
        s = score.numpy()
        assert s[kept].min() > s[~kept].max()
    # ties at the k-th column score: the largest feasible count below k
    V = torch.zeros(3, 5)
    V[0] = torch.tensor([5.0, 4.0, 3.0, 3.0, 1.0])
    r = default_radius(V, "l1,inf", keep=3)
    assert int((multiproj.project(V, r, "l1,inf", method="bilevel", axis=0) != 0).any(0).sum()) == 2


def test_sample_and_class_weights_change_the_fit(small):
    y = small.y.copy()
    a = SparseAutoencoderClassifier(class_weight=None, **FAST).fit(small.X, y)
    w = np.where(y == 1, 5.0, 1.0)
    b = SparseAutoencoderClassifier(class_weight=None, **FAST).fit(small.X, y, sample_weight=w)
    c = SparseAutoencoderClassifier(class_weight={0: 1.0, 1: 5.0}, **FAST).fit(small.X, y)
    pa, pb, pc = (m.predict_proba(small.X)[:, 1].mean() for m in (a, b, c))
    assert pb > pa and pc > pa  # weighting class 1 raises its predicted probability
    np.testing.assert_allclose(b.model_.first_layer.weight.detach(), c.model_.first_layer.weight.detach(),
                               rtol=1e-5, atol=1e-6)  # same weights, given per sample or per class
    with pytest.raises(ValueError, match="'class_weight'"):
        SparseAutoencoderClassifier(class_weight="heavy").fit(small.X, y)


def test_stability_selection(small):
    clf = SparseAutoencoderClassifier(keep=5, n_resamples=4, path_steps=0, **FAST).fit(small.X, small.y)
    f = clf.selection_frequency_
    assert f.shape == (30,) and np.all((0 <= f) & (f <= 1)) and f.sum() == pytest.approx(5.0)
    assert clf.n_features_selected_ == 5
    # the kept features are the most frequent ones
    assert f[clf.support_].min() >= f[~clf.support_].max()
    assert np.isin(clf.get_support(indices=True), small.informative).mean() >= 0.6
    assert SparseAutoencoderClassifier(keep=5, **FAST).fit(small.X, small.y).selection_frequency_ is None


def test_refit_lr_and_sae(small):
    from sklearn.linear_model import LogisticRegression

    lr = SparseAutoencoderClassifier(keep=5, refit="lr", **FAST).fit(small.X, small.y)
    assert isinstance(lr.classifier_, LogisticRegression)
    P = lr.predict_proba(small.X)
    np.testing.assert_allclose(P, lr.classifier_.predict_proba(small.X[:, lr.support_]), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(lr.predict(small.X), lr.classes_[lr.classifier_.predict(small.X[:, lr.support_])])
    sae = SparseAutoencoderClassifier(keep=5, refit="sae", **FAST).fit(small.X, small.y)
    assert sae.classifier_ is None
    np.testing.assert_array_equal(sae.support_, lr.support_)  # same selection, different final classifier


def test_validation_split_only_for_epoch_selection(small):
    last = SparseAutoencoderClassifier(**FAST).fit(small.X, small.y)
    assert np.all(np.isnan(last.history_["val_loss"]))  # no split: every sample trains
    best = SparseAutoencoderClassifier(epoch_selection="val_loss", **FAST).fit(small.X, small.y)
    assert np.all(np.isfinite(best.history_["val_loss"]))


def test_cached_float64_model(small):
    clf = SparseAutoencoderClassifier(refit="sae", **FAST).fit(small.X, small.y)
    assert clf._model64_.first_layer.weight.dtype == torch.float64
    before = {k: v.clone() for k, v in clf._model64_.state_dict().items()}
    p1 = clf.predict_proba(small.X[:4])
    p2 = clf.predict_proba(small.X)[:4]
    np.testing.assert_allclose(p1, p2, rtol=1e-12)
    for k, v in clf._model64_.state_dict().items():
        assert torch.equal(v, before[k])
    assert clf.fit_seconds_ > 0


def test_multiclass_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    clf = SparseAutoencoderClassifier(keep=20, epochs=6, retrain_epochs=3, batch_size=32, lr=3e-3, n_threads=1).fit(X, y)
    assert clf.n_features_selected_ == 20 and clf.predict_proba(X).shape == (400, 10)
    assert clf.score(X, y) > 0.6
    res = compare(X, y, [10], methods=("sae", "kbest"), folds=2, sae_params=dict(epochs=4, retrain_epochs=0,
                                                                                 batch_size=32, lr=3e-3))
    for r in res["results"]:
        assert r["n_selected"] == 10 and 0.3 < r["balanced_accuracy"] <= 1 and 0.7 < r["auc"] <= 1
    assert res["n_classes"] == 10


def test_compare_matched_k_metrics_and_outputs(small, tmp_path):
    import pandas as pd

    from multiproj.sae.compare import plot_compare

    Xdf = pd.DataFrame(small.X, columns=[f"g{j}" for j in range(30)])
    res = compare(Xdf, small.y, [3, 5], sae_params=FAST, folds=3, fold_seed=1)
    assert [(r["method"], r["k"]) for r in res["results"]] == [
        (m, k) for m in ("sae", "l1_lr", "kbest", "rf") for k in (3, 5)]
    for r in res["results"]:
        assert len(r["balanced_accuracy_folds"]) == 3 and len(r["selected"]) == 3
        for m in ("balanced_accuracy", "auc", "f1"):
            assert 0.5 < r[m] <= 1, (r["method"], m)
        if r["method"] != "l1_lr":
            assert r["n_selected_folds"] == [r["k"]] * 3  # exactly k
        else:
            assert abs(r["n_selected"] - r["k"]) <= 2  # C chosen for about k
        assert r["stability"] == stability(r["selected"])
        assert all(n.startswith("g") for n in r["consensus_features"])
    # the same folds for every method, from the fold seed
    from sklearn.model_selection import KFold

    assert res["folds"] == [te.tolist() for _, te in KFold(3, shuffle=True, random_state=1).split(small.X)]
    md = format_table(res)
    assert md.count("\n") == 1 + 8 and "SelectKBest+LR" in md
    png = plot_compare(res, str(tmp_path / "c.png"), title="t")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    json.dumps(res)  # JSON-serialisable
    from multiproj.sae.compare import to_frame

    df = to_frame(res)
    assert isinstance(df, pd.DataFrame) and df.shape[0] == 8
    assert df.loc[(df.method == "kbest") & (df.k == 5), "stability"].item() == res["results"][5]["stability"]
    # folds from labels
    lab = np.arange(small.X.shape[0]) % 2
    r2 = compare(small.X, small.y, [3], methods=("kbest",), fold_labels=lab)
    assert r2["n_folds"] == 2 and r2["folds"][0] == np.flatnonzero(lab == 0).tolist()
    with pytest.raises(ValueError, match="'ks'"):
        compare(small.X, small.y, [0])


def test_stability_and_defaults():
    assert stability([[1, 2, 3], [1, 2, 3]]) == 1.0
    assert stability([[1, 2], [2, 3]]) == pytest.approx(1 / 3)
    assert consensus([[1, 2], [2, 3], [2, 1]], 3) == [2, 1]
    assert default_ks(30) == [5, 10] and default_ks(100) == [10, 20] and default_ks(7) == [5, 7]


def test_log_transformer_in_pipeline_and_pandas_output(small):
    import pandas as pd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from multiproj.sae import DataError, log_transformer

    X = pd.DataFrame(np.abs(small.X), columns=[f"m{j}" for j in range(30)])
    pipe = make_pipeline(log_transformer(), StandardScaler(), SparseAutoencoderClassifier(keep=4, **FAST))
    pipe.set_output(transform="pandas")
    pipe.fit(X, small.y)
    names = pipe[:-1].get_feature_names_out()
    assert list(names) == list(X.columns)
    out = pipe[-1].transform(pipe[:-1].transform(X))
    assert isinstance(out, pd.DataFrame) and out.shape == (160, 4) and set(out.columns) <= set(X.columns)
    np.testing.assert_allclose(pipe[0].transform(X).to_numpy(), np.log1p(X.to_numpy()))
    with pytest.raises(DataError, match="non-negative"):
        log_transformer().fit_transform(-np.ones((2, 2)))
