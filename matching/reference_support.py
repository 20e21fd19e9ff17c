"""Data structures of the reference engine (matching/reference.py) and its invariant checks.

``Order`` is one order (resting, pending stop, or a taker being matched); ``Book`` holds one
instrument's parameters, status, book sides and stop queues; ``check_invariants`` asserts the
rulebook's section-8 invariants over the reference engine's structures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sortedcontainers import SortedDict

from matching.instruments import Instrument
from matching.records import (
    BUY,
    COMMAND_DTYPE,
    DAY,
    DUMP_ASKS,
    DUMP_BIDS,
    DUMP_BUY_STOPS,
    DUMP_DTYPE,
    DUMP_SELL_STOPS,
    EVENT_DTYPE,
    GTC,
    GTD,
    KIND_SPOT,
    LIMIT,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
)

# Where a live order sits. A taker being matched is NOWHERE until it rests.
NOWHERE = 0
IN_BOOK = 1
IN_STOPS = 2

RESTING_TIFS = (GTC, GTD, DAY)
STOP_TYPES = (STOP_MARKET, STOP_LIMIT)
VALUE_LIMIT = 2**62


@dataclass(slots=True, eq=False)  # eq=False: orders compare (and list.remove) by identity
class Order:
    order_id: int
    client_order_id: int
    account: int
    instrument: int
    side: int
    order_type: int  # a pending stop keeps its stop type; once triggered: LIMIT or MARKET
    tif: int
    flags: int
    stp: int
    stp_group: int
    price: int  # 0 for MARKET / STOP_MARKET
    trigger: int  # 0 for LIMIT / MARKET (also after a stop triggers)
    qty: int
    leaves: int
    visible: int  # displayed part of leaves; a pending stop shows its leaves
    display: int  # iceberg tranche, 0 for a fully displayed order
    expire_ns: int  # 0 unless GTD
    time: int  # seq of the command that gave the order its queue position
    where: int = NOWHERE

    @property
    def stp_key(self) -> int:
        return self.stp_group if self.stp_group != 0 else self.account


class Cmd(NamedTuple):
    """One command record as Python ints (fields in COMMAND_DTYPE order)."""

    seq: int
    ts_ns: int
    order_id: int
    client_order_id: int
    price_ticks: int
    qty_lots: int
    trigger_ticks: int
    display_lots: int
    expire_ns: int
    account: int
    instrument: int
    stp_group: int
    kind: int
    side: int
    order_type: int
    tif: int
    flags: int
    stp: int
    reason: int


assert Cmd._fields == COMMAND_DTYPE.names
EVENT_FIELDS: tuple[str, ...] = EVENT_DTYPE.names or ()
DUMP_FIELDS: tuple[str, ...] = DUMP_DTYPE.names or ()


class Book:
    """One instrument: its parameters, book sides, stop queues and status."""

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.id = inst.id
        self.is_spot = inst.kind_code == KIND_SPOT
        self.bids: Any = SortedDict()  # price -> [Order] FIFO; best = highest = last key
        self.asks: Any = SortedDict()  # price -> [Order] FIFO; best = lowest = first key
        self.buy_stops: Any = SortedDict()  # trigger -> [Order]; first to trigger = lowest
        self.sell_stops: Any = SortedDict()  # trigger -> [Order]; first to trigger = highest
        self.last_price = 0  # 0: no trade yet
        self.trade_count = 0
        self.halted = False
        self.ref_price = inst.ref_price_ticks
        self.pending_stops = 0

    def levels(self, side: int) -> Any:
        return self.bids if side == BUY else self.asks

    def stops(self, side: int) -> Any:
        return self.buy_stops if side == BUY else self.sell_stops

    def level_prices(self, side: int) -> list[int]:
        """Book level prices of one side, best first."""
        keys = list(self.levels(side).keys())
        return keys[::-1] if side == BUY else keys

    def stop_triggers(self, side: int) -> list[int]:
        """Stop queue triggers of one side, first to trigger first."""
        keys = list(self.stops(side).keys())
        return keys if side == BUY else keys[::-1]

    def best(self, side: int) -> int | None:
        """Best price of a book side, None when empty."""
        levels = self.levels(side)
        if not levels:
            return None
        return int(levels.peekitem(-1 if side == BUY else 0)[0])

    def level_totals(self, side: int, price: int) -> tuple[int, int]:
        """(visible total, order count) of a level; (0, 0) when it does not exist."""
        queue = self.levels(side).get(price)
        if not queue:
            return 0, 0
        return sum(o.visible for o in queue), len(queue)

    def band_reference(self) -> int:
        """Reference for the price band: last trade price, else the reference price."""
        return self.last_price if self.last_price > 0 else self.ref_price


def crosses(side: int, price: int, limit: int | None) -> bool:
    """Does a level at ``price`` cross a taker of ``side`` with ``limit`` (None: no limit)?"""
    if limit is None:
        return True
    return price <= limit if side == BUY else price >= limit


def walk(books: dict[int, Book]) -> Iterator[tuple[Book, int, int, Order]]:
    """Every live order in canonical priority order (rulebook s.8), as
    (book, dump side, level price or trigger, order)."""
    for iid in sorted(books):
        bk = books[iid]
        for dump_side, side in ((DUMP_BIDS, BUY), (DUMP_ASKS, SELL)):
            for price in bk.level_prices(side):
                for o in bk.levels(side)[price]:
                    yield bk, dump_side, price, o
        for dump_side, side in ((DUMP_BUY_STOPS, BUY), (DUMP_SELL_STOPS, SELL)):
            for trigger in bk.stop_triggers(side):
                for o in bk.stops(side)[trigger]:
                    yield bk, dump_side, trigger, o


def check_invariants(
    books: dict[int, Book],
    orders: dict[int, Order],
    by_cloid: dict[tuple[int, int], Order],
    expiry: Any,
) -> None:
    """Raise AssertionError naming the instrument / order of the first broken invariant."""
    seen: set[int] = set()
    for bk, dump_side, key, o in walk(books):
        who = f"instrument {bk.id} order {o.order_id}"
        in_book = dump_side in (DUMP_BIDS, DUMP_ASKS)
        side = BUY if dump_side in (DUMP_BIDS, DUMP_BUY_STOPS) else SELL
        assert o.order_id not in seen, f"{who}: found twice in the book"
        seen.add(o.order_id)
        assert orders.get(o.order_id) is o, f"{who}: not indexed by order id"
        assert o.instrument == bk.id and o.side == side, f"{who}: in the wrong book or side"
        assert 0 < o.visible <= o.leaves <= o.qty, f"{who}: not 0 < visible <= leaves <= qty"
        if o.display > 0:
            assert o.visible <= o.display, f"{who}: iceberg shows more than its display"
        if in_book:
            assert o.where == IN_BOOK and o.price == key, f"{who}: level price mismatch"
            assert o.order_type == LIMIT and o.tif in RESTING_TIFS, f"{who}: cannot rest"
            assert o.trigger == 0, f"{who}: resting limit with a trigger"
            if o.display == 0:
                assert o.visible == o.leaves, f"{who}: hidden lots without a display"
        else:
            assert o.where == IN_STOPS and o.trigger == key, f"{who}: stop queue mismatch"
            assert o.order_type in STOP_TYPES, f"{who}: non-stop in a stop queue"
            assert o.visible == o.leaves == o.qty, f"{who}: pending stop partly filled"
        if o.client_order_id != 0:
            ref = by_cloid.get((o.account, o.client_order_id))
            assert ref is o, f"{who}: client order id index mismatch"
        if o.tif == GTD:
            assert (o.expire_ns, o.order_id) in expiry, f"{who}: missing expiry entry"
        else:
            assert o.expire_ns == 0, f"{who}: expire_ns on a non-GTD order"
    for bk in books.values():
        for name, levels in (
            ("bids", bk.bids),
            ("asks", bk.asks),
            ("buy stops", bk.buy_stops),
            ("sell stops", bk.sell_stops),
        ):
            for key, queue in levels.items():
                assert queue, f"instrument {bk.id}: empty {name} level {key}"
                times = [o.time for o in queue]
                assert times == sorted(times), f"instrument {bk.id}: {name} {key} not FIFO"
        stops = sum(len(q) for q in bk.buy_stops.values())
        stops += sum(len(q) for q in bk.sell_stops.values())
        assert stops == bk.pending_stops, f"instrument {bk.id}: pending_stops count"
        bid, ask = bk.best(BUY), bk.best(SELL)
        assert bid is None or ask is None or bid < ask, f"instrument {bk.id}: crossed"
    orphans = set(orders) - seen
    assert not orphans, f"live orders in no level or stop queue: {sorted(orphans)}"
    for (account, cloid), o in by_cloid.items():
        who = f"client order id ({account}, {cloid})"
        assert orders.get(o.order_id) is o, f"{who}: order {o.order_id} not live"
        assert (o.account, o.client_order_id) == (account, cloid), f"{who}: wrong order"
    gtd = {(o.expire_ns, o.order_id) for o in orders.values() if o.tif == GTD}
    assert len(expiry) == len(gtd) and set(expiry) == gtd, "expiry index out of sync"
