"""The supervised autoencoder (SAE) of [SAE] and [BLP] s.5, as a torch module.

Encoder ``Linear(F, h) -> SiLU -> Linear(h, C)``, decoder ``Linear(C, h) -> SiLU ->
Linear(h, F)``: the latent code is the vector of the ``C`` class logits, so the encoder is
the classifier and the decoder regularises it by asking the logits to reconstruct the input.
The first encoder weight ``W`` (``h x F``) is the one the projections constrain: its columns
are the input features, and a column set to zero removes that feature from the model.

References
----------
[SAE] M. Barlaud, F. Guyard. Learning a sparse generative non-parametric supervised
autoencoder. ICASSP 2021.  [BLP] M. Barlaud, G. Perez, J.-P. Marmorat, arXiv:2407.16293.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

__all__ = ["SupervisedAutoencoder", "SAELoss"]

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def _activation(name: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"The 'activation' parameter must be one of {sorted(_ACTIVATIONS)}. Got {name!r} instead."
        ) from None


class SupervisedAutoencoder(nn.Module):
    """Supervised autoencoder whose latent code is the class logits [SAE].

    Parameters
    ----------
    n_features : int
        Number of input features ``F``.
    n_classes : int
        Number of classes ``C`` (the size of the latent code), ``>= 2``.
    hidden : int, default 100
        Width ``h`` of the hidden layers of the encoder and the decoder.
    activation : {"silu", "relu", "tanh", "gelu"}, default "silu"

    Notes
    -----
    ``forward(x)`` returns ``(logits, reconstruction)`` of shapes ``(n, C)`` and ``(n, F)``.
    :attr:`first_layer` is the ``Linear(F, h)`` whose weight (``h x F``) is projected with
    groups = input features = columns, i.e. the inner norm reduces ``axis=0``.
    """

    def __init__(self, n_features: int, n_classes: int, hidden: int = 100, activation: str = "silu"):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden), _activation(activation), nn.Linear(hidden, n_classes)
        )
        self.decoder = nn.Sequential(
            nn.Linear(n_classes, hidden), _activation(activation), nn.Linear(hidden, n_features)
        )

    @property
    def first_layer(self) -> nn.Linear:
        """The first encoder layer, whose weight columns are the input features."""
        return cast(nn.Linear, self.encoder[0])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


class SAELoss(nn.Module):
    r"""The SAE loss ``CE(logits, y) + recon_weight * SmoothL1(reconstruction, x)``.

    .. math::

        L = \sum_i \mathrm{CE}(z_i, y_i) + \lambda \sum_{i,f} \mathrm{SmoothL1}(\hat x_{if} - x_{if})

    Parameters
    ----------
    recon_weight : float, default 5e-5
        ``lambda`` of [SAE].
    reduction : {"sum", "mean"}, default "sum"
        Reduction of both terms; the original uses sums, so that the effective step of Adam
        does not depend on the batch size in the same way as with means.
    """

    def __init__(self, recon_weight: float = 5e-5, reduction: str = "sum"):
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"The 'reduction' parameter must be 'sum' or 'mean'. Got {reduction!r} instead.")
        self.recon_weight = float(recon_weight)
        self.ce = nn.CrossEntropyLoss(reduction=reduction)
        self.rec = nn.SmoothL1Loss(reduction=reduction)

    def forward(self, logits: torch.Tensor, recon: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.ce(logits, y)
        if self.recon_weight:
            loss = loss + self.recon_weight * self.rec(recon, x)
        return loss
