"""Client library for the order-entry gateway: Decimals in, Decimals out, typed exceptions.

``Client.connect(endpoint, api_key)`` opens a ZeroMQ DEALER socket (linger 0), logs on, and
fetches the venue's instruments, so that every call can take a symbol and exact Decimal (or
string) prices and sizes; they are converted to ticks and lots with the instrument's grid, and a
value off the grid raises ``OffGridError`` before anything is sent. Floats are refused.

The client is synchronous and single-threaded (no background thread): incoming messages are
processed whenever a method waits for a reply, or when you call ``poll(timeout)``. A Heartbeat is
sent from inside those calls once ``heartbeat_ms`` has passed since the last message sent, so a
client that stays idle for long (more than ``heartbeat_ms``) must call ``poll()`` or
``heartbeat()`` now and then, or the venue ends the session (and, with cancel-on-disconnect,
cancels its orders). Every wait is bounded by ``timeout``: a missing reply raises
``RequestTimeout``, never hangs. A ``Client`` must not be shared between threads.

``Order`` objects are live views: their status, fills, average price and fees update as the
venue's ExecutionReports arrive (during any later call or ``poll``). Rejects raise subclasses of
``VenueError`` chosen by the reason code (``exception_for``). ``reconnect()`` logs on again on a
new socket and resends every order that was sent but never acknowledged, with the same
cl_ord_id: the venue answers a resent live cl_ord_id with that order's state
(``duplicate=True``) instead of creating it twice.

``AsyncClient`` offers the same calls as coroutines over ``zmq.asyncio``. Both share one
sans-I/O core (``_Core``) that builds requests and applies replies; the two classes only move
frames and wait.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

import msgspec
import zmq
import zmq.asyncio

from gateway import protocol as p
from matching import reasons
from matching.instruments import DecimalLike, Instrument

__all__ = [
    "AccountDisabled",
    "AsyncClient",
    "Balance",
    "Client",
    "Fill",
    "InsufficientFunds",
    "InvalidOrder",
    "LiveOrder",
    "LogonRejected",
    "Order",
    "Position",
    "RateLimited",
    "RequestTimeout",
    "RiskRejected",
    "SessionEnded",
    "UnknownOrder",
    "VenueError",
    "exception_for",
]

T = TypeVar("T")
Side = Literal["buy", "sell"]
InstrumentRef = str | int | Instrument


# --- exceptions ----------------------------------------------------------------------------
class VenueError(Exception):
    """The venue refused something. ``code`` is the reason code (``matching.reasons``), ``text``
    the venue's explanation; ``order`` is the rejected ``Order`` when there is one."""

    def __init__(self, code: int, text: str = "", order: Order | None = None) -> None:
        self.code = code
        self.text = text
        self.order = order
        super().__init__(f"{reasons.explain(code)}" + (f" ({text})" if text else ""))


class LogonRejected(VenueError):
    """Logon refused (unknown API key, wrong protocol version, ...)."""


class InvalidOrder(VenueError):
    """Refused by the gateway (1xxx) or by matching (3xxx): fix the request."""


class UnknownOrder(InvalidOrder):
    """3013 UNKNOWN_ORDER: no live order of this account has this id (filled, cancelled...)."""


class RiskRejected(VenueError):
    """Refused by the risk check (2xxx) for a reason without a more specific class."""


class InsufficientFunds(RiskRejected):
    """2002 INSUFFICIENT_BALANCE or 2003 INSUFFICIENT_MARGIN."""


class AccountDisabled(RiskRejected):
    """2004 ACCOUNT_DISABLED: only cancels are accepted."""


class RateLimited(VenueError):
    """The gateway throttled the session: slow down and retry."""


class SessionEnded(VenueError):
    """The venue ended the session (heartbeats stopped, rate abuse, logout) or never had one
    (NOT_LOGGED_ON): ``reconnect()``."""


class RequestTimeout(TimeoutError):
    """No reply from the venue within the timeout (the request may or may not have arrived)."""


def _is_rate_code(code: int) -> bool:
    """True for the gateway's throttle codes: any reason whose name contains ``RATE``, so the
    client needs no change when the gateway adds (or renumbers, before publishing) them."""
    name = reasons.name(code)
    return "RATE" in name and not name.startswith("REASON_")


def exception_for(code: int) -> type[VenueError]:
    """The exception class for a reject reason code. O(1)."""
    name = reasons.name(code)
    if name in ("SESSION_ENDED", "NOT_LOGGED_ON"):
        return SessionEnded
    if name in ("BAD_CREDENTIALS", "UNSUPPORTED_VERSION"):
        return LogonRejected
    if code in (reasons.INSUFFICIENT_BALANCE, reasons.INSUFFICIENT_MARGIN):
        return InsufficientFunds
    if code == reasons.ACCOUNT_DISABLED:
        return AccountDisabled
    if code == reasons.UNKNOWN_ORDER:
        return UnknownOrder
    if _is_rate_code(code):
        return RateLimited
    stage = code // 1000
    if stage == 2:
        return RiskRejected
    if stage in (1, 3):
        return InvalidOrder
    return VenueError


def _code(name: str) -> int:
    """A gateway reason code by name (0 if this venue version does not define it)."""
    return int(getattr(reasons, name, 0))


def _raise(code: int, text: str, order: Order | None = None) -> None:
    raise exception_for(code)(code, text, order)


# --- values ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fill:
    """One execution of an order: exact size and price, and its fee (negative: a rebate)."""

    qty: Decimal
    price: Decimal
    fee_units: int  # in the settlement asset's smallest unit
    fee: Decimal | None  # the same in the asset (None while its scale is unknown)
    liquidity: str  # "maker" or "taker"
    trade_id: int
    ts_ns: int


