"""The batch kernel ``process_nb(state, commands, events) -> (status, done, events)`` and the
handler of each command kind (rulebook sections 1-6).

Before each command the kernel checks that every pool can take that command's worst case; if
not it stops with NEED_CAPACITY and the index of the command, untouched, and the Python wrapper
grows the state and resumes there. So a command is applied whole or not at all.
"""

from __future__ import annotations

from matching._jit import njit, njit_inline
from matching.events_nb import emit_nb, emit_order_nb, emit_reject_nb
from matching.levels_nb import best_level_nb, order_alloc_nb, order_queue_nb, order_unlink_nb
from matching.match_nb import (
    cancel_one_nb,
    cancel_queued_nb,
    finish_level_nb,
    fok_ok_nb,
    market_limit_nb,
    reducible_nb,
    run_taker_nb,
    stops_pending_nb,
    trigger_stops_nb,
)
from matching.reasons import (
    AMEND_NOT_ALLOWED,
    AMEND_QTY_NOT_ABOVE_FILLED,
    CANCEL_DAY_END,
    CANCEL_DISCONNECT,
    CANCEL_EXPIRED,
    CANCEL_KILL_SWITCH,
    CANCEL_LIQUIDATION,
    CANCEL_MASS,
    CANCEL_SETTLEMENT,
    CANCEL_USER,
    CAPACITY_EXHAUSTED,
    DUPLICATE_CLIENT_ORDER_ID,
    DUPLICATE_ORDER_ID,
    FOK_CANNOT_FILL,
    INSTRUMENT_HALTED,
    INVALID_ACCOUNT,
    INVALID_COMBINATION,
    INVALID_COMMAND,
    INVALID_DISPLAY,
    INVALID_EXPIRY,
    INVALID_ORDER_TYPE,
    INVALID_REASON,
    INVALID_SIDE,
    INVALID_STP,
    INVALID_TIF,
    INVALID_TRIGGER,
    OUTSIDE_PRICE_BAND,
    POST_ONLY_WOULD_TAKE,
    PRICE_NOT_POSITIVE,
    QTY_ABOVE_MAX,
    QTY_BELOW_MIN,
    QTY_NOT_POSITIVE,
    REDUCE_ONLY_WOULD_INCREASE,
    STATUS_HALTED,
    STATUS_REF_PRICE,
    STATUS_RESUMED,
    STOP_WOULD_TRIGGER,
    UNKNOWN_INSTRUMENT,
    UNKNOWN_ORDER,
    VALUE_TOO_LARGE,
)
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CLOCK,
    CMD_END_OF_DAY,
    CMD_HALT,
    CMD_MASS_CANCEL,
    CMD_NEW,
    CMD_RESUME,
    CMD_SET_POSITION,
    CMD_SET_REF_PRICE,
    DAY,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_MASS_CANCELLED,
    EV_POSITION,
    EV_STATUS,
    EVF_KEPT_PRIORITY,
    FLAG_POST_ONLY,
    FLAG_REDUCE_ONLY,
    FOK,
    GTC,
    GTD,
    IOC,
    KIND_SPOT,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
)
from matching.state import (
    C_CKIND,
    C_LUSED,
    C_MAXORD,
    C_NCL,
    C_NEED,
    C_NEV,
    C_NEXT_OID,
    C_NEXT_SEQ,
    C_NHEAP,
    C_NLV,
    C_NOID,
    C_NOW,
    C_NPOS,
    C_NSTOPS,
    C_OFREE,
    C_OUSED,
    C_SEQ,
    C_TS,
)
from matching.tables_nb import (
    heap_pop_nb,
    heap_push_nb,
    ht1_find_nb,
    ht1_put_nb,
    ht_find_nb,
    ht_put_nb,
)
from matching.view_nb import (
    borrow_nb,
    cl_k1_of,
    cl_k2_of,
    cl_v_of,
    ctr_of,
    events_of,
    heap_id_of,
    heap_t_of,
    inst_of,
    levels_of,
    lnext_of,
    lv_v_of,
    oid_k_of,
    oid_v_of,
    orders_of,
    pos_k1_of,
    pos_k2_of,
    pos_v_of,
    posv_of,
    state_ptr_nb,
)

STATUS_OK = 0
NEED_CAPACITY = 1
NEED_EVENTS = 2
BAD_FIELD = 3  # process_fields_nb: field ``done`` does not fit the record
VALUE_LIMIT = 1 << 62


