"""The market-data feed over real sockets on loopback (random ports; every wait has a deadline
that fails the test): random workloads over many instruments leave every subscriber's book
equal to the engine's, late joiners recover from a snapshot, a publisher restart is seen
through the session id, the gateway publishes as it matches, and no account id, client order
id or maker account ever appears on the public feed."""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np
import pytest
import zmq

from marketdata import wire as W
from marketdata.client import AsyncFeedClient, FeedClient
from marketdata.feed import Publisher
from marketdata.snapshot import EngineSource, SnapshotService, attach_feed
from matching.engine import Engine
from matching.instruments import Instrument
from tests.property.streams import INSTRUMENTS as TEMPLATES
from tests.property.streams import StreamGen

ALL = ("trades", "l2", "bbo", "l3", "ohlcv.1s", "ohlcv.1m", "status")


def many_instruments(n: int) -> list[Instrument]:
    """``n`` instruments (ids 0..n-1) cloned from the property-test templates."""
    return [
        dataclasses.replace(TEMPLATES[k % 3], id=k, symbol=f"I{k}-{TEMPLATES[k % 3].symbol}")
        for k in range(n)
    ]


def multi_stream(seed: int, n_inst: int, n_cmds: int) -> np.ndarray:
    """StreamGen's rule-covering stream, spread over ``n_inst`` instruments."""
    g = StreamGen(seed)
    cmds = g.batch(n_cmds)
    tmpl = {0: 0, 1: 1, 3: 2}
    rng = np.random.default_rng(seed + 1)
    for c in cmds:
        t = tmpl.get(int(c["instrument"]))
        if t is not None:
            c["instrument"] = t + 3 * int(rng.integers(0, n_inst // 3))
    return cmds


def bind_retry(bind: Callable[[str], str], endpoint: str, timeout: float = 5.0) -> str:
    """Bind, retrying while a just-closed socket still holds the port (zmq closes async)."""
    end = time.monotonic() + timeout
    while True:
        try:
            return bind(endpoint)
        except zmq.ZMQError as e:
            if e.errno != zmq.EADDRINUSE or time.monotonic() > end:
                raise
            time.sleep(0.05)


class FeedVenue:
    """An Engine, a Publisher and a SnapshotService in one thread (the standalone feed,
    as a backtest or ``venue replay feed`` runs it). ``call(fn)`` runs fn in that thread."""

    def __init__(
        self,
        ctx: zmq.Context[Any],
        instruments: list[Instrument],
        feed_ep: str = "tcp://127.0.0.1:*",
        snap_ep: str = "tcp://127.0.0.1:*",
        hwm: int = 100_000,
        conflate_ms: float = 0.0,
    ) -> None:
        self.eng = Engine(instruments)
        self.pub = Publisher(instruments, ctx, hwm=hwm, conflate_ms=conflate_ms)
        self.svc = SnapshotService(EngineSource(self.pub, self.eng), ctx)
        self.feed = bind_retry(self.pub.bind, feed_ep)
        self.snap = bind_retry(self.svc.bind, snap_ep)
        self.calls: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                fn, fut = self.calls.get(timeout=0.002)
            except queue.Empty:
                self.svc.poll(0)
                continue
            try:
                fut.set_result(fn())
            except BaseException as e:
                fut.set_exception(e)
            self.svc.poll(0)

    def call(self, fn: Callable[[], Any], timeout: float = 20.0) -> Any:
        fut: Future[Any] = Future()
        self.calls.put((fn, fut))
        return fut.result(timeout)

    def run(self, cmds: np.ndarray, batch: int = 37) -> None:
        def go() -> None:
            for lo in range(0, len(cmds), batch):
                self.pub.on_events(self.eng.process(cmds[lo : lo + batch]))

        self.call(go)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.pub.close()
        self.svc.close()


def caught_up(c: FeedClient, seqs: np.ndarray, index: dict[int, int]) -> bool:
    core = c.core
    for ch in core.channels:
        for inst in core.symbols:
            want = int(seqs[index[inst], ch])
            if want and core.last.get((ch, inst), 0) != want:
                return False
    return core.requests == [] and not core.recovering


def sync(c: FeedClient, v: FeedVenue, timeout: float = 15.0) -> None:
    """Poll until the client has everything the publisher sent; fail after ``timeout``."""
    v.call(lambda: v.pub.flush(force=True))  # conflated updates still held
    seqs = v.call(v.pub.public_seqs)
    v.call(v.pub.heartbeat)  # in case the very last packet of a book was lost
    end = time.monotonic() + timeout
    while not caught_up(c, seqs, v.pub.index):
        assert time.monotonic() < end, f"client not caught up: gaps {c.core.gaps[-3:]}"
        c.poll(0.02)


def assert_books_equal(c: FeedClient, v: FeedVenue) -> int:
    """Every subscribed book equals the engine's (L2 full depth, and L3 if subscribed)."""

    def engine_view() -> tuple[dict[int, Any], np.ndarray]:
        return {i: v.eng.book(i, 100_000) for i in c.core.symbols}, v.eng.dump()

    books, dump = v.call(engine_view)
    checked = 0
    for inst, sym in c.core.symbols.items():
        bids, asks = c.book(sym)
        assert [tuple(x) for x in books[inst].bids] == [tuple(r) for r in bids.tolist()], sym
        assert [tuple(x) for x in books[inst].asks] == [tuple(r) for r in asks.tolist()], sym
        if W.CH_L3 in c.core.channels:
            d = dump[(dump["instrument"] == inst) & (dump["side"] <= 2)]
            want = [
                (int(r["side"]), int(r["price_ticks"]), int(r["order_id"]), int(r["visible_lots"]))
                for r in d
            ]
            assert c.l3_book(sym) == want, sym
        checked += len(bids) + len(asks)
    return checked


def test_random_workload_every_subscriber_equals_engine(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(24)
    v = FeedVenue(ctx, insts)
    try:
        full = FeedClient(v.feed, v.snap, channels=ALL, ctx=ctx)
        some = FeedClient(
            v.feed, v.snap, symbols=[i.symbol for i in insts[::5]], channels=["l2"], ctx=ctx
        )
        full.wait_synced()
        some.wait_synced()
        trades: list[int] = []
        full.on_trade = lambda u: trades.extend(u.records["trade_id"].tolist())
        cmds = multi_stream(11, 24, 4000)
        for lo in range(0, 4000, 500):
            v.run(cmds[lo : lo + 500])
            full.poll(0.01)
            some.poll(0.01)
        sync(full, v)
        sync(some, v)
        assert assert_books_equal(full, v) > 50
        assert assert_books_equal(some, v) > 10
        assert full.core.gaps == [] and some.core.gaps == []
        # every trade arrives once, in order per instrument
        status = v.call(lambda: v.eng.status_table())
        assert len(trades) == int(status[:, 1].sum()) > 100
        full.close()
        some.close()
    finally:
        v.close()


def test_late_joiner_recovers_from_snapshot(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(9)
    v = FeedVenue(ctx, insts)
    try:
        cmds = multi_stream(5, 9, 3000)
        v.run(cmds[:2000])  # the book is deep before the client exists
        late = FeedClient(v.feed, v.snap, channels=["l2", "l3", "bbo"], ctx=ctx)
        late.wait_synced()
        assert late.core.snapshots == 3 * 9
        assert_books_equal(late, v)
        v.run(cmds[2000:])
        sync(late, v)
        assert assert_books_equal(late, v) > 20
        bbo = late.bbo(insts[0].symbol)
        bids, _asks = late.book(insts[0].symbol, 1)
        assert bbo[0] == (tuple(bids[0].tolist()) if len(bids) else None)
        late.close()
    finally:
        v.close()


def test_publisher_restart_is_detected_by_session(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(6)
    v1 = FeedVenue(ctx, insts)
    feed, snap = v1.feed, v1.snap
    c = FeedClient(feed, snap, channels=["l2", "l3"], ctx=ctx)
    try:
        v1.run(multi_stream(1, 6, 800))
        sync(c, v1)
        first = c.core.session
        v1.close()
        v2 = FeedVenue(ctx, insts, feed_ep=feed, snap_ep=snap)  # same endpoints, new run
        try:
            more = multi_stream(2, 6, 2000)
            end = time.monotonic() + 15
            k = 0
            while c.core.session == first or not c.synced():
                assert time.monotonic() < end, "restart not detected"
                v2.run(more[k : k + 20])  # the restarted venue keeps trading meanwhile
                k += 20
                c.poll(0.02)
            v2.run(multi_stream(3, 6, 300))
            sync(c, v2)
            assert c.core.resyncs == 1
            assert c.core.session == v2.pub.session != first
            assert_books_equal(c, v2)
        finally:
            v2.close()
    finally:
        c.close()


ACCOUNT = 0x5EC2E7A1  # distinctive 32-bit patterns that must never appear in the feed
CLIENT_ID = 0x7A11C0DE5EC2E7


def test_no_account_or_client_id_on_the_feed(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(3)
    v = FeedVenue(ctx, insts)
    raw = ctx.socket(zmq.SUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.setsockopt(zmq.SUBSCRIBE, b"")
    raw.connect(v.feed)
    try:
        c = FeedClient(v.feed, v.snap, channels=ALL, ctx=ctx)
        c.wait_synced()
        cmds = multi_stream(3, 3, 1500)
        new = cmds["kind"] == 1
        cmds["account"][new] = ACCOUNT + (cmds["account"][new] % 2)
        cmds["client_order_id"][new] = np.where(
            cmds["client_order_id"][new] > 0, CLIENT_ID + cmds["client_order_id"][new], 0
        )
        cmds["stp_group"][new] = 0
        time.sleep(0.2)  # the raw SUB's subscription reaches the XPUB
        v.run(cmds)
        sync(c, v)
        frames: list[bytes] = []
        end = time.monotonic() + 5
        while time.monotonic() < end and raw.poll(200, zmq.POLLIN):
            frames += raw.recv_multipart()
        # snapshots too
        c.core.start()
        replies: list[bytes] = []
        c.on_update = lambda u: replies.append(u.records.tobytes()) if u.snapshot else None
        c.wait_synced()
        blob = b"".join(frames + replies)
        fills = v.call(lambda: v.eng.status_table())[:, 1].sum()
        assert len(frames) > 300 and fills > 50 and replies
        for a in (ACCOUNT, ACCOUNT + 1):
            assert struct.pack("<i", a) not in blob
            assert struct.pack("<q", a) not in blob
        assert struct.pack("<q", CLIENT_ID + 1)[:6] not in blob
        c.close()
    finally:
        raw.close(linger=0)
        v.close()


def test_async_client_follows_the_book(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(3)
    v = FeedVenue(ctx, insts)

    async def main() -> None:
        c = await AsyncFeedClient.connect(v.feed, v.snap, channels=["l2", "l3", "trades"])
        async with c:
            await c.wait_synced()
            v.run(multi_stream(8, 3, 1500))
            seqs = v.call(lambda: v.pub.seqs.copy())
            end = time.monotonic() + 15
            while not caught_up(c, seqs, v.pub.index):  # type: ignore[arg-type]
                assert time.monotonic() < end
                await c.poll(0.02)
            assert_books_equal(c, v)  # type: ignore[arg-type]

    try:
        asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        v.close()


def test_gateway_publishes_what_it_matches(ctx: zmq.Context[Any]) -> None:
    from gateway.client import Client
    from gateway.demo import demo_venue

    srv, _keys = demo_venue()
    pub, svc = attach_feed(srv)
    ep = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    try:
        c = FeedClient(pub.endpoint, svc.endpoint, channels=["l2", "l3", "trades", "bbo"], ctx=ctx)
        c.wait_synced()
        trades: list[tuple[int, int]] = []
        c.on_trade = lambda u: trades.extend(
            zip(u.records["price_ticks"].tolist(), u.records["qty_lots"].tolist(), strict=True)
        )
        rng = np.random.default_rng(4)
        with Client.connect(ep, "demo-key-1") as a, Client.connect(ep, "demo-key-2") as b:
            for k in range(60):
                who = a if k % 2 else b
                side = who.buy if rng.random() < 0.5 else who.sell
                px = 90_000 + int(rng.integers(-5, 6))
                side("BTC-USD", f"0.00{int(rng.integers(1, 9))}", f"{px}.00")
        end = time.monotonic() + 10
        while True:
            c.poll(0.05)
            seq = pub.last_seq(W.CH_L2, 0)
            if c.core.last.get((W.CH_L2, 0)) == seq and c.core.last.get((W.CH_L3, 0)) == (
                pub.last_seq(W.CH_L3, 0)
            ):
                break
            assert time.monotonic() < end, "feed did not catch up with the gateway"
        bv = srv.ex.book(0, 1000)
        bids, asks = c.book("BTC-USD")
        assert [tuple(x) for x in bv.bids] == [tuple(r) for r in bids.tolist()]
        assert [tuple(x) for x in bv.asks] == [tuple(r) for r in asks.tolist()]
        assert len(c.l3_book("BTC-USD")) == sum(x.orders for x in bv.bids + bv.asks)
        assert trades and int(srv.ex.status_table()[0, 1]) == len(trades)
        c.close()
    finally:
        srv.stop()
        pub.close()
        svc.close()


def test_conflated_l2_and_bbo_still_rebuild_the_book(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(6)
    v = FeedVenue(ctx, insts, conflate_ms=20)
    try:
        c = FeedClient(v.feed, v.snap, channels=["l2", "bbo", "trades"], ctx=ctx)
        c.wait_synced()
        n_l2 = 0

        def count(u: Any) -> None:
            nonlocal n_l2
            n_l2 += 0 if u.snapshot else len(u.records)

        c.on_book = count
        cmds = multi_stream(17, 6, 4000)
        for lo in range(0, 4000, 200):
            v.run(cmds[lo : lo + 200], batch=5)
            c.poll(0.005)
        sync(c, v)
        assert assert_books_equal(c, v) > 10
        raw = int(v.call(lambda: v.pub.seqs[:, W.CH_L2].sum()))
        assert 0 < n_l2 < raw  # conflated: fewer updates than level changes
        for sym in c.core.symbols.values():
            bids, asks = c.book(sym, 1)
            bid, ask = c.bbo(sym)
            assert bid == (tuple(bids[0].tolist()) if len(bids) else None), sym
            assert ask == (tuple(asks[0].tolist()) if len(asks) else None), sym
        assert c.core.gaps == []
        c.close()
    finally:
        v.close()


def test_venue_run_prints_and_serves_the_feed(
    ctx: zmq.Context[Any], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from venue.serve import serve

    started = threading.Event()
    t = threading.Thread(
        target=serve,
        kwargs=dict(
            bind="tcp://127.0.0.1:*",
            duration=4.0,
            data_dir=tmp_path / "data",
            on_start=lambda _srv: started.set(),
        ),
        daemon=True,
    )
    t.start()
    try:
        assert started.wait(60), "venue run did not start"
        out = capsys.readouterr().out
        m = re.search(r"market data on (\S+) \(XPUB\), snapshots on (\S+) ", out)
        assert m, out
        c = FeedClient(m.group(1), m.group(2), channels=["l2", "l3", "bbo"], ctx=ctx)
        c.wait_synced()
        assert len(c.core.symbols) == 10 and c.core.snapshots == 30
        c.close()
    finally:
        t.join(30)
    assert not t.is_alive()
