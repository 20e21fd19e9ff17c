"""Clearing administration in Python: transfers, marks, funding, expiry, liquidation, ADL.

These run when the pipeline kernel stops at a clearing command (or at due funding): rare events,
each O(accounts) at most, written for clarity on the same arrays the kernels use, with the
kernels' own money movements (``move_desc_nb``) so that every movement is a ledger entry.
Everything here is decided by the command stream alone (the command's seq and ts, the book,
the accounts): replaying the journal repeats it exactly. docs/clearing.md sections 7 and 8.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from clearing.money_nb import move_desc_nb
from clearing.pipeline_nb import (
    MODE_DERIVED,
    pipeline_desc_nb,
    prelude_desc_nb,
    refresh_desc_nb,
    remark_desc_nb,
    transfer_position_desc_nb,
)
from clearing.records import (
    L_DEPOSIT,
    L_FEE,
    L_FUNDING,
    L_INSURANCE_COVER,
    L_LIQUIDATION_FEE,
    L_REALISED_PNL,
    L_SETTLEMENT,
    L_WITHDRAWAL,
    SYS_EXTERNAL,
    SYS_INSURANCE,
    SYS_POOL,
)
from clearing.state import INT64_MAX, K_LIQ, K_MAX_ACCOUNT, K_NA, K_NEXT_ADMIN, K_NI, K_ROWS
from matching import reasons as R
from matching.process_nb import STATUS_OK
from matching.records import (
    BUY,
    CMD_ACCOUNT,
    CMD_DEPOSIT,
    CMD_FUNDING,
    CMD_HALT,
    CMD_MASS_CANCEL,
    CMD_NEW,
    CMD_SET_MARK,
    CMD_SET_POSITION,
    CMD_SETTLE,
    CMD_WITHDRAW,
    COMMAND_DTYPE,
    EV_ACCOUNT,
    EV_ADL,
    EV_BALANCE,
    EV_FUNDING,
    EV_LIQUIDATION,
    EV_MARK,
    EV_REJECTED,
    EV_SETTLEMENT,
    EVF_DUPLICATE,
    FLAG_REDUCE_ONLY,
    IOC,
    KIND_FUTURE,
    KIND_OPTION,
    KIND_PERPETUAL,
    KIND_SPOT,
    LIMIT,
    SELL,
)
from matching.state import C_NEV

if TYPE_CHECKING:
    from clearing.exchange import Exchange

PPM = 1_000_000


# --- plumbing ----------------------------------------------------------------------------------
def emit(ex: Exchange, kind: int, seq: int, ts: int, cmd_kind: int, **fields: int) -> None:
    """Append one event to the buffer of the call in flight. O(fields)."""
    ex.ensure_events(1)
    ctr = ex.engine.state.ctr
    n = int(ctr[C_NEV])
    ex._out[n] = np.zeros(1, dtype=ex._out.dtype)[0]
    e = ex._out[n : n + 1]
    e["seq"] = seq
    e["ts_ns"] = ts
    e["kind"] = kind
    e["cmd_kind"] = cmd_kind
    for k, v in fields.items():
        e[k] = v
    ctr[C_NEV] = n + 1


def reject(ex: Exchange, c: Any, seq: int, ts: int, reason: int) -> None:
    """REJECTED for a clearing command, formatted as the engine's rejects."""
    emit(
        ex, EV_REJECTED, seq, ts, int(c["kind"]),
        order_id=int(c["order_id"]), client_order_id=int(c["client_order_id"]),
        price_ticks=int(c["price_ticks"]), qty_lots=int(c["qty_lots"]),
        account=int(c["account"]), instrument=int(c["instrument"]), side=int(c["side"]),
        reason=reason, order_type=int(c["order_type"]), tif=int(c["tif"]),
    )  # fmt: skip


def move(ex: Exchange, frm: int, to: int, asset: int, amount: int, kind: int, **at: int) -> None:
    """One ledger movement (``at``: ref, iid, seq). O(1)."""
    if amount == 0:
        return
    ex.ensure_ledger(1)
    move_desc_nb(
        ex._cdesc, frm, to, asset, amount, kind, at.get("ref", 0), at.get("iid", -1), at["seq"]
    )


