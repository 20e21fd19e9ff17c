"""Feed subscribers: ``FeedClient`` (blocking) and ``AsyncFeedClient`` (asyncio) over one
``FeedCore`` that owns sequencing, gap detection and snapshot recovery, and a ``BookBuilder``.

Recovery (CME MDP3 / Binance rules, docs/marketdata.md): for each (channel, instrument) of
the stateful channels ``l2``, ``bbo`` and ``l3`` the client subscribes FIRST, buffers incrementals,
asks the snapshot service, loads the snapshot (sequence S), drops buffered records with
``seq <= S``, applies the rest and is then in sync; any later hole in the sequence, or a new
feed session id (publisher restart), starts the same procedure again. ``trades``,
``ohlcv.*`` and ``status`` carry no state to rebuild: a hole there is counted and reported
(``on_gap``) and the next update is used as it is (a bar is absolute).

    with FeedClient(feed, snap, symbols=["BTC-USD"], channels=["l2", "trades"]) as c:
        c.on_trade = lambda u: print(u.symbol, u.records)
        c.run(10.0)
        print(c.book("BTC-USD", 5))
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import msgspec
import numpy as np
import zmq
import zmq.asyncio

from marketdata import wire as W
from marketdata.book import BookBuilder

STATEFUL = (W.CH_L2, W.CH_BBO, W.CH_L3)
SNAP_KIND = {W.CH_L2: "l2", W.CH_BBO: "bbo", W.CH_L3: "l3"}
_ENC = msgspec.msgpack.Encoder()
MAX_BUFFERED = 200_000  # packets kept per recovering book; older ones go (a snapshot covers them)


class Update(NamedTuple):
    """What a callback or iterator gets: ``records`` of the channel's dtype (numpy, read-only;
    ``wire.records_to_dicts`` converts). ``snapshot``: a loaded snapshot, not an increment."""

    channel: str
    symbol: str
    instrument: int
    records: np.ndarray
    snapshot: bool = False


class Gap(NamedTuple):
    channel: str
    symbol: str
    expected: int  # the sequence number that should have come
    got: int  # the first sequence number that came


class FeedCore:
    """Socket-free subscriber logic: feed it packets (``on_packet``) and snapshot replies
    (``on_snapshot``); it applies them to ``builder`` and returns the updates to deliver;
    ``requests`` holds the snapshot requests to send. Also used by the recording reader."""

    def __init__(
        self,
        infos: Iterable[W.InstrumentInfo],
        channels: Iterable[str],
        symbols: Iterable[str] | None = None,
    ) -> None:
        infos = list(infos)
        self.infos = {i.id: i for i in infos}
        by_symbol = {i.symbol: i for i in infos}
        chosen = list(by_symbol) if symbols is None else list(symbols)
        unknown = [s for s in chosen if s not in by_symbol]
        if unknown:
            raise KeyError(f"unknown symbols {unknown}; the feed has {sorted(by_symbol)}")
        self.symbols = {by_symbol[s].id: s for s in chosen}
        names = list(channels)
        bad = [c for c in names if c not in W.CHANNEL_IDS]
        if bad or not names:
            raise ValueError(f"unknown channels {bad}; choose from {list(W.CHANNEL_NAMES)}")
        self.channels = {W.CHANNEL_IDS[c] for c in names}
        self.builder = BookBuilder(infos, l3=W.CH_L3 in self.channels)
        self.session: int | None = None
        self.last: dict[tuple[int, int], int] = {}
        self.recovering: dict[tuple[int, int], list[tuple[W.PacketHeader, np.ndarray]]] = {}
        self.requests: list[W.SnapshotRequest] = []
        self.gaps: list[Gap] = []
        self.resyncs = 0  # session changes seen after the first
        self.snapshots = 0
        self.bad_packets = 0
        self.bbo_last: dict[int, np.ndarray] = {}  # instrument -> its last BBO record
        self._asked_at: dict[tuple[int, int], float] = {}  # book -> when its snapshot was asked
        self.errors: list[str] = []  # error answers of the snapshot service
        self._assumed = False

    def topics(self) -> list[bytes]:
        """The SUB prefixes to subscribe to. O(channels * symbols)."""
        return [W.topic(ch, s) for ch in sorted(self.channels) for s in self.symbols.values()]

    def start(self) -> None:
        """Begin recovery of every stateful book (call after subscribing). O(books)."""
        self.requests.clear()
        self.last.clear()
        self.recovering.clear()
        self._asked_at.clear()
        for ch in STATEFUL:
            if ch in self.channels:
                for inst in self.symbols:
                    self._recover((ch, inst))

    def assume_empty(self) -> None:
        """Mark every book in sync at sequence 0 with an empty book, without a snapshot:
        valid only when subscribed before the publisher's first packet (a backtest that
        starts both, a benchmark). O(books)."""
        self.requests.clear()
        self.recovering.clear()
        self._assumed = True
        for ch in STATEFUL:
            if ch in self.channels:
                for inst in self.symbols:
                    self.last[(ch, inst)] = 0

    def _recover(self, key: tuple[int, int]) -> None:
        if key not in self.recovering:
            self.recovering[key] = []
        self.requests.append(W.SnapshotRequest(SNAP_KIND[key[0]], key[1], 0))

    def due_requests(self, now: float, retry_after: float = 1.0) -> list[W.SnapshotRequest]:
        """The snapshot requests to send now: new ones, and again those of books still
        recovering whose request went out more than ``retry_after`` s ago (a lost reply, an
        error answer, a service that was not there). O(recovering books)."""
        out = []
        for r in self.requests:
            key = (W.CHANNEL_IDS[r.kind], r.instrument)
            if key in self.recovering and key not in self._asked_at:
                out.append(r)
                self._asked_at[key] = now
        self.requests.clear()
        for key, t in list(self._asked_at.items()):
            if key not in self.recovering:
                del self._asked_at[key]
            elif now - t > retry_after:
                self._asked_at[key] = now
                out.append(W.SnapshotRequest(SNAP_KIND[key[0]], key[1], 0))
        return out

    def synced(self, instrument: int) -> bool:
        """True when every stateful book of the instrument is in sync. O(channels)."""
        return all((ch, instrument) not in self.recovering for ch in STATEFUL)

    def _apply(self, ch: int, inst: int, recs: np.ndarray) -> None:
        if ch == W.CH_L2:
            self.builder.apply_l2(inst, recs)
        elif ch == W.CH_L3:
            self.builder.apply_l3(inst, recs)
        elif ch == W.CH_BBO and len(recs):
            self.bbo_last[inst] = recs[-1:].copy()

    def _update(self, ch: int, inst: int, recs: np.ndarray, snap: bool = False) -> Update:
        return Update(W.CHANNEL_NAMES[ch], self.symbols[inst], inst, recs, snap)

    def on_packet(self, frames: list[Any]) -> list[Update]:
        """Handle one feed packet ``[topic, header, body]``. O(records) (numba for l2)."""
        try:
            hdr = W.HEADER_DECODER.decode(frames[1])
            recs = W.decode_body(hdr.channel, frames[2])
        except (msgspec.DecodeError, ValueError, IndexError):
            self.bad_packets += 1
            return []
        if hdr.session != self.session:
            if self.session is not None:
                self.resyncs += 1
                self.session = hdr.session
                self.start()
            elif self._assumed:  # assume_empty(): the first session starts from nothing
                self.session = hdr.session
            else:
                self.session = hdr.session
                self.start()
        ch, inst = hdr.channel, hdr.instrument
        if inst not in self.symbols or ch not in self.channels or hdr.count != len(recs):
            return []
        key = (ch, inst)
        buf = self.recovering.get(key)
        if buf is not None:
            buf.append((hdr, recs))
            if len(buf) > MAX_BUFFERED:
                del buf[0]
            return []
        last = self.last.get(key)
        if hdr.count == 0:  # heartbeat: only says what the last sequence number is
            if last is not None and hdr.last_seq > last:
                self.gaps.append(Gap(W.CHANNEL_NAMES[ch], self.symbols[inst], last + 1,
                                     hdr.last_seq))  # fmt: skip
                if ch in STATEFUL:
                    self._recover(key)
                else:
                    self.last[key] = hdr.last_seq
            return []
        if last is not None:
            if hdr.last_seq <= last:
                return []  # a duplicate
            if hdr.first_seq > last + 1:
                self.gaps.append(Gap(W.CHANNEL_NAMES[ch], self.symbols[inst], last + 1,
                                     hdr.first_seq))  # fmt: skip
                if ch in STATEFUL:
                    self._recover(key)
                    self.recovering[key].append((hdr, recs))
                    return []
            elif hdr.first_seq <= last:
                recs = recs[recs["seq"] > last]
        elif ch in STATEFUL:  # first packet of a book that is not recovering: cannot be
            self._recover(key)
            self.recovering[key].append((hdr, recs))
            return []
        self._apply(ch, inst, recs)
        self.last[key] = hdr.last_seq
        return [self._update(ch, inst, recs)]

    def on_snapshot(self, frames: list[Any]) -> list[Update]:
        """Handle a snapshot reply ``[SnapshotHeader, body]``: load it, then replay what was
        buffered after it. O(snapshot + buffered records)."""
        hdr = W.SNAP_HDR_DECODER.decode(frames[0])
        if hdr.error:  # asked again by the retry timer (due_requests)
            self.errors.append(hdr.error)
            return []
        key = (hdr.channel, hdr.instrument)
        self._asked_at.pop(key, None)
        if key not in self.recovering:
            return []  # a reply we no longer need (a newer one won the race)
        if self.session is None:
            self.session = hdr.session
        elif hdr.session != self.session:
            # the publisher restarted: its new packets will reset us; ask again meanwhile
            self.requests.append(W.SnapshotRequest(SNAP_KIND[hdr.channel], hdr.instrument, 0))
            return []
        recs = W.decode_body(hdr.channel, frames[1])
        ch, inst = key
        if ch == W.CH_L2:
            self.builder.load_l2(inst, recs)
        elif ch == W.CH_L3:
            self.builder.load_l3(inst, recs)
        else:
            self.bbo_last[inst] = recs[-1:].copy()
        self.snapshots += 1
        last = hdr.seq
        out = [self._update(ch, inst, recs, snap=True)]
        buffered = self.recovering.pop(key)
        for k, (ph, prec) in enumerate(buffered):
            if ph.last_seq <= last:
                continue
            if ph.first_seq > last + 1:  # the snapshot is older than the buffer: again
                self.recovering[key] = buffered[k:]
                self.requests.append(W.SnapshotRequest(SNAP_KIND[ch], inst, 0))
                self.last[key] = last
                return out
            tail = prec[prec["seq"] > last]
            self._apply(ch, inst, tail)
            out.append(self._update(ch, inst, tail))
            last = ph.last_seq
        self.last[key] = last
        return out


Callback = Callable[[Update], None]


class _Callbacks:
    """Callbacks by channel; ``on_update`` gets everything, ``on_gap`` each hole."""

    on_update: Callback | None = None
    on_trade: Callback | None = None
    on_book: Callback | None = None  # l2 applied (incremental or snapshot)
    on_bbo: Callback | None = None
    on_l3: Callback | None = None
    on_bar: Callback | None = None
    on_status: Callback | None = None
    on_gap: Callable[[Gap], None] | None = None

    def _deliver(self, ups: list[Update], gaps_before: int, core: FeedCore) -> None:
        if self.on_gap is not None:
            for g in core.gaps[gaps_before:]:
                self.on_gap(g)
        for u in ups:
            if self.on_update is not None:
                self.on_update(u)
            cb = {
                "trades": self.on_trade, "l2": self.on_book, "bbo": self.on_bbo,
                "l3": self.on_l3, "ohlcv.1s": self.on_bar, "ohlcv.1m": self.on_bar,
                "status": self.on_status,
            }[u.channel]  # fmt: skip
            if cb is not None:
                cb(u)


class _Views:
    core: FeedCore

    def _id(self, symbol: str) -> int:
        for i, s in self.core.symbols.items():
            if s == symbol:
                return i
        raise KeyError(f"not subscribed to {symbol!r}")

    def book(self, symbol: str, depth: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Local (bids, asks) as (price_ticks, qty_lots, orders) rows, best first."""
        return self.core.builder.book(self._id(symbol), depth)

    def bbo(self, symbol: str) -> tuple[tuple[int, int, int] | None, ...]:
        """((bid price, qty, orders) or None, (ask ...) or None): from the ``bbo`` channel
        when subscribed, else the top of the local L2 book."""
        inst = self._id(symbol)
        r = self.core.bbo_last.get(inst)
        if r is None:
            return self.core.builder.bbo(inst)
        x = r[0]
        bid = (int(x["bid_ticks"]), int(x["bid_lots"]), int(x["bid_orders"]))
        ask = (int(x["ask_ticks"]), int(x["ask_lots"]), int(x["ask_orders"]))
        return (bid if bid[1] else None, ask if ask[1] else None)

    def l3_book(self, symbol: str) -> list[tuple[int, int, int, int]]:
        return self.core.builder.l3_book(self._id(symbol))

    def synced(self, symbol: str | None = None) -> bool:
        """Every (or this symbol's) stateful book is in sync."""
        ids = list(self.core.symbols) if symbol is None else [self._id(symbol)]
        return all(self.core.synced(i) for i in ids)