@njit_inline
def capacity_ok_nb(st):
    """True if every pool can absorb one more command (mirrors ``state.grow``). O(1)."""
    c = ctr_of(st)
    stops = c[C_NSTOPS]
    return not (
        c[C_OFREE] == -1
        or levels_of(st).shape[0] - c[C_LUSED] < stops + 8
        or 2 * (c[C_NOID] + 2) > oid_v_of(st).shape[0]
        or oid_v_of(st).shape[0] < 2 * orders_of(st).shape[0]
        or 2 * (c[C_NCL] + 2) > cl_v_of(st).shape[0]
        or 2 * (c[C_NLV] + stops + 4) > lv_v_of(st).shape[0]
        or 2 * (c[C_NPOS] + 2) > pos_v_of(st).shape[0]
        or c[C_NPOS] + 2 > posv_of(st).shape[0]
        or c[C_NHEAP] + 2 > heap_t_of(st).shape[0]
    )


@njit_inline
def _inst_ok(st, iid):
    return 0 <= iid < inst_of(st).shape[0] and inst_of(st)[iid].defined == 1


@njit_inline
def _band_ok(ins, price):
    if ins.band_bps <= 0:
        return True
    r = ins.last_price_ticks if ins.last_price_ticks > 0 else ins.ref_price_ticks
    if r <= 0:
        return True
    b = r * ins.band_bps // 10000
    return r - b <= price <= r + b


@njit_inline
def _position_index(st, acct, iid, create):
    p = ht_find_nb(pos_k1_of(st), pos_k2_of(st), pos_v_of(st), acct, iid)
    if p == -1 and create:
        p = ctr_of(st)[C_NPOS]
        ht_put_nb(pos_k1_of(st), pos_k2_of(st), pos_v_of(st), acct, iid, p)
        posv_of(st)[p] = 0
        ctr_of(st)[C_NPOS] += 1
    return p


@njit_inline
def _crosses_opposite(st, iid, side, price):
    """Would a limit at ``price`` take liquidity now? (post-only check). O(1)."""
    if side == BUY:
        l = best_level_nb(st, iid, 1)
        return l != -1 and price >= levels_of(st)[l].price
    l = best_level_nb(st, iid, 0)
    return l != -1 and price <= levels_of(st)[l].price


