"""PNG figures of ``multiproj sae --plots DIR`` (matplotlib, Agg backend)."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["write_plots"]


def write_plots(runs: list, best: dict, ds, outdir: str) -> list[str]:
    """Write the figures; returns the paths.

    * ``learning_curves.png``: per fold, loss and accuracy on the training part and on the
      validation split carved from it (never the test fold), and the number of selected
      features, against the epoch; the dashed line marks the projection of the double descent.
    * ``weight_map.png``: ``|W|`` of the first layer (fold 1 of the best run), columns
      (features) ordered by decreasing group (column l2) norm.
    * ``metrics_vs_selected.png`` (several radii): accuracy, AUC and F1 (mean +/- std over the
      folds) against the mean number of selected features.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    os.makedirs(outdir, exist_ok=True)
    files = []

    # learning curves
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
    for k, f in enumerate(best["folds"]):
        h = f["history"]
        ep = np.arange(1, len(h["train_loss"]) + 1)
        col = f"C{k}"
        axes[0].plot(ep, h["train_loss"], color=col, label=f"fold {k + 1} train")
        axes[1].plot(ep, h["train_accuracy"], color=col, label=f"fold {k + 1} train")
        if not np.all(np.isnan(np.asarray(h["val_loss"], dtype=float))):
            axes[0].plot(ep, h["val_loss"], color=col, ls=":", label=f"fold {k + 1} validation")
            axes[1].plot(ep, h["val_accuracy"], color=col, ls=":", label=f"fold {k + 1} validation")
        axes[2].plot(ep, h["n_selected"], color=col, label=f"fold {k + 1}")
        phase = np.asarray(h["phase"])
        if (phase == 2).any() and (phase == 1).any():
            for ax in axes:
                ax.axvline(np.argmax(phase == 2) + 0.5, color="gray", ls="--", lw=0.8)
    axes[0].set(xlabel="epoch", ylabel="loss per sample", yscale="log", title="loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy (train / validation split)")
    axes[2].set(xlabel="epoch", ylabel="features", title="selected features")
    fig.suptitle("Learning curves per cross-validation fold (dashed line: projection)", fontsize=11)
    # one legend under the panels, clear of the curves
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(8, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07 * (1 + (len(labels) - 1) // 8), 1, 0.95))
    path = os.path.join(outdir, "learning_curves.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    files.append(path)

    # first-layer weight map, columns by decreasing group norm
    W = best["folds"][0].get("weights")
    if W is not None:
        W = np.abs(np.asarray(W))
        order = np.argsort(-np.linalg.norm(W, axis=0), kind="stable")
        n_sel = int((W != 0).any(axis=0).sum())
        show = order[: max(min(W.shape[1], 2 * n_sel, 400), min(W.shape[1], 50))]
        fig, ax = plt.subplots(figsize=(10, 4))
        im = ax.imshow(W[:, show], aspect="auto", cmap="magma", interpolation="nearest")
        ax.axvline(n_sel - 0.5, color="cyan", lw=1)
        ax.set(xlabel=f"features ordered by column norm (first {show.size} of {W.shape[1]}; "
               f"{n_sel} selected, left of the line)", ylabel="hidden unit",
               title="|W| of the first encoder layer (fold 1)")
        step = max(1, show.size // 20)
        ax.set_xticks(np.arange(0, show.size, step))
        ax.set_xticklabels([ds.feature_names[j] for j in show[::step]], rotation=90, fontsize=6)
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        path = os.path.join(outdir, "weight_map.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(path)

    # metrics against the number of selected features
    if len(runs) > 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.array([r["n_selected"] for r in runs])
        o = np.argsort(x)
        for m in ("accuracy", "auc", "f1"):
            ax.errorbar(x[o], np.array([r[m] for r in runs])[o], yerr=np.array([r[m + "_std"] for r in runs])[o],
                        marker="o", capsize=3, label=m)
        for r in runs:
            ax.annotate(f"r={r['radius']:g}", (r["n_selected"], r["accuracy"]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
        ax.set(xlabel="selected features (mean over folds)", ylabel="score (mean ± std)",
               title="metrics vs number of selected features")
        ax.legend(loc="best")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = os.path.join(outdir, "metrics_vs_selected.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(path)
    return files
