"""A small multilayer perceptron for tabular data, ready to be smoothed."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from skorch import NeuralNetClassifier
from torch import nn

__all__ = ["MLPModule", "make_mlp_classifier"]


class MLPModule(nn.Module):
    """Fully connected ReLU network returning one logit per class.

    Parameters
    ----------
    input_units : int
        Number of input features. :class:`~sksmooth.SmoothedClassifier` sets
        it from the data.
    output_units : int
        Number of classes. :class:`~sksmooth.SmoothedClassifier` sets it from
        the data.
    hidden_units : sequence of int, default=(64, 64)
        Width of each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sksmooth.nets import MLPModule
    >>> MLPModule(input_units=4, output_units=3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        input_units: int | None = None,
        output_units: int | None = None,
        hidden_units: Sequence[int] = (64, 64),
        dropout: float = 0.0,
    ):
        super().__init__()
        if input_units is None or output_units is None:
            raise ValueError(
                "MLPModule needs input_units and output_units; SmoothedClassifier "
                "sets them from the data, otherwise pass module__input_units and "
                "module__output_units to the skorch net."
            )
        layers: list[nn.Module] = []
        width = input_units
        for hidden in hidden_units:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, output_units))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Return the logits of a batch.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, input_units)
            Input rows.

        Returns
        -------
        logits : torch.Tensor of shape (batch, output_units)
            One unnormalised score per class.
        """
        return self.layers(X)


def make_mlp_classifier(
    hidden_units: Sequence[int] = (64, 64),
    *,
    max_epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 128,
    **net_params,
) -> NeuralNetClassifier:
    """Build a skorch :class:`~skorch.NeuralNetClassifier` around :class:`MLPModule`.

    Defaults suit smoothing and model selection: Adam, cross-entropy on
    logits, no internal validation split (``train_split=None``) and no
    training log (``verbose=0``).

    Parameters
    ----------
    hidden_units : sequence of int, default=(64, 64)
        Width of each hidden layer.
    max_epochs : int, default=20
        Number of training epochs.
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=128
        Training batch size.
    **net_params
        Any other :class:`~skorch.NeuralNetClassifier` parameter, e.g.
        ``device="cuda"`` or ``criterion__weight=torch.tensor([1.0, 20.0])``.

    Returns
    -------
    net : skorch.NeuralNetClassifier
        Unfitted; wrap it in :class:`~sksmooth.SmoothedClassifier`.

    Examples
    --------
    >>> from sksmooth.nets import make_mlp_classifier
    >>> net = make_mlp_classifier(hidden_units=(32,), max_epochs=5)
    >>> net.max_epochs
    5
    """
    params = {
        "criterion": nn.CrossEntropyLoss,
        "optimizer": torch.optim.Adam,
        "train_split": None,
        "verbose": 0,
        **net_params,
    }
    return NeuralNetClassifier(
        MLPModule,
        module__hidden_units=tuple(hidden_units),
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        **params,
    )
