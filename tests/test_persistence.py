"""Persistence: fitted models survive pickle and joblib bit for bit, across devices.

- Every fitted estimator, saved and loaded (pickle / joblib, in memory and in
  files), gives identical predictions, probabilities and certificates.
- A model trained on CUDA loads on a machine without CUDA: skorch maps the
  net's tensors to the CPU (with a DeviceWarning), and nothing else in the
  fitted state is tied to the device. On CPU the mechanism is tested by
  marking a CPU-trained model as a CUDA one; the ``gpu`` test trains on CUDA.
- sksmooth itself never loads files. skorch's ``load_params``, the way to load
  a net's weights without unpickling a whole object, refuses a weights file
  that carries code (``weights_only=True`` by default).
"""

import ast
import io
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from skorch.exceptions import DeviceWarning

import sksmooth
from sksmooth import GradientMaskedClassifier, SmoothedClassifier, certify, make_fraud
from sksmooth._training import NOISE_CALLBACK_NAME, NoiseCallback
from sksmooth.datasets import make_fraud_preprocessor
from sksmooth.nets import make_mlp_classifier
from sksmooth.noise import make_noise_model

FAST = {"sigma": 0.25, "n0": 10, "n": 100, "n_samples": 50, "random_state": 0}
N_FEATURES = 4
METHODS = ["quantize", "thermometer", "distillation", "stochastic"]


def tiny_net(**params):
    defaults = {"hidden_units": (16,), "max_epochs": 3, "lr": 0.05, "batch_size": 32}
    return make_mlp_classifier(**{**defaults, **params})


def fit_net(X, y, **params):
    net = tiny_net(module__input_units=X.shape[1], module__output_units=2, **params)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return net.fit(X.astype(np.float32), y)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        120, n_features=N_FEATURES, n_informative=3, n_redundant=0, random_state=0
    )
    return X, y


def build(name: str, X, y):
    """A fitted estimator, and the rows and labels it predicts."""
    labels = np.where(y == 1, "fraud", "legit")
    if name == "smoothed logreg":
        return SmoothedClassifier(LogisticRegression(), **FAST).fit(X, labels), X, labels
    if name == "smoothed net":
        return SmoothedClassifier(tiny_net(), **FAST).fit(X, labels), X, labels
    if name == "smoothed frozen logreg":
        frozen = FrozenEstimator(LogisticRegression().fit(X, labels))
        return SmoothedClassifier(frozen, **FAST).fit(X, labels), X, labels
    if name == "smoothed frozen net":
        frozen = FrozenEstimator(fit_net(X, y))
        return SmoothedClassifier(frozen, **FAST).fit(X, y), X, y
    if name.startswith("masked "):
        method = name.removeprefix("masked ")
        extra = {"noise_std": 0.1} if method == "stochastic" else {}
        masked = GradientMaskedClassifier(tiny_net(), method=method, random_state=0, **extra)
        return masked.fit(X, labels), X, labels
    frame, is_fraud = make_fraud(400, fraud_rate=0.2, random_state=0)
    pipe = make_pipeline(
        make_fraud_preprocessor(),
        SmoothedClassifier(LogisticRegression(), **{**FAST, "sigma": [0.25] * 4 + [0.0] * 11}),
    )
    return pipe.fit(frame, is_fraud), frame, is_fraud


MODELS = [
    "smoothed logreg",
    "smoothed net",
    "smoothed frozen logreg",
    "smoothed frozen net",
    *[f"masked {method}" for method in METHODS],
    "fraud pipeline",
]


@pytest.fixture(scope="module")
def fitted(data):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build(name, *data)
        return cache[name]

    return get


def round_trip(model, how: str, tmp_path: Path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(model))
    if how == "pickle file":
        path = tmp_path / "model.pkl"
        with path.open("wb") as file:
            pickle.dump(model, file)
        with path.open("rb") as file:
            return pickle.load(file)
    if how == "joblib":
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        buffer.seek(0)
        return joblib.load(buffer)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path, compress=3)
    return joblib.load(path)


def is_smoothed(model) -> bool:
    last = model[-1] if isinstance(model, Pipeline) else model
    return isinstance(last, SmoothedClassifier)


def assert_same_certificates(first, second):
    for field in ("label", "radius", "p_lower", "abstained", "n_samples", "correct"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field), strict=True)
    np.testing.assert_array_equal(first.sigma, second.sigma, strict=True)
    assert (first.alpha, first.norm, first.noise) == (second.alpha, second.norm, second.noise)


