"""
The axis convention
===================

``axis`` names the axes that the inner norm reduces, as in :func:`numpy.linalg.norm`.
For a weight of shape (out, in), ``axis=0`` reduces the rows: every column (one input
feature) is a group, and the l1,inf projection removes whole columns.
"""

import matplotlib.pyplot as plt
import numpy as np

import multiproj

rng = np.random.default_rng(3)
W = rng.standard_normal((6, 10))
v = np.abs(W).max(axis=0)                      # inner norm per group: reduces axis 0
X = multiproj.project(W, 0.35 * v.sum(), "l1,inf", method="bilevel", axis=0)
kept = np.abs(X).max(axis=0) > 0
print("column maxima:", np.round(v, 2))
print("kept columns:", np.flatnonzero(kept))

lim = np.abs(W).max()
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
im = axes[0].imshow(W, cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[0].set_title("W (out x in)")

axes[1].bar(np.arange(10), v, color=np.where(kept, "C0", "0.7"))
axes[1].set_title("v_j = max_i |W_ij| (grey: removed)")
axes[1].set_xlabel("column j (input feature)")
axes[1].set_ylabel("v_j")
axes[1].set_xticks(range(10))

axes[2].imshow(X, cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[2].set_title("bi-level l1,inf projection, axis=0")
for ax in (axes[0], axes[2]):
    ax.set_xlabel("column j (input feature)")
    ax.set_ylabel("row i: axis 0, reduced")
    ax.set_xticks(range(10))
    ax.set_yticks(range(6))
for j in np.flatnonzero(~kept):
    axes[2].axvspan(j - 0.5, j + 0.5, fill=False, hatch="//", edgecolor="0.5", lw=0)
fig.colorbar(im, ax=axes[2], shrink=0.9, label="entry value")
fig.suptitle("axis=0: the inner norm reduces the rows, so the groups are the columns")
plt.show()
