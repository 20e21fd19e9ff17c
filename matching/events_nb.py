"""Numba kernels that append event records to the event buffer the descriptor names.

Every emitter writes every field of its record (buffers are reused, so nothing may be left from
an earlier batch). There is always room: before each command the kernel reserves that
command's worst case (``process_nb.events_needed_nb``) and stops before the command if the buffer
cannot hold it, so the Python wrapper can grow the buffer and resume.
"""

from __future__ import annotations

from matching._jit import njit_inline
from matching.records import (
    EV_CANCELLED,
    EV_FILL,
    EV_LEVEL,
    EV_REJECTED,
)
from matching.state import C_CKIND, C_NEV, C_SEQ, C_TS
from matching.view_nb import ctr_of, events_of, levels_of, orders_of


@njit_inline
def ev_next_nb(st):
    """Index of the next event slot. The command's reservation (``events_needed_nb``) made
    sure it exists. O(1)."""
    n = ctr_of(st)[C_NEV]
    ctr_of(st)[C_NEV] = n + 1
    return n


@njit_inline
def emit_nb(
    st,
    kind,
    order_id,
    client_order_id,
    price,
    qty,
    leaves,
    account,
    instrument,
    side,
    reason,
    order_type,
    tif,
    flags,
    aux,
):
    """Append one non-fill event with the current command's seq, ts and kind."""
    e = events_of(st)[ev_next_nb(st)]
    e.seq = ctr_of(st)[C_SEQ]
    e.ts_ns = ctr_of(st)[C_TS]
    e.order_id = order_id
    e.client_order_id = client_order_id
    e.price_ticks = price
    e.qty_lots = qty
    e.leaves_lots = leaves
    e.maker_order_id = 0
    e.maker_leaves_lots = 0
    e.trade_id = 0
    e.aux = aux
    e.account = account
    e.instrument = instrument
    e.maker_account = 0
    e.kind = kind
    e.side = side
    e.reason = reason
    e.order_type = order_type
    e.tif = tif
    e.cmd_kind = ctr_of(st)[C_CKIND]
    e.flags = flags
    return


@njit_inline
def emit_order_nb(st, kind, s, qty, leaves, reason, flags, aux):
    """An event about order slot s (accepted, cancelled, amended, triggered)."""
    o = orders_of(st)[s]
    emit_nb(
        st,
        kind,
        o.order_id,
        o.client_order_id,
        o.price,
        qty,
        leaves,
        o.account,
        o.instrument,
        o.side,
        reason,
        o.order_type,
        o.tif,
        flags,
        aux,
    )


@njit_inline
def emit_cancel_nb(st, s, qty, leaves, reason):
    """CANCELLED for order slot s: ``qty`` cancelled, ``leaves`` left after."""
    emit_order_nb(st, EV_CANCELLED, s, qty, leaves, reason, 0, 0)
    return


@njit_inline
def emit_level_nb(st, l):
    """LEVEL for book level l: its visible total and order count now."""
    lv = levels_of(st)[l]
    side = 1 if lv.bside == 0 else 2
    emit_nb(
        st,
        EV_LEVEL,
        0,
        0,
        lv.price,
        lv.visible,
        lv.count,
        0,
        lv.instrument,
        side,
        0,
        0,
        0,
        0,
        0,
    )


@njit_inline
def emit_level_gone_nb(st, inst_id, bside, price):
    """LEVEL for a level that just emptied (qty 0, count 0)."""
    side = 1 if bside == 0 else 2
    emit_nb(st, EV_LEVEL, 0, 0, price, 0, 0, 0, inst_id, side, 0, 0, 0, 0, 0)
    return


@njit_inline
def emit_fill_nb(st, t, m, price, q, trade_id, flags):
    """FILL: taker slot t against maker slot m (after both were updated)."""
    to = orders_of(st)[t]
    mo = orders_of(st)[m]
    e = events_of(st)[ev_next_nb(st)]
    e.seq = ctr_of(st)[C_SEQ]
    e.ts_ns = ctr_of(st)[C_TS]
    e.order_id = to.order_id
    e.client_order_id = to.client_order_id
    e.price_ticks = price
    e.qty_lots = q
    e.leaves_lots = to.leaves
    e.maker_order_id = mo.order_id
    e.maker_leaves_lots = mo.leaves
    e.trade_id = trade_id
    e.aux = 0
    e.account = to.account
    e.instrument = to.instrument
    e.maker_account = mo.account
    e.kind = EV_FILL
    e.side = to.side
    e.reason = 0
    e.order_type = to.order_type
    e.tif = to.tif
    e.cmd_kind = ctr_of(st)[C_CKIND]
    e.flags = flags
    return


@njit_inline
def emit_reject_nb(st, cmd, reason):
    """REJECTED for a command: its identifying fields copied, the reason set."""
    emit_nb(
        st,
        EV_REJECTED,
        cmd.order_id,
        cmd.client_order_id,
        cmd.price_ticks,
        cmd.qty_lots,
        0,
        cmd.account,
        cmd.instrument,
        cmd.side,
        reason,
        cmd.order_type,
        cmd.tif,
        0,
        0,
    )