def assert_same_behaviour(original, loaded, X, y):
    rows, labels = X[:30], y[:30]
    assert loaded is not original
    np.testing.assert_array_equal(loaded.classes_, original.classes_, strict=True)
    np.testing.assert_array_equal(loaded.predict(rows), original.predict(rows), strict=True)
    np.testing.assert_array_equal(
        loaded.predict_proba(rows), original.predict_proba(rows), strict=True
    )
    if is_smoothed(original):
        assert_same_certificates(certify(loaded, rows, labels), certify(original, rows, labels))


@pytest.mark.parametrize("how", ["pickle", "pickle file", "joblib", "joblib file"])
@pytest.mark.parametrize("name", MODELS)
def test_round_trip_gives_identical_results(fitted, name, how, tmp_path):
    model, X, y = fitted(name)
    assert_same_behaviour(model, round_trip(model, how, tmp_path), X, y)


def test_a_loaded_model_can_be_saved_and_loaded_again(fitted, tmp_path):
    model, X, y = fitted("smoothed net")
    twice = round_trip(round_trip(model, "joblib file", tmp_path), "pickle", tmp_path)
    assert_same_behaviour(model, twice, X, y)


# ------------------------------------------------------------------- devices


class CudaGeneratorStandIn:
    """Pickles as a CUDA ``torch.Generator`` does, so loading it needs CUDA.

    A net trained on CUDA holds such generators in its noise callback.
    """

    def __init__(self):
        self._state = torch.Generator().manual_seed(5).get_state()

    def get_state(self) -> torch.Tensor:
        return self._state.clone()

    def __reduce__(self):
        return (torch.Generator, (torch.device("cuda", 0),))


def noise_callback(net) -> NoiseCallback:
    return dict(net.callbacks_)[NOISE_CALLBACK_NAME]


def as_if_trained_on_cuda(model: SmoothedClassifier) -> bytes:
    """Pickle ``model`` with the device state a CUDA-trained one has."""
    net = model.estimator_
    callback = noise_callback(net)
    saved = net.device, callback.generators_
    net.device = "cuda"
    callback.generators_ = {torch.device("cuda", 0): CudaGeneratorStandIn()}
    try:
        return pickle.dumps(model)
    finally:
        net.device, callback.generators_ = saved


def test_the_stand_in_really_needs_cuda():
    """Without the callback's care, a CUDA generator in the pickle would not load."""
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here, so the stand-in loads")
    with pytest.raises(RuntimeError):
        pickle.loads(pickle.dumps(CudaGeneratorStandIn()))


def test_a_model_trained_on_cuda_loads_without_cuda(fitted, monkeypatch):
    model, X, y = fitted("smoothed net")
    payload = as_if_trained_on_cuda(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="(?i)cuda"):
        loaded = pickle.loads(payload)
    assert torch.device(loaded.estimator_.device).type == "cpu"
    callback = noise_callback(loaded.estimator_)
    assert callback.generators_ == {}
    assert set(callback.generator_states_) == {"cuda:0"}  # kept for a load on CUDA
    assert_same_behaviour(model, loaded, X, y)
    # And it trains on: fitting again on the CPU starts a fresh noise stream.
    loaded.estimator_.partial_fit(X.astype(np.float32)[:32], np.arange(32, dtype=np.int64) % 2)


def test_a_masked_model_trained_on_cuda_loads_without_cuda(fitted, monkeypatch):
    model, X, y = fitted("masked stochastic")
    net = model.estimator_
    net.device = "cuda"
    try:
        payload = pickle.dumps(model)
    finally:
        net.device = "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        loaded = pickle.loads(payload)
    assert torch.device(loaded.estimator_.device).type == "cpu"
    assert_same_behaviour(model, loaded, X, y)


