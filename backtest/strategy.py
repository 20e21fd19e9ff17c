"""The strategy API: a ``Strategy`` subclass and the ``Context`` it trades through.

Callbacks (all optional; each gets the context first):

- ``on_start(ctx)``: once, before the first market event.
- ``on_book(ctx)``: after each market-data packet reaches the strategy (the book it shows is
  ``ctx.best_bid`` ... and ``ctx.book(depth)``).
- ``on_trade(ctx, trade)``: each public trade of that packet, before ``on_book``.
- ``on_order_update(ctx, update)``: an answer about one of the strategy's orders (accepted,
  rejected, fill, cancelled, amended), when it reaches the strategy.
- ``on_timer(ctx)``: every ``timer`` of strategy time (``BacktestConfig.timer_ns``) and at the
  times asked with ``ctx.schedule(at_ns)``.
- ``on_stop(ctx)``: once, after the last event.

Everything the context says is what the strategy could know at ``ctx.now_ns``: the book as of
the last packet delivered, the position and balances as of the last order update delivered.
Orders sent now reach the venue after the order-entry latency (docs/backtest.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from matching.records import BUY, SELL

if TYPE_CHECKING:
    from backtest.runner import Backtest


class Trade(NamedTuple):
    ts_ns: int  # exchange time
    price_ticks: int
    qty_lots: int
    aggressor: int  # BUY or SELL


class OrderUpdate(NamedTuple):
    kind: str  # accepted | rejected | fill | cancelled | amended
    order_id: int
    side: int
    price_ticks: int  # fill: trade price; otherwise the order's price
    qty_lots: int  # fill: filled lots; cancelled: lots cancelled; otherwise the order's size
    leaves_lots: int
    reason: str  # reject / cancel reason name, "" otherwise
    ts_ns: int  # exchange time of the event
    liquidity: str  # fill: "maker" or "taker"
    fee: int  # fill: fee in units of the settlement asset (negative: rebate)


@dataclass
class Order:
    """An order as the strategy knows it (``ctx.orders``)."""

    order_id: int
    side: int
    price_ticks: int
    qty_lots: int
    leaves_lots: int
    status: str  # pending (sent, no answer yet) | open | done
    sent_ns: int


class BookView(NamedTuple):
    bids: list[tuple[int, int]]  # (price ticks, lots), best first
    asks: list[tuple[int, int]]


class Strategy:
    """Base class: override the callbacks you need (see the module docstring)."""

    def on_start(self, ctx: Context) -> None:
        pass

    def on_book(self, ctx: Context) -> None:
        pass

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        pass

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        pass

    def on_timer(self, ctx: Context) -> None:
        pass

    def on_stop(self, ctx: Context) -> None:
        pass


_SIDES = {"buy": BUY, "sell": SELL, BUY: BUY, SELL: SELL}


def check_order(side: int | str, qty_lots: int) -> int:
    """The side code of an order a strategy submits; ValueError for a side or size no venue
    could take. O(1)."""
    s = _SIDES.get(side)
    if s is None:
        raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
    if qty_lots <= 0:
        raise ValueError(f"qty_lots must be positive, not {qty_lots}")
    return s


class Context:
    """The strategy's window on the backtest. Reading is O(1); ``submit`` / ``cancel`` /
    ``amend`` queue one command (O(1)) that reaches the venue after the entry latency."""

    def __init__(self, bt: Backtest) -> None:
        self._bt = bt
        self.now_ns = 0
        self._row = -1  # packet whose book the strategy sees (-1: none yet)
        self.instrument = bt.history.instrument
        self.position = 0  # lots, from the fills delivered so far
        self.orders: dict[int, Order] = {}  # live orders (pending or open)
        self.params: dict[str, Any] = dict(bt.config.params)

    # --- the book, as last delivered ---------------------------------------------------------
    @property
    def best_bid(self) -> int:
        """Best bid in ticks (0: none)."""
        return self._bt.top.item(0, self._row, 0) if self._row >= 0 else 0

    @property
    def best_ask(self) -> int:
        """Best ask in ticks (0: none)."""
        return self._bt.top.item(2, self._row, 0) if self._row >= 0 else 0

    @property
    def bid_qty(self) -> int:
        return self._bt.top.item(1, self._row, 0) if self._row >= 0 else 0

    @property
    def ask_qty(self) -> int:
        return self._bt.top.item(3, self._row, 0) if self._row >= 0 else 0

    @property
    def mid(self) -> float:
        """(best bid + best ask) / 2 in ticks; 0.0 when a side is empty."""
        r = self._row
        if r < 0:
            return 0.0
        t = self._bt.top
        b, a = t.item(0, r, 0), t.item(2, r, 0)
        return (b + a) / 2 if b and a else 0.0

    def book(self, depth: int = 5) -> BookView:
        """Top ``depth`` levels per side (at most ``BacktestConfig.book_depth``). O(depth)."""
        t, r = self._bt.top, self._row
        k = min(depth, t.shape[2])
        if r < 0:
            return BookView([], [])
        bids = [(int(t[0, r, i]), int(t[1, r, i])) for i in range(k) if t[1, r, i] > 0]
        asks = [(int(t[2, r, i]), int(t[3, r, i])) for i in range(k) if t[3, r, i] > 0]
        return BookView(bids, asks)

    # --- account, as last delivered ----------------------------------------------------------
    def balance(self, asset: str) -> int:
        """Balance in the asset's smallest units (``ClearingConfig`` scale)."""
        return self._bt.view_balances.get(asset, 0)

    def balances(self) -> dict[str, int]:
        return dict(self._bt.view_balances)

    # --- orders --------------------------------------------------------------------------------
    def submit(
        self,
        side: int | str,
        qty_lots: int,
        price_ticks: int = 0,
        *,
        tif: str = "gtc",
        market: bool = False,
        post_only: bool = False,
    ) -> int:
        """Send a new order (limit unless ``market``; tif gtc / ioc / fok). Returns its order
        id at once. ValueError for a side, size or price the venue could not take."""
        s = check_order(side, qty_lots)
        return self._bt.send_new(s, int(qty_lots), int(price_ticks), tif, market, post_only)

    def buy(self, qty_lots: int, price_ticks: int = 0, **kw: Any) -> int:
        return self.submit(BUY, qty_lots, price_ticks, **kw)

    def sell(self, qty_lots: int, price_ticks: int = 0, **kw: Any) -> int:
        return self.submit(SELL, qty_lots, price_ticks, **kw)

    def cancel(self, order_id: int) -> None:
        """Ask to cancel one order (the answer comes as an order update)."""
        self._bt.send_cancel(order_id)

    def amend(self, order_id: int, price_ticks: int = 0, qty_lots: int = 0) -> None:
        """Ask to change price and/or total size (0 = unchanged); rulebook priority rules."""
        self._bt.send_amend(order_id, int(price_ticks), int(qty_lots))

    def cancel_all(self) -> None:
        for oid in list(self.orders):
            self.cancel(oid)

    def schedule(self, at_ns: int) -> None:
        """Call ``on_timer`` at strategy time ``at_ns`` (now, if already past)."""
        self._bt.schedule(max(int(at_ns), self.now_ns))