def _connect_all(sock: zmq.Socket[Any], endpoints: str | Sequence[str]) -> None:
    """Connect to one endpoint, or to each of a list (a primary and its standbys: only a
    serving venue binds, so only it is heard; after a failover the new primary's feed has a
    new session id and the client resyncs from its snapshots). With several, a DEALER sends
    only to completed connections (ZMQ_IMMEDIATE)."""
    eps = [endpoints] if isinstance(endpoints, str) else list(endpoints)
    if not eps:
        raise ValueError("no endpoint given")
    if len(eps) > 1 and sock.socket_type == zmq.DEALER:
        sock.setsockopt(zmq.IMMEDIATE, 1)
    for ep in eps:
        sock.connect(ep)


def _request_instruments(sock: zmq.Socket[Any], timeout: float) -> list[W.InstrumentInfo]:
    sock.send(_ENC.encode(W.SnapshotRequest("instruments")))
    if not sock.poll(int(timeout * 1000), zmq.POLLIN):
        raise TimeoutError(f"no answer from the snapshot service in {timeout} s")
    frames = sock.recv_multipart()
    return W.INSTRUMENTS_DECODER.decode(frames[1])


class FeedClient(_Callbacks, _Views):
    """Blocking subscriber. ``symbols`` None = all; ``channels`` by name (wire.CHANNEL_NAMES).
    Call ``poll()`` / ``run()`` or iterate; every receive has a timeout."""

    def __init__(
        self,
        feed_endpoint: str | Sequence[str],
        snapshot_endpoint: str | Sequence[str],
        symbols: Iterable[str] | None = None,
        channels: Iterable[str] = ("l2", "bbo", "trades"),
        ctx: zmq.Context[Any] | None = None,
        timeout: float = 5.0,
        rcvhwm: int = 100_000,
    ) -> None:
        self._own_ctx = ctx is None
        self.ctx = ctx or zmq.Context()
        self.snap = self.ctx.socket(zmq.DEALER)
        self.snap.setsockopt(zmq.LINGER, 0)
        _connect_all(self.snap, snapshot_endpoint)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVHWM, rcvhwm)
        try:
            infos = _request_instruments(self.snap, timeout)
            self.core = FeedCore(infos, channels, symbols)
        except BaseException:
            self.close()
            raise
        _connect_all(self.sub, feed_endpoint)
        for t in self.core.topics():
            self.sub.setsockopt(zmq.SUBSCRIBE, t)
        # raw frames as they arrive, before handling: (kind, frames), kind 0 = feed packet,
        # 1 = snapshot reply (the recorder writes them to disk)
        self.tap: Callable[[int, list[bytes]], None] | None = None
        self._poller = zmq.Poller()
        self._poller.register(self.sub, zmq.POLLIN)
        self._poller.register(self.snap, zmq.POLLIN)
        # what each socket carries: its tap kind and its handler (snapshot replies first)
        self._sources = ((self.snap, 1, self.core.on_snapshot), (self.sub, 0, self.core.on_packet))
        self.core.start()

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sub.close(linger=0)
        self.snap.close(linger=0)
        if self._own_ctx:
            self.ctx.destroy(linger=0)

    def _send_requests(self) -> None:
        for r in self.core.due_requests(time.monotonic()):
            # a full or absent peer: the request is due again in a second
            with contextlib.suppress(zmq.Again):
                self.snap.send(_ENC.encode(r), zmq.NOBLOCK)

    def poll(self, timeout: float = 0.1) -> list[Update]:
        """Wait up to ``timeout`` s for data, then handle all that is queued; callbacks run
        here. Returns the updates delivered."""
        self._send_requests()
        gaps0 = len(self.core.gaps)
        ups: list[Update] = []
        if self._poller.poll(int(timeout * 1000)):
            for _ in range(10_000):  # bounded drain, so a flood cannot starve the caller
                got = False
                for sock, kind, handle in self._sources:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        continue
                    if self.tap is not None:
                        self.tap(kind, frames)
                    ups += handle(frames)
                    got = True
                if not got:
                    break
        self._send_requests()
        self._deliver(ups, gaps0, self.core)
        return ups

    def run(self, duration: float) -> None:
        """Poll for ``duration`` seconds."""
        end = time.monotonic() + duration
        while (left := end - time.monotonic()) > 0:
            self.poll(min(left, 0.1))

    def wait_synced(self, timeout: float = 5.0) -> None:
        """Poll until every book is in sync; TimeoutError after ``timeout`` s."""
        end = time.monotonic() + timeout
        while not self.synced():
            if time.monotonic() > end:
                raise TimeoutError(f"feed not in sync after {timeout} s")
            self.poll(0.02)

    def __iter__(self) -> Iterator[Update]:
        while True:
            yield from self.poll(0.1)


