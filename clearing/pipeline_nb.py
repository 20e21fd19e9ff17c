"""The pipeline kernel: risk hold -> match -> settle, per command (docs/clearing.md 1, 4, 5).

``pipeline_nb(st, cl, cmds, mode)`` runs commands through the engine's ``process_nb`` one at a
time, with clearing's risk check before and its settlement of the command's events after: so
the outcome never depends on how commands are cut into batches. Matching never calls this
module; this module calls matching and reads its events.

It stops (returning a status and the index of the command, untouched) when a pool must grow,
when the event or ledger buffer may not hold the command's worst case, and at clearing
commands and due funding, which the Python administration code runs (``NEED_ADMIN``).
"""

from __future__ import annotations

from clearing.money_nb import (
    charge_fee_nb,
    fee_nb,
    fill_position_nb,
    move_nb,
    mul_sat_nb,
    ppm_ceil_nb,
    ppm_floor_nb,
    refresh_nb,
    remark_nb,
    short_im_lot_nb,
)
from clearing.records import (
    L_BASE,
    L_NOTIONAL,
    L_REALISED_PNL,
    SYS_POOL,
)
from clearing.state import (
    K_HFREE,
    K_LIQ,
    K_MAX_ACCOUNT,
    K_NA,
    K_NEED,
    K_NEXT_ADMIN,
    K_NHOLD,
    K_NI,
    K_NLED,
    K_P_ASSET,
    K_P_FREE,
    K_P_ORDER,
    K_P_PER_LOT,
    K_P_RO,
    K_P_VALID,
    K_ROWS,
)
from clearing.view_nb import (
    acct_flags_of,
    bal_of,
    clear_ptr_nb,
    held_of,
    hfree_of,
    hk_of,
    holds_of,
    hv_of,
    im_of,
    ledger_of,
    open_b_of,
    open_s_of,
    pos_of,
    scratch_of,
    val_of,
)
from clearing.view_nb import ctr_of as cctr_of
from clearing.view_nb import inst_of as cinst_of
from matching._jit import njit, njit_inline
from matching.events_nb import emit_reject_nb
from matching.levels_nb import best_level_nb
from matching.match_nb import market_limit_nb
from matching.process_nb import (
    NEED_CAPACITY,
    NEED_EVENTS,
    STATUS_OK,
    capacity_ok_nb,
    dispatch_nb,
    events_needed_nb,
    expire_nb,
    find_order_nb,
    process_nb,
    stamp_nb,
)
from matching.reasons import (
    ACCOUNT_DISABLED,
    INSTRUMENT_SETTLED,
    INSUFFICIENT_BALANCE,
    INSUFFICIENT_MARGIN,
    INVALID_ACCOUNT,
    NO_MARK_PRICE,
    POSITION_OWNED_BY_CLEARING,
    STOP_MARKET_BUY_UNFUNDED,
)
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CLOCK,
    CMD_DEPOSIT,
    CMD_NEW,
    CMD_SET_POSITION,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    FLAG_REDUCE_ONLY,
    KIND_OPTION,
    KIND_SPOT,
    LIMIT,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
)
from matching.state import C_CKIND, C_NEED, C_NEV, C_NEXT_SEQ, C_NHEAP, C_NOW, C_SEQ, C_TS, SKIP_H
from matching.tables_nb import ht1_del_nb, ht1_find_nb, ht1_put_nb
from matching.view_nb import (
    borrow_nb,
    ctr_of,
    events_of,
    inst_of,
    levels_of,
    lnext_of,
    orders_of,
    state_ptr_nb,
)

# statuses beyond the engine's (STATUS_OK 0, NEED_CAPACITY 1, NEED_EVENTS 2)
NEED_LEDGER = 4
NEED_ROWS = 5
NEED_HOLDS = 6
NEED_ADMIN = 7

MODE_CLIENT = 0  # commands from the sequencer: risk checks, admin stops
MODE_DERIVED = 1  # commands clearing itself sends (liquidation, expiry): no risk, no stops

LEDGER_PER_EVENT = 6  # a fill writes at most six entries


# --- the book, read-only ---------------------------------------------------------------------
@njit_inline
def _deepest_nb(st, iid, bside):
    """Price of the last (worst) level of a book side, 0 if empty. O(log levels)."""
    l = inst_of(st)[iid].hdr[bside]
    nx = lnext_of(st)
    for lane in range(SKIP_H - 1, -1, -1):
        while nx[l, lane] != -1:
            l = nx[l, lane]
    if levels_of(st)[l].sentinel:
        return 0
    return levels_of(st)[l].price


