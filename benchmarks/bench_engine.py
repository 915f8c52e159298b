"""Noise engines side by side: one torch generator per row against counter-based Philox.

Gaussian noise for 1,000,000 samples of 30 features (``--rows`` rows of
``1e6 / rows`` samples each), added to the rows, drawn two ways:

- ``per-row generators``: what the GPU path of ``sksmooth._monte_carlo``
  does today, written out here: one ``torch.Generator`` per row seeded with
  64 bits of its seed, one normal draw per piece of 1,000 samples (then
  ``add_`` of the row and the owner's index), so a few kernel launches per
  1,000 samples; the buffer is handed on whenever ``--batch`` samples are in.
- ``counter-based``: ``sksmooth._counter_noise.standard_normal`` for whole
  batches of ``--batch`` (row, sample) pairs, a fixed number of elementwise
  operations per batch; on the CPU also at ``--cpu-small-batch``, whose
  intermediates stay in the cache.

Tasks: the noise alone; noise + forward + argmax + bincount of a tiny model
(``nn.Linear(30, 2)``, where launch overhead dominates); and, on CUDA, the
reference MLP 30-256-256-2 in fp32, bf16 and fp16 (noise + forward + argmax),
in noisy evaluations per second against the bf16 roofline of 6.7e9 evals/s
(147,456 FLOP per sample). Each row of a table: the median over interleaved
repeats (the engines take turns, the order reversed every other repeat), the
operations per million samples counted by ``torch.profiler`` (aten operators,
nested ones included, and on CUDA the kernels launched), and the speed-up
over the per-row generators (above 1: faster). The counts of the counter-based
engine are checked to be identical for every batch size.

Run: ``python benchmarks/bench_engine.py --quick`` (CPU, and CUDA when
available, in the same command).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_name  # noqa: E402

from sksmooth._counter_noise import keys_from_seeds, standard_normal  # noqa: E402

N_SAMPLES = 1_000_000
N_FEATURES = 30
PIECE = 1000  # samples per normal draw of the per-row path (NOISE_PIECE)
FLOP_PER_SAMPLE = 2 * (30 * 256 + 256 * 256 + 256 * 2)  # 147,456
ROOFLINE_EVALS = 6.7e9  # bf16 evaluations per second of the reference MLP on an H200
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")

Consume = Callable[[torch.Tensor, torch.Tensor], None]


# ---------------------------------------------------------------- machine


def cpu_flags() -> list[str]:
    """The flags of ``CPU_FLAGS`` that /proc/cpuinfo lists."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in CPU_FLAGS if flag in present]
    except OSError:
        pass
    return []


def header(args) -> str:
    flags = cpu_flags()
    lines = [
        f"CPU: {cpu_name()}; flags: {', '.join(flags) or 'none of ' + ', '.join(CPU_FLAGS)}",
        f"AMX: {'yes' if 'amx_bf16' in flags else 'no'}, "
        f"AVX512-BF16: {'yes' if 'avx512_bf16' in flags else 'no'}",
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads",
        f"{N_SAMPLES:,} samples x {N_FEATURES} features: {args.rows} rows x "
        f"{N_SAMPLES // args.rows:,} samples; batch {args.batch:,}; {args.repeats} repeats",
    ]
    if torch.cuda.is_available():
        lines.append(f"CUDA: {torch.cuda.get_device_name()}")
    return "\n".join(lines)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- engines


