"""The sans-I/O core shared by ``Client`` and ``AsyncClient``: request ids, known instruments
and orders, replies by request id. It builds requests (``_Op``: the messages to send, when the
operation is complete, and its result) and applies every frame received (``_Core.handle``); the
two clients only move frames and wait. Also ``apply_curve``: CURVE options of a client socket.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec
import zmq

from gateway import protocol as p
from gateway.curve import check_key
from gateway.orders import (
    Balance,
    FailedOver,
    Fill,
    InstrumentRef,
    LiveOrder,
    LogonRejected,
    Order,
    Position,
    RateLimited,
    RequestTimeout,
    SessionEnded,
    _code,
    _is_rate_code,
    _raise,
    exception_for,
)
from matching.instruments import DecimalLike, Instrument

T = TypeVar("T")


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
        # called with (order, report) after each report is applied (LiveRunner, user code)
        self.report_listeners: list[Callable[[Order, p.ExecutionReport], None]] = []
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

    def finish_or_raise(self, r: int, order: Order | None) -> None:
        """Close request ``r``; raise its reject (a reject message, or a rejected report among
        its replies) as the typed exception."""
        err = self.first_error(r)
        msgs = self.finish(r)
        if err is None:
            for m in msgs:
                if isinstance(m, p.ExecutionReport) and m.exec_type == "rejected":
                    err = (m.reason, m.text)
        if err is not None:
            _raise(*err, order)

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
        """Every message of one frame from the venue (packed or not)."""
        try:
            msgs = self.codec.decode_frame(frame)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.bad_frames += 1
            return
        for msg in msgs:
            self._handle(msg)

    def _handle(self, msg: object) -> None:
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
                kind=info.kind,
                tick_size=Decimal(info.tick_size),
                lot_size=Decimal(info.lot_size),
                min_qty_lots=max(info.min_qty_lots, 1),
                max_qty_lots=info.max_qty_lots,
                base_asset=info.base_asset,
                quote_asset=info.quote_asset,
                settlement_asset=info.settlement_asset,
                multiplier=Decimal(info.multiplier or "1"),
                expiry_ns=info.expiry_ns,
                strike=Decimal(info.strike) if info.strike else None,
                option_type=info.option_type or None,
                underlying=info.underlying or None,
            )
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
        for listener in self.report_listeners:
            listener(order, rep)

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
            pack=True,  # one frame for all of a wakeup's replies: fewer socket calls both ends
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

    def after_failover(self, op: _Op[Any], endpoints: list[str]) -> tuple[list[_Op[Any]], _Op[Any]]:
        """What completes ``op`` once the client has failed over (logged on again elsewhere and
        resent its unacknowledged orders): resends still needed, then an op to wait on whose
        result is ``op``'s. Only order calls are completed; anything else raises
        ``FailedOver`` (it may or may not have been executed). Sans-I/O: both clients run it."""
        if not all(isinstance(m, p.NewOrder) for m in op.msgs):
            what = type(op.msgs[0]).__name__
            raise FailedOver(f"{what} went unanswered; failed over to a venue at one of "
                             f"{endpoints}: check its effect and retry")  # fmt: skip
        orders = [self.orders[m.cl_ord_id] for m in op.msgs]  # type: ignore[attr-defined]
        resends = []
        for order, m in zip(orders, op.msgs, strict=True):
            if not order.acknowledged and order._sent is None:
                # refused by a venue it was not logged on to (a standby that had just taken
                # over): never placed anywhere, so it goes again with its cl_ord_id
                order.status, order.reason, order.text = "pending_new", 0, ""
                order._sent = m  # type: ignore[assignment]
                resends.append(self.resend(order))

        def result() -> Any:
            if len(orders) == 1 and orders[0].status == "rejected":
                _raise(orders[0].reason, orders[0].text, orders[0])
            return orders[0] if len(orders) == 1 else orders

        # the others were resent by the failover itself: their answers come from there
        return resends, _Op([], lambda: all(o.acknowledged for o in orders), result)

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
            self.finish_or_raise(r, tracked)
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
            self.finish_or_raise(r, order)
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


def apply_curve(
    sock: zmq.Socket[Any],
    server_key: bytes | str | None,
    keypair: tuple[bytes | str, bytes | str] | None,
) -> None:
    """Make ``sock`` a CURVE client of the venue whose public key is ``server_key`` (z85), with
    ``keypair`` (public, secret; z85) or a fresh one (which the venue refuses unless it allows
    any key). Before ``connect``. No ``server_key``: plaintext (a keypair alone is an error)."""
    if server_key is None:
        if keypair is not None:
            raise ValueError("curve_keypair needs curve_server_key (the venue's public key)")
        return
    public, secret = keypair if keypair is not None else zmq.curve_keypair()
    sock.curve_serverkey = check_key(server_key, "curve_server_key")
    sock.curve_publickey = check_key(public, "curve_keypair public key")
    sock.curve_secretkey = check_key(secret, "curve_keypair secret key")
