"""The threat model holds exactly: every returned row is inside the eps ball, the
bounds and the feature mask, checked with no tolerance, in float64 and float32."""

import numpy as np
import pytest
import torch

from sksmooth.attacks import BPDA, EOT, PGD, RandomSearch
from sksmooth.attacks._constraints import finalise, parse_norm, project, random_start

MASK = np.array([True, False, True, True, False, True])
# Bounds that bind: rows are clipped into the box first, so many sit on its faces
# (0.3 and -0.7 are not exact in float32, the case where rounding can overshoot).
LOW = np.array([-0.7, -1.0, -2.0, -1.0, -1.5, -1.0])
HIGH = np.array([0.3, 1.0, 2.0, 1.0, 0.5, 1.0])
EPS_VALUES = [0.01, 0.1, 0.7]
SEEDS = [0, 1]


def inside_box(X, dtype):
    """X clipped into [LOW, HIGH] and cast to dtype, still inside when read in float64."""
    X = np.clip(X, LOW, HIGH).astype(dtype)
    X = np.where(X.astype(np.float64) > HIGH, np.nextafter(X, dtype(-np.inf)), X)
    return np.where(X.astype(np.float64) < LOW, np.nextafter(X, dtype(np.inf)), X)


def assert_within_threat(X, X_adv, *, eps, norm, mask=None, low=None, high=None):
    """Every constraint, exactly, in float64 (as the attacks promise)."""
    assert X_adv.dtype == X.dtype and X_adv.shape == X.shape
    delta = X_adv.astype(np.float64) - X.astype(np.float64)
    if norm == "inf":
        assert np.abs(delta).max() <= eps
    else:
        # The same reduction the package documents its guarantee with.
        assert np.linalg.norm(delta, axis=1).max() <= eps
    if mask is not None:
        assert X_adv[:, ~mask].tobytes() == X[:, ~mask].tobytes()  # bit-identical
    if low is not None:
        values = X_adv.astype(np.float64)
        assert np.all(low <= values) and np.all(values <= high)


ATTACKS = {
    "pgd-linf": lambda eps, seed, **kw: PGD(eps, steps=10, restarts=2, random_state=seed, **kw),
    "pgd-l2": lambda eps, seed, **kw: PGD(
        eps, norm="l2", steps=10, restarts=2, random_state=seed, **kw
    ),
    "randomsearch-linf": lambda eps, seed, **kw: RandomSearch(
        eps, n_queries=20, random_state=seed, **kw
    ),
    "randomsearch-l2": lambda eps, seed, **kw: RandomSearch(
        eps, norm="l2", n_queries=20, random_state=seed, **kw
    ),
    "bpda": lambda eps, seed, **kw: BPDA(eps, steps=10, random_state=seed, **kw),
    "eot-l2": lambda eps, seed, **kw: EOT(
        eps, norm="l2", n_samples=4, steps=10, random_state=seed, **kw
    ),
}
MODEL = {  # the model each attack is meant for
    "pgd-linf": "net",
    "pgd-l2": "net",
    "randomsearch-linf": "net",
    "randomsearch-l2": "net",
    "bpda": "quantized",
    "eot-l2": "stochastic",
}


CONSTRAINTS = {
    "ball": {},
    "mask": {"feature_mask": MASK},
    "mask+bounds": {"feature_mask": MASK, "bounds": (LOW, HIGH)},
}


def threat_cases():
    for name in sorted(ATTACKS):
        for constrained in CONSTRAINTS:
            for dtype in (np.float64, np.float32):
                yield pytest.param(
                    name, constrained, dtype, id=f"{name}-{constrained}-{np.dtype(dtype).name}"
                )


@pytest.mark.parametrize("name, constrained, dtype", list(threat_cases()))
def test_attacks_stay_inside_the_threat_model(name, constrained, dtype, data, request):
    model = request.getfixturevalue(MODEL[name])
    n_rows = 50 if name.startswith("randomsearch") else 100  # queries cost more
    X, y = data[0][:n_rows], data[1][:n_rows]
    kwargs = CONSTRAINTS[constrained]
    X = inside_box(X, dtype) if "bounds" in kwargs else X.astype(dtype)
    expected = {
        "norm": "l2" if name.endswith("l2") else "inf",
        "mask": kwargs.get("feature_mask"),
        "low": LOW if "bounds" in kwargs else None,
        "high": HIGH if "bounds" in kwargs else None,
    }
    moved = 0
    for eps in EPS_VALUES:
        for seed in SEEDS:
            X_adv = ATTACKS[name](eps, seed, **kwargs).generate(model, X, y)
            assert_within_threat(X, X_adv, eps=eps, **expected)
            moved += np.count_nonzero(X_adv != X)
    assert moved > 0  # the attacks did perturb something


