"""``venue bench clearing``: settlement throughput and the full risk -> match -> settle pipeline.

Two measurements, each best of ``--repeat`` passes on fresh state (numba warmed up first):

- ``fills_per_s``: the settlement stage alone (``clearing.pipeline_nb.settle_range_nb``) over the
  recorded events of a fill-heavy stream on a perpetual: 1,000 resting asks from 1,000 accounts,
  then ``--fills`` IOC buys of 1..10 lots from random accounts, each filling against the head
  ask (events per fill: ACCEPTED, FILL, LEVEL). Settlement moves cash, fees, positions,
  realised PnL and margin, and releases holds; ``fills_spot_per_s`` is the same on a spot pair.
- ``pipeline_cmds_per_s``: exchange-core's mix (``bench/workloads.py``, one instrument, ~1,000
  resting orders over ~750 levels, 1,000 accounts) through ``Exchange.process_into`` in batches
  of ``--batch``, every account funded: each command risk-checked, matched and settled. The
  headline runs on a spot pair (exchange-core's "currency exchange" symbol);
  ``pipeline_perp_cmds_per_s`` on the same stream as a perpetual. The bare engine's rate on the
  same stream is measured in the same run for comparison (``engine_cmds_per_s``).

Percentiles are of the per-batch mean ns per command. It prints a summary, then with ``--json``
one JSON object as the last line, and unless ``--no-write`` writes
``bench/results/clearing.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from bench import sysinfo
from bench.sysinfo import publish
from bench.workloads import CACHE_DIR, exchange_core
from clearing.config import Asset, ClearingConfig, RiskParams
from clearing.exchange import Exchange
from clearing.pipeline_nb import settle_events_desc_nb
from clearing.state import grow_holds
from matching.engine import Engine
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_NEW,
    COMMAND_DTYPE,
    EV_FILL,
    EVENT_DTYPE,
    GTC,
    IOC,
    LIMIT,
    SELL,
)
from matching.tables_nb import rehash_nb

TARGET_FILLS = 2_000_000
TARGET_PIPELINE = 3_000_000
ACCOUNTS = 1000
ASSETS = (Asset("USD", 6), Asset("XCR", 0))
CONFIG = ClearingConfig(assets=ASSETS, default=RiskParams(maker_fee_ppm=-100, taker_fee_ppm=500))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--commands",
        type=int,
        default=2_000_000,
        metavar="N",
        help="exchange-core commands through the pipeline (2,000,000)",
    )
    parser.add_argument(
        "--fills",
        type=int,
        default=1_000_000,
        metavar="F",
        help="fills through the settlement stage (1,000,000)",
    )
    parser.add_argument("--batch", type=int, default=4096, metavar="B")
    parser.add_argument("--repeat", type=int, default=5, metavar="R")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def instrument(kind: str) -> Instrument:
    """exchange-core's instrument as a spot pair XCR/USD or a perpetual settled in USD."""
    return Instrument(
        id=0, symbol="XCORE" if kind == "spot" else "XCORE-PERP", kind=kind,
        tick_size=Decimal("0.01"), lot_size=Decimal(1), ref_price_ticks=100_000,
        base_asset="XCR", quote_asset="USD", settlement_asset="USD",
    )  # fmt: skip


def funded(kind: str, capacity: int = 4096) -> Exchange:
    """An Exchange on one instrument with every account 1..ACCOUNTS funded in USD and XCR."""
    ex = Exchange([instrument(kind)], CONFIG, capacity=capacity, keep_ledger=False,
                  event_capacity=1 << 16, ledger_capacity=1 << 18)  # fmt: skip
    for a in range(1, ACCOUNTS + 1):
        ex.deposit(a, 0, 10**15, a)
        ex.deposit(a, 1, 10**12, ACCOUNTS + a)
    while len(ex.cs.holds) < 8192:
        ex._set_clear(grow_holds(ex.cs, rehash_nb))
    return ex


