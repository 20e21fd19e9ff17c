"""The snapshot service: a ROUTER socket answering full-depth or top-N L2, L3 and BBO
snapshots, and the instrument list, each stamped with the channel sequence it reflects.

In the venue it is one of the gateway's ``pollers``: it answers in the gateway thread, between
batches, from the engine itself (``ex.book`` / ``ex.dump``), and every batch has been published
before it runs, so the engine's state is exactly the state after the last published sequence:
consistent by construction, no locking. Standalone (backtests, ``venue replay feed``), call
``poll()`` between batches from the thread that feeds the publisher.

Request: ``[SnapshotRequest]`` (msgpack) from a DEALER (optionally after an empty delimiter
frame). Reply: ``[SnapshotHeader, body]``; body = records of the channel's dtype (l2, l3, bbo)
or a msgpack list of ``InstrumentInfo`` (instruments). Errors come back as a header with
``error`` set and an empty body; a bad request never raises in the venue.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
import numpy as np
import zmq

from marketdata import wire as W
from marketdata.book import BookBuilder
from marketdata.feed import Publisher

_ENC = msgspec.msgpack.Encoder()


class SnapshotSource(Protocol):
    """Where snapshots come from: the live engine or a BookBuilder (replay)."""

    @property
    def session(self) -> int: ...

    def infos(self) -> list[W.InstrumentInfo]: ...

    def l2(self, instrument: int, depth: int) -> tuple[int, np.ndarray]: ...

    def l3(self, instrument: int) -> tuple[int, np.ndarray]: ...

    def bbo(self, instrument: int) -> tuple[int, np.ndarray]: ...


def _l2_records(seq: int, bids: Any, asks: Any) -> np.ndarray:
    nb, na = len(bids), len(asks)
    out = np.zeros(nb + na, dtype=W.L2_DTYPE)
    rows = np.asarray([*bids, *asks], dtype=np.int64).reshape(-1, 3)
    out["seq"] = seq
    out["price_ticks"] = rows[:, 0]
    out["qty_lots"] = rows[:, 1]
    out["orders"] = rows[:, 2]
    out["side"][:nb] = W.BID
    out["side"][nb:] = W.ASK
    out["action"] = W.L2_NEW
    return out


def _bbo_record(seq: int, bids: Any, asks: Any) -> np.ndarray:
    out = np.zeros(1, dtype=W.BBO_DTYPE)
    out["seq"] = seq
    if len(bids):
        out["bid_ticks"], out["bid_lots"], out["bid_orders"] = (int(v) for v in bids[0])
    if len(asks):
        out["ask_ticks"], out["ask_lots"], out["ask_orders"] = (int(v) for v in asks[0])
    return out


class EngineSource:
    """Snapshots from a live ``Exchange`` or ``Engine`` (``book``, ``dump``), stamped with
    ``publisher``'s last sequence numbers: valid when called between published batches."""

    def __init__(self, publisher: Publisher, engine: Any) -> None:
        self.pub = publisher
        self.engine = engine

    @property
    def session(self) -> int:  # the publisher's, also after a reset
        return self.pub.session

    def infos(self) -> list[W.InstrumentInfo]:
        return [
            W.InstrumentInfo(i.id, i.symbol, str(i.tick_size), str(i.lot_size))
            for i in self.pub.instruments
        ]

    def _book(self, instrument: int, depth: int) -> tuple[list[Any], list[Any]]:
        if depth > 0:
            bv = self.engine.book(instrument, depth)
            return list(bv.bids), list(bv.asks)
        d = self.pub.level_count(instrument) + 1
        while True:  # full depth: ask for more than the publisher knows, until it is all
            bv = self.engine.book(instrument, d)
            if len(bv.bids) < d and len(bv.asks) < d:
                return list(bv.bids), list(bv.asks)
            d *= 2

    def l2(self, instrument: int, depth: int) -> tuple[int, np.ndarray]:
        seq = self.pub.last_seq(W.CH_L2, instrument)
        bids, asks = self._book(instrument, depth)
        return seq, _l2_records(seq, bids, asks)

    def bbo(self, instrument: int) -> tuple[int, np.ndarray]:
        seq = self.pub.last_seq(W.CH_BBO, instrument)
        bids, asks = self._book(instrument, 1)
        return seq, _bbo_record(seq, bids, asks)

    def l3(self, instrument: int) -> tuple[int, np.ndarray]:
        seq = self.pub.last_seq(W.CH_L3, instrument)
        d = self.engine.dump()
        d = d[(d["instrument"] == instrument) & (d["side"] <= 2)]
        out = np.zeros(len(d), dtype=W.L3_DTYPE)
        out["seq"] = seq
        out["order_id"] = d["order_id"]
        out["price_ticks"] = d["price_ticks"]
        out["size_lots"] = d["visible_lots"]
        out["remaining_lots"] = d["visible_lots"]
        out["side"] = d["side"]
        out["action"] = W.L3_ADD
        return seq, out