@njit
def _new_reason(st, c):
    """The rulebook 2.1 checks 1-23 in order; returns the first failing reason or 0."""
    iid = c.instrument
    if c.account < 1:
        return INVALID_ACCOUNT
    if not _inst_ok(st, iid):
        return UNKNOWN_INSTRUMENT
    side, ot, tif = c.side, c.order_type, c.tif
    if side != BUY and side != SELL:
        return INVALID_SIDE
    if ot < LIMIT or ot > STOP_LIMIT:
        return INVALID_ORDER_TYPE
    if tif < GTC or tif > DAY:
        return INVALID_TIF
    if ot == MARKET and tif != IOC and tif != FOK:
        return INVALID_TIF
    if ot == STOP_MARKET and tif != GTC and tif != GTD and tif != DAY:
        return INVALID_TIF
    if c.stp > 4:
        return INVALID_STP
    ins = inst_of(st)[iid]
    if ins.halted:
        return INSTRUMENT_HALTED
    qty = c.qty_lots
    if qty <= 0:
        return QTY_NOT_POSITIVE
    if qty < ins.min_qty_lots:
        return QTY_BELOW_MIN
    if ins.max_qty_lots > 0 and qty > ins.max_qty_lots:
        return QTY_ABOVE_MAX
    is_limit = ot == LIMIT or ot == STOP_LIMIT
    is_stop = ot == STOP_MARKET or ot == STOP_LIMIT
    price = c.price_ticks if is_limit else 0
    trigger = c.trigger_ticks if is_stop else 0
    if is_limit and price <= 0 and ins.allow_nonpositive_price == 0:
        return PRICE_NOT_POSITIVE
    m = max(abs(price), abs(trigger))
    if m != 0 and qty > VALUE_LIMIT // m:
        return VALUE_TOO_LARGE
    rests = ot == LIMIT and (tif == GTC or tif == GTD or tif == DAY)
    if c.flags & ~(FLAG_POST_ONLY | FLAG_REDUCE_ONLY):
        return INVALID_COMBINATION
    if (c.flags & FLAG_POST_ONLY) and not rests:
        return INVALID_COMBINATION
    if (c.flags & FLAG_REDUCE_ONLY) and ins.kind == KIND_SPOT:
        return INVALID_COMBINATION
    if c.display_lots > 0 and not rests:
        return INVALID_COMBINATION
    if c.display_lots < 0:
        return INVALID_DISPLAY
    if c.display_lots > 0 and (c.display_lots < ins.min_qty_lots or c.display_lots >= qty):
        return INVALID_DISPLAY
    if is_stop and trigger <= 0:
        return INVALID_TRIGGER
    if tif == GTD and c.expire_ns <= ctr_of(st)[C_TS]:
        return INVALID_EXPIRY
    if is_limit and not _band_ok(ins, price):
        return OUTSIDE_PRICE_BAND
    if ctr_of(st)[C_MAXORD] > 0 and ctr_of(st)[C_OUSED] >= ctr_of(st)[C_MAXORD]:
        return CAPACITY_EXHAUSTED
    if c.order_id != 0 and ht1_find_nb(oid_k_of(st), oid_v_of(st), c.order_id) != -1:
        return DUPLICATE_ORDER_ID
    if c.client_order_id != 0:
        if ht_find_nb(cl_k1_of(st), cl_k2_of(st), cl_v_of(st), c.account, c.client_order_id) != -1:
            return DUPLICATE_CLIENT_ORDER_ID
    if c.flags & FLAG_REDUCE_ONLY:
        p = _position_index(st, c.account, iid, False)
        pos = posv_of(st)[p] if p >= 0 else 0
        ok = (pos < 0 and qty <= -pos) if side == BUY else (pos > 0 and qty <= pos)
        if not ok:
            return REDUCE_ONLY_WOULD_INCREASE
    last = ins.last_price_ticks
    if is_stop and last > 0:
        if (side == BUY and trigger <= last) or (side == SELL and trigger >= last):
            return STOP_WOULD_TRIGGER
    if (c.flags & FLAG_POST_ONLY) and _crosses_opposite(st, iid, side, price):
        return POST_ONLY_WOULD_TAKE
    return 0


@njit
def new_order_nb(st, c):
    """CMD_NEW (rulebook 2): check, accept, then park (stop) or match (limit / market)."""
    reason = _new_reason(st, c)
    iid = c.instrument
    ot = c.order_type
    is_stop = ot == STOP_MARKET or ot == STOP_LIMIT
    if reason == 0 and c.tif == FOK and (ot == LIMIT or ot == MARKET):
        pidx = _position_index(st, c.account, iid, False)
        if ot == MARKET:
            hl, lim = market_limit_nb(st, iid, c.side)
        else:
            hl, lim = True, c.price_ticks
        key = c.stp_group if c.stp_group != 0 else c.account
        if not fok_ok_nb(st, iid, c.side, key, c.stp, pidx, c.qty_lots, hl, lim):
            reason = FOK_CANNOT_FILL
    if reason != 0:
        emit_reject_nb(st, c, reason)
        return
    oid = c.order_id
    if oid == 0:
        oid = ctr_of(st)[C_NEXT_OID]
        while ht1_find_nb(oid_k_of(st), oid_v_of(st), oid) != -1:
            oid += 1
        ctr_of(st)[C_NEXT_OID] = oid + 1
    ins = inst_of(st)[iid]
    s = order_alloc_nb(st)
    o = orders_of(st)[s]
    o.order_id = oid
    o.client_order_id = c.client_order_id
    o.price = c.price_ticks if (ot == LIMIT or ot == STOP_LIMIT) else 0
    o.trigger = c.trigger_ticks if is_stop else 0
    o.qty = c.qty_lots
    o.leaves = c.qty_lots
    o.visible = c.qty_lots
    o.display = c.display_lots
    o.expire = c.expire_ns if c.tif == GTD else 0
    o.seq = ctr_of(st)[C_SEQ]
    o.account = c.account
    o.instrument = iid
    o.stp_group = c.stp_group
    o.side = c.side
    o.order_type = ot
    o.tif = c.tif
    o.flags = c.flags
    o.stp = c.stp
    ctr_of(st)[C_NOID] += ht1_put_nb(oid_k_of(st), oid_v_of(st), oid, s)
    if c.client_order_id != 0:
        ctr_of(st)[C_NCL] += ht_put_nb(
            cl_k1_of(st), cl_k2_of(st), cl_v_of(st), c.account, c.client_order_id, s
        )
    if ins.kind != KIND_SPOT:
        o.pos = _position_index(st, c.account, iid, True)
    emit_order_nb(st, EV_ACCEPTED, s, o.qty, o.qty, 0, o.flags, o.trigger)
    if o.tif == GTD:
        ctr_of(st)[C_NHEAP] = heap_push_nb(
            heap_t_of(st), heap_id_of(st), ctr_of(st)[C_NHEAP], o.expire, oid
        )
    if is_stop:
        order_queue_nb(st, s, 2 if o.side == BUY else 3, o.trigger)
        ins.pending_stops += 1
        ctr_of(st)[C_NSTOPS] += 1
        return
    run_taker_nb(st, s)
    if stops_pending_nb(st, iid):
        trigger_stops_nb(st, iid)
    return


