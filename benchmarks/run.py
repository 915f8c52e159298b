"""sksmooth's benchmark suite: one command, one table.

    python benchmarks/run.py            # full run (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick    # smaller n and fewer rows (about 1 minute)

For each task (certify with n0 = 100, n = 100,000 and predict with
n_samples = 1,000, on the reference MLP 30 -> 256 -> 256 -> 2 and on the
demo's fraud net) and each implementation (sksmooth in fp32 and bf16, the
bare minimum, Cohen et al.'s reference algorithm, IBM ART), it prints the
median time per row over interleaved repeats, evaluations of the base
model per second, the ratio to the bare minimum, how many times faster
sksmooth (fp32) is, and the extra peak memory of one call measured in a
fresh process. Then sequential certification against fixed n on the demo's
fraud model. With a CUDA device present, the tasks run on it too (fp32,
bf16 and fp16 autocast).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_flags, cpu_name  # noqa: E402
from peers import PEERS  # noqa: E402

from sksmooth import SmoothedClassifier, make_fraud  # noqa: E402
from sksmooth.datasets import make_fraud_preprocessor  # noqa: E402
from sksmooth.nets import MLPModule, make_mlp_classifier  # noqa: E402

SIGMA, ALPHA, N0, BATCH_SIZE = 0.5, 0.001, 100, 1000


@dataclass
class Task:
    """One model and its rows, saved to files so a fresh process can rebuild it."""

    name: str
    method: str  # "certify" or "predict"
    hidden_units: tuple
    state_path: str
    rows_path: str
    n: int
    n_samples: int
    repeats: int
    device: str = "cpu"

    def module(self) -> torch.nn.Module:
        state = torch.load(self.state_path, weights_only=True)
        n_features = state["layers.0.weight"].shape[1]
        module = MLPModule(n_features, 2, hidden_units=self.hidden_units)
        module.load_state_dict(state)
        return module.to(self.device).eval()

    def rows(self) -> np.ndarray:
        return np.load(self.rows_path)

    def params(self) -> dict:
        return {"sigma": SIGMA, "n0": N0, "n": self.n, "n_samples": self.n_samples, "alpha": ALPHA}

    def evaluations_per_row(self) -> int:
        return N0 + self.n if self.method == "certify" else self.n_samples


class Sksmooth:
    """sksmooth's SmoothedClassifier around a frozen skorch net holding the module."""

    def __init__(self, module, n_classes, *, precision, batch_size, **params):
        n_features = next(module.parameters()).shape[1]
        net = NeuralNetClassifier(
            MLPModule,
            module__input_units=n_features,
            module__output_units=n_classes,
            device=str(next(module.parameters()).device),
        ).initialize()
        net.module_ = module  # the benchmarked module itself, weights and all
        net.classes_inferred_ = np.arange(n_classes)
        self.model = SmoothedClassifier(
            FrozenEstimator(net),
            batch_size=batch_size,
            precision=precision,
            random_state=0,
            **params,
        ).fit(np.zeros((n_classes, n_features)), np.arange(n_classes))

    def certify(self, x):
        result = self.model.certify(x[None, :])
        return result.label[0], result.radius[0]

    def predict(self, X):
        return self.model.predict(X)


def implementations(device: str) -> dict:
    impls = {
        "sksmooth fp32": lambda m, c, **p: Sksmooth(m, c, precision="float32", **p),
        "sksmooth bf16": lambda m, c, **p: Sksmooth(m, c, precision="bfloat16", **p),
    }
    if device == "cuda":
        impls["sksmooth fp16"] = lambda m, c, **p: Sksmooth(m, c, precision="float16", **p)
    impls.update(PEERS)
    return impls


def build(task: Task, impl_name: str):
    return implementations(task.device)[impl_name](
        task.module(), 2, batch_size=BATCH_SIZE, **task.params()
    )


def run_once(impl, task: Task, rows: np.ndarray) -> None:
    if task.method == "certify":
        for x in rows:
            impl.certify(x)
    else:
        impl.predict(rows)


