"""
Gradient masking looks robust, until the attack adapts
======================================================

Each gradient-masking defence makes plain PGD look weak against it. The
matching adaptive attack (BPDA for shattered gradients, an attack on the
logits for vanishing ones, EOT for randomness) brings the robust accuracy
straight back to the undefended model's. ``check_gradient_masking`` spots all
of them, and clears the undefended net and the smoothed classifier.
"""

# %%
import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from sksmooth import GradientMaskedClassifier, SmoothedClassifier
from sksmooth.attacks import BPDA, EOT, PGD, SmoothAdv
from sksmooth.diagnostics import check_gradient_masking
from sksmooth.nets import make_mlp_classifier

X, y = make_classification(600, n_features=10, n_informative=6, random_state=0)
X = StandardScaler().fit_transform(X)
X_train, y_train, X_test, y_test = X[:400], y[:400], X[400:], y[400:]
eps = 0.25  # L-inf budget, in standard deviations of each feature


def net(**params):
    return make_mlp_classifier((64, 64), max_epochs=30, lr=0.01, batch_size=64, **params)


undefended = net(module__input_units=10, module__output_units=2)
torch.manual_seed(0)
undefended.fit(X_train.astype(np.float32), y_train)

# Each defence, with the attack that sees through it.
defences = {
    "quantize": (GradientMaskedClassifier(net(), method="quantize", levels=8), BPDA),
    "thermometer": (GradientMaskedClassifier(net(), method="thermometer"), BPDA),
    "distillation": (
        GradientMaskedClassifier(net(), method="distillation"),
        lambda eps, **kw: PGD(eps, loss="margin", **kw),
    ),
    "stochastic": (
        GradientMaskedClassifier(net(), method="stochastic"),
        lambda eps, **kw: EOT(eps, n_samples=16, **kw),
    ),
}


def robust_accuracy(model, attack):
    X_adv = attack.generate(model, X_test, y_test)
    # float32: a bare skorch net takes its module's dtype.
    return np.mean(model.predict(X_adv.astype(np.float32)) == y_test)


# %%
# Plain PGD against each defence, then the adaptive attack.
print(f"{'model':<14}{'PGD':>8}{'adaptive':>10}")
print(f"{'undefended':<14}{robust_accuracy(undefended, PGD(eps, random_state=0)):>8.2f}")
for name, (model, adaptive) in defences.items():
    model.set_params(random_state=0).fit(X_train, y_train)
    pgd = robust_accuracy(model, PGD(eps, random_state=0))
    adapted = robust_accuracy(model, adaptive(eps, random_state=0))
    print(f"{name:<14}{pgd:>8.2f}{adapted:>10.2f}")

# %%
# Randomized smoothing has no gradient to hide: SmoothAdv attacks its soft
# version directly, and its robustness is what the diagnostics measure.
smoothed = SmoothedClassifier(net(), sigma=0.25, n_samples=200, random_state=0)
smoothed.fit(X_train, y_train)
smooth_adv = robust_accuracy(smoothed, SmoothAdv(eps, random_state=0))
print(f"{'smoothed':<14}{smooth_adv:>8.2f}  (SmoothAdv)")

# %%
# The diagnostics see it without being told which defence is inside.
print(check_gradient_masking(defences["quantize"][0], X_test, y_test, eps, random_state=0))
print(check_gradient_masking(undefended, X_test, y_test, eps, random_state=0))
print(check_gradient_masking(smoothed, X_test, y_test, eps, n_random=30, random_state=0))