@njit_inline
def find_order_nb(st, c):
    """Slot of the command's order (by id, else by client id) if it belongs to the command's
    account, else -1. O(1)."""
    if c.order_id != 0:
        s = ht1_find_nb(oid_k_of(st), oid_v_of(st), c.order_id)
    elif c.client_order_id != 0:
        s = ht_find_nb(cl_k1_of(st), cl_k2_of(st), cl_v_of(st), c.account, c.client_order_id)
    else:
        return -1
    if s != -1 and orders_of(st)[s].account != c.account:
        return -1
    return s


@njit
def cancel_nb(st, c):
    """CMD_CANCEL (rulebook 3)."""
    if c.account < 1:
        emit_reject_nb(st, c, INVALID_ACCOUNT)
        return
    reason = c.reason if c.reason != 0 else CANCEL_USER
    if not _cancel_reason_ok(reason):
        emit_reject_nb(st, c, INVALID_REASON)
        return
    s = find_order_nb(st, c)
    if s == -1:
        emit_reject_nb(st, c, UNKNOWN_ORDER)
        return
    cancel_one_nb(st, s, reason)
    return


@njit_inline
def _cancel_reason_ok(reason):
    """The reasons a cancel or mass cancel may report (reasons.MASS_CANCEL_REASONS)."""
    return (
        reason == CANCEL_USER
        or reason == CANCEL_MASS
        or reason == CANCEL_DISCONNECT
        or reason == CANCEL_LIQUIDATION
        or reason == CANCEL_KILL_SWITCH
        or reason == CANCEL_SETTLEMENT
    )


@njit
def _amend_reason(st, c, s, new_price, new_qty):
    o = orders_of(st)[s]
    ins = inst_of(st)[o.instrument]
    if ins.halted:
        return INSTRUMENT_HALTED
    if o.bside >= 2:
        return AMEND_NOT_ALLOWED
    if new_qty <= 0:
        return QTY_NOT_POSITIVE
    if new_qty < ins.min_qty_lots:
        return QTY_BELOW_MIN
    if ins.max_qty_lots > 0 and new_qty > ins.max_qty_lots:
        return QTY_ABOVE_MAX
    if new_price <= 0 and ins.allow_nonpositive_price == 0:
        return PRICE_NOT_POSITIVE
    m = abs(new_price)
    if m != 0 and new_qty > VALUE_LIMIT // m:
        return VALUE_TOO_LARGE
    filled = o.qty - o.leaves
    if new_qty <= filled:
        return AMEND_QTY_NOT_ABOVE_FILLED
    if new_price != o.price and not _band_ok(ins, new_price):
        return OUTSIDE_PRICE_BAND
    new_leaves = new_qty - filled
    if (o.flags & FLAG_REDUCE_ONLY) and new_leaves > o.leaves and new_leaves > reducible_nb(st, s):
        return REDUCE_ONLY_WOULD_INCREASE
    if (o.flags & FLAG_POST_ONLY) and _crosses_opposite(st, o.instrument, o.side, new_price):
        return POST_ONLY_WOULD_TAKE
    return 0


