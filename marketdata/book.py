"""BookBuilder: the subscriber's local books, built from feed records.

L2 books of every instrument live in one numba level arena (``levels_nb``): a packet's body is
applied by one kernel call (``apply_l2_nb``), so a subscriber keeps up with millions of level
updates a second without a Python object per update. L3 (order-by-order) books are plain
Python dicts, insertion-ordered per price level, so that FIFO order is the dict order; they
are for consumers that need queue positions, at tens of thousands of updates a second.

The BookBuilder applies what it is given; sequencing, gap detection and snapshot recovery are
the FeedClient's (``marketdata/client.py``), which calls ``apply_*`` only with contiguous data.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from marketdata import wire as W
from marketdata.levels_nb import apply_l2_nb, grow_arena, levels_out_nb, new_arena


def arena_levels(
    arena: tuple[np.ndarray, ...], ii: int, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """(bids, asks) of instrument slot ``ii`` of a level arena (``levels_nb``) as (price,
    qty, orders) rows, best first; ``depth`` 0: all. Shared by the subscriber's BookBuilder
    and the publisher's own view. O(levels)."""
    keys, qty, cnt, start, _cap, n, _top = arena
    out = []
    for side in (0, 1):
        b = 2 * ii + side
        rows = np.zeros((max(int(n[b]), 1), 3), dtype=np.int64)
        k = levels_out_nb(keys, qty, cnt, start, n, b, 1 - 2 * side, depth, rows)
        out.append(rows[:k])
    return out[0], out[1]


Side = int
L3Level = dict[int, int]  # order id -> displayed lots, in queue order


class BookBuilder:
    """Local L2 (and optionally L3) books of ``instruments`` (``InstrumentInfo`` list or
    (id, symbol) pairs); books are keyed by venue instrument id."""

    def __init__(self, instruments: Iterable[W.InstrumentInfo | tuple[int, str]], l3: bool = True):
        infos = [
            i if isinstance(i, W.InstrumentInfo) else W.InstrumentInfo(i[0], i[1], "", "")
            for i in instruments
        ]
        if not infos:
            raise ValueError("a BookBuilder needs at least one instrument")
        self.infos = {i.id: i for i in infos}
        self.index = {i.id: k for k, i in enumerate(infos)}
        self.by_symbol = {i.symbol: i.id for i in infos}
        self.arena = new_arena(2 * len(infos))
        self.keep_l3 = l3
        self.l3_orders: list[dict[int, tuple[Side, int]]] = [{} for _ in infos]
        self.l3_levels: list[dict[tuple[Side, int], L3Level]] = [{} for _ in infos]
        self.updates = 0
        self.l3_unknown = 0  # L3 updates naming an order the book did not hold

    def _ii(self, instrument: int) -> int:
        try:
            return self.index[instrument]
        except KeyError:
            raise KeyError(f"unknown instrument {instrument}") from None

    # --- L2 -------------------------------------------------------------------------------
    def apply_l2(self, instrument: int, recs: np.ndarray) -> None:
        """Apply L2 records (absolute level totals) in order. O(n log levels) in numba."""
        if recs.dtype is not W.L2_DTYPE and recs.dtype != W.L2_DTYPE:
            raise TypeError(f"L2 records expected, got {recs.dtype}")
        b = 2 * self._ii(instrument)
        done = 0
        while True:
            keys, qty, cnt, start, cap, n, top = self.arena
            done = apply_l2_nb(keys, qty, cnt, start, cap, n, top, b, recs, done)
            if done >= len(recs):
                break
            self.arena = grow_arena(self.arena)
        self.updates += len(recs)

    def clear_l2(self, instrument: int) -> None:
        """Empty one instrument's L2 book (before a snapshot). O(1)."""
        ii = self._ii(instrument)
        self.arena[5][2 * ii : 2 * ii + 2] = 0

    def load_l2(self, instrument: int, recs: np.ndarray) -> None:
        """Replace an instrument's L2 book by a snapshot's records. O(levels)."""
        self.clear_l2(instrument)
        self.apply_l2(instrument, recs)

    def book(self, instrument: int, depth: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(bids, asks): (price_ticks, qty_lots, orders) rows, best first; depth 0 = full.
        O(rows)."""
        ii = self._ii(instrument)
        return arena_levels(self.arena, ii, depth)

    def bbo(self, instrument: int) -> tuple[tuple[int, int, int] | None, ...]:
        """((bid price, qty, orders) or None, (ask ...) or None). O(1)."""
        bids, asks = self.book(instrument, 1)
        return (
            tuple(int(v) for v in bids[0]) if len(bids) else None,  # type: ignore[return-value]
            tuple(int(v) for v in asks[0]) if len(asks) else None,
        )

    # --- L3 -------------------------------------------------------------------------------
    def clear_l3(self, instrument: int) -> None:
        ii = self._ii(instrument)
        self.l3_orders[ii] = {}
        self.l3_levels[ii] = {}

    def load_l3(self, instrument: int, recs: np.ndarray) -> None:
        """Replace an instrument's L3 book by a snapshot's L3_ADD records (priority order)."""
        self.clear_l3(instrument)
        self.apply_l3(instrument, recs)

    def apply_l3(self, instrument: int, recs: np.ndarray) -> None:
        """Apply L3 records in order. O(n) Python. KeyError-free: an update naming an order
        the book does not hold is counted in ``l3_unknown`` (it means a missed packet)."""
        if recs.dtype is not W.L3_DTYPE and recs.dtype != W.L3_DTYPE:
            raise TypeError(f"L3 records expected, got {recs.dtype}")
        ii = self._ii(instrument)
        orders = self.l3_orders[ii]
        levels = self.l3_levels[ii]
        oids = recs["order_id"].tolist()
        acts = recs["action"].tolist()
        rows = zip(
            oids, recs["price_ticks"].tolist(), recs["size_lots"].tolist(),
            recs["remaining_lots"].tolist(), recs["side"].tolist(), acts, strict=True,
        )  # fmt: skip
        last = len(oids) - 1
        for k, (oid, price, size, remaining, side, action) in enumerate(rows):
            if action == W.L3_ADD:
                orders[oid] = (side, price)
                levels.setdefault((side, price), {})[oid] = size
                continue
            where = orders.get(oid)
            if where is None:
                self.l3_unknown += 1
                continue
            lvl = levels[where]
            if action == W.L3_REPLACE:  # iceberg refill: to the back of its level
                lvl.pop(oid, None)
                lvl[oid] = size
            elif action == W.L3_DELETE or (action == W.L3_EXECUTE and remaining == 0):
                del lvl[oid]
                # an execute to zero followed by a REPLACE of the same order is a refill
                if not (k < last and acts[k + 1] == W.L3_REPLACE and oids[k + 1] == oid):
                    del orders[oid]
                    if not lvl:
                        del levels[where]
            else:  # execute / reduce in place: keeps its queue position
                lvl[oid] = remaining
        self.updates += len(recs)

    def l3_book(self, instrument: int) -> list[tuple[int, int, int, int]]:
        """Resting orders as (side, price, order id, displayed lots) in priority order: bids
        best first then asks best first, FIFO within a level. O(orders log levels)."""
        ii = self._ii(instrument)
        out: list[tuple[int, int, int, int]] = []
        levels = self.l3_levels[ii]
        bids = sorted((p for s, p in levels if s == W.BID), reverse=True)
        asks = sorted(p for s, p in levels if s == W.ASK)
        for side, prices in ((W.BID, bids), (W.ASK, asks)):
            for p in prices:
                out.extend((side, p, oid, size) for oid, size in levels[(side, p)].items())
        return out
