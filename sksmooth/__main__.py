"""Command line: ``python -m sksmooth demo [options]``."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sksmooth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="train and certify a smoothed fraud model on built-in data"
    )
    demo.add_argument("--n-samples", type=int, default=20_000, help="rows of make_fraud data")
    demo.add_argument("--n-certify", type=int, default=500, help="random test rows to certify")
    demo.add_argument("--n", type=int, default=10_000, help="Monte Carlo samples per certificate")
    demo.add_argument("--sigma", type=float, default=0.25, help="noise level")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        least = {"n_samples": 100, "n_certify": 1, "n": 1}
        for name, minimum in least.items():
            if getattr(args, name) < minimum:
                parser.error(f"--{name.replace('_', '-')} must be at least {minimum}")
        if not args.sigma > 0:
            parser.error("--sigma must be positive")
        run_demo(
            n_samples=args.n_samples,
            n_certify=args.n_certify,
            n=args.n,
            sigma=args.sigma,
            random_state=args.seed,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
