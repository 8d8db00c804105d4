"""
Multi-level projection of a convolution weight
==============================================

A convolution weight has shape (out, in, kh, kw). The tri-level ``l1,inf,inf`` ball with
``levels=(1, 0, (2, 3))`` takes the input channels as the outermost groups, the output
channels inside them, and the kh x kw window as the innermost level, so the projection
removes whole input channels [Perez & Barlaud, arXiv:2405.02086].
"""

import matplotlib.pyplot as plt
import numpy as np

import multiproj

rng = np.random.default_rng(0)
T = rng.standard_normal((64, 32, 3, 3))
levels = (1, 0, (2, 3))

X = multiproj.project(T, 5.0, "l1,inf,inf", method="multilevel", levels=levels)
print("norm of the result:", round(multiproj.norm(X, "l1,inf,inf", levels=levels), 9))
removed = np.abs(X).max(axis=(0, 2, 3)) == 0
print(f"removed input channels: {removed.sum()} of {T.shape[1]}")

# %%
# The same ball on a matrix: tri-level ``l1,inf,inf`` equals bi-level ``l1,inf`` of the
# tensor reshaped so that each input channel is one group of 64 * 9 entries.
M = np.moveaxis(T, 1, 0).reshape(32, -1)
B = multiproj.project(M, 5.0, "l1,inf", method="bilevel", axis=1)
print("max |difference|:", np.abs(np.moveaxis(X, 1, 0).reshape(32, -1) - B).max())

# %%
# Other inner norms: ``l1,2,inf`` (l2 over the output channels) and ``l1,1,1``.
balls = ["l1,inf,inf", "l1,2,inf", "l1,1,1"]
radii = np.geomspace(0.5, 200, 12)
fig, ax = plt.subplots(figsize=(6.4, 4.0))
for ball, marker, ls in zip(balls, "os^", ["-", "--", ":"]):
    frac = [(np.abs(multiproj.project(T, r, ball, method="multilevel", levels=levels))
             .max(axis=(0, 2, 3)) == 0).mean() for r in radii]
    ax.plot(radii, frac, marker=marker, ls=ls, label=ball)
ax.set_xscale("log")
ax.set_xlabel("radius (log scale)")
ax.set_ylabel("fraction of removed input channels")
ax.set_title("Conv weight 64 x 32 x 3 x 3, levels=(1, 0, (2, 3))")
ax.grid(alpha=0.3, which="both")
ax.legend(title="ball", loc="upper right")
fig.tight_layout()
plt.show()