@njit
def amend_nb(st, c, s):
    """CMD_AMEND (rulebook 4): keep priority when only shrinking, else re-enter as a taker.
    ``s`` is the order's slot as ``find_order_nb`` found it (-1: none)."""
    if c.account < 1:
        emit_reject_nb(st, c, INVALID_ACCOUNT)
        return
    if s == -1:
        emit_reject_nb(st, c, UNKNOWN_ORDER)
        return
    o = orders_of(st)[s]
    new_price = c.price_ticks if c.price_ticks != 0 else o.price
    new_qty = c.qty_lots if c.qty_lots != 0 else o.qty
    reason = _amend_reason(st, c, s, new_price, new_qty)
    if reason != 0:
        emit_reject_nb(st, c, reason)
        return
    new_leaves = new_qty - (o.qty - o.leaves)
    l = o.level
    lv = levels_of(st)[l]
    if new_price == o.price and new_leaves <= o.leaves:
        before = lv.visible
        vis = o.visible if o.visible < new_leaves else new_leaves
        lv.visible += vis - o.visible
        inst_of(st)[o.instrument].ice_hidden += (new_leaves - vis) - (o.leaves - o.visible)
        o.visible = vis
        o.qty = new_qty
        o.leaves = new_leaves
        emit_order_nb(st, EV_AMENDED, s, new_qty, new_leaves, 0, EVF_KEPT_PRIORITY, 0)
        if lv.visible != before:
            finish_level_nb(st, l)
        return
    # leave the level before the fields change: the level and instrument totals subtract
    # what the order contributed
    order_unlink_nb(st, s)
    o.qty = new_qty
    o.leaves = new_leaves
    o.price = new_price
    emit_order_nb(st, EV_AMENDED, s, new_qty, new_leaves, 0, 0, 0)
    finish_level_nb(st, l)
    o.seq = ctr_of(st)[C_SEQ]
    iid = o.instrument
    run_taker_nb(st, s)
    if stops_pending_nb(st, iid):
        trigger_stops_nb(st, iid)
    return


@njit
def sweep_cancel_nb(st, iid, acct, side, day_only, reason):
    """Cancel every queued order matching the filters, in mass-cancel order (rulebook 5).
    Returns the count. O(orders on the instruments scanned)."""
    count = 0
    lo, hi = (0, inst_of(st).shape[0]) if iid == -1 else (iid, iid + 1)
    for i in range(lo, hi):
        if inst_of(st)[i].defined == 0:
            continue
        for bside in range(4):
            oside = BUY if (bside == 0 or bside == 2) else SELL
            if side != 0 and side != oside:
                continue
            l = best_level_nb(st, i, bside)
            while l != -1:
                nxt_level = lnext_of(st)[l, 0]
                changed = False
                s = levels_of(st)[l].head
                while s != -1:
                    nxt = orders_of(st)[s].next
                    o = orders_of(st)[s]
                    if (acct == 0 or o.account == acct) and (not day_only or o.tif == DAY):
                        _ = cancel_queued_nb(st, s, reason)
                        count += 1
                        changed = True
                    s = nxt
                if changed:
                    finish_level_nb(st, l)
                l = nxt_level
    return count


@njit
def mass_cancel_nb(st, c):
    """CMD_MASS_CANCEL (rulebook 5)."""
    if c.account < 0:
        emit_reject_nb(st, c, INVALID_ACCOUNT)
        return
    if c.instrument != -1 and not _inst_ok(st, c.instrument):
        emit_reject_nb(st, c, UNKNOWN_INSTRUMENT)
        return
    if c.side > SELL:
        emit_reject_nb(st, c, INVALID_SIDE)
        return
    reason = c.reason if c.reason != 0 else CANCEL_MASS
    if not _cancel_reason_ok(reason):
        emit_reject_nb(st, c, INVALID_REASON)
        return
    count = sweep_cancel_nb(st, c.instrument, c.account, c.side, False, reason)
    emit_nb(
        st,
        EV_MASS_CANCELLED,
        0,
        0,
        0,
        count,
        0,
        c.account,
        c.instrument,
        c.side,
        reason,
        0,
        0,
        0,
        0,
    )