def derived(ex: Exchange, kind: int, seq: int, ts: int, **fields: int) -> None:
    """Run an engine command that clearing sends itself (stamped with the causing command's seq
    and ts) through the pipeline without risk checks, settling its events. O(its matching)."""
    rec = np.zeros(1, dtype=COMMAND_DTYPE)
    rec["kind"] = kind
    rec["seq"] = seq
    rec["ts_ns"] = ts
    for k, v in fields.items():
        rec[k] = v
    while True:
        status, _k = pipeline_desc_nb(ex.engine._desc, ex._cdesc, rec, MODE_DERIVED)
        if status == STATUS_OK:
            return
        ex.handle_stop(int(status))


def _cols(ex: Exchange) -> tuple[int, int, int]:
    c = ex.cs.ctr
    return int(c[K_NA]), int(c[K_NI]), int(c[K_ROWS])


def _bal(ex: Exchange, a: int, k: int) -> int:
    return int(ex.cs.bal[a * int(ex.cs.ctr[K_NA]) + k])


# --- bankrupt closes ----------------------------------------------------------------------------
_LOSSES = (L_REALISED_PNL, L_FEE, L_SETTLEMENT)


def cover_bankrupt(ex: Exchange, n_led: int) -> None:
    """After a batch: an account that paid a loss, fee or settlement in it and is left with a
    negative balance in that asset and no derivative exposure there (no position, no live
    derivative order) is bankrupt with nothing left for liquidation to act on, e.g. it closed
    its own position at a price beyond its bankruptcy price. The insurance fund covers the
    deficit (INSURANCE_COVER, as after a liquidation), as far as it can. O(the batch's ledger
    entries); O(holds) more only for an account found negative."""
    led = ex._ledger_buf[:n_led]
    if n_led > 16:  # many entries: numpy picks the candidates, those left negative, first
        kind = led["kind"]
        pick = (led["from_account"] > 0) & (
            (kind == L_REALISED_PNL) | (kind == L_FEE) | (kind == L_SETTLEMENT)
        )
        led = led[pick]
        if len(led):
            rows = led["from_account"].astype(np.int64) * int(ex.cs.ctr[K_NA]) + led["asset"]
            led = led[ex.cs.bal[rows] < 0]
    seen: set[tuple[int, int]] = set()
    for e in led[["from_account", "asset", "kind", "seq"]].tolist():
        a, k, kind, seq = e
        if a <= 0 or kind not in _LOSSES or (a, k) in seen:
            continue
        seen.add((a, k))
        bal = _bal(ex, a, k)
        if bal >= 0 or _exposed(ex, a, k):
            continue
        cover = min(-bal, max(0, ex.sys_balance(SYS_INSURANCE, k)))
        move(ex, SYS_INSURANCE, a, k, cover, L_INSURANCE_COVER, seq=seq)


def _exposed(ex: Exchange, a: int, k: int) -> bool:
    """Has account ``a`` a position, or a live order holding margin, settled in asset ``k``?"""
    cs = ex.cs
    ni = _cols(ex)[1]
    for i in range(ni):
        row = cs.inst[i]
        derivative = row["defined"] and int(row["kind"]) != KIND_SPOT
        if derivative and int(row["settle_asset"]) == k and int(cs.pos[a * ni + i]):
            return True
    h = cs.holds
    live = h[(h["leaves"] > 0) & (h["account"] == a) & (h["asset"] == k)]
    return any(int(cs.inst[int(i)]["kind"]) != KIND_SPOT for i in live["instrument"].tolist())


