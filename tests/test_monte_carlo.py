"""Vote counting: totals, reproducibility, independence of batching, devices."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sksmooth._adapters import EstimatorVoter, TorchModuleVoter
from sksmooth._monte_carlo import NOISE_PIECE, count_votes, row_seeds
from sksmooth.noise import make_noise_model


@pytest.fixture
def linear_module():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def counts(voter, X, batch_size=1000, n_draws=2500, seed=0, noise="gaussian", sigma=0.5):
    return count_votes(
        voter,
        X,
        n_draws=n_draws,
        noise_model=make_noise_model(noise, sigma, n_features=X.shape[1]),
        seeds=row_seeds(X, seed, "test"),
        batch_size=batch_size,
    )


def test_counts_sum_to_draws_per_row(linear_module, rng):
    X = rng.normal(size=(5, 3))
    result = counts(TorchModuleVoter(linear_module, 2), X)
    assert result.shape == (5, 2) and result.dtype == np.int64
    np.testing.assert_array_equal(result.sum(axis=1), 2500)


@pytest.mark.parametrize("batch_size", [1, 7, NOISE_PIECE, 4096])
def test_counts_do_not_depend_on_batch_size(linear_module, rng, batch_size):
    X = rng.normal(size=(4, 3))
    voter = TorchModuleVoter(linear_module, 2)
    np.testing.assert_array_equal(counts(voter, X, batch_size), counts(voter, X, 1000))


def test_counts_depend_on_row_not_neighbours(linear_module, rng):
    X = rng.normal(size=(6, 3))
    voter = TorchModuleVoter(linear_module, 2)
    full = counts(voter, X)
    np.testing.assert_array_equal(counts(voter, X[[4, 1]]), full[[4, 1]])
    # A different seed draws different noise.
    assert not np.array_equal(counts(voter, X, seed=1), full)


def test_row_seeds_separate_streams_and_rows(rng):
    X = rng.normal(size=(3, 2))
    assert row_seeds(X, 0, "a") == row_seeds(X.copy(), 0, "a")
    assert row_seeds(X, 0, "a") != row_seeds(X, 0, "b")
    assert len(set(row_seeds(X, 0, "a"))) == 3


def test_torch_and_estimator_paths_agree(rng):
    # The same linear rule, once as a torch module, once as a sklearn model.
    X = rng.normal(size=(300, 3))
    y = (X @ [1.0, -2.0, 0.5] > 0).astype(int)
    logreg = LogisticRegression().fit(X, y)
    module = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        module.weight[:] = torch.tensor(np.vstack([-logreg.coef_[0], logreg.coef_[0]]) / 2)
        module.bias[:] = torch.tensor([-logreg.intercept_[0], logreg.intercept_[0]]) / 2
    rows = X[:4]
    np.testing.assert_array_equal(
        counts(TorchModuleVoter(module, 2), rows),
        counts(EstimatorVoter(logreg, logreg.classes_), rows),
    )


def test_module_with_wrong_output_size_is_named(rng):
    voter = TorchModuleVoter(torch.nn.Linear(3, 5), n_classes=2)
    with pytest.raises(ValueError, match="one score per class"):
        counts(voter, rng.normal(size=(2, 3)))


def test_module_mode_is_restored(linear_module, rng):
    module = torch.nn.Sequential(linear_module, torch.nn.Dropout(0.5))
    module.train()
    counts(TorchModuleVoter(module, 2), rng.normal(size=(2, 3)))
    assert module.training


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_counts_on_cuda_stay_on_device(linear_module, rng):
    voter = TorchModuleVoter(linear_module.cuda(), 2)
    assert voter.device.type == "cuda"
    assert counts(voter, rng.normal(size=(3, 3))).sum() == 3 * 2500
