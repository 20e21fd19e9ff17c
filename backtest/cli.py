"""``venue backtest run`` and ``venue backtest sweep`` (registered by ``add_parser``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for it in items:
        k, eq, v = it.partition("=")
        if not eq or not k:
            raise ValueError(f"{what} {it!r}: expected NAME=VALUE")
        out.append((k, v))
    return out


def _common(p: argparse.ArgumentParser) -> None:
    # (no backtest import here: building the parser must stay cheap for every venue command)
    p.add_argument(
        "--data", default="lobster",
        help="dataset (lobster, lobster10, binance-usdm, binance-spot), a feed recording "
        "DIR@SYMBOL (venue record; its L3 channel), or a file: *.gz Binance capture, else a "
        "LOBSTER message file (default: lobster, the one-hour AAPL file)",
    )  # fmt: skip
    p.add_argument("--orderbook", help="LOBSTER order-book file aligned with --data")
    p.add_argument(
        "--strategy", default=None,
        help="FILE.py:Class or module:Class (default: examples/backtest_market_maker.py)",
    )  # fmt: skip
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="strategy parameter (ctx.params), repeatable")  # fmt: skip
    p.add_argument("--entry-latency", default="0", help="e.g. 50us, uniform:20us:80us, "
                   "lognormal:40us:0.5:10us, file:lat.csv (columns ts_ns,latency_ns)")  # fmt: skip
    p.add_argument("--feed-latency", default="0", help="market-data latency (same forms)")
    p.add_argument("--response-latency", default=None, help="default: the entry latency")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--queue-model", default="conservative",
                   help="L2: conservative, prob[:power:N] or prob:log")  # fmt: skip
    p.add_argument("--maker-fee-ppm", type=int, default=200)
    p.add_argument("--taker-fee-ppm", type=int, default=500)
    p.add_argument("--cash", default="1000000", help="quote / settlement asset to start with")
    p.add_argument("--base", default="0", help="base asset to start with (spot)")
    p.add_argument("--book-depth", type=int, default=1, help="levels shown to ctx.book()")
    p.add_argument("--timer", default="0", help="on_timer period, e.g. 1s (0: none)")
    p.add_argument("--max-events", type=int, default=0, help="replay only the first N events")


def _spec(args: argparse.Namespace, progress: bool) -> Any:
    from backtest.sweep import DEFAULT_STRATEGY, RunSpec

    params = tuple((k, _value(v)) for k, v in _pairs(args.param, "--param"))
    return RunSpec(
        data=args.data, orderbook=args.orderbook, strategy=args.strategy or DEFAULT_STRATEGY,
        params=params, entry_latency=args.entry_latency, feed_latency=args.feed_latency,
        response_latency=args.response_latency, seed=args.seed, queue_model=args.queue_model,
        maker_fee_ppm=args.maker_fee_ppm, taker_fee_ppm=args.taker_fee_ppm, cash=args.cash,
        base=args.base, book_depth=args.book_depth, timer=args.timer,
        max_events=args.max_events, progress=progress,
    )  # fmt: skip


def _cmd_run(args: argparse.Namespace) -> int:
    from backtest.sweep import run_spec

    try:
        spec = _spec(args, progress=not args.no_progress)
        bt = run_spec(spec)
    except (OSError, ValueError) as e:
        print(f"venue backtest run: {e}", file=sys.stderr)
        return 2
    res = bt.res
    print(res.summary())
    if args.out:
        for p in res.write(args.out, args.format):
            print(f"wrote {p}")
    if args.report:
        print(f"wrote {res.report(args.report)}")
    if args.json:
        print(json.dumps(res.metrics, sort_keys=True))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from backtest.sweep import grid_points, sweep, write_table

    try:
        spec = _spec(args, progress=False)
        grid = {k: [_value(x) for x in v.split(",")] for k, v in _pairs(args.grid, "--grid")}
        if not grid:
            raise ValueError("give at least one --grid NAME=V1,V2,...")
        n = len(grid_points(grid))
        where = f"Ray at {args.ray}" if args.ray else f"{args.workers} local processes"
        print(f"sweep: {n} backtests on {where}", file=sys.stderr, flush=True)
        rows = sweep(spec, grid, workers=args.workers, ray_address=args.ray)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"venue backtest sweep: {e}", file=sys.stderr)
        return 2
    keys = [*grid, "pnl", "return", "sharpe", "max_drawdown", "fills", "fill_ratio", "fees"]
    print("  ".join(f"{k:>12}" for k in keys))
    for r in rows:
        print("  ".join(f"{r.get(k, ''):>12.6g}" if isinstance(r.get(k), float)
                        else f"{r.get(k, '')!s:>12}" for k in keys))  # fmt: skip
    if args.out:
        print(f"wrote {write_table(rows, args.out)}")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``backtest run`` / ``backtest sweep`` on the ``venue`` subcommands."""
    bt = sub.add_parser(
        "backtest", help="backtest a strategy on historical data (docs/backtest.md)"
    )
    bsub = bt.add_subparsers(dest="backtest", required=True, metavar="ACTION")
    run = bsub.add_parser("run", help="one backtest: summary, tables, HTML report")
    _common(run)
    run.add_argument("--out", help="write fills, orders, equity and summary.json here")
    run.add_argument("--format", default="csv", choices=["csv", "parquet"])
    run.add_argument("--report", metavar="HTML", help="write an HTML report with plots")
    run.add_argument("--json", action="store_true", help="end with the metrics as JSON")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)
    sw = bsub.add_parser("sweep", help="a parameter grid, in parallel; one results table")
    _common(sw)
    sw.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                    help="strategy parameter values to sweep, repeatable")  # fmt: skip
    sw.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    sw.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster ('local': start one)")
    sw.add_argument("--out", help="write the results table (CSV) here")
    sw.set_defaults(func=_cmd_sweep)