def peak_memory_probe(task: Task, impl_name: str, queue) -> None:
    """In a fresh process: extra peak memory of one call above what setup used."""
    torch.set_num_threads(1)
    impl = build(task, impl_name)
    rows = task.rows()[:1] if task.method == "certify" else task.rows()
    if task.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run_once(impl, task, rows)
        queue.put((torch.cuda.max_memory_allocated() - before) / 2**20)
        return
    before = _status_kib("VmRSS")
    run_once(impl, task, rows)
    queue.put((_status_kib("VmHWM") - before) / 2**10)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def extra_peak_mib(task: Task, impl_name: str) -> float:
    if not os.path.exists("/proc/self/status"):
        return float("nan")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=peak_memory_probe, args=(task, impl_name, queue))
    process.start()
    value = queue.get()
    process.join()
    return value


def time_task(task: Task, threads: int, memory: bool, clock) -> pd.DataFrame:
    torch.set_num_threads(threads)
    impls = {name: build(task, name) for name in implementations(task.device)}
    rows = task.rows()
    for impl in impls.values():  # warm up: first calls allocate and load kernels
        run_once(impl, task, rows[:1])
    agreement = agreement_with_sksmooth(impls, task, rows[: task.repeats])
    times = {name: [] for name in impls}
    for repeat in range(task.repeats):
        # Interleave implementations so machine noise hits all alike.
        chunk = rows[repeat : repeat + 1] if task.method == "certify" else rows
        for name, impl in impls.items():
            _synchronize(task.device)
            start = clock()
            run_once(impl, task, chunk)
            _synchronize(task.device)
            times[name].append((clock() - start) / len(chunk))
    per_row = {name: float(np.median(t)) for name, t in times.items()}
    table = pd.DataFrame(
        {
            "task": task.name,
            "implementation": list(per_row),
            "ms/row": [1e3 * t for t in per_row.values()],
            "evals/s": [task.evaluations_per_row() / t for t in per_row.values()],
            "x minimum": [t / per_row["bare minimum"] for t in per_row.values()],
            # Each implementation against the fastest bare minimum of its precision.
            "x best minimum": [
                t / _best_minimum(per_row, "bf16" in name) for name, t in per_row.items()
            ],
            "sksmooth fp32 faster": [t / per_row["sksmooth fp32"] for t in per_row.values()],
            "agrees": [agreement[name] for name in per_row],
        }
    )
    if memory:
        table["extra peak MiB"] = [extra_peak_mib(task, name) for name in per_row]
    return table


def _best_minimum(per_row: dict, bf16: bool) -> float:
    """The fastest bare minimum (any batch size) in bf16, or in fp32 with float32 noise."""
    return min(
        t
        for name, t in per_row.items()
        if name.startswith("bare minimum") and ("bf16" in name) == bf16 and "float64" not in name
    )


