"""Order-by-order (L3) backtests on small hand-written LOBSTER files: queue position,
latency, consumed historical executions, determinism, a do-nothing strategy."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from backtest import Backtest, BacktestConfig, Constant, Strategy, lobster_history
from backtest.latency import LogNormal
from backtest.strategy import Context, OrderUpdate, Trade
from matching.engine import Engine
from matching.records import BUY, SELL

T0 = 34_200 * 10**9  # 09:30:00 in ns after midnight
S = 10**9


def write_messages(tmp_path: Path, rows: list[tuple[float, int, int, int, int, int]]) -> Path:
    """rows: (seconds after T0, type, order id, size, price, direction)."""
    p = tmp_path / "msgs.csv"
    lines = []
    for sec, typ, oid, size, price, d in rows:
        ns = T0 + round(sec * S)
        lines.append(f"{ns // S}.{ns % S:09d},{typ},{oid},{size},{price},{d}")
    p.write_text("\n".join(lines) + "\n")
    return p


class OneOrder(Strategy):
    """Sends one order at start; records what reaches it and when."""

    def __init__(self, side: int, qty: int, price: int, tif: str = "gtc") -> None:
        self.args = (side, qty, price, tif)
        self.updates: list[tuple[int, OrderUpdate]] = []
        self.books: list[tuple[int, int, int]] = []
        self.oid = 0

    def on_start(self, ctx: Context) -> None:
        side, qty, price, tif = self.args
        self.oid = ctx.submit(side, qty, price, tif=tif)

    def on_book(self, ctx: Context) -> None:
        self.books.append((ctx.now_ns, ctx.best_bid, ctx.best_ask))

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        self.updates.append((ctx.now_ns, update))


QUEUE = [  # two sells at 10000; executions of the first, then of the second
    (0.0, 1, 1, 100, 10000, -1),
    (2.0, 1, 2, 50, 10000, -1),
    (3.0, 4, 1, 60, 10000, -1),
    (4.0, 4, 1, 40, 10000, -1),
    (5.0, 4, 2, 30, 10000, -1),
    (6.0, 1, 3, 10, 9000, 1),
]


def _run(tmp_path: Path, rows: list, strat: Strategy, **cfg: object) -> tuple[Backtest, object]:
    hist = lobster_history(write_messages(tmp_path, rows))
    cfg.setdefault("base", Decimal(1000))  # shares to sell
    bt = Backtest(hist, strat, BacktestConfig(**cfg))  # type: ignore[arg-type]
    return bt, bt.run()


def test_passive_order_fills_only_after_the_volume_ahead_has_traded(tmp_path: Path) -> None:
    strat = OneOrder(SELL, 20, 10000)
    _bt, res = _run(tmp_path, QUEUE, strat, entry_latency=Constant(1 * S))
    # arrives at 1 s: behind order 1 (100 lots), ahead of order 2. Order 1's executions
    # (60 + 40) do not touch it; the execution of order 2 at 5 s reaches it first.
    fills = [u for _t, u in strat.updates if u.kind == "fill"]
    assert [(u.ts_ns, u.qty_lots, u.liquidity) for u in fills] == [(T0 + 5 * S, 20, "maker")]
    assert res.fills[0][0] == T0 + 5 * S  # type: ignore[attr-defined]


def test_passive_order_fills_after_the_volume_ahead_is_cancelled(tmp_path: Path) -> None:
    rows = [
        (0.0, 1, 1, 100, 10000, -1),
        (2.0, 3, 1, 100, 10000, -1),  # order 1 deleted: the strategy is first
        (3.0, 1, 2, 50, 10000, -1),
        (4.0, 4, 2, 30, 10000, -1),  # "execution of order 2" takes the strategy first
    ]
    strat = OneOrder(SELL, 20, 10000)
    _bt, _res = _run(tmp_path, rows, strat, entry_latency=Constant(1 * S))
    fills = [u for _t, u in strat.updates if u.kind == "fill"]
    assert [(u.ts_ns, u.qty_lots) for u in fills] == [(T0 + 4 * S, 20)]


def test_latency_shifts_queue_position_and_every_delivery_exactly(tmp_path: Path) -> None:
    # 2.5 s of entry latency: the order arrives after order 2 and never fills
    late = OneOrder(SELL, 20, 10000)
    _run(tmp_path, QUEUE, late, entry_latency=Constant(2_500_000_000))
    assert [u.kind for _t, u in late.updates] == ["accepted"]
    assert late.updates[0][1].ts_ns == T0 + 2_500_000_000  # arrival = sent + entry latency
    # response and feed latencies: answers at event time + response latency, books at
    # packet time + feed latency
    early = OneOrder(SELL, 20, 10000)
    _run(
        tmp_path,
        QUEUE,
        early,
        entry_latency=Constant(1 * S),
        response_latency=Constant(250_000_000),
        feed_latency=Constant(100_000_000),
    )
    assert [(t, u.kind) for t, u in early.updates] == [
        (T0 + 1_250_000_000, "accepted"),
        (T0 + 5_250_000_000, "fill"),
    ]
    assert [t for t, _b, _a in early.books] == [
        T0 + k * S + 100_000_000 for k in (0, 2, 3, 4, 5, 6)
    ]


def test_consumed_historical_executions_are_counted_not_replayed(tmp_path: Path) -> None:
    rows = [
        (0.0, 1, 1, 100, 10000, -1),
        (2.0, 4, 1, 30, 10000, -1),
        (3.0, 4, 1, 70, 10000, -1),
        (4.0, 1, 2, 10, 10000, -1),
    ]
    strat = OneOrder(BUY, 50, 10000, tif="ioc")  # arrives at 1 s, takes 50 of order 1
    bt, res = _run(tmp_path, rows, strat, entry_latency=Constant(1 * S))
    fills = [u for _t, u in strat.updates if u.kind == "fill"]
    assert [(u.qty_lots, u.liquidity, u.price_ticks) for u in fills] == [(50, "taker", 10000)]
    m = res.metrics  # type: ignore[attr-defined]
    # the 30-lot execution is dropped, 20 of the 70 are: 50 lots consumed in 2 executions
    assert (m["consumed_executions"], m["consumed_lots"]) == (2, 50)
    assert m["strategy_took_lots"] == 50
    dump = bt.ex.dump()
    assert dump["order_id"].tolist() == [2]  # order 1 is gone; order 2 was not hit


def test_a_strategy_that_does_nothing_leaves_the_replay_unchanged(tmp_path: Path) -> None:
    hist = lobster_history(write_messages(tmp_path, QUEUE))
    bt = Backtest(hist, Strategy(), BacktestConfig())
    bt.run()
    eng = Engine([hist.instrument])
    eng.process(hist.cmds)
    assert bt.ex.state_hash() == eng.state_hash()
    assert np.array_equal(bt.ex.status_table(), eng.status_table())


class Pinger(Strategy):
    """Sends and cancels orders around the mid: enough activity to test determinism."""

    def __init__(self) -> None:
        self.n = 0

    def on_book(self, ctx: Context) -> None:
        self.n += 1
        if ctx.best_ask and self.n % 2:
            ctx.submit(BUY, 10, ctx.best_ask, tif="ioc")
        elif ctx.best_bid:
            ctx.submit(SELL, 5, ctx.best_bid, tif="ioc")


def test_same_inputs_and_seed_give_byte_identical_fills(tmp_path: Path) -> None:
    rows = [(0.1 * k, 1, 10 + k, 40, 10000 + (k % 3), -1) for k in range(20)]
    rows += [(0.1 * k + 0.05, 1, 100 + k, 40, 9999 - (k % 3), 1) for k in range(20)]
    rows.sort()
    hist = lobster_history(write_messages(tmp_path, rows))
    lat = LogNormal(50_000_000, 0.8)

    def once(seed: int) -> bytes:
        cfg = BacktestConfig(entry_latency=lat, feed_latency=lat, seed=seed, base=Decimal(999))
        return Backtest(hist, Pinger(), cfg).run().fills_bytes()

    a, b = once(7), once(7)
    assert a == b and a.count(b"\n") > 5


def test_orders_outside_the_price_window_are_refused(tmp_path: Path) -> None:
    strat = OneOrder(SELL, 20, 10**9)
    with pytest.raises(ValueError, match="price window"):
        _run(tmp_path, QUEUE, strat)


class Watcher(Strategy):
    """Records timers and public trades as they reach it."""

    def __init__(self) -> None:
        self.timers: list[int] = []
        self.trades: list[tuple[int, Trade]] = []

    def on_start(self, ctx: Context) -> None:
        ctx.schedule(ctx.now_ns + 250_000_000)

    def on_timer(self, ctx: Context) -> None:
        self.timers.append(ctx.now_ns)

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.trades.append((ctx.now_ns, trade))


def test_timers_and_public_trades_arrive_on_the_strategy_clock(tmp_path: Path) -> None:
    w = Watcher()
    _run(tmp_path, QUEUE, w, timer_ns=2 * S, feed_latency=Constant(10_000_000))
    # the one-off timer, then every 2 s of strategy time until the last packet (6 s)
    assert w.timers == [T0 + 250_000_000, T0 + 2 * S, T0 + 4 * S, T0 + 6 * S]
    # executions are public trades, seen at exchange time + feed latency; a buyer took them
    assert [(t - tr.ts_ns, tr.qty_lots, tr.price_ticks, tr.aggressor) for t, tr in w.trades] == [
        (10_000_000, 60, 10000, BUY),
        (10_000_000, 40, 10000, BUY),
        (10_000_000, 30, 10000, BUY),
    ]