class AsyncFeedClient(_Callbacks, _Views):
    """asyncio subscriber: ``await AsyncFeedClient.connect(...)``, then ``await poll()`` or
    ``async for update in client``."""

    _own_ctx: bool
    ctx: zmq.asyncio.Context
    snap: zmq.asyncio.Socket
    sub: zmq.asyncio.Socket

    def __init__(self) -> None:
        raise TypeError("use: await AsyncFeedClient.connect(feed_endpoint, snapshot_endpoint)")

    @classmethod
    async def connect(
        cls,
        feed_endpoint: str | Sequence[str],
        snapshot_endpoint: str | Sequence[str],
        symbols: Iterable[str] | None = None,
        channels: Iterable[str] = ("l2", "bbo", "trades"),
        ctx: zmq.asyncio.Context | None = None,
        timeout: float = 5.0,
    ) -> AsyncFeedClient:
        self = cls.__new__(cls)
        self._own_ctx = ctx is None
        self.ctx = ctx or zmq.asyncio.Context()
        self.snap = self.ctx.socket(zmq.DEALER)
        self.snap.setsockopt(zmq.LINGER, 0)
        _connect_all(self.snap, snapshot_endpoint)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        try:
            await self.snap.send(_ENC.encode(W.SnapshotRequest("instruments")))
            frames = await asyncio.wait_for(self.snap.recv_multipart(), timeout)
        except BaseException:
            self.close()
            raise
        self.core = FeedCore(W.INSTRUMENTS_DECODER.decode(frames[1]), channels, symbols)
        _connect_all(self.sub, feed_endpoint)
        for t in self.core.topics():
            self.sub.setsockopt(zmq.SUBSCRIBE, t)
        self.core.start()
        return self

    async def __aenter__(self) -> AsyncFeedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sub.close(linger=0)
        self.snap.close(linger=0)
        if self._own_ctx:
            self.ctx.destroy(linger=0)

    async def poll(self, timeout: float = 0.1) -> list[Update]:
        """Wait up to ``timeout`` s, handle what is queued, run callbacks, return updates."""
        for r in self.core.due_requests(time.monotonic()):
            with contextlib.suppress(zmq.Again):
                await self.snap.send(_ENC.encode(r), zmq.NOBLOCK)
        gaps0 = len(self.core.gaps)
        ups: list[Update] = []
        p = zmq.asyncio.Poller()
        p.register(self.sub, zmq.POLLIN)
        p.register(self.snap, zmq.POLLIN)
        ready = dict(await p.poll(int(timeout * 1000)))
        if self.snap in ready:
            while await self.snap.poll(0):
                ups += self.core.on_snapshot(await self.snap.recv_multipart())
        if self.sub in ready:
            for _ in range(10_000):
                if not await self.sub.poll(0):
                    break
                ups += self.core.on_packet(await self.sub.recv_multipart())
        self._deliver(ups, gaps0, self.core)
        return ups

    async def wait_synced(self, timeout: float = 5.0) -> None:
        """Poll until every book is in sync; TimeoutError after ``timeout`` s."""
        end = time.monotonic() + timeout
        while not self.synced():
            if time.monotonic() > end:
                raise TimeoutError(f"feed not in sync after {timeout} s")
            await self.poll(0.02)

    async def __aiter__(self) -> AsyncIterator[Update]:
        while True:
            for u in await self.poll(0.1):
                yield u
