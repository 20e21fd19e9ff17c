"""Message layouts of the market-data feed (docs/marketdata.md).

A packet is one ZeroMQ multipart message ``[topic, header, body]``:

- ``topic``: ``b"<channel>.<symbol>"`` (``l2.BTC-USD``), the XPUB/SUB prefix filter;
- ``header``: a msgspec ``PacketHeader`` (msgpack array): feed session id, global packet
  sequence, channel, instrument, first and last per-channel sequence, record count, send time;
- ``body``: ``count`` little-endian fixed-size records of the channel's dtype below (raw numpy
  bytes, ``np.frombuffer`` on the receiving side: no per-update decoding in Python).

Every record starts with its per-(channel, instrument) sequence number ``seq``; within a packet
they run ``first_seq .. last_seq`` without holes. Numbers are integer ticks, lots and ns.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

WIRE_VERSION = 1

# --- channels ------------------------------------------------------------------------------
CH_TRADES = 0
CH_L2 = 1
CH_BBO = 2
CH_L3 = 3
CH_OHLCV_1S = 4
CH_OHLCV_1M = 5
CH_STATUS = 6
N_CHANNELS = 7

CHANNEL_NAMES = ("trades", "l2", "bbo", "l3", "ohlcv.1s", "ohlcv.1m", "status")
CHANNEL_IDS = {name: i for i, name in enumerate(CHANNEL_NAMES)}

# --- L2 actions ----------------------------------------------------------------------------
L2_NEW = 1  # a level appeared
L2_CHANGE = 2  # its visible total or order count changed
L2_DELETE = 3  # it emptied (qty_lots = orders = 0)

# --- L3 actions ----------------------------------------------------------------------------
L3_ADD = 1  # order rests at the back of its level: size = displayed lots
L3_EXECUTE = 2  # resting order traded: size = lots executed, remaining = displayed after
L3_REDUCE = 3  # displayed size reduced in place (amend down, STP decrement): keeps priority
L3_DELETE = 4  # order left the book (cancel, expiry, fully filled after an execute is implied
#                only when remaining = 0 on the execute, which the client also treats as gone)
L3_REPLACE = 5  # iceberg refill: new displayed size, moved to the back of its level

# --- status kinds --------------------------------------------------------------------------
ST_HALTED = 1
ST_RESUMED = 2
ST_REF_PRICE = 3
ST_MARK = 4  # price = mark, value = index price
ST_FUNDING = 5  # price = mark, value = funding rate in ppm
ST_SETTLEMENT = 6  # price = settlement price

# --- side ----------------------------------------------------------------------------------
BID = 1  # == matching.records.BUY
ASK = 2  # == matching.records.SELL

L2_DTYPE = np.dtype(
    [
        ("seq", "<i8"),
        ("ts_ns", "<i8"),  # engine timestamp of the command that changed the level
        ("price_ticks", "<i8"),
        ("qty_lots", "<i8"),  # absolute visible total after the change (0: deleted)
        ("orders", "<i8"),  # orders at the level after the change
        ("side", "u1"),  # BID / ASK
        ("action", "u1"),  # L2_NEW / L2_CHANGE / L2_DELETE
    ],
    align=True,
)

TRADE_DTYPE = np.dtype(
    [
        ("seq", "<i8"),
        ("ts_ns", "<i8"),
        ("trade_id", "<i8"),  # per-instrument trade number, from 1 (the engine's)
        ("price_ticks", "<i8"),
        ("qty_lots", "<i8"),
        ("side", "u1"),  # aggressor side: BID = buyer took, ASK = seller took
    ],
    align=True,
)

BBO_DTYPE = np.dtype(
    [
        ("seq", "<i8"),
        ("ts_ns", "<i8"),
        ("bid_ticks", "<i8"),  # 0 with bid_lots 0: no bid
        ("bid_lots", "<i8"),
        ("bid_orders", "<i8"),
        ("ask_ticks", "<i8"),
        ("ask_lots", "<i8"),
        ("ask_orders", "<i8"),
    ],
    align=True,
)

L3_DTYPE = np.dtype(
    [
        ("seq", "<i8"),
        ("ts_ns", "<i8"),
        ("order_id", "<i8"),  # the venue order id: never an account or client id
        ("price_ticks", "<i8"),
        ("size_lots", "<i8"),  # add / replace: displayed; execute / reduce: lots taken off
        ("remaining_lots", "<i8"),  # displayed lots left after this update
        ("trade_id", "<i8"),  # execute: the trade; else 0
        ("side", "u1"),
        ("action", "u1"),  # L3_*
    ],
    align=True,
)

OHLCV_DTYPE = np.dtype(
    [
        ("seq", "<i8"),
        ("start_ns", "<i8"),  # bar start (engine time, multiple of the bar width)
        ("open_ticks", "<i8"),
        ("high_ticks", "<i8"),
        ("low_ticks", "<i8"),
        ("close_ticks", "<i8"),
        ("volume_lots", "<i8"),
        ("trades", "<i8"),
        ("closed", "u1"),  # 1: final; 0: the bar so far (updated again until it closes)
    ],
    align=True,
)

STATUS_DTYPE = np.dtype(
    [
        ("seq", "<i8"),
        ("ts_ns", "<i8"),
        ("price_ticks", "<i8"),
        ("value", "<i8"),
        ("kind", "u1"),  # ST_*
        ("reason", "<u2"),  # the engine's reason code (STATUS_HALTED, ...)
    ],
    align=True,
)

CHANNEL_DTYPES = (
    TRADE_DTYPE,
    L2_DTYPE,
    BBO_DTYPE,
    L3_DTYPE,
    OHLCV_DTYPE,
    OHLCV_DTYPE,
    STATUS_DTYPE,
)


class PacketHeader(msgspec.Struct, array_like=True, frozen=True):
    """Second frame of every packet (msgpack array, about 30 bytes)."""

    version: int
    session: int  # random 63-bit id of this publisher run: a new one means "resync"
    packet_seq: int  # global packet number of this session, from 1, over every topic
    channel: int  # CH_*
    instrument: int  # venue instrument id
    first_seq: int  # seq of the first record in the body
    last_seq: int  # seq of the last record
    count: int  # records in the body
    send_ns: int  # publisher wall clock (time.time_ns) when sent


class SnapshotRequest(msgspec.Struct, array_like=True, frozen=True):
    """A snapshot request (DEALER/REQ -> ROUTER). ``kind``: "l2", "l3", "bbo" or
    "instruments"; ``depth`` 0 = full depth (l2 only)."""

    kind: str
    instrument: int = -1
    depth: int = 0


class SnapshotHeader(msgspec.Struct, array_like=True, frozen=True):
    """First frame of a snapshot reply; the body follows as records of the channel's dtype
    (l2: L2_NEW records, bids best first then asks best first; l3: L3_ADD records in priority
    order; bbo: one BBO record). ``seq`` is the channel sequence the snapshot reflects: apply
    incrementals with ``seq > this`` on top of it."""

    session: int
    channel: int
    instrument: int
    seq: int
    count: int
    error: str = ""


class InstrumentInfo(msgspec.Struct, array_like=True, frozen=True):
    """What the feed says about an instrument (decimals as strings: edges only)."""

    id: int
    symbol: str
    tick_size: str
    lot_size: str


HEADER_ENCODER = msgspec.msgpack.Encoder()
HEADER_DECODER = msgspec.msgpack.Decoder(PacketHeader)
SNAP_REQ_DECODER = msgspec.msgpack.Decoder(SnapshotRequest)
SNAP_HDR_DECODER = msgspec.msgpack.Decoder(SnapshotHeader)
INSTRUMENTS_DECODER = msgspec.msgpack.Decoder(list[InstrumentInfo])


def topic(channel: int, symbol: str) -> bytes:
    """``b"l2.BTC-USD"``: the subscription prefix of a channel and symbol. O(1)."""
    return f"{CHANNEL_NAMES[channel]}.{symbol}".encode()


def parse_topic(t: bytes) -> tuple[int, str]:
    """(channel id, symbol) of a topic; ValueError on an unknown channel. O(len)."""
    s = t.decode()
    for name in ("ohlcv.1s", "ohlcv.1m"):
        if s.startswith(name + "."):
            return CHANNEL_IDS[name], s[len(name) + 1 :]
    name, _, sym = s.partition(".")
    if name not in CHANNEL_IDS or not sym:
        raise ValueError(f"not a feed topic: {t!r}")
    return CHANNEL_IDS[name], sym


def decode_body(channel: int, body: bytes | memoryview) -> np.ndarray:
    """The body's records as a read-only numpy view (no copy). ValueError when the length is
    not a whole number of records. O(1)."""
    dt = CHANNEL_DTYPES[channel]
    if len(body) % dt.itemsize:
        raise ValueError(f"body of {len(body)} bytes is not a whole number of {dt.itemsize}")
    return np.frombuffer(body, dtype=dt)


def records_to_dicts(records: np.ndarray) -> list[dict[str, Any]]:
    """Convenience decoded form of body records (plain ints). O(n) Python: callbacks only."""
    names = records.dtype.names or ()
    return [dict(zip(names, (int(v) for v in r), strict=True)) for r in records.tolist()]