def test_noise_callback_resumes_its_stream_after_pickling():
    callback = NoiseCallback(make_noise_model("gaussian", 1.0, n_features=2), seed=3).initialize()
    first = torch.zeros(4, 2)
    callback.on_batch_begin(net=None, batch=(first, None), training=True)
    loaded = pickle.loads(pickle.dumps(callback))
    assert loaded.generators_ == {}  # no device-bound object in the pickle
    batches = [torch.zeros(4, 2), torch.zeros(4, 2)]
    for cb, batch in zip((callback, loaded), batches, strict=True):
        cb.on_batch_begin(net=None, batch=(batch, None), training=True)
    torch.testing.assert_close(batches[0], batches[1], rtol=0, atol=0)
    assert not torch.equal(batches[0], first)  # the stream went on, it did not restart


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_fitted_on_cuda_loads_where_cuda_is_hidden(data, tmp_path):
    X, y = data
    model = SmoothedClassifier(tiny_net(device="cuda"), **FAST).fit(X, y)
    assert next(model.estimator_.module_.parameters()).is_cuda
    # On the same machine, a round trip is exact.
    assert_same_behaviour(model, round_trip(model, "pickle", tmp_path), X, y)

    model_path, rows_path, out_path = (tmp_path / n for n in ("m.pkl", "X.npy", "out.npz"))
    model_path.write_bytes(pickle.dumps(model))
    np.save(rows_path, X[:30])
    script = f"""
import pickle, warnings
import numpy as np, torch
from skorch.exceptions import DeviceWarning
assert not torch.cuda.is_available()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = pickle.loads(open({str(model_path)!r}, "rb").read())
X = np.load({str(rows_path)!r})
net = model.estimator_
np.savez(
    {str(out_path)!r},
    warned=any(issubclass(w.category, DeviceWarning) for w in caught),
    device=str(net.device),
    weights=np.concatenate([p.detach().numpy().ravel() for p in net.module_.parameters()]),
    net_proba=net.predict_proba(X.astype(np.float32)),
    smoothed=model.predict(X),
)
"""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    out = np.load(out_path)
    assert bool(out["warned"]) and str(out["device"]) == "cpu"
    weights = torch.cat([p.detach().cpu().ravel() for p in model.estimator_.module_.parameters()])
    np.testing.assert_array_equal(out["weights"], weights.numpy())
    net_proba = model.estimator_.predict_proba(X[:30].astype(np.float32))
    np.testing.assert_allclose(out["net_proba"], net_proba, atol=1e-5)
    # The noise differs between devices, so smoothed labels agree only where votes are clear.
    assert np.mean(out["smoothed"] == model.predict(X[:30])) >= 0.8


# ------------------------------------------------------------------ security


PAYLOAD_RUNS = []


def record_payload_run():
    """Stands for arbitrary code in a weights file: harmless, but observable."""
    PAYLOAD_RUNS.append(1)


class Payload:
    def __reduce__(self):
        return (record_payload_run, ())


def test_skorch_load_params_refuses_a_weights_file_with_code(tmp_path):
    path = tmp_path / "params.pt"
    torch.save({"layers.0.weight": Payload()}, path)
    # The file really carries code: an unrestricted load runs it.
    PAYLOAD_RUNS.clear()
    torch.load(path, weights_only=False)
    assert PAYLOAD_RUNS == [1]

    PAYLOAD_RUNS.clear()
    net = tiny_net(module__input_units=N_FEATURES, module__output_units=2).initialize()
    assert net.torch_load_kwargs is None  # skorch's default: weights_only=True
    with pytest.raises(pickle.UnpicklingError, match="weights_only|Unsupported global"):
        net.load_params(f_params=path)
    assert PAYLOAD_RUNS == []


def test_weights_saved_by_skorch_load_with_the_safe_default(fitted, tmp_path):
    model, X, _ = fitted("smoothed net")
    path = tmp_path / "params.pt"
    model.estimator_.save_params(f_params=path)
    net = tiny_net(module__input_units=N_FEATURES, module__output_units=2).initialize()
    net.load_params(f_params=path)
    for mine, theirs in zip(
        net.module_.parameters(), model.estimator_.module_.parameters(), strict=True
    ):
        assert torch.equal(mine, theirs)


def test_sksmooth_never_loads_files_unsafely():
    """Any file loading added to the package must be of weights only."""
    unsafe = []
    for path in Path(sksmooth.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = ast.unparse(node.func.value)
            name = f"{owner}.{node.func.attr}"
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if name in {"pickle.load", "pickle.loads", "joblib.load", "dill.load"}:
                unsafe.append(f"{path.name}:{node.lineno} {name}")
            if name == "torch.load" and keywords.get("weights_only") != "True":
                unsafe.append(f"{path.name}:{node.lineno} torch.load without weights_only=True")
            if node.func.attr == "load_params" and "torch_load_kwargs" in keywords:
                unsafe.append(f"{path.name}:{node.lineno} load_params with torch_load_kwargs")
    assert unsafe == []


def test_the_factory_keeps_skorch_safe_loading_default():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_mlp_classifier().torch_load_kwargs is None