class BuilderSource:
    """Snapshots from a BookBuilder kept current by a replay (``marketdata/replay.py``);
    ``seqs[(channel, instrument)]`` = the last sequence applied."""

    def __init__(self, builder: BookBuilder, session: int, seqs: dict[tuple[int, int], int]):
        self.builder = builder
        self.session = session
        self.seqs = seqs

    def infos(self) -> list[W.InstrumentInfo]:
        return list(self.builder.infos.values())

    def l2(self, instrument: int, depth: int) -> tuple[int, np.ndarray]:
        seq = self.seqs.get((W.CH_L2, instrument), 0)
        bids, asks = self.builder.book(instrument, depth)
        return seq, _l2_records(seq, bids.tolist(), asks.tolist())

    def bbo(self, instrument: int) -> tuple[int, np.ndarray]:
        seq = self.seqs.get((W.CH_BBO, instrument), 0)
        bids, asks = self.builder.book(instrument, 1)
        return seq, _bbo_record(seq, bids, asks)

    def l3(self, instrument: int) -> tuple[int, np.ndarray]:
        seq = self.seqs.get((W.CH_L3, instrument), 0)
        rows = self.builder.l3_book(instrument)
        out = np.zeros(len(rows), dtype=W.L3_DTYPE)
        if rows:
            a = np.asarray(rows, dtype=np.int64)
            out["side"], out["price_ticks"], out["order_id"] = a[:, 0], a[:, 1], a[:, 2]
            out["size_lots"] = out["remaining_lots"] = a[:, 3]
        out["seq"] = seq
        out["action"] = W.L3_ADD
        return seq, out