@njit
def expire_nb(st):
    """Rulebook 1.1: cancel every GTD order whose time has come, (expire_ns, order_id) order.
    Returns False, having stopped between two cancels, if the event buffer is too full for
    the next one; running it again continues where it stopped. O(due entries x log heap)."""
    saved = ctr_of(st)[C_CKIND]
    ctr_of(st)[C_CKIND] = CMD_CLOCK
    now = ctr_of(st)[C_NOW]
    ok = True
    while ctr_of(st)[C_NHEAP] > 0 and heap_t_of(st)[0] <= now:
        if _events_free(st) < 2:
            ok = False
            break
        t = heap_t_of(st)[0]
        oid = heap_id_of(st)[0]
        ctr_of(st)[C_NHEAP] = heap_pop_nb(heap_t_of(st), heap_id_of(st), ctr_of(st)[C_NHEAP])
        s = ht1_find_nb(oid_k_of(st), oid_v_of(st), oid)
        # entries of cancelled orders stay in the heap until due; skip them here
        if s != -1 and orders_of(st)[s].tif == GTD and orders_of(st)[s].expire == t:
            cancel_one_nb(st, s, CANCEL_EXPIRED)
    ctr_of(st)[C_CKIND] = saved
    return ok


@njit
def _status(st, iid, reason, price):
    emit_nb(st, EV_STATUS, 0, 0, price, 0, 0, 0, iid, 0, reason, 0, 0, 0, 0)
    return


@njit
def admin_nb(st, c):
    """Halt, resume, end of day, set position, set reference price (rulebook 6)."""
    k = c.kind
    iid = c.instrument
    if k == CMD_END_OF_DAY:
        if iid != -1 and not _inst_ok(st, iid):
            emit_reject_nb(st, c, UNKNOWN_INSTRUMENT)
            return
        _ = sweep_cancel_nb(st, iid, 0, 0, True, CANCEL_DAY_END)
        return
    if k == CMD_SET_POSITION and c.account < 1:
        emit_reject_nb(st, c, INVALID_ACCOUNT)
        return
    if not _inst_ok(st, iid):
        emit_reject_nb(st, c, UNKNOWN_INSTRUMENT)
        return
    ins = inst_of(st)[iid]
    if k == CMD_HALT:
        ins.halted = 1
        _status(st, iid, STATUS_HALTED, 0)
        return
    if k == CMD_RESUME:
        ins.halted = 0
        _status(st, iid, STATUS_RESUMED, 0)
        return
    if k == CMD_SET_POSITION:
        if ins.kind == KIND_SPOT:
            emit_reject_nb(st, c, INVALID_COMBINATION)
            return
        p = _position_index(st, c.account, iid, True)
        posv_of(st)[p] = c.qty_lots
        emit_nb(st, EV_POSITION, 0, 0, 0, c.qty_lots, 0, c.account, iid, 0, 0, 0, 0, 0, 0)
        return
    # CMD_SET_REF_PRICE
    if c.price_ticks < 0 and ins.allow_nonpositive_price == 0:
        emit_reject_nb(st, c, PRICE_NOT_POSITIVE)
        return
    ins.ref_price_ticks = c.price_ticks
    _status(st, iid, STATUS_REF_PRICE, c.price_ticks)
    return


@njit_inline
def _events_free(st):
    return events_of(st).shape[0] - ctr_of(st)[C_NEV]


@njit
def events_needed_nb(st, c, s):
    """A true upper bound on the events command ``c`` can emit (expiry aside). O(1).

    A sweep meets each resting order of the instrument at most once, plus once per iceberg
    refill (each refill needs at least one hidden lot), plus each pending stop it triggers;
    every meeting writes at most four events (fill, cancel, level, trigger). ``s`` is the
    order an amend names (-1 if none)."""
    k = c.kind
    if k == CMD_NEW or k == CMD_AMEND:
        iid = c.instrument
        if k == CMD_AMEND:
            if s == -1:
                return 4
            iid = orders_of(st)[s].instrument
        elif not _inst_ok(st, iid):
            return 4
        ins = inst_of(st)[iid]
        return 16 + 4 * (ins.resting + ins.pending_stops + ins.ice_hidden)
    if k == CMD_MASS_CANCEL or k == CMD_END_OF_DAY:
        return 8 + 2 * ctr_of(st)[C_OUSED]
    return 4


@njit_inline
def stamp_nb(st, c):
    """(seq, ts) of command ``c`` by the stamping rule (rulebook 0; ``api.EngineBase._stamp``
    in Python): seq 0 takes the next number, and then ts 0 the current time. Changes nothing:
    the command array stays as the caller gave it. O(1)."""
    ectr = ctr_of(st)
    seq = c.seq
    ts = c.ts_ns
    if seq == 0:
        seq = ectr[C_NEXT_SEQ]
        if ts == 0:
            ts = ectr[C_NOW]
    return seq, ts


