"""Packet loss on the feed: a proxy that drops packets between the publisher and a subscriber,
and a subscriber that stops reading while the venue keeps publishing (high-water mark). In
both the subscriber sees the holes in the sequence numbers, recovers from snapshots, and ends
with the engine's books; the venue never waits for it."""

from __future__ import annotations

import threading
import time
from typing import Any

import zmq

from marketdata import wire as W
from marketdata.client import FeedClient
from tests.integration.test_marketdata_feed import (
    FeedVenue,
    assert_books_equal,
    many_instruments,
    multi_stream,
    sync,
)


class DroppingProxy:
    """SUB (from the publisher) -> PUB (to subscribers), dropping every ``every``-th packet
    of the stateful channels (and every 3rd trade packet)."""

    def __init__(self, ctx: zmq.Context[Any], upstream: str, every: int) -> None:
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(upstream)
        self.pub = ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.bind("tcp://127.0.0.1:*")
        self.endpoint = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.every = every
        self.seen = 0
        self.dropped = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.sub.poll(5, zmq.POLLIN):
                continue
            frames = self.sub.recv_multipart()
            self.seen += 1
            if self.seen % self.every == 0:
                self.dropped += 1
                continue
            self.pub.send_multipart(frames)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sub.close(linger=0)
        self.pub.close(linger=0)


def test_dropped_packets_are_detected_and_recovered(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(6)
    v = FeedVenue(ctx, insts)
    proxy = DroppingProxy(ctx, v.feed, every=9)
    try:
        c = FeedClient(proxy.endpoint, v.snap, channels=["l2", "l3", "bbo", "trades"], ctx=ctx)
        c.wait_synced()
        time.sleep(0.2)  # the proxy's subscription reaches the publisher
        cmds = multi_stream(21, 6, 3000)
        for lo in range(0, 3000, 100):
            v.run(cmds[lo : lo + 100])
            c.poll(0.005)
        # the last packets may be the dropped ones: keep the venue publishing a little
        tail = multi_stream(22, 6, 400)
        end = time.monotonic() + 20
        k = 0
        while True:
            c.poll(0.02)
            if c.synced() and k >= len(tail):
                break
            assert time.monotonic() < end, "no recovery"
            if k < len(tail):
                v.run(tail[k : k + 20])
                k += 20
        proxy.every = 10**9  # stop dropping, then the client must end exactly in sync
        v.run(multi_stream(23, 6, 300))
        sync(c, v)
        assert proxy.dropped > 20
        chans = {g.channel for g in c.core.gaps}
        assert {"l2", "l3"} <= chans and len(c.core.gaps) >= 10
        assert c.core.snapshots > 3 * 6  # the initial ones, then recoveries
        assert assert_books_equal(c, v) > 10
        c.close()
    finally:
        proxy.close()
        v.close()


def test_slow_subscriber_loses_at_hwm_and_recovers(ctx: zmq.Context[Any]) -> None:
    insts = many_instruments(3)
    v = FeedVenue(ctx, insts, hwm=20)
    try:
        c = FeedClient(v.feed, v.snap, channels=["l2", "l3"], ctx=ctx, rcvhwm=20)
        c.wait_synced()
        t0 = time.monotonic()
        v.run(multi_stream(31, 3, 6000), batch=3)  # the client reads nothing meanwhile
        elapsed = time.monotonic() - t0
        sent = v.pub.packets_sent
        assert sent > 1000
        v.run(multi_stream(32, 3, 100))
        sync(c, v, timeout=20)
        assert c.core.gaps, "the losses went unnoticed"
        assert {g.channel for g in c.core.gaps} <= {"l2", "l3"}
        assert assert_books_equal(c, v) > 5
        assert elapsed < 10  # publishing did not wait for the reader
        assert all(g.got > g.expected for g in c.core.gaps)
        assert W.CH_L2 in c.core.channels
        c.close()
    finally:
        v.close()