def test_float32_rounding_would_overshoot_without_finalise(net, data):
    # Why the exact checks are not vacuous: PGD's float64 rows, merely rounded to
    # float32, leave the ball and the box; the attack's output does not.
    X, y = data
    X = inside_box(X, np.float32)
    eps = 0.1
    attack = PGD(eps, steps=10, feature_mask=MASK, bounds=(LOW, HIGH), random_state=0)
    X_adv = attack.generate(net, X, y)
    assert_within_threat(X, X_adv, eps=eps, norm="inf", mask=MASK, low=LOW, high=HIGH)
    rounded = attack.generate(net, X.astype(np.float64), y).astype(np.float32)
    delta = rounded.astype(np.float64) - X.astype(np.float64)
    overshoot = (np.abs(delta) > eps) | (rounded.astype(np.float64) > HIGH)
    overshoot |= rounded.astype(np.float64) < LOW
    assert overshoot.any()


# ------------------------------------------------------------- the helpers


@pytest.mark.parametrize(
    "spelling, norm",
    [("inf", "inf"), ("Linf", "inf"), (np.inf, "inf"), ("l2", "l2"), ("L2", "l2"), (2, "l2")],
)
def test_parse_norm_spellings(spelling, norm):
    assert parse_norm(spelling) == norm


@pytest.mark.parametrize("bad", ["l3", 3, 1, "l1", None, [2]])
def test_parse_norm_rejects_others(bad):
    with pytest.raises(ValueError, match=r"norm must be 'inf' .* or 'l2'"):
        parse_norm(bad)


def test_project_applies_mask_ball_and_bounds(rng):
    X = torch.as_tensor(rng.uniform(-1, 1, (50, 6)))
    delta = torch.as_tensor(rng.normal(0, 2, (50, 6)))
    mask = torch.as_tensor(MASK.astype(np.float64))
    low, high = torch.as_tensor(LOW), torch.as_tensor(HIGH)
    X = torch.maximum(torch.minimum(X, high), low)
    for norm in ("inf", "l2"):
        out = project(delta, X, eps=0.5, norm=norm, mask=mask, low=low, high=high)
        assert torch.all(out[:, ~torch.as_tensor(MASK)] == 0)
        size = out.abs().amax(1) if norm == "inf" else out.norm(dim=1)
        assert torch.all(size <= 0.5 + 1e-12)
        assert torch.all((X + out >= low) & (X + out <= high))


def test_project_leaves_points_inside_the_ball_alone(rng):
    X = torch.zeros(20, 6, dtype=torch.float64)
    delta = torch.as_tensor(rng.uniform(-0.1, 0.1, (20, 6)))
    for norm in ("inf", "l2"):
        out = project(delta, X, eps=1.0, norm=norm, mask=None, low=None, high=None)
        assert torch.equal(out, delta)


@pytest.mark.parametrize("norm", ["inf", "l2"])
def test_random_start_fills_the_ball_and_respects_the_mask(norm):
    X = torch.zeros(4000, 6, dtype=torch.float64)
    mask = torch.as_tensor(MASK)
    delta = random_start(
        X, eps=0.5, norm=norm, mask=mask, generator=torch.Generator().manual_seed(0)
    )
    size = delta.abs().amax(1) if norm == "inf" else delta.norm(dim=1)
    assert torch.all(size <= 0.5 + 1e-12)
    if norm == "l2":
        # Uniform in the 4-dimensional ball restricted to the mask: masked out exactly,
        # and the radius has the law of eps * U^(1/4), median 0.5 * 0.5^(1/4) = 0.42.
        assert torch.all(delta[:, ~mask] == 0)
        assert size.median().item() == pytest.approx(0.5 * 0.5**0.25, abs=0.01)
    else:
        # (L-inf starts are masked by the projection that follows them.)
        assert delta.abs().mean().item() == pytest.approx(0.25, abs=0.01)


def test_finalise_steps_back_one_ulp_where_rounding_overshoots():
    X = np.array([[0.1, 0.2, 0.3]], dtype=np.float32)
    eps = 0.1
    # float64 rows exactly eps away; in float32 several round past eps.
    X_adv = X.astype(np.float64) + np.array([[eps, -eps, eps]])
    naive = X_adv.astype(np.float32).astype(np.float64) - X.astype(np.float64)
    assert np.any(np.abs(naive) > eps)
    out = finalise(X, X_adv, eps=eps, norm="inf", mask=None, low=None, high=None)
    assert out.dtype == np.float32
    assert np.all(np.abs(out.astype(np.float64) - X.astype(np.float64)) <= eps)
    # ...and by no more than one unit in the last place.
    ulps = np.abs(out.view(np.int32) - X_adv.astype(np.float32).view(np.int32))
    assert ulps.max() <= 1
