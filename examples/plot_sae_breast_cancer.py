"""
Feature selection with the sparse supervised autoencoder
========================================================

The :class:`~multiproj.sae.SparseAutoencoderClassifier` trains a supervised autoencoder
whose first layer is projected onto the l1,inf ball with groups = input features, so that
whole features are removed [Barlaud, Perez, Marmorat, arXiv:2407.16293]. Here it selects
features of scikit-learn's breast cancer data (569 samples, 30 features), with few epochs
so that the example runs in seconds.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from multiproj.sae import SparseAutoencoderClassifier

data = load_breast_cancer()
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, stratify=data.target, random_state=0)

# %%
# Double descent: 10 epochs, one bi-level projection at the radius that keeps the 20 % of
# the columns of largest norm (``keep=0.2``), then 10 more epochs with the removed
# features frozen at zero. The same network without projection for comparison.
settings = {
    "no projection": dict(ball=None),
    "bi-level l1,inf": dict(ball="l1,inf", method="bilevel"),
}
models = {}
for name, kw in settings.items():
    sae = SparseAutoencoderClassifier(**kw, keep=0.2, epochs=10, retrain_epochs=10,
                                      batch_size=32, lr=1e-3, random_state=0)
    models[name] = make_pipeline(StandardScaler(), sae).fit(X_train, y_train)
    print(f"{name:16s} test accuracy {models[name].score(X_test, y_test):.3f}, "
          f"{sae.n_features_selected_} of {X_train.shape[1]} features kept")

# %%
# The features the bi-level model keeps, by decreasing importance (normalised l2 norm of
# their column of the first layer).
sae = models["bi-level l1,inf"][-1]
for j in sae.feature_ranking_[: sae.n_features_selected_]:
    print(f"  {data.feature_names[j]:25s} {sae.feature_importances_[j]:.3f}")

fig, ax = plt.subplots(figsize=(7.5, 5.0))
order = np.argsort(models["no projection"][-1].feature_importances_)
y = np.arange(len(order))
ax.barh(y + 0.2, models["no projection"][-1].feature_importances_[order], 0.4,
        color="0.7", label="no projection")
ax.barh(y - 0.2, sae.feature_importances_[order], 0.4, color="C0", label="bi-level l1,inf")
ax.set_yticks(y)
ax.set_yticklabels(np.asarray(data.feature_names)[order], fontsize=7)
ax.set_xlabel("feature importance (normalised first-layer column norm)")
ax.set_title("Breast cancer: features kept by the bi-level l1,inf autoencoder")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
