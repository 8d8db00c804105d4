"""
Channel pruning of a small CNN and physical compaction
======================================================

A small convolutional network classifies scikit-learn's bundled digits images
(1797 images of 8 x 8 pixels, no download).  :func:`multiproj.nn.constrain` projects the
weight of both convolutions onto the bi-level l1,2 ball with groups = filters
(``grouping="out_channels"``) after every Adam step [Perez, Barlaud, arXiv:2405.02086]; the
radius is recomputed at each step by :func:`multiproj.radius_for` so that exactly the
scheduled number of filters survives, annealed from all of them to the target by a cosine
schedule after a short warm-up.  Removed filters stay removed (``freeze=True``): with batch
norm after the convolution the loss does not depend on a filter's norm, so nothing would
undo the shrinkage of the kept filters if the removed ones, moved off zero by Adam, kept
raising the threshold of every projection.  :func:`multiproj.nn.compact` then removes the zero
filters and the channels that no layer reads, giving a network that is really smaller,
with the same outputs.

Set ``MULTIPROJ_EXAMPLE_QUICK=1`` for a fast run (fewer epochs and targets).
"""

import copy
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import multiproj
import multiproj.nn as mpn

QUICK = os.environ.get("MULTIPROJ_EXAMPLE_QUICK", "") not in ("", "0")
EPOCHS = 3 if QUICK else 8
torch.set_num_threads(1)
multiproj.set_num_threads(1)  # the weights are small: one thread is fastest

digits = load_digits()
X = torch.tensor(digits.images[:, None] / 16.0, dtype=torch.float32)  # (1797, 1, 8, 8)
y = torch.tensor(digits.target)
idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=digits.target,
                                       random_state=0)
X_train, y_train, X_test, y_test = X[idx_train], y[idx_train], X[idx_test], y[idx_test]


def make_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 2 * 2, 10),
    )


def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).float().mean())


def train(keep):
    """Train a CNN whose convolutions keep the share ``keep`` of their filters (None: dense)."""
    torch.manual_seed(0)
    model = make_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps_per_epoch = int(np.ceil(len(y_train) / 64))
    handle = None
    if keep is not None:
        handle = mpn.constrain(model, opt, {
            "modules": nn.Conv2d, "ball": "l1,2", "method": "bilevel", "grouping": "out_channels",
            "keep": keep, "schedule": "cosine", "warmup": steps_per_epoch,
            "steps": (EPOCHS - 2) * steps_per_epoch, "freeze": True,
        })
    gen = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        model.train()
        for batch in torch.randperm(len(y_train), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X_train[batch]), y_train[batch]).backward()
            opt.step()
    if handle is not None:
        handle.remove()
    return model.eval(), handle


# %%
# Dense network and constrained networks at several targets.  The report of the handle
# gives, per constrained weight, the filters kept (here exactly the target).
targets = [None, 0.25] if QUICK else [None, 0.5, 0.25, 0.125, 0.0625]
results = {}
for keep in targets:
    model, handle = train(keep)
    kept = 32 + 64 if handle is None else sum(r["kept_groups"] for r in handle.report().values())
    results[keep] = (model, kept, accuracy(model, X_test, y_test))
    print(f"keep={keep or 1.0:<7g} conv filters kept {kept:3d} of 96, test accuracy {results[keep][2]:.3f}")

# %%
# Compaction of the network trained with a quarter of the filters.  Zero filters whose
# batch norm and ReLU still output a constant are folded into the next layer (its bias, or a
# fixed offset where the zero padding of the next convolution meets the constant), so the
# outputs are the same.  The check runs on float64 copies.
masked, _, acc_masked = results[0.25]
res = mpn.compact(masked, X_test)
small = res.model
masked64 = copy.deepcopy(masked).double()
small64 = mpn.compact(masked64, X_test.double()).model
with torch.no_grad():
    same = torch.allclose(small64(X_test.double()), masked64(X_test.double()), rtol=1e-9, atol=1e-12)
acc_small = accuracy(small, X_test, y_test)


def cpu_time(model, X, repeat=30 if QUICK else 100):
    """Median time of one forward pass over ``X`` (1 thread)."""
    times = []
    with torch.no_grad():
        model(X)
        for _ in range(repeat):
            t0 = time.perf_counter()
            model(X)
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def n_params(model):
    return sum(p.numel() for p in model.parameters())


t_masked, t_small = cpu_time(masked, X_test), cpu_time(small, X_test)
print()
print(f"{'model':<22}{'accuracy':>9}{'parameters':>12}{'CPU ms (540 images)':>22}")
print(f"{'masked (dense shape)':<22}{acc_masked:>9.3f}{n_params(masked):>12d}{1e3 * t_masked:>22.2f}")
print(f"{'compacted':<22}{acc_small:>9.3f}{n_params(small):>12d}{1e3 * t_small:>22.2f}")
print(f"compacted layers: {res.removed}")
print(f"outputs equal: {same}  ({n_params(masked) / n_params(small):.1f}x fewer parameters, "
      f"{t_masked / t_small:.1f}x faster)")

# %%
# Accuracy against the number of convolution filters kept.
kept = [results[k][1] for k in targets]
acc = [results[k][2] for k in targets]
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(kept, acc, "o-")
for k, n, a in zip(targets, kept, acc):
    ax.annotate("dense" if k is None else f"keep {k:g}", (n, a), textcoords="offset points", xytext=(4, -12))
ax.set_xscale("log", base=2)
ax.set_xlabel("convolution filters kept (of 96)")
ax.set_ylabel("test accuracy")
ax.set_title("Digits CNN: accuracy vs filters kept by the l1,2 constraint")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
