"""The ``venue`` command line: ``venue run``, ``venue bench ...``, ``venue replay ...``,
``venue reasons``, ``venue report balances``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_run(args: argparse.Namespace) -> int:
    print(
        "warming up the matching kernels (the first run on a machine compiles them, a few "
        "minutes; later runs start in about a second)",
        file=sys.stderr,
        flush=True,
    )
    if args.demo:
        from venue.demo import run_demo

        return run_demo(commands=args.commands, seed=args.seed)
    from venue.serve import serve

    return serve(bind=args.bind, duration=args.duration, config=args.config)


def _cmd_bench(args: argparse.Namespace) -> int:
    return int(args.bench_run(args))


def _cmd_replay(args: argparse.Namespace) -> int:
    from marketdata.history.replay import run_lobster_cli

    return run_lobster_cli(args.message_file, args.orderbook, args.levels, args.json)


def _cmd_reasons(args: argparse.Namespace) -> int:
    from matching.reasons import REASONS, stage

    for code, r in sorted(REASONS.items()):
        print(f"{code:>5}  {stage(code):<8} {r.name:<28} {r.meaning}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from venue.report import report_balances

    if args.state is None:
        print(
            "running the demo clearing session (the first run on a machine compiles the "
            "kernels, about two minutes)",
            file=sys.stderr,
            flush=True,
        )
    return report_balances(state=args.state, statements_dir=args.statements)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="venue",
        description="openvenue: a limit order book matching engine and exchange simulator.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="start a venue (embedded default without --config: loopback, demo accounts)",
    )
    run.add_argument(
        "--config",
        metavar="TOML",
        help="venue configuration file (docs/config.md); default: the embedded demo venue",
    )
    run.add_argument(
        "--bind",
        default=None,
        help="order-entry endpoint (default: the config's gateway.bind, else "
        "tcp://127.0.0.1:7001; non-loopback needs CURVE keys in the config)",
    )
    run.add_argument("--duration", type=float, default=0.0, help="stop after S seconds (0: never)")
    run.add_argument(
        "--demo", action="store_true", help="instead: run the in-process demo flow and exit"
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

    replay = bsub.add_parser(
        "replay", help="LOBSTER replay: engine vs nautilus_trader's book vs the reference book"
    )
    from bench import replay_bench

    replay_bench.add_arguments(replay)
    replay.set_defaults(func=_cmd_bench, bench_run=replay_bench.run)

    clearing = bsub.add_parser(
        "clearing", help="settlement fills/s and the risk -> match -> settle pipeline"
    )
    from bench import clearing_bench

    clearing_bench.add_arguments(clearing)
    clearing.set_defaults(func=_cmd_bench, bench_run=clearing_bench.run)

    replay = sub.add_parser("replay", help="replay historical data through the engine and check it")
    rsub = replay.add_subparsers(dest="source", required=True, metavar="SOURCE")
    lob = rsub.add_parser("lobster", help="a LOBSTER message file (and its order-book file)")
    lob.add_argument("message_file", help="LOBSTER message file (CSV, no header)")
    lob.add_argument("--orderbook", help="the aligned order-book file: seed and compare the book")
    lob.add_argument("--levels", type=int, default=5, help="levels per side to compare (5)")
    lob.add_argument("--json", action="store_true", help="end with the result as one JSON line")
    lob.set_defaults(func=_cmd_replay)

    loadtest = sub.add_parser(
        "loadtest", help="open-loop load on the order-entry gateway: acked/s, latency percentiles"
    )
    from gateway import loadtest as loadtest_mod

    loadtest_mod.add_arguments(loadtest)
    loadtest.set_defaults(func=_cmd_bench, bench_run=loadtest_mod.run)

    from venue import admin_cli

    admin_cli.add_parser(sub)

    reasons = sub.add_parser("reasons", help="list every reject and cancel reason code")
    reasons.set_defaults(func=_cmd_reasons)

    report = sub.add_parser("report", help="clearing reports: totals, balances, statements")
    rpsub = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    bal = rpsub.add_parser(
        "balances", help="totals, balances and net settlement (of a demo session or a ledger)"
    )
    bal.add_argument(
        "--state", metavar="DIR", help="a saved ledger: DIR/ledger.npy and DIR/assets.json"
    )
    bal.add_argument(
        "--statements", metavar="OUT_DIR", help="also write per-account CSV and JSON statements"
    )
    bal.set_defaults(func=_cmd_report)
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
