"""The ``venue`` command line: ``venue run``, ``venue bench ...``, ``venue reasons``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_run(args: argparse.Namespace) -> int:
    from venue.demo import run_demo

    print(
        "warming up the matching kernels (the first run on a machine compiles them, about two "
        "minutes; later runs start in about a second)",
        file=sys.stderr,
        flush=True,
    )
    return run_demo(commands=args.commands, seed=args.seed)


def _cmd_bench(args: argparse.Namespace) -> int:
    return int(args.bench_run(args))


def _cmd_reasons(args: argparse.Namespace) -> int:
    from matching.reasons import REASONS, stage

    for code, r in sorted(REASONS.items()):
        print(f"{code:>5}  {stage(code):<8} {r.name:<28} {r.meaning}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="venue",
        description="openvenue: a limit order book matching engine and exchange simulator.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="start a venue on the embedded default (for now: the in-process engine demo)",
    )
    run.add_argument("--commands", type=int, default=20_000, help="demo order-flow length")
    run.add_argument("--seed", type=int, default=7, help="seed of the demo order flow")
    run.set_defaults(func=_cmd_run)

    bench = sub.add_parser("bench", help="benchmarks (results in bench/results/)")
    bsub = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    engine = bsub.add_parser("engine", help="matching engine throughput and latency")
    from bench import engine_bench

    engine_bench.add_arguments(engine)
    engine.set_defaults(func=_cmd_bench, bench_run=engine_bench.run)

    startup = bsub.add_parser("startup", help="start-up time of an engine with many instruments")
    from bench import startup_bench

    startup_bench.add_arguments(startup)
    startup.set_defaults(func=_cmd_bench, bench_run=startup_bench.run)

    reasons = sub.add_parser("reasons", help="list every reject and cancel reason code")
    reasons.set_defaults(func=_cmd_reasons)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``venue`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
