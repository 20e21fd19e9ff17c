"""``venue bench backtest``: backtest throughput, and hftbacktest on the same capture.

Workloads (each run on a fresh backtest; the data is prepared once, untimed):

- **L3, Python strategy** (``python_events_per_s``): the LOBSTER one-hour AAPL file
  (89,712 market events: the messages that touch the visible book) replayed order by order
  through the exchange (risk, matching, settlement) with the example market maker
  (``examples/backtest_market_maker.py``, Python callbacks on every event), 50 us entry and
  feed latency.
- **L3, numba strategy** (``events_per_s``): the same hour and latencies with the same
  market maker written as an ``@njit`` function (``examples/backtest_numba_mm.py``), the
  whole loop in one kernel (``backtest.fast``); it gives the Python run's fills exactly
  (checked here: ``numba_fills_match_python``). A warm-up run on the first 2,000 events
  compiles the loop first (numba cannot cache a kernel that takes a function argument).
- **L2, Binance USD-M BTCUSDT** (``l2_events_per_s``): the capture's 27,856 market events
  (6,547 depth diffs and 21,309 trades after the snapshot) with the same market maker,
  probabilistic queue model (power 3), 50 us latencies; and the same market maker in
  hftbacktest (``hftbacktest_events_per_s``: its numba loop over ``wait_next_feed``, power-3
  probabilistic queue model, the same constant latencies, the capture converted by its own
  ``binancefutures.convert``). Both count the same thing: capture messages (depth diffs and
  trades) per second of the replay; hftbacktest's own rows (one per price level) are
  reported besides. hftbacktest is the optional ``bench`` extra: when it cannot be imported
  its figure is null and the reason is printed.

Each figure is the median of ``--runs`` timed runs (the best and all runs besides); events
per second = events / wall time of the run, strategy included, setup excluded. Writes
``bench/results/backtest.json`` unless ``--no-write``; ``--json`` prints it as the last line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import sysinfo
from bench.sysinfo import publish

ROOT = Path(__file__).resolve().parent.parent
LAT_NS = 50_000
MM: dict[str, Any] = {"size": 10, "half_spread": 10, "skew": 0.2, "max_pos": 100}  # L2 MM


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=3, help="timed runs per workload (median)")
    p.add_argument("--max-events", type=int, default=0, help="only the first N events (tests)")
    p.add_argument("--no-hftbacktest", action="store_true", help="skip the hftbacktest run")
    p.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    p.add_argument("--no-write", action="store_true", help="do not write the results JSON")


def _timed(fn: Any, runs: int) -> dict[str, Any]:
    rates = []
    extra: dict[str, Any] = {}
    for _ in range(runs):
        n, dt, extra = fn()
        rates.append(n / dt)
    return {
        "events": n,
        "median": round(statistics.median(rates)),
        "best": round(max(rates)),
        "runs": [round(r) for r in rates],
        **extra,
    }


def l3_python(max_events: int, runs: int) -> dict[str, Any]:
    from backtest import Backtest, BacktestConfig, Constant
    from backtest.sweep import load_history, load_strategy

    hist = load_history("lobster", None, max_events)
    mm: Any = load_strategy(str(ROOT / "examples/backtest_market_maker.py") + ":MarketMaker")

    def once() -> tuple[int, float, dict[str, Any]]:
        lat = Constant(LAT_NS)
        cfg = BacktestConfig(entry_latency=lat, feed_latency=lat, base=Decimal(10_000),
                             maker_fee_ppm=-20, taker_fee_ppm=30)  # fmt: skip
        bt = Backtest(hist, mm(), cfg)
        t = time.perf_counter()
        bt.run()
        dt = time.perf_counter() - t
        fills.append([f[:9] for f in bt.res.fills])  # all but the decision mid
        return hist.packets, dt, {"n_fills": bt.res.metrics["fills"]}

    fills: list[list[tuple[Any, ...]]] = []
    out = _timed(once, runs)
    out["fills"] = fills[-1]
    return out


def l3_numba(max_events: int, runs: int, python_fills: list[Any] | None) -> dict[str, Any]:
    import importlib.util

    from backtest import BacktestConfig, Constant
    from backtest.fast import run_numba
    from backtest.sweep import load_history

    path = ROOT / "examples/backtest_numba_mm.py"
    spec = importlib.util.spec_from_file_location("_bench_numba_mm", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    hist = load_history("lobster", None, max_events)

    def cfg() -> Any:
        lat = Constant(LAT_NS)
        return BacktestConfig(entry_latency=lat, feed_latency=lat, base=Decimal(10_000),
                              maker_fee_ppm=-20, taker_fee_ppm=30)  # fmt: skip

    run_numba(hist.head(2_000), mod.mm_nb, mod.new_state(), cfg())  # compiles
    last: list[list[tuple[Any, ...]]] = []

    def once() -> tuple[int, float, dict[str, Any]]:
        res = run_numba(hist, mod.mm_nb, mod.new_state(), cfg())
        last.append([f[:9] for f in res.fills])  # the numba path records no decision mid
        return hist.packets, res.wall_s, {"n_fills": res.metrics["fills"]}

    out = _timed(once, runs)
    out["numba_fills_match_python"] = python_fills is not None and last[-1] == python_fills
    return out


def l2_python(max_events: int, runs: int) -> dict[str, Any]:
    from backtest import Backtest, BacktestConfig, Constant
    from backtest.sweep import load_history, load_strategy

    hist = load_history("binance-usdm", None, max_events)
    mm: Any = load_strategy(str(ROOT / "examples/backtest_market_maker.py") + ":MarketMaker")

    def once() -> tuple[int, float, dict[str, Any]]:
        lat = Constant(LAT_NS)
        cfg = BacktestConfig(entry_latency=lat, feed_latency=lat, queue_model="prob:power:3",
                             cash=Decimal(100_000), params=dict(MM))  # fmt: skip
        bt = Backtest(hist, mm(tick_round=1), cfg)
        t = time.perf_counter()
        bt.run()
        dt = time.perf_counter() - t
        return hist.packets, dt, {"n_fills": bt.res.metrics["fills"]}

    return _timed(once, runs)


def hftbacktest_mm(max_events: int, runs: int) -> dict[str, Any]:
    """The same market maker in hftbacktest on the same capture (its numba API)."""
    import numpy as np
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest
    from hftbacktest.data.utils import binancefutures
    from numba import njit

    from backtest.sweep import DATA, DATASETS

    path = DATA / DATASETS["binance-usdm"][0]
    data = binancefutures.convert(str(path), combined_stream=True)
    rows = len(data)
    # messages (depth diffs and trades): rows sharing a local timestamp and kind are one
    kinds = data["ev"] & 0xFF
    ts = data["local_ts"]
    msg = np.count_nonzero(np.r_[True, (ts[1:] != ts[:-1]) | (kinds[1:] != kinds[:-1])])
    if max_events:
        data = data[:max_events]

    @njit
    def mm(hbt: Any, size: float, half: int, skew: float, max_pos: float) -> int:
        tick = 0.1
        bid_id = 0
        ask_id = 0
        next_id = 1
        last_mid = 0.0
        n = 0
        while True:
            r = hbt.wait_next_feed(True, 10**12)
            if r == 1:
                break
            n += 1
            depth = hbt.depth(0)
            bb, ba = depth.best_bid_tick, depth.best_ask_tick
            if bb <= 0 or ba <= 0 or ba < bb:
                continue
            mid = (bb + ba) / 2.0
            if mid == last_mid:
                continue
            last_mid = mid
            pos = hbt.position(0) / 0.001
            hbt.clear_inactive_orders(0)
            orders = hbt.orders(0)
            bid = min(round(mid - half - skew * pos), ba - 1)
            ask = max(round(mid + half - skew * pos), bb + 1)
            if bid_id and orders.get(bid_id) is not None:
                if orders.get(bid_id).price_tick != bid:
                    hbt.cancel(0, bid_id, False)
                    bid_id = 0
            else:
                bid_id = 0
            if ask_id and orders.get(ask_id) is not None:
                if orders.get(ask_id).price_tick != ask:
                    hbt.cancel(0, ask_id, False)
                    ask_id = 0
            else:
                ask_id = 0
            if bid_id == 0 and pos < max_pos:
                bid_id = next_id
                next_id += 1
                hbt.submit_buy_order(0, bid_id, bid * tick, size, 1, 0, False)
            if ask_id == 0 and pos > -max_pos:
                ask_id = next_id
                next_id += 1
                hbt.submit_sell_order(0, ask_id, ask * tick, size, 1, 0, False)
        return n

    def build() -> Any:
        asset = (
            BacktestAsset()
            .data([data])
            .linear_asset(1.0)
            .constant_latency(LAT_NS, LAT_NS)
            .power_prob_queue_model(3.0)
            .no_partial_fill_exchange()
            .trading_value_fee_model(0.0002, 0.0005)
            .tick_size(0.1)
            .lot_size(0.001)
        )
        return HashMapMarketDepthBacktest([asset])

    size = MM["size"] * 0.001
    hbt = build()  # warm-up: compiles the strategy
    mm(hbt, size, MM["half_spread"], MM["skew"], MM["max_pos"])
    hbt.close()

    def once() -> tuple[int, float, dict[str, Any]]:
        hbt = build()
        t = time.perf_counter()
        mm(hbt, size, MM["half_spread"], MM["skew"], MM["max_pos"])
        dt = time.perf_counter() - t
        hbt.close()
        return int(msg), dt, {"rows": rows, "rows_per_s": round(rows / dt)}

    return _timed(once, runs)


def run(args: argparse.Namespace) -> int:
    """Run the workloads; 0, or 1 when the shared data is missing."""
    from backtest.sweep import DATA

    if not (DATA / "lobster").exists() or not (DATA / "binance").exists():
        print(f"bench backtest: the shared data is not at {DATA}", file=sys.stderr)
        return 1
    runs = max(1, args.runs)
    r: dict[str, Any] = {"latency_ns": LAT_NS}
    print("L3 LOBSTER AAPL hour, Python market maker ...", file=sys.stderr, flush=True)
    r["l3_python"] = l3_python(args.max_events, runs)
    py_fills = r["l3_python"].pop("fills")
    r["python_events_per_s"] = r["l3_python"]["median"]
    print("L3 LOBSTER AAPL hour, numba market maker ...", file=sys.stderr, flush=True)
    r["l3_numba"] = l3_numba(args.max_events, runs, py_fills)
    r["events_per_s"] = r["l3_numba"]["median"]
    print("L2 Binance USD-M, Python market maker ...", file=sys.stderr, flush=True)
    r["l2_python"] = l2_python(args.max_events, runs)
    r["l2_events_per_s"] = r["l2_python"]["median"]
    r["hftbacktest_events_per_s"] = None
    if args.no_hftbacktest:
        r["hftbacktest_reason"] = "skipped (--no-hftbacktest)"
    else:
        try:
            print("L2 Binance USD-M, hftbacktest ...", file=sys.stderr, flush=True)
            r["hftbacktest"] = hftbacktest_mm(args.max_events, runs)
            r["hftbacktest_events_per_s"] = r["hftbacktest"]["median"]
        except ImportError as e:
            r["hftbacktest_reason"] = f"hftbacktest not installed ({e}): pip install -e '.[bench]'"
    r["machine"] = sysinfo.machine_info()
    r["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    r["argv"] = sys.argv
    hb = r["hftbacktest_events_per_s"]
    print(
        f"backtest: L3 numba strategy {r['events_per_s']:,} events/s (median of {runs}; best "
        f"{r['l3_numba']['best']:,}; fills equal to the Python run's: "
        f"{r['l3_numba']['numba_fills_match_python']}); Python strategy "
        f"{r['python_events_per_s']:,} events/s (best {r['l3_python']['best']:,})"
    )
    line = f"  L2 Binance USD-M: this project {r['l2_events_per_s']:,} events/s"
    if hb:
        line += f", hftbacktest {hb:,} events/s (ratio {r['l2_events_per_s'] / hb:.2f})"
    else:
        line += f"; hftbacktest: {r['hftbacktest_reason']}"
    print(line)
    publish(r, "backtest", write=not args.no_write, as_json=args.json)
    return 0
