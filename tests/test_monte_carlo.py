"""Vote counting: totals, reproducibility, independence of batching, devices."""

import contextlib

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sksmooth._adapters import EstimatorVoter, TorchModuleVoter
from sksmooth._monte_carlo import NOISE_PIECE, count_votes, fit_seeds, row_seeds
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


def test_row_seeds_use_their_full_width():
    # 200,000 distinct rows: 128-bit seeds, no collision (a 32-bit generator
    # seed had about 5 among so many rows).
    X = np.arange(200_000, dtype=np.float64).reshape(-1, 1)
    seeds = row_seeds(X, 2**100 + 7, "test")
    assert len(set(seeds)) == len(seeds)
    assert max(seeds) >= 2**127 - 2**124  # the top bits are used
    assert len({seed % 2**32 for seed in seeds}) < len(seeds)  # 32 bits would collide


class RecordingVoter:
    """Votes class 0 and keeps the noisy rows it was shown."""

    device, dtype, n_classes = torch.device("cpu"), torch.float64, 2

    def __init__(self):
        self.rows = []

    @contextlib.contextmanager
    def prepared(self):
        yield

    def predict_indices(self, batch):
        self.rows.append(batch.numpy().copy())
        return torch.zeros(len(batch), dtype=torch.int64)


def test_the_cpu_draw_uses_every_bit_of_a_seed():
    # Seeds equal in their low 64 bits still give different noise.
    model = make_noise_model("gaussian", 1.0, n_features=3)
    drawn = []
    for seed in (12345, 12345 + 2**64, 12345 + 2**100):
        voter = RecordingVoter()
        count_votes(
            voter, np.zeros((1, 3)), n_draws=10, noise_model=model, seeds=[seed], batch_size=10
        )
        drawn.append(np.concatenate(voter.rows))
    assert not np.array_equal(drawn[0], drawn[1]) and not np.array_equal(drawn[1], drawn[2])


def test_fit_seeds_come_from_the_operating_system_when_random_state_is_none():
    np.random.seed(0)
    first = fit_seeds(None, 3)
    np.random.seed(0)
    assert fit_seeds(None, 3) != first  # numpy's global seed does not fix them
    assert fit_seeds(7, 3) == fit_seeds(7, 3) and len(set(fit_seeds(7, 3))) == 3
    assert max(fit_seeds(7, 3)) >= 2**64  # 128-bit seeds
    state = np.random.RandomState(3)
    assert fit_seeds(state, 2) != fit_seeds(state, 2)  # an instance is drawn from
    with pytest.raises(ValueError):
        fit_seeds(-1, 1)


@pytest.mark.parametrize("n_workers", [1, 2, 3, 7])
@pytest.mark.parametrize("n_draws", [1, 999, 2500])
def test_counts_do_not_depend_on_the_number_of_workers(linear_module, rng, n_workers, n_draws):
    X = rng.normal(size=(5, 3))
    voter = TorchModuleVoter(linear_module, 2)
    model = make_noise_model("gaussian", 0.5, n_features=3)
    seeds = row_seeds(X, 0, "test")

    def votes(n_workers, batch_size):
        return count_votes(
            voter,
            X,
            n_draws=n_draws,
            noise_model=model,
            seeds=seeds,
            batch_size=batch_size,
            n_workers=n_workers,
        )

    np.testing.assert_array_equal(votes(n_workers, 300), votes(1, 1000))


def test_workers_leave_torch_threads_as_they_were(linear_module, rng):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        counts(TorchModuleVoter(linear_module, 2), rng.normal(size=(4, 3)), batch_size=100)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


