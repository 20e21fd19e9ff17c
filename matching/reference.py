"""ReferenceEngine: the slow, obviously correct twin of the numba engine.

It implements docs/rulebook.md with plain Python structures so that each rule can be read off
the code: one ``Book`` per instrument holding ``SortedDict`` price levels (a FIFO list of orders
per level) for bids, asks, buy stops and sell stops; a dict of live orders by id; a dict by
(account, client_order_id); a dict of positions; a ``SortedList`` of (expire_ns, order_id) for
GTD expiry. Property tests compare its event stream with the numba engine's record for record,
so clarity and faithfulness beat speed everywhere in this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from sortedcontainers import SortedList

from matching import reasons as R
from matching.api import BookView, EngineBase, Level
from matching.instruments import Instrument
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
    COMMAND_DTYPE,
    DAY,
    DUMP_DTYPE,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    EV_LEVEL,
    EV_MASS_CANCELLED,
    EV_POSITION,
    EV_REJECTED,
    EV_STATUS,
    EV_TRIGGERED,
    EVENT_DTYPE,
    EVF_KEPT_PRIORITY,
    EVF_REFILLED,
    FLAG_POST_ONLY,
    FLAG_REDUCE_ONLY,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    STP_CANCEL_BOTH,
    STP_CANCEL_MAKER,
    STP_CANCEL_TAKER,
    STP_DECREMENT,
    STP_NONE,
)
from matching.reference_support import (
    DUMP_FIELDS,
    EVENT_FIELDS,
    IN_BOOK,
    IN_STOPS,
    NOWHERE,
    RESTING_TIFS,
    STOP_TYPES,
    VALUE_LIMIT,
    Book,
    Cmd,
    Order,
    check_invariants,
    crosses,
    walk,
)


class ReferenceEngine(EngineBase):
    """Plain-Python matching engine following docs/rulebook.md to the letter."""

    def __init__(self, instruments: Iterable[Instrument], *, max_orders: int = 0) -> None:
        super().__init__()
        self.max_orders = max_orders
        self._books: dict[int, Book] = {}
        self._orders: dict[int, Order] = {}
        self._by_cloid: dict[tuple[int, int], Order] = {}
        self._positions: dict[tuple[int, int], int] = {}
        self._expiry: Any = SortedList()  # (expire_ns, order_id) of every live GTD order
        self._next_order_id = 1
        self._clock = 0  # engine time "now" of rulebook s.1 (EngineBase.now_ns is the stamper's)
        # the command being processed
        self._events: list[tuple[int, ...]] = []
        self._seq = 0
        self._ts = 0
        self._ev_cmd_kind = 0
        self._handlers: dict[int, Callable[[Cmd], None]] = {
            CMD_NEW: self._cmd_new,
            CMD_CANCEL: self._cmd_cancel,
            CMD_AMEND: self._cmd_amend,
            CMD_MASS_CANCEL: self._cmd_mass_cancel,
            CMD_HALT: self._cmd_halt,
            CMD_RESUME: self._cmd_resume,
            CMD_END_OF_DAY: self._cmd_end_of_day,
            CMD_CLOCK: lambda c: None,  # only step 1
            CMD_SET_POSITION: self._cmd_set_position,
            CMD_SET_REF_PRICE: self._cmd_set_ref_price,
        }
        for inst in instruments:
            self.add_instrument(inst)

    def add_instrument(self, inst: Instrument) -> None:
        if inst.id in self._books:
            raise ValueError(f"duplicate instrument id {inst.id}")
        self._books[inst.id] = Book(inst)

    # --- batch processing ------------------------------------------------------------------
    def process(self, commands: np.ndarray) -> np.ndarray:
        cmds = np.atleast_1d(np.array(commands, dtype=COMMAND_DTYPE, copy=True))
        self._stamp(cmds)
        self._events = []
        for row in cmds.tolist():
            self._command(Cmd(*(int(v) for v in row)))
        events, self._events = self._events, []
        if not events:
            return np.zeros(0, dtype=EVENT_DTYPE)
        return np.array(events, dtype=EVENT_DTYPE)

    def _command(self, c: Cmd) -> None:
        self._seq, self._ts = c.seq, c.ts_ns
        # s.1 step 1: time and expiry, for every command
        self._ev_cmd_kind = CMD_CLOCK
        self._expire(c.ts_ns)
        self._ev_cmd_kind = c.kind
        handler = self._handlers.get(c.kind)
        if handler is None:
            self._reject(c, R.INVALID_COMMAND)
        else:
            handler(c)

    def _expire(self, ts_ns: int) -> None:
        self._clock = max(self._clock, ts_ns)
        while self._expiry and self._expiry[0][0] <= self._clock:
            _, order_id = self._expiry[0]
            self._cancel_order(self._orders[order_id], R.CANCEL_EXPIRED)

    # --- events ----------------------------------------------------------------------------
    def _emit(self, kind: int, **fields: int) -> None:
        fields["kind"] = kind
        fields["seq"] = self._seq
        fields["ts_ns"] = self._ts
        fields["cmd_kind"] = self._ev_cmd_kind
        self._events.append(tuple(fields.get(name, 0) for name in EVENT_FIELDS))

    def _order_event(self, kind: int, o: Order, **fields: int) -> None:
        """An event about one order: carries the order's identity fields."""
        self._emit(
            kind,
            order_id=o.order_id,
            client_order_id=o.client_order_id,
            account=o.account,
            instrument=o.instrument,
            side=o.side,
            order_type=o.order_type,
            tif=o.tif,
            **fields,
        )

    def _cancelled(self, o: Order, reason: int, qty: int, leaves: int) -> None:
        self._order_event(
            EV_CANCELLED, o, price_ticks=o.price, qty_lots=qty, leaves_lots=leaves, reason=reason
        )

    def _level_event(self, bk: Book, side: int, price: int) -> None:
        total, count = bk.level_totals(side, price)
        self._emit(
            EV_LEVEL,
            instrument=bk.id,
            side=side,
            price_ticks=price,
            qty_lots=total,
            leaves_lots=count,
        )

    def _reject(self, c: Cmd, reason: int) -> None:
        self._emit(
            EV_REJECTED,
            order_id=c.order_id,
            client_order_id=c.client_order_id,
            account=c.account,
            instrument=c.instrument,
            side=c.side,
            price_ticks=c.price_ticks,
            qty_lots=c.qty_lots,
            order_type=c.order_type,
            tif=c.tif,
            reason=reason,
        )

    # --- order bookkeeping -----------------------------------------------------------------
    def _index(self, o: Order) -> None:
        """Make ``o`` live: order id, client order id and expiry indexes."""
        self._orders[o.order_id] = o
        if o.client_order_id != 0:
            self._by_cloid[(o.account, o.client_order_id)] = o
        if o.tif == GTD:
            self._expiry.add((o.expire_ns, o.order_id))

    def _forget(self, o: Order) -> None:
        """``o`` is no longer live: drop it from every index (it is in no level by now)."""
        assert o.where == NOWHERE
        del self._orders[o.order_id]
        if o.client_order_id != 0:
            del self._by_cloid[(o.account, o.client_order_id)]
        # a GTD stop-market becomes MARKET IOC when triggered, so look the entry up by value
        self._expiry.discard((o.expire_ns, o.order_id))

    def _unlink(self, o: Order) -> None:
        """Take ``o`` out of its book level or stop queue (deleting an emptied level)."""
        bk = self._books[o.instrument]
        if o.where == IN_BOOK:
            levels, key = bk.levels(o.side), o.price
        elif o.where == IN_STOPS:
            levels, key = bk.stops(o.side), o.trigger
            bk.pending_stops -= 1
        else:
            return
        queue = levels[key]
        queue.remove(o)
        if not queue:
            del levels[key]
        o.where = NOWHERE

    def _remove(self, o: Order) -> None:
        self._unlink(o)
        self._forget(o)

    def _cancel_order(self, o: Order, reason: int, level_event: bool = True) -> None:
        """CANCELLED(qty=leaves, leaves=0) and removal; LEVEL if it rested in the book."""
        was_in_book, side, price = o.where == IN_BOOK, o.side, o.price
        self._cancelled(o, reason, o.leaves, 0)
        self._remove(o)
        if was_in_book and level_event:
            self._level_event(self._books[o.instrument], side, price)

    def _red(self, o: Order) -> int:
        """How much ``o`` may still reduce its account's position (rulebook 2.3)."""
        pos = self._positions.get((o.account, o.instrument), 0)
        return max(pos, 0) if o.side == SELL else max(-pos, 0)

    def _assign_order_id(self) -> int:
        while self._next_order_id in self._orders:
            self._next_order_id += 1
        order_id = self._next_order_id
        self._next_order_id += 1
        return order_id

    def _lookup(self, c: Cmd) -> Order | None:
        """The live order a cancel / amend names, if it belongs to the command's account."""
        if c.order_id != 0:
            o = self._orders.get(c.order_id)
        elif c.client_order_id != 0:
            o = self._by_cloid.get((c.account, c.client_order_id))
        else:
            o = None
        if o is None or o.account != c.account:
            return None
        return o

    # --- NEW (s.2) -------------------------------------------------------------------------
    def _check_new(self, c: Cmd) -> int:
        """Rulebook table 2.1: the first failing check's reason, or 0."""
        if c.account < 1:
            return R.INVALID_ACCOUNT
        bk = self._books.get(c.instrument)
        if bk is None:
            return R.UNKNOWN_INSTRUMENT
        inst = bk.inst
        if c.side not in (BUY, SELL):
            return R.INVALID_SIDE
        ot, tif = c.order_type, c.tif
        if ot not in (LIMIT, MARKET, STOP_MARKET, STOP_LIMIT):
            return R.INVALID_ORDER_TYPE
        if (
            not GTC <= tif <= DAY
            or (ot == MARKET and tif not in (IOC, FOK))
            or (ot == STOP_MARKET and tif not in RESTING_TIFS)
        ):
            return R.INVALID_TIF
        if not 0 <= c.stp <= 4:
            return R.INVALID_STP
        if bk.halted:
            return R.INSTRUMENT_HALTED
        qty = c.qty_lots
        if qty <= 0:
            return R.QTY_NOT_POSITIVE
        if qty < inst.min_qty_lots:
            return R.QTY_BELOW_MIN
        if inst.max_qty_lots != 0 and qty > inst.max_qty_lots:
            return R.QTY_ABOVE_MAX
        has_price = ot in (LIMIT, STOP_LIMIT)
        is_stop = ot in STOP_TYPES
        price = c.price_ticks if has_price else 0
        trigger = c.trigger_ticks if is_stop else 0
        if has_price and price <= 0 and not inst.allow_nonpositive_price:
            return R.PRICE_NOT_POSITIVE
        m = max(abs(price), abs(trigger))
        if m != 0 and qty > VALUE_LIMIT // m:
            return R.VALUE_TOO_LARGE
        post_only = bool(c.flags & FLAG_POST_ONLY)
        reduce_only = bool(c.flags & FLAG_REDUCE_ONLY)
        resting_limit = ot == LIMIT and tif in RESTING_TIFS
        if (
            c.flags & ~(FLAG_POST_ONLY | FLAG_REDUCE_ONLY)
            or (post_only and not resting_limit)
            or (reduce_only and bk.is_spot)
            or (c.display_lots > 0 and not resting_limit)
        ):
            return R.INVALID_COMBINATION
        if c.display_lots < 0 or (
            c.display_lots > 0 and not inst.min_qty_lots <= c.display_lots < qty
        ):
            return R.INVALID_DISPLAY
        if is_stop and trigger <= 0:
            return R.INVALID_TRIGGER
        if tif == GTD and c.expire_ns <= c.ts_ns:
            return R.INVALID_EXPIRY
        if has_price and not self._inside_band(bk, price):
            return R.OUTSIDE_PRICE_BAND
        if self.max_orders != 0 and len(self._orders) >= self.max_orders:
            return R.CAPACITY_EXHAUSTED
        if c.order_id != 0 and c.order_id in self._orders:
            return R.DUPLICATE_ORDER_ID
        if c.client_order_id != 0 and (c.account, c.client_order_id) in self._by_cloid:
            return R.DUPLICATE_CLIENT_ORDER_ID
        if reduce_only:
            pos = self._positions.get((c.account, c.instrument), 0)
            ok = (pos < 0 and qty <= -pos) if c.side == BUY else (pos > 0 and qty <= pos)
            if not ok:
                return R.REDUCE_ONLY_WOULD_INCREASE
        last = bk.last_price
        if is_stop and last > 0 and (trigger <= last if c.side == BUY else trigger >= last):
            return R.STOP_WOULD_TRIGGER
        if post_only and self._would_take(bk, c.side, price):
            return R.POST_ONLY_WOULD_TAKE
        if tif == FOK and not is_stop and not self._fok_fills(bk, self._new_order(c, 0)):
            return R.FOK_CANNOT_FILL
        return 0

    @staticmethod
    def _inside_band(bk: Book, price: int) -> bool:
        band = bk.inst.band_bps
        r = bk.band_reference()
        if band <= 0 or r <= 0:
            return True
        b = r * band // 10000
        return r - b <= price <= r + b

    @staticmethod
    def _would_take(bk: Book, side: int, price: int) -> bool:
        """Post-only test: would a limit at ``price`` reach the opposite best?"""
        if side == BUY:
            best_ask = bk.best(SELL)
            return best_ask is not None and price >= best_ask
        best_bid = bk.best(BUY)
        return best_bid is not None and price <= best_bid

    def _new_order(self, c: Cmd, order_id: int) -> Order:
        """The order a NEW command describes, with unused fields stored as 0."""
        ot = c.order_type
        return Order(
            order_id=order_id,
            client_order_id=c.client_order_id,
            account=c.account,
            instrument=c.instrument,
            side=c.side,
            order_type=ot,
            tif=c.tif,
            flags=c.flags,
            stp=c.stp,
            stp_group=c.stp_group,
            price=c.price_ticks if ot in (LIMIT, STOP_LIMIT) else 0,
            trigger=c.trigger_ticks if ot in STOP_TYPES else 0,
            qty=c.qty_lots,
            leaves=c.qty_lots,
            visible=0,
            display=c.display_lots if c.display_lots > 0 else 0,
            expire_ns=c.expire_ns if c.tif == GTD else 0,
            time=c.seq,
        )

    def _cmd_new(self, c: Cmd) -> None:
        reason = self._check_new(c)
        if reason:
            self._reject(c, reason)
            return
        bk = self._books[c.instrument]
        o = self._new_order(c, c.order_id if c.order_id != 0 else self._assign_order_id())
        self._index(o)
        if not bk.is_spot:
            self._positions.setdefault((o.account, o.instrument), 0)
        self._order_event(
            EV_ACCEPTED,
            o,
            flags=o.flags,
            price_ticks=o.price,
            qty_lots=o.qty,
            leaves_lots=o.leaves,
            aux=o.trigger,
        )
        if o.order_type in STOP_TYPES:
            o.visible = o.leaves
            bk.stops(o.side).setdefault(o.trigger, []).append(o)
            o.where = IN_STOPS
            bk.pending_stops += 1
        else:
            self._take(bk, o)
        self._trigger_stops(bk)

    # --- matching (s.2.3) ------------------------------------------------------------------
    @staticmethod
    def _taker_limit(bk: Book, t: Order) -> int | None:
        """The taker's price limit (None: no limit), fixed at the start of matching."""
        if t.order_type != MARKET:
            return t.price
        best = bk.best(SELL if t.side == BUY else BUY)
        band = bk.inst.market_band_bps
        if best is None or band == 0:
            return None
        step = best * band // 10000
        return best + step if t.side == BUY else best - step

    def _take(self, bk: Book, t: Order) -> None:
        """Match ``t`` as the taker, then rest it or cancel its remainder (2.3)."""
        stp_cancelled = self._match(bk, t)
        if t.leaves > 0 and not stp_cancelled:
            if t.order_type == LIMIT and t.tif in RESTING_TIFS:
                self._rest(bk, t)
            elif t.order_type == MARKET:
                self._cancelled(t, R.CANCEL_MARKET_NO_LIQUIDITY, t.leaves, 0)
            else:  # LIMIT IOC (and a LIMIT FOK whose real run fell short of its dry run)
                self._cancelled(t, R.CANCEL_IOC_REMAINDER, t.leaves, 0)
        if t.where == NOWHERE:
            self._forget(t)

    def _rest(self, bk: Book, t: Order) -> None:
        t.visible = min(t.display, t.leaves) if t.display > 0 else t.leaves
        t.time = self._seq
        bk.levels(t.side).setdefault(t.price, []).append(t)
        t.where = IN_BOOK
        self._level_event(bk, t.side, t.price)

    def _refill(self, queue: list[Order], m: Order) -> None:
        """Iceberg rule: show the next tranche and go to the back of the level."""
        m.visible = min(m.display, m.leaves) if m.display > 0 else m.leaves
        queue.remove(m)
        queue.append(m)
        m.time = self._seq

    def _match(self, bk: Book, t: Order) -> bool:
        """The loop of 2.3. Returns True when self-trade prevention cancelled the taker."""
        maker_side = SELL if t.side == BUY else BUY
        levels = bk.levels(maker_side)
        limit = self._taker_limit(bk, t)
        stp_cancelled = False
        while t.leaves > 0 and not stp_cancelled:
            price = bk.best(maker_side)
            if price is None or not crosses(t.side, price, limit):
                break
            queue: list[Order] = levels[price]
            changed = False
            while t.leaves > 0 and queue:
                m = queue[0]
                if t.stp != STP_NONE and t.stp_key == m.stp_key:
                    if t.stp in (STP_CANCEL_MAKER, STP_CANCEL_BOTH):
                        self._cancelled(m, R.CANCEL_STP, m.leaves, 0)
                        self._remove(m)
                        changed = True
                    if t.stp in (STP_CANCEL_TAKER, STP_CANCEL_BOTH):
                        self._cancelled(t, R.CANCEL_STP, t.leaves, 0)
                        t.leaves = 0
                        stp_cancelled = True
                        break
                    if t.stp == STP_DECREMENT:
                        q = min(t.leaves, m.visible)
                        m.visible -= q
                        m.leaves -= q
                        t.leaves -= q
                        self._cancelled(m, R.CANCEL_STP, q, m.leaves)
                        self._cancelled(t, R.CANCEL_STP, q, t.leaves)
                        if m.leaves == 0:
                            self._remove(m)
                        elif m.visible == 0:
                            self._refill(queue, m)
                        changed = True
                    continue
                reduce_only = bool(m.flags & FLAG_REDUCE_ONLY)
                if reduce_only and self._red(m) == 0:
                    self._cancelled(m, R.CANCEL_REDUCE_ONLY, m.leaves, 0)
                    self._remove(m)
                    changed = True
                    continue
                self._fill(bk, t, m, queue)
                changed = True
            if changed:  # the loop leaves this level (emptied, or matching stops here)
                self._level_event(bk, maker_side, price)
        return stp_cancelled

    def _fill(self, bk: Book, t: Order, m: Order, queue: list[Order]) -> None:
        """One trade between taker ``t`` and maker ``m`` (head of ``queue``) at m's price."""
        reduce_only = bool(m.flags & FLAG_REDUCE_ONLY)
        q = min(t.leaves, m.visible)
        if reduce_only:
            q = min(q, self._red(m))
        bk.trade_count += 1
        trade_id = bk.trade_count
        bk.last_price = m.price
        if not bk.is_spot:
            signed = q if t.side == BUY else -q
            t_key, m_key = (t.account, bk.id), (m.account, bk.id)
            self._positions[t_key] = self._positions.get(t_key, 0) + signed
            self._positions[m_key] = self._positions.get(m_key, 0) - signed
        m.visible -= q
        m.leaves -= q
        t.leaves -= q
        # m's fate, decided before the FILL event is written
        refilled = False
        reduce_only_cancel = False
        if m.leaves == 0:
            self._remove(m)
        elif reduce_only and self._red(m) == 0:
            reduce_only_cancel = True
        elif m.visible == 0:
            self._refill(queue, m)
            refilled = True
        self._order_event(
            EV_FILL,
            t,
            price_ticks=m.price,
            qty_lots=q,
            leaves_lots=t.leaves,
            maker_order_id=m.order_id,
            maker_account=m.account,
            maker_leaves_lots=m.leaves,
            trade_id=trade_id,
            flags=EVF_REFILLED if refilled else 0,
        )
        if reduce_only_cancel:
            self._cancelled(m, R.CANCEL_REDUCE_ONLY, m.leaves, 0)
            self._remove(m)

    def _fok_fills(self, bk: Book, t: Order) -> bool:
        """FOK dry run (2.5): walk the crossing levels without changing anything."""
        need = t.leaves
        maker_side = SELL if t.side == BUY else BUY
        levels = bk.levels(maker_side)
        limit = self._taker_limit(bk, t)
        sim: dict[int, int] = {}  # account -> position as the simulated fills leave it

        def pos(account: int) -> int:
            return sim.get(account, self._positions.get((account, bk.id), 0))

        counted = 0
        for price in bk.level_prices(maker_side):
            if not crosses(t.side, price, limit):
                break
            for m in levels[price]:
                if t.stp != STP_NONE and t.stp_key == m.stp_key:
                    if t.stp == STP_CANCEL_MAKER:
                        continue
                    return False  # cancel-taker, cancel-both, decrement
                if m.flags & FLAG_REDUCE_ONLY:
                    p = pos(m.account)
                    red = max(p, 0) if m.side == SELL else max(-p, 0)
                    if red == 0:
                        continue
                    c = min(m.leaves, red)
                else:
                    c = m.leaves  # an iceberg counts all its leaves
                c = min(c, need - counted)
                counted += c
                if not bk.is_spot:
                    signed = c if t.side == BUY else -c
                    sim[t.account] = pos(t.account) + signed
                    sim[m.account] = pos(m.account) - signed
                if counted >= need:
                    return True
        return False

    # --- stop triggers (s.2.4) -------------------------------------------------------------
    def _next_triggered(self, bk: Book) -> Order | None:
        last = bk.last_price
        if last <= 0:  # no last trade price: nothing triggers
            return None
        if bk.buy_stops:
            trigger, queue = bk.buy_stops.peekitem(0)
            if trigger <= last:
                return queue[0]
        if bk.sell_stops:
            trigger, queue = bk.sell_stops.peekitem(-1)
            if trigger >= last:
                return queue[0]
        return None

    def _trigger_stops(self, bk: Book) -> None:
        while (s := self._next_triggered(bk)) is not None:
            self._unlink(s)
            self._order_event(
                EV_TRIGGERED,
                s,
                price_ticks=s.price,
                qty_lots=s.qty,
                leaves_lots=s.leaves,
                aux=bk.last_price,
            )
            if s.order_type == STOP_MARKET:
                s.order_type, s.tif = MARKET, IOC
            else:
                s.order_type = LIMIT
            s.trigger = 0
            s.visible = 0
            s.time = self._seq
            if s.flags & FLAG_REDUCE_ONLY and s.leaves > self._red(s):
                self._cancelled(s, R.CANCEL_REDUCE_ONLY, s.leaves, 0)
                self._forget(s)
            elif s.tif == FOK and not self._fok_fills(bk, s):
                self._cancelled(s, R.CANCEL_FOK, s.leaves, 0)
                self._forget(s)
            else:
                self._take(bk, s)

    # --- CANCEL (s.3) and AMEND (s.4) ------------------------------------------------------
    def _cmd_cancel(self, c: Cmd) -> None:
        if c.account < 1:
            self._reject(c, R.INVALID_ACCOUNT)
            return
        reason = c.reason or R.CANCEL_USER
        if reason not in R.MASS_CANCEL_REASONS:
            self._reject(c, R.INVALID_REASON)
            return
        o = self._lookup(c)
        if o is None:
            self._reject(c, R.UNKNOWN_ORDER)
            return
        self._cancel_order(o, reason)

    def _check_amend(self, o: Order, new_price: int, new_qty: int) -> int:
        bk = self._books[o.instrument]
        inst = bk.inst
        if bk.halted:
            return R.INSTRUMENT_HALTED
        if o.where == IN_STOPS:
            return R.AMEND_NOT_ALLOWED
        if new_qty <= 0:
            return R.QTY_NOT_POSITIVE
        if new_qty < inst.min_qty_lots:
            return R.QTY_BELOW_MIN
        if inst.max_qty_lots != 0 and new_qty > inst.max_qty_lots:
            return R.QTY_ABOVE_MAX
        if new_price <= 0 and not inst.allow_nonpositive_price:
            return R.PRICE_NOT_POSITIVE
        m = abs(new_price)
        if m != 0 and new_qty > VALUE_LIMIT // m:
            return R.VALUE_TOO_LARGE
        filled = o.qty - o.leaves
        if new_qty <= filled:
            return R.AMEND_QTY_NOT_ABOVE_FILLED
        if new_price != o.price and not self._inside_band(bk, new_price):
            return R.OUTSIDE_PRICE_BAND
        new_leaves = new_qty - filled
        if o.flags & FLAG_REDUCE_ONLY and new_leaves > o.leaves and new_leaves > self._red(o):
            return R.REDUCE_ONLY_WOULD_INCREASE
        if o.flags & FLAG_POST_ONLY and self._would_take(bk, o.side, new_price):
            return R.POST_ONLY_WOULD_TAKE
        return 0

    def _cmd_amend(self, c: Cmd) -> None:
        if c.account < 1:
            self._reject(c, R.INVALID_ACCOUNT)
            return
        o = self._lookup(c)
        if o is None:
            self._reject(c, R.UNKNOWN_ORDER)
            return
        new_price = c.price_ticks if c.price_ticks != 0 else o.price
        new_qty = c.qty_lots if c.qty_lots != 0 else o.qty
        reason = self._check_amend(o, new_price, new_qty)
        if reason:
            self._reject(c, reason)
            return
        bk = self._books[o.instrument]
        new_leaves = new_qty - (o.qty - o.leaves)
        if new_price == o.price and new_leaves <= o.leaves:  # keeps priority
            before = bk.level_totals(o.side, o.price)[0]
            o.qty, o.leaves = new_qty, new_leaves
            o.visible = min(o.visible, new_leaves)
            self._order_event(
                EV_AMENDED,
                o,
                flags=EVF_KEPT_PRIORITY,
                price_ticks=o.price,
                qty_lots=o.qty,
                leaves_lots=o.leaves,
            )
            if bk.level_totals(o.side, o.price)[0] != before:
                self._level_event(bk, o.side, o.price)
        else:  # loses priority: leaves its level, then enters again as a taker
            self._order_event(
                EV_AMENDED, o, price_ticks=new_price, qty_lots=new_qty, leaves_lots=new_leaves
            )
            old_price = o.price
            self._unlink(o)
            self._level_event(bk, o.side, old_price)
            o.price, o.qty, o.leaves = new_price, new_qty, new_leaves
            o.visible = 0
            o.time = self._seq
            self._take(bk, o)
        self._trigger_stops(bk)

    # --- MASS CANCEL (s.5) and END OF DAY (s.6) --------------------------------------------
    def _sweep(self, ids: list[int], side: int, pred: Callable[[Order], bool], reason: int) -> int:
        """Cancel every order passing ``pred`` in mass-cancel order; returns the count."""
        count = 0
        for iid in ids:
            bk = self._books[iid]
            sides = (BUY, SELL) if side == 0 else (side,)
            for s in sides:  # bids best to worst, then asks
                for price in bk.level_prices(s):
                    victims = [o for o in bk.levels(s)[price] if pred(o)]
                    for o in victims:
                        self._cancel_order(o, reason, level_event=False)
                    if victims:
                        self._level_event(bk, s, price)
                    count += len(victims)
            for s in sides:  # buy stops, then sell stops, first to trigger first
                for trigger in bk.stop_triggers(s):
                    victims = [o for o in bk.stops(s)[trigger] if pred(o)]
                    for o in victims:
                        self._cancel_order(o, reason)
                    count += len(victims)
        return count

    def _cmd_mass_cancel(self, c: Cmd) -> None:
        reason = c.reason if c.reason != 0 else R.CANCEL_MASS
        if c.account < 0:
            fail = R.INVALID_ACCOUNT
        elif c.instrument != -1 and c.instrument not in self._books:
            fail = R.UNKNOWN_INSTRUMENT
        elif c.side not in (0, BUY, SELL):
            fail = R.INVALID_SIDE
        elif reason not in R.MASS_CANCEL_REASONS:
            fail = R.INVALID_REASON
        else:
            fail = 0
        if fail:
            self._reject(c, fail)
            return
        ids = sorted(self._books) if c.instrument == -1 else [c.instrument]
        account = c.account
        count = self._sweep(ids, c.side, lambda o: account == 0 or o.account == account, reason)
        self._emit(
            EV_MASS_CANCELLED,
            account=c.account,
            instrument=c.instrument,
            side=c.side,
            reason=reason,
            qty_lots=count,
        )

    def _cmd_end_of_day(self, c: Cmd) -> None:
        if c.instrument != -1 and c.instrument not in self._books:
            self._reject(c, R.UNKNOWN_INSTRUMENT)
            return
        ids = sorted(self._books) if c.instrument == -1 else [c.instrument]
        self._sweep(ids, 0, lambda o: o.tif == DAY, R.CANCEL_DAY_END)

    # --- instrument and position commands (s.6) --------------------------------------------
    def _status(self, c: Cmd, halted: bool, reason: int) -> None:
        bk = self._books.get(c.instrument)
        if bk is None:
            self._reject(c, R.UNKNOWN_INSTRUMENT)
            return
        bk.halted = halted
        self._emit(EV_STATUS, instrument=bk.id, reason=reason)

    def _cmd_halt(self, c: Cmd) -> None:
        self._status(c, True, R.STATUS_HALTED)

    def _cmd_resume(self, c: Cmd) -> None:
        self._status(c, False, R.STATUS_RESUMED)

    def _cmd_set_position(self, c: Cmd) -> None:
        bk = self._books.get(c.instrument)
        if c.account < 1:
            self._reject(c, R.INVALID_ACCOUNT)
        elif bk is None:
            self._reject(c, R.UNKNOWN_INSTRUMENT)
        elif bk.is_spot:
            self._reject(c, R.INVALID_COMBINATION)
        else:
            self._positions[(c.account, c.instrument)] = c.qty_lots
            self._emit(EV_POSITION, account=c.account, instrument=c.instrument, qty_lots=c.qty_lots)

    def _cmd_set_ref_price(self, c: Cmd) -> None:
        bk = self._books.get(c.instrument)
        if bk is None:
            self._reject(c, R.UNKNOWN_INSTRUMENT)
        elif c.price_ticks < 0 and not bk.inst.allow_nonpositive_price:
            self._reject(c, R.PRICE_NOT_POSITIVE)
        else:
            bk.ref_price = c.price_ticks
            self._emit(
                EV_STATUS, instrument=bk.id, reason=R.STATUS_REF_PRICE, price_ticks=c.price_ticks
            )

    # --- state accessors -------------------------------------------------------------------
    def dump(self) -> np.ndarray:
        rows = []
        for bk, dump_side, _, o in walk(self._books):
            rec = {
                "instrument": bk.id,
                "side": dump_side,
                "order_type": o.order_type,
                "tif": o.tif,
                "flags": o.flags,
                "account": o.account,
                "stp_group": o.stp_group,
                "order_id": o.order_id,
                "client_order_id": o.client_order_id,
                "price_ticks": o.price,
                "trigger_ticks": o.trigger,
                "qty_lots": o.qty,
                "leaves_lots": o.leaves,
                "visible_lots": o.visible,
                "display_lots": o.display,
                "expire_ns": o.expire_ns,
                "stp": o.stp,
            }
            rows.append(tuple(rec[name] for name in DUMP_FIELDS))
        if not rows:
            return np.zeros(0, dtype=DUMP_DTYPE)
        return np.array(rows, dtype=DUMP_DTYPE)

    def book(self, instrument: int, depth: int = 10) -> BookView:
        bk = self._books[instrument]

        def side_levels(side: int) -> list[Level]:
            out = []
            for price in bk.level_prices(side)[:depth]:
                total, count = bk.level_totals(side, price)
                out.append(Level(price, total, count))
            return out

        return BookView(instrument, side_levels(BUY), side_levels(SELL))

    def status_table(self) -> np.ndarray:
        n = max(self._books) + 1 if self._books else 0
        table = np.zeros((n, 3), dtype=np.int64)
        for iid, bk in self._books.items():
            table[iid] = (bk.last_price, bk.trade_count, 1 if bk.halted else 0)
        return table

    def position(self, account: int, instrument: int) -> int:
        return self._positions.get((account, instrument), 0)

    def live_orders(self) -> int:
        return len(self._orders)

    def check_invariants(self) -> None:
        check_invariants(self._books, self._orders, self._by_cloid, self._expiry)