@njit_inline
def _market_buy_price_nb(st, iid):
    """The worst ask a market buy can reach: the deepest ask, within the protection band."""
    if best_level_nb(st, iid, 1) == -1:
        return 0
    worst = _deepest_nb(st, iid, 1)
    has, lim = market_limit_nb(st, iid, BUY)
    if has and lim < worst:
        return lim
    return worst


# --- risk hold -------------------------------------------------------------------------------
@njit_inline
def available_nb(cl, a, asset):
    """bal + value - im - held of one account in one asset (docs 4.1). O(1)."""
    k = a * cctr_of(cl)[K_NA] + asset
    return bal_of(cl)[k] + val_of(cl)[k] - im_of(cl)[k] - held_of(cl)[k]


@njit_inline
def hold_terms_nb(st, cl, a, iid, side, ot, price, trigger, qty, ro):
    """(reason, per_lot, free_lots, asset) of an order (docs 4.1 steps 3-6, the table). O(1),
    O(log levels) for a market buy paid in cash."""
    ci = cinst_of(cl)[iid]
    if ci.settled:
        return INSTRUMENT_SETTLED, 0, 0, 0
    kind = ci.kind
    cash_buy = side == BUY and (kind == KIND_SPOT or kind == KIND_OPTION)
    if cash_buy and ot == STOP_MARKET:
        return STOP_MARKET_BUY_UNFUNDED, 0, 0, 0
    mark = ci.mark_ticks
    u = 0
    if kind == KIND_OPTION:
        u = cinst_of(cl)[ci.underlying].mark_ticks
        if u <= 0:
            return NO_MARK_PRICE, 0, 0, 0
    elif kind != KIND_SPOT and mark <= 0:
        return NO_MARK_PRICE, 0, 0, 0
    if ot == LIMIT or ot == STOP_LIMIT:
        px = price
    elif ot == STOP_MARKET:
        px = trigger
    elif cash_buy:
        px = _market_buy_price_nb(st, iid)
    elif kind == KIND_SPOT or kind == KIND_OPTION:
        px = 0
    else:
        px = mark
    if px < 0:
        px = 0
    nf = ci.nf
    fee_rate = ci.taker_ppm if ci.taker_ppm > ci.maker_ppm else ci.maker_ppm
    if fee_rate < 0:
        fee_rate = 0
    if kind == KIND_SPOT:
        if side == SELL:
            return 0, ci.bf, 0, ci.base_asset
        base_lot = mul_sat_nb(px, nf)
        return 0, base_lot + ppm_ceil_nb(base_lot, fee_rate), 0, ci.settle_asset
    # derivatives: lots that can only reduce the position need no margin
    ni = cctr_of(cl)[K_NI]
    idx = a * ni + iid
    pos = pos_of(cl)[idx]
    free = 0
    if ro:
        free = qty
    elif kind == KIND_OPTION and side == BUY:
        free = 0  # the premium is paid whether the order opens or closes
    elif (side == SELL and pos > 0) or (side == BUY and pos < 0):
        opn = open_s_of(cl)[idx] if side == SELL else open_b_of(cl)[idx]
        ap = pos if pos > 0 else -pos
        red = ap - opn
        if red > 0:
            free = red if red < qty else qty
    pm = px if px > mark else mark
    if kind == KIND_OPTION:
        if side == BUY:
            per = mul_sat_nb(px, nf) + ppm_ceil_nb(mul_sat_nb(u, ci.und_nf), fee_rate)
        else:
            per = short_im_lot_nb(ci, u, pm)
        return 0, per, free, ci.settle_asset
    base_lot = mul_sat_nb(pm, nf)
    loss = 0
    if side == BUY and px > mark:
        loss = (px - mark) * nf
    elif side == SELL and mark > px:
        loss = (mark - px) * nf
    per = ppm_ceil_nb(base_lot, ci.tier_im[0]) + loss + ppm_ceil_nb(mul_sat_nb(px, nf), fee_rate)
    return 0, per, free, ci.settle_asset


@njit_inline
def _short_reason(cl, iid, side):
    """Cash the account lacks (spot, option premium) or margin (futures, short options)."""
    ci = cinst_of(cl)[iid]
    if ci.kind == KIND_SPOT or (ci.kind == KIND_OPTION and side == BUY):
        return INSUFFICIENT_BALANCE
    return INSUFFICIENT_MARGIN


