"""
Certifying a fraud model
========================

Train a smoothed skorch MLP on the built-in fraud table and certify a sample
of held-out transactions. The certified accuracy at radius ``r`` is the
fraction of rows whose prediction is correct *and* provably constant within
L2 distance ``r`` (in standardised feature units).
"""

# %%
# Preprocessing turns the table into numbers; the smoothed step adds noise in
# the space it receives, so the certificate's units are standardised features.
import torch
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sksmooth import SmoothedClassifier
from sksmooth.datasets import make_fraud
from sksmooth.nets import make_mlp_classifier

X, y = make_fraud(10_000, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

preprocess = make_column_transformer(
    (StandardScaler(), make_column_selector(dtype_include="number")),
    (OneHotEncoder(sparse_output=False), make_column_selector(dtype_include="category")),
)
# Fraud is rare: weight it up in the loss so the net does not ignore it.
net = make_mlp_classifier(max_epochs=10, criterion__weight=torch.tensor([1.0, 8.0]))
model = make_pipeline(preprocess, SmoothedClassifier(net, sigma=0.25, n=10_000, random_state=0))
model.fit(X_train, y_train)
print(f"clean accuracy: {model.score(X_test, y_test):.3f}")

# %%
# Certify 300 held-out rows in the smoothed step's input space.
result = model[-1].certify(model[:-1].transform(X_test[:300]), y_test[:300])
print(result)
for radius in (0.0, 0.25, 0.5):
    print(f"certified accuracy at {radius}: {result.certified_accuracy(radius):.3f}")
