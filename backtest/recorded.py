"""Backtests on a market-data recording (``venue record``): its order-by-order (L3) channel as
an L3 history, through the same replay driver as LOBSTER files.

The recording holds, per instrument, the L3 snapshot the recorder recovered from (the orders
resting when it joined) and the L3 increments after it. Each becomes LOBSTER-style messages in
the instrument's ticks and lots:

| L3 record | message |
|---|---|
| snapshot order | submission (type 1), in priority order, at the snapshot's time |
| add | submission (1) |
| execute | execution of a visible order (4): the driver sends an IOC of the historical aggressor |
| reduce | partial cancellation (2) |
| delete | deletion (3) |
| replace (iceberg refill) | deletion (3), then submission (1) of the new tranche, fresh id |

Only what the public feed shows is replayed: an iceberg is its displayed tranches, and the
recorded instrument is replayed as a spot instrument (the feed carries no contract terms) whose
base asset is the symbol's first part.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import numpy as np

from backtest.data import History, messages_history
from marketdata import wire as W
from marketdata.history.records import LOBSTER_MESSAGE_DTYPE
from marketdata.record import KIND_PACKET, KIND_SNAPSHOT, Recording
from matching.instruments import Instrument

REPLACE_ID_BASE = 5 * 10**12  # fresh ids of refilled iceberg tranches
_TYPE = {W.L3_ADD: 1, W.L3_EXECUTE: 4, W.L3_REDUCE: 2, W.L3_DELETE: 3}


def recorded_history(path: str | os.PathLike[str], symbol: str, quote: str = "USD") -> History:
    """The recording at ``path``'s L3 channel of ``symbol`` as an L3 history. ValueError if
    the recording has no such instrument, or no L3 snapshot of it (record with the l3
    channel). O(recording)."""
    rec = Recording(Path(path))
    info = next((i for i in rec.infos if i.symbol == symbol), None)
    if info is None:
        known = ", ".join(sorted(i.symbol for i in rec.infos))
        raise ValueError(f"{path}: no instrument {symbol!r} (recorded: {known})")
    snap: np.ndarray | None = None
    snap_seq, snap_ts = 0, 0
    parts: list[np.ndarray] = []
    for recv_ns, kind, frames in rec.entries():
        if kind == KIND_SNAPSHOT:
            hdr = W.SNAP_HDR_DECODER.decode(frames[0])
            mine = hdr.channel == W.CH_L3 and hdr.instrument == info.id and not hdr.error
            if mine and snap is None:  # the first one: everything after it is incremental
                snap = W.decode_body(W.CH_L3, frames[1]).copy()
                snap_seq, snap_ts = hdr.seq, recv_ns
        elif kind == KIND_PACKET and snap is not None:
            h = W.HEADER_DECODER.decode(frames[1])
            if h.channel == W.CH_L3 and h.instrument == info.id and h.count:
                parts.append(W.decode_body(W.CH_L3, frames[2]))
    if snap is None:
        raise ValueError(f"{path}: no L3 snapshot of {symbol} (record the l3 channel)")
    incr = np.concatenate(parts) if parts else np.zeros(0, dtype=W.L3_DTYPE)
    # increments after the snapshot, each sequence number once (a resync may repeat some)
    incr = incr[incr["seq"] > snap_seq]
    _, first = np.unique(incr["seq"], return_index=True)
    incr = incr[np.sort(first)]
    messages = _messages(snap, snap_ts, incr)
    if not len(messages):
        raise ValueError(f"{path}: nothing recorded for {symbol}")
    base = symbol.split("-")[0] or symbol
    inst = Instrument(
        id=0, symbol=symbol, kind="spot", tick_size=Decimal(info.tick_size),
        lot_size=Decimal(info.lot_size), base_asset=base, quote_asset=quote,
    )  # fmt: skip
    return messages_history(messages, None, inst, f"{path}:{symbol}")


def _messages(snap: np.ndarray, snap_ts: int, incr: np.ndarray) -> np.ndarray:
    """LOBSTER_MESSAGE_DTYPE rows for the snapshot's orders then every increment."""
    rows: list[tuple[int, int, int, int, int, int]] = []  # time, type, id, size, price, dir
    ids: dict[int, int] = {}  # venue order id -> id in the messages (changes on a refill)
    fresh = REPLACE_ID_BASE

    def direction(side: int) -> int:
        return 1 if side == W.BID else -1

    for r in snap.tolist():
        rec = dict(zip(snap.dtype.names or (), r, strict=True))
        ids[rec["order_id"]] = rec["order_id"]
        rows.append((snap_ts, 1, rec["order_id"], rec["size_lots"], rec["price_ticks"],
                     direction(rec["side"])))  # fmt: skip
    names = incr.dtype.names or ()
    for r in incr.tolist():
        rec = dict(zip(names, r, strict=True))
        oid, action, ts = int(rec["order_id"]), int(rec["action"]), int(rec["ts_ns"])
        d = direction(rec["side"])
        if action == W.L3_ADD:
            ids[oid] = oid
            rows.append((ts, 1, oid, rec["size_lots"], rec["price_ticks"], d))
        elif action == W.L3_REPLACE:
            old = ids.get(oid, oid)
            rows.append((ts, 3, old, 0, rec["price_ticks"], d))
            ids[oid] = fresh
            rows.append((ts, 1, fresh, rec["size_lots"], rec["price_ticks"], d))
            fresh += 1
        elif action in _TYPE:
            mapped = ids.get(oid, oid)
            rows.append((ts, _TYPE[action], mapped, rec["size_lots"], rec["price_ticks"], d))
    out = np.zeros(len(rows), dtype=LOBSTER_MESSAGE_DTYPE)
    if rows:
        cols = np.array(rows, dtype=np.int64)
        for k, name in enumerate(("time_ns", "type", "order_id", "size", "price", "direction")):
            out[name] = cols[:, k]
    return out
