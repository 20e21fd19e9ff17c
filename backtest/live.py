"""The same ``Strategy`` class, live: ``LiveRunner`` trades it against a venue through the
order-entry client (``gateway.client.Client``) and the market-data feed
(``marketdata.client.FeedClient``), with no change to the strategy.

``LiveContext`` offers exactly the backtest ``Context``'s surface (book, position, balances,
orders, submit / cancel / amend, schedule, params) in the same integer units (ticks, lots,
asset units), converted at the edge with the instrument's grid. Differences a strategy can
notice: order ids are the client's order ids (``cl_ord_id``, known at once, so ``submit``
still returns an id immediately); ``cancel`` and ``amend`` wait for the venue's answer (the
client is synchronous), and ``balances`` asks the venue (a round trip). Time is the wall clock
(``time.time_ns``).

    with Client.connect(order_ep, key) as c, FeedClient(feed_ep, snap_ep, ["BTC-PERP"]) as f:
        LiveRunner(MyStrategy(), c, f, "BTC-PERP", timer_ns=1_000_000_000).run(seconds=60)
"""

from __future__ import annotations

import heapq
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backtest.strategy import (
    BookView,
    Context,
    Order,
    OrderUpdate,
    Strategy,
    Trade,
    check_order,
)
from matching import reasons as R
from matching.records import BUY, SELL

if TYPE_CHECKING:
    from gateway import protocol as p
    from gateway.client import Client
    from gateway.orders import Order as ClientOrder
    from marketdata.client import FeedClient, Update

_SIDE_CODE = {"buy": BUY, "sell": SELL}
_KINDS = {"new": "accepted", "rejected": "rejected", "fill": "fill", "partial_fill": "fill",
          "cancelled": "cancelled", "expired": "cancelled", "amended": "amended"}  # fmt: skip


class LiveContext(Context):
    """The backtest ``Context``'s surface over a live client and feed: every member of
    ``Context`` is overridden here, so a strategy typed against ``Context`` runs unchanged."""

    def __init__(  # no super().__init__: there is no Backtest behind this context
        self, runner: LiveRunner, params: dict[str, Any] | None = None
    ) -> None:
        self._r = runner
        self.now_ns = time.time_ns()
        self.instrument = runner.instrument
        self.position = 0  # lots, from the fills received
        self.orders: dict[int, Order] = {}  # live orders (pending or open), by cl_ord_id
        self.params: dict[str, Any] = dict(params or {})

    # --- the book, as the feed has it --------------------------------------------------------
    def _top(self, side: int) -> tuple[int, int]:
        bids, asks = self._r.feed.book(self._r.symbol, 1)
        rows = bids if side == BUY else asks
        return (int(rows[0][0]), int(rows[0][1])) if len(rows) else (0, 0)

    @property
    def best_bid(self) -> int:
        return self._top(BUY)[0]

    @property
    def best_ask(self) -> int:
        return self._top(SELL)[0]

    @property
    def bid_qty(self) -> int:
        return self._top(BUY)[1]

    @property
    def ask_qty(self) -> int:
        return self._top(SELL)[1]

    @property
    def mid(self) -> float:
        b, a = self.best_bid, self.best_ask
        return (b + a) / 2 if b and a else 0.0

    def book(self, depth: int = 5) -> BookView:
        bids, asks = self._r.feed.book(self._r.symbol, depth)
        return BookView(
            [(int(r[0]), int(r[1])) for r in bids], [(int(r[0]), int(r[1])) for r in asks]
        )

    # --- account -----------------------------------------------------------------------------
    def balances(self) -> dict[str, int]:
        """Every asset's balance in its smallest units: asks the venue (a round trip)."""
        out = {}
        for asset, b in self._r.client.balances().items():
            scale = self._r.client._core.asset_scale.get(asset, 0)
            out[asset] = int(b.total * (Decimal(10) ** scale))
        return out

    def balance(self, asset: str) -> int:
        return self.balances().get(asset, 0)

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
        """Send a new order at once (no wait); returns its id (the client order id)."""
        name = "buy" if check_order(side, qty_lots) == BUY else "sell"
        inst = self.instrument
        o = self._r.client.submit(
            self._r.symbol, name, inst.lots_to_qty(int(qty_lots)),
            None if market else inst.ticks_to_price(int(price_ticks)),
            type="market" if market else "limit", tif=tif, post_only=post_only, wait=False,
        )  # fmt: skip
        q = int(qty_lots)
        self.orders[o.cl_ord_id] = Order(
            o.cl_ord_id, _SIDE_CODE[name], int(price_ticks), q, q, "pending", self.now_ns
        )
        self._r.by_cl[o.cl_ord_id] = o
        return o.cl_ord_id

    def buy(self, qty_lots: int, price_ticks: int = 0, **kw: Any) -> int:
        return self.submit(BUY, qty_lots, price_ticks, **kw)

    def sell(self, qty_lots: int, price_ticks: int = 0, **kw: Any) -> int:
        return self.submit(SELL, qty_lots, price_ticks, **kw)

    def cancel(self, order_id: int) -> None:
        o = self._r.by_cl.get(order_id)
        if o is not None and o.is_live:
            self._r.guard(lambda: self._r.client.cancel(o))

    def amend(self, order_id: int, price_ticks: int = 0, qty_lots: int = 0) -> None:
        o = self._r.by_cl.get(order_id)
        if o is None or not o.is_live:
            return
        inst = self.instrument
        price = inst.ticks_to_price(price_ticks) if price_ticks else None
        qty = inst.lots_to_qty(qty_lots) if qty_lots else None
        self._r.guard(lambda: self._r.client.amend(o, price=price, qty=qty))

    def cancel_all(self) -> None:
        for oid in list(self.orders):
            self.cancel(oid)

    def schedule(self, at_ns: int) -> None:
        heapq.heappush(self._r.timers, max(int(at_ns), self.now_ns))