# --- entry -------------------------------------------------------------------------------------
def run(ex: Exchange, cmd: np.ndarray) -> bool:
    """Handle the command the kernel stopped at: pay due funding first; then, for a clearing
    command, run it and return True (consumed); for any other command return False (the
    kernel runs it next)."""
    c = cmd[0]
    kind = int(c["kind"])
    seq, ts = int(c["seq"]), int(c["ts_ns"])
    if seq == 0:  # the stamping rule (rulebook 0), as the kernel applies it
        seq = ex.next_seq
        ts = ts or ex.now_ns
    ex._cmd_kind = kind if kind >= CMD_DEPOSIT else CMD_FUNDING
    if ts >= int(ex.cs.ctr[K_NEXT_ADMIN]):
        pay_due_funding(ex, seq, ts)
    if kind < CMD_DEPOSIT:
        return False
    while True:
        status, seq, ts = prelude_desc_nb(ex.engine._desc, ex._cdesc, cmd)
        if status == STATUS_OK:
            break
        ex.handle_stop(int(status))
    seq, ts = int(seq), int(ts)
    handler = _HANDLERS.get(kind)
    if handler is None:
        reject(ex, c, seq, ts, R.INVALID_COMMAND)
    else:
        handler(ex, c, seq, ts)
    return True


# --- transfers ---------------------------------------------------------------------------------
def _transfer(ex: Exchange, c: Any, seq: int, ts: int) -> None:
    kind = int(c["kind"])
    a, asset = int(c["account"]), int(c["instrument"])
    amount, tid = int(c["qty_lots"]), int(c["order_id"])
    na = int(ex.cs.ctr[K_NA])
    client = 1 <= a <= int(ex.cs.ctr[K_MAX_ACCOUNT])
    if amount <= 0 or tid <= 0 or not 0 <= asset < na:
        return reject(ex, c, seq, ts, R.INVALID_TRANSFER)
    if not (client or (kind == CMD_DEPOSIT and a == SYS_INSURANCE)):
        return reject(ex, c, seq, ts, R.INVALID_TRANSFER)
    if client and a >= int(ex.cs.ctr[K_ROWS]):
        from clearing.state import grow_rows

        ex._set_clear(grow_rows(ex.cs, a + 1))
    key = (a, tid)
    if key in ex.transfers:
        _k, asset0, amount0 = ex.transfers[key]
        now = _bal(ex, a, asset0) if client else ex.sys_balance(a, asset0)
        emit(
            ex, EV_BALANCE, seq, ts, kind, account=a, instrument=asset0, order_id=tid,
            qty_lots=amount0, leaves_lots=now, flags=EVF_DUPLICATE,
        )  # fmt: skip
        return None
    if kind == CMD_WITHDRAW:
        total, held = ex.balance(a, asset)
        if amount > min(total - held, ex.margin(a, asset)["available"]):
            return reject(ex, c, seq, ts, R.INSUFFICIENT_BALANCE)
        move(ex, a, SYS_EXTERNAL, asset, amount, L_WITHDRAWAL, ref=tid, seq=seq)
    else:
        move(ex, SYS_EXTERNAL, a, asset, amount, L_DEPOSIT, ref=tid, seq=seq)
    ex.transfers[key] = (kind, asset, amount)
    now = _bal(ex, a, asset) if client else ex.sys_balance(a, asset)
    emit(
        ex, EV_BALANCE, seq, ts, kind, account=a, instrument=asset, order_id=tid,
        qty_lots=amount, leaves_lots=now,
    )  # fmt: skip
    return None


def _account(ex: Exchange, c: Any, seq: int, ts: int) -> None:
    a = int(c["account"])
    if not 1 <= a <= int(ex.cs.ctr[K_MAX_ACCOUNT]):
        return reject(ex, c, seq, ts, R.INVALID_ACCOUNT)
    if a >= int(ex.cs.ctr[K_ROWS]):
        from clearing.state import grow_rows

        ex._set_clear(grow_rows(ex.cs, a + 1))
    flags = int(c["flags"]) & 1
    ex.cs.acct_flags[a] = flags
    emit(ex, EV_ACCOUNT, seq, ts, CMD_ACCOUNT, account=a, flags=flags)
    return None


# --- marks -------------------------------------------------------------------------------------
def _defined(ex: Exchange, i: int) -> bool:
    return 0 <= i < len(ex.cs.inst) and bool(ex.cs.inst[i]["defined"])


