"""ReferenceExchange: the slow, obviously correct twin of the clearing pipeline.

It wraps ``matching.reference.ReferenceEngine`` and implements docs/clearing.md with Python dicts
and Python ints, one rule per helper, so that each line can be checked against the page. Property
tests compare its events and ledger with the numba ``clearing.Exchange`` record for record; speed
does not matter here (every margin query walks the account's positions).

Scope: pipeline steps 1, 2, 4, 5, 6 (stamp, expiry first, risk hold, match, settle) for the
engine commands, ``CMD_SET_POSITION`` (refused: POSITION_OWNED_BY_CLEARING), CMD_DEPOSIT,
CMD_WITHDRAW, CMD_SET_MARK (no liquidation check) and CMD_ACCOUNT. CMD_FUNDING and CMD_SETTLE
are rejected with INVALID_CLEARING_COMMAND (the fast version runs them in shared Python admin
code); there is no automatic funding (step 3) and no liquidation.

Readings chosen where docs/clearing.md leaves room (the numba twin must make the same ones):
 1. Stamping follows ``EngineBase._stamp``: ``ts 0`` takes ``now`` only when ``seq`` was 0 too.
 2. Risk NEW check 2 skips the hold only for the four listed cases; any other engine reject
    (account < 1, bad tif, halted, band, ...) is risk-checked first, so e.g. account 0 with a
    positive ``need`` gets INSUFFICIENT_* (an account without rows has available 0).
 3. NO_MARK_PRICE when the relevant mark is ``<= 0``.
 4. MARKET price for holds: spot/option BUY ``min(deepest ask, best + best*band//10000)`` (band
    > 0) else the deepest ask, 0 without asks; MARKET SELL on spot/option: 0 (spot sells do not
    use px; an option sell then holds ``short_im_lot(max(0, mark)) = short_im_lot(mark)``);
    MARKET on futures/perpetuals (either side): the mark.
 5. A reduce-only order has ``free_lots = qty`` on every kind (on spot the engine rejects it
    with INVALID_COMBINATION after a zero hold).
 6. ``per_lot > 2**63-1`` or ``need > 2**63-1`` is insufficient (amend: the new hold).
 7. Self-trade (same account as taker and maker): the taker's position is updated first, then
    the maker's, each from the state the previous one left.
 8. Transfers: validation, then duplicate, then available. Only a transfer that was done is
    known; a rejected one leaves its id free. A duplicate's ``leaves`` is the current balance in
    the command's asset, ``instrument`` the command's asset.
 9. SET_MARK flags 1: mid = ``(best bid + best ask) // 2``, band ``d = index*mark_band_ppm//1e6``,
    mark = ``min(max(mid, index - d), index + d)``. Flags other than 0 and 1 are rejected with
    INVALID_CLEARING_COMMAND (after UNKNOWN_INSTRUMENT and PRICE_NOT_POSITIVE). MARK event:
    instrument, price = mark, aux = index, account 0, flags 0.
10. ACCOUNT event: account, flags = ``cmd.flags & 1``. Deposits, withdrawals and cancels of a
    disabled account are allowed.
11. ``accounts()``: ids >= 1 that appeared in a ledger entry, an accepted order, or a fill.
12. ``check_invariants`` asserts ``bal - held >= 0`` only for (account, asset) pairs with no
    position ever settled in that asset: elsewhere docs 4.1/6 make it reachable (see there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from clearing.config import PPM, ClearingConfig, instrument_rows
from clearing.records import (
    L_BASE,
    L_DEPOSIT,
    L_FEE,
    L_NOTIONAL,
    L_REALISED_PNL,
    L_REBATE,
    L_WITHDRAWAL,
    LEDGER_DTYPE,
    SYS_EXTERNAL,
    SYS_FEES,
    SYS_INSURANCE,
    SYS_POOL,
)
from matching import reasons as R
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_ACCOUNT,
    CMD_AMEND,
    CMD_CLOCK,
    CMD_DEPOSIT,
    CMD_FUNDING,
    CMD_NEW,
    CMD_SET_MARK,
    CMD_SET_POSITION,
    CMD_SETTLE,
    CMD_WITHDRAW,
    COMMAND_DTYPE,
    EV_ACCEPTED,
    EV_ACCOUNT,
    EV_AMENDED,
    EV_BALANCE,
    EV_CANCELLED,
    EV_FILL,
    EV_MARK,
    EV_REJECTED,
    EVENT_DTYPE,
    EVF_DUPLICATE,
    FLAG_REDUCE_ONLY,
    KIND_OPTION,
    KIND_SPOT,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
)
from matching.reference import ReferenceEngine
from matching.reference_support import EVENT_FIELDS, Cmd

INT64_MAX = 2**63 - 1
DEFAULT_CONFIG = ClearingConfig()
_E = {name: i for i, name in enumerate(EVENT_FIELDS)}
_EV_KIND, _EV_OID, _EV_MOID = _E["kind"], _E["order_id"], _E["maker_order_id"]


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0, exact on Python ints."""
    return -((-a) // b)


def floor_div(a: int, b: int) -> int:
    """floor(a / b) for b > 0."""
    return a // b


def trunc_div(a: int, b: int) -> int:
    """a / b rounded toward zero, for b > 0."""
    q = abs(a) // b
    return q if a >= 0 else -q


def fee(base: int, rate: int) -> int:
    """Docs 2: ceil for a charge, -floor(|.|) for a rebate."""
    if rate >= 0:
        return ceil_div(base * rate, PPM)
    return -floor_div(base * -rate, PPM)


@dataclass(slots=True)
class _Inst:
    """One instrument's clearing row as Python ints (mark and index change)."""

    id: int
    kind: int
    nf: int
    bf: int
    und_nf: int
    strike: int
    maker: int
    taker: int
    fee_cap: int
    tiers: list[tuple[int, int, int]]  # (floor, im, mm)
    opt_im: int
    opt_im_min: int
    opt_mm: int
    mark_band: int
    mark: int
    index: int
    underlying: int
    settle: int
    base: int
    is_call: bool
    settled: bool


@dataclass(slots=True)
class _Hold:
    """What clearing holds for one live order (docs 4.1)."""

    account: int
    instrument: int
    asset: int
    side: int
    per_lot: int
    free_lots: int
    leaves: int
    reduce_only: bool


class ReferenceExchange:
    """Engine + clearing on Python ints. ``process`` costs O(events x positions)."""

    def __init__(
        self, instruments: Iterable[Instrument], config: ClearingConfig = DEFAULT_CONFIG
    ) -> None:
        insts = list(instruments)
        self.config = config
        self.engine = ReferenceEngine(insts)
        self._n_assets = len(config.assets)
        self._inst: dict[int, _Inst] = {}
        for i, r in enumerate(instrument_rows(config, insts)):
            if not r["defined"]:
                continue
            n = int(r["n_tiers"])
            tiers = [
                (int(r["tier_floor"][k]), int(r["tier_im"][k]), int(r["tier_mm"][k]))
                for k in range(n)
            ]
            self._inst[i] = _Inst(
                i, int(r["kind"]), int(r["nf"]), int(r["bf"]), int(r["und_nf"]),
                int(r["strike_ticks"]), int(r["maker_ppm"]), int(r["taker_ppm"]),
                int(r["fee_cap_ppm"]), tiers, int(r["opt_im"]), int(r["opt_im_min"]),
                int(r["opt_mm"]), int(r["mark_band_ppm"]), int(r["mark_ticks"]),
                int(r["index_ticks"]), int(r["underlying"]), int(r["settle_asset"]),
                int(r["base_asset"]), bool(r["is_call"]), bool(r["settled"]),
            )  # fmt: skip
        self._bal: dict[tuple[int, int], int] = {}  # (account or SYS_*, asset) -> total
        self._held: dict[tuple[int, int], int] = {}  # (account, asset) -> held
        self._pool: dict[int, int] = {}  # instrument -> POOL balance (settlement asset)
        self._pos: dict[int, dict[int, list[int]]] = {}  # account -> instrument -> [pos, cost]
        self._holds: dict[int, _Hold] = {}  # order id -> hold record
        self._open: dict[tuple[int, int, int], int] = {}  # (account, instrument, side) -> lots
        self._transfers: dict[tuple[int, int], tuple[int, int]] = {}  # -> (asset, amount)
        self._disabled: set[int] = set()
        self._seen: set[int] = set()
        self._ledger: list[tuple[int, ...]] = []  # every entry ever, for the replay check
        self._pending: tuple[int, int, int, int] | None = None  # per_lot, free, need, asset
        self._pending_amend: tuple[int, int, int] | None = None  # order id, per_lot, free
        self._seq = 0
        self._events: list[tuple[int, ...]] = []
        self._entries: list[tuple[int, ...]] = []

    # --- batch -----------------------------------------------------------------------------
    def process(self, commands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run commands in order; return (events, ledger entries) they produced."""
        cmds = np.atleast_1d(np.array(commands, dtype=COMMAND_DTYPE, copy=True))
        self._events, self._entries = [], []
        for row in cmds.tolist():
            self._command(Cmd(*(int(v) for v in row)))
        events = np.array(self._events, dtype=EVENT_DTYPE)
        entries = np.array(self._entries, dtype=LEDGER_DTYPE)
        self._events, self._entries = [], []
        return events, entries

    def _command(self, c: Cmd) -> None:
        eng = self.engine
        seq, ts = c.seq, c.ts_ns
        if seq == 0:  # step 1, as EngineBase._stamp
            seq = eng.next_seq
            if ts == 0:
                ts = eng.now_ns
        c = c._replace(seq=seq, ts_ns=ts)
        self._seq = seq
        zero = Cmd(*([0] * len(Cmd._fields)))
        self._run_engine(zero._replace(seq=seq, ts_ns=ts, kind=CMD_CLOCK))  # step 2
        kind = c.kind
        if kind in (CMD_NEW, CMD_AMEND):
            reason = self._risk_new(c) if kind == CMD_NEW else self._risk_amend(c)
            if reason:
                self._reject(c, reason)
            else:
                self._run_engine(c)
            self._pending = self._pending_amend = None
        elif kind == CMD_SET_POSITION:
            self._reject(c, R.POSITION_OWNED_BY_CLEARING)
        elif kind in (CMD_DEPOSIT, CMD_WITHDRAW):
            self._transfer(c)
        elif kind == CMD_SET_MARK:
            self._set_mark(c)
        elif kind == CMD_ACCOUNT:
            self._account(c)
        elif kind in (CMD_FUNDING, CMD_SETTLE):
            self._reject(c, R.INVALID_CLEARING_COMMAND)
        else:
            self._run_engine(c)
        eng.next_seq = max(eng.next_seq, seq + 1)
        eng.now_ns = max(eng.now_ns, ts)

    def _run_engine(self, c: Cmd) -> None:
        events = self.engine.process(np.array([tuple(c)], dtype=COMMAND_DTYPE))
        for e in events.tolist():
            self._settle(e)
            self._events.append(e)

    # --- events and ledger -----------------------------------------------------------------
    def _emit(self, c: Cmd, kind: int, **fields: int) -> None:
        fields.update(kind=kind, seq=c.seq, ts_ns=c.ts_ns, cmd_kind=c.kind)
        self._events.append(tuple(fields.get(name, 0) for name in EVENT_FIELDS))

    def _reject(self, c: Cmd, reason: int) -> None:
        """As the engine's reject: identity fields copied from the command."""
        self._emit(
            c, EV_REJECTED, order_id=c.order_id, client_order_id=c.client_order_id,
            account=c.account, instrument=c.instrument, side=c.side, price_ticks=c.price_ticks,
            qty_lots=c.qty_lots, order_type=c.order_type, tif=c.tif, reason=reason,
        )  # fmt: skip

    def _move(
        self, frm: int, to: int, amount: int, asset: int, kind: int, ref: int, inst: int
    ) -> None:
        """One ledger entry; a negative amount swaps the accounts, zero writes nothing."""
        if amount == 0:
            return
        if amount < 0:
            frm, to, amount = to, frm, -amount
        for account, delta in ((frm, -amount), (to, amount)):
            if account == SYS_POOL:
                self._pool[inst] = self._pool.get(inst, 0) + delta
            else:
                self._bal[(account, asset)] = self._bal.get((account, asset), 0) + delta
                if account >= 1:
                    self._seen.add(account)
        entry = (self._seq, ref, amount, frm, to, inst, asset, kind)
        self._entries.append(entry)
        self._ledger.append(entry)

    def _pay_fee(self, account: int, amount: int, asset: int, ref: int, inst: int) -> None:
        if amount >= 0:
            self._move(account, SYS_FEES, amount, asset, L_FEE, ref, inst)
        else:
            self._move(SYS_FEES, account, -amount, asset, L_REBATE, ref, inst)

    # --- margin (docs 4.1 'Available', 6) ---------------------------------------------------
    def _short_im_lot(self, ins: _Inst, m: int) -> int:
        u = self._inst[ins.underlying].mark
        ul = u * ins.und_nf
        otm = max(0, ins.strike - u) if ins.is_call else max(0, u - ins.strike)
        otml = otm * ins.und_nf
        return ceil_div(max(ins.opt_im * ul - PPM * otml, ins.opt_im_min * ul), PPM) + m * ins.nf

    def _pos_margin(self, ins: _Inst, pos: int, cost: int) -> tuple[int, int, int]:
        """(value, im, mm) of one position (docs 6)."""
        m = ins.mark
        if ins.kind != KIND_OPTION:
            notional = abs(pos) * m * ins.nf
            _, im, mm = [t for t in ins.tiers if t[0] <= notional][-1]
            return (
                (m * pos - cost) * ins.nf,
                ceil_div(notional * im, PPM),
                ceil_div(notional * mm, PPM),
            )
        value = m * pos * ins.nf
        if pos >= 0:
            return value, 0, 0
        ul = self._inst[ins.underlying].mark * ins.und_nf
        mm_lot = ceil_div(ins.opt_mm * ul, PPM) + m * ins.nf
        return value, -pos * self._short_im_lot(ins, m), -pos * mm_lot

    def margin(self, account: int, asset: int) -> dict[str, int]:
        """Cross margin of one account in one asset. O(positions of the account)."""
        equity = self._bal.get((account, asset), 0)
        initial = maintenance = 0
        for iid, (pos, cost) in self._pos.get(account, {}).items():
            ins = self._inst[iid]
            if ins.settle != asset:
                continue
            value, im, mm = self._pos_margin(ins, pos, cost)
            equity += value
            initial += im
            maintenance += mm
        held = self._held.get((account, asset), 0)
        return {
            "equity": equity,
            "initial": initial,
            "maintenance": maintenance,
            "held": held,
            "available": equity - initial - held,
        }

    def _available(self, account: int, asset: int) -> int:
        return self.margin(account, asset)["available"]

    # --- risk hold (docs 4) -----------------------------------------------------------------
    def _px(self, ins: _Inst, order_type: int, side: int, price: int, trigger: int) -> int:
        """The order's price for holds (docs 4.1)."""
        if order_type in (LIMIT, STOP_LIMIT):
            return price
        if order_type == STOP_MARKET:
            return trigger
        if ins.kind not in (KIND_SPOT, KIND_OPTION):
            return ins.mark
        if side != BUY:
            return 0
        asks = self.engine._books[ins.id].asks
        if not asks:
            return 0
        best, deepest = int(asks.peekitem(0)[0]), int(asks.peekitem(-1)[0])
        band = self.engine._books[ins.id].inst.market_band_bps
        return min(deepest, best + best * band // 10000) if band > 0 else deepest

    def _per_lot(self, ins: _Inst, side: int, px: int) -> tuple[int, int]:
        """(per_lot, asset held) of the table in docs 4.1."""
        rate = max(ins.taker, ins.maker, 0)
        if ins.kind == KIND_SPOT:
            if side == BUY:
                return px * ins.nf + ceil_div(px * ins.nf * rate, PPM), ins.settle
            return ins.bf, ins.base
        if ins.kind == KIND_OPTION:
            if side == BUY:
                u = self._inst[ins.underlying].mark
                return px * ins.nf + ceil_div(u * ins.und_nf * rate, PPM), ins.settle
            return self._short_im_lot(ins, max(px, ins.mark)), ins.settle
        m = ins.mark
        loss = max(0, px - m) * ins.nf if side == BUY else max(0, m - px) * ins.nf
        im0 = ins.tiers[0][1]
        fee_lot = ceil_div(px * ins.nf * rate, PPM)
        return ceil_div(max(px, m) * ins.nf * im0, PPM) + loss + fee_lot, ins.settle

    def _short_reason(self, ins: _Inst, side: int) -> int:
        spot_or_premium = ins.kind == KIND_SPOT or (ins.kind == KIND_OPTION and side == BUY)
        return R.INSUFFICIENT_BALANCE if spot_or_premium else R.INSUFFICIENT_MARGIN

    def _risk_new(self, c: Cmd) -> int:
        """Docs 4.1 in order; sets ``_pending`` for the ACCEPTED event. Returns a reason or 0."""
        if c.account in self._disabled:
            return R.ACCOUNT_DISABLED
        ins = self._inst.get(c.instrument)
        side, ot, qty = c.side, c.order_type, c.qty_lots
        if c.account < 1 or ins is None or side not in (BUY, SELL) or qty <= 0:
            return 0
        if ot not in (LIMIT, MARKET, STOP_MARKET, STOP_LIMIT):
            return 0
        if c.flags & FLAG_REDUCE_ONLY and ins.kind == KIND_SPOT:
            return 0  # the engine rejects reduce-only on spot
        if ins.settled:
            return R.INSTRUMENT_SETTLED
        if ins.kind in (KIND_SPOT, KIND_OPTION) and ot == STOP_MARKET and side == BUY:
            return R.STOP_MARKET_BUY_UNFUNDED
        if ins.kind == KIND_OPTION and self._inst[ins.underlying].mark <= 0:
            return R.NO_MARK_PRICE
        if ins.kind not in (KIND_SPOT, KIND_OPTION) and ins.mark <= 0:
            return R.NO_MARK_PRICE
        px = self._px(ins, ot, side, c.price_ticks, c.trigger_ticks)
        per_lot, asset = self._per_lot(ins, side, px)
        if c.flags & FLAG_REDUCE_ONLY:
            free = qty
        elif ins.kind == KIND_SPOT or (ins.kind == KIND_OPTION and side == BUY):
            free = 0  # cash is paid whether the order opens or closes
        else:
            pos = self.position(c.account, c.instrument)[0]
            reduces = (side == SELL and pos > 0) or (side == BUY and pos < 0)
            opened = self._open.get((c.account, c.instrument, side), 0)
            free = min(qty, max(0, abs(pos) - opened)) if reduces else 0
        need = per_lot * (qty - free)
        too_big = per_lot > INT64_MAX or need > INT64_MAX
        if too_big or (need > 0 and need > self._available(c.account, asset)):
            return self._short_reason(ins, side)
        self._pending = (per_lot, free, need, asset)
        return 0

    def _risk_amend(self, c: Cmd) -> int:
        """Docs 4.2; sets ``_pending_amend`` for the AMENDED event."""
        o = self.engine._lookup(c)
        if o is None:
            return 0
        if c.account in self._disabled:
            return R.ACCOUNT_DISABLED
        h = self._holds[o.order_id]
        ins = self._inst[o.instrument]
        new_price = c.price_ticks if c.price_ticks != 0 else o.price
        new_qty = c.qty_lots if c.qty_lots != 0 else o.qty
        new_leaves = new_qty - (o.qty - o.leaves)
        per_lot = h.per_lot
        if new_price != o.price:
            px = self._px(ins, o.order_type, o.side, new_price, o.trigger)
            per_lot = self._per_lot(ins, o.side, px)[0]
        free = new_leaves if h.reduce_only else min(h.free_lots, new_leaves)
        new_hold = per_lot * (new_leaves - free)
        diff = new_hold - h.per_lot * (h.leaves - h.free_lots)
        if (
            per_lot > INT64_MAX
            or new_hold > INT64_MAX
            or (diff > 0 and diff > self._available(h.account, h.asset))
        ):
            return self._short_reason(ins, o.side)
        self._pending_amend = (o.order_id, per_lot, free)
        return 0

    def _add_held(self, account: int, asset: int, delta: int) -> None:
        self._held[(account, asset)] = self._held.get((account, asset), 0) + delta

    def _decrease(self, order_id: int, d: int) -> None:
        """An order's leaves fall by ``d``: free lots first, then the hold (docs 4.1)."""
        h = self._holds[order_id]
        f = min(d, h.free_lots)
        h.free_lots -= f
        self._add_held(h.account, h.asset, -h.per_lot * (d - f))
        h.leaves -= d
        self._open[(h.account, h.instrument, h.side)] -= d
        if h.leaves == 0:
            del self._holds[order_id]

    # --- settlement (docs 5) ----------------------------------------------------------------
    def _settle(self, e: tuple[int, ...]) -> None:
        kind = e[_EV_KIND]
        if kind == EV_ACCEPTED:
            assert self._pending is not None, "ACCEPTED without a risk check"
            per_lot, free, need, asset = self._pending
            self._pending = None
            account, iid, side, qty = (
                e[_E["account"]],
                e[_E["instrument"]],
                e[_E["side"]],
                e[_E["qty_lots"]],
            )
            self._holds[e[_EV_OID]] = _Hold(
                account,
                iid,
                asset,
                side,
                per_lot,
                free,
                qty,
                bool(e[_E["flags"]] & FLAG_REDUCE_ONLY),
            )
            self._add_held(account, asset, need)
            key = (account, iid, side)
            self._open[key] = self._open.get(key, 0) + qty
            self._seen.add(account)
        elif kind == EV_CANCELLED:
            self._decrease(e[_EV_OID], e[_E["qty_lots"]])
        elif kind == EV_AMENDED:
            assert self._pending_amend is not None and self._pending_amend[0] == e[_EV_OID]
            _, per_lot, free = self._pending_amend
            self._pending_amend = None
            h = self._holds[e[_EV_OID]]
            new_leaves = e[_E["leaves_lots"]]
            old = h.per_lot * (h.leaves - h.free_lots)
            self._add_held(h.account, h.asset, per_lot * (new_leaves - free) - old)
            self._open[(h.account, h.instrument, h.side)] += new_leaves - h.leaves
            h.per_lot, h.free_lots, h.leaves = per_lot, free, new_leaves
        elif kind == EV_FILL:
            self._settle_fill(e)

    def _settle_fill(self, e: tuple[int, ...]) -> None:
        q, p, tid = e[_E["qty_lots"]], e[_E["price_ticks"]], e[_E["trade_id"]]
        taker, maker, iid = e[_E["account"]], e[_E["maker_account"]], e[_E["instrument"]]
        self._decrease(e[_EV_OID], q)
        self._decrease(e[_EV_MOID], q)
        ins = self._inst[iid]
        buy = e[_E["side"]] == BUY
        buyer, seller = (taker, maker) if buy else (maker, taker)
        a = ins.settle
        notional = p * q * ins.nf
        if ins.kind == KIND_SPOT:
            self._move(buyer, seller, notional, a, L_NOTIONAL, tid, iid)
            self._move(seller, buyer, q * ins.bf, ins.base, L_BASE, tid, iid)
            self._pay_fee(taker, fee(notional, ins.taker), a, tid, iid)
            self._pay_fee(maker, fee(notional, ins.maker), a, tid, iid)
            return
        dq = q if buy else -q
        if ins.kind == KIND_OPTION:
            self._move(buyer, seller, notional, a, L_NOTIONAL, tid, iid)
            base = self._inst[ins.underlying].mark * q * ins.und_nf
            fees = [fee(base, ins.taker), fee(base, ins.maker)]
            if ins.fee_cap > 0:
                cap = floor_div(notional * ins.fee_cap, PPM)
                fees = [max(-cap, min(f, cap)) for f in fees]
            self._pay_fee(taker, fees[0], a, tid, iid)
            self._pay_fee(maker, fees[1], a, tid, iid)
            self._fill_position(taker, iid, dq, p)  # realised PnL: no cash (premium moved)
            self._fill_position(maker, iid, -dq, p)
            return
        self._pay_fee(taker, fee(notional, ins.taker), a, tid, iid)
        self._pay_fee(maker, fee(notional, ins.maker), a, tid, iid)
        t_real = self._fill_position(taker, iid, dq, p)
        m_real = self._fill_position(maker, iid, -dq, p)
        self._move(SYS_POOL, taker, t_real * ins.nf, a, L_REALISED_PNL, tid, iid)
        self._move(SYS_POOL, maker, m_real * ins.nf, a, L_REALISED_PNL, tid, iid)

    def _fill_position(self, account: int, iid: int, dq: int, p: int) -> int:
        """Docs 6: apply a fill of signed ``dq`` at ``p``; return realised ticks x lots."""
        rec = self._pos.setdefault(account, {}).setdefault(iid, [0, 0])
        self._seen.add(account)
        pos, cost = rec
        if pos == 0 or (pos > 0) == (dq > 0):
            rec[0], rec[1] = pos + dq, cost + p * dq
            return 0
        sign_pos = 1 if pos > 0 else -1
        r = min(abs(dq), abs(pos))
        cc = trunc_div(cost * r, abs(pos))
        cost -= cc
        realised = sign_pos * p * r - cc
        pos -= sign_pos * r
        rest = abs(dq) - r
        if rest:
            pos, cost = -sign_pos * rest, -sign_pos * rest * p
        rec[0], rec[1] = pos, cost
        return realised

    # --- clearing commands (docs 8) ---------------------------------------------------------
    def _transfer(self, c: Cmd) -> None:
        account, asset, amount, tid = c.account, c.instrument, c.qty_lots, c.order_id
        deposit = c.kind == CMD_DEPOSIT
        ok_account = account >= 1 or (deposit and account == SYS_INSURANCE)
        if amount <= 0 or tid <= 0 or not 0 <= asset < self._n_assets or not ok_account:
            self._reject(c, R.INVALID_TRANSFER)
            return
        known = self._transfers.get((account, tid))
        if known is not None:
            asset, known_amount = known
            bal = self._bal.get((account, asset), 0)
            self._emit(
                c, EV_BALANCE, account=account, instrument=asset, order_id=tid,
                qty_lots=known_amount,
                leaves_lots=bal, flags=EVF_DUPLICATE,
            )  # fmt: skip
            return
        if deposit:
            self._move(SYS_EXTERNAL, account, amount, asset, L_DEPOSIT, tid, -1)
        elif amount > min(
            self._bal.get((account, asset), 0) - self._held.get((account, asset), 0),
            self._available(account, asset),
        ):
            self._reject(c, R.INSUFFICIENT_BALANCE)
            return
        else:
            self._move(account, SYS_EXTERNAL, amount, asset, L_WITHDRAWAL, tid, -1)
        self._transfers[(account, tid)] = (asset, amount)
        bal = self._bal.get((account, asset), 0)
        self._emit(
            c, EV_BALANCE, account=account, instrument=asset, order_id=tid, qty_lots=amount,
            leaves_lots=bal,
        )  # fmt: skip

    def _set_mark(self, c: Cmd) -> None:
        ins = self._inst.get(c.instrument)
        index = c.price_ticks
        if ins is None:
            self._reject(c, R.UNKNOWN_INSTRUMENT)
            return
        if index <= 0:
            self._reject(c, R.PRICE_NOT_POSITIVE)
            return
        if c.flags not in (0, 1):
            self._reject(c, R.INVALID_CLEARING_COMMAND)
            return
        mark = index
        if c.flags == 1:
            bk = self.engine._books[ins.id]
            bid, ask = bk.best(BUY), bk.best(SELL)
            if bid is not None and ask is not None:
                d = index * ins.mark_band // PPM
                mark = min(max((bid + ask) // 2, index - d), index + d)
        ins.mark, ins.index = mark, index
        self._emit(c, EV_MARK, instrument=ins.id, price_ticks=mark, aux=index)

    def _account(self, c: Cmd) -> None:
        if c.account < 1:
            self._reject(c, R.INVALID_ACCOUNT)
            return
        disabled = c.flags & 1
        if disabled:
            self._disabled.add(c.account)
        else:
            self._disabled.discard(c.account)
        self._emit(c, EV_ACCOUNT, account=c.account, flags=disabled)

    # --- queries ----------------------------------------------------------------------------
    def balance(self, account: int, asset: int) -> tuple[int, int]:
        """(total, held) of an account (or SYS_EXTERNAL / FEES / INSURANCE) in an asset."""
        return self._bal.get((account, asset), 0), self._held.get((account, asset), 0)

    def pool(self, instrument: int) -> int:
        """POOL balance of an instrument, in its settlement asset."""
        return self._pool.get(instrument, 0)

    def position(self, account: int, instrument: int) -> tuple[int, int]:
        """(pos_lots, cost) signed; (0, 0) when none."""
        pos, cost = self._pos.get(account, {}).get(instrument, (0, 0))
        return pos, cost

    def accounts(self) -> list[int]:
        """Client accounts that ever had a balance row, an order hold or a position, sorted."""
        return sorted(self._seen)

    def check_invariants(self) -> None:
        """Docs 9 (those in scope). O(ledger + orders + positions)."""
        replay: dict[tuple[int, int], int] = {}
        pools: dict[int, int] = {}
        for _, _, amount, frm, to, iid, asset, _ in self._ledger:
            assert amount > 0, "ledger amount must be positive"
            for acc, delta in ((frm, -amount), (to, amount)):
                if acc == SYS_POOL:
                    assert self._inst[iid].settle == asset, "POOL entry in a foreign asset"
                    pools[iid] = pools.get(iid, 0) + delta
                else:
                    replay[(acc, asset)] = replay.get((acc, asset), 0) + delta
        nz = {k: v for k, v in self._bal.items() if v != 0}
        assert {k: v for k, v in replay.items() if v != 0} == nz, "ledger replay != balances"
        assert {k: v for k, v in pools.items() if v != 0} == {
            k: v for k, v in self._pool.items() if v != 0
        }, "ledger replay != pools"
        for asset in range(self._n_assets):
            total = sum(v for (_, a), v in self._bal.items() if a == asset)
            total += sum(v for i, v in self._pool.items() if self._inst[i].settle == asset)
            assert total == 0, f"asset {asset} not conserved: {total}"
        held: dict[tuple[int, int], int] = {}
        opened: dict[tuple[int, int, int], int] = {}
        live = self.engine._orders
        assert set(live) == set(self._holds), "hold records != live orders"
        for oid, h in self._holds.items():
            assert live[oid].leaves == h.leaves, f"order {oid}: leaves differ"
            assert 0 <= h.free_lots <= h.leaves, f"order {oid}: free lots out of range"
            key = (h.account, h.asset)
            held[key] = held.get(key, 0) + h.per_lot * (h.leaves - h.free_lots)
            okey = (h.account, h.instrument, h.side)
            opened[okey] = opened.get(okey, 0) + h.leaves
        assert {k: v for k, v in self._held.items() if v != 0} == {
            k: v for k, v in held.items() if v != 0
        }, "held != sum of live orders' holds"
        assert {k: v for k, v in self._open.items() if v != 0} == opened, "open lots differ"
        oi: dict[int, int] = {}
        cost_sum: dict[int, int] = {}
        keys = {(a, i) for a, d in self._pos.items() for i in d} | set(self.engine._positions)
        for a, i in keys:
            pos, cost = self.position(a, i)
            assert pos == self.engine.position(a, i), f"position ({a}, {i}) != engine's"
            assert pos != 0 or cost == 0, f"flat position ({a}, {i}) with cost {cost}"
            oi[i] = oi.get(i, 0) + pos
            cost_sum[i] = cost_sum.get(i, 0) + cost
        assert all(v == 0 for v in oi.values()), f"open interest not zero: {oi}"
        for iid, ins in self._inst.items():
            if ins.kind not in (KIND_SPOT, KIND_OPTION):
                expect = -ins.nf * cost_sum.get(iid, 0)
                assert self.pool(iid) == expect, f"POOL of {iid} != -nf*sum(cost)"
        # free >= 0 is asserted only where the doc guarantees it: an account that never had a
        # position settled in the asset (cash only). With positions, available counts unrealised
        # PnL and reducing orders hold nothing, so bal - held < 0 is reachable (no liquidation).
        for acc, asset in set(self._bal) | set(self._held):
            derivs = {self._inst[i].settle for i in self._pos.get(acc, {})}
            if acc >= 1 and asset not in derivs:
                free = self._bal.get((acc, asset), 0) - self._held.get((acc, asset), 0)
                assert free >= 0, f"account {acc} asset {asset}: free balance {free} < 0"