class LiveRunner:
    """Runs a ``Strategy`` against a live venue: feed packets -> ``on_trade`` / ``on_book``,
    execution reports -> ``on_order_update``, timers -> ``on_timer``. One thread; each loop
    turn polls the feed and the order-entry socket (1 ms)."""

    def __init__(
        self,
        strategy: Strategy,
        client: Client,
        feed: FeedClient,
        symbol: str,
        *,
        timer_ns: int = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.strategy = strategy
        self.client = client
        self.feed = feed
        self.symbol = symbol
        self.instrument = client.instrument(symbol)
        self.timer_ns = timer_ns
        self.timers: list[int] = []
        self.by_cl: dict[int, ClientOrder] = {}
        self.errors: list[str] = []  # venue errors of cancels / amends (answered, not raised)
        self.ctx = LiveContext(self, params)
        self._pending: list[tuple[ClientOrder, p.ExecutionReport]] = []
        client.on_report(self._report)
        feed.on_trade = self._trades
        feed.on_book = self._book

    # --- plumbing ----------------------------------------------------------------------------
    def guard(self, call: Any) -> None:
        """A cancel or amend: a reject is an order update, not an exception in the strategy."""
        from gateway.orders import VenueError

        try:
            call()
        except VenueError as e:
            self.errors.append(str(e))

    def _report(self, order: ClientOrder, rep: p.ExecutionReport) -> None:
        if order.cl_ord_id in self.by_cl:
            self._pending.append((order, rep))

    def _trades(self, u: Update) -> None:
        if u.symbol != self.symbol or u.snapshot:
            return
        self.ctx.now_ns = time.time_ns()
        for r in u.records.tolist() if hasattr(u.records, "tolist") else []:
            rec = dict(zip(u.records.dtype.names or (), r, strict=True))
            trade = Trade(int(rec["ts_ns"]), int(rec["price_ticks"]), int(rec["qty_lots"]),
                          BUY if int(rec["side"]) == 1 else SELL)  # fmt: skip
            self.strategy.on_trade(self.ctx, trade)

    def _book(self, u: Update) -> None:
        if u.symbol == self.symbol:
            self.ctx.now_ns = time.time_ns()
            self.strategy.on_book(self.ctx)

    def _updates(self) -> None:
        ctx = self.ctx
        while self._pending:
            order, rep = self._pending.pop(0)
            kind = _KINDS.get(rep.exec_type)
            if kind is None:
                continue
            side = _SIDE_CODE[rep.side]
            qty = rep.last_lots if kind == "fill" else rep.qty_lots
            price = rep.last_price_ticks if kind == "fill" else rep.price_ticks
            if kind == "fill":
                ctx.position += qty if side == BUY else -qty
            mine = ctx.orders.get(order.cl_ord_id)
            if mine is not None:
                mine.status = "open"
                mine.leaves_lots = rep.leaves_lots
                mine.price_ticks = rep.price_ticks or mine.price_ticks
                if kind in ("rejected", "cancelled") or rep.leaves_lots == 0:
                    del ctx.orders[order.cl_ord_id]
            reason = R.name(rep.reason) if rep.reason else ""
            ctx.now_ns = time.time_ns()
            self.strategy.on_order_update(ctx, OrderUpdate(
                kind, order.cl_ord_id, side, price, qty, rep.leaves_lots, reason, rep.ts_ns,
                rep.liquidity, rep.fee,
            ))  # fmt: skip

    # --- the loop ----------------------------------------------------------------------------
    def run(self, seconds: float) -> None:
        """``on_start``, then events for ``seconds`` of wall clock, then ``on_stop`` (the
        strategy's orders stay unless it cancels them there)."""
        ctx = self.ctx
        ctx.now_ns = time.time_ns()
        end = ctx.now_ns + int(seconds * 1e9)
        self.feed.wait_synced(10.0)
        self.strategy.on_start(ctx)
        tick = ctx.now_ns + self.timer_ns if self.timer_ns else 0  # the periodic timer
        while True:
            self.feed.poll(0.001)
            self.client.poll(0.0)
            self._updates()
            ctx.now_ns = now = time.time_ns()
            due = bool(tick) and now >= tick
            if due:
                tick = now + self.timer_ns
            while self.timers and self.timers[0] <= now:  # the ones asked with schedule()
                heapq.heappop(self.timers)
                due = True
            if due:
                self.strategy.on_timer(ctx)
                self._updates()
            if now >= end:
                break
        self.client.poll(0.05)
        self._updates()
        self.strategy.on_stop(ctx)
