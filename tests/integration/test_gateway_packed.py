"""Packed frames (several messages in one MessagePack array, both ways), values that do not fit
the command record, the busy-spin loop, and the gateway's durable state (export / import /
replay of stamped batches): over real sockets on loopback, every receive with a timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import pytest
import zmq

from gateway import protocol as P
from gateway.server import GatewayConfig, GatewayServer, demo_exchange
from matching import reasons as R
from matching.records import COMMAND_DTYPE
from tests.integration.test_gateway import BTC, KEYS, PX, Conn, _new, _venue


class Packed(Conn):
    """A connection that reads packed frames: ``recv_frame`` returns a frame's messages."""

    def recv_frame(self, timeout: float = 3.0) -> list[Any]:
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"no reply within {timeout} s")
        return self.codec.decode_frame(self.sock.recv())

    def collect(self, n: int, timeout: float = 3.0) -> tuple[list[Any], int]:
        """``n`` messages (or fail), and the number of frames they came in."""
        out: list[Any] = []
        frames = 0
        end = time.monotonic() + timeout
        while len(out) < n:
            out.extend(self.recv_frame(max(0.01, end - time.monotonic())))
            frames += 1
        return out, frames


@pytest.fixture
def venue() -> Iterator[tuple[GatewayServer, str, zmq.Context[Any]]]:
    yield from _venue(GatewayConfig(api_keys=dict(KEYS)))


def test_packed_frame_in_order_and_packed_replies(venue: Any) -> None:
    _srv, ep, ctx = venue
    c = Packed(ctx, ep)
    c.send(P.Logon(api_key="k1", pack=True))
    assert isinstance(c.recv_frame()[0], P.LogonAck)
    # one frame: two orders, a cancel of the first, a heartbeat
    batch = [
        _new(1, req=11),
        _new(2, px=PX - 1, req=12),
        P.Cancel(cl_ord_id=1, req=13),
        P.Heartbeat(req=14),
    ]
    c.send(c.codec.encode_many(batch))
    msgs, frames = c.collect(4)
    assert [m.req for m in msgs] == [11, 12, 13, 14]  # in the order of the messages
    assert [getattr(m, "exec_type", None) for m in msgs[:3]] == ["new", "new", "cancelled"]
    assert isinstance(msgs[3], P.HeartbeatAck)
    assert frames < 4  # the venue packed them (one wakeup: usually one frame)
    seqs = [m.seq for m in msgs[:3]]
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # stamped in arrival order, contiguous
    assert c.drain() == []
    c.close()


def test_unpacked_session_gets_one_message_per_frame(venue: Any) -> None:
    _srv, ep, ctx = venue
    c = Packed(ctx, ep)
    c.logon("k2")
    c.send(c.codec.encode_many([_new(1, req=1), _new(2, px=PX - 1, req=2)]))
    first, second = c.recv_frame(), c.recv_frame()
    assert len(first) == len(second) == 1
    assert (first[0].req, second[0].req) == (1, 2)
    c.close()


def test_bad_packed_frames_are_refused_whole(venue: Any) -> None:
    _srv, ep, ctx = venue
    c = Packed(ctx, ep)
    c.logon("k1")
    enc = msgspec.msgpack.Encoder()
    # one invalid message: nothing of the frame is used, the reject names the element
    good = msgspec.to_builtins(_new(1, req=1))
    c.send(enc.encode([good, {"t": "new", "cl_ord_id": 2, "side": "up"}]))
    r = c.recv()
    assert isinstance(r, P.BusinessReject) and r.reason == R.MALFORMED_MESSAGE
    assert "[1]" in r.text, r.text
    # too many messages in one frame
    c.send(enc.encode([msgspec.to_builtins(P.Heartbeat())] * (P.MAX_PACKED + 1)))
    r = c.recv()
    assert isinstance(r, P.BusinessReject) and str(P.MAX_PACKED) in r.text
    assert c.drain() == []  # neither frame placed an order
    c.send(_new(1, req=5))
    assert c.recv().exec_type == "new"
    c.close()


def test_value_too_large_is_refused_and_the_rest_of_the_batch_runs(venue: Any) -> None:
    _srv, ep, ctx = venue
    c = Packed(ctx, ep)
    c.logon("k1", pack=True)
    batch = [
        _new(1, req=1),
        P.NewOrder(cl_ord_id=2, instrument=2**40, side="buy", qty_lots=1, price_ticks=PX, req=2),
        _new(3, px=PX - 1, req=3),
        _new(4, px=PX - 2, req=4, qty=2**63),  # msgpack uint64: above int64
    ]
    c.send(c.codec.encode_many(batch))
    msgs, _ = c.collect(4)
    by_req = {m.req: m for m in msgs}
    for bad, field in ((2, "instrument"), (4, "qty_lots")):
        r = by_req[bad]
        assert isinstance(r, P.BusinessReject) and r.reason == R.VALUE_TOO_LARGE, r
        assert r.text.startswith(f"{field}="), r.text
    assert by_req[1].exec_type == by_req[3].exec_type == "new"
    assert by_req[3].seq == by_req[1].seq + 1  # the misfits left no hole in the sequence
    c.close()


