"""Engine events -> execution reports: the gateway's memory of each live order (``Track``) and
the translation of one batch's events into the replies its sessions get.

``Reporter`` is the half of ``GatewayServer`` that reads events; the server supplies ``_reply``
(queue a message for a session, at the position of the message it answers) and
``_by_account`` (logged-on sessions per account). Events arrive as plain tuples
(``ndarray.tolist()``) read by index: on the hot path a numpy field read or a dict per event
costs more than the whole report.

Who hears what: every session of an order's account gets its reports (a second screen sees the
fills of the first); only the session whose message caused a report gets it with that message's
``req``. Reports of orders not placed through this gateway (admin, replay) go to the account's
sessions too, with ``req`` 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from clearing.records import L_FEE, L_REBATE
from gateway import protocol as P
from matching import reasons as R
from matching.records import (
    BUY,
    CMD_CLOCK,
    CMD_MASS_CANCEL,
    DUMP_DTYPE,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    EV_MASS_CANCELLED,
    EV_REJECTED,
    EV_TRIGGERED,
    EVENT_DTYPE,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
)

if TYPE_CHECKING:
    from gateway.sessions import Session

SIDE_NAMES: dict[int, Any] = dict(P.SIDE_NAMES)
EXPIRY_REASONS = frozenset({R.CANCEL_EXPIRED, R.CANCEL_DAY_END})
_EXPLAIN: dict[int, str] = {}  # reason -> text, memoised (R.explain formats)
_PRICE_TEXT_MAX = 100_000  # cached price texts per gateway (Reporter._price_text)

# positions of the event fields in a ``tolist()`` tuple
_EN = EVENT_DTYPE.names or ()
(E_SEQ, E_TS, E_OID, E_CLOID, E_PRICE, E_QTY, E_LEAVES, E_MOID, E_MLEAVES, E_TRADE, E_AUX,
 E_ACCOUNT, E_INST, E_MACCOUNT, E_KIND, E_SIDE, E_REASON, E_OTYPE, E_TIF) = (
    _EN.index(n) for n in (
        "seq", "ts_ns", "order_id", "client_order_id", "price_ticks", "qty_lots",
        "leaves_lots", "maker_order_id", "maker_leaves_lots", "trade_id", "aux", "account",
        "instrument", "maker_account", "kind", "side", "reason", "order_type", "tif",
    )
)  # fmt: skip


def kill_switches(cmds: np.ndarray) -> list[tuple[int, bool]]:
    """The kill switches stamped commands turned on (the mass cancel a switch sends, reason
    KILL_SWITCH) and off (a CLOCK command carrying the account and that reason, which the
    engine ignores), in order: how the journal carries them. O(n)."""
    ks = cmds[cmds["reason"] == R.CANCEL_KILL_SWITCH]
    return [
        (a, kind == CMD_MASS_CANCEL)
        for kind, a in ks[["kind", "account"]].tolist()
        if kind in (CMD_MASS_CANCEL, CMD_CLOCK)
    ]


def explain(reason: int) -> str:
    """``matching.reasons.explain``, memoised: the text of a reason code."""
    text = _EXPLAIN.get(reason)
    if text is None:
        text = _EXPLAIN[reason] = R.explain(reason)
    return text


class Track(msgspec.Struct, gc=False):
    """What the gateway remembers of an order to build its reports. A Struct without GC
    tracking (ints only, never in a cycle): a venue holds one per live order, and tracked
    objects make every garbage collection walk them."""

    account: int
    cl_ord_id: int
    instrument: int
    side: int
    order_type: int
    tif: int
    price: int
    qty: int
    trigger: int = 0
    sid: int = 0  # the session that placed it (0: not placed through this gateway)
    cum: int = 0
    notional: int = 0  # sum of price x lots filled


def fees_by_fill(ledger: Any, n_led: int) -> dict[tuple[int, int, int], int]:
    """(instrument, trade id, account) -> fee (a rebate negative) from a batch's ledger entries.
    O(entries)."""
    fees: dict[tuple[int, int, int], int] = {}
    if not n_led:
        return fees
    lg = ledger[:n_led]
    if n_led > 64:  # many entries: let numpy pick the fee rows first
        lg = lg[(lg["kind"] == L_FEE) | (lg["kind"] == L_REBATE)]
    names = lg.dtype.names or ()
    k_kind, k_inst, k_ref = names.index("kind"), names.index("instrument"), names.index("ref")
    k_from, k_to = names.index("from_account"), names.index("to_account")
    k_amount = names.index("amount")
    for e in lg.tolist():
        if e[k_kind] == L_FEE:
            key = (e[k_inst], e[k_ref], e[k_from])
            fees[key] = fees.get(key, 0) + e[k_amount]
        elif e[k_kind] == L_REBATE:
            key = (e[k_inst], e[k_ref], e[k_to])
            fees[key] = fees.get(key, 0) - e[k_amount]
    return fees


def refusal(msg: Any, reason: int) -> P.BusinessReject:
    """The BusinessReject of a message the gateway did not process, echoing its req."""
    return P.BusinessReject(
        req=getattr(msg, "req", 0), reason=reason, text=explain(reason), ref=msg_tag(msg)
    )


def msg_tag(msg: Any) -> str:
    """The message's type name ("" for none): what a BusinessReject's ``ref`` names."""
    return type(msg).__name__ if msg is not None else ""


def rejected_report(
    m: P.NewOrder, req: int, reason: int, seq: int = 0, ts_ns: int = 0
) -> P.ExecutionReport:
    """The report of a NewOrder refused by the gateway (no seq) or by the pipeline."""
    return P.ExecutionReport(
        req=req, exec_type="rejected", status="rejected", order_id=0, cl_ord_id=m.cl_ord_id,
        instrument=m.instrument, side=m.side, price_ticks=m.price_ticks, qty_lots=m.qty_lots,
        reason=reason, text=explain(reason), seq=seq, ts_ns=ts_ns,
    )  # fmt: skip


class Reporter:
    """Order tracks and the event -> report translation (mixed into ``GatewayServer``)."""

    tracks: dict[int, Track]
    partial: dict[int, Track]  # the live orders with fills (their notional is ours alone)
    stops: dict[int, Track]  # the live stop orders (their original type and trigger)
    live_by_cl: dict[tuple[int, int], int]  # (account, cl_ord_id) -> live order id
    open_count: dict[int, int]
    _by_account: dict[int, list[Session]]
    _inst: dict[int, Any]
    ex: Any  # clearing.exchange.Exchange
    killed: set[int]
    _next_sid: int
    # (instrument, ticks) -> that price as exact decimal text (an instrument's tick is fixed)
    _price_text: dict[tuple[int, int], str]
    # the server's reply queues of this wakeup: identity -> [(position, message)], and the
    # position of the message being answered
    _out: dict[bytes, list[tuple[int, msgspec.Struct]]]
    _pos: int

    def _reply(self, sess: Session | None, msg: msgspec.Struct, identity: bytes = b"") -> None:
        raise NotImplementedError

    # --- durable state (snapshots: journal/snapshot.py) --------------------------------------
    def export_state(self) -> dict[str, Any]:
        """What the gateway must keep across a restart, as plain builtins (lists, ints: equal
        after a JSON or MessagePack round trip): the fill notional of live orders with fills
        (for their average price; everything else of a live order is in the engine's book),
        the kill switches and the next session number. Sessions end with the process.
        O(partially filled or stop orders): a snapshot does not walk every live order here."""
        return {
            "version": 2,
            "fills": [[oid, t.cum, t.notional] for oid, t in sorted(self.partial.items())],
            "stops": [[oid, t.order_type, t.trigger] for oid, t in sorted(self.stops.items())],
            "killed": sorted(self.killed),
            "next_sid": self._next_sid,
        }

    def import_state(self, state: dict[str, Any]) -> None:
        """Restore ``export_state()`` output once the exchange holds the same snapshot's state
        (before ``start``): the order tracks are rebuilt from the engine's live orders (cum =
        qty - leaves) with the saved fill notional. O(live orders)."""
        version = state.get("version")
        if version not in (1, 2):
            raise ValueError(f"gateway state version {version!r} is not 1 or 2")
        self.tracks.clear()
        self.partial.clear()
        self.stops.clear()
        self.live_by_cl.clear()
        self.open_count.clear()
        if version == 1:  # every track written out (snapshots of the first release)
            rows = state["tracks"]
        else:
            fills = {int(oid): (int(cum), int(notional)) for oid, cum, notional in state["fills"]}
            stops = {int(oid): (int(ot), int(trig)) for oid, ot, trig in state.get("stops", [])}
            names = DUMP_DTYPE.names or ()
            k = {n: names.index(n) for n in names}
            rows = []
            for d in self.ex.dump().tolist():
                oid, qty, leaves = d[k["order_id"]], d[k["qty_lots"]], d[k["leaves_lots"]]
                cum, notional = fills.get(oid, (qty - leaves, 0))
                side = d[k["side"]]
                ot, trig = stops.get(oid, (d[k["order_type"]], d[k["trigger_ticks"]]))
                rows.append([
                    oid, d[k["account"]], d[k["client_order_id"]], d[k["instrument"]],
                    BUY if side in (1, 3) else SELL, ot, d[k["tif"]],
                    d[k["price_ticks"]], qty, trig, cum, notional,
                ])  # fmt: skip
        for row in rows:
            oid, acct, cl, inst, side, ot, tif, px, qty, trig, cum, notional = row
            t = Track(acct, cl, inst, side, ot, tif, px, qty, trig, 0, cum, notional)
            self.tracks[oid] = t
            if cum:
                self.partial[oid] = t
            if ot in (STOP_MARKET, STOP_LIMIT):
                self.stops[oid] = t
            if cl:
                self.live_by_cl[(acct, cl)] = oid
            self.open_count[acct] = self.open_count.get(acct, 0) + 1
        self.killed = set(state["killed"])
        self._next_sid = int(state["next_sid"])

    def _to_account(self, account: int, origin: Session | None, msg: msgspec.Struct) -> None:
        """Queue ``msg`` for every logged-on session of ``account``, and for ``origin`` (the
        session whose message caused it) if it acts for that account and has just ended. Each
        session's list gets it once, at the position of the message it answers."""
        out, pos, hit = self._out, self._pos, False
        for s in self._by_account.get(account, ()):
            hit = hit or s is origin
            q = out.get(s.identity)
            if q is None:
                out[s.identity] = [(pos, msg)]
            else:
                q.append((pos, msg))
        if not hit and origin is not None and origin.account == account:
            self._reply(origin, msg)

    def _event(
        self, e: tuple[int, ...], sess: Session | None, req: int, msg: Any, fees: dict
    ) -> None:
        """One event (a ``tolist()`` tuple) of the command that ``sess`` sent as ``msg``."""
        kind = e[E_KIND]
        if kind == EV_ACCEPTED:  # the most frequent event: its report is built here, inline
            oid, acct, cl, ot, qty = e[E_OID], e[E_ACCOUNT], e[E_CLOID], e[E_OTYPE], e[E_QTY]
            mine = sess is not None and sess.account == acct
            t = Track(
                acct, cl, e[E_INST], e[E_SIDE], ot, e[E_TIF], e[E_PRICE], qty, e[E_AUX],
                sess.sid if mine and sess is not None else 0,
            )  # fmt: skip
            self.tracks[oid] = t
            stop = ot in (STOP_MARKET, STOP_LIMIT)
            if stop:
                self.stops[oid] = t  # the engine's record changes type once triggered
            if cl:
                self.live_by_cl[(acct, cl)] = oid
            oc = self.open_count
            oc[acct] = oc.get(acct, 0) + 1
            rep = P.ExecutionReport(
                req=req if mine else 0, exec_type="new", order_id=oid, cl_ord_id=cl,
                instrument=t.instrument, side=SIDE_NAMES.get(t.side, "buy"),
                status="pending" if stop else "new", price_ticks=t.price, qty_lots=qty,
                leaves_lots=qty, seq=e[E_SEQ], ts_ns=e[E_TS],
            )  # fmt: skip
            self._to_account(acct, sess, rep)
        elif kind == EV_FILL:
            self._fill(e, sess, req, fees)
        elif kind in (EV_CANCELLED, EV_AMENDED, EV_TRIGGERED):
            oid = e[E_OID]
            tr = self.tracks.get(oid)
            if tr is None:
                return
            t = tr
            if kind == EV_AMENDED:
                t.price = e[E_PRICE]
                t.qty = e[E_QTY]
            reason = e[E_REASON]
            if kind == EV_CANCELLED:
                xt = "expired" if reason in EXPIRY_REASONS else "cancelled"
            else:
                xt = "amended" if kind == EV_AMENDED else "triggered"
            own = req if sess is not None and sess.account == t.account else 0
            rep = self._state_report(oid, xt, own, leaves=e[E_LEAVES], reason=reason, ev=e, t=t)
            self._to_account(t.account, sess, rep)
            if kind == EV_CANCELLED and e[E_LEAVES] == 0:
                self._forget(oid)
        elif kind == EV_REJECTED:
            self._rejected(e, sess, req, msg)
        elif kind == EV_MASS_CANCELLED and sess is not None and isinstance(msg, P.MassCancel):
            self._reply(sess, P.MassCancelAck(req=req, cancelled=e[E_QTY]))

    def _rejected(self, e: tuple[int, ...], sess: Session | None, req: int, msg: Any) -> None:
        if sess is None:
            return
        reason = e[E_REASON]
        if isinstance(msg, P.NewOrder):
            dup = self.live_by_cl.get((sess.account, msg.cl_ord_id))
            if reason == R.DUPLICATE_CLIENT_ORDER_ID and dup is not None:
                self._reply(sess, self._state_report(dup, "new", req, duplicate=True))
                return
            self._reply(sess, rejected_report(msg, req, reason, e[E_SEQ], e[E_TS]))
        elif isinstance(msg, P.Cancel | P.Amend):
            self._reply(
                sess,
                P.CancelReject(
                    req=req,
                    order_id=msg.order_id,
                    cl_ord_id=msg.cl_ord_id,
                    reason=reason,
                    text=explain(reason),
                ),
            )
        elif isinstance(msg, P.MassCancel):
            self._reply(sess, P.MassCancelAck(req=req, reason=reason, text=explain(reason)))

    def _fill(self, e: tuple[int, ...], sess: Session | None, req: int, fees: dict) -> None:
        iid, tid = e[E_INST], e[E_TRADE]
        q, px = e[E_QTY], e[E_PRICE]
        for oid, acct, leaves, liq in (
            (e[E_OID], e[E_ACCOUNT], e[E_LEAVES], "taker"),
            (e[E_MOID], e[E_MACCOUNT], e[E_MLEAVES], "maker"),
        ):
            t = self.tracks.get(oid)
            if t is None:
                continue
            if not t.cum:
                self.partial[oid] = t  # what a snapshot must keep beyond the engine's book
            t.cum += q
            t.notional += q * px
            taker = liq == "taker"
            own = req if taker and sess is not None and sess.account == acct else 0
            rep = self._state_report(
                oid, "fill" if leaves == 0 else "partial_fill", own, leaves=leaves, ev=e, t=t
            )
            rep.last_lots = q
            rep.last_price_ticks = px
            rep.trade_id = tid
            rep.fee = fees.get((iid, tid, acct), 0)
            rep.liquidity = liq  # type: ignore[assignment]
            self._to_account(acct, sess if taker else None, rep)
            if leaves == 0:
                self._forget(oid)

    def _forget(self, oid: int) -> None:
        t = self.tracks.pop(oid, None)
        if t is None:
            return
        if t.cum:  # only orders with fills are in ``partial``, only stops in ``stops``
            self.partial.pop(oid, None)
        if t.order_type in (STOP_MARKET, STOP_LIMIT):
            self.stops.pop(oid, None)
        key = (t.account, t.cl_ord_id)
        if self.live_by_cl.get(key) == oid:
            del self.live_by_cl[key]
        oc = self.open_count
        n = oc.get(t.account, 1)
        oc[t.account] = n - 1 if n > 0 else 0

    def _avg_price(self, instrument: int, notional: int, cum: int) -> str:
        """The exact average price (notional / cum ticks, in the instrument's price units) as
        a decimal string. An average that is a whole number of ticks (every fill at one price,
        the usual case) is looked up in a per-(instrument, ticks) cache; otherwise one Decimal
        division. "" for an unknown instrument."""
        whole = notional % cum == 0
        if whole:
            key = (instrument, notional // cum)
            text = self._price_text.get(key)
            if text is not None:
                return text
        inst = self._inst.get(instrument)
        if inst is None:
            return ""
        text = format((inst.tick_size * Decimal(notional) / Decimal(cum)).normalize(), "f")
        if whole:
            if len(self._price_text) >= _PRICE_TEXT_MAX:
                self._price_text.clear()
            self._price_text[key] = text
        return text

    def _state_report(
        self,
        oid: int,
        exec_type: Any,
        req: int,
        *,
        leaves: int | None = None,
        reason: int = 0,
        duplicate: bool = False,
        ev: tuple[int, ...] | None = None,
        t: Track | None = None,
    ) -> P.ExecutionReport:
        """The order's report as of now (``t``: its track, if the caller has it). O(1); a
        Decimal only once the order has fills at more than one price."""
        if t is None:
            t = self.tracks[oid]
        left = t.qty - t.cum if leaves is None else leaves
        status: Any
        if exec_type in ("cancelled", "expired") and left == 0:
            status = "cancelled"
        elif t.cum and left == 0:
            status = "filled"
        elif t.cum:
            status = "partially_filled"
        else:
            status = "pending" if t.order_type in (STOP_MARKET, STOP_LIMIT) else "new"
        # only the fields that differ from their defaults are passed: msgspec matches each
        # keyword by name, and a report is built for every event
        rep = P.ExecutionReport(
            req=req,
            exec_type=exec_type,
            order_id=oid,
            cl_ord_id=t.cl_ord_id,
            instrument=t.instrument,
            side=SIDE_NAMES.get(t.side, "buy"),
            status=status,
            price_ticks=t.price,
            qty_lots=t.qty,
            leaves_lots=left,
        )
        if t.cum:
            rep.cum_lots = t.cum
            rep.avg_price = self._avg_price(t.instrument, t.notional, t.cum)
        if reason:
            rep.reason = reason
            rep.text = explain(reason)
        if duplicate:
            rep.duplicate = True
        if ev is not None:
            rep.seq = ev[E_SEQ]
            rep.ts_ns = ev[E_TS]
        return rep