@dataclass
class Workload:
    """The rows, their seeds and their keys on one device."""

    X: torch.Tensor  # (n_rows, N_FEATURES) float64
    seeds: list[int]  # 128-bit row seeds
    keys: torch.Tensor  # (n_rows, 2) int64
    n_draws: int

    @classmethod
    def make(cls, n_rows: int, device: torch.device) -> Workload:
        generator = torch.Generator().manual_seed(0)
        X = torch.randn(n_rows, N_FEATURES, dtype=torch.float64, generator=generator)
        words = torch.randint(0, 2**62, (n_rows, 2), generator=generator).tolist()
        seeds = [low | high << 64 for low, high in words]
        return cls(X.to(device), seeds, keys_from_seeds(seeds, device), N_SAMPLES // n_rows)

    @property
    def device(self) -> torch.device:
        return self.X.device


def per_row_generators(work: Workload, batch: int, consume: Consume) -> None:
    """Today's GPU path: a generator per row, one normal draw per piece of 1,000 samples."""
    device = work.device
    buffer = torch.empty((batch, N_FEATURES), dtype=torch.float64, device=device)
    owner = torch.empty(batch, dtype=torch.int64, device=device)
    filled = 0
    for row, seed in enumerate(work.seeds):
        generator = torch.Generator(device=device).manual_seed(seed % 2**64)
        remaining = work.n_draws
        while remaining:
            size = min(PIECE, remaining)
            if filled + size > batch:
                consume(buffer[:filled], owner[:filled])
                filled = 0
            piece = buffer[filled : filled + size]
            piece.normal_(0.0, 1.0, generator=generator).add_(work.X[row])
            owner[filled : filled + size] = row
            filled += size
            remaining -= size
    consume(buffer[:filled], owner[:filled])


def counter_based(work: Workload, batch: int, consume: Consume) -> None:
    """Counter-based Philox noise for whole batches of (row, sample) pairs."""
    total = len(work.seeds) * work.n_draws
    for start in range(0, total, batch):
        flat = torch.arange(start, min(start + batch, total), device=work.device)
        rows, samples = flat // work.n_draws, flat % work.n_draws
        noisy = standard_normal(work.keys, rows, samples, N_FEATURES).add_(work.X[rows])
        consume(noisy, rows)


# ---------------------------------------------------------------- what the samples feed


def noise_only(noisy: torch.Tensor, rows: torch.Tensor) -> None:
    pass


class Votes:
    """Forward pass, argmax and (optionally) vote counts per row."""

    def __init__(self, module: torch.nn.Module, dtype: torch.dtype, n_rows: int, count: bool):
        self.module, self.dtype, self.n_rows, self.count = module, dtype, n_rows, count
        self.n_classes = 2
        device = next(module.parameters()).device
        self.counts = torch.zeros(n_rows * self.n_classes, dtype=torch.int64, device=device)

    def __call__(self, noisy: torch.Tensor, rows: torch.Tensor) -> None:
        with torch.inference_mode():
            predicted = self.module(noisy.to(self.dtype)).argmax(1)
            if self.count:
                flat = rows * self.n_classes + predicted
                self.counts += torch.bincount(flat, minlength=self.counts.numel())


def tiny_model(device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(N_FEATURES, 2).to(device)


def reference_mlp(device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(30, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256)]
    layers += [torch.nn.ReLU(), torch.nn.Linear(256, 2)]
    return torch.nn.Sequential(*layers).to(device=device, dtype=dtype)


# ---------------------------------------------------------------- measuring


def seconds(run: Callable[[], None], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - start


def operation_counts(run: Callable[[], None], device: torch.device) -> tuple[int, int | None]:
    """(aten operators, nested included; CUDA kernels or None) of one ``run()``."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profiler:
        run()
        synchronize(device)
    events = profiler.events()
    aten = sum(event.name.startswith("aten::") for event in events)
    if device.type != "cuda":
        return aten, None
    kernels = sum(event.device_type == torch.autograd.DeviceType.CUDA for event in events)
    return aten, kernels


def interleaved_medians(runs: dict, device: torch.device, repeats: int) -> dict:
    """Median seconds of each run, the runs taking turns (order reversed every other repeat)."""
    names = list(runs)
    for name in names:  # warm-up: allocator, kernels, caches
        runs[name]()
    times = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else reversed(names):
            times[name].append(seconds(runs[name], device))
    return {name: statistics.median(values) for name, values in times.items()}


@dataclass
class Engine:
    name: str
    batch: int
    draw: Callable  # per_row_generators or counter_based


def engines(args, device: torch.device) -> list[Engine]:
    found = [
        Engine("per-row generators (today)", args.batch, per_row_generators),
        Engine("counter-based Philox", args.batch, counter_based),
    ]
    if device.type == "cpu" and args.cpu_small_batch:
        found.append(Engine("counter-based Philox", args.cpu_small_batch, counter_based))
    return found


def measure_task(task: str, work: Workload, engine_list, make_consumer, args) -> list[dict]:
    """One table's rows: each engine's median time, operation counts and speed-up."""
    device = work.device
    consumers = {id(engine): make_consumer() for engine in engine_list}
    runs = {
        id(engine): (lambda e=engine: e.draw(work, e.batch, consumers[id(e)]))
        for engine in engine_list
    }
    medians = interleaved_medians(runs, device, args.repeats)
    baseline = medians[id(engine_list[0])]
    rows = []
    for engine in engine_list:
        aten, kernels = operation_counts(runs[id(engine)], device)
        median = medians[id(engine)]
        rows.append(
            {
                "task": task,
                "engine": engine.name,
                "batch": engine.batch,
                "median s": median,
                "Msamples/s": N_SAMPLES / median / 1e6,
                "aten ops/1e6": aten,
                "kernels/1e6": kernels,
                "speed-up": baseline / median,
            }
        )
    check_counter_counts_agree(consumers, engine_list)
    return rows


def check_counter_counts_agree(consumers: dict, engine_list) -> None:
    """The counter-based votes are bit-identical for every batch size: their counts agree."""
    counted = [
        consumers[id(e)].counts
        for e in engine_list
        if e.draw is counter_based and isinstance(consumers[id(e)], Votes)
    ]
    for counts in counted[1:]:
        if not torch.equal(counts, counted[0]):
            raise AssertionError("counter-based counts differ between batch sizes")


def print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    cells = [[format_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    print(flush=True)


def format_cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if value < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ---------------------------------------------------------------- tasks


def run_device(device: torch.device, args) -> None:
    print(f"== {device.type} ==")
    work = Workload.make(args.rows, device)
    engine_list = engines(args, device)
    table = measure_task("noise", work, engine_list, lambda: noise_only, args)
    model = tiny_model(device)
    table += measure_task(
        "Linear(30, 2) + argmax + bincount",
        work,
        engine_list,
        lambda: Votes(model, torch.float32, args.rows, count=True),
        args,
    )
    print_table(table)
    if device.type == "cuda":
        print_table(mlp_table(work, engine_list, args))


def mlp_table(work: Workload, engine_list, args) -> list[dict]:
    """The reference MLP: noisy evaluations per second against the bf16 roofline."""
    rows = []
    for label, dtype in (
        ("fp32", torch.float32),
        ("bf16", torch.bfloat16),
        ("fp16", torch.float16),
    ):
        module = reference_mlp(work.device, dtype)
        task = f"MLP 30-256-256-2 {label}"
        measured = measure_task(
            task, work, engine_list, lambda m=module, d=dtype: Votes(m, d, args.rows, False), args
        )
        for row in measured:
            evals = N_SAMPLES / row["median s"]
            row["evals/s"] = evals
            row["of roofline"] = evals / ROOFLINE_EVALS
            row["TFLOP/s"] = evals * FLOP_PER_SAMPLE / 1e12
        rows += measured
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--rows", type=int, default=100, help="rows sharing the 1e6 samples")
    parser.add_argument("--batch", type=int, default=100_000, help="samples per batch")
    parser.add_argument(
        "--cpu-small-batch",
        type=int,
        default=2000,
        help="a second, cache-sized batch for the counter-based engine on the CPU (0: none)",
    )
    args = parser.parse_args(argv)
    args.repeats = 3 if args.quick else 7
    if args.threads:
        torch.set_num_threads(args.threads)
    print(header(args), flush=True)
    # The profiler's own start-up message should not land inside a table.
    operation_counts(lambda: torch.zeros(1).add_(1), torch.device("cpu"))
    print()
    run_device(torch.device("cpu"), args)
    if torch.cuda.is_available():
        run_device(torch.device("cuda"), args)


if __name__ == "__main__":
    main()
