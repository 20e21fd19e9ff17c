"""L2 queue fills: the walk of depth changes and trades through the queue model, and the
execution of the fills it decides in the engine (``Backtest`` hands both to ``L2Fills``).
See ``backtest.queue`` for the models and docs/backtest.md, "Queue models (L2)"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from backtest.data import L2_STP_GROUP, l2_account
from backtest.queue import QueueState
from marketdata.history.replay import AGGRESSOR_ACCOUNT
from matching.records import (
    BUY,
    CMD_CANCEL,
    CMD_NEW,
    COMMAND_DTYPE,
    GTC,
    IOC,
    LIMIT,
    SELL,
    STP_CANCEL_MAKER,
)

if TYPE_CHECKING:
    from backtest.runner import Backtest

INF = 2**62


class L2Fills:
    """Per-run L2 state: columns as lists, the synthetic order of each level over time."""

    def __init__(self, bt: Backtest) -> None:
        """L2 columns as Python lists and per-packet offsets: the queue walk reads a few
        entries per packet, where numpy's per-call cost would dominate. O(history)."""
        self.bt = bt
        h = bt.history
        P = h.packets
        self.lvl_ptr = np.searchsorted(h.lvl_pkt, np.arange(P + 1)).tolist()
        self.tr_ptr = np.searchsorted(h.trade_pkt, np.arange(P + 1)).tolist()
        self.lvl_l = list(zip(h.lvl_side.tolist(), h.lvl_price.tolist(), h.lvl_prev.tolist(),
                              h.lvl_new.tolist(), strict=True))  # fmt: skip
        self.tr_l = list(zip(h.trade_price.tolist(), h.trade_qty.tolist(),
                             h.trade_side.tolist(), strict=True))  # fmt: skip
        # the synthetic order of a level at any point: NEW commands sorted by (side, price,
        # command index), searched by key (side << 40 | price) and then by index
        new = np.flatnonzero(h.cmds["kind"] == CMD_NEW)
        key = (h.cmds["side"][new].astype(np.int64) << 40) | h.cmds["price_ticks"][new]
        order = np.lexsort((new, key))
        self.syn_key, self.syn_idx = key[order], new[order]
        self.syn_id = h.cmds["order_id"][new][order]

    def synthetic_id(self, side: int, price: int, c_now: int) -> int:
        """Id of the synthetic order of level (side, price) before command ``c_now``."""
        k = (side << 40) | price
        lo = int(np.searchsorted(self.syn_key, k, "left"))
        hi = int(np.searchsorted(self.syn_key, k, "right"))
        j = lo + int(np.searchsorted(self.syn_idx[lo:hi], c_now, "left")) - 1
        return int(self.syn_id[j]) if j >= lo else 0

    def walk(self, p: int, e: int) -> tuple[int, list[tuple[QueueState, int]]]:
        """Walk the depth changes and trades of packets [p, e) that touch the strategy's
        resting orders through the queue model, up to the first trade that fills one of them.
        Returns (the end of the packets to run first, the fills to execute after them)."""
        lvl_ptr, tr_ptr, lvl_l, tr_l = self.lvl_ptr, self.tr_ptr, self.lvl_l, self.tr_l
        bt = self.bt
        resting = bt.resting
        prices = {(qs.side, qs.price_ticks) for qs in resting.values()}
        bids = [qs.price_ticks for qs in resting.values() if qs.side == BUY]
        asks = [qs.price_ticks for qs in resting.values() if qs.side == SELL]
        max_bid = max(bids) if bids else -1
        min_ask = min(asks) if asks else INF
        for k in range(p, e):
            for i in range(lvl_ptr[k], lvl_ptr[k + 1]):
                side, px, prev, new = lvl_l[i]
                if (side, px) in prices:
                    for qs in resting.values():
                        if qs.side == side and qs.price_ticks == px:
                            bt.queue.on_depth(qs, prev, new)
            for i in range(tr_ptr[k], tr_ptr[k + 1]):
                px, qty, agg = tr_l[i]
                if not ((agg == SELL and px <= max_bid) or (agg == BUY and px >= min_ask)):
                    continue
                fills: list[tuple[QueueState, int]] = []
                for qs in sorted(resting.values(), key=_priority):
                    if agg == SELL and qs.side == BUY and qs.price_ticks >= px:
                        through = qs.price_ticks > px
                    elif agg == BUY and qs.side == SELL and qs.price_ticks <= px:
                        through = qs.price_ticks < px
                    else:
                        continue
                    got = qs.leaves_lots if through else bt.queue.on_trade(qs, qty)
                    if got > 0:
                        fills.append((qs, got))
                if fills:
                    return k + 1, fills
        return e, []

    def execute(self, fills: list[tuple[QueueState, int]], ts: int, c_now: int) -> None:
        """Fill the strategy's resting orders for the given lots at their prices: the
        historical orders ahead of them on their side (found through the mirror and the
        command stream, before command ``c_now``) are lifted out of the way, an IOC of the
        historical aggressor account takes exactly the strategy's lots, and the lifted
        orders go back. The engine's events then settle the fills as usual."""
        bt = self.bt
        rows: list[tuple[int, ...]] = []
        lifted: set[tuple[int, int]] = set()
        for qs, want in fills:
            # the venue may have filled some of it meanwhile (the book crossing its price)
            live = bt.resting.get(qs.order_id)
            qty = min(want, live.leaves_lots) if live is not None else 0
            if qty <= 0:
                continue
            s = 0 if qs.side == BUY else 1
            qtys = bt.book[s]
            best = int(bt.mstate[s])
            stop = qs.price_ticks - bt.lo
            ahead: list[tuple[int, int, int]] = []  # (id, price, lots) of synthetic orders
            i = best
            while i >= 0 and ((s == 0 and i >= stop) or (s == 1 and i <= stop)):
                q = int(qtys[i])
                px = bt.lo + i
                if q > 0 and (qs.side, px) not in lifted:
                    own = sum(o.leaves_lots for o in bt.resting.values()
                              if o.side == qs.side and o.price_ticks == px)  # fmt: skip
                    oid = self.synthetic_id(qs.side, px, c_now) if q > own else 0
                    if oid:
                        ahead.append((oid, px, q - own))
                        lifted.add((qs.side, px))
                i += -1 if s == 0 else 1
            for oid, _px, _q in ahead:
                rows.append((CMD_CANCEL, 0, 0, 0, oid, l2_account(oid), 0))
            opp = SELL if qs.side == BUY else BUY
            rows.append((CMD_NEW, opp, qs.price_ticks, qty, 0, AGGRESSOR_ACCOUNT, IOC))
            for oid, px, q in ahead:
                rows.append((CMD_NEW, qs.side, px, q, oid, l2_account(oid), GTC))
            bt.res.counters["queue_fills"] += 1
        if not rows:
            return
        cmds = np.zeros(len(rows), dtype=COMMAND_DTYPE)
        a = np.array(rows, dtype=np.int64)
        cmds["kind"], cmds["side"], cmds["price_ticks"] = a[:, 0], a[:, 1], a[:, 2]
        cmds["qty_lots"], cmds["order_id"], cmds["account"], cmds["tif"] = (
            a[:, 3],
            a[:, 4],
            a[:, 5],
            a[:, 6],
        )
        new = cmds["kind"] == CMD_NEW
        cmds["order_type"] = np.where(new, LIMIT, 0)
        synthetic = new & (cmds["account"] != AGGRESSOR_ACCOUNT)
        cmds["stp"] = np.where(synthetic, STP_CANCEL_MAKER, 0)
        cmds["stp_group"] = np.where(synthetic, L2_STP_GROUP, 0)
        cmds["instrument"] = bt.history.instrument.id
        cmds["ts_ns"] = ts
        rec = np.full(len(cmds), -1, dtype=np.int64)
        n, mine_n, _f, first = bt._slow(cmds, rec)
        if mine_n:
            bt._mine(n, first)


def _priority(qs: QueueState) -> tuple[int, int]:
    return (-qs.price_ticks if qs.side == BUY else qs.price_ticks, qs.order_id)