@njit
def risk_new_nb(st, cl, c):
    """Risk check of a new order; on success the pending hold is left in the counters for
    ``on_accepted_nb``. Returns 0 or a 2xxx reason. O(1)."""
    cc = cctr_of(cl)
    a = c.account
    if a >= 1 and a < cc[K_ROWS] and (acct_flags_of(cl)[a] & 1) != 0:
        return ACCOUNT_DISABLED
    iid = c.instrument
    if (
        a < 1
        or iid < 0
        or iid >= cc[K_NI]
        or cinst_of(cl)[iid].defined == 0
        or (c.side != BUY and c.side != SELL)
        or c.qty_lots <= 0
        or c.order_type < LIMIT
        or c.order_type > STOP_LIMIT
    ):
        return 0  # the engine rejects it with its own reason
    ro = (c.flags & FLAG_REDUCE_ONLY) != 0
    if ro and cinst_of(cl)[iid].kind == KIND_SPOT:
        return 0  # the engine rejects it (INVALID_COMBINATION): reduce-only needs a position
    reason, per, free, asset = hold_terms_nb(
        st, cl, a, iid, c.side, c.order_type, c.price_ticks, c.trigger_ticks, c.qty_lots, ro
    )
    if reason != 0:
        return reason
    need = mul_sat_nb(per, c.qty_lots - free)
    if need > 0 and need > available_nb(cl, a, asset):
        return _short_reason(cl, iid, c.side)
    cc[K_P_VALID] = 1
    cc[K_P_PER_LOT] = per
    cc[K_P_FREE] = free
    cc[K_P_ASSET] = asset
    cc[K_P_RO] = 1 if ro else 0
    return 0


@njit
def risk_amend_nb(st, cl, c, s):
    """Risk check of an amend of engine slot ``s`` (docs 4.2). Returns 0 or a reason. O(1)."""
    if s == -1:
        return 0
    cc = cctr_of(cl)
    o = orders_of(st)[s]
    a = o.account
    if a < cc[K_ROWS] and (acct_flags_of(cl)[a] & 1) != 0:
        return ACCOUNT_DISABLED
    h = ht1_find_nb(hk_of(cl), hv_of(cl), o.order_id)
    if h == -1:
        return 0
    hr = holds_of(cl)[h]
    new_price = c.price_ticks if c.price_ticks != 0 else o.price
    new_qty = c.qty_lots if c.qty_lots != 0 else o.qty
    new_leaves = new_qty - (o.qty - o.leaves)
    if new_leaves <= 0 or new_qty <= 0:
        return 0
    per = hr.per_lot
    if new_price != o.price:
        reason, per, _f, _asset = hold_terms_nb(
            st, cl, a, o.instrument, o.side, o.order_type, new_price, o.trigger, new_leaves,
            hr.reduce_only != 0,
        )  # fmt: skip
        if reason != 0:
            return reason
    free = new_leaves if hr.reduce_only else min(hr.free_lots, new_leaves)
    delta = mul_sat_nb(per, new_leaves - free) - hr.per_lot * (hr.leaves - hr.free_lots)
    if delta > 0 and delta > available_nb(cl, a, hr.asset):
        return _short_reason(cl, o.instrument, o.side)
    cc[K_P_VALID] = 1
    cc[K_P_PER_LOT] = per
    cc[K_P_ORDER] = h
    return 0


# --- settlement of events --------------------------------------------------------------------
@njit_inline
def _open_add(cl, a, iid, side, d):
    idx = a * cctr_of(cl)[K_NI] + iid
    if side == BUY:
        open_b_of(cl)[idx] += d
    else:
        open_s_of(cl)[idx] += d


@njit
def on_accepted_nb(cl, e):
    """Record the order's hold (docs 4.1) and count its lots open. O(1)."""
    cc = cctr_of(cl)
    per = 0
    free = 0
    ro = 0
    asset = cinst_of(cl)[e.instrument].settle_asset
    if cc[K_P_VALID] == 1:
        per = cc[K_P_PER_LOT]
        free = cc[K_P_FREE]
        asset = cc[K_P_ASSET]
        ro = cc[K_P_RO]
    cc[K_P_VALID] = 0
    k = cc[K_HFREE] - 1
    cc[K_HFREE] = k
    h = hfree_of(cl)[k]
    cc[K_NHOLD] += 1
    ht1_put_nb(hk_of(cl), hv_of(cl), e.order_id, h)
    r = holds_of(cl)[h]
    r.order_id = e.order_id
    r.per_lot = per
    r.free_lots = free
    r.leaves = e.qty_lots
    r.account = e.account
    r.instrument = e.instrument
    r.asset = asset
    r.side = e.side
    r.reduce_only = ro
    held_of(cl)[e.account * cc[K_NA] + asset] += per * (e.qty_lots - free)
    _open_add(cl, e.account, e.instrument, e.side, e.qty_lots)


