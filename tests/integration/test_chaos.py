"""Chaos options, each observed by a test client exactly as configured: delayed replies (in
order), random rejects with realistic reasons, a tighter throttle, forced disconnects with
cancel-on-disconnect, halts and resumes, bursts of background flow, and the chaos log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from gateway import protocol as P
from gateway.chaos import REJECT_REASONS, Chaos, ChaosConfig, SessionChaos
from gateway.server import GatewayConfig, GatewayServer, demo_exchange
from matching import reasons as R
from tests.integration.test_gateway import KEYS, PX, Conn, _new


def _serve(cfg: ChaosConfig) -> Iterator[tuple[GatewayServer, str, zmq.Context[Any], Chaos]]:
    ctx: zmq.Context[Any] = zmq.Context()
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(KEYS)), ctx)
    chaos = Chaos(cfg)
    chaos.attach(srv)
    ep = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    try:
        yield srv, ep, ctx, chaos
    finally:
        srv.stop()
        chaos.close()
        srv.ex.check_invariants()
        ctx.destroy(linger=0)


@pytest.fixture
def delayed() -> Iterator[tuple[GatewayServer, str, zmq.Context[Any], Chaos]]:
    yield from _serve(
        ChaosConfig(accounts={1: SessionChaos(reply_delay_ms=150, reply_jitter_ms=50)})
    )


def test_reply_delay_and_jitter_only_for_the_configured_account(delayed: Any) -> None:
    _srv, ep, ctx, _chaos = delayed
    slow, fast = Conn(ctx, ep), Conn(ctx, ep)
    slow.logon("k1")  # the logon ack itself is delayed too: logon() waits up to 3 s
    fast.logon("k2")
    t0 = time.monotonic()
    fast.send(P.Heartbeat(req=1))
    fast.recv()
    assert time.monotonic() - t0 < 0.1
    t0 = time.monotonic()
    for cl in range(1, 6):
        slow.send(_new(cl, px=PX - cl, req=cl))
    got = [slow.recv(2.0) for _ in range(5)]
    waited = time.monotonic() - t0
    assert 0.15 <= waited < 1.0, waited
    assert [m.req for m in got] == [1, 2, 3, 4, 5]  # jitter never reorders a session's replies
    slow.close()
    fast.close()


def test_random_rejects_with_realistic_reasons(tmp_path: Path) -> None:
    log = tmp_path / "chaos.jsonl"
    gen = _serve(ChaosConfig(seed=5, log_path=str(log),
                             accounts={1: SessionChaos(reject_probability=0.5)}))  # fmt: skip
    _srv, ep, ctx, chaos = next(gen)
    try:
        c, other = Conn(ctx, ep), Conn(ctx, ep)
        c.logon("k1")
        other.logon("k2")
        reasons = []
        for cl in range(1, 41):
            c.send(_new(cl, px=PX - cl, req=cl))
            r = c.until(lambda m, cl=cl: getattr(m, "req", 0) == cl)
            reasons.append(r.reason if r.exec_type == "rejected" else 0)
        refused = [x for x in reasons if x]
        assert 8 <= len(refused) <= 32  # about half
        assert set(refused) <= set(REJECT_REASONS)
        for cl in range(1, 11):  # the other account is untouched
            other.send(_new(100 + cl, side="sell", px=PX + 100 + cl, req=cl))
            assert other.until(lambda m, cl=cl: getattr(m, "req", 0) == cl).exec_type == "new"
        logged = [json.loads(line) for line in log.read_text().splitlines()]
        rejects = [e for e in logged if e["chaos"] == "reject"]
        assert len(rejects) == len(refused)
        assert [e["reason"] for e in rejects] == refused
        assert all(e["account"] == 1 and "t" in e for e in rejects)
        c.close()
        other.close()
    finally:
        gen.close()
    assert len(chaos.events) == len(refused)


def test_tighter_throttle_set_at_run_time() -> None:
    gen = _serve(ChaosConfig())
    srv, ep, ctx, chaos = next(gen)
    try:
        c = Conn(ctx, ep)
        c.logon("k2")
        chaos.set_session(2, SessionChaos(rate_per_s=2, burst=3))
        time.sleep(0.1)
        for i in range(1, 7):
            c.send(P.Heartbeat(req=i))
        answers = [c.recv() for _ in range(6)]
        limited = [m.req for m in answers if isinstance(m, P.BusinessReject)]
        assert all(a.reason == R.RATE_LIMITED for a in answers if isinstance(a, P.BusinessReject))
        assert limited == [4, 5, 6]  # a bucket of 3, refilled at 2/s
        assert srv.config.rate_per_s > 2  # the venue's own throttle is unchanged
        assert chaos.events[-1]["chaos"] == "configured"
        c.close()
    finally:
        gen.close()


def test_forced_disconnect_cancels_on_disconnect() -> None:
    gen = _serve(ChaosConfig(seed=2, accounts={3: SessionChaos(disconnects_per_min=600)}))
    srv, ep, ctx, chaos = next(gen)
    try:
        c = Conn(ctx, ep)
        c.logon("k3", heartbeat_ms=10_000)
        c.send(_new(1, px=PX - 10, req=1))
        assert c.recv().exec_type == "new"
        ended = c.until(lambda m: isinstance(m, P.BusinessReject)
                        and m.reason == R.SESSION_ENDED, timeout=5.0)  # fmt: skip
        assert ended.reason == R.SESSION_ENDED
        end = time.monotonic() + 3  # its order goes with it (no session left to be told)
        while srv.tracks and time.monotonic() < end:
            time.sleep(0.02)
        assert not srv.tracks
        assert any(e["chaos"] == "disconnect" and e["account"] == 3 for e in chaos.events)
        c.close()
    finally:
        gen.close()


def test_random_halts_then_resumes() -> None:
    gen = _serve(ChaosConfig(seed=4, halts_per_min=300, halt_s=0.5, halt_instruments=(0,)))
    srv, ep, ctx, chaos = next(gen)
    try:
        c = Conn(ctx, ep)
        c.logon("k1", heartbeat_ms=10_000)
        end = time.monotonic() + 5
        while not any(e["chaos"] == "halt" for e in chaos.events) and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.05)
        c.send(_new(1, px=PX - 10, req=1))
        r = c.until(lambda m: getattr(m, "req", 0) == 1)
        assert r.reason == R.INSTRUMENT_HALTED
        while not any(e["chaos"] == "resume" for e in chaos.events) and time.monotonic() < end:
            time.sleep(0.02)
        assert any(e["chaos"] == "resume" for e in chaos.events)
        c.close()
    finally:
        gen.close()
    assert srv.ex.instruments[0].symbol == "BTC-USD"


def test_burst_multiplies_the_agents_rate_for_its_duration() -> None:
    class Driver:  # what a burst touches of an agents driver
        class config:
            rate_scale = 1.0

        rate_scale = 1.0

    gen = _serve(ChaosConfig(seed=9, bursts_per_min=600, burst_s=0.3, burst_factor=4.0))
    _srv, _ep, _ctx, chaos = next(gen)
    try:
        d = Driver()
        chaos.drivers.append(d)
        seen = set()
        end = time.monotonic() + 5
        while time.monotonic() < end and len(seen) < 2:
            seen.add(d.rate_scale)
            time.sleep(0.005)
        assert seen == {1.0, 4.0}
        kinds = [e["chaos"] for e in chaos.events]
        assert "burst" in kinds
    finally:
        gen.close()


def test_market_data_drop_and_delay_and_bad_options() -> None:
    chaos = Chaos(ChaosConfig(seed=1, md_drop_probability=0.25, md_delay_ms=20))
    drops = sum(chaos.md_drop() for _ in range(4000))
    assert 800 <= drops <= 1200
    assert chaos.md_delay_ns() == 20_000_000
    assert not Chaos(ChaosConfig()).md_drop()
    with pytest.raises(ValueError, match="reject_probability"):
        SessionChaos(reject_probability=1.5)
    with pytest.raises(ValueError, match="halt_s"):
        ChaosConfig(halt_s=-1)


def _feed_packets(
    chaos_cfg: ChaosConfig, orders: int
) -> tuple[list[tuple[int, float]], Chaos, list[float]]:
    """(packet_seq, arrival time) of every ``trades.BTC-USD`` packet a subscriber gets while
    two sessions trade ``orders`` times, with chaos on the feed; and when each fill was
    acknowledged to the taker."""
    from marketdata import wire as W
    from marketdata.snapshot import attach_feed

    ctx: zmq.Context[Any] = zmq.Context()
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(KEYS)), ctx)
    chaos = Chaos(chaos_cfg)
    chaos.attach(srv)
    pub, snap = attach_feed(srv)
    pub.chaos = chaos
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(pub.endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"trades.BTC-USD")
    ep = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    got: list[tuple[int, float]] = []
    fills: list[float] = []
    try:
        time.sleep(0.3)  # the subscription reaches the publisher
        a, b = Conn(ctx, ep), Conn(ctx, ep)
        a.logon("k1")
        b.logon("k2")
        for cl in range(1, orders + 1):
            a.send(_new(cl, side="sell", qty=1, req=cl))
            a.recv()
            b.send(_new(cl, side="buy", qty=1, req=cl))
            b.until(lambda m, cl=cl: getattr(m, "req", 0) == cl and m.exec_type == "fill")
            fills.append(time.monotonic())
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            if sub.poll(50):
                frames = sub.recv_multipart()
                hdr = W.HEADER_DECODER.decode(frames[1])
                if hdr.count:  # heartbeats carry no records
                    got.append((hdr.packet_seq, time.monotonic()))
        a.close()
        b.close()
    finally:
        srv.stop()
        pub.close()
        snap.close()
        ctx.destroy(linger=0)
    return got, chaos, fills


def test_market_data_packets_dropped_as_configured() -> None:
    got, chaos, _ = _feed_packets(ChaosConfig(seed=3, md_drop_probability=0.4), orders=40)
    drops = [e for e in chaos.events if e["chaos"] == "md_drop" and e["topic"] == "trades.BTC-USD"]
    assert 6 <= len(drops) <= 30  # about 40% of 40 trade packets
    assert len(got) + len(drops) == 40  # every trade packet either arrived or was dropped
    dropped = {e["packet"] for e in drops}
    assert not dropped & {seq for seq, _ in got}


def test_market_data_packets_held_back_as_configured() -> None:
    got, chaos, fills = _feed_packets(ChaosConfig(md_delay_ms=150), orders=3)
    assert len(got) == 3 and not [e for e in chaos.events if e["chaos"] == "md_drop"]
    assert [seq for seq, _ in got] == sorted(seq for seq, _ in got)  # still in order
    # each trade reached the feed at least 150 ms after its fill reached the taker
    assert got[0][1] - fills[0] >= 0.14, got[0][1] - fills[0]
