"""Command line: ``python -m sksmooth demo [options]``."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ._demo.categorical import RADIUS as CATEGORICAL_RADIUS
from ._demo.per_column import FRAUDSTER_COLUMNS, PER_COLUMN_RADII, PER_COLUMN_SIGMA

DEMO_HELP = (
    "train an undefended MLP, each gradient-masking defence and smoothed models on built-in "
    "fraud data; attack them all (plain PGD, then the worst case per row over an "
    "AttackEnsemble), certify the smoothed ones; then one more smoothed model "
    f"with noise (sigma {PER_COLUMN_SIGMA:g} standard deviations, whatever --sigma says) only "
    f"on the columns a fraudster controls ({', '.join(FRAUDSTER_COLUMNS)}), its certified "
    "fraud recall at unitless radii R = "
    f"{', '.join(f'{r:g}' for r in PER_COLUMN_RADII)} of ||delta / sigma||_2 and its "
    "certificates in each column's own units; and a smoothed model that keeps the "
    "categories as categories, its certified fraud recall with 0, 1 and 2 categories "
    f"switched at radius {CATEGORICAL_RADIUS:g}, next to the one-hot model's; print the table "
    "and save it (CSV) with a figure (PNG, SVG)"
)


def _at_least(minimum: int):
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _finite(*, positive: bool):
    """An argparse type: a finite number, > 0 if ``positive`` else >= 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            bound = "> 0" if positive else ">= 0"
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sksmooth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help=DEMO_HELP,
        description=DEMO_HELP[0].upper() + DEMO_HELP[1:] + ".",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument(
        "--output-dir",
        type=Path,
        default=Path("sksmooth-demo"),
        help="folder for the table and the figure (created if missing)",
    )
    demo.add_argument(
        "--n-samples", type=_at_least(200), default=20_000, help="rows of make_fraud data"
    )
    demo.add_argument(
        "--n-eval",
        "--n-certify",
        dest="n_eval",
        type=_at_least(2),
        default=200,
        help="test rows (half fraud) attacked and certified",
    )
    demo.add_argument(
        "--n", type=_at_least(1), default=10_000, help="Monte Carlo samples per certificate"
    )
    demo.add_argument(
        "--sigma",
        type=_finite(positive=True),
        nargs="+",
        default=[0.25, 0.5],
        help="noise level of each smoothed model",
    )
    demo.add_argument(
        "--eps", type=_finite(positive=True), default=1.0, help="L2 budget of every attack"
    )
    demo.add_argument(
        "--radii",
        type=_finite(positive=False),
        nargs="+",
        default=[0.25, 0.5, 1.0],
        help="L2 radii of the certified accuracy columns (models with one sigma)",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.output_dir.exists() and not args.output_dir.is_dir():
            parser.error(f"--output-dir {args.output_dir} exists and is not a folder")
        if len(set(args.sigma)) < len(args.sigma):
            parser.error("--sigma values must differ")
        from ._demo.run import run_demo

        run_demo(
            n_samples=args.n_samples,
            n_eval=args.n_eval,
            n=args.n,
            sigmas=args.sigma,
            eps=args.eps,
            radii=sorted(set(args.radii)),
            random_state=args.seed,
            output_dir=args.output_dir,
            verbose=0 if args.quiet else 1,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
