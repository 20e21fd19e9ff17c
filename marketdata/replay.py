"""``venue replay feed DIR``: republish a recording on a bus, so that a trading client can be
tested against a recorded market.

The replayer reads the recording through a FeedCore (so it holds the books as they were at
every point), first fast-forwards to the point where every book is in sync (the recorder's
start-up snapshots), then republishes each recorded packet with a NEW session id and its own
packet numbers but the recorded per-channel sequence numbers and records, at the recorded pace
times ``speed`` (or as fast as possible). Its snapshot service answers from the same FeedCore
between packets, so a late joiner of the replay recovers exactly as from the live venue.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import zmq

from marketdata import wire as W
from marketdata.feed import new_session_id
from marketdata.record import KIND_PACKET, KIND_SNAPSHOT, Recording
from marketdata.snapshot import BuilderSource, SnapshotService


class _ReplaySource(BuilderSource):
    def __init__(self, replayer: FeedReplayer) -> None:
        core = replayer.core
        super().__init__(core.builder, replayer.session, core.last)
        self.core = core

    def _check(self, ch: int, instrument: int) -> None:
        if (ch, instrument) in self.core.recovering:
            raise RuntimeError("the recording has a hole here; ask again in a moment")

    def l2(self, instrument: int, depth: int) -> tuple[int, np.ndarray]:
        self._check(W.CH_L2, instrument)
        return super().l2(instrument, depth)

    def l3(self, instrument: int) -> tuple[int, np.ndarray]:
        self._check(W.CH_L3, instrument)
        return super().l3(instrument)

    def bbo(self, instrument: int) -> tuple[int, np.ndarray]:
        self._check(W.CH_BBO, instrument)
        seq = self.core.last.get((W.CH_BBO, instrument), 0)
        rec = self.core.bbo_last.get(instrument)
        if rec is None:
            return super().bbo(instrument)
        return seq, rec


class FeedReplayer:
    """Republishes ``path`` on an XPUB socket with a snapshot service beside it."""

    def __init__(self, path: str | Path, ctx: zmq.Context[Any] | None = None) -> None:
        self.rec = Recording(path)
        self.core = self.rec.core()
        self.session = new_session_id()
        self._own_ctx = ctx is None
        self.ctx = ctx or zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        self.source = _ReplaySource(self)
        self.svc = SnapshotService(self.source, self.ctx)
        self.packet_seq = 0
        self.published = 0
        self.warm_last: dict[tuple[int, int], int] = {}
        self._recorded_session: int | None = None
        self.done = threading.Event()  # set when the last packet went out
        self.endpoint = ""

    def bind(self, feed: str = "tcp://127.0.0.1:*", snapshot: str = "tcp://127.0.0.1:*") -> str:
        """Bind the feed and snapshot sockets; returns the feed endpoint."""
        self.sock.bind(feed)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.svc.bind(snapshot)
        return self.endpoint

    def close(self) -> None:
        self.sock.close(linger=0)
        self.svc.close()
        if self._own_ctx:
            self.ctx.destroy(linger=0)

    def _publish(self, frames: list[bytes]) -> None:
        h = W.HEADER_DECODER.decode(frames[1])
        if h.session != self._recorded_session:
            if self._recorded_session is not None:  # the recorded venue restarted: so do we
                self.session = new_session_id()
                self.source.session = self.session
            self._recorded_session = h.session
        self.packet_seq += 1
        h2 = msgspec.structs.replace(
            h, session=self.session, packet_seq=self.packet_seq, send_ns=time.time_ns()
        )
        self.sock.send_multipart([frames[0], W.HEADER_ENCODER.encode(h2), frames[2]], zmq.NOBLOCK)
        self.published += 1

    def run(
        self,
        speed: float | None = 1.0,
        go: threading.Event | None = None,
        stop: threading.Event | None = None,
        hold: float = 0.0,
    ) -> int:
        """Replay at ``speed`` x the recorded pace (None: as fast as possible). Waits for
        ``go`` (serving snapshots meanwhile) before the first packet; stops early on ``stop``;
        serves snapshots ``hold`` s after the end. Returns packets published."""
        entries = self.rec.entries()
        self.core.start()
        pending: tuple[int, int, list[bytes]] | None = None
        for item in entries:  # warm-up: to the point where every book is in sync
            _ns, kind, frames = item
            if kind == KIND_SNAPSHOT:
                self.core.on_snapshot(frames)
            elif kind == KIND_PACKET:
                if not self.core.recovering:
                    pending = item
                    break
                self.core.on_packet(frames)
        self.core.requests.clear()
        self.warm_last = dict(self.core.last)
        while go is not None and not go.is_set():
            if stop is not None and stop.is_set():
                return 0
            self.svc.poll(5)
        t0 = time.monotonic()
        first_ns: int | None = None
        k = 0
        for recv_ns, kind, frames in itertools.chain([pending] if pending else [], entries):
            if stop is not None and stop.is_set():
                break
            if first_ns is None:
                first_ns = recv_ns
            if speed is not None:
                due = t0 + (recv_ns - first_ns) / 1e9 / speed
                while (left := due - time.monotonic()) > 0:
                    self.svc.poll(int(min(left, 0.05) * 1000) or 0)
            elif k % 64 == 0:
                self.svc.poll(0)
            k += 1
            if kind == KIND_SNAPSHOT:
                self.core.on_snapshot(frames)
                continue
            self.core.on_packet(frames)
            self._publish(frames)
        self.core.requests.clear()
        self.done.set()
        end = time.monotonic() + hold
        while time.monotonic() < end and not (stop is not None and stop.is_set()):
            self.svc.poll(20)
        return self.published


def run_replay_feed_cli(
    path: str, feed: str, snapshot: str, speed: float | None, hold: float
) -> int:
    """``venue replay feed``: returns the exit status."""
    try:
        rp = FeedReplayer(path)
    except (FileNotFoundError, ValueError) as e:
        print(f"venue replay feed: {e}", file=sys.stderr)
        return 2
    try:
        ep = rp.bind(feed, snapshot)
        pace = "as fast as possible" if speed is None else f"{speed:g}x recorded pace"
        print(f"replaying {path} on {ep} (snapshots on {rp.svc.endpoint}), {pace}", flush=True)
        t = time.monotonic()
        n = rp.run(speed, hold=hold)
        dt = time.monotonic() - t
        print(f"replayed {n:,} packets in {dt:.2f} s", flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        rp.close()
    return 0
