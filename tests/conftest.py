import numpy as np
import pytest
import torch

from sksmooth.nets import make_mlp_classifier

# Parametrize a test over the devices torch can run it on here.
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]

# Tiny nets gain nothing from threads, and one thread cannot oversubscribe CI's two cores.
torch.set_num_threads(1)


def patch_lower_bound(monkeypatch, bound) -> None:
    """Make CERTIFY (fixed-n and sequential) use ``bound`` instead of Clopper-Pearson.

    The soundness tests use it to show that a wrong bound fails their checks.
    """
    import sksmooth.certification._certify as fixed_n
    import sksmooth.certification._sequential as sequential

    for module in (fixed_n, sequential):
        monkeypatch.setattr(module, "clopper_pearson_lower", bound)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tiny_net(**params):
    """A small, fast skorch MLP for tests."""
    defaults = {"hidden_units": (16,), "max_epochs": 15, "lr": 0.05, "batch_size": 32}
    return make_mlp_classifier(**{**defaults, **params})


@pytest.fixture
def make_tiny_net():
    return tiny_net


# A small tabular task shared by the defence, attack and diagnostics tests:
# 10 standardised features, 400 training and 200 test rows.
@pytest.fixture(scope="session")
def tabular_task():
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(600, n_features=10, n_informative=6, random_state=0)
    X = StandardScaler().fit_transform(X)
    return X[:400], y[:400], X[400:], y[400:]


def defence_net(**params):
    """The MLP every defence in the shared tabular task wraps."""
    defaults = {"hidden_units": (64, 64), "max_epochs": 30, "lr": 0.01, "batch_size": 64}
    return make_mlp_classifier(**{**defaults, **params})


@pytest.fixture(scope="session")
def undefended_net(tabular_task):
    X_train, y_train, _, _ = tabular_task
    net = defence_net(module__input_units=X_train.shape[1], module__output_units=2)
    torch.manual_seed(0)
    return net.fit(X_train.astype(np.float32), y_train)


MASKING_PARAMS = {
    "quantize": {"levels": 8},
    "thermometer": {"levels": 16},
    "distillation": {"temperature": 100.0},
    "stochastic": {"noise_std": 0.0, "pruning_ratio": 0.2},
}


@pytest.fixture(scope="session")
def masked_models(tabular_task):
    from sksmooth import GradientMaskedClassifier

    X_train, y_train, _, _ = tabular_task
    return {
        method: GradientMaskedClassifier(
            defence_net(), method=method, random_state=0, **params
        ).fit(X_train, y_train)
        for method, params in MASKING_PARAMS.items()
    }