def test_spinning_loop_serves_and_stops() -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(KEYS), spin_us=2000), ctx)
    ep = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    try:
        c = Conn(ctx, ep)
        c.logon("k1")
        for cl in range(1, 6):
            c.send(_new(cl, px=PX - cl, req=cl))
            assert c.recv().exec_type == "new"
        c.close()
    finally:
        srv.stop()
        ctx.destroy(linger=0)
    assert srv._thread is not None and not srv._thread.is_alive()


def _tracks(srv: GatewayServer) -> dict[int, tuple[int, ...]]:
    """Every track but the session that placed it (sessions end with the process)."""
    return {
        oid: (t.account, t.cl_ord_id, t.instrument, t.side, t.order_type, t.tif, t.price,
              t.qty, t.trigger, t.cum, t.notional)
        for oid, t in srv.tracks.items()
    }  # fmt: skip


def test_export_import_and_replay_of_stamped_batches(venue: Any) -> None:
    srv, ep, ctx = venue
    batches: list[np.ndarray] = []

    class Journal:  # what a write-ahead journal sees
        def append(self, cmds: np.ndarray) -> None:
            batches.append(cmds.copy())

        def commit(self) -> None:
            pass

    srv.journal = Journal()
    a, b = Conn(ctx, ep), Conn(ctx, ep)
    a.logon("k1")
    b.logon("k2")
    a.send(_new(1, qty=10, req=1))
    a.until(lambda m: getattr(m, "req", 0) == 1)
    a.send(_new(2, px=PX - 5, req=2))
    a.until(lambda m: getattr(m, "req", 0) == 2)
    b.send(_new(7, side="sell", qty=4, req=3))  # partly fills order 1
    b.until(lambda m: getattr(m, "req", 0) == 3 and m.exec_type == "fill")
    a.until(lambda m: getattr(m, "exec_type", "") == "partial_fill")
    srv.kill_switch(2)
    time.sleep(0.2)
    state = srv.export_state()
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(state)) == state
    assert state["killed"] == [2] and state["version"] == 2
    # only the partly filled order's notional is written: the rest is in the engine's book
    (oid, cum, notional) = state["fills"][0]
    assert len(state["fills"]) == 1 and cum == 4 and notional == 4 * PX
    srv.kill_switch(2, on=False)  # journaled too: a recovery must not bring it back
    time.sleep(0.2)
    want = _tracks(srv)
    assert want[oid][-2:] == (4, 4 * PX)
    # a fresh venue fed the journaled batches ends with the same book, tracks and switches
    fresh = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(KEYS)), ctx)
    third = GatewayServer(fresh.ex, GatewayConfig(api_keys=dict(KEYS)), ctx)
    try:
        fresh.ex.next_seq = int(batches[0]["seq"][0])
        for cmds in batches:
            assert cmds.dtype == COMMAND_DTYPE
            fresh.replay_batch(cmds)
        assert fresh.ex.state_hash() == srv.ex.state_hash()
        assert _tracks(fresh) == want and fresh.killed == set()
        # import rebuilds the tracks from the engine's live orders plus the saved notional
        third.import_state(state)
        assert _tracks(third) == want
        assert third.live_by_cl == srv.live_by_cl and third.killed == {2}
        assert third.open_count == {k: v for k, v in srv.open_count.items() if v}
        assert set(third.partial) == {oid}
        with pytest.raises(ValueError, match="version"):
            third.import_state({**state, "version": 99})
    finally:
        third.stop()
        fresh.stop()
    assert BTC == 0
    a.close()
    b.close()


def test_packed_frame_over_the_bucket_is_throttled_message_by_message() -> None:
    """A frame of more orders than the token bucket holds: the first ``burst`` are taken, the
    rest get RATE_LIMITED, in order, as if each had come alone (the fast path for frames of
    orders must not change who is throttled); a Logout in the middle of a frame ends the
    session for the messages after it."""
    for _srv, ep, ctx in _venue(GatewayConfig(api_keys=dict(KEYS), rate_per_s=0.001, burst=5)):
        c = Packed(ctx, ep)
        c.send(P.Logon(api_key="k1", pack=True))
        assert isinstance(c.recv_frame()[0], P.LogonAck)
        c.send(c.codec.encode_many([_new(i, px=PX - i, req=100 + i) for i in range(1, 9)]))
        msgs, _ = c.collect(8)
        assert [m.req for m in msgs] == list(range(101, 109))
        assert [getattr(m, "exec_type", None) for m in msgs[:5]] == ["new"] * 5
        assert all(isinstance(m, P.BusinessReject) and m.reason == R.RATE_LIMITED
                   for m in msgs[5:])  # fmt: skip
        c.close()
    for _srv, ep, ctx in _venue(GatewayConfig(api_keys=dict(KEYS))):
        c = Packed(ctx, ep)
        c.send(P.Logon(api_key="k1", pack=True))
        assert isinstance(c.recv_frame()[0], P.LogonAck)
        frame = [_new(1, req=1), P.Logout(req=2), _new(2, px=PX - 1, req=3),
                 P.Cancel(cl_ord_id=1, req=4)]  # fmt: skip
        c.send(c.codec.encode_many(frame))
        msgs, _ = c.collect(4)
        assert [m.req for m in msgs] == [1, 2, 3, 4]
        assert msgs[0].exec_type == "new"
        assert msgs[1].reason == R.SESSION_ENDED
        assert all(m.reason == R.NOT_LOGGED_ON for m in msgs[2:])
        c.close()
