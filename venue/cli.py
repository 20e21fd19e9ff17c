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
    from venue.live import LiveOptions
    from venue.serve import serve

    if args.spin_us is not None and not 0 <= args.spin_us <= 1_000_000:
        print(f"venue run: --spin-us must be 0..1000000, not {args.spin_us}", file=sys.stderr)
        return 2
    if args.speed <= 0:
        print(f"venue run: --speed must be above zero, not {args.speed}", file=sys.stderr)
        return 2

    return serve(
        bind=args.bind,
        duration=args.duration,
        config=args.config,
        data_dir=args.data_dir,
        replicate=args.replicate,
        standby_of=args.standby_of,
        fsync=args.fsync,
        spin_us=args.spin_us,
        live=LiveOptions(
            market=args.market,
            replay_l3=args.replay_l3,
            replay_orderbook=args.replay_orderbook,
            replay_speed=args.speed,
            admin_bind=None if args.no_admin else args.admin_bind,
        ),
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    return int(args.bench_run(args))


def _cmd_replay(args: argparse.Namespace) -> int:
    from marketdata.history.replay import run_lobster_cli

    return run_lobster_cli(args.message_file, args.orderbook, args.levels, args.json)


def _cmd_replay_feed(args: argparse.Namespace) -> int:
    from marketdata.replay import run_replay_feed_cli

    speed = None if args.as_fast_as_possible else args.speed
    return run_replay_feed_cli(args.dir, args.feed, args.snapshot, speed, args.hold)


def _cmd_record(args: argparse.Namespace) -> int:
    from marketdata.record import run_record_cli

    snap = args.snapshot
    if snap is None:  # venue run puts snapshots right after the feed's port
        host, _, port = args.endpoint.rpartition(":")
        snap = f"{host}:{int(port) + 1}" if port.isdigit() else args.endpoint
    return run_record_cli(args.endpoint, snap, args.out, args.duration)


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
        "--data-dir",
        metavar="DIR",
        help="journal and snapshots, recovered at start (default: the config's data_dir, else "
        "var/venue-data in the repository; docs/durability.md)",
    )
    run.add_argument(
        "--replicate",
        metavar="ENDPOINT",
        help="hot standby: bind ENDPOINT for the standby, wait for it, and acknowledge only what "
        "it has (docs/durability.md)",
    )
    run.add_argument(
        "--standby-of",
        metavar="ENDPOINT",
        help="run as the hot standby of the primary's --replicate ENDPOINT; take over when it "
        "goes silent or on `venue promote DIR`",
    )
    from venue import live as live_mod

    run.add_argument(
        "--market",
        choices=live_mod.MARKETS,
        default="quiet",
        help="lively: background agents (makers, noise, momentum, mean reversion, informed) "
        "trade every spot and perpetual (docs/live-market.md)",
    )
    run.add_argument(
        "--replay-l3",
        metavar="FILE",
        help="feed a LOBSTER message file's order flow into the venue at recorded speed",
    )
    run.add_argument("--replay-orderbook", metavar="FILE", help="its order-book file (seeds it)")
    run.add_argument(
        "--speed", type=float, default=1.0, help="--replay-l3 speed: a multiple of recorded time"
    )
    run.add_argument(
        "--admin-bind",
        default="auto",
        metavar="ENDPOINT",
        help="the operator's admin socket (loopback only; default: the order-entry port + 3, "
        "tcp://127.0.0.1:7004 for the embedded default)",
    )
    run.add_argument("--no-admin", action="store_true", help="no admin socket")
    run.add_argument(
        "--fsync",
        choices=("durable", "interval", "none"),
        help="journal fsync policy, over the config's [journal] fsync (default durable: "
        "docs/durability.md says what each risks)",
    )
    run.add_argument(
        "--spin-us",
        type=int,
        metavar="US",
        help="busy-poll US microseconds after traffic before sleeping (default 500; 0 frees the "
        "core between messages at the cost of a thread wakeup per message: docs/config.md)",
    )
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

    gwb = bsub.add_parser("gateway", help="venue-side cost of an order-entry message")
    from bench import gateway_bench

    gateway_bench.add_arguments(gwb)
    gwb.set_defaults(func=_cmd_bench, bench_run=gateway_bench.run)

    mdb = bsub.add_parser("marketdata", help="feed updates/s and latency, in two processes")
    from bench import marketdata_bench

    marketdata_bench.add_arguments(mdb)
    mdb.set_defaults(func=_cmd_bench, bench_run=marketdata_bench.run)

    bbt = bsub.add_parser("backtest", help="backtest events/s (numba, Python) vs hftbacktest")
    from bench import backtest_bench

    backtest_bench.add_arguments(bbt)
    bbt.set_defaults(func=_cmd_bench, bench_run=backtest_bench.run)

    from backtest import cli as backtest_cli

    backtest_cli.add_parser(sub)

    jb = bsub.add_parser("journal", help="journal writes/s by fsync policy, recovery cmds/s")
    from bench import journal_bench

    journal_bench.add_arguments(jb)
    jb.set_defaults(func=_cmd_bench, bench_run=journal_bench.run)

    from journal import cli as journal_cli

    jp = sub.add_parser("journal", help="inspect or verify a venue's journal and snapshots")
    journal_cli.add_journal_arguments(jp)
    promote = sub.add_parser("promote", help="tell the hot standby running on DIR to take over")
    promote.add_argument("dir", help="the standby's data directory")
    promote.set_defaults(func=journal_cli.run_promote)

    replay = sub.add_parser("replay", help="replay historical data through the engine and check it")
    rsub = replay.add_subparsers(dest="source", required=True, metavar="SOURCE")
    jr = rsub.add_parser(
        "journal", help="a venue's journal from its initial state: reproduce its logged hashes"
    )
    journal_cli.add_replay_arguments(jr)
    lob = rsub.add_parser("lobster", help="a LOBSTER message file (and its order-book file)")
    lob.add_argument("message_file", help="LOBSTER message file (CSV, no header)")
    lob.add_argument("--orderbook", help="the aligned order-book file: seed and compare the book")
    lob.add_argument("--levels", type=int, default=5, help="levels per side to compare (5)")
    lob.add_argument("--json", action="store_true", help="end with the result as one JSON line")
    lob.set_defaults(func=_cmd_replay)

    mdf = rsub.add_parser("feed", help="republish a recorded market-data feed on a bus")
    mdf.add_argument("dir", help="a recording (venue record --out DIR)")
    mdf.add_argument("--speed", type=float, default=1.0, help="x the recorded pace (1)")
    mdf.add_argument("--as-fast-as-possible", action="store_true", help="no pacing")
    mdf.add_argument("--feed", default="tcp://127.0.0.1:*", help="XPUB endpoint (random port)")
    mdf.add_argument("--snapshot", default="tcp://127.0.0.1:*", help="snapshot ROUTER endpoint")
    mdf.add_argument("--hold", type=float, default=0.0, help="serve snapshots S s after the end")
    mdf.set_defaults(func=_cmd_replay_feed)
    rec = sub.add_parser("record", help="record a market-data feed to a directory")
    rec.add_argument("--endpoint", required=True, help="the feed (XPUB) endpoint")
    rec.add_argument("--snapshot", help="snapshot endpoint (default: the feed's port + 1)")
    rec.add_argument("--out", required=True, metavar="DIR", help="a new directory")
    rec.add_argument("--duration", type=float, default=0.0, help="stop after S s (0: Ctrl-C)")
    rec.set_defaults(func=_cmd_record)

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
