"""Replay a LOBSTER message file through the matching engine and check it against the file.

One instrument, AAPL (id 0, spot, tick 0.0001, lot 1): LOBSTER's integer prices are ticks and its
shares are lots. Resting orders belong to account 1, the aggressors that reproduce executions to
account 2 (no self-trade prevention). The mapping:

- 1 submission: NEW LIMIT GTC under the file's order id. NASDAQ ids grow with time, so one
  lower than that of an order resting at its price and side (an older order moving into a
  level-N file's window from beyond it) belongs ahead of it: the driver cancels that level
  from the first later-id order on, submits the new order and resubmits the cancelled ones
  (same ids, remaining quantity), counted as ``window_reentries``.
- 2 partial cancellation: AMEND to a smaller total quantity (priority kept).
- 3 deletion: CANCEL by order id.
- 4 visible execution: NEW LIMIT IOC of the opposite side at the execution price and size; it
  must fill exactly the named resting order (checked when that order was submitted in the file).
  When that order is resting but not first on its side in the engine (the market executed it
  out of visible priority), no IOC is sent: the size is taken off the order (AMEND down, or
  CANCEL), reported as a mismatch and counted in ``out_of_priority_executions``, so one such
  anomaly does not cascade into wrong fills.
- 5 hidden execution, 6 cross: counted, not applied (they do not touch the visible book).
- 7 halt: price -1 CMD_HALT, 1 CMD_RESUME, 0 (quoting) nothing.

With an order-book file, the book is seeded from its first row (one synthetic order per level
and side, ids from ``SEED_ID_BASE``; the first message's own order under its real id, behind the
synthetic one) and, after each later message k, the engine's top ``levels`` levels are compared
with row k. Messages about orders resting since before the file (unknown ids) then act on the
synthetic order of their level. Without an order-book file they are counted and skipped, and
the whole file runs as one engine batch; events are split by command ``seq`` to check the
executions. Either way the driver mirrors the engine's book in Python (``_Mirror``, fed every
command it builds) to know queue positions per message without querying the engine.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from marketdata.history.records import (
    LOB_CROSS,
    LOB_DELETE,
    LOB_EXEC_HIDDEN,
    LOB_EXEC_VISIBLE,
    LOB_HALT,
    LOB_PARTIAL_CANCEL,
    LOB_SUBMIT,
    LOBSTER_EMPTY_ASK,
    LOBSTER_EMPTY_BID,
)
from matching import reasons
from matching.api import EngineBase
from matching.engine import Engine
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_HALT,
    CMD_NAMES,
    CMD_NEW,
    CMD_RESUME,
    COMMAND_DTYPE,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    EV_REJECTED,
    EVENT_DTYPE,
    GTC,
    IOC,
    LIMIT,
    SELL,
)

INSTRUMENT = 0
RESTING_ACCOUNT = 1
AGGRESSOR_ACCOUNT = 2
SEED_ID_BASE = 10**12  # synthetic orders resting before the file: SEED_ID_BASE + k
AGGRESSOR_ID_BASE = 2 * 10**12  # the IOC of execution message i: AGGRESSOR_ID_BASE + i
MAX_MISMATCHES = 20

TYPE_NAMES = {
    LOB_SUBMIT: "submission",
    LOB_PARTIAL_CANCEL: "partial cancellation",
    LOB_DELETE: "deletion",
    LOB_EXEC_VISIBLE: "visible execution",
    LOB_EXEC_HIDDEN: "hidden execution",
    LOB_CROSS: "cross trade",
    LOB_HALT: "halt indicator",
}


def aapl() -> Instrument:
    """The replay's instrument: LOBSTER prices (dollars x 10000) are its ticks, shares its lots."""
    return Instrument(
        id=INSTRUMENT, symbol="AAPL", kind="spot", tick_size=Decimal("0.0001"), lot_size=Decimal(1)
    )