def _set_mark(ex: Exchange, c: Any, seq: int, ts: int) -> None:
    i, index = int(c["instrument"]), int(c["price_ticks"])
    if not _defined(ex, i):
        return reject(ex, c, seq, ts, R.UNKNOWN_INSTRUMENT)
    if index <= 0:
        return reject(ex, c, seq, ts, R.PRICE_NOT_POSITIVE)
    if int(c["flags"]) not in (0, 1):
        return reject(ex, c, seq, ts, R.INVALID_CLEARING_COMMAND)
    row = ex.cs.inst[i : i + 1]
    mark = index
    if int(c["flags"]) & 1:
        bv = ex.engine.book(i, 1)
        if bv.bids and bv.asks:
            mid = (bv.bids[0].price_ticks + bv.asks[0].price_ticks) // 2
            band = index * int(row["mark_band_ppm"][0]) // PPM
            mark = min(max(mid, index - band), index + band)
    row["mark_ticks"] = mark
    row["index_ticks"] = index
    remark_desc_nb(ex._cdesc, i)
    emit(ex, EV_MARK, seq, ts, CMD_SET_MARK, instrument=i, price_ticks=mark, aux=index)
    liquidation_check(ex, int(row["settle_asset"][0]), seq, ts)
    return None


# --- funding -----------------------------------------------------------------------------------
def schedule_funding(ex: Exchange) -> None:
    """The earliest due funding time goes to the kernel's counter (INT64_MAX: none)."""
    ins = ex.cs.inst
    due = [
        int(r["next_funding_ns"])
        for r in ins
        if r["defined"] and int(r["kind"]) == KIND_PERPETUAL and int(r["funding_interval_ns"])
    ]
    ex.cs.ctr[K_NEXT_ADMIN] = min(due) if due else INT64_MAX


