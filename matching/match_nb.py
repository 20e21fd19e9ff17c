"""Numba kernels for matching: the taker loop, the FOK dry run, resting, and stop triggers.

Everything here follows docs/rulebook.md sections 2.3-2.5 step by step; the reference book
implements the same text independently and the property tests compare the two.
"""

from __future__ import annotations

import numpy as np

from matching._jit import njit, njit_inline
from matching.events_nb import (
    emit_cancel_nb,
    emit_fill_nb,
    emit_level_gone_nb,
    emit_level_nb,
    emit_order_nb,
)
from matching.levels_nb import (
    best_level_nb,
    level_remove_nb,
    order_append_nb,
    order_free_nb,
    order_queue_nb,
    order_unlink_nb,
)
from matching.reasons import (
    CANCEL_FOK,
    CANCEL_IOC_REMAINDER,
    CANCEL_MARKET_NO_LIQUIDITY,
    CANCEL_REDUCE_ONLY,
    CANCEL_STP,
)
from matching.records import (
    BUY,
    EV_TRIGGERED,
    EVF_REFILLED,
    FLAG_REDUCE_ONLY,
    FOK,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_MARKET,
    STP_CANCEL_BOTH,
    STP_CANCEL_MAKER,
    STP_CANCEL_TAKER,
)
from matching.state import C_NCL, C_NOID, C_NSTOPS, C_SEQ, C_TDEAD
from matching.tables_nb import ht1_del_nb, ht_del_nb
from matching.view_nb import (
    cl_k1_of,
    cl_k2_of,
    cl_v_of,
    ctr_of,
    inst_of,
    levels_of,
    lnext_of,
    oid_k_of,
    oid_v_of,
    orders_of,
    posv_of,
)


@njit_inline
def stp_key_nb(o):
    if o.stp_group != 0:
        return o.stp_group
    return o.account


@njit_inline
def red_of_nb(side, p):
    """How much an order of ``side`` may trade and still only reduce position ``p``."""
    if side == SELL:
        return p if p > 0 else 0
    return -p if p < 0 else 0


@njit_inline
def reducible_nb(st, s):
    o = orders_of(st)[s]
    if o.pos < 0:
        return 0
    return red_of_nb(o.side, posv_of(st)[o.pos])


@njit_inline
def drop_order_nb(st, s):
    """Forget a finished order: out of the id indexes, slot back to the pool. O(1)."""
    o = orders_of(st)[s]
    ctr_of(st)[C_NOID] -= ht1_del_nb(oid_k_of(st), oid_v_of(st), o.order_id)
    if o.client_order_id != 0:
        ctr_of(st)[C_NCL] -= ht_del_nb(
            cl_k1_of(st), cl_k2_of(st), cl_v_of(st), o.account, o.client_order_id
        )
    order_free_nb(st, s)


@njit_inline
def cancel_queued_nb(st, s, reason):
    """Cancel a queued order (book or stop queue): CANCELLED, unlink, drop. The level stays,
    possibly empty: the caller finishes it (``finish_level_nb``). Returns (ev, level)."""
    o = orders_of(st)[s]
    emit_cancel_nb(st, s, o.leaves, 0, reason)
    bside = o.bside
    inst_id = o.instrument
    l = order_unlink_nb(st, s)
    if bside >= 2:
        inst_of(st)[inst_id].pending_stops -= 1
        ctr_of(st)[C_NSTOPS] -= 1
    drop_order_nb(st, s)
    return l


@njit_inline
def finish_level_nb(st, l):
    """After a level changed: remove it if empty; LEVEL event for book sides."""
    lv = levels_of(st)[l]
    bside = lv.bside
    if lv.count == 0:
        inst_id = lv.instrument
        price = lv.price
        level_remove_nb(st, l)
        if bside < 2:
            emit_level_gone_nb(st, inst_id, bside, price)
    elif bside < 2:
        emit_level_nb(st, l)
    return


@njit_inline
def cancel_one_nb(st, s, reason):
    """Cancel one queued order and finish its level. O(1), O(log L) if the level empties."""
    l = cancel_queued_nb(st, s, reason)
    finish_level_nb(st, l)
    return


@njit_inline
def refill_nb(st, m):
    """Iceberg: show the next tranche and go to the back of the level, time = this command."""
    mo = orders_of(st)[m]
    l = mo.level
    order_unlink_nb(st, m)
    mo.visible = mo.display if mo.display < mo.leaves else mo.leaves
    mo.seq = ctr_of(st)[C_SEQ]
    order_append_nb(st, l, m)