@dataclass
class ReplayResult:
    messages: int = 0
    commands: int = 0
    events: int = 0
    submissions: int = 0
    partial_cancels: int = 0
    deletions: int = 0
    executions: int = 0  # visible executions (type 4)
    executions_checked: int = 0  # ... of an order submitted inside the file
    executions_matched: int = 0  # ... that filled exactly that order, for exactly the size
    rows_compared: int = 0
    rows_equal: int = 0
    levels: int = 0
    seeded: bool = False
    seed_orders: int = 0
    window_entries: int = 0  # levels that came into the file's N-level window from beyond it
    window_reentries: int = 0  # submissions re-queued ahead of later-id orders at their price
    out_of_priority_executions: int = 0  # executions of an order not first in the engine's book
    engine_seconds: float = 0.0
    events_per_s: float = 0.0
    hidden_executions: int = 0
    cross_trades: int = 0
    halts: int = 0  # type 7 messages (halt, quoting, resume)
    preexisting_executions: int = 0
    preexisting_deletions: int = 0  # deletions and partial cancels of orders unknown to the engine
    rejects: int = 0  # engine REJECTED events (each also reported as a mismatch)
    mismatch_count: int = 0
    mismatch_causes: dict[str, int] = field(default_factory=dict)
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def _time_text(ns: int) -> str:
    return f"{ns // 10**9}.{ns % 10**9:09d}"


def message_dict(messages: np.ndarray, i: int) -> dict[str, Any]:
    """Message ``i`` (0-based) as a readable dict; ``line`` is its 1-based line in the file."""
    m = messages[i]
    t = int(m["type"])
    return {
        "index": i,
        "line": i + 1,
        "time": _time_text(int(m["time_ns"])),
        "type": TYPE_NAMES.get(t, str(t)),
        "order_id": int(m["order_id"]),
        "size": int(m["size"]),
        "price": int(m["price"]),
        "direction": int(m["direction"]),
    }


# a command as built in Python: kind, side, price, qty, order_id, account, tif, message index
_Cmd = tuple[int, int, int, int, int, int, int, int]


def _to_array(cmds: list[_Cmd], ts: np.ndarray, first_seq: int) -> np.ndarray:
    out = np.zeros(len(cmds), dtype=COMMAND_DTYPE)
    if not cmds:
        return out
    cols = np.array(cmds, dtype=np.int64).reshape(len(cmds), 8)
    out["seq"] = first_seq + np.arange(len(cmds))
    out["kind"] = cols[:, 0]
    out["side"] = cols[:, 1]
    out["price_ticks"] = cols[:, 2]
    out["qty_lots"] = cols[:, 3]
    out["order_id"] = cols[:, 4]
    out["account"] = cols[:, 5]
    out["tif"] = cols[:, 6]
    out["order_type"] = np.where(cols[:, 0] == CMD_NEW, LIMIT, 0)
    out["instrument"] = INSTRUMENT
    idx = cols[:, 7]
    out["ts_ns"] = np.where(idx >= 0, ts[np.maximum(idx, 0)], 0)
    return out


class _Mirror:
    """The engine's book as the driver's commands leave it, kept in Python (price-time priority,
    no self-trade prevention, IOC remainders dropped, amends down keep priority), so the driver
    can see queue positions per message without asking the engine."""

    def __init__(self) -> None:
        self.queue: dict[tuple[int, int], list[int]] = {}  # (side, price) -> ids, FIFO
        self.prices: dict[int, set[int]] = {BUY: set(), SELL: set()}  # non-empty levels
        self.qty: dict[int, int] = {}  # total qty (incl. filled) of live orders
        self.leaves: dict[int, int] = {}
        self.where: dict[int, tuple[int, int]] = {}  # id -> (side, price)
        self.halted = False

    def best(self, side: int) -> int | None:
        p = self.prices[side]
        if not p:
            return None
        return max(p) if side == BUY else min(p)

    def crosses(self, side: int, price: int) -> bool:
        opp = self.best(SELL if side == BUY else BUY)
        return opp is not None and (opp <= price if side == BUY else opp >= price)

    def ahead(self, oid: int) -> tuple[int, int | None]:
        """Orders ahead of live order ``oid`` in its level, and a better price on its side
        (None when its level is the best)."""
        side, price = self.where[oid]
        best = self.best(side)
        return self.queue[(side, price)].index(oid), (None if best == price else best)

    def _remove(self, oid: int) -> None:
        key = self.where.pop(oid)
        q = self.queue[key]
        q.remove(oid)
        if not q:
            del self.queue[key]
            self.prices[key[0]].discard(key[1])
        del self.qty[oid], self.leaves[oid]

    def _rest(self, side: int, price: int, qty: int, leaves: int, oid: int) -> None:
        self.queue.setdefault((side, price), []).append(oid)
        self.prices[side].add(price)
        self.qty[oid], self.leaves[oid], self.where[oid] = qty, leaves, (side, price)

    def apply(self, c: _Cmd) -> list[tuple[int, int]]:
        """Apply one command; the (maker id, qty) fills it makes."""
        kind, side, price, qty, oid = c[0], c[1], c[2], c[3], c[4]
        fills: list[tuple[int, int]] = []
        if kind == CMD_HALT:
            self.halted = True
        elif kind == CMD_RESUME:
            self.halted = False
        elif kind == CMD_CANCEL:
            if oid in self.leaves:
                self._remove(oid)
        elif kind == CMD_AMEND:
            if self.halted or oid not in self.leaves:
                return fills
            filled = self.qty[oid] - self.leaves[oid]
            if qty <= filled:
                return fills  # the engine rejects it
            new_leaves = qty - filled
            if new_leaves <= self.leaves[oid]:
                self.qty[oid], self.leaves[oid] = qty, new_leaves
            else:  # loses priority (the driver never amends up)
                s, p = self.where[oid]
                self._remove(oid)
                self._rest(s, p, qty, new_leaves, oid)
        elif kind == CMD_NEW:
            if self.halted or oid in self.leaves or qty <= 0:
                return fills
            opp = SELL if side == BUY else BUY
            left = qty
            while left > 0:
                bp = self.best(opp)
                if bp is None or (bp > price if side == BUY else bp < price):
                    break
                q = self.queue[(opp, bp)]
                while left > 0 and q:
                    mid = q[0]
                    n = min(left, self.leaves[mid])
                    fills.append((mid, n))
                    left -= n
                    self.leaves[mid] -= n
                    if self.leaves[mid] == 0:
                        self._remove(mid)
                        if (opp, bp) not in self.queue:
                            break
            if left > 0 and c[6] == GTC:
                self._rest(side, price, qty, left, oid)
        return fills


