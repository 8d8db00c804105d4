"""Sparse supervised autoencoder (SAE): feature selection with (bi-level) projections.

The application of [SAE] and [BLP]: a supervised autoencoder whose first encoder
layer is projected onto a structured-sparsity ball with groups = input features, so that whole
features are removed while the classification accuracy is kept.

* :class:`SparseAutoencoderClassifier` -- scikit-learn estimator (fit / predict /
  predict_proba / transform / get_support / feature_importances_).
* :class:`SparseAutoencoderCV` -- the same with its settings (learning rate, ``keep``, ...)
  chosen by inner cross-validation on the training data.
* :func:`cross_validate_sae` -- k-fold cross-validation without leakage, all metrics.
* :func:`compare` -- the SAE against L1-logistic regression, SelectKBest + LR and random
  forest top-k + LR at matched numbers of features, on the same folds.
* :class:`SupervisedAutoencoder`, :func:`train_sae` -- the torch module and the training
  schedules (``"double_descent"``, ``"projected"``).
* :func:`make_synthetic`, :func:`load_csv` -- data (samples or features as rows).
* CLI: ``multiproj sae --help``.

torch is imported only when a model is built or trained.
"""

__all__ = [
    "SparseAutoencoderClassifier",
    "SparseAutoencoderCV",
    "cross_validate_sae",
    "compare",
    "make_pipeline",
    "log_transformer",
    "make_synthetic",
    "load_csv",
    "Dataset",
    "DataError",
    "SupervisedAutoencoder",
    "SAELoss",
    "train_sae",
]

# name -> submodule; imported on first access so that ``multiproj --help`` stays fast
_LAZY = {
    "SparseAutoencoderClassifier": "estimator",
    "SparseAutoencoderCV": "search",
    "cross_validate_sae": "evaluate",
    "make_pipeline": "evaluate",
    "log_transformer": "evaluate",
    "make_synthetic": "data",
    "load_csv": "data",
    "Dataset": "data",
    "DataError": "data",
    "SupervisedAutoencoder": "model",
    "SAELoss": "model",
    "train_sae": "train",
}


# the function ``compare`` shares its name with its submodule: imported here (NumPy only) so
# that the package attribute is the function whichever is imported first
from .compare import compare  # noqa: E402


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'multiproj.sae' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
