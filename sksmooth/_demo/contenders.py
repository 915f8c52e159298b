"""The demo's contenders: one MLP, undefended, behind each gradient mask, and smoothed.

Every contender wraps the same small MLP and is trained on the same rows.
Each is attacked by the same :class:`~sksmooth.attacks.AttackEnsemble`,
which picks the attacks that see through its defence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import GradientMaskedClassifier, SmoothedClassifier
from ..nets import make_mlp_classifier

# Each masking defence and its settings. The ensemble brings what sees through each
# kind (Athalye, Carlini & Wagner, 2018): BPDA, EOT, the logit margin.
MASKING = {
    "quantize": {"levels": 8},
    "thermometer": {"levels": 16},
    "distillation": {"temperature": 20.0},
    "stochastic": {"noise_std": 0.25, "pruning_ratio": 0.2},
}
# Noisy samples per row of a smoothed contender's predict (the Monte Carlo vote).
SMOOTHED_PREDICT_SAMPLES = 500
# The black-box search budget of the models whose predictions draw noise: each
# query costs a forward pass per row (randomized inference seeds each row's noise
# apart) or SMOOTHED_PREDICT_SAMPLES of them (smoothing), not one per batch.
RANDOM_MODEL_QUERIES = 100


def demo_net():
    """The MLP every contender wraps: small, and quick to train on a few thousand rows."""
    return make_mlp_classifier((64, 64), max_epochs=10, lr=5e-3, batch_size=512)


def fit_undefended(net, X: np.ndarray, y: np.ndarray, *, random_state: int):
    """Fit a bare skorch net as its documentation asks: layer sizes, float32, seeded torch.

    The wrappers do all of this themselves; a bare net needs it by hand.
    """
    net.set_params(module__input_units=X.shape[1], module__output_units=len(np.unique(y)))
    with torch.random.fork_rng():
        torch.manual_seed(random_state)
        net.fit(X.astype(np.float32), y.astype(np.int64))
    return net


@dataclass
class Contender:
    """A model to compare, and what its attack ensemble changes from the demo's settings.

    ``model`` is a bare skorch net (the undefended contender), a
    GradientMaskedClassifier or a SmoothedClassifier.
    """

    name: str
    model: object
    ensemble_params: dict = field(default_factory=dict)

    @property
    def smoothed(self) -> bool:
        return isinstance(self.model, SmoothedClassifier)

    @property
    def wrapped(self) -> bool:
        """Whether the model is one of the package's estimators, which take any float rows."""
        return isinstance(self.model, GradientMaskedClassifier | SmoothedClassifier)

    def fit(self, X: np.ndarray, y: np.ndarray, *, random_state: int) -> Contender:
        if self.wrapped:
            self.model.fit(X, y)
        else:
            fit_undefended(self.model, X, y, random_state=random_state)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        # A bare skorch net takes its module's dtype, float32.
        return self.model.predict(X if self.wrapped else X.astype(np.float32))

    @property
    def gradient_model(self):
        """What plain PGD attacks: the model itself, or a smoothed model's base net.

        A smoothed prediction is a majority vote with no gradient; an attacker
        who ignores the smoothing attacks the net underneath.
        """
        return self.model.estimator_ if self.smoothed else self.model


def make_contenders(
    sigmas: Sequence[float], *, random_state: int, verbose: int = 0
) -> list[Contender]:
    """The undefended net, each gradient mask, and one smoothed model per sigma.

    ``verbose`` gives the smoothed models their own progress bars.
    """
    contenders = [Contender("undefended", demo_net())]
    for method, params in MASKING.items():
        model = GradientMaskedClassifier(
            demo_net(), method=method, random_state=random_state, **params
        )
        noisy = {"n_queries": RANDOM_MODEL_QUERIES} if method == "stochastic" else {}
        contenders.append(Contender(method, model, noisy))
    for sigma in sigmas:
        model = SmoothedClassifier(
            demo_net(),
            sigma=sigma,
            n_samples=SMOOTHED_PREDICT_SAMPLES,
            random_state=random_state,
            verbose=verbose,
        )
        contenders.append(
            Contender(f"smoothed sigma={float(sigma)}", model, {"n_queries": RANDOM_MODEL_QUERIES})
        )
    return contenders
