"""
Removing features along a radius path
=====================================

With ``path_steps > 0`` the :class:`~multiproj.sae.SparseAutoencoderClassifier` does not
select its features with one projection of the first-layer weight ``W``: after the first
descent it projects ``W`` onto bi-level l1,inf balls of decreasing radius, each keeping
fewer columns (geometrically from all the features down to ``keep``), and trains a few
epochs between two projections with the removed columns frozen at zero.  A feature that a
correlated feature was masking can take over once that one is gone: backward elimination
with a projection.  The step at which each feature leaves is its rank on the path.

Here on scikit-learn's breast cancer data (569 samples, 30 features), keeping 5 features,
with few epochs so that the example runs in seconds.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from multiproj.sae import SparseAutoencoderClassifier

data = load_breast_cancer()
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, stratify=data.target, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

common = dict(keep=5, epochs=10, retrain_epochs=5, batch_size=32, random_state=0)
one = SparseAutoencoderClassifier(**common).fit(X_train, y_train)
path = SparseAutoencoderClassifier(**common, path_steps=5, path_epochs=2).fit(X_train, y_train)
for name, m in (("one projection", one), ("radius path", path)):
    kept = ", ".join(data.feature_names[j] for j in m.get_support(indices=True))
    print(f"{name:15s} test accuracy {m.score(X_test, y_test):.3f}: {kept}")

# %%
# The path: features kept and radius at each step, and the step at which each feature
# left (the 5 survivors stay to the end).
p = path.path_
print("features kept per step:", p["counts"])
print("radius per step:", np.round(p["radii"], 4))

order = np.argsort(-p["exit_step"], kind="stable")
fig, ax = plt.subplots(figsize=(7.5, 5.0))
y = np.arange(order.size)
ax.barh(y, p["exit_step"][order], color=np.where(path.support_[order], "C0", "0.7"))
ax.set_yticks(y)
ax.set_yticklabels(np.asarray(data.feature_names)[order], fontsize=7)
ax.invert_yaxis()
ax.set_xlabel(f"step of the path at which the feature was removed ({len(p['counts'])}: kept)")
ax.set_title("Breast cancer: backward elimination along a bi-level l1,inf radius path")
fig.tight_layout()
plt.show()
