"""
Quick start: a projection and the sparsity it gives
===================================================

Project a weight matrix onto the l1,inf ball with the bi-level method, check the norm of
the result, and see how many input features (columns) the projection removes as the radius
shrinks.
"""

# %%
# A weight of an ``nn.Linear(1000, 100)`` layer has shape (out, in) = (100, 1000). With
# ``axis=0`` the inner norm (the maximum) reduces the rows, so each column, one input
# feature, is a group.
import matplotlib.pyplot as plt
import numpy as np

import multiproj

rng = np.random.default_rng(0)
W = rng.standard_normal((100, 1000))
print("||W||_{1,inf} =", round(multiproj.norm(W, "l1,inf", axis=0), 2))

X = multiproj.project(W, 50.0, "l1,inf", method="bilevel", axis=0)
print("||X||_{1,inf} =", round(multiproj.norm(X, "l1,inf", axis=0), 6))
print("removed features:", int((np.abs(X).max(axis=0) == 0).sum()), "of", W.shape[1])

# %%
# Sweep the radius as a fraction of the norm and count the zero columns for the bi-level
# and the exact projection; the exact l1 ball (entries, not groups) for comparison.
fractions = np.geomspace(0.005, 0.5, 12)
total = multiproj.norm(W, "l1,inf", axis=0)
zero_cols = {"bilevel": [], "exact": []}
for f in fractions:
    for method in zero_cols:
        P = multiproj.project(W, f * total, "l1,inf", method=method, axis=0)
        zero_cols[method].append((np.abs(P).max(axis=0) == 0).mean())
l1_total = np.abs(W).sum()
zero_entries = [(multiproj.project(W, f * l1_total, "l1") == 0).mean() for f in fractions]

fig, ax = plt.subplots(figsize=(6.4, 4.0))
ax.plot(fractions, zero_cols["bilevel"], "o-", label="bi-level l1,inf: zero columns")
ax.plot(fractions, zero_cols["exact"], "s--", label="exact l1,inf: zero columns")
ax.plot(fractions, zero_entries, "^:", color="0.4", label="exact l1: zero entries")
ax.set_xscale("log")
ax.set_xlabel("radius / norm of W (log scale)")
ax.set_ylabel("fraction set to zero")
ax.set_title("Sparsity against the radius, normal 100 x 1000 weight")
ax.grid(alpha=0.3, which="both")
ax.legend(loc="upper right", fontsize=9)
fig.tight_layout()
plt.show()