@njit
def match_nb(st, t, has_limit, limit):
    """Match taker slot t against the opposite side (rulebook 2.3). O(fills + levels swept)."""
    to = orders_of(st)[t]
    inst_id = to.instrument
    ins = inst_of(st)[inst_id]
    side = to.side
    opp = 1 if side == BUY else 0
    tkey = stp_key_nb(to)
    while to.leaves > 0:
        l = best_level_nb(st, inst_id, opp)
        if l == -1:
            break
        lv = levels_of(st)[l]
        px = lv.price
        if has_limit and ((side == BUY and px > limit) or (side == SELL and px < limit)):
            break
        touched = False
        stop = False
        while to.leaves > 0 and lv.count > 0:
            m = lv.head
            mo = orders_of(st)[m]
            if to.stp != 0 and stp_key_nb(mo) == tkey:
                mode = to.stp
                if mode != STP_CANCEL_TAKER:
                    touched = True
                if mode == STP_CANCEL_TAKER:
                    emit_cancel_nb(st, t, to.leaves, 0, CANCEL_STP)
                    to.leaves = 0
                    ctr_of(st)[C_TDEAD] = 1
                    stop = True
                elif mode == STP_CANCEL_MAKER:
                    _ = cancel_queued_nb(st, m, CANCEL_STP)
                elif mode == STP_CANCEL_BOTH:
                    _ = cancel_queued_nb(st, m, CANCEL_STP)
                    emit_cancel_nb(st, t, to.leaves, 0, CANCEL_STP)
                    to.leaves = 0
                    ctr_of(st)[C_TDEAD] = 1
                    stop = True
                else:  # decrement and cancel: an overlap that shrinks both and prints nothing
                    q = to.leaves if to.leaves < mo.visible else mo.visible
                    mo.visible -= q
                    mo.leaves -= q
                    lv.visible -= q
                    to.leaves -= q
                    emit_cancel_nb(st, m, q, mo.leaves, CANCEL_STP)
                    emit_cancel_nb(st, t, q, to.leaves, CANCEL_STP)
                    if mo.leaves == 0:
                        order_unlink_nb(st, m)
                        drop_order_nb(st, m)
                    elif mo.visible == 0:
                        refill_nb(st, m)
                if stop:
                    break
                continue
            ro = (mo.flags & FLAG_REDUCE_ONLY) != 0
            red = 0
            if ro:
                red = reducible_nb(st, m)
                if red == 0:
                    _ = cancel_queued_nb(st, m, CANCEL_REDUCE_ONLY)
                    touched = True
                    continue
            q = to.leaves if to.leaves < mo.visible else mo.visible
            if ro and red < q:
                q = red
            ins.trade_count += 1
            tid = ins.trade_count
            ins.last_price_ticks = px
            if to.pos >= 0:
                if side == BUY:
                    posv_of(st)[to.pos] += q
                    posv_of(st)[mo.pos] -= q
                else:
                    posv_of(st)[to.pos] -= q
                    posv_of(st)[mo.pos] += q
            to.leaves -= q
            mo.leaves -= q
            mo.visible -= q
            lv.visible -= q
            touched = True
            if mo.leaves == 0:
                emit_fill_nb(st, t, m, px, q, tid, 0)
                order_unlink_nb(st, m)
                drop_order_nb(st, m)
            elif ro and reducible_nb(st, m) == 0:
                emit_fill_nb(st, t, m, px, q, tid, 0)
                _ = cancel_queued_nb(st, m, CANCEL_REDUCE_ONLY)
            elif mo.visible == 0:
                refill_nb(st, m)
                emit_fill_nb(st, t, m, px, q, tid, EVF_REFILLED)
            else:
                emit_fill_nb(st, t, m, px, q, tid, 0)
        if touched:
            finish_level_nb(st, l)
        if stop:
            break
    return


@njit
def _delta_at(pidx, pdel, n, key):
    for i in range(n):
        if pidx[i] == key:
            return i
    return -1


@njit
def fok_ok_nb(st, inst_id, side, tkey, tstp, tpos, need, has_limit, limit):
    """Dry run of rulebook 2.5: can a taker of ``need`` lots fill completely right now?
    Changes nothing. O(makers visited)."""
    opp = 1 if side == BUY else 0
    got = 0
    cap = 16
    pidx = np.empty(cap, dtype=np.int64)
    pdel = np.zeros(cap, dtype=np.int64)
    n = 0
    l = best_level_nb(st, inst_id, opp)
    while l != -1:
        px = levels_of(st)[l].price
        if has_limit and ((side == BUY and px > limit) or (side == SELL and px < limit)):
            break
        m = levels_of(st)[l].head
        while m != -1:
            mo = orders_of(st)[m]
            nxt = mo.next
            if tstp != 0 and stp_key_nb(mo) == tkey:
                if tstp == STP_CANCEL_MAKER:
                    m = nxt
                    continue
                return False
            avail = mo.leaves
            if (mo.flags & FLAG_REDUCE_ONLY) != 0:
                k = _delta_at(pidx, pdel, n, mo.pos)
                p = posv_of(st)[mo.pos] + (pdel[k] if k >= 0 else 0)
                red = red_of_nb(mo.side, p)
                if red == 0:
                    m = nxt
                    continue
                if red < avail:
                    avail = red
            q = need - got
            if avail < q:
                q = avail
            got += q
            if got >= need:
                return True
            if tpos >= 0:
                # simulated positions: only reduce-only makers read them
                for which in range(2):
                    key = tpos if which == 0 else mo.pos
                    sign = 1 if (side == BUY) == (which == 0) else -1
                    k = _delta_at(pidx, pdel, n, key)
                    if k < 0:
                        if n == cap:
                            cap *= 2
                            np2 = np.empty(cap, dtype=np.int64)
                            nd2 = np.zeros(cap, dtype=np.int64)
                            np2[:n] = pidx[:n]
                            nd2[:n] = pdel[:n]
                            pidx = np2
                            pdel = nd2
                        pidx[n] = key
                        pdel[n] = 0
                        k = n
                        n += 1
                    pdel[k] += sign * q
            m = nxt
        l = lnext_of(st)[l, 0]
    return False