def pay_due_funding(ex: Exchange, seq: int, ts: int) -> None:
    """Funding of every perpetual whose time has come, once per crossing (docs 1 step 3)."""
    for i, r in enumerate(ex.cs.inst):
        interval = int(r["funding_interval_ns"])
        perp = r["defined"] and int(r["kind"]) == KIND_PERPETUAL
        if perp and interval and int(r["next_funding_ns"]) <= ts:
            pay_funding(ex, i, seq, ts)
            ex.cs.inst[i]["next_funding_ns"] = (ts // interval + 1) * interval
    schedule_funding(ex)
    for k in range(len(ex.config.assets)):
        liquidation_check(ex, k, seq, ts)


def _funding(ex: Exchange, c: Any, seq: int, ts: int) -> None:
    i = int(c["instrument"])
    if not _defined(ex, i):
        return reject(ex, c, seq, ts, R.UNKNOWN_INSTRUMENT)
    if int(ex.cs.inst[i]["kind"]) != KIND_PERPETUAL:
        return reject(ex, c, seq, ts, R.INVALID_CLEARING_COMMAND)
    pay_funding(ex, i, seq, ts)
    liquidation_check(ex, int(ex.cs.inst[i]["settle_asset"]), seq, ts)
    return None


def pay_funding(ex: Exchange, i: int, seq: int, ts: int) -> None:
    """Longs pay shorts (rate > 0) or the reverse; payments sum to exactly zero (docs 7)."""
    r = ex.cs.inst[i]
    mark, index, nf = int(r["mark_ticks"]), int(r["index_ticks"]), int(r["nf"])
    cap = int(r["funding_cap_ppm"])
    rate = (mark - index) * PPM // index if index > 0 else 0
    rate = max(-cap, min(cap, rate))
    asset = int(r["settle_asset"])
    _na, ni, rows = _cols(ex)
    col = ex.cs.pos.reshape(rows, ni)[:, i]
    longs = [(a, int(col[a])) for a in np.flatnonzero(col > 0).tolist()]
    shorts = [(a, -int(col[a])) for a in np.flatnonzero(col < 0).tolist()]
    payers, receivers = (longs, shorts) if rate > 0 else (shorts, longs)
    total = 0
    if rate != 0 and receivers:
        for a, q in payers:
            amount = q * mark * nf * abs(rate) // PPM
            total += amount
            move(ex, a, SYS_POOL, asset, amount, L_FUNDING, iid=i, seq=seq)
        size = sum(q for _a, q in receivers)
        shares = [total * q // size for _a, q in receivers]
        rest = total - sum(shares)
        for k, (a, _q) in enumerate(receivers):
            amount = shares[k] + (1 if k < rest else 0)
            move(ex, SYS_POOL, a, asset, amount, L_FUNDING, iid=i, seq=seq)
    emit(
        ex, EV_FUNDING, seq, ts, CMD_FUNDING, instrument=i, price_ticks=mark, aux=rate,
        qty_lots=total,
    )  # fmt: skip


# --- expiry ------------------------------------------------------------------------------------
def _settle(ex: Exchange, c: Any, seq: int, ts: int) -> None:
    i, s = int(c["instrument"]), int(c["price_ticks"])
    if not _defined(ex, i):
        return reject(ex, c, seq, ts, R.UNKNOWN_INSTRUMENT)
    r = ex.cs.inst[i : i + 1]
    kind = int(r["kind"][0])
    if kind not in (KIND_FUTURE, KIND_OPTION):
        return reject(ex, c, seq, ts, R.INVALID_CLEARING_COMMAND)
    if r["settled"][0]:
        return reject(ex, c, seq, ts, R.INSTRUMENT_SETTLED)
    if s <= 0:
        return reject(ex, c, seq, ts, R.PRICE_NOT_POSITIVE)
    derived(ex, CMD_MASS_CANCEL, seq, ts, instrument=i, reason=R.CANCEL_SETTLEMENT)
    derived(ex, CMD_HALT, seq, ts, instrument=i)
    asset, nf = int(r["settle_asset"][0]), int(r["nf"][0])
    _na, ni, rows = _cols(ex)
    pos = ex.cs.pos.reshape(rows, ni)
    cost = ex.cs.cost.reshape(rows, ni)
    holders = np.flatnonzero(pos[:, i]).tolist()
    if kind == KIND_OPTION:
        k_ticks = int(r["strike_ticks"][0])
        intrinsic = max(0, s - k_ticks) if r["is_call"][0] else max(0, k_ticks - s)
    for a in holders:
        p, cst = int(pos[a, i]), int(cost[a, i])
        if kind == KIND_FUTURE:
            amount = (s * p - cst) * nf
        else:
            amount = p * intrinsic * int(r["und_nf"][0])
        move(ex, SYS_POOL, a, asset, amount, L_SETTLEMENT, iid=i, seq=seq)
        pos[a, i] = 0
        cost[a, i] = 0
    r["settled"] = 1
    if kind == KIND_FUTURE:
        r["mark_ticks"] = s
    for a in holders:
        refresh_desc_nb(ex._cdesc, a, i)
        derived(ex, CMD_SET_POSITION, seq, ts, account=a, instrument=i, qty_lots=0)
    emit(
        ex, EV_SETTLEMENT, seq, ts, CMD_SETTLE, instrument=i, price_ticks=s,
        qty_lots=len(holders),
    )  # fmt: skip
    return None


# --- liquidation -------------------------------------------------------------------------------
def liquidation_check(ex: Exchange, asset: int, seq: int, ts: int) -> None:
    """Liquidate, in account order, every account whose equity in ``asset`` is below its
    maintenance margin. O(accounts) to find them."""
    na, _ni, rows = _cols(ex)
    cs = ex.cs
    bal = cs.bal.reshape(rows, na)[:, asset]
    val = cs.val.reshape(rows, na)[:, asset]
    mm = cs.mm.reshape(rows, na)[:, asset]
    for a in np.flatnonzero((mm > 0) & (bal + val < mm)).tolist():
        liquidate(ex, int(a), asset, seq, ts)


def _equity(ex: Exchange, a: int, asset: int) -> int:
    m = ex.margin(a, asset)
    return m["equity"]


def liquidate(ex: Exchange, a: int, asset: int, seq: int, ts: int) -> None:
    """docs/clearing.md 7: cancel, close in the book within what the fund can afford,
    auto-deleverage the rest at the bankruptcy price, then cover or charge the fee."""
    cs = ex.cs
    _na, ni, _rows = _cols(ex)
    cs.ctr[K_LIQ] = a
    try:
        derived(ex, CMD_MASS_CANCEL, seq, ts, account=a, instrument=-1, reason=R.CANCEL_LIQUIDATION)
        fee_base = 0
        for i in range(ni):
            r = cs.inst[i]
            if not r["defined"] or int(r["kind"]) == KIND_SPOT or int(r["settle_asset"]) != asset:
                continue
            p = ex.position(a, i)
            if p == 0:
                continue
            mark, nf = int(r["mark_ticks"]), int(r["nf"])
            equity = _equity(ex, a, asset)
            fund = max(0, ex.sys_balance(SYS_INSURANCE, asset))
            if p > 0:
                b = mark - equity // (p * nf)
                limit = max(1, b - fund // (p * nf))
            else:
                b = mark + equity // (-p * nf)
                limit = b + fund // (-p * nf)
            b = max(b, 1)
            emit(
                ex, EV_LIQUIDATION, seq, ts, ex._cmd_kind, account=a, instrument=i,
                qty_lots=p, price_ticks=b, aux=limit,
            )  # fmt: skip
            side = SELL if p > 0 else BUY
            max_q = ex.instruments[i].max_qty_lots or abs(p)
            while ex.position(a, i) != 0:
                before = ex.position(a, i)
                q = min(abs(before), max_q)
                derived(
                    ex, CMD_NEW, seq, ts, account=a, instrument=i, side=side,
                    order_type=LIMIT, tif=IOC, price_ticks=limit, qty_lots=q,
                    flags=FLAG_REDUCE_ONLY,
                )  # fmt: skip
                if abs(ex.position(a, i)) > abs(before) - q:
                    break  # the book took less than offered: the rest is deleveraged
            _adl(ex, a, i, b, seq, ts)
            fee_base += abs(p) * mark * nf * int(r["liq_fee_ppm"])
        bal = _bal(ex, a, asset)
        if bal < 0:
            cover = min(-bal, max(0, ex.sys_balance(SYS_INSURANCE, asset)))
            move(ex, SYS_INSURANCE, a, asset, cover, L_INSURANCE_COVER, seq=seq)
        elif bal > 0 and fee_base:
            fee = min(-(-fee_base // PPM), bal)
            move(ex, a, SYS_INSURANCE, asset, fee, L_LIQUIDATION_FEE, seq=seq)
    finally:
        cs.ctr[K_LIQ] = 0


def _adl(ex: Exchange, a: int, i: int, b: int, seq: int, ts: int) -> None:
    """Close what is left of account ``a``'s position in ``i`` against the most profitable
    opposite positions at the bankruptcy price ``b`` (ties: lower account id)."""
    rest = ex.position(a, i)
    if rest == 0:
        return
    _na, ni, rows = _cols(ex)
    r = ex.cs.inst[i]
    mark, nf = int(r["mark_ticks"]), int(r["nf"])
    pos = ex.cs.pos.reshape(rows, ni)[:, i]
    cost = ex.cs.cost.reshape(rows, ni)[:, i]
    opposite = np.flatnonzero(pos < 0 if rest > 0 else pos > 0).tolist()
    ranked = sorted(opposite, key=lambda x: (-(mark * int(pos[x]) - int(cost[x])) * nf, x))
    for cp in ranked:
        if rest == 0:
            break
        q = min(abs(rest), abs(int(pos[cp])))
        buyer, seller = (cp, a) if rest > 0 else (a, cp)
        transfer_position_desc_nb(ex._cdesc, buyer, seller, i, q, b, seq, 0)
        emit(
            ex, EV_ADL, seq, ts, ex._cmd_kind, account=a, maker_account=cp, instrument=i,
            qty_lots=q, price_ticks=b,
        )  # fmt: skip
        for acct in (a, cp):
            derived(
                ex, CMD_SET_POSITION, seq, ts, account=acct, instrument=i,
                qty_lots=ex.position(acct, i),
            )  # fmt: skip
        rest = ex.position(a, i)


_HANDLERS = {
    CMD_DEPOSIT: _transfer,
    CMD_WITHDRAW: _transfer,
    CMD_SET_MARK: _set_mark,
    CMD_FUNDING: _funding,
    CMD_SETTLE: _settle,
    CMD_ACCOUNT: _account,
}
