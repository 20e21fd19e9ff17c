"""The order-entry gateway over real sockets on loopback (random ports, receive timeouts that
fail instead of hanging): logon, the order lifecycle, isolation between accounts, duplicate
resends, throttles, cancel-on-disconnect, the kill switch, pre-trade limits, and bad input of
every kind, after which the venue still serves and loses nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import protocol as P
from gateway.server import GatewayConfig, GatewayServer, demo_exchange
from matching import reasons as R

KEYS = {"k1": 1, "k2": 2, "k3": 3}
BTC = 0  # BTC-USD: tick 0.01, lot 0.0001
PX = 9_000_000  # 90,000.00


class Conn:
    """A DEALER with a timeout on every receive."""

    def __init__(self, ctx: zmq.Context[Any], endpoint: str) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.codec = P.client_codec()
        self.enc = msgspec.msgpack.Encoder()

    def send(self, msg: Any) -> None:
        self.sock.send(self.codec.encode(msg) if isinstance(msg, msgspec.Struct) else msg)

    def recv(self, timeout: float = 3.0) -> Any:
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"no reply within {timeout} s")
        return self.codec.decode(self.sock.recv())

    def drain(self, quiet: float = 0.2) -> list[Any]:
        out = []
        while self.sock.poll(int(quiet * 1000)):
            out.append(self.codec.decode(self.sock.recv()))
        return out

    def until(self, pred: Any, timeout: float = 3.0) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.recv(max(0.01, end - time.monotonic()))
            if pred(m):
                return m
        raise AssertionError("expected message did not arrive")

    def logon(self, key: str, **kw: Any) -> P.LogonAck:
        self.send(P.Logon(api_key=key, **kw))
        ack = self.recv()
        assert isinstance(ack, P.LogonAck), ack
        return ack

    def close(self) -> None:
        self.sock.close(linger=0)


@pytest.fixture
def venue() -> Iterator[tuple[GatewayServer, str, zmq.Context[Any]]]:
    yield from _venue(GatewayConfig(api_keys=dict(KEYS)))


def _venue(cfg: GatewayConfig) -> Iterator[tuple[GatewayServer, str, zmq.Context[Any]]]:
    ctx: zmq.Context[Any] = zmq.Context()
    srv = GatewayServer(demo_exchange(), cfg, ctx)
    ep = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    try:
        yield srv, ep, ctx
    finally:
        srv.stop()
        srv.ex.check_invariants()
        ctx.destroy(linger=0)


def _new(cl: int, side: str = "buy", qty: int = 10, px: int = PX, **kw: Any) -> P.NewOrder:
    return P.NewOrder(cl_ord_id=cl, instrument=BTC, side=side, qty_lots=qty, price_ticks=px, **kw)


def test_logon_good_bad_and_missing(venue: Any) -> None:
    _srv, ep, ctx = venue
    c = Conn(ctx, ep)
    c.send(_new(1))
    r = c.recv()
    assert isinstance(r, P.BusinessReject) and r.reason == R.NOT_LOGGED_ON
    c.send(P.Logon(api_key="wrong"))
    r = c.recv()
    assert isinstance(r, P.LogonReject) and r.reason == R.BAD_CREDENTIALS
    c.send(P.Logon(api_key="k1", version=99))
    r = c.recv()
    assert isinstance(r, P.LogonReject) and r.reason == R.UNSUPPORTED_VERSION
    assert c.logon("k1").account == 1
    c.close()


def test_lifecycle_fill_fee_cancel_amend_mass_cancel(venue: Any) -> None:
    _srv, ep, ctx = venue
    a, b = Conn(ctx, ep), Conn(ctx, ep)
    a.logon("k1")
    b.logon("k2")
    a.send(_new(1, "sell", 100))
    new = a.recv()
    assert new.exec_type == "new" and new.status == "new" and new.leaves_lots == 100
    b.send(_new(5, "buy", 40, req=77))
    b.until(lambda m: m.exec_type == "new")
    fill = b.until(lambda m: m.exec_type == "fill")
    # taker: 40 lots of 0.0001 BTC at 90,000.00 = 360 USD; fee 5 bp = 0.18 USD = 180,000 units
    assert (fill.cum_lots, fill.leaves_lots, fill.avg_price) == (40, 0, "90000")
    assert fill.fee == 180_000 and fill.liquidity == "taker" and fill.req == 77
    maker = a.until(lambda m: m.exec_type == "partial_fill")
    assert maker.fee == 36_000 and maker.liquidity == "maker" and maker.leaves_lots == 60
    a.send(P.Amend(order_id=new.order_id, qty_lots=80))  # 80 total, 40 filled: 40 left
    am = a.until(lambda m: m.exec_type == "amended")
    assert (am.qty_lots, am.leaves_lots) == (80, 40)
    a.send(P.Cancel(cl_ord_id=1))
    cx = a.until(lambda m: m.exec_type == "cancelled")
    assert cx.status == "cancelled" and cx.reason == R.CANCEL_USER
    a.send(_new(2, "sell", 5, PX + 100))
    a.send(_new(3, "sell", 5, PX + 200))
    a.send(P.MassCancel(req=9))
    ack = a.until(lambda m: isinstance(m, P.MassCancelAck))
    assert ack.cancelled == 2 and ack.req == 9
    a.close()
    b.close()


def test_isolation_between_accounts(venue: Any) -> None:
    _srv, ep, ctx = venue
    a, b = Conn(ctx, ep), Conn(ctx, ep)
    a.logon("k1")
    b.logon("k2")
    a.send(_new(1, px=PX - 1000))
    oid = a.recv().order_id
    b.send(P.Cancel(order_id=oid))
    r = b.until(lambda m: isinstance(m, P.CancelReject))
    assert r.reason == R.UNKNOWN_ORDER
    b.send(P.OrderStatus(order_id=oid))
    assert b.until(lambda m: isinstance(m, P.OrderStatusReply)).order is None
    b.send(P.OpenOrders())
    assert b.until(lambda m: isinstance(m, P.OpenOrdersReply)).orders == []
    a.send(P.OpenOrders())
    assert [o.order_id for o in a.until(lambda m: isinstance(m, P.OpenOrdersReply)).orders] == [oid]
    assert not [m for m in b.drain() if isinstance(m, P.ExecutionReport)]
    a.close()
    b.close()


def test_resend_after_reconnect_is_a_duplicate(venue: Any) -> None:
    srv, ep, ctx = venue
    a = Conn(ctx, ep)
    a.logon("k1", cancel_on_disconnect=False)
    a.send(_new(42, px=PX - 500))
    first = a.recv()
    a.close()
    b = Conn(ctx, ep)  # a new connection of the same account
    b.logon("k1")
    b.send(_new(42, px=PX - 500))
    dup = b.recv()
    assert dup.duplicate and dup.order_id == first.order_id and dup.status == "new"
    assert srv.ex.live_orders() == 1
    b.close()


def test_throttle_rejects_then_recovers() -> None:
    for srv, ep, ctx in _venue(GatewayConfig(api_keys=dict(KEYS), rate_per_s=20, burst=5)):
        c = Conn(ctx, ep)
        c.logon("k1")
        for _ in range(12):
            c.send(P.Heartbeat())
        got = c.drain(0.3)
        limited = [m for m in got if isinstance(m, P.BusinessReject)]
        assert limited and all(m.reason == R.RATE_LIMITED for m in limited)
        time.sleep(0.4)  # the bucket refills
        c.send(P.Heartbeat(req=5))
        assert c.until(lambda m: isinstance(m, P.HeartbeatAck)).req == 5
        assert srv.sessions
        c.close()


def test_cancel_on_disconnect_when_heartbeats_stop(venue: Any) -> None:
    srv, ep, ctx = venue
    a = Conn(ctx, ep)
    a.logon("k1", heartbeat_ms=300)
    a.send(_new(1, px=PX - 700))
    a.recv()
    watcher = Conn(ctx, ep)
    watcher.logon("k1", heartbeat_ms=5000, cancel_on_disconnect=False)
    a.close()  # the client dies: no more heartbeats
    cx = watcher.until(lambda m: getattr(m, "exec_type", "") == "cancelled", timeout=3)
    assert cx.reason == R.CANCEL_DISCONNECT
    assert srv.ex.live_orders() == 0
    watcher.close()


def test_kill_switch_cancels_and_allows_only_reduce_only(venue: Any) -> None:
    srv, ep, ctx = venue
    a = Conn(ctx, ep)
    a.logon("k1")
    a.send(_new(1, px=PX - 700))
    a.recv()
    srv.kill_switch(1)
    cx = a.until(lambda m: getattr(m, "exec_type", "") == "cancelled")
    assert cx.reason == R.CANCEL_KILL_SWITCH
    a.send(_new(2))
    r = a.until(lambda m: isinstance(m, P.ExecutionReport))
    assert r.status == "rejected" and r.reason == R.KILL_SWITCH_ACTIVE
    perp = P.NewOrder(
        cl_ord_id=3, instrument=2, side="sell", qty_lots=1, price_ticks=900_000, reduce_only=True
    )
    a.send(perp)
    r = a.until(lambda m: isinstance(m, P.ExecutionReport))
    assert r.reason != R.KILL_SWITCH_ACTIVE  # reaches the engine (which may refuse it)
    srv.kill_switch(1, on=False)
    time.sleep(0.05)
    a.send(_new(4, px=PX - 900))
    assert a.until(lambda m: isinstance(m, P.ExecutionReport)).exec_type == "new"
    a.close()


def test_pre_trade_limits() -> None:
    cfg = GatewayConfig(api_keys=dict(KEYS), max_open_orders=2, max_notional=10_000 * 10**6)
    for _srv, ep, ctx in _venue(cfg):
        c = Conn(ctx, ep)
        c.logon("k1")
        c.send(_new(1, qty=100_000))  # 10 BTC x 90,000 = 900,000 USD > 10,000
        assert c.recv().reason == R.MAX_NOTIONAL
        for k in (2, 3, 4):
            c.send(_new(k, qty=1, px=PX - 100 * k))
        got = [c.recv() for _ in range(3)]
        assert [m.reason for m in got] == [0, 0, R.MAX_OPEN_ORDERS]
        c.close()


def test_oversized_frame_drops_only_that_connection() -> None:
    for srv, ep, ctx in _venue(GatewayConfig(api_keys=dict(KEYS), max_msg_bytes=1024)):
        good, bad = Conn(ctx, ep), Conn(ctx, ep)
        good.logon("k1")
        bad.logon("k2")
        bad.send(b"\x00" * 4096)
        assert not bad.drain(0.3)
        good.send(_new(1, px=PX - 10))
        assert good.recv().exec_type == "new"
        assert srv.ex.live_orders() == 1
        good.close()
        bad.close()


_valid = msgspec.msgpack.encode(
    {"t": "new", "cl_ord_id": 1, "instrument": 0, "side": "buy", "qty_lots": 1, "price_ticks": 1}
)
_BAD = st.one_of(
    st.binary(max_size=64),
    st.integers(1, len(_valid) - 1).map(lambda k: _valid[:k]),
    st.dictionaries(
        st.sampled_from(["t", "qty_lots", "side", "x"]),
        st.integers(-(2**63), 2**64 - 1) | st.text(),
        max_size=4,
    ).map(msgspec.msgpack.encode),
    st.sampled_from(["new", "cancel", "bogus", "logon"]).map(
        lambda t: msgspec.msgpack.encode({"t": t, "qty_lots": 2**64 - 1, "instrument": -(2**40)})
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frames=st.lists(_BAD, min_size=1, max_size=8))
def test_bad_input_gets_rejects_and_the_venue_goes_on(venue: Any, frames: list[bytes]) -> None:
    srv, ep, ctx = venue
    c = Conn(ctx, ep)
    c.logon("k3")
    for f in frames:
        c.send(f)
    replies = c.drain(0.15)
    assert len(replies) >= len(frames) - sum(1 for f in frames if f[:1] in (b"\x81",)) - 8
    for m in replies:
        assert isinstance(m, P.BusinessReject | P.LogonReject | P.LogonAck | P.ExecutionReport)
        if isinstance(m, P.BusinessReject):
            assert m.text
    c.send(P.Logon(api_key="k3"))  # whatever happened, a fresh logon and an order work
    c.until(lambda m: isinstance(m, P.LogonAck))
    c.send(_new(99, px=PX - 5000))
    assert c.until(lambda m: isinstance(m, P.ExecutionReport)).exec_type == "new"
    c.send(P.MassCancel())
    c.until(lambda m: isinstance(m, P.MassCancelAck))
    srv.ex.check_invariants()
    c.close()