def _pcts(v: np.ndarray) -> tuple[float, float, float]:
    p = np.percentile(v, [50, 99, 99.9])
    return float(p[0]), float(p[1]), float(p[2])


def fill_stream(n: int, seed: int) -> np.ndarray:
    """1,000 big resting asks, then ``n`` IOC buys that each fill against the head ask."""
    rng = np.random.default_rng(seed)
    cmds = np.zeros(ACCOUNTS + n, dtype=COMMAND_DTYPE)
    cmds["kind"] = CMD_NEW
    cmds["order_type"] = LIMIT
    cmds["price_ticks"] = 100_000
    cmds[:ACCOUNTS]["account"] = np.arange(1, ACCOUNTS + 1)
    cmds[:ACCOUNTS]["side"] = SELL
    cmds[:ACCOUNTS]["tif"] = GTC
    cmds[:ACCOUNTS]["qty_lots"] = 10**9
    cmds[ACCOUNTS:]["account"] = rng.integers(1, ACCOUNTS + 1, n)
    cmds[ACCOUNTS:]["side"] = BUY
    cmds[ACCOUNTS:]["tif"] = IOC
    cmds[ACCOUNTS:]["qty_lots"] = rng.integers(1, 11, n)
    cmds["seq"] = np.arange(1, len(cmds) + 1)
    cmds["order_id"] = np.arange(1, len(cmds) + 1)
    return cmds


def measure_settle(kind: str, cmds: np.ndarray) -> dict[str, Any]:
    """Events of ``cmds`` from the bare engine, then settled alone on a funded Exchange."""
    eng = Engine([instrument(kind)], capacity=4096)
    events = np.zeros(4 * len(cmds) + 64, dtype=EVENT_DTYPE)
    n, events = eng.process_into(cmds, events)
    fills = int((events[:n]["kind"] == EV_FILL).sum())
    ex = funded(kind)
    ex.ensure_ledger(6 * n)
    ex.engine._point_descriptor(events)
    t = time.perf_counter_ns()
    settle_events_desc_nb(ex.engine._desc, ex._cdesc, 0, n)
    dt = (time.perf_counter_ns() - t) / 1e9
    ex.engine._point_descriptor(ex.engine._ev)
    return {"fills": fills, "events": n, "seconds": dt, "fills_per_s": fills / dt}


def measure_pipeline(kind: str, w: Any, batch: int) -> dict[str, Any]:
    ex = funded(kind, capacity=w.capacity)
    ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    for s in range(0, len(w.prefill), batch):
        _n, ev, _nl, _l = ex.process_into(w.prefill[s : s + batch], ev)
    cmds = w.commands
    nb = (len(cmds) + batch - 1) // batch
    per = np.zeros(nb)
    clock = time.perf_counter_ns
    rejects = 0
    t0 = clock()
    for b in range(nb):
        chunk = cmds[b * batch : (b + 1) * batch]
        tb = clock()
        k, ev, _nl, _l = ex.process_into(chunk, ev)
        per[b] = (clock() - tb) / len(chunk)
        rejects += int((ev[:k]["kind"] == 2).sum())
    dt = (clock() - t0) / 1e9
    ex.check_invariants()
    p50, p99, p999 = _pcts(per)
    return {"cmds_per_s": len(cmds) / dt, "seconds": dt, "p50_ns": p50, "p99_ns": p99,
            "p999_ns": p999, "rejects": rejects}  # fmt: skip


def measure_engine(w: Any, batch: int) -> float:
    eng = Engine([instrument("spot")], capacity=w.capacity)
    ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    for s in range(0, len(w.prefill), batch):
        _n, ev = eng.process_into(w.prefill[s : s + batch], ev)
    t = time.perf_counter_ns()
    for s in range(0, len(w.commands), batch):
        _n, ev = eng.process_into(w.commands[s : s + batch], ev)
    return len(w.commands) / ((time.perf_counter_ns() - t) / 1e9)