def agreement_with_sksmooth(impls: dict, task: Task, rows: np.ndarray) -> dict:
    """Share of rows where each implementation gives sksmooth fp32's answer.

    Labels must match; certified radii (all draw different noise) must agree
    within 0.05 * sigma. A check that every row of the table did the same job.
    """
    if task.method == "predict":
        ours = impls["sksmooth fp32"].predict(rows)
        return {
            name: float(np.mean(np.asarray(impl.predict(rows)) == ours))
            for name, impl in impls.items()
        }
    ours = [impls["sksmooth fp32"].certify(x) for x in rows]
    agreement = {}
    for name, impl in impls.items():
        same = []
        for x, (label, radius) in zip(rows, ours, strict=True):
            other_label, other_radius = impl.certify(x)
            close = np.isnan(other_radius) or abs(other_radius - radius) <= 0.05 * SIGMA
            same.append(other_label == label and close)
        agreement[name] = float(np.mean(same))
    return agreement


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def reference_module(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return MLPModule(30, 2, hidden_units=(256, 256))


def demo_model(n_train: int):
    """The demo's fraud net: preprocessing, then an MLP 64-64 trained under noise."""
    X, y = make_fraud(n_train, random_state=0)
    preprocess = make_fraud_preprocessor().fit(X)
    smoothed = SmoothedClassifier(
        make_mlp_classifier((64, 64), max_epochs=10),
        sigma=0.25,
        n=100_000,
        random_state=0,
    ).fit(preprocess.transform(X), y.to_numpy())
    return preprocess, smoothed


def make_tasks(folder: str, args, demo) -> list[Task]:
    preprocess, smoothed = demo
    modules = {
        "reference MLP": (
            reference_module(),
            (256, 256),
            np.random.default_rng(0).normal(size=(200, 30)),
        ),
        "demo fraud net": (
            smoothed.estimator_.module_,
            (64, 64),
            preprocess.transform(make_fraud(200, random_state=1)[0]),
        ),
    }
    tasks = []
    for net_name, (module, hidden, rows) in modules.items():
        state_path = os.path.join(folder, f"{net_name}.pt")
        torch.save(module.state_dict(), state_path)
        for method, n_rows, repeats in (
            ("certify", args.certify_rows, args.certify_rows),
            ("predict", args.predict_rows, args.repeats),
        ):
            rows_path = os.path.join(folder, f"{net_name}-{method}.npy")
            np.save(rows_path, np.ascontiguousarray(rows[:n_rows], dtype=np.float64))
            for device in args.devices:
                tasks.append(
                    Task(
                        name=f"{method}, {net_name}" + (", cuda" if device == "cuda" else ""),
                        method=method,
                        hidden_units=hidden,
                        state_path=state_path,
                        rows_path=rows_path,
                        n=args.n,
                        n_samples=args.n_samples,
                        repeats=repeats,
                        device=device,
                    )
                )
    return tasks


def sequential_comparison(demo, rows: int, radius: float) -> pd.DataFrame:
    """Decision-mode certification against fixed n on fresh make_fraud rows."""
    preprocess, smoothed = demo
    X, y = make_fraud(rows, random_state=3)
    Z = preprocess.transform(X)
    out = []
    for mode, kwargs in (("fixed n", {}), ("sequential", {"radius": radius})):
        start = time.perf_counter()
        result = smoothed.certify(Z, y, **kwargs)
        elapsed = time.perf_counter() - start
        out.append(
            {
                "mode": mode,
                f"certified accuracy at {radius}": result.certified_accuracy(radius),
                "mean samples/row": result.total_samples.mean(),
                "median samples/row": np.median(result.n_samples),
                "max samples/row": result.n_samples.max(),
                "ms/row": 1e3 * elapsed / rows,
            }
        )
    return pd.DataFrame(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n=10,000 and fewer rows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument("--no-sequential", action="store_true")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: CPU seconds of this process, steadier than wall time on a busy machine",
    )
    args = parser.parse_args(argv)
    args.n = 10_000 if args.quick else 100_000
    args.n_samples = 1000
    args.certify_rows = 3 if args.quick else 7
    args.predict_rows = 50 if args.quick else 200
    args.repeats = 3 if args.quick else 5
    args.devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    print(f"{cpu_name()} ({cpu_flags()}), {os.cpu_count()} CPUs")
    print(
        f"torch {torch.__version__}, {args.clock} clock, {args.threads} threads, "
        f"devices {args.devices}, "
        f"sigma {SIGMA}, n0 {N0}, n {args.n}, predict n_samples {args.n_samples}, "
        f"batch {BATCH_SIZE}"
    )
    demo = demo_model(2000 if args.quick else 20_000)
    with tempfile.TemporaryDirectory() as folder:
        tables = []
        for task in make_tasks(folder, args, demo):
            clock = time.perf_counter if args.clock == "wall" else time.process_time
            table = time_task(task, args.threads, memory=not args.no_memory, clock=clock)
            print(table.to_string(index=False, float_format=lambda v: f"{v:,.3g}"), flush=True)
            tables.append(table)
    if not args.no_sequential:
        torch.set_num_threads(args.threads)
        table = sequential_comparison(demo, rows=100 if args.quick else 300, radius=0.25)
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.3g}"))


if __name__ == "__main__":
    main()
