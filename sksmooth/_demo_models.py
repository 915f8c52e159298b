"""The demo's contenders: one MLP, undefended, behind each gradient mask, and smoothed.

Every contender wraps the same small MLP and is trained on the same rows;
each comes with the attack that sees through its defence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from ._training import fit_net
from .attacks import BPDA, EOT, PGD, SmoothAdv
from .attacks._targets import model_input
from .masking import GradientMaskedClassifier
from .nets import make_mlp_classifier
from .smoothing import SmoothedClassifier

# Each masking defence, its settings, and the adaptive attack that sees through it
# (Athalye, Carlini & Wagner, 2018).
MASKING = {
    "quantize": ({"levels": 8}, "BPDA", BPDA),
    "thermometer": ({"levels": 16}, "BPDA", BPDA),
    # Every adaptive attack of the demo follows the logit margin, which is what
    # sees through distillation's saturated softmax.
    "distillation": ({"temperature": 20.0}, "PGD (margin)", PGD),
    "stochastic": (
        {"noise_std": 0.25, "pruning_ratio": 0.2},
        "EOT",
        partial(EOT, n_samples=16),
    ),
}
# Noisy samples per row of a smoothed contender's predict (the Monte Carlo vote).
SMOOTHED_PREDICT_SAMPLES = 500


def demo_net():
    """The MLP every contender wraps: small, and quick to train on a few thousand rows."""
    return make_mlp_classifier((64, 64), max_epochs=10, lr=5e-3, batch_size=512)


@dataclass
class Contender:
    """A model to compare, with the attack that adapts to it.

    ``model`` is a bare skorch net (the undefended contender), a
    GradientMaskedClassifier or a SmoothedClassifier; ``make_adaptive(eps,
    **attack_params)`` builds its adaptive attack.
    """

    name: str
    model: object
    adaptive_name: str
    make_adaptive: Callable

    @property
    def smoothed(self) -> bool:
        return isinstance(self.model, SmoothedClassifier)

    def fit(self, X: np.ndarray, y: np.ndarray, *, random_state: int) -> Contender:
        if isinstance(self.model, GradientMaskedClassifier | SmoothedClassifier):
            self.model.fit(X, y)
        else:
            fit_net(self.model, X, y, n_classes=len(np.unique(y)), seed=random_state)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(model_input(self.model, X))

    @property
    def gradient_model(self):
        """What plain PGD attacks: the model itself, or a smoothed model's base net.

        A smoothed prediction is a majority vote with no gradient; an attacker
        who ignores the smoothing attacks the net underneath.
        """
        return self.model.estimator_ if self.smoothed else self.model


def make_contenders(sigmas: Sequence[float], *, random_state: int) -> list[Contender]:
    """The undefended net, each gradient mask, and one smoothed model per sigma."""
    contenders = [
        Contender("undefended", demo_net(), "PGD (margin)", PGD),
    ]
    for method, (params, attack_name, attack) in MASKING.items():
        model = GradientMaskedClassifier(
            demo_net(), method=method, random_state=random_state, **params
        )
        contenders.append(Contender(method, model, attack_name, attack))
    for sigma in sigmas:
        model = SmoothedClassifier(
            demo_net(),
            sigma=sigma,
            n_samples=SMOOTHED_PREDICT_SAMPLES,
            random_state=random_state,
        )
        contenders.append(
            Contender(f"smoothed sigma={float(sigma)}", model, "SmoothAdv", SmoothAdv)
        )
    return contenders