@njit
def reduce_order_nb(cl, order_id, d):
    """An order's leaves fell by ``d`` (fill, cancel, STP decrement): free lots go first, then
    the hold of the rest is released; the record goes at zero. O(1)."""
    h = ht1_find_nb(hk_of(cl), hv_of(cl), order_id)
    if h == -1:
        return
    r = holds_of(cl)[h]
    f = d if d < r.free_lots else r.free_lots
    r.free_lots -= f
    cc = cctr_of(cl)
    held_of(cl)[r.account * cc[K_NA] + r.asset] -= r.per_lot * (d - f)
    r.leaves -= d
    _open_add(cl, r.account, r.instrument, r.side, -d)
    if r.leaves <= 0:
        ht1_del_nb(hk_of(cl), hv_of(cl), order_id)
        k = cc[K_HFREE]
        hfree_of(cl)[k] = h
        cc[K_HFREE] = k + 1
        cc[K_NHOLD] -= 1


@njit
def on_amended_nb(cl, e):
    """Take the amend's new hold (computed by ``risk_amend_nb``). O(1)."""
    cc = cctr_of(cl)
    # the risk stage found the record already: spare the second lookup (82% of exchange-core's
    # commands are amends)
    h = cc[K_P_ORDER] if cc[K_P_VALID] == 1 else -1
    if h == -1 or holds_of(cl)[h].order_id != e.order_id:
        h = ht1_find_nb(hk_of(cl), hv_of(cl), e.order_id)
        if h == -1:
            return
    r = holds_of(cl)[h]
    per = cc[K_P_PER_LOT] if cc[K_P_VALID] == 1 else r.per_lot
    cc[K_P_VALID] = 0
    new_leaves = e.leaves_lots
    free = new_leaves if r.reduce_only else min(r.free_lots, new_leaves)
    k = r.account * cc[K_NA] + r.asset
    held_of(cl)[k] += per * (new_leaves - free) - r.per_lot * (r.leaves - r.free_lots)
    _open_add(cl, r.account, r.instrument, r.side, new_leaves - r.leaves)
    r.per_lot = per
    r.free_lots = free
    r.leaves = new_leaves


@njit
def settle_fill_nb(cl, e):
    """Money and positions of one fill (docs 5). O(1)."""
    cc = cctr_of(cl)
    iid = e.instrument
    ci = cinst_of(cl)[iid]
    q = e.qty_lots
    p = e.price_ticks
    ta = e.account
    ma = e.maker_account
    seq = e.seq
    tid = e.trade_id
    reduce_order_nb(cl, e.order_id, q)
    reduce_order_nb(cl, e.maker_order_id, q)
    buyer = ta if e.side == BUY else ma
    seller = ma if e.side == BUY else ta
    t_rate = 0 if cc[K_LIQ] == ta else ci.taker_ppm
    m_rate = ci.maker_ppm
    asset = ci.settle_asset
    notional = p * q * ci.nf
    if ci.kind == KIND_SPOT:
        move_nb(cl, buyer, seller, asset, notional, L_NOTIONAL, tid, iid, seq)
        move_nb(cl, seller, buyer, ci.base_asset, q * ci.bf, L_BASE, tid, iid, seq)
        charge_fee_nb(cl, ta, asset, fee_nb(notional, t_rate), tid, iid, seq)
        charge_fee_nb(cl, ma, asset, fee_nb(notional, m_rate), tid, iid, seq)
        return
    if ci.kind == KIND_OPTION:
        move_nb(cl, buyer, seller, asset, notional, L_NOTIONAL, tid, iid, seq)
        base = cinst_of(cl)[ci.underlying].mark_ticks * q * ci.und_nf
        ft = fee_nb(base, t_rate)
        fm = fee_nb(base, m_rate)
        if ci.fee_cap_ppm > 0:
            cap = ppm_floor_nb(notional, ci.fee_cap_ppm)
            ft = min(max(ft, -cap), cap)
            fm = min(max(fm, -cap), cap)
        charge_fee_nb(cl, ta, asset, ft, tid, iid, seq)
        charge_fee_nb(cl, ma, asset, fm, tid, iid, seq)
        dq = q if e.side == BUY else -q
        fill_position_nb(cl, ta, iid, dq, p)
        fill_position_nb(cl, ma, iid, -dq, p)
    else:
        charge_fee_nb(cl, ta, asset, fee_nb(notional, t_rate), tid, iid, seq)
        charge_fee_nb(cl, ma, asset, fee_nb(notional, m_rate), tid, iid, seq)
        dq = q if e.side == BUY else -q
        rt = fill_position_nb(cl, ta, iid, dq, p)
        rm = fill_position_nb(cl, ma, iid, -dq, p)
        move_nb(cl, SYS_POOL, ta, asset, rt * ci.nf, L_REALISED_PNL, tid, iid, seq)
        move_nb(cl, SYS_POOL, ma, asset, rm * ci.nf, L_REALISED_PNL, tid, iid, seq)
    refresh_nb(cl, ta, iid)
    refresh_nb(cl, ma, iid)


