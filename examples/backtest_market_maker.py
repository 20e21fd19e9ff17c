"""A market maker with inventory-skewed quotes, backtested on the shared data.

    python examples/backtest_market_maker.py                  # LOBSTER AAPL, order by order
    python examples/backtest_market_maker.py --binance usdm   # Binance USD-M, depth and trades

One bid and one ask of ``size`` lots, ``half_spread`` ticks around the mid, both shifted
against the inventory by ``skew`` ticks per lot held (long: quotes move down, so selling gets
likelier); no quote on a side once ``max_pos`` is reached. Quotes are refreshed when the mid
moves or after a fill, never more than one command per side in flight.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

from backtest import Backtest, BacktestConfig, Context, OrderUpdate, Strategy
from backtest.latency import parse_latency

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
LOBSTER = (
    DATA / "lobster/aapl-2012-06-21-level50-1h/AAPL_2012-06-21_34200000_37800000_message_50.csv"
)


class MarketMaker(Strategy):
    def __init__(self, size: int = 100, half_spread: int = 100, skew: float = 1.0,
                 max_pos: int = 1000, tick_round: int = 100) -> None:  # fmt: skip
        self.size, self.half_spread, self.skew = size, half_spread, skew
        self.max_pos, self.round = max_pos, tick_round
        self.bid_id = 0
        self.ask_id = 0
        self.quoted_mid = 0.0

    def on_start(self, ctx: Context) -> None:
        p = ctx.params
        self.size = int(p.get("size", self.size))
        self.half_spread = int(p.get("half_spread", self.half_spread))
        self.skew = float(p.get("skew", self.skew))
        self.max_pos = int(p.get("max_pos", self.max_pos))

    def _px(self, x: float) -> int:
        return round(x / self.round) * self.round

    def on_book(self, ctx: Context) -> None:
        mid = ctx.mid
        if not mid or mid == self.quoted_mid:
            return
        self.quoted_mid = mid
        shift = self.skew * ctx.position
        bid = min(self._px(mid - self.half_spread - shift), ctx.best_ask - self.round)
        ask = max(self._px(mid + self.half_spread - shift), ctx.best_bid + self.round)
        self.bid_id = self._quote(ctx, self.bid_id, "buy", bid, ctx.position < self.max_pos)
        self.ask_id = self._quote(ctx, self.ask_id, "sell", ask, ctx.position > -self.max_pos)

    def _quote(self, ctx: Context, oid: int, side: str, px: int, allowed: bool) -> int:
        o = ctx.orders.get(oid)
        if o is not None:
            if o.status == "pending":
                return oid  # an answer is on its way: do not stack commands
            if allowed and o.price_ticks == px:
                return oid
            ctx.cancel(oid)
        if not allowed or px <= 0:
            return 0
        return ctx.submit(side, self.size, px, post_only=True)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        if update.kind == "fill":
            self.quoted_mid = 0.0  # requote on the next book


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binance", choices=["usdm", "spot"], help="use a Binance capture (L2)")
    ap.add_argument("--queue-model", default="prob:power:3")
    ap.add_argument("--latency", default="50us", help="order entry and feed latency")
    ap.add_argument("--report", help="write an HTML report here")
    args = ap.parse_args(argv)
    from backtest.data import binance_history, lobster_history

    if args.binance:
        path = DATA / f"binance/binance_{args.binance}_btcusdt_20240808.gz"
        hist = binance_history(path)
        strat = MarketMaker(size=10, half_spread=10, skew=0.2, max_pos=100, tick_round=1)
        cfg = BacktestConfig(queue_model=args.queue_model, cash=Decimal(100_000))
    else:
        hist = lobster_history(LOBSTER)
        strat = MarketMaker()
        cfg = BacktestConfig(maker_fee_ppm=-20, taker_fee_ppm=30, base=Decimal(10_000))
    lat = parse_latency(args.latency)
    cfg.entry_latency = cfg.feed_latency = lat
    cfg.progress = sys.stderr.isatty()
    res = Backtest(hist, strat, cfg).run()
    print(res.summary())
    if args.report:
        print(f"report: {res.report(args.report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
