"""
Bi-level against exact l1,inf projection
========================================

At the same radius, the exact (Euclidean) l1,inf projection and the bi-level projection of
[Barlaud, Perez, Marmorat, arXiv:2407.16293] both clip every column of the matrix, but at
different levels: the exact one makes every kept column lose the same l1 mass, the bi-level
one the same amount of its maximum. On normal data the bi-level projection removes many
more columns, at a slightly larger distance to the data.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

import multiproj

rng = np.random.default_rng(0)
Y = rng.standard_normal((500, 1000))
total = multiproj.norm(Y, "l1,inf", axis=0)
fractions = np.geomspace(0.002, 0.5, 14)

rows = {m: {"zero": [], "dist": []} for m in ("exact", "bilevel")}
for f in fractions:
    for m in rows:
        X = multiproj.project(Y, f * total, "l1,inf", method=m, axis=0)
        rows[m]["zero"].append((np.abs(X).max(axis=0) == 0).mean())
        rows[m]["dist"].append(np.linalg.norm(Y - X) / np.linalg.norm(Y))

# %%
# Both results are column-wise clippings, ``X_ij = sign(Y_ij) min(|Y_ij|, mu_j)``. Their
# clipping levels at one radius show the difference: the bi-level levels are the column
# maxima minus one common threshold, the exact ones come from equal l1 mass.
r = 0.05 * total
levels = {m: np.abs(multiproj.project(Y, r, "l1,inf", method=m, axis=0)).max(axis=0)
          for m in rows}
order = np.argsort(-np.abs(Y).max(axis=0))

fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
style = {"exact": dict(marker="s", ls="--", color="C1"), "bilevel": dict(marker="o", ls="-", color="C0")}
for m in rows:
    a1.plot(fractions, rows[m]["zero"], label=m, **style[m])
    a2.plot(fractions, rows[m]["dist"], label=m, **style[m])
for ax in (a1, a2):
    ax.set_xscale("log")
    ax.set_xlabel("radius / ||Y||_{1,inf} (log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="l1,inf projection")
a1.set_ylabel("fraction of zero columns")
a1.set_title("sparsity")
a2.set_ylabel("||Y - X||_F / ||Y||_F")
a2.set_title("distance to the data")
a3.plot(np.abs(Y).max(axis=0)[order], color="0.6", lw=1, label="column maximum v_j")
a3.plot(levels["exact"][order], color="C1", ls="--", lw=1.5, label="exact mu_j")
a3.plot(levels["bilevel"][order], color="C0", lw=1.5, label="bi-level u_j")
a3.set_xlabel("column, by decreasing maximum")
a3.set_ylabel("clipping level")
a3.set_title("clipping levels at radius 5% of the norm")
a3.grid(alpha=0.3)
a3.legend(loc="upper right")
fig.suptitle("Normal 500 x 1000 matrix, groups = columns (axis=0)")
plt.show()

# %%
# Time of one call, as a ratio to ``Y.copy()`` measured here (medians of 7 calls).
def median_ms(fn, k=7):
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1e3 * float(np.median(ts))


copy = median_ms(Y.copy)
for m in rows:
    t = median_ms(lambda: multiproj.project(Y, r, "l1,inf", method=m, axis=0))
    print(f"{m:8s} {t:6.2f} ms = {t / copy:4.1f} x Y.copy() ({copy:.2f} ms)")