@njit
def settle_range_nb(st, cl, lo, hi):
    """Settle events [lo, hi) of the engine's buffer, in order. O(events)."""
    ev = events_of(st)
    for j in range(lo, hi):
        e = ev[j]
        k = e.kind
        if k == EV_FILL:
            settle_fill_nb(cl, e)
        elif k == EV_CANCELLED:
            reduce_order_nb(cl, e.order_id, e.qty_lots)
        elif k == EV_ACCEPTED:
            on_accepted_nb(cl, e)
        elif k == EV_AMENDED:
            on_amended_nb(cl, e)


# --- the loop --------------------------------------------------------------------------------
@njit_inline
def consume_seq_nb(st, c, seq, ts):
    """A command the engine does not see still takes its seq and moves time. O(1)."""
    ectr = ctr_of(st)
    ectr[C_SEQ] = seq
    ectr[C_TS] = ts
    ectr[C_CKIND] = c.kind
    if ts > ectr[C_NOW]:
        ectr[C_NOW] = ts
    if seq >= ectr[C_NEXT_SEQ]:
        ectr[C_NEXT_SEQ] = seq + 1


@njit
def expire_first_nb(st, cl, seq, ts):
    """Expiry at the command's time, settled before its risk check (docs 1 step 2). Returns the
    engine status (not OK: nothing changed). O(expired orders)."""
    if ctr_of(st)[C_NHEAP] == 0:
        return STATUS_OK
    sc = scratch_of(cl)
    d = sc[1]
    d.seq = seq
    d.ts_ns = ts
    d.kind = CMD_CLOCK
    n0 = ctr_of(st)[C_NEV]
    status, _done = process_nb(st, sc[1:2])
    if status == STATUS_OK:
        settle_range_nb(st, cl, n0, ctr_of(st)[C_NEV])
    return status


