"""
Fraud operating points: rank by the smoothed score, certify at the team's threshold
===================================================================================

A fraud team ranks transactions by a score and flags those above a threshold
tuned for recall. Here the smoothed classifier's soft score (the mean of the
net's fraud probability under noise) ranks the test transactions about as
well as the net itself; the threshold that keeps 90% recall on validation
rows is wrapped in scikit-learn's ``FixedThresholdClassifier``; and
``sksmooth.certify`` certifies that decision: for each flagged fraud, how far
its (standardised) features may move before the smoothed score can drop
below the threshold.
"""

# %%
# A smoothed skorch MLP under noise of sigma 0.25, with soft smoothing: its
# ``predict_proba`` is a continuous score. Smoothing only acts when the model
# predicts, so the same fitted model also gives the hard vote share.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import PrecisionRecallDisplay, average_precision_score
from sklearn.model_selection import FixedThresholdClassifier, train_test_split
from sklearn.pipeline import make_pipeline

from sksmooth import CertifiedAccuracyDisplay, SmoothedClassifier, certify
from sksmooth.datasets import make_fraud, make_fraud_preprocessor
from sksmooth.metrics import certified_recall
from sksmooth.nets import make_mlp_classifier

X, y = make_fraud(6000, fraud_rate=0.05, random_state=0)
y = y.to_numpy()
X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)
smoothed = SmoothedClassifier(
    make_mlp_classifier(max_epochs=10),
    sigma=0.25,
    smoothing="soft",
    class_weight={1: 4},
    n0=64,
    n=2000,
    n_samples=500,
    random_state=0,
)
model = make_pipeline(make_fraud_preprocessor(), smoothed).fit(X_train, y_train)

# %%
# Ranking: precision-recall curves of the net without noise, of the hard
# vote share and of the soft score, on the same test rows. The vote share
# is a multiple of 1 / n_samples, so rows tie; on these easy frauds (5% of
# rows) it still ranks well, while on the rarer 1.5% frauds of
# ``benchmarks/bench_operating_points.py`` it lost 0.05 of PR-AUC to the net
# and the soft score 0.004.
net_score = smoothed.estimator_.predict_proba(model[:-1].transform(X_test).astype(np.float32))[:, 1]
soft_score = model.predict_proba(X_test)[:, 1]
model.set_params(smoothedclassifier__smoothing="hard")
hard_score = model.predict_proba(X_test)[:, 1]
model.set_params(smoothedclassifier__smoothing="soft")

_, ax = plt.subplots(figsize=(6, 4))
for name, score in (("net", net_score), ("hard votes", hard_score), ("soft score", soft_score)):
    print(f"{name}: PR-AUC {average_precision_score(y_test, score):.3f}")
    PrecisionRecallDisplay.from_predictions(y_test, score, name=name, ax=ax)
ax.set_title("Ranking test transactions, sigma = 0.25")
plt.tight_layout()

# %%
# The team's threshold: the largest that flags 90% of the validation frauds.
# ``FixedThresholdClassifier`` around the frozen model decides at it, and
# ``sksmooth.certify`` certifies that decision (``threshold=`` read from it).
val_fraud_scores = np.sort(model.predict_proba(X_val)[:, 1][y_val == 1])[::-1]
threshold = float(val_fraud_scores[int(np.ceil(0.9 * len(val_fraud_scores))) - 1])
team = FixedThresholdClassifier(FrozenEstimator(model), threshold=threshold).fit(X_val, y_val)
frauds = y_test == 1
print(f"threshold {threshold:.3f}: test recall {team.predict(X_test)[frauds].mean():.3f}")

result = certify(team, X_test[frauds], y_test[frauds])
for radius in (0.0, 0.1, 0.25):
    print(
        f"certified fraud recall at the threshold, radius {radius}: "
        f"{certified_recall(y_test[frauds], result, radius):.3f}"
    )

# %%
# The certified recall of the frauds at the team's threshold against the
# radius: a flagged fraud counts at ``r`` if no change of its standardised
# features within L2 distance ``r`` can bring its smoothed score below the
# threshold.
display = CertifiedAccuracyDisplay.from_result(result, name=f"threshold {threshold:.2f}")
display.ax_.set_xlabel("L2 radius, in standard deviations of the features")
display.ax_.set_ylabel("frauds certified flagged")
display.figure_.set_size_inches(6, 4)
display.figure_.tight_layout()

# %%
# Cheaper predictions: with ``sequential_predict=True`` each row stops
# sampling once its class is decided at level ``alpha``, with ``n_samples``
# as the cap; the labels agree with the fixed predict but for rows whose
# score is near 1/2.
start = time.perf_counter()
fixed_labels = model.predict(X_test)
fixed_seconds = time.perf_counter() - start
model.set_params(smoothedclassifier__sequential_predict=True)
start = time.perf_counter()
sequential_labels = model.predict(X_test)
sequential_seconds = time.perf_counter() - start
print(
    f"sequential predict: {np.mean(fixed_labels == sequential_labels):.2%} the same labels, "
    f"{fixed_seconds / sequential_seconds:.1f}x as fast"
)
plt.show()