@dataclass(eq=False)
class Order:
    """An order sent by this client (or reported to it). Updated in place as ExecutionReports
    arrive. ``status`` is ``"pending_new"`` until the venue's first report, then the venue's:
    new, partially_filled, filled, cancelled, rejected, pending (an untriggered stop)."""

    cl_ord_id: int
    instrument: Instrument = field(repr=False)
    side: Side
    qty: Decimal
    price: Decimal | None
    type: str = "limit"
    tif: str = "gtc"
    status: str = "pending_new"
    order_id: int = 0
    cum_qty: Decimal = Decimal(0)
    leaves_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fills: list[Fill] = field(default_factory=list)
    fee_units: int = 0
    fee: Decimal | None = None  # sum of the fills' fees in the settlement asset
    reason: int = 0
    text: str = ""
    duplicate: bool = False  # the venue answered a resend: this was already live
    reports: list[p.ExecutionReport] = field(default_factory=list, repr=False)
    _sent: p.NewOrder | None = field(default=None, repr=False)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def __repr__(self) -> str:
        avg = f" avg={self.avg_price}" if self.avg_price is not None else ""
        why = f" reason={self.reason}" if self.reason else ""
        return (
            f"<Order {self.cl_ord_id} #{self.order_id} {self.side} {self.qty} {self.symbol}"
            f" @ {self.price} {self.status} filled={self.cum_qty}{avg}{why}>"
        )

    @property
    def acknowledged(self) -> bool:
        """True once the venue has answered this order (accepted or rejected)."""
        return bool(self.reports)

    @property
    def is_live(self) -> bool:
        return self.status in ("pending_new", "new", "partially_filled", "pending")

    @property
    def is_done(self) -> bool:
        return self.status in ("filled", "cancelled", "rejected")


@dataclass(frozen=True)
class LiveOrder:
    """The venue's view of one live order (``open_orders``, ``order_status``)."""

    order_id: int
    cl_ord_id: int
    symbol: str
    side: str
    type: str
    tif: str
    price: Decimal
    qty: Decimal
    leaves_qty: Decimal
    trigger: Decimal | None


@dataclass(frozen=True)
class Balance:
    asset: str
    total: Decimal
    held: Decimal
    available: Decimal


@dataclass(frozen=True)
class Position:
    """Net position (positive long). ``avg_entry`` is cost / qty rounded to the decimal
    context's precision (the exact integers are ``qty_lots`` and ``cost``: ticks x lots)."""

    symbol: str
    qty: Decimal
    avg_entry: Decimal | None
    unrealised: Decimal | None
    qty_lots: int
    cost: int
    unrealised_units: int


# --- the sans-I/O core ---------------------------------------------------------------------
@dataclass
class _Op(Generic[T]):
    """One client operation: the messages to send, when it is complete, and its result (which
    raises on a reject)."""

    msgs: list[p._In]
    done: Callable[[], bool]
    result: Callable[[], T]


_DEFAULT_SIDES = ("both", "buy", "sell")