def _best(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    best = dict(max(runs, key=lambda r: r[key]))
    rates = sorted(r[key] for r in runs)
    best[key + "_median"] = rates[len(rates) // 2]
    return best


def run(args: argparse.Namespace) -> int:
    if args.commands < 1 or args.fills < 1 or args.batch < 1 or args.repeat < 1:
        print(
            "bench clearing: --commands, --fills, --batch, --repeat must be >= 1", file=sys.stderr
        )
        return 2
    _log("warming up numba kernels (the first run compiles them, a few minutes)")
    small = exchange_core(5_000, seed=12345, cache_dir=None)
    for kind in ("spot", "perpetual"):
        measure_pipeline(kind, small, args.batch)
        measure_settle(kind, fill_stream(2_000, 99))
    measure_engine(small, args.batch)
    _log(f"generating exchange-core n={args.commands:,} and {args.fills:,} fills")
    w = exchange_core(args.commands, seed=args.seed, cache_dir=CACHE_DIR)
    fs = fill_stream(args.fills, args.seed)
    r: dict[str, Any] = {"commands": args.commands, "batch": args.batch, "accounts": ACCOUNTS,
                         "repeat": args.repeat, "seed": args.seed}  # fmt: skip
    _log("timing settlement alone")
    perp = _best([measure_settle("perpetual", fs) for _ in range(args.repeat)], "fills_per_s")
    spot = _best([measure_settle("spot", fs) for _ in range(args.repeat)], "fills_per_s")
    r.update(
        fills=perp["fills"],
        fills_per_s=perp["fills_per_s"],
        fills_per_s_median=perp["fills_per_s_median"],
        fills_spot_per_s=spot["fills_per_s"],
    )
    _log("timing the pipeline")
    p = _best([measure_pipeline("spot", w, args.batch) for _ in range(args.repeat)], "cmds_per_s")
    q = _best([measure_pipeline("perpetual", w, args.batch) for _ in range(args.repeat)],
              "cmds_per_s")  # fmt: skip
    e = sorted(measure_engine(w, args.batch) for _ in range(args.repeat))
    r.update(
        pipeline_cmds_per_s=p["cmds_per_s"], pipeline_cmds_per_s_median=p["cmds_per_s_median"],
        p50_ns=p["p50_ns"], p99_ns=p["p99_ns"], p999_ns=p["p999_ns"], risk_rejects=p["rejects"],
        pipeline_perp_cmds_per_s=q["cmds_per_s"], pipeline_perp_p99_ns=q["p99_ns"],
        engine_cmds_per_s=e[-1], trade_fraction=w.properties.get("trade_fraction"),
    )  # fmt: skip
    r["targets"] = {
        "fills_per_s": {"target": TARGET_FILLS, "met": r["fills_per_s"] >= TARGET_FILLS},
        "pipeline_cmds_per_s": {"target": TARGET_PIPELINE,
                                "met": r["pipeline_cmds_per_s"] >= TARGET_PIPELINE},
    }  # fmt: skip
    r["machine"] = sysinfo.machine_info()
    r["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    r["command"] = "venue bench clearing " + " ".join(sys.argv[3:] if len(sys.argv) > 3 else [])
    print(
        f"clearing: settle {r['fills_per_s']:,.0f} fills/s (perpetual; spot "
        f"{r['fills_spot_per_s']:,.0f}; target {TARGET_FILLS:,}); pipeline "
        f"{r['pipeline_cmds_per_s']:,.0f} cmds/s on exchange-core with {ACCOUNTS:,} funded "
        f"accounts (median {r['pipeline_cmds_per_s_median']:,.0f}; target {TARGET_PIPELINE:,})"
    )
    print(
        f"  per batch of {args.batch}: p50 {r['p50_ns']:.0f} ns/cmd, p99 {r['p99_ns']:.0f}, "
        f"p99.9 {r['p999_ns']:.0f}; perpetual {r['pipeline_perp_cmds_per_s']:,.0f} cmds/s; "
        f"bare engine {r['engine_cmds_per_s']:,.0f} cmds/s in the same run"
    )
    publish(r, "clearing", write=not args.no_write, as_json=args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="venue bench clearing", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
