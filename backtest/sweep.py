"""Parameter sweeps: one backtest per point of a grid, in local processes or on Ray.

``sweep(spec, grid, workers=2)`` runs every combination of ``grid`` (name -> values) with
``spec`` (the ``RunSpec`` of ``venue backtest run``), each point in its own process
(``concurrent.futures`` with fork), and returns one row per point: the parameters, then the
summary metrics, in grid order. ``ray_address`` runs the points as Ray tasks instead (Ray is
the optional ``ray`` extra). Each worker loads the data once and keeps it for its next point.
"""

from __future__ import annotations

import csv
import functools
import importlib
import importlib.util
import itertools
import multiprocessing
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from backtest.data import History, binance_history, lobster_history
from backtest.latency import parse_latency
from backtest.runner import Backtest, BacktestConfig
from backtest.strategy import Strategy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
DATASETS = {
    "lobster": (
        "lobster/aapl-2012-06-21-level50-1h/AAPL_2012-06-21_34200000_37800000_message_50.csv",
        None,
    ),
    "lobster10": (
        "lobster/aapl-2012-06-21-level10-first999/AAPL_2012-06-21_34200000_57600000_message_10.csv",
        "lobster/aapl-2012-06-21-level10-first999/AAPL_2012-06-21_34200000_57600000_orderbook_10.csv",
    ),
    "binance-usdm": ("binance/binance_usdm_btcusdt_20240808.gz", None),
    "binance-spot": ("binance/binance_spot_btcusdt_20240808.gz", None),
}  # fmt: skip
DEFAULT_STRATEGY = str(ROOT / "examples" / "backtest_market_maker.py") + ":MarketMaker"


@dataclass(frozen=True)
class RunSpec:
    """A backtest described by plain values (so that it crosses process boundaries)."""

    data: str = "lobster"
    orderbook: str | None = None
    strategy: str = DEFAULT_STRATEGY
    params: tuple[tuple[str, Any], ...] = ()
    entry_latency: str = "0"
    feed_latency: str = "0"
    response_latency: str | None = None
    seed: int = 0
    queue_model: str = "conservative"
    maker_fee_ppm: int = 200
    taker_fee_ppm: int = 500
    cash: str = "1000000"
    base: str = "0"
    book_depth: int = 1
    timer: str = "0"
    max_events: int = 0
    progress: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@functools.lru_cache(maxsize=4)
def load_history(data: str, orderbook: str | None = None, max_events: int = 0) -> History:
    """A named dataset (``lobster``, ``lobster10``, ``binance-usdm``, ``binance-spot``), a
    recording of the venue's feed (``DIR@SYMBOL``: its L3 channel of SYMBOL, ``venue record``),
    or a file: ``*.gz`` a Binance capture, anything else a LOBSTER message file. Cached."""
    where, at, symbol = data.rpartition("@")
    if at and Path(where).is_dir():
        from backtest.recorded import recorded_history

        hist = recorded_history(where, symbol)
        return hist.head(max_events) if max_events else hist
    if data in DATASETS:
        rel, book = DATASETS[data]
        path = DATA / rel
        orderbook = orderbook or (str(DATA / book) if book else None)
    else:
        path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path} (see ../shared/data/README.md)")
    hist = binance_history(path) if path.suffix == ".gz" else lobster_history(path, orderbook)
    return hist.head(max_events) if max_events else hist


def load_strategy(spec: str) -> type[Strategy]:
    """``path/to/file.py:Class`` or ``package.module:Class`` -> the class."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ValueError(f"strategy {spec!r}: expected FILE.py:Class or module:Class")
    if target.endswith(".py"):
        path = Path(target)
        mod_name = f"_backtest_strategy_{path.stem}"
        mod = sys.modules.get(mod_name)
        if mod is None:
            s = importlib.util.spec_from_file_location(mod_name, path)
            if s is None or s.loader is None:
                raise ValueError(f"cannot load strategy file {path}")
            mod = importlib.util.module_from_spec(s)
            sys.modules[mod_name] = mod
            s.loader.exec_module(mod)
    else:
        mod = importlib.import_module(target)
    cls = getattr(mod, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(f"{spec!r} is not a backtest.Strategy subclass")
    return cls


def config_of(spec: RunSpec) -> BacktestConfig:
    from backtest.latency import parse_duration

    return BacktestConfig(
        entry_latency=parse_latency(spec.entry_latency),
        feed_latency=parse_latency(spec.feed_latency),
        response_latency=parse_latency(spec.response_latency) if spec.response_latency else None,
        seed=spec.seed,
        queue_model=spec.queue_model,
        maker_fee_ppm=spec.maker_fee_ppm,
        taker_fee_ppm=spec.taker_fee_ppm,
        cash=Decimal(spec.cash),
        base=Decimal(spec.base),
        book_depth=spec.book_depth,
        timer_ns=parse_duration(spec.timer),
        progress=spec.progress,
        params=dict(spec.params),
    )


def run_spec(spec: RunSpec) -> Backtest:
    """Build and run one backtest. O(events)."""
    hist = load_history(spec.data, spec.orderbook, spec.max_events)
    bt = Backtest(hist, load_strategy(spec.strategy)(), config_of(spec))
    bt.run()
    return bt


def run_point(spec: RunSpec) -> dict[str, Any]:
    """One sweep point: its parameters, then its summary metrics."""
    bt = run_spec(spec)
    return {**dict(spec.params), **bt.res.metrics}


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(grid)
    return [dict(zip(names, vals, strict=True)) for vals in itertools.product(*grid.values())]


def sweep(
    spec: RunSpec,
    grid: dict[str, list[Any]],
    workers: int = 2,
    ray_address: str | None = None,
) -> list[dict[str, Any]]:
    """Every grid point as a backtest, in parallel; rows in grid order."""
    specs = [
        replace(spec, params=tuple(sorted({**dict(spec.params), **pt}.items())), progress=False)
        for pt in grid_points(grid)
    ]
    if ray_address is not None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("--ray needs Ray: pip install -e '.[ray]'") from None
        ray.init(address=None if ray_address == "local" else ray_address,
                 ignore_reinit_error=True, include_dashboard=False)  # fmt: skip
        task = ray.remote(run_point)
        try:
            return list(ray.get([task.remote(s) for s in specs]))
        finally:
            if ray_address == "local":
                ray.shutdown()  # the local instance was ours: do not leave it running
    if workers <= 1:
        return [run_point(s) for s in specs]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(run_point, specs))


def write_table(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    rows = list(rows)
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    p = Path(path)
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return p