@njit
def pipeline_nb(st, cl, cmds, mode):
    """Run commands through risk, matching and settlement, appending events to the engine's
    buffer and ledger entries to clearing's. Returns (status, commands done). O(sum of each
    command's matching cost + its fills), no allocation."""
    ectr = ctr_of(st)
    cc = cctr_of(cl)
    for i in range(cmds.shape[0]):
        c = cmds[i]
        k = c.kind
        if not capacity_ok_nb(st):
            return NEED_CAPACITY, i
        found = find_order_nb(st, c) if k == CMD_AMEND else -1
        need = events_needed_nb(st, c, found) + 2
        if need > events_of(st).shape[0] - ectr[C_NEV]:
            ectr[C_NEED] = ectr[C_NEV] + need
            return NEED_EVENTS, i
        if LEDGER_PER_EVENT * need > ledger_of(cl).shape[0] - cc[K_NLED]:
            cc[K_NEED] = cc[K_NLED] + LEDGER_PER_EVENT * need
            return NEED_LEDGER, i
        if k == CMD_NEW:
            if c.account >= cc[K_ROWS] and c.account <= cc[K_MAX_ACCOUNT]:
                cc[K_NEED] = c.account + 1
                return NEED_ROWS, i
            if cc[K_HFREE] < 1 or 4 * (cc[K_NHOLD] + 1) > hv_of(cl).shape[0]:
                return NEED_HOLDS, i
        seq, ts = stamp_nb(st, c)
        if mode == MODE_CLIENT:
            if k >= CMD_DEPOSIT or ts >= cc[K_NEXT_ADMIN]:
                return NEED_ADMIN, i
            if ectr[C_NHEAP] > 0:  # GTD orders live: expire at this time first
                n_before = ectr[C_NEV]
                status = expire_first_nb(st, cl, seq, ts)
                if status != STATUS_OK:
                    return status, i
                if k == CMD_AMEND and ectr[C_NEV] != n_before:
                    found = find_order_nb(st, c)  # expiry may just have removed it
        cc[K_P_VALID] = 0
        reason = 0
        if mode == MODE_CLIENT:
            if k == CMD_NEW:
                if c.account > cc[K_MAX_ACCOUNT]:
                    reason = INVALID_ACCOUNT
                else:
                    reason = risk_new_nb(st, cl, c)
            elif k == CMD_AMEND:
                reason = risk_amend_nb(st, cl, c, found)
            elif k == CMD_SET_POSITION:
                reason = POSITION_OWNED_BY_CLEARING
        consume_seq_nb(st, c, seq, ts)
        if reason != 0:
            emit_reject_nb(st, c, reason)
            continue
        # the engine's own checks were made above and expiry ran at this time already (client
        # mode): apply the command directly (handlers take seq and ts from the counters)
        if mode != MODE_CLIENT and ectr[C_NHEAP] > 0 and not expire_nb(st):
            return NEED_EVENTS, i
        n0 = ectr[C_NEV]
        dispatch_nb(st, c, found)
        settle_range_nb(st, cl, n0, ectr[C_NEV])
    return STATUS_OK, cmds.shape[0]


@njit
def pipeline_desc_nb(de, dc, cmds, mode):
    """``pipeline_nb`` on the states the two descriptors describe; commands borrowed."""
    return pipeline_nb(state_ptr_nb(de), clear_ptr_nb(dc), borrow_nb(cmds), mode)


@njit
def prelude_desc_nb(de, dc, cmds):
    """For a command the Python administration runs (``cmds[0]``): stamp it, expire and settle
    first, and consume its seq. Returns (status, seq, ts); not OK: nothing changed."""
    st = state_ptr_nb(de)
    cl = clear_ptr_nb(dc)
    c = cmds[0]
    seq, ts = stamp_nb(st, c)
    status = expire_first_nb(st, cl, seq, ts)
    if status == STATUS_OK:
        consume_seq_nb(st, c, seq, ts)
    return status, seq, ts


@njit
def transfer_position_nb(cl, buyer, seller, iid, q, p, seq, ref):
    """Move ``q`` lots of position from seller to buyer at ``p`` without fees or holds: the
    auto-deleverage trade (docs 7). Cash as for a fill: option premium, futures realised PnL
    against the POOL. O(1)."""
    ci = cinst_of(cl)[iid]
    asset = ci.settle_asset
    rb = fill_position_nb(cl, buyer, iid, q, p)
    rs = fill_position_nb(cl, seller, iid, -q, p)
    if ci.kind == KIND_OPTION:
        move_nb(cl, buyer, seller, asset, p * q * ci.nf, L_NOTIONAL, ref, iid, seq)
    else:
        move_nb(cl, SYS_POOL, buyer, asset, rb * ci.nf, L_REALISED_PNL, ref, iid, seq)
        move_nb(cl, SYS_POOL, seller, asset, rs * ci.nf, L_REALISED_PNL, ref, iid, seq)
    refresh_nb(cl, buyer, iid)
    refresh_nb(cl, seller, iid)


@njit
def transfer_position_desc_nb(dc, buyer, seller, iid, q, p, seq, ref):
    transfer_position_nb(clear_ptr_nb(dc), buyer, seller, iid, q, p, seq, ref)


@njit
def refresh_desc_nb(dc, a, iid):
    refresh_nb(clear_ptr_nb(dc), a, iid)


@njit
def remark_desc_nb(dc, iid):
    remark_nb(clear_ptr_nb(dc), iid)


@njit
def settle_events_desc_nb(de, dc, lo, hi):
    """Settle events [lo, hi) of the engine descriptor's current event buffer, alone: the
    settlement stage's own throughput (``venue bench clearing``)."""
    settle_range_nb(state_ptr_nb(de), clear_ptr_nb(dc), lo, hi)