class _Core:
    """Protocol state of one client, without I/O: request ids, known instruments and orders,
    replies by request id. Both clients feed it every frame they receive (``handle``)."""

    def __init__(self) -> None:
        self.codec = p.client_codec()
        self._req = itertools.count(1)
        self._next_cl = 1
        self.instruments: dict[int, Instrument] = {}
        self.by_symbol: dict[str, Instrument] = {}
        self.asset_scale: dict[str, int] = {}
        self.orders: dict[int, Order] = {}  # by cl_ord_id
        self._by_order_id: dict[int, Order] = {}
        self.replies: dict[int, list[Any]] = {}  # req -> messages, for requests awaited
        self.account = 0
        self.session = 0
        self.venue_heartbeat_ms = 0
        self._late: set[int] = set()  # requests whose reply is no longer awaited
        self.rate_limited = 0  # throttle rejects that named no request
        self.session_ended = False
        self.unsolicited: list[Any] = []  # messages matching no request (bounded, for debugging)
        self.bad_frames = 0

    # --- helpers -------------------------------------------------------------------------
    def req(self) -> int:
        r = next(self._req)
        self.replies[r] = []
        return r

    def instrument(self, ref: InstrumentRef) -> Instrument:
        if isinstance(ref, Instrument):
            return ref
        if isinstance(ref, bool):
            raise TypeError("instrument must be a symbol or an id")
        if isinstance(ref, int):
            if ref in self.instruments:
                return self.instruments[ref]
        elif ref in self.by_symbol:
            return self.by_symbol[ref]
        raise KeyError(f"unknown instrument {ref!r}: the venue lists {sorted(self.by_symbol)}")

    def _units_to_asset(self, asset: str, units: int) -> Decimal | None:
        scale = self.asset_scale.get(asset)
        return None if scale is None else Decimal(units).scaleb(-scale)

    @staticmethod
    def _settle_asset(inst: Instrument) -> str:
        return inst.settlement_asset or inst.quote_asset

    def first_error(self, r: int) -> tuple[int, str] | None:
        for m in self.replies.get(r, ()):
            if isinstance(m, p.BusinessReject | p.CancelReject | p.LogonReject):
                return m.reason, m.text
            if isinstance(m, p.MassCancelAck) and m.reason:
                return m.reason, m.text
        return None

    def reply_of(self, r: int, kind: type[T]) -> T | None:
        for m in self.replies.get(r, ()):
            if isinstance(m, kind):
                return m
        return None

    def finish(self, r: int) -> list[Any]:
        return self.replies.pop(r, [])

    def abandon(self, op: _Op[Any]) -> None:
        """A wait gave up: its replies, if they ever come, are dropped."""
        for m in op.msgs:
            if m.req in self.replies:
                del self.replies[m.req]
                self._late.add(m.req)

    def check(self, op: _Op[Any], rate0: int, timed_out: bool, limit: float) -> None:
        """Raise what a wait that is not done yet must raise: SessionEnded when the venue ended
        the session; at the deadline RateLimited when a throttle reject naming no request came
        during the wait (the venue's throttle rejects carry no ``req``), else RequestTimeout."""
        what = type(op.msgs[0]).__name__ if op.msgs else "the condition"
        if self.session_ended and not (op.msgs and isinstance(op.msgs[0], p.Logout)):
            self.abandon(op)
            code = _code("SESSION_ENDED")
            raise SessionEnded(code, f"the venue ended the session before answering {what}")
        if timed_out:
            self.abandon(op)
            if self.rate_limited > rate0:
                raise RateLimited(_code("RATE_LIMITED"), f"{what} throttled by the venue")
            raise RequestTimeout(f"no answer to {what} within {limit} s")

    # --- incoming ------------------------------------------------------------------------
    def handle(self, frame: bytes) -> None:
        try:
            msg = self.codec.decode(frame)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.bad_frames += 1
            return
        if isinstance(msg, p.ExecutionReport):
            self._apply_report(msg)
        elif isinstance(msg, p.InstrumentsReply):
            self._apply_instruments(msg)
        elif isinstance(msg, p.BalancesReply):
            for b in msg.balances:
                self.asset_scale[b.asset] = b.scale
        req = getattr(msg, "req", 0)
        if isinstance(msg, p.BusinessReject) and not req:
            if _is_rate_code(msg.reason):
                self.rate_limited += 1
            elif exception_for(msg.reason) is SessionEnded:
                self.session_ended = True
        if req and req in self._late:
            self._late.discard(req)  # the answer to a request given up on
        elif req and req in self.replies:
            self.replies[req].append(msg)
        elif not isinstance(msg, p.ExecutionReport | p.HeartbeatAck):
            self.unsolicited.append(msg)
            del self.unsolicited[:-100]

    def _apply_instruments(self, msg: p.InstrumentsReply) -> None:
        for info in msg.instruments:
            inst = Instrument(
                id=info.id,
                symbol=info.symbol,
                kind="spot" if info.kind == "option" else info.kind,
                tick_size=Decimal(info.tick_size),
                lot_size=Decimal(info.lot_size),
                min_qty_lots=max(info.min_qty_lots, 1),
                max_qty_lots=info.max_qty_lots,
                base_asset=info.base_asset,
                quote_asset=info.quote_asset,
                settlement_asset=info.settlement_asset,
                expiry_ns=1 if info.kind == "future" else 0,
            )
            if info.kind == "option":
                # the wire does not carry strike and expiry: keep the kind as a label only
                object.__setattr__(inst, "kind", "option")
            self.instruments[inst.id] = inst
            self.by_symbol[inst.symbol] = inst

    def _order_for(self, rep: p.ExecutionReport) -> Order | None:
        order = self.orders.get(rep.cl_ord_id) if rep.cl_ord_id else None
        if order is None and rep.order_id:
            order = self._by_order_id.get(rep.order_id)
        if order is None and rep.cl_ord_id and rep.instrument in self.instruments:
            # an order of this account that another session (or an earlier client) sent
            inst = self.instruments[rep.instrument]
            order = Order(
                cl_ord_id=rep.cl_ord_id,
                instrument=inst,
                side=rep.side,
                qty=inst.lots_to_qty(rep.qty_lots),
                price=inst.ticks_to_price(rep.price_ticks) if rep.price_ticks else None,
            )
            self.orders[rep.cl_ord_id] = order
        return order

    def _apply_report(self, rep: p.ExecutionReport) -> None:
        order = self._order_for(rep)
        if order is None:
            return
        inst = order.instrument
        was_acked = order.acknowledged and order.status != "rejected"
        order.reports.append(rep)
        del order.reports[:-1000]
        if rep.order_id:
            order.order_id = rep.order_id
            self._by_order_id[rep.order_id] = order
        if rep.duplicate:
            order.duplicate = True
        rejected_request = rep.exec_type == "rejected" and was_acked
        if rep.exec_type == "rejected" or rep.reason:
            order.reason = rep.reason
            order.text = rep.text
        if not (rejected_request and rep.status == "rejected"):
            order.status = rep.status
        if rep.qty_lots:
            order.qty = inst.lots_to_qty(rep.qty_lots)
        if rep.price_ticks and order.type in ("limit", "stop_limit"):
            order.price = inst.ticks_to_price(rep.price_ticks)
        order.cum_qty = inst.lots_to_qty(rep.cum_lots)
        order.leaves_qty = inst.lots_to_qty(rep.leaves_lots)
        if rep.avg_price:
            order.avg_price = Decimal(rep.avg_price)
        seen = {f.trade_id for f in order.fills if f.trade_id}
        if rep.last_lots and not rep.duplicate and (not rep.trade_id or rep.trade_id not in seen):
            asset = self._settle_asset(inst)
            order.fills.append(
                Fill(
                    qty=inst.lots_to_qty(rep.last_lots),
                    price=inst.ticks_to_price(rep.last_price_ticks),
                    fee_units=rep.fee,
                    fee=self._units_to_asset(asset, rep.fee),
                    liquidity=rep.liquidity,
                    trade_id=rep.trade_id,
                    ts_ns=rep.ts_ns,
                )
            )
            order.fee_units += rep.fee
            order.fee = self._units_to_asset(asset, order.fee_units)
        if order.is_done:
            self._by_order_id.pop(order.order_id, None)

    # --- operations ----------------------------------------------------------------------
    def logon(
        self, api_key: str, heartbeat_ms: int, cod: bool, cod_keep_gtc: bool
    ) -> _Op[p.LogonAck]:
        self.session_ended = False
        r = self.req()
        msg = p.Logon(
            req=r,
            api_key=api_key,
            heartbeat_ms=heartbeat_ms,
            cancel_on_disconnect=cod,
            cod_keep_gtc=cod_keep_gtc,
        )

        def result() -> p.LogonAck:
            msgs = self.finish(r)
            for m in msgs:
                if isinstance(m, p.LogonAck):
                    self.account, self.session = m.account, m.session
                    self.session_ended = False
                    self.venue_heartbeat_ms = m.heartbeat_ms
                    return m
            for m in msgs:
                if isinstance(m, p.LogonReject | p.BusinessReject):
                    raise LogonRejected(m.reason, m.text)
            raise LogonRejected(0, "no logon answer")  # pragma: no cover

        return _Op([msg], lambda: bool(self.replies[r]), result)

    def logout(self) -> _Op[None]:
        """Logout: the venue answers by ending the session (a SESSION_ENDED reject)."""
        msg = p.Logout(req=self.req())
        self.finish(msg.req)
        return _Op([msg], lambda: self.session_ended, lambda: None)

    def _query(self, msg: p._In, kind: type[T]) -> _Op[T]:
        r = msg.req

        def done() -> bool:
            return self.reply_of(r, kind) is not None or self.first_error(r) is not None

        def result() -> T:
            got = self.reply_of(r, kind)
            err = self.first_error(r)
            self.finish(r)
            if got is None:
                assert err is not None
                _raise(*err)
            assert got is not None
            return got

        return _Op([msg], done, result)

    def fetch_instruments(self) -> _Op[dict[str, Instrument]]:
        op = self._query(p.Instruments(req=self.req()), p.InstrumentsReply)
        res = op.result
        return _Op(op.msgs, op.done, lambda: (res(), dict(self.by_symbol))[1])

    def new_order(
        self,
        ref: InstrumentRef,
        side: str,
        qty: DecimalLike,
        price: DecimalLike | None,
        *,
        type: str = "limit",
        tif: str = "gtc",
        trigger: DecimalLike | None = None,
        display: DecimalLike | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        stp: str = "none",
        expire_ns: int = 0,
        wait: bool = True,
    ) -> _Op[Order]:
        inst = self.instrument(ref)
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        # Every conversion happens before anything is built or sent: OffGridError propagates.
        qty_lots = inst.qty_to_lots(qty)
        price_ticks = inst.price_to_ticks(price) if price is not None else 0
        trigger_ticks = inst.price_to_ticks(trigger) if trigger is not None else 0
        display_lots = inst.qty_to_lots(display) if display is not None else 0
        if type in ("limit", "stop_limit") and price is None:
            raise ValueError(f"a {type} order needs a price")
        r = self.req()
        cl = self._next_cl
        msg = p.NewOrder(
            req=r,
            cl_ord_id=cl,
            instrument=inst.id,
            side=side,  # type: ignore[arg-type]
            qty_lots=qty_lots,
            price_ticks=price_ticks,
            type=type,  # type: ignore[arg-type]
            tif=tif,  # type: ignore[arg-type]
            trigger_ticks=trigger_ticks,
            display_lots=display_lots,
            expire_ns=expire_ns,
            post_only=post_only,
            reduce_only=reduce_only,
            stp=stp,  # type: ignore[arg-type]
        )
        self._next_cl += 1
        order = Order(
            cl_ord_id=cl,
            instrument=inst,
            side=side,  # type: ignore[arg-type]
            qty=inst.lots_to_qty(qty_lots),
            price=inst.ticks_to_price(price_ticks) if price is not None else None,
            type=type,
            tif=tif,
            leaves_qty=inst.lots_to_qty(qty_lots),
            _sent=msg,
        )
        self.orders[cl] = order
        if not wait:
            self.replies.pop(r, None)
            return _Op([msg], lambda: True, lambda: order)

        def done() -> bool:
            return order.acknowledged or self.first_error(r) is not None

        def result() -> Order:
            err = self.first_error(r)
            self.finish(r)
            if not order.acknowledged and err is not None:
                order.status, order.reason, order.text = "rejected", err[0], err[1]
                order._sent = None
            if order.status == "rejected":
                _raise(order.reason, order.text, order)
            return order

        return _Op([msg], done, result)

    def unacknowledged(self) -> list[Order]:
        """Orders sent but never answered, in cl_ord_id order."""
        return [
            o
            for o in sorted(self.orders.values(), key=lambda o: o.cl_ord_id)
            if o._sent is not None and not o.acknowledged
        ]

    def resend(self, order: Order) -> _Op[Order]:
        assert order._sent is not None
        r = self.req()
        order._sent.req = r
        return _Op(
            [order._sent],
            lambda: order.acknowledged or self.first_error(r) is not None,
            lambda: (self.finish(r), order)[1],
        )

    def _ids(self, order: Order | int) -> dict[str, int]:
        if isinstance(order, Order):
            if order.order_id:
                return {"order_id": order.order_id}
            return {"cl_ord_id": order.cl_ord_id}
        return {"order_id": int(order)}

    def cancel(self, order: Order | int) -> _Op[Order | None]:
        r = self.req()
        msg = p.Cancel(req=r, **self._ids(order))
        tracked = order if isinstance(order, Order) else self._by_order_id.get(order)
        before = len(tracked.reports) if tracked else 0

        def done() -> bool:
            if self.replies[r]:
                return True
            return tracked is not None and len(tracked.reports) > before and tracked.is_done

        def result() -> Order | None:
            err = self.first_error(r)
            msgs = self.finish(r)
            if err is None:
                for m in msgs:
                    if isinstance(m, p.ExecutionReport) and m.exec_type == "rejected":
                        err = (m.reason, m.text)
            if err is not None:
                _raise(*err, tracked)
            return tracked

        return _Op([msg], done, result)

    def amend(self, order: Order, price: DecimalLike | None, qty: DecimalLike | None) -> _Op[Order]:
        inst = order.instrument
        price_ticks = inst.price_to_ticks(price) if price is not None else 0
        qty_lots = inst.qty_to_lots(qty) if qty is not None else 0
        if not price_ticks and not qty_lots:
            raise ValueError("amend needs a new price or a new quantity")
        r = self.req()
        msg = p.Amend(req=r, price_ticks=price_ticks, qty_lots=qty_lots, **self._ids(order))
        before = len(order.reports)

        def done() -> bool:
            if self.replies[r]:
                return True
            new = order.reports[before:]
            return bool(new) and (
                any(m.exec_type in ("amended", "rejected") for m in new) or order.is_done
            )

        def result() -> Order:
            err = self.first_error(r)
            msgs = self.finish(r)
            if err is None:
                for m in msgs:
                    if isinstance(m, p.ExecutionReport) and m.exec_type == "rejected":
                        err = (m.reason, m.text)
            if err is not None:
                _raise(*err, order)
            return order

        return _Op([msg], done, result)

    def mass_cancel(self, ref: InstrumentRef | None, side: str) -> _Op[list[Order]]:
        """MassCancel, answered by a MassCancelAck after the cancel reports. An OpenOrders
        request follows as a barrier, in case no ack comes: the venue answers one session's
        messages in order, so once the barrier's reply is in, so is everything before it."""
        if side not in _DEFAULT_SIDES:
            raise ValueError(f"side must be one of {_DEFAULT_SIDES}, not {side!r}")
        iid = self.instrument(ref).id if ref is not None else -1
        r = self.req()
        barrier = self.req()
        msgs: list[p._In] = [
            p.MassCancel(req=r, instrument=iid, side=side),  # type: ignore[arg-type]
            p.OpenOrders(req=barrier, instrument=iid),
        ]

        def done() -> bool:
            return (
                bool(self.replies[barrier])
                or self.reply_of(r, p.MassCancelAck) is not None
                or self.first_error(r) is not None
            )

        def result() -> list[Order]:
            err = self.first_error(r)
            got = self.finish(r)
            if not self.finish(barrier):
                self._late.add(barrier)  # still to come: dropped on arrival
            if err is not None:
                _raise(*err)
            out: list[Order] = []
            for m in got:
                if isinstance(m, p.ExecutionReport) and m.exec_type == "cancelled":
                    o = self._order_for(m)
                    if o is not None and o not in out:
                        out.append(o)
            return out

        return _Op(msgs, done, result)

    def _live(self, s: p.OrderState) -> LiveOrder:
        inst = self.instruments.get(s.instrument)
        if inst is None:
            raise KeyError(f"venue reported unknown instrument id {s.instrument}")
        return LiveOrder(
            order_id=s.order_id,
            cl_ord_id=s.cl_ord_id,
            symbol=inst.symbol,
            side=s.side,
            type=s.type,
            tif=s.tif,
            price=inst.ticks_to_price(s.price_ticks),
            qty=inst.lots_to_qty(s.qty_lots),
            leaves_qty=inst.lots_to_qty(s.leaves_lots),
            trigger=inst.ticks_to_price(s.trigger_ticks) if s.trigger_ticks else None,
        )

    def order_status(self, order: Order | int) -> _Op[LiveOrder | None]:
        op = self._query(p.OrderStatus(req=self.req(), **self._ids(order)), p.OrderStatusReply)
        res = op.result

        def result() -> LiveOrder | None:
            reply = res()
            return None if reply.order is None else self._live(reply.order)

        return _Op(op.msgs, op.done, result)

    def open_orders(self, ref: InstrumentRef | None) -> _Op[list[LiveOrder]]:
        iid = self.instrument(ref).id if ref is not None else -1
        op = self._query(p.OpenOrders(req=self.req(), instrument=iid), p.OpenOrdersReply)
        res = op.result
        return _Op(op.msgs, op.done, lambda: [self._live(s) for s in res().orders])

    def balances(self) -> _Op[dict[str, Balance]]:
        op = self._query(p.Balances(req=self.req()), p.BalancesReply)
        res = op.result

        def result() -> dict[str, Balance]:
            out = {}
            for b in res().balances:
                d = -b.scale
                out[b.asset] = Balance(
                    asset=b.asset,
                    total=Decimal(b.total).scaleb(d),
                    held=Decimal(b.held).scaleb(d),
                    available=Decimal(b.available).scaleb(d),
                )
            return out

        return _Op(op.msgs, op.done, result)

    def positions(self) -> _Op[dict[str, Position]]:
        op = self._query(p.Positions(req=self.req()), p.PositionsReply)
        res = op.result

        def result() -> dict[str, Position]:
            out = {}
            for line in res().positions:
                inst = self.instruments.get(line.instrument)
                if inst is None:
                    continue
                avg = None
                if line.qty_lots:
                    avg = Decimal(line.cost) / Decimal(line.qty_lots) * inst.tick_size
                out[inst.symbol] = Position(
                    symbol=inst.symbol,
                    qty=inst.lots_to_qty(line.qty_lots),
                    avg_entry=avg,
                    unrealised=self._units_to_asset(self._settle_asset(inst), line.unrealised),
                    qty_lots=line.qty_lots,
                    cost=line.cost,
                    unrealised_units=line.unrealised,
                )
            return out

        return _Op(op.msgs, op.done, result)

    def seed_from_open_orders(self, live: list[LiveOrder]) -> None:
        """Start cl_ord_ids above every live order's, so that a new client of an account that
        still has live orders never reuses one (the venue would answer 'duplicate')."""
        top = max((o.cl_ord_id for o in live), default=0)
        self._next_cl = max(self._next_cl, top + 1)


