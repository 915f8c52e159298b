"""
Gradient masking vs randomized smoothing, head to head
======================================================

A gradient-masking defence makes plain PGD look weak against it. The
matching adaptive attack (BPDA for shattered gradients, an attack on the
logits for vanishing ones, EOT for randomness) brings the robust accuracy
straight back down to the undefended model's (Athalye et al., 2018), and
``check_gradient_masking`` flags every such defence without being told which
one is inside.

Randomized smoothing is measured the same way, and also gets what no attack
can give: a certified accuracy, a lower bound that holds against every
attack within the radius.
"""

# %%
# A small tabular task: ten standardised features, 400 training and 200 test
# rows. The attacker may move each row by ``eps = 0.5`` in L2 norm (in
# standard deviations of the features), the norm of the certificates.
import matplotlib.pyplot as plt
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
eps, norm = 0.5, "l2"


def net(**params):
    return make_mlp_classifier((64, 64), max_epochs=30, lr=0.01, batch_size=64, **params)


# %%
# The contenders. Each masking defence comes with the attack that sees
# through it; against the undefended net that attack is plain PGD. The
# smoothed classifier's white-box attack is SmoothAdv, PGD on the average of
# its base net's softmax under the smoothing noise.
undefended = net(module__input_units=10, module__output_units=2)
torch.manual_seed(0)
undefended.fit(X_train.astype(np.float32), y_train)


def plain(eps, **kw):
    return PGD(eps, **kw)


contenders = {
    "undefended": (undefended, plain),
    "quantize": (GradientMaskedClassifier(net(), method="quantize", levels=8), BPDA),
    "thermometer": (GradientMaskedClassifier(net(), method="thermometer"), BPDA),
    "distillation": (
        GradientMaskedClassifier(net(), method="distillation"),
        lambda eps, **kw: PGD(eps, loss="margin", **kw),
    ),
    "stochastic": (
        GradientMaskedClassifier(net(), method="stochastic"),
        lambda eps, **kw: EOT(eps, n_samples=8, **kw),
    ),
    "smoothed": (
        SmoothedClassifier(net(), sigma=0.5, n=2000, n_samples=100),
        lambda eps, **kw: SmoothAdv(eps, loss="margin", **kw),
    ),
}
for name, (model, _) in contenders.items():
    if name != "undefended":
        model.set_params(random_state=0).fit(X_train, y_train)


def accuracy(model, X):
    # float32: a bare skorch net takes its module's dtype; the others convert.
    return np.mean(model.predict(X.astype(np.float32)) == y_test)


def robust_accuracy(model, attack):
    return accuracy(model, attack.generate(model, X_test, y_test))


# %%
# Plain PGD, as a naive evaluation would run it, then the adaptive attack.
# For the smoothed classifier, plain means SmoothAdv on the cross-entropy.
steps = 20
scores = {}
for name, (model, adaptive) in contenders.items():
    white_box = SmoothAdv if name == "smoothed" else PGD
    scores[name] = {
        "clean": accuracy(model, X_test),
        "plain PGD": robust_accuracy(model, white_box(eps, norm=norm, steps=steps, random_state=0)),
        "adaptive": robust_accuracy(model, adaptive(eps, norm=norm, steps=steps, random_state=0)),
    }

# %%
# The certificate: the share of test rows certified correct at radius
# ``eps``. No attack of L2 size ``eps`` can push the smoothed classifier's
# accuracy below it (each certificate holds with probability 1 - alpha).
smoothed = contenders["smoothed"][0]
certified = smoothed.certify(X_test, y_test).certified_accuracy(eps)

print(f"{'model':<14}{'clean':>7}{'plain PGD':>11}{'adaptive':>10}")
for name, row in scores.items():
    print(f"{name:<14}{row['clean']:>7.2f}{row['plain PGD']:>11.2f}{row['adaptive']:>10.2f}")
print(f"certified accuracy of the smoothed classifier at radius {eps}: {certified:.2f}")

# %%
# A naive evaluation ranks the quantizing, thermometer and distilled models
# far above the undefended net. Against the adaptive attack they fall back to
# it: their robustness was an artefact of the evaluation. Randomized
# inference hides the least on a net this small, as PGD's many steps average
# out much of its gradient noise. The smoothed classifier's accuracy under
# attack stays above its certified accuracy, as it must.
names = list(scores)
position = np.arange(len(names))
fig, ax = plt.subplots(figsize=(8, 4))
ax.bar(position - 0.2, [scores[n]["plain PGD"] for n in names], 0.4, label="plain PGD")
ax.bar(position + 0.2, [scores[n]["adaptive"] for n in names], 0.4, label="adaptive attack")
ax.hlines(
    certified,
    position[-1] - 0.45,
    position[-1] + 0.45,
    color="black",
    linestyle="--",
    label="certified lower bound",
)
ax.set_xticks(position, labels=names)
ax.set_ylabel(f"accuracy under attack (L2, eps={eps})")
ax.set_ylim(0, 1)
ax.set_title("What a naive evaluation reports, and what holds")
ax.legend(loc="upper right")
fig.tight_layout()

# %%
# The diagnostics tell the two kinds apart without being told what is
# inside. They run the warning signs of Carlini et al. (2019) on every
# contender and report each with its numbers: the quantizing defence fails
# most of them, the smoothed classifier none.
check = {"norm": norm, "steps": steps, "n_random": 20, "n_queries": 100, "random_state": 0}
reports = {
    name: check_gradient_masking(model, X_test, y_test, eps, **check)
    for name, (model, _) in contenders.items()
}
print(reports["quantize"])
print(reports["smoothed"])

# %%
# Every masking defence is flagged, randomized inference included; the
# undefended net and the smoothed classifier are not.
for name, report in reports.items():
    print(f"{name:<14}{report.verdict}")
plt.show()