class FailingVoter(RecordingVoter):
    """Raises on its third batch, from whichever thread runs it."""

    runs_in_threads = True

    def __init__(self, error):
        super().__init__()
        self.error = error
        self.calls = 0

    def predict_indices(self, batch):
        self.calls += 1
        if self.calls == 3:
            raise self.error
        return super().predict_indices(batch)


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_error_in_any_worker_reaches_the_caller(error):
    model = make_noise_model("gaussian", 1.0, n_features=2)
    with pytest.raises(type(error)):
        count_votes(
            FailingVoter(error),
            np.zeros((4, 2)),
            n_draws=2000,
            noise_model=model,
            seeds=[1, 2, 3, 4],
            batch_size=1000,
            n_workers=3,
        )


def test_each_piece_of_noise_is_keyed_by_its_row_and_index():
    # The second piece of a row is not the first one again, and the same row
    # seed gives the same pieces whatever else is drawn.
    model = make_noise_model("gaussian", 1.0, n_features=2)
    voter = RecordingVoter()
    count_votes(
        voter,
        np.zeros((1, 2)),
        n_draws=2 * NOISE_PIECE,
        noise_model=model,
        seeds=[5],
        batch_size=NOISE_PIECE,
        n_workers=1,
    )
    first, second = voter.rows
    assert not np.allclose(first, second)
    alone = RecordingVoter()
    count_votes(
        alone,
        np.zeros((2, 2)),
        n_draws=NOISE_PIECE,
        noise_model=model,
        seeds=[9, 5],
        batch_size=NOISE_PIECE,
        n_workers=1,
    )
    np.testing.assert_array_equal(alone.rows[1], first)


@pytest.fixture
def counter_draws(monkeypatch):
    """The GPU's counter-based draws, on the CPU."""
    from sksmooth import _monte_carlo

    monkeypatch.setattr(_monte_carlo, "draws_by_counter", lambda device: True)


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_counter_draws_match_each_rows_own_draw(counter_draws, noise):
    # The batch engine draws every row's samples in one call; each row drawn
    # alone by the counter generator must give the same noisy rows, bit for bit.
    from sksmooth._counter_noise import keys_from_seeds

    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    model = make_noise_model(noise, 0.5, n_features=3)
    seeds = row_seeds(X, 3, "test")
    voter = RecordingVoter()
    count_votes(voter, X, n_draws=1500, noise_model=model, seeds=seeds, batch_size=700, n_workers=1)
    drawn = np.concatenate(voter.rows).reshape(4, 1500, 3)
    for row in range(4):
        keys = keys_from_seeds([seeds[row]])
        alone = model.noisy_rows_by_counter(
            torch.from_numpy(X[row : row + 1]),
            keys,
            torch.zeros(1500, dtype=torch.int64),
            torch.arange(1500),
        )
        np.testing.assert_array_equal(drawn[row], alone.numpy())


def test_counter_draws_do_not_depend_on_batching_order_or_subset(counter_draws, linear_module, rng):
    X = rng.normal(size=(6, 3))
    voter = TorchModuleVoter(linear_module, 2)
    full = counts(voter, X, batch_size=1000)
    np.testing.assert_array_equal(counts(voter, X, batch_size=37), full)
    np.testing.assert_array_equal(counts(voter, X[[5, 2]]), full[[5, 2]])
    np.testing.assert_array_equal(counts(voter, X[::-1]), full[::-1])


def test_counter_draws_replace_categories_with_their_probability(counter_draws):
    model = make_noise_model(
        "gaussian",
        0.5,
        n_features=2,
        categorical_columns=[1],
        categories=[np.arange(4.0)],
        categorical_noise=0.3,
    )
    voter = RecordingVoter()
    count_votes(
        voter,
        np.array([[0.0, 2.0]]),
        n_draws=40_000,
        noise_model=model,
        seeds=[11],
        batch_size=10_000,
        n_workers=1,
    )
    codes = np.concatenate(voter.rows)[:, 1]
    assert set(np.unique(codes)) == {0.0, 1.0, 2.0, 3.0}
    # Kept with probability 0.7 + 0.3 / 4; each other code 0.3 / 4.
    assert abs(np.mean(codes == 2.0) - 0.775) < 5 * np.sqrt(0.775 * 0.225 / 40_000)