# --- the synchronous client ----------------------------------------------------------------
def _curve(
    sock: zmq.Socket[Any],
    server_key: bytes | str | None,
    keypair: tuple[bytes, bytes] | None,
) -> None:
    if server_key is None:
        return
    public, secret = keypair if keypair is not None else zmq.curve_keypair()
    sock.curve_serverkey = server_key.encode() if isinstance(server_key, str) else server_key
    sock.curve_publickey = public
    sock.curve_secretkey = secret


class Client:
    """A synchronous session with the venue. Build with ``Client.connect``."""

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        heartbeat_ms: int = 1000,
        cancel_on_disconnect: bool = True,
        cod_keep_gtc: bool = False,
        curve_server_key: bytes | str | None = None,
        curve_keypair: tuple[bytes, bytes] | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        """Not connected yet: use ``Client.connect`` (or call ``open()``)."""
        self.endpoint = endpoint
        self.timeout = timeout
        self.heartbeat_ms = heartbeat_ms
        self._api_key = api_key
        self._cod = cancel_on_disconnect
        self._cod_keep_gtc = cod_keep_gtc
        self._curve = (curve_server_key, curve_keypair)
        self._ctx = context or zmq.Context.instance()
        self._core = _Core()
        self._sock: zmq.Socket[Any] | None = None
        self._last_send = 0.0
        self.logged_on = False

    @classmethod
    def connect(
        cls,
        endpoint: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        heartbeat_ms: int = 1000,
        cancel_on_disconnect: bool = True,
        cod_keep_gtc: bool = False,
        curve_server_key: bytes | str | None = None,
        curve_keypair: tuple[bytes, bytes] | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> Client:
        """Connect, log on (``LogonRejected`` on a bad key), fetch the instruments and the
        account's live orders. ``RequestTimeout`` if the venue does not answer in ``timeout``
        seconds. CURVE: pass the venue's public key (z85) and optionally this client's
        ``(public, secret)`` keypair (a fresh one otherwise)."""
        c = cls(
            endpoint,
            api_key,
            timeout=timeout,
            heartbeat_ms=heartbeat_ms,
            cancel_on_disconnect=cancel_on_disconnect,
            cod_keep_gtc=cod_keep_gtc,
            curve_server_key=curve_server_key,
            curve_keypair=curve_keypair,
            context=context,
        )
        try:
            c.open()
        except BaseException:
            c.close()
            raise
        return c

    # --- plumbing --------------------------------------------------------------------------
    def _new_socket(self) -> zmq.Socket[Any]:
        sock = self._ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.sndtimeo = max(int(self.timeout * 1000), 0)
        _curve(sock, *self._curve)
        sock.connect(self.endpoint)
        return sock

    def open(self) -> None:
        """Open the socket, log on, fetch instruments, balances (for the assets' scales) and
        open orders (to start cl_ord_ids above any live one)."""
        self._sock = self._new_socket()
        self._logon()
        self._run(self._core.fetch_instruments())
        self.balances()
        self._core.seed_from_open_orders(self.open_orders())

    def _logon(self) -> None:
        c = self._core
        self._run(c.logon(self._api_key, self.heartbeat_ms, self._cod, self._cod_keep_gtc))
        self.logged_on = True

    def _send(self, msg: p._In) -> None:
        if self._sock is None:
            raise ConnectionError("client is closed")
        try:
            self._sock.send(self._core.codec.encode(msg))
        except zmq.Again:
            raise RequestTimeout(f"could not send {type(msg).__name__} in time") from None
        self._last_send = time.monotonic()

    def _drain(self) -> int:
        assert self._sock is not None
        n = 0
        while True:
            try:
                frame = self._sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return n
            self._core.handle(frame)
            n += 1

    def _heartbeat_due(self) -> float:
        """Seconds until the next heartbeat is due (<= 0: now)."""
        return self._last_send + self.heartbeat_ms / 1000 - time.monotonic()

    def _tick(self) -> None:
        if self.logged_on and self.heartbeat_ms > 0 and self._heartbeat_due() <= 0:
            self._send(p.Heartbeat())

    def _run(self, op: _Op[T], timeout: float | None = None) -> T:
        """Send the op's messages, process incoming ones until it is done, return its result.
        Bounded by ``timeout`` (default: the client's)."""
        if self._sock is None:
            raise ConnectionError("client is closed")
        rate0 = self._core.rate_limited
        for m in op.msgs:
            self._send(m)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        self._drain()
        while not op.done():
            left = deadline - time.monotonic()
            self._core.check(op, rate0, left <= 0, limit)
            self._tick()
            step = left
            if self.logged_on and self.heartbeat_ms > 0:
                step = min(step, max(self._heartbeat_due(), 0.001))
            if self._sock.poll(max(int(step * 1000), 1), zmq.POLLIN):
                self._drain()
        self._drain()  # whatever else has arrived (e.g. the fills after an order's "new")
        return op.result()

    def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        """Process incoming messages until ``condition()`` holds (e.g. ``lambda: order.is_done``)
        or raise ``RequestTimeout``. Heartbeats go out meanwhile."""
        self._run(_Op([], condition, lambda: None), timeout)

    # --- public API ------------------------------------------------------------------------
    @property
    def account(self) -> int:
        return self._core.account

    @property
    def session(self) -> int:
        return self._core.session

    @property
    def instruments(self) -> dict[str, Instrument]:
        """Every instrument of the venue by symbol."""
        return dict(self._core.by_symbol)

    @property
    def orders(self) -> dict[int, Order]:
        """Every order this client knows, by cl_ord_id."""
        return self._core.orders

    def instrument(self, ref: InstrumentRef) -> Instrument:
        return self._core.instrument(ref)

    def poll(self, timeout: float = 0.0) -> int:
        """Process incoming messages for up to ``timeout`` seconds (returns early after the
        first batch); sends a heartbeat if one is due. Returns how many were processed."""
        if self._sock is None:
            raise ConnectionError("client is closed")
        self._tick()
        n = self._drain()
        if n or timeout <= 0:
            return n
        if self._sock.poll(max(int(timeout * 1000), 1), zmq.POLLIN):
            n = self._drain()
        self._tick()
        return n

    def heartbeat(self) -> None:
        """Send a Heartbeat now (and process whatever has arrived)."""
        self._send(p.Heartbeat())
        self._drain()

    def submit(
        self,
        instrument: InstrumentRef,
        side: str,
        qty: DecimalLike,
        price: DecimalLike | None = None,
        type: str = "limit",
        tif: str = "gtc",
        trigger: DecimalLike | None = None,
        display: DecimalLike | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        stp: str = "none",
        expire_ns: int = 0,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Order:
        """Send a new order. ``price``/``qty`` (and ``trigger``, ``display``: an iceberg's
        shown size) are Decimals or strings on the instrument's grid, else ``OffGridError``
        and nothing is sent. With ``wait`` (default) returns after the venue's first report,
        raising the reject's ``VenueError`` subclass; without, returns at once."""
        op = self._core.new_order(
            instrument,
            side,
            qty,
            price,
            type=type,
            tif=tif,
            trigger=trigger,
            display=display,
            post_only=post_only,
            reduce_only=reduce_only,
            stp=stp,
            expire_ns=expire_ns,
            wait=wait,
        )
        return self._run(op, timeout)

    def buy(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        """``submit(instrument, "buy", qty, price, **kw)``; no price: a market order."""
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return self.submit(instrument, "buy", qty, price, **kw)

    def sell(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        """``submit(instrument, "sell", qty, price, **kw)``; no price: a market order."""
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return self.submit(instrument, "sell", qty, price, **kw)

    def cancel(self, order: Order | int, timeout: float | None = None) -> Order | None:
        """Cancel an order (an ``Order`` or a venue order id); waits for the venue's answer.
        ``UnknownOrder`` when it is no longer live."""
        return self._run(self._core.cancel(order), timeout)

    def amend(
        self,
        order: Order,
        price: DecimalLike | None = None,
        qty: DecimalLike | None = None,
        timeout: float | None = None,
    ) -> Order:
        """Change price and/or total quantity; waits for the venue's answer."""
        return self._run(self._core.amend(order, price, qty), timeout)

    def mass_cancel(
        self, symbol: InstrumentRef | None = None, side: str = "both", timeout: float | None = None
    ) -> list[Order]:
        """Cancel every live order of the account (on one instrument and/or side); returns the
        orders the venue reported cancelled."""
        return self._run(self._core.mass_cancel(symbol, side), timeout)

    def order_status(self, order: Order | int, timeout: float | None = None) -> LiveOrder | None:
        """The venue's view of a live order; None when it is not live (done or unknown)."""
        return self._run(self._core.order_status(order), timeout)

    def open_orders(
        self, symbol: InstrumentRef | None = None, timeout: float | None = None
    ) -> list[LiveOrder]:
        return self._run(self._core.open_orders(symbol), timeout)

    def balances(self, timeout: float | None = None) -> dict[str, Balance]:
        return self._run(self._core.balances(), timeout)

    def positions(self, timeout: float | None = None) -> dict[str, Position]:
        return self._run(self._core.positions(), timeout)

    def reconnect(self, timeout: float | None = None) -> list[Order]:
        """Drop the socket, open a new one, log on again and resend every NewOrder sent but
        never acknowledged (same cl_ord_id: a live one comes back ``duplicate=True``). Waits
        for their answers and returns the resent orders.

        A Logout is attempted on the old socket first: if the venue still hears it, the old
        session ends at once without cancel-on-disconnect (which would cancel the account's
        orders, the new session's included, once the old session's heartbeats stop)."""
        self._abandon_socket()
        self._sock = self._new_socket()
        self._logon()
        pending = self._core.unacknowledged()
        for order in pending:
            self._run(self._core.resend(order), timeout)
        return pending

    def _abandon_socket(self) -> None:
        if self._sock is not None:
            if self.logged_on:
                with contextlib.suppress(zmq.ZMQError):
                    msg = p.Logout(req=self._core.req())
                    self._core.finish(msg.req)
                    self._sock.send(self._core.codec.encode(msg), zmq.NOBLOCK)
                self._sock.close(linger=200)  # lets the Logout leave; close does not block
            else:
                self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False

    def logout(self, timeout: float | None = None) -> None:
        """End the session (the venue answers SESSION_ENDED; its Logout keeps the account's
        orders: cancel-on-disconnect applies only when heartbeats stop), then close."""
        try:
            if self._sock is not None and self.logged_on:
                with contextlib.suppress(RequestTimeout, VenueError, zmq.ZMQError):
                    self._run(
                        self._core.logout(), min(self.timeout, 1.0) if timeout is None else timeout
                    )
        finally:
            self.close()

    def close(self) -> None:
        """Close the socket (no Logout: the venue sees the session time out)."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.logout()
        else:
            self.close()


# --- the asyncio client --------------------------------------------------------------------
class AsyncClient:
    """``Client``'s calls as coroutines over ``zmq.asyncio``. Build with
    ``await AsyncClient.connect(...)``. Messages are processed while a call awaits a reply or
    in ``await poll(timeout)``; heartbeats are sent from inside those calls."""

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        heartbeat_ms: int = 1000,
        cancel_on_disconnect: bool = True,
        cod_keep_gtc: bool = False,
        curve_server_key: bytes | str | None = None,
        curve_keypair: tuple[bytes, bytes] | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.heartbeat_ms = heartbeat_ms
        self._api_key = api_key
        self._cod = cancel_on_disconnect
        self._cod_keep_gtc = cod_keep_gtc
        self._curve = (curve_server_key, curve_keypair)
        self._ctx = context or zmq.asyncio.Context.instance()
        self._core = _Core()
        self._sock: zmq.asyncio.Socket | None = None
        self._last_send = 0.0
        self.logged_on = False

    @classmethod
    async def connect(
        cls,
        endpoint: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        heartbeat_ms: int = 1000,
        cancel_on_disconnect: bool = True,
        cod_keep_gtc: bool = False,
        curve_server_key: bytes | str | None = None,
        curve_keypair: tuple[bytes, bytes] | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> AsyncClient:
        c = cls(
            endpoint,
            api_key,
            timeout=timeout,
            heartbeat_ms=heartbeat_ms,
            cancel_on_disconnect=cancel_on_disconnect,
            cod_keep_gtc=cod_keep_gtc,
            curve_server_key=curve_server_key,
            curve_keypair=curve_keypair,
            context=context,
        )
        try:
            await c.open()
        except BaseException:
            c.close()
            raise
        return c

    def _new_socket(self) -> zmq.asyncio.Socket:
        sock = self._ctx.socket(zmq.DEALER)
        sock.linger = 0
        _curve(sock, *self._curve)
        sock.connect(self.endpoint)
        return sock

    async def open(self) -> None:
        self._sock = self._new_socket()
        await self._logon()
        await self._run(self._core.fetch_instruments())
        await self.balances()
        self._core.seed_from_open_orders(await self.open_orders())

    async def _logon(self) -> None:
        c = self._core
        await self._run(c.logon(self._api_key, self.heartbeat_ms, self._cod, self._cod_keep_gtc))
        self.logged_on = True

    async def _send(self, msg: p._In) -> None:
        if self._sock is None:
            raise ConnectionError("client is closed")
        try:
            await self._sock.send(self._core.codec.encode(msg), zmq.NOBLOCK)
        except zmq.Again:
            raise RequestTimeout(f"could not send {type(msg).__name__}") from None
        self._last_send = time.monotonic()

    async def _drain(self) -> int:
        assert self._sock is not None
        n = 0
        while await self._sock.poll(0):
            self._core.handle(await self._sock.recv())
            n += 1
        return n

    def _heartbeat_due(self) -> float:
        return self._last_send + self.heartbeat_ms / 1000 - time.monotonic()

    async def _tick(self) -> None:
        if self.logged_on and self.heartbeat_ms > 0 and self._heartbeat_due() <= 0:
            await self._send(p.Heartbeat())

    async def _run(self, op: _Op[T], timeout: float | None = None) -> T:
        if self._sock is None:
            raise ConnectionError("client is closed")
        rate0 = self._core.rate_limited
        for m in op.msgs:
            await self._send(m)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        await self._drain()
        while not op.done():
            left = deadline - time.monotonic()
            self._core.check(op, rate0, left <= 0, limit)
            await self._tick()
            step = left
            if self.logged_on and self.heartbeat_ms > 0:
                step = min(step, max(self._heartbeat_due(), 0.001))
            if await self._sock.poll(max(int(step * 1000), 1)):
                await self._drain()
        await self._drain()
        return op.result()

    async def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        await self._run(_Op([], condition, lambda: None), timeout)

    @property
    def account(self) -> int:
        return self._core.account

    @property
    def instruments(self) -> dict[str, Instrument]:
        return dict(self._core.by_symbol)

    @property
    def orders(self) -> dict[int, Order]:
        return self._core.orders

    def instrument(self, ref: InstrumentRef) -> Instrument:
        return self._core.instrument(ref)

    async def poll(self, timeout: float = 0.0) -> int:
        if self._sock is None:
            raise ConnectionError("client is closed")
        await self._tick()
        n = await self._drain()
        if n or timeout <= 0:
            return n
        if await self._sock.poll(max(int(timeout * 1000), 1)):
            n = await self._drain()
        await self._tick()
        return n

    async def heartbeat(self) -> None:
        await self._send(p.Heartbeat())
        await self._drain()

    async def submit(
        self,
        instrument: InstrumentRef,
        side: str,
        qty: DecimalLike,
        price: DecimalLike | None = None,
        type: str = "limit",
        tif: str = "gtc",
        trigger: DecimalLike | None = None,
        display: DecimalLike | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        stp: str = "none",
        expire_ns: int = 0,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Order:
        op = self._core.new_order(
            instrument,
            side,
            qty,
            price,
            type=type,
            tif=tif,
            trigger=trigger,
            display=display,
            post_only=post_only,
            reduce_only=reduce_only,
            stp=stp,
            expire_ns=expire_ns,
            wait=wait,
        )
        return await self._run(op, timeout)

    async def buy(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return await self.submit(instrument, "buy", qty, price, **kw)

    async def sell(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return await self.submit(instrument, "sell", qty, price, **kw)

    async def cancel(self, order: Order | int, timeout: float | None = None) -> Order | None:
        return await self._run(self._core.cancel(order), timeout)

    async def amend(
        self,
        order: Order,
        price: DecimalLike | None = None,
        qty: DecimalLike | None = None,
        timeout: float | None = None,
    ) -> Order:
        return await self._run(self._core.amend(order, price, qty), timeout)

    async def mass_cancel(
        self, symbol: InstrumentRef | None = None, side: str = "both", timeout: float | None = None
    ) -> list[Order]:
        return await self._run(self._core.mass_cancel(symbol, side), timeout)

    async def order_status(
        self, order: Order | int, timeout: float | None = None
    ) -> LiveOrder | None:
        return await self._run(self._core.order_status(order), timeout)

    async def open_orders(
        self, symbol: InstrumentRef | None = None, timeout: float | None = None
    ) -> list[LiveOrder]:
        return await self._run(self._core.open_orders(symbol), timeout)

    async def balances(self, timeout: float | None = None) -> dict[str, Balance]:
        return await self._run(self._core.balances(), timeout)

    async def positions(self, timeout: float | None = None) -> dict[str, Position]:
        return await self._run(self._core.positions(), timeout)

    async def reconnect(self, timeout: float | None = None) -> list[Order]:
        if self._sock is not None:
            if self.logged_on:
                with contextlib.suppress(zmq.ZMQError):
                    msg = p.Logout(req=self._core.req())
                    self._core.finish(msg.req)
                    await self._sock.send(self._core.codec.encode(msg), zmq.NOBLOCK)
                self._sock.close(linger=200)
            else:
                self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False
        self._sock = self._new_socket()
        await self._logon()
        pending = self._core.unacknowledged()
        for order in pending:
            await self._run(self._core.resend(order), timeout)
        return pending

    async def logout(self, timeout: float | None = None) -> None:
        try:
            if self._sock is not None and self.logged_on:
                with contextlib.suppress(RequestTimeout, VenueError, zmq.ZMQError):
                    t = min(self.timeout, 1.0) if timeout is None else timeout
                    await self._run(self._core.logout(), t)
        finally:
            self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.logout()
        else:
            self.close()
