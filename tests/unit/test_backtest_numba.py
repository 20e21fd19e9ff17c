"""The numba strategy path (``backtest.fast``): the same fills as the Python path, the
same consumed-execution accounting. One module: the loop compiles once per process."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from backtest import Backtest, BacktestConfig, Constant, lobster_history
from backtest.fast import run_numba
from backtest.latency import LogNormal

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from backtest_market_maker import MarketMaker
from backtest_numba_mm import mm_nb, new_state
from test_backtest_l3 import T0, S, write_messages


@njit
def take_once_nb(kind, now, book, upd, position, state, out):
    """Buy 50 at the best ask with an IOC, once, at the first book it sees."""
    if kind != 0 or state[0] != 0 or book[2] <= 0:
        return 0
    state[0] = 1
    c = out[0]
    c["kind"] = 1
    c["order_id"] = 4 * 10**12
    c["side"] = 1
    c["price_ticks"] = book[2]
    c["qty_lots"] = 50
    c["order_type"] = 1
    c["tif"] = 2
    return 1


def _book_rows() -> list[tuple[float, int, int, int, int, int]]:
    """A two-sided book: a sell at 10000 and a buy at 9900 every 10 ms, each executed in
    full (in priority order) 60 ms later; the market maker quotes inside the spread."""
    rows = []
    for k in range(60):
        t = 0.01 * k
        rows.append((t, 1, 100 + k, 50, 10000, -1))
        rows.append((t + 0.001, 1, 1000 + k, 50, 9900, 1))
        if k >= 6:
            rows.append((t + 0.002, 4, 100 + k - 6, 50, 10000, -1))
            rows.append((t + 0.003, 4, 1000 + k - 6, 50, 9900, 1))
    return rows


def test_numba_market_maker_fills_exactly_as_the_python_one(tmp_path: Path) -> None:
    hist = lobster_history(write_messages(tmp_path, _book_rows()))
    lat = Constant(1_000_000)

    def cfg() -> BacktestConfig:
        return BacktestConfig(
            entry_latency=lat, feed_latency=LogNormal(2_000_000, 0.5), seed=5,
            base=Decimal(10_000), sample_ns=10_000_000,
        )  # fmt: skip

    mmargs = {"size": 10, "half_spread": 10, "skew": 1.0, "max_pos": 40, "tick_round": 1}
    py = Backtest(hist, MarketMaker(**mmargs), cfg()).run()  # type: ignore[arg-type]
    nb = run_numba(hist, mm_nb, new_state(**mmargs), cfg())  # type: ignore[arg-type]
    assert len(py.fills) > 3
    assert [f[:9] for f in nb.fills] == [f[:9] for f in py.fills]
    assert nb.metrics["pnl"] == py.metrics["pnl"]


def test_numba_path_counts_consumed_executions(tmp_path: Path) -> None:
    rows = [
        (0.0, 1, 1, 100, 10000, -1),
        (2.0, 4, 1, 30, 10000, -1),
        (3.0, 4, 1, 70, 10000, -1),
    ]
    hist = lobster_history(write_messages(tmp_path, rows))
    res = run_numba(hist, take_once_nb, np.zeros(1), BacktestConfig(entry_latency=Constant(S)))
    assert [(f[0], f[4], f[5]) for f in res.fills] == [(T0 + S, 50, "taker")]
    assert (res.metrics["consumed_executions"], res.metrics["consumed_lots"]) == (2, 50)


def test_numba_path_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    hist = lobster_history(write_messages(tmp_path, [(0.0, 1, 1, 100, 10000, -1)]))
    with pytest.raises(ValueError, match="constant entry latency"):
        run_numba(hist, take_once_nb, np.zeros(1), BacktestConfig(entry_latency=LogNormal(5, 1)))