class _Replayer:
    def __init__(self, messages: np.ndarray, engine: EngineBase, seeded: bool) -> None:
        self.msgs = messages
        self.engine = engine
        self.seeded = seeded
        self.res = ReplayResult(messages=len(messages), seeded=seeded)
        self.totals: dict[int, int] = {}  # total qty (incl. filled) of orders the engine knows
        self.submitted: set[int] = set()  # ids submitted inside the file
        self.seed_at: dict[tuple[int, int], list[int]] = {}  # (side, price) -> synthetic ids
        self.next_seed = SEED_ID_BASE
        self.seed_leaves: dict[int, int] = {}  # synthetic order id -> leaves
        self.cmd_log: list[np.ndarray] = []  # every command array, in order
        self.ev_log: list[np.ndarray] = []
        self.mismatches: list[dict[str, Any]] = []
        self.causes: dict[str, int] = {}
        # message index of every command (seed: -1)
        self.cmd_msg: np.ndarray = np.zeros(0, dtype=np.int64)
        self.book = _Mirror()

    def apply(self, cmds: list[_Cmd]) -> list[_Cmd]:
        """Mirror ``cmds`` (about to be sent) in ``self.book``; returns them."""
        for c in cmds:
            self.book.apply(c)
        return cmds

    # --- building --------------------------------------------------------------------------
    def commands_for(self, i: int) -> list[_Cmd]:
        m = self.msgs[i]
        t = int(m["type"])
        oid = int(m["order_id"])
        size = int(m["size"])
        price = int(m["price"])
        side = BUY if int(m["direction"]) == 1 else SELL
        res = self.res
        if t == LOB_SUBMIT:
            res.submissions += 1
            self.submitted.add(oid)
            self.totals[oid] = size
            new: _Cmd = (CMD_NEW, side, price, size, oid, RESTING_ACCOUNT, GTC, i)
            return self._in_id_order(new)
        if t in (LOB_PARTIAL_CANCEL, LOB_DELETE):
            if t == LOB_DELETE:
                res.deletions += 1
            else:
                res.partial_cancels += 1
            if oid in self.totals:
                if t == LOB_DELETE:
                    del self.totals[oid]
                    return [(CMD_CANCEL, 0, 0, 0, oid, RESTING_ACCOUNT, 0, i)]
                self.totals[oid] -= size
                return [(CMD_AMEND, 0, 0, self.totals[oid], oid, RESTING_ACCOUNT, 0, i)]
            res.preexisting_deletions += 1
            return self._reduce_seed(side, price, size, i)
        if t == LOB_EXEC_VISIBLE:
            res.executions += 1
            if oid not in self.submitted:
                res.preexisting_executions += 1
                if not self.seeded:
                    return []
            else:
                res.executions_checked += 1
                if oid in self.book.leaves:
                    ahead, better = self.book.ahead(oid)
                    if ahead or better is not None:
                        return self._out_of_priority(i, oid, size, ahead, better)
            opp = SELL if side == BUY else BUY
            agg = AGGRESSOR_ID_BASE + i
            return [(CMD_NEW, opp, price, size, agg, AGGRESSOR_ACCOUNT, IOC, i)]
        if t == LOB_EXEC_HIDDEN:
            res.hidden_executions += 1
        elif t == LOB_CROSS:
            res.cross_trades += 1
        elif t == LOB_HALT:
            res.halts += 1
            if price == -1:
                return [(CMD_HALT, 0, 0, 0, 0, 0, 0, i)]
            if price == 1:
                return [(CMD_RESUME, 0, 0, 0, 0, 0, 0, i)]
        return []

    def _in_id_order(self, new: _Cmd) -> list[_Cmd]:
        """A submission whose NASDAQ id is lower than that of an order resting at its price
        and side (an order moving into the file's window from beyond it: ids grow with time,
        so it is older) goes ahead of them: cancel the level from the first such order on,
        submit the new order, then resubmit the cancelled ones with their remaining quantity
        under the same ids."""
        side, price, oid = new[1], new[2], new[4]
        q = self.book.queue.get((side, price))
        if oid >= SEED_ID_BASE or not q or self.book.halted or self.book.crosses(side, price):
            return [new]
        p = next((k for k, o in enumerate(q) if oid < o < SEED_ID_BASE), None)
        if p is None:
            return [new]
        tail = q[p:]
        if all(o < SEED_ID_BASE for o in tail):
            tail.sort()
        i = new[7]
        cmds: list[_Cmd] = [(CMD_CANCEL, 0, 0, 0, o, RESTING_ACCOUNT, 0, i) for o in tail]
        cmds.append(new)
        for o in tail:
            leaves = self.book.leaves[o]
            self.totals[o] = leaves
            cmds.append((CMD_NEW, side, price, leaves, o, RESTING_ACCOUNT, GTC, i))
        self.res.window_reentries += 1
        return cmds

    def _out_of_priority(
        self, i: int, oid: int, size: int, ahead: int, better: int | None
    ) -> list[_Cmd]:
        """A visible execution of an order that is not first in the engine's book on its side:
        the market executed out of visible priority (or the engine's queue differs). Sending
        the IOC would fill someone else and cascade; take the size off the named order
        instead, and report it."""
        leaves = self.book.leaves[oid]
        side, price = self.book.where[oid]
        first = self.book.queue[(side, price)][0]
        status = f"resting with {leaves} lots at {price}, {ahead} orders ahead of it"
        if ahead:
            status += f" (first {first})"
        if better is not None:
            status += f", a better price {better} on its side"
        self.mismatch(
            "market executed out of visible priority",
            {
                "message": message_dict(self.msgs, i),
                "expected": {"maker_order_id": oid, "qty": size},
                "got": [],
                "order_status": status,
            },
        )
        self.res.out_of_priority_executions += 1
        if size >= leaves:
            self.totals.pop(oid, None)
            return [(CMD_CANCEL, 0, 0, 0, oid, RESTING_ACCOUNT, 0, i)]
        self.totals[oid] = self.book.qty[oid] - size
        return [(CMD_AMEND, 0, 0, self.totals[oid], oid, RESTING_ACCOUNT, 0, i)]

    def _reduce_seed(self, side: int, price: int, size: int, i: int) -> list[_Cmd]:
        """A deletion / partial cancel of an order resting before the file: take ``size`` off
        the synthetic order of its level (cancel it when nothing would remain)."""
        live = [s for s in self.seed_at.get((side, price), []) if s in self.seed_leaves]
        if not self.seeded or not live:
            return []
        sid = next((s for s in live if self.seed_leaves[s] >= size), live[0])
        leaves = self.seed_leaves[sid]
        if size >= leaves:
            del self.seed_leaves[sid]
            del self.totals[sid]
            return [(CMD_CANCEL, 0, 0, 0, sid, RESTING_ACCOUNT, 0, i)]
        self.seed_leaves[sid] = leaves - size
        self.totals[sid] -= size
        return [(CMD_AMEND, 0, 0, self.totals[sid], sid, RESTING_ACCOUNT, 0, i)]

    def seed(self, row: np.ndarray) -> list[_Cmd]:
        """Synthetic orders for order-book row 0 (the book after message 0); message 0's own
        submission keeps its id, behind the synthetic rest of its level."""
        first = self.msgs[0] if len(self.msgs) else None
        own: tuple[int, int, int, int] | None = None  # side, price, size, id
        if first is not None and int(first["type"]) == LOB_SUBMIT:
            fside = BUY if int(first["direction"]) == 1 else SELL
            own = (fside, int(first["price"]), int(first["size"]), int(first["order_id"]))
        cmds: list[_Cmd] = []
        k = 0
        placed_own = False
        for lvl in range(row.shape[0]):
            ap, asz, bp, bsz = (int(x) for x in row[lvl])
            for side, price, qty, empty in (
                (SELL, ap, asz, LOBSTER_EMPTY_ASK),
                (BUY, bp, bsz, LOBSTER_EMPTY_BID),
            ):
                if price == empty or qty <= 0:
                    continue
                mine = own is not None and own[0] == side and own[1] == price and own[2] <= qty
                synthetic = qty - own[2] if mine and own is not None else qty
                if synthetic > 0:
                    k += 1
                    cmds.append(self._synthetic(side, price, synthetic, -1))
                if mine and own is not None:
                    self.submitted.add(own[3])
                    self.totals[own[3]] = own[2]
                    cmds.append((CMD_NEW, side, price, own[2], own[3], RESTING_ACCOUNT, GTC, 0))
                    placed_own = True
        if own is not None and placed_own:
            self.res.submissions += 1
        self.res.seed_orders = k
        return cmds

    def _synthetic(self, side: int, price: int, qty: int, i: int) -> _Cmd:
        sid = self.next_seed
        self.next_seed += 1
        self.seed_at.setdefault((side, price), []).append(sid)
        self.seed_leaves[sid] = qty
        self.totals[sid] = qty
        return (CMD_NEW, side, price, qty, sid, RESTING_ACCOUNT, GTC, i)

    def window_entries(self, i: int, prev: np.ndarray, row: np.ndarray) -> list[_Cmd]:
        """Synthetic orders for levels that enter the file's window from beyond it at row
        ``i``. A level-N file leaves out every event beyond its N levels, so a level that moves
        up from there shows up only in the order-book file: at a price worse than the previous
        row's last level (that row's side being full), with no message about it. The engine
        gets the difference between that row's size and its own as one order at the back of
        the level (the order's real queue position is unknowable). Levels inside the window are
        never touched, so they stay a genuine check."""
        n = row.shape[0]
        view = self.engine.book(INSTRUMENT, n)
        have = {(SELL, lv.price_ticks): lv.qty_lots for lv in view.asks}
        have.update({(BUY, lv.price_ticks): lv.qty_lots for lv in view.bids})
        cmds: list[_Cmd] = []
        for side, pc, qc, empty in (
            (SELL, 0, 1, LOBSTER_EMPTY_ASK),
            (BUY, 2, 3, LOBSTER_EMPTY_BID),
        ):
            last = int(prev[n - 1, pc])
            if last == empty:
                continue  # the previous row showed the whole side: nothing was beyond it
            for lvl in range(n):
                price, qty = int(row[lvl, pc]), int(row[lvl, qc])
                if price == empty:
                    break
                beyond = price > last if side == SELL else price < last
                missing = qty - have.get((side, price), 0)
                if beyond and missing > 0:
                    cmds.append(self._synthetic(side, price, missing, i))
                    self.res.window_entries += 1
        return cmds

    # --- running ---------------------------------------------------------------------------
    def run(self, cmds: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        ev = self.engine.process(cmds)
        self.res.engine_seconds += time.perf_counter() - t0
        self.cmd_log.append(cmds)
        self.ev_log.append(ev)
        return ev

    def note_fills(self, ev: np.ndarray) -> None:
        """Keep the synthetic orders' leaves current (seeded mode)."""
        for e in ev[ev["kind"] == EV_FILL]:
            mid = int(e["maker_order_id"])
            if mid in self.seed_leaves:
                if int(e["maker_leaves_lots"]) == 0:
                    del self.seed_leaves[mid]
                else:
                    self.seed_leaves[mid] = int(e["maker_leaves_lots"])

    def mismatch(self, cause: str, entry: dict[str, Any]) -> None:
        key = cause.split(":")[0]
        self.causes[key] = self.causes.get(key, 0) + 1
        self.res.mismatch_count += 1
        if len(self.mismatches) < MAX_MISMATCHES:
            self.mismatches.append({**entry, "cause": cause})

    def compare_book(self, i: int, row: np.ndarray, levels: int) -> None:
        view = self.engine.book(INSTRUMENT, levels)
        got = np.empty((levels, 4), dtype=np.int64)
        got[:, 0], got[:, 1], got[:, 2], got[:, 3] = LOBSTER_EMPTY_ASK, 0, LOBSTER_EMPTY_BID, 0
        for k, lv in enumerate(view.asks[:levels]):
            got[k, 0], got[k, 1] = lv.price_ticks, lv.qty_lots
        for k, lv in enumerate(view.bids[:levels]):
            got[k, 2], got[k, 3] = lv.price_ticks, lv.qty_lots
        want = row[:levels]
        self.res.rows_compared += 1
        if np.array_equal(got, want):
            self.res.rows_equal += 1
            return
        bad = np.argwhere(got != want)
        lvl, col = int(bad[0][0]), int(bad[0][1])
        what = ("ask price", "ask size", "bid price", "bid size")[col]
        self.mismatch(
            f"book differs: {what} of level {lvl + 1}",
            {
                "message": message_dict(self.msgs, i),
                "expected": want.tolist(),
                "got": got.tolist(),
            },
        )

    # --- checking (one pass over every event) ----------------------------------------------
    def check(self) -> None:
        if not self.cmd_log:
            return
        cmds = np.concatenate(self.cmd_log)
        ev = np.concatenate(self.ev_log) if self.ev_log else np.zeros(0, dtype=EVENT_DTYPE)
        self.res.commands = len(cmds)
        self.res.events = len(ev)
        first = int(cmds["seq"][0])
        ci = (ev["seq"] - first).astype(np.int64)
        n = len(cmds)
        msg_idx = np.full(n, -1, dtype=np.int64)
        is_exec = (cmds["kind"] == CMD_NEW) & (cmds["tif"] == IOC)
        msg_idx[is_exec] = cmds["order_id"][is_exec] - AGGRESSOR_ID_BASE
        ts_idx = self.cmd_msg  # message index of every command (seed commands: -1)
        want_maker = np.zeros(n, dtype=np.int64)
        want_size = np.zeros(n, dtype=np.int64)
        checked = np.zeros(n, dtype=bool)
        ex = np.flatnonzero(is_exec)
        mi = msg_idx[ex]
        want_maker[ex] = self.msgs["order_id"][mi]
        want_size[ex] = self.msgs["size"][mi]
        checked[ex] = np.isin(want_maker[ex], np.fromiter(self.submitted, dtype=np.int64))
        fills = ev["kind"] == EV_FILL
        fci = ci[fills]
        filled = np.bincount(fci, weights=ev["qty_lots"][fills], minlength=n).astype(np.int64)
        wrong = np.bincount(
            fci, weights=(ev["maker_order_id"][fills] != want_maker[fci]), minlength=n
        ).astype(np.int64)
        ok = checked & (filled == want_size) & (wrong == 0)
        # an execution counted as checked in Python is an IOC of a submitted order
        self.res.executions_matched = int(np.count_nonzero(ok))
        rej = np.flatnonzero(ev["kind"] == EV_REJECTED)
        self.res.rejects = len(rej)
        bad_exec = set(np.flatnonzero(checked & ~ok).tolist())
        rej_by_cmd = {int(ci[j]): int(ev["reason"][j]) for j in rej}
        for c in sorted(bad_exec | set(rej_by_cmd)):
            i = int(ts_idx[c])
            entry: dict[str, Any] = {"message": message_dict(self.msgs, i) if i >= 0 else None}
            sel = ev[ci == c]
            if c in rej_by_cmd:
                kind = CMD_NAMES.get(int(cmds["kind"][c]), "?")
                cause = f"engine rejected the {kind}: {reasons.name(rej_by_cmd[c])}"
                if c in bad_exec or int(cmds["kind"][c]) in (CMD_CANCEL, CMD_AMEND):
                    oid = int(cmds["order_id"][c]) if c not in bad_exec else int(want_maker[c])
                    entry["order_status"] = self._status(ev, ci, oid, c)
            else:
                cause = self._exec_cause(ev, ci, sel, c, int(want_maker[c]), int(want_size[c]))
                entry["order_status"] = self._status(ev, ci, int(want_maker[c]), c)
            fsel = sel[sel["kind"] == EV_FILL]
            if c in bad_exec:
                entry["expected"] = {"maker_order_id": int(want_maker[c]), "qty": int(want_size[c])}
                entry["got"] = [
                    {
                        "maker_order_id": int(f["maker_order_id"]),
                        "price": int(f["price_ticks"]),
                        "qty": int(f["qty_lots"]),
                    }
                    for f in fsel
                ]
            self.mismatch(cause, entry)

    def _exec_cause(
        self, ev: np.ndarray, ci: np.ndarray, sel: np.ndarray, c: int, maker: int, size: int
    ) -> str:
        fsel = sel[sel["kind"] == EV_FILL]
        price = int(self.msgs["price"][int(self.cmd_msg[c])])
        if len(fsel) == 0:
            return "no fill: nothing rested at or better than the execution price in the engine"
        others = fsel[fsel["maker_order_id"] != maker]
        if len(others):
            o = others[0]
            if int(o["price_ticks"]) != price:
                return (
                    "better price in the engine: order "
                    f"{int(o['maker_order_id'])} rested at {int(o['price_ticks'])}, "
                    f"ahead of {price}"
                )
            return (
                f"queue order: order {int(o['maker_order_id'])} rested ahead of {maker} at {price}"
            )
        got = int(fsel["qty_lots"].sum())
        return f"size: the named order had {got} lots left, the file executes {size}"

    def _status(self, ev: np.ndarray, ci: np.ndarray, oid: int, c: int) -> str:
        """What the engine last did to order ``oid`` before command ``c``."""
        before = ci < c
        touch = before & (
            (ev["order_id"] == oid) | ((ev["kind"] == EV_FILL) & (ev["maker_order_id"] == oid))
        )
        idx = np.flatnonzero(touch)
        if len(idx) == 0:
            return "never seen by the engine"
        e = ev[idx[-1]]
        k = int(e["kind"])
        at = int(self.cmd_msg[int(ci[idx[-1]])])
        where = f"message line {at + 1}" if at >= 0 else "seeding"
        if k == EV_FILL and int(e["maker_order_id"]) == oid:
            left = int(e["maker_leaves_lots"])
            return f"{'fully filled' if left == 0 else f'{left} lots left'} after a fill at {where}"
        if k == EV_CANCELLED:
            return f"cancelled at {where}"
        if k in (EV_ACCEPTED, EV_AMENDED):
            return f"resting with {int(e['leaves_lots'])} lots since {where}"
        return f"last event {k} at {where}"


def replay_lobster(
    messages: np.ndarray,
    orderbook: np.ndarray | None = None,
    levels: int = 5,
    engine_cls: type[EngineBase] = Engine,
) -> ReplayResult:
    """Replay LOBSTER ``messages`` (LOBSTER_MESSAGE_DTYPE) through a fresh ``engine_cls`` and
    check it: executions of orders submitted in the file must fill exactly that order and, when
    the aligned ``orderbook`` (rows, levels, 4) is given, the top ``levels`` after each message
    must equal its row. Reports; never raises on a mismatch."""
    if orderbook is not None:
        if len(orderbook) != len(messages):
            raise ValueError(
                f"the order-book file has {len(orderbook)} rows, the message file "
                f"{len(messages)}: they must align one to one"
            )
        if orderbook.shape[1] < levels:
            raise ValueError(f"the order-book file has {orderbook.shape[1]} levels, not {levels}")
    engine = engine_cls([aapl()])  # type: ignore[call-arg]
    seeded = orderbook is not None and len(messages) > 0
    r = _Replayer(messages, engine, seeded)
    ts = messages["time_ns"]
    cmd_msg: list[int] = []
    if orderbook is not None and seeded:
        r.res.levels = levels
        seed = r.apply(r.seed(orderbook[0]))
        cmd_msg += [c[7] for c in seed]
        r.run(_to_array(seed, ts, engine.next_seq))
        if not any(c[7] == 0 for c in seed):
            # message 0 not a submission: apply it after the seed
            first = r.apply(r.commands_for(0))
            if first:
                cmd_msg += [c[7] for c in first]
                r.note_fills(r.run(_to_array(first, ts, engine.next_seq)))
        for i in range(1, len(messages)):
            cmds = r.apply(r.commands_for(i))
            if cmds:
                cmd_msg += [c[7] for c in cmds]
                r.note_fills(r.run(_to_array(cmds, ts, engine.next_seq)))
            entering = r.apply(r.window_entries(i, orderbook[i - 1], orderbook[i]))
            if entering:
                cmd_msg += [c[7] for c in entering]
                r.run(_to_array(entering, ts, engine.next_seq))
            r.compare_book(i, orderbook[i], levels)
    else:
        built: list[_Cmd] = []
        for i in range(len(messages)):
            built += r.apply(r.commands_for(i))
        cmd_msg = [c[7] for c in built]
        if built:
            r.run(_to_array(built, ts, engine.next_seq))
    r.cmd_msg = np.array(cmd_msg, dtype=np.int64)
    r.check()
    res = r.res
    # book comparisons were recorded before the execution checks: order them by message
    res.mismatches = sorted(r.mismatches, key=lambda m: (m["message"] or {}).get("index", -1))
    res.mismatch_causes = dict(sorted(r.causes.items(), key=lambda kv: -kv[1]))
    res.events_per_s = res.events / res.engine_seconds if res.engine_seconds > 0 else 0.0
    return res


def _summary(res: ReplayResult, message_file: str, orderbook_file: str | None) -> str:
    lines = [f"LOBSTER replay of {message_file}"]
    lines.append(
        f"  {res.messages} messages: {res.submissions} submissions, {res.partial_cancels} partial "
        f"cancellations, {res.deletions} deletions, {res.executions} visible executions, "
        f"{res.hidden_executions} hidden executions (not applied), {res.cross_trades} cross "
        f"trades (not applied), {res.halts} halt messages"
    )
    if orderbook_file:
        lines.append(
            f"  seeded from row 1 of {orderbook_file}: {res.seed_orders} synthetic orders; "
            f"{res.window_entries} levels entered the file's window from beyond it"
        )
    lines.append(
        f"  submissions re-queued ahead of later-id orders at their price: "
        f"{res.window_reentries}; executions out of visible priority (applied as a "
        f"reduction, no IOC): {res.out_of_priority_executions}"
    )
    lines.append(
        f"  orders resting before the file: {res.preexisting_executions} executions, "
        f"{res.preexisting_deletions} deletions / partial cancellations"
    )
    lines.append(
        f"  executions of orders submitted in the file that filled exactly that order: "
        f"{res.executions_matched} / {res.executions_checked}"
    )
    if res.rows_compared:
        lines.append(
            f"  top {res.levels} levels equal to the order-book file: "
            f"{res.rows_equal} / {res.rows_compared} rows"
        )
    lines.append(f"  engine rejects: {res.rejects}")
    lines.append(
        f"  engine: {res.events} events in {res.engine_seconds:.3f} s "
        f"({res.events_per_s:,.0f} events/s)"
    )
    if res.mismatch_count:
        causes = ", ".join(f"{k}: {v}" for k, v in res.mismatch_causes.items())
        lines.append(
            f"  {res.mismatch_count} mismatches ({causes}); the first {len(res.mismatches)}:"
        )
        for mm in res.mismatches:
            msg = mm.get("message") or {}
            lines.append(
                f"    line {msg.get('line')} {msg.get('time')} {msg.get('type')} order "
                f"{msg.get('order_id')} size {msg.get('size')} price {msg.get('price')} "
                f"dir {msg.get('direction')}: {mm['cause']}"
            )
            for key in ("expected", "got", "order_status"):
                if key in mm:
                    lines.append(f"      {key}: {mm[key]}")
    else:
        lines.append("  no mismatches")
    return "\n".join(lines)


def run_lobster_cli(
    message_file: str, orderbook_file: str | None, levels: int, as_json: bool
) -> int:
    """``venue replay lobster``: print a summary (and the JSON line). Exit 0 whatever the
    replay found (it reports, it does not judge); 2 for a missing or malformed file."""
    import sys

    from marketdata.history.lobster import LobsterFormatError, read_messages, read_orderbook

    try:
        messages = read_messages(message_file)
        book = read_orderbook(orderbook_file) if orderbook_file else None
        if levels < 1:
            raise ValueError(f"--levels must be at least 1, not {levels}")
        res = replay_lobster(messages, book, levels=levels)
    except (OSError, LobsterFormatError, ValueError) as e:
        what = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.strerror else str(e)
        print(f"venue replay lobster: {what}", file=sys.stderr)
        return 2
    print(_summary(res, message_file, orderbook_file))
    if as_json:
        print(res.to_json())
    return 0
