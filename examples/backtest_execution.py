"""Execution algorithms, TWAP, VWAP and POV, with their implementation shortfall.

    python examples/backtest_execution.py                     # all three on LOBSTER AAPL
    python examples/backtest_execution.py --algo pov --binance usdm

Each buys (or sells) ``target`` lots over ``horizon`` of strategy time with marketable
limit IOC orders (at the best ask, or best bid for a sale), so every child order is a taker:

- **TWAP**: equal slices every ``slice_s`` seconds;
- **VWAP**: slices follow the traded volume of a profile. Here the profile is the volume the
  strategy saw trade in the previous slice (a causal, one-pass stand-in for a historical
  profile), scaled so that the whole target is done by the end of the horizon;
- **POV**: after every public trade, ``rate`` of its volume (participation of volume),
  capped by what is left.

Implementation shortfall (Perold): against the arrival mid (the mid the strategy saw at its
first book), ``side x (average fill price - arrival mid) x filled + fees``, plus the
opportunity cost of what was not filled valued at the last mid; reported in the quote asset
and in basis points of the arrival value.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from backtest import Backtest, BacktestConfig, Context, OrderUpdate, Strategy, Trade
from backtest.latency import parse_latency
from backtest.sweep import load_history


class ExecAlgo(Strategy):
    """Common part: target, horizon, child orders, fill bookkeeping and the shortfall."""

    def __init__(self, target: int, horizon_s: float, side: str = "buy", through: int = 0) -> None:
        self.target, self.side, self.through = target, side, through
        self.horizon_ns = int(horizon_s * 1e9)
        self.filled = 0
        self.cost = 0  # ticks x lots paid (buy) or received (sell)
        self.fees = 0
        self.arrival_mid = 0.0
        self.t0 = 0
        self.in_flight = 0
        self.last_mid = 0.0

    def left(self) -> int:
        return self.target - self.filled - self.in_flight

    def child(self, ctx: Context, qty: int) -> None:
        qty = min(qty, self.left())
        # a marketable limit: up to ``through`` ticks beyond the best opposite price
        px = ctx.best_ask + self.through if self.side == "buy" else ctx.best_bid - self.through
        if qty > 0 and (ctx.best_ask if self.side == "buy" else ctx.best_bid):
            ctx.submit(self.side, qty, px, tif="ioc")
            self.in_flight += qty

    def on_book(self, ctx: Context) -> None:
        if not self.arrival_mid and ctx.mid:
            self.arrival_mid, self.t0 = ctx.mid, ctx.now_ns
        if ctx.mid:
            self.last_mid = ctx.mid

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        if update.kind == "fill":
            self.filled += update.qty_lots
            self.in_flight -= update.qty_lots
            self.cost += update.qty_lots * update.price_ticks
            self.fees += update.fee
        elif update.kind in ("cancelled", "rejected"):
            self.in_flight -= update.qty_lots  # what did not fill

    def shortfall(self, nf: int, unit: float) -> dict[str, Any]:
        """Implementation shortfall against the arrival mid (quote units and bps)."""
        sgn = 1 if self.side == "buy" else -1
        paid = sgn * (self.cost - self.filled * self.arrival_mid) * nf * unit
        missed = self.target - self.filled
        opportunity = sgn * missed * (self.last_mid - self.arrival_mid) * nf * unit
        fees = self.fees * unit
        value = self.target * self.arrival_mid * nf * unit
        total = paid + opportunity + fees
        return {
            "filled": self.filled, "target": self.target,
            "avg_price": self.cost / self.filled if self.filled else 0.0,
            "arrival_mid": self.arrival_mid, "execution_cost": round(paid, 4),
            "opportunity_cost": round(opportunity, 4), "fees": round(fees, 4),
            "shortfall": round(total, 4), "shortfall_bps": round(1e4 * total / value, 3)
            if value else 0.0,
        }  # fmt: skip


class TWAP(ExecAlgo):
    def __init__(self, target: int, horizon_s: float, slice_s: float = 60.0, **kw: Any) -> None:
        super().__init__(target, horizon_s, **kw)
        self.slice_ns = int(slice_s * 1e9)
        self.slices = max(1, self.horizon_ns // self.slice_ns)
        self.done_slices = 0

    def on_book(self, ctx: Context) -> None:
        super().on_book(ctx)
        if not self.arrival_mid:
            return
        due = min(self.slices, (ctx.now_ns - self.t0) // self.slice_ns + 1)
        while self.done_slices < due:
            self.done_slices += 1
            owed = self.target * self.done_slices // self.slices - self.filled - self.in_flight
            self.child(ctx, owed)


class VWAP(TWAP):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.window_vol = 0
        self.seen_vol = 0

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.window_vol += trade.qty_lots

    def on_book(self, ctx: Context) -> None:
        ExecAlgo.on_book(self, ctx)
        if not self.arrival_mid:
            return
        due = min(self.slices, (ctx.now_ns - self.t0) // self.slice_ns + 1)
        while self.done_slices < due:
            self.done_slices += 1
            self.seen_vol += self.window_vol
            left_slices = self.slices - self.done_slices + 1
            if left_slices <= 1:
                qty = self.left()
            else:  # this slice's share of the volume seen so far, spread over what is left
                avg = self.seen_vol / self.done_slices if self.done_slices else 0
                share = self.window_vol / (avg * left_slices) if avg else 1 / left_slices
                qty = int(self.left() * min(1.0, share))
            self.window_vol = 0
            self.child(ctx, qty)


class POV(ExecAlgo):
    def __init__(self, target: int, horizon_s: float, rate: float = 0.1, **kw: Any) -> None:
        super().__init__(target, horizon_s, **kw)
        self.rate = rate
        self.owed = 0.0

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        if not self.arrival_mid or ctx.now_ns - self.t0 > self.horizon_ns:
            return
        self.owed += self.rate * trade.qty_lots
        if self.owed >= 1:
            q = int(self.owed)
            self.owed -= q
            self.child(ctx, q)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algo", choices=["twap", "vwap", "pov", "all"], default="all")
    ap.add_argument("--binance", choices=["usdm", "spot"], help="use a Binance capture (L2)")
    ap.add_argument("--latency", default="100us")
    args = ap.parse_args(argv)
    data = f"binance-{args.binance}" if args.binance else "lobster"
    hist = load_history(data)
    if args.binance:  # 2 BTC over 5 minutes, up to 10 ticks through the best price
        target, horizon, cash = 2000 if args.binance == "usdm" else 200_000_000, 300.0, 1_000_000
        through = 10 if args.binance == "usdm" else 100
    else:  # 20,000 AAPL shares over 30 minutes, up to 5 cents through the best price
        target, horizon, cash, through = 20_000, 1800.0, 20_000_000, 500
    algos = ["twap", "vwap", "pov"] if args.algo == "all" else [args.algo]
    for name in algos:
        strat: ExecAlgo
        if name == "twap":
            strat = TWAP(target, horizon, slice_s=horizon / 30, through=through)
        elif name == "vwap":
            strat = VWAP(target, horizon, slice_s=horizon / 30, through=through)
        else:
            strat = POV(target, horizon, rate=0.1, through=through)
        lat = parse_latency(args.latency)
        cfg = BacktestConfig(entry_latency=lat, feed_latency=lat, cash=Decimal(cash),
                             taker_fee_ppm=30 if not args.binance else 500)  # fmt: skip
        bt = Backtest(hist, strat, cfg)
        res = bt.run()
        sf = strat.shortfall(bt.nf, float(bt.assets[0].unit))
        print(f"{name.upper()}: {res.metrics['fills']} fills, {res.metrics['events_per_s']:,} "
              f"events/s; implementation shortfall {sf}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
