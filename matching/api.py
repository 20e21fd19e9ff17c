"""The Python API shared by the numba ``Engine`` and the ``ReferenceEngine``.

Both engines consume batches of COMMAND_DTYPE records and produce EVENT_DTYPE records
(``process``). This base class adds the per-command convenience methods (``submit``, ``cancel``,
``amend``, ...), which build one command, stamp it with the next sequence number, and run it
through ``process``: the same path a batch takes, so convenience and batch can never disagree.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np
import numpy.lib.recfunctions as rfn

from matching import reasons
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CLOCK,
    CMD_END_OF_DAY,
    CMD_HALT,
    CMD_MASS_CANCEL,
    CMD_NAMES,
    CMD_NEW,
    CMD_RESUME,
    CMD_SET_POSITION,
    CMD_SET_REF_PRICE,
    COMMAND_DTYPE,
    EV_NAMES,
    FLAG_POST_ONLY,
    FLAG_REDUCE_ONLY,
    GTC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
)

SIDES = {"buy": BUY, "sell": SELL, BUY: BUY, SELL: SELL}


class Level(NamedTuple):
    price_ticks: int
    qty_lots: int  # visible total
    orders: int


class BookView(NamedTuple):
    """Aggregated visible depth: bids best (highest) first, asks best (lowest) first."""

    instrument: int
    bids: list[Level]
    asks: list[Level]

    def best_bid(self) -> Level | None:
        return self.bids[0] if self.bids else None

    def best_ask(self) -> Level | None:
        return self.asks[0] if self.asks else None


def packed_bytes(records: np.ndarray) -> bytes:
    """The records' field values without alignment padding (whose bytes are undefined), so
    equal values give equal bytes. O(n)."""
    return bytes(rfn.repack_fields(np.ascontiguousarray(records)).tobytes())


FIELDS: tuple[str, ...] = COMMAND_DTYPE.names or ()
FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}
# (min, max) a value may take in each command field: larger ones would be truncated
FIELD_BOUNDS = [
    (int(np.iinfo(COMMAND_DTYPE[n]).min), int(np.iinfo(COMMAND_DTYPE[n]).max)) for n in FIELDS
]
_ZERO = dict.fromkeys(FIELDS, 0)
_N = len(FIELDS)
# field positions, as constants: the convenience methods run per command
_TS, _OID, _CLOID, _PRICE, _QTY = (
    FIELD_INDEX[n] for n in ("ts_ns", "order_id", "client_order_id", "price_ticks", "qty_lots")
)
_ACCOUNT, _KIND = FIELD_INDEX["account"], FIELD_INDEX["kind"]


def check_fields(vals: list[int]) -> None:
    """Raise ValueError naming the first value (COMMAND_DTYPE order) that does not fit its
    field: a record would silently truncate it. O(fields)."""
    for i, v in enumerate(vals):
        lo, hi = FIELD_BOUNDS[i]
        if not lo <= v <= hi:
            raise ValueError(f"{FIELDS[i]}={v} does not fit the command record ({lo}..{hi})")


def make_command(kind: int, **fields: Any) -> np.ndarray:
    """One COMMAND_DTYPE record (as a length-1 array) with the given fields. O(fields).
    Unknown field names raise TypeError."""
    unknown = set(fields) - _ZERO.keys()
    if unknown:
        raise TypeError(f"unknown command fields: {sorted(unknown)}")
    values = {**_ZERO, **fields, "kind": kind}
    return np.array([tuple(values[f] for f in FIELDS)], dtype=COMMAND_DTYPE)


class EngineBase(ABC):
    """Shared convenience API. Subclasses implement ``process`` and the state accessors."""

    def __init__(self) -> None:
        self.next_seq = 1
        self.now_ns = 0

    # --- what a subclass provides ----------------------------------------------------------
    @abstractmethod
    def process(self, commands: np.ndarray) -> np.ndarray:
        """Run a batch of commands in order; return the events (a new array owned by the
        caller). Commands whose ``seq`` is 0 are stamped with the engine's next numbers."""

    @abstractmethod
    def book(self, instrument: int, depth: int = 10) -> BookView:
        """Visible depth of one instrument, ``depth`` levels per side."""

    @abstractmethod
    def dump(self) -> np.ndarray:
        """Every live order in priority order, as DUMP_DTYPE records (docs/rulebook.md s.8)."""

    @abstractmethod
    def status_table(self) -> np.ndarray:
        """int64 array (n_instruments, 3): last trade price, trade count, halted."""

    @abstractmethod
    def check_invariants(self) -> None:
        """Raise AssertionError naming the first broken invariant."""

    @abstractmethod
    def position(self, account: int, instrument: int) -> int:
        """Net position in lots that the engine tracks for reduce-only (0 if none)."""

    # --- derived ---------------------------------------------------------------------------
    def state_hash(self) -> str:
        """BLAKE2b-128 of the canonical dump and instrument status: equal hashes, equal state."""
        h = hashlib.blake2b(digest_size=16)
        h.update(packed_bytes(self.dump()))
        h.update(np.ascontiguousarray(self.status_table(), dtype=np.int64).tobytes())
        return h.hexdigest()

    def _stamp(self, commands: np.ndarray) -> None:
        """Stamp unstamped commands (seq == 0) in place, in order: the next sequence number,
        and the engine's current time where ts_ns is 0. Time then advances to the largest
        ts seen and the sequence past the largest seq. The numba engine does the same inside
        its kernel (without touching the caller's array). O(n)."""
        seqs = commands["seq"]
        tss = commands["ts_ns"]
        for i in range(len(commands)):
            seq = int(seqs[i])
            if seq == 0:
                seq = self.next_seq
                seqs[i] = seq
                if tss[i] == 0:
                    tss[i] = self.now_ns
            self.next_seq = max(self.next_seq, seq + 1)
            self.now_ns = max(self.now_ns, int(tss[i]))

    def _one(self, kind: int, ts_ns: int | None, **fields: Any) -> np.ndarray:
        """One command from keyword fields (see ``_send``)."""
        vals = [0] * _N
        vals[_KIND] = kind
        vals[_TS] = ts_ns or 0
        for name, v in fields.items():
            i = FIELD_INDEX.get(name)
            if i is None:
                raise TypeError(f"unknown command field {name!r}")
            vals[i] = v
        return self._send(vals)

    def _send(self, vals: list[int]) -> np.ndarray:
        """Run one command given as its field values in COMMAND_DTYPE order; every
        convenience method ends here. Values that do not fit their field are refused with
        ValueError (never truncated). The numba engine overrides this with a kernel path."""
        check_fields(vals)
        return self.process(np.array([tuple(vals)], dtype=COMMAND_DTYPE))

    # --- per-command convenience -----------------------------------------------------------
    def submit(
        self,
        instrument: int,
        account: int,
        side: int | str,
        qty_lots: int,
        price_ticks: int = 0,
        *,
        order_type: int = LIMIT,
        tif: int = GTC,
        order_id: int = 0,
        client_order_id: int = 0,
        trigger_ticks: int = 0,
        display_lots: int = 0,
        expire_ns: int = 0,
        post_only: bool = False,
        reduce_only: bool = False,
        stp: int = 0,
        stp_group: int = 0,
        ts_ns: int | None = None,
    ) -> np.ndarray:
        """Submit one order; returns its events (ACCEPTED or REJECTED first). O(fills + log L)."""
        if isinstance(side, str):
            side = SIDES.get(side, 0)
        flags = (FLAG_POST_ONLY if post_only else 0) | (FLAG_REDUCE_ONLY if reduce_only else 0)
        # positional, in COMMAND_DTYPE order: the per-order cost from Python is mostly here
        return self._send(
            [
                0, ts_ns or 0, order_id, client_order_id, price_ticks, qty_lots, trigger_ticks,
                display_lots, expire_ns, account, instrument, stp_group, CMD_NEW, side,
                order_type, tif, flags, stp, 0,
            ]
        )  # fmt: skip

    def limit(
        self, instrument: int, account: int, side: int | str, qty: int, price: int, **kw: Any
    ) -> np.ndarray:
        """Shorthand for a GTC limit order."""
        return self.submit(instrument, account, side, qty, price, **kw)

    def market(
        self, instrument: int, account: int, side: int | str, qty: int, **kw: Any
    ) -> np.ndarray:
        """Shorthand for a market order (IOC unless tif says FOK)."""
        kw.setdefault("tif", 2)
        return self.submit(instrument, account, side, qty, 0, order_type=MARKET, **kw)

    def stop(
        self,
        instrument: int,
        account: int,
        side: int | str,
        qty: int,
        trigger: int,
        price: int = 0,
        **kw: Any,
    ) -> np.ndarray:
        """Stop-market (price 0) or stop-limit order."""
        ot = STOP_LIMIT if price else STOP_MARKET
        return self.submit(
            instrument, account, side, qty, price, order_type=ot, trigger_ticks=trigger, **kw
        )

    def cancel(
        self, account: int, order_id: int = 0, *, client_order_id: int = 0, ts_ns: int | None = None
    ) -> np.ndarray:
        """Cancel one order by venue id or (when order_id is 0) by client order id. O(1)."""
        vals = [0] * _N
        vals[_TS] = ts_ns or 0
        vals[_KIND] = CMD_CANCEL
        vals[_ACCOUNT] = account
        vals[_OID] = order_id
        vals[_CLOID] = client_order_id
        return self._send(vals)

    def amend(
        self,
        account: int,
        order_id: int = 0,
        *,
        price_ticks: int = 0,
        qty_lots: int = 0,
        client_order_id: int = 0,
        ts_ns: int | None = None,
    ) -> np.ndarray:
        """Change price and/or total quantity (0 = unchanged); see rulebook s.4 for priority."""
        vals = [0] * _N
        vals[_TS] = ts_ns or 0
        vals[_KIND] = CMD_AMEND
        vals[_ACCOUNT] = account
        vals[_OID] = order_id
        vals[_CLOID] = client_order_id
        vals[_PRICE] = price_ticks
        vals[_QTY] = qty_lots
        return self._send(vals)

    def mass_cancel(
        self,
        account: int = 0,
        instrument: int = -1,
        side: int = 0,
        *,
        reason: int = 0,
        ts_ns: int | None = None,
    ) -> np.ndarray:
        """Cancel every live order matching the filters (0 / -1 / 0 = all). O(orders scanned)."""
        return self._one(
            CMD_MASS_CANCEL, ts_ns, account=account, instrument=instrument, side=side, reason=reason
        )

    def halt(self, instrument: int, ts_ns: int | None = None) -> np.ndarray:
        return self._one(CMD_HALT, ts_ns, instrument=instrument)

    def resume(self, instrument: int, ts_ns: int | None = None) -> np.ndarray:
        return self._one(CMD_RESUME, ts_ns, instrument=instrument)

    def end_of_day(self, instrument: int = -1, ts_ns: int | None = None) -> np.ndarray:
        """Session end: cancel DAY orders of one instrument or all (-1)."""
        return self._one(CMD_END_OF_DAY, ts_ns, instrument=instrument)

    def advance_time(self, ts_ns: int) -> np.ndarray:
        """Move engine time forward; expires GTD orders whose time has come."""
        return self._one(CMD_CLOCK, ts_ns)

    def set_position(
        self, account: int, instrument: int, qty_lots: int, ts_ns: int | None = None
    ) -> np.ndarray:
        return self._one(
            CMD_SET_POSITION, ts_ns, account=account, instrument=instrument, qty_lots=qty_lots
        )

    def set_ref_price(
        self, instrument: int, price_ticks: int, ts_ns: int | None = None
    ) -> np.ndarray:
        return self._one(CMD_SET_REF_PRICE, ts_ns, instrument=instrument, price_ticks=price_ticks)


def describe(events: np.ndarray) -> list[dict[str, Any]]:
    """Events as readable dicts (kind and reason names, zero fields dropped). For humans/tests."""
    out = []
    for e in events:
        d: dict[str, Any] = {"kind": EV_NAMES.get(int(e["kind"]), int(e["kind"]))}
        for name in e.dtype.names or ():
            if name in ("kind", "seq", "ts_ns"):
                continue
            v = int(e[name])
            if v == 0:
                continue
            if name == "reason":
                d[name] = reasons.name(v)
            elif name == "cmd_kind":
                d[name] = CMD_NAMES.get(v, v)
            else:
                d[name] = v
        out.append(d)
    return out
