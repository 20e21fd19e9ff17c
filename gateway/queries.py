"""Answers to the gateway's queries: order status, open orders, balances, positions and
instruments, each from the state after the wakeup's batch (so a query sent after an order in
the same burst sees that order)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway import protocol as P

if TYPE_CHECKING:
    from gateway.reports import Track
    from gateway.server import GatewayServer
    from gateway.sessions import Session

SIDE_NAMES: dict[int, Any] = dict(P.SIDE_NAMES)


def answer_query(srv: GatewayServer, sess: Session, q: Any) -> None:
    """Reply to one query from the state after this wakeup's batch. O(the account's orders)
    for order lists, O(instruments) for positions."""
    a = sess.account
    if isinstance(q, P.OrderStatus):
        oid = q.order_id or srv.live_by_cl.get((a, q.cl_ord_id), 0)
        t = srv.tracks.get(oid)
        state = order_state(oid, t) if t is not None and t.account == a else None
        srv._reply(sess, P.OrderStatusReply(req=q.req, order=state))
    elif isinstance(q, P.OpenOrders):
        orders = [
            order_state(oid, t)
            for oid, t in sorted(srv.tracks.items())
            if t.account == a and (q.instrument == -1 or t.instrument == q.instrument)
        ]
        srv._reply(sess, P.OpenOrdersReply(req=q.req, orders=orders))
    elif isinstance(q, P.Balances):
        lines = []
        for k, asset in enumerate(srv.ex.config.assets):
            total, held = srv.ex.balance(a, k)
            avail = srv.ex.margin(a, k)["available"]
            lines.append(
                P.BalanceLine(
                    asset=asset.code, scale=asset.scale, total=total, held=held, available=avail
                )
            )
        srv._reply(sess, P.BalancesReply(req=q.req, balances=lines))
    elif isinstance(q, P.Positions):
        lines2 = []
        for iid in sorted(srv._inst):
            pos, cost = srv.ex.position_cost(a, iid)
            if pos:
                row = srv.ex.cs.inst[iid]
                upnl = (int(row["mark_ticks"]) * pos - cost) * int(row["nf"])
                lines2.append(
                    P.PositionLine(instrument=iid, qty_lots=pos, cost=cost, unrealised=upnl)
                )
        srv._reply(sess, P.PositionsReply(req=q.req, positions=lines2))
    elif isinstance(q, P.Instruments):
        infos = [
            P.InstrumentInfo(
                id=i.id,
                symbol=i.symbol,
                kind=i.kind,
                tick_size=str(i.tick_size),
                lot_size=str(i.lot_size),
                min_qty_lots=i.min_qty_lots,
                max_qty_lots=i.max_qty_lots,
                base_asset=i.base_asset,
                quote_asset=i.quote_asset,
                settlement_asset=i.settlement_asset,
                multiplier=str(i.multiplier),
                expiry_ns=i.expiry_ns,
                strike=str(i.strike) if i.strike is not None else "",
                option_type=i.option_type or "",
                underlying=i.underlying or "",
            )
            for i in sorted(srv._inst.values(), key=lambda x: x.id)
        ]
        srv._reply(sess, P.InstrumentsReply(req=q.req, instruments=infos))


def order_state(oid: int, t: Track) -> P.OrderState:
    """An order as the OpenOrders and OrderStatus replies show it."""
    return P.OrderState(
        order_id=oid,
        cl_ord_id=t.cl_ord_id,
        instrument=t.instrument,
        side=SIDE_NAMES.get(t.side, "buy"),
        type=P.TYPE_NAMES.get(t.order_type, "limit"),
        tif=P.TIF_NAMES.get(t.tif, "gtc"),
        price_ticks=t.price,
        qty_lots=t.qty,
        leaves_lots=t.qty - t.cum,
        trigger_ticks=t.trigger,
    )
