"""Depth-and-trades (L2) backtests on hand-written records: the two queue models, fills
executed in the engine (fees, position), trade-through, and the model formulas."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from backtest import Backtest, BacktestConfig, Constant, Strategy
from backtest.data import BINANCE_MARKETS, l2_history
from backtest.queue import ProbQueueModel, QueueModel, QueueState, parse_queue_model
from backtest.strategy import Context, OrderUpdate
from matching.records import BUY

S = 10**9
PERP = BINANCE_MARKETS["usdm"][0]  # tick 0.1, lot 0.001


def book(bid_lots: int) -> tuple:
    return [["100.0", f"{bid_lots / 1000:.3f}"]], [["100.1", "0.050"]]


RECORDS = [
    ("depth", 1 * S, *book(20)),  # snapshot: 20 lots bid at 100.0, 50 ask at 100.1
    ("trade", 3 * S, "100.0", "0.006", True),  # a seller takes 6 lots: 14 ahead of us
    ("depth", 4 * S, *book(30)),  # 14 -> 30: 16 lots join behind us
    ("depth", 5 * S, *book(26)),  # 4 lots cancelled (from the front or the back?)
    ("trade", 6 * S, "100.0", "0.013", True),
    ("trade", 7 * S, "100.0", "0.003", True),
    ("trade", 8 * S, "100.1", "0.001", False),  # a buyer: not our side
]


class Bid(Strategy):
    def __init__(self, price: int = 1000, qty: int = 5) -> None:
        self.price, self.qty = price, qty
        self.fills: list[tuple[int, int, int]] = []  # (exchange ts, lots, leaves)

    def on_start(self, ctx: Context) -> None:
        ctx.submit(BUY, self.qty, self.price)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        if update.kind == "fill":
            self.fills.append((update.ts_ns, update.qty_lots, update.leaves_lots))


def run(model: str, records: list = RECORDS, strat: Bid | None = None) -> tuple[Bid, Backtest]:
    hist = l2_history(PERP, records, 1, 3)
    strat = strat or Bid()
    cfg = BacktestConfig(queue_model=model, entry_latency=Constant(1 * S), cash=Decimal(10_000))
    bt = Backtest(hist, strat, cfg)
    bt.run()
    return strat, bt


def test_conservative_model_fills_only_after_the_volume_ahead_has_traded() -> None:
    strat, bt = run("conservative")
    # 20 ahead; trades of 6 and 13 leave 1 ahead (cancels never count); the trade of 3 fills 2
    assert strat.fills == [(7 * S, 2, 3)]
    assert bt.ex.position(3, 0) == 2


def test_probabilistic_model_moves_the_order_forward_on_cancels() -> None:
    strat, bt = run("prob:power:3")
    # front 14, back 16 when 4 lots go: p(behind) = 16^3 / (16^3 + 14^3), front 12.395;
    # the trade of 13 fills 1 (ceil of 0.605), the trade of 3 fills 3
    assert strat.fills == [(6 * S, 1, 4), (7 * S, 3, 1)]
    assert bt.ex.position(3, 0) == 4
    m = bt.res.metrics
    assert m["maker_share"] == 1.0 and m["fills"] == 2
    assert m["fees"] > 0  # maker fee 200 ppm, charged by clearing


def test_a_trade_through_the_price_fills_the_whole_order() -> None:
    records = [*RECORDS[:2], ("trade", 3 * S + 1, "99.9", "0.001", True)]
    strat, _bt = run("conservative", records)
    assert strat.fills == [(3 * S + 1, 5, 0)]


def test_a_strategy_that_does_nothing_leaves_the_book_as_the_data_says() -> None:
    hist = l2_history(PERP, RECORDS, 1, 3)
    bt = Backtest(hist, Strategy(), BacktestConfig())
    bt.run()
    v = bt.ex.book(0, 5)
    assert [(lv.price_ticks, lv.qty_lots) for lv in v.bids] == [(1000, 26)]
    assert [(lv.price_ticks, lv.qty_lots) for lv in v.asks] == [(1001, 50)]


def test_queue_model_formulas() -> None:
    q = QueueState(1, BUY, 1000, 5, front=14.0)
    ProbQueueModel("power", 3).on_depth(q, 30, 26)
    p = 16**3 / (16**3 + 14**3)
    assert q.front == pytest.approx(14 - (1 - p) * 4)
    q = QueueState(1, BUY, 1000, 5, front=14.0)
    ProbQueueModel("log").on_depth(q, 30, 26)
    p = math.log1p(16) / (math.log1p(16) + math.log1p(14))
    assert q.front == pytest.approx(14 - (1 - p) * 4)
    q = QueueState(1, BUY, 1000, 5, front=14.0)
    QueueModel().on_depth(q, 30, 26)
    assert q.front == 14.0
    QueueModel().on_depth(q, 26, 10)
    assert q.front == 10.0  # never more ahead than the level holds
    assert QueueModel().on_trade(q, 12) == 2 and q.front == 0.0
    assert parse_queue_model("prob").name == "prob:power:3"
    with pytest.raises(ValueError, match="queue model"):
        parse_queue_model("fifo")