@njit
def process_nb(st, cmds):
    """Run commands in order, appending events to the descriptor's event buffer from
    ``ctr[C_NEV]`` on. Returns (status, commands done): NEED_CAPACITY when a pool must grow,
    NEED_EVENTS (with the size wanted in ``ctr[C_NEED]``) when the event buffer cannot hold
    the next command's worst case; either way before that command changed anything, so the
    caller grows and calls again with the rest. O(sum of each command's cost), no allocation."""
    for i in range(cmds.shape[0]):
        if not capacity_ok_nb(st):
            return NEED_CAPACITY, i
        c = cmds[i]
        ctr = ctr_of(st)
        seq, ts = stamp_nb(st, c)
        ctr[C_SEQ] = seq
        ctr[C_TS] = ts
        ctr[C_CKIND] = c.kind
        if ts > ctr[C_NOW]:
            ctr[C_NOW] = ts
        if ctr_of(st)[C_NHEAP] > 0 and not expire_nb(st):
            ctr_of(st)[C_NEED] = ctr_of(st)[C_NEV] + 64
            return NEED_EVENTS, i
        found = find_order_nb(st, c) if c.kind == CMD_AMEND else -1
        need = events_needed_nb(st, c, found)
        if need > _events_free(st):
            ctr_of(st)[C_NEED] = ctr_of(st)[C_NEV] + need
            return NEED_EVENTS, i
        # only now is the command sure to run: a resumed command must get the same number
        if seq >= ctr[C_NEXT_SEQ]:
            ctr[C_NEXT_SEQ] = seq + 1
        dispatch_nb(st, c, found)
    return STATUS_OK, cmds.shape[0]


@njit
def dispatch_nb(st, c, found):
    """Apply one command whose seq, time and expiry are done and whose capacity and events are
    reserved (``process_nb``'s checks, or a caller that made the same ones: the clearing
    pipeline). ``found``: an amend's order slot. Handlers read seq and ts from the counters,
    never from ``c``."""
    k = c.kind
    if k == CMD_NEW:
        new_order_nb(st, c)
    elif k == CMD_CANCEL:
        cancel_nb(st, c)
    elif k == CMD_AMEND:
        amend_nb(st, c, found)
    elif k == CMD_MASS_CANCEL:
        mass_cancel_nb(st, c)
    elif k == CMD_CLOCK:
        pass
    elif k >= CMD_HALT and k <= CMD_SET_REF_PRICE:
        admin_nb(st, c)
    else:
        emit_reject_nb(st, c, INVALID_COMMAND)


@njit
def process_desc_nb(d, cmds):
    """``process_nb`` on the state the descriptor array ``d`` describes (its last pair names
    the event buffer). Commands are read through a borrowed view (no reference counting)."""
    return process_nb(state_ptr_nb(d), borrow_nb(cmds))


@njit
def process_fields_nb(d, f, cmd):
    """Write one command from ``f`` (int64 field values in COMMAND_DTYPE order) into the
    1-record array ``cmd`` and run it: the per-command API's path, which spares Python from
    building a structured record (a few microseconds). Starts a fresh event count and
    returns (status, done, events written); ``cmd`` holds the command for a resumed call."""
    st = state_ptr_nb(d)
    ctr_of(st)[C_NEV] = 0
    # fields narrower than int64 must fit, or the record would silently truncate them
    for i in range(9, 12):
        if f[i] < -2147483648 or f[i] > 2147483647:
            return BAD_FIELD, i, 0
    for i in range(12, 18):
        if f[i] < 0 or f[i] > 255:
            return BAD_FIELD, i, 0
    if f[18] < 0 or f[18] > 65535:
        return BAD_FIELD, 18, 0
    c = cmd[0]
    c.seq = f[0]
    c.ts_ns = f[1]
    c.order_id = f[2]
    c.client_order_id = f[3]
    c.price_ticks = f[4]
    c.qty_lots = f[5]
    c.trigger_ticks = f[6]
    c.display_lots = f[7]
    c.expire_ns = f[8]
    c.account = f[9]
    c.instrument = f[10]
    c.stp_group = f[11]
    c.kind = f[12]
    c.side = f[13]
    c.order_type = f[14]
    c.tif = f[15]
    c.flags = f[16]
    c.stp = f[17]
    c.reason = f[18]
    status, done = process_nb(st, borrow_nb(cmd))
    return status, done, ctr_of(st)[C_NEV]