@njit_inline
def market_limit_nb(st, inst_id, side):
    """(has_limit, limit) of a market order: the protection band around the best opposite."""
    opp = 1 if side == BUY else 0
    l = best_level_nb(st, inst_id, opp)
    bps = inst_of(st)[inst_id].market_band_bps
    if l == -1 or bps == 0:
        return False, 0
    best = levels_of(st)[l].price
    d = best * bps // 10000
    if side == BUY:
        return True, best + d
    return True, best - d


@njit
def run_taker_nb(st, t):
    """Match slot t, then rest it, or cancel its remainder, or drop it if done (rulebook 2.3)."""
    to = orders_of(st)[t]
    ctr_of(st)[C_TDEAD] = 0
    if to.order_type == MARKET:
        has_limit, limit = market_limit_nb(st, to.instrument, to.side)
    else:
        has_limit, limit = True, to.price
    # most orders rest without crossing: skip the matching loop's call when nothing crosses
    opp = best_level_nb(st, to.instrument, 1 if to.side == BUY else 0)
    if opp != -1:
        px = levels_of(st)[opp].price
        if not has_limit or (px <= limit if to.side == BUY else px >= limit):
            match_nb(st, t, has_limit, limit)
    if ctr_of(st)[C_TDEAD] == 1 or to.leaves == 0:
        drop_order_nb(st, t)
        return
    if to.order_type == LIMIT:
        if to.tif == IOC or to.tif == FOK:
            # FOK only gets here if its dry run passed, which makes the remainder 0
            emit_cancel_nb(st, t, to.leaves, 0, CANCEL_IOC_REMAINDER)
            drop_order_nb(st, t)
        else:
            to.visible = to.display if (to.display > 0 and to.display < to.leaves) else to.leaves
            to.seq = ctr_of(st)[C_SEQ]
            l = order_queue_nb(st, t, 0 if to.side == BUY else 1, to.price)
            emit_level_nb(st, l)
    else:
        emit_cancel_nb(st, t, to.leaves, 0, CANCEL_MARKET_NO_LIQUIDITY)
        drop_order_nb(st, t)
    return


@njit_inline
def stops_pending_nb(st, inst_id):
    return inst_of(st)[inst_id].pending_stops > 0


@njit
def trigger_stops_nb(st, inst_id):
    """Trigger and run every stop the last trade price has reached (rulebook 2.4), one at a
    time in trigger-price then time order; each may trade and trigger more. O(triggered).
    Callers skip the call when the instrument has no pending stop (``stops_pending_nb``)."""
    ins = inst_of(st)[inst_id]
    while ins.trade_count > 0:
        last = ins.last_price_ticks
        s = -1
        b = best_level_nb(st, inst_id, 2)
        if b != -1 and levels_of(st)[b].price <= last:
            s = levels_of(st)[b].head
        else:
            b = best_level_nb(st, inst_id, 3)
            if b != -1 and levels_of(st)[b].price >= last:
                s = levels_of(st)[b].head
        if s == -1:
            break
        so = orders_of(st)[s]
        l = order_unlink_nb(st, s)
        if levels_of(st)[l].count == 0:
            level_remove_nb(st, l)
        ins.pending_stops -= 1
        ctr_of(st)[C_NSTOPS] -= 1
        emit_order_nb(st, EV_TRIGGERED, s, so.qty, so.leaves, 0, 0, last)
        so.seq = ctr_of(st)[C_SEQ]
        so.trigger = 0
        if so.order_type == STOP_MARKET:
            so.order_type = MARKET
            so.tif = IOC
        else:
            so.order_type = LIMIT
        if (so.flags & FLAG_REDUCE_ONLY) != 0 and so.leaves > reducible_nb(st, s):
            emit_cancel_nb(st, s, so.leaves, 0, CANCEL_REDUCE_ONLY)
            drop_order_nb(st, s)
            continue
        if so.tif == FOK:
            if so.order_type == MARKET:
                hl, lim = market_limit_nb(st, inst_id, so.side)
            else:
                hl, lim = True, so.price
            if not fok_ok_nb(
                st, inst_id, so.side, stp_key_nb(so), so.stp, so.pos, so.leaves, hl, lim
            ):
                emit_cancel_nb(st, s, so.leaves, 0, CANCEL_FOK)
                drop_order_nb(st, s)
                continue
        run_taker_nb(st, s)
    return