class SnapshotService:
    """ROUTER socket serving ``source``. Register ``(svc.sock, svc.handle)`` with the
    gateway's pollers, or call ``poll()`` from the feeding thread."""

    def __init__(self, source: SnapshotSource, ctx: zmq.Context[Any] | None = None) -> None:
        self.source = source
        self._own_ctx = ctx is None
        self.ctx = ctx or zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self.endpoint = ""
        self.served = 0
        self._tick: threading.Thread | None = None
        self._tick_stop = threading.Event()
        self._tick_socks: list[zmq.Socket[Any]] = []

    def bind(self, endpoint: str = "tcp://127.0.0.1:*") -> str:
        """Bind; returns the concrete endpoint."""
        self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return self.endpoint

    def close(self) -> None:
        """Stop the heartbeat ticker, close the socket (and the context if it is ours)."""
        if self._tick is not None:
            self._tick_stop.set()
            self._tick.join(2)
            self._tick = None
            for sk in self._tick_socks:
                sk.close(linger=0)
        self.sock.close(linger=0)
        if self._own_ctx:
            self.ctx.destroy(linger=0)

    def heartbeat_poller(
        self, publisher: Publisher, interval: float = 0.25
    ) -> tuple[zmq.Socket[Any], Callable[[], None]]:
        """A (socket, handler) pair for the gateway's pollers that calls
        ``publisher.heartbeat()`` every ``interval`` s in the gateway thread: a small thread
        pings an inproc PAIR socket (the gateway loop has no timers). Stopped by close()."""
        addr = f"inproc://md-heartbeat-{id(self)}"
        rx = self.ctx.socket(zmq.PAIR)
        rx.setsockopt(zmq.LINGER, 0)
        rx.bind(addr)
        tx = self.ctx.socket(zmq.PAIR)
        tx.setsockopt(zmq.LINGER, 0)
        tx.setsockopt(zmq.SNDHWM, 1)
        tx.connect(addr)
        self._tick_socks = [tx, rx]

        def tick() -> None:
            while not self._tick_stop.wait(interval):
                with contextlib.suppress(zmq.ZMQError):  # a tick still queued, or closing
                    tx.send(b"", zmq.NOBLOCK)

        def handler() -> None:
            while True:
                try:
                    rx.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
            publisher.heartbeat()

        self._tick = threading.Thread(target=tick, name="md-heartbeat", daemon=True)
        self._tick.start()
        return rx, handler

    def poll(self, timeout_ms: int = 0) -> int:
        """Answer the requests waiting (after up to ``timeout_ms``). Returns how many."""
        if not self.sock.poll(timeout_ms, zmq.POLLIN):
            return 0
        return self.handle()

    def handle(self) -> int:
        """Answer every request queued on the socket (the gateway poller's handler). A
        snapshot costs O(levels) (l2) or O(all live orders) (l3: one engine dump)."""
        n = 0
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return n
            n += 1
            if len(frames) < 2:
                continue
            route = frames[:-1]  # identity (+ empty delimiter from a REQ)
            try:
                reply = self._answer(frames[-1])
            except Exception as e:  # a bad request must never take the venue down
                err = W.SnapshotHeader(
                    self.source.session, -1, -1, 0, 0, f"{type(e).__name__}: {e}"
                )
                reply = [_ENC.encode(err), b""]
            try:
                self.sock.send_multipart(route + reply, zmq.NOBLOCK)
            except zmq.ZMQError:  # peer gone or queue full: it will ask again
                continue
            self.served += 1

    def _answer(self, payload: bytes) -> list[bytes]:
        req = W.SNAP_REQ_DECODER.decode(payload)
        src = self.source
        if req.kind == "instruments":
            infos = src.infos()
            hdr = W.SnapshotHeader(src.session, -1, -1, 0, len(infos))
            return [_ENC.encode(hdr), _ENC.encode(infos)]
        if req.kind == "l2":
            seq, recs = src.l2(req.instrument, req.depth)
            ch = W.CH_L2
        elif req.kind == "l3":
            seq, recs = src.l3(req.instrument)
            ch = W.CH_L3
        elif req.kind == "bbo":
            seq, recs = src.bbo(req.instrument)
            ch = W.CH_BBO
        else:
            raise ValueError(f"unknown snapshot kind {req.kind!r} (l2, l3, bbo, instruments)")
        hdr = W.SnapshotHeader(src.session, ch, req.instrument, seq, len(recs))
        return [_ENC.encode(hdr), recs.tobytes()]


def attach_feed(
    server: Any,
    feed_endpoint: str = "tcp://127.0.0.1:*",
    snapshot_endpoint: str = "tcp://127.0.0.1:*",
    hwm: int = 100_000,
    conflate_ms: float = 0.0,
) -> tuple[Publisher, SnapshotService]:
    """Wire the feed into a ``GatewayServer`` before ``start()``: a publisher seeded from the
    engine's current book, appended to ``server.listeners``, a snapshot service answering
    from ``server.ex`` in the gateway thread (``server.pollers``), and heartbeats every
    0.25 s. Binds both endpoints
    (see ``.endpoint`` of each). O(live orders) once."""
    ex = server.ex
    pub = Publisher(ex.instruments.values(), server.ctx, hwm=hwm, conflate_ms=conflate_ms)
    pub.seed(ex.dump())
    svc = SnapshotService(EngineSource(pub, ex), server.ctx)
    try:
        pub.bind(feed_endpoint)
        svc.bind(snapshot_endpoint)
    except BaseException:
        pub.close()
        svc.close()
        raise
    server.listeners.append(pub.guarded(ex.dump))
    server.pollers.append((svc.sock, svc.handle))
    tick = min(0.25, conflate_ms / 1000) if conflate_ms > 0 else 0.25  # also the flush timer
    server.pollers.append(svc.heartbeat_poller(pub, tick))
    return pub, svc


def attach_default_feed(server: Any, order_endpoint: str) -> tuple[Publisher, SnapshotService]:
    """``venue run``'s feed: on loopback, at the order-entry port + 1 (feed) and + 2
    (snapshots), or at random ports when those are taken or the port is random. The feed is
    public data and always loopback-only here (no CURVE on it). O(live orders) once."""
    port = order_endpoint.rsplit(":", 1)[-1]
    if port.isdigit():
        p = int(port)
        try:
            return attach_feed(server, f"tcp://127.0.0.1:{p + 1}", f"tcp://127.0.0.1:{p + 2}")
        except zmq.ZMQError:
            pass  # taken: fall back to random ports
    return attach_feed(server)
