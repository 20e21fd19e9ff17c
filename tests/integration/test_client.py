"""The client library against the real gateway on loopback (random port, linger 0).

Every wait is bounded by the client's own timeout, so a broken venue fails a test instead of
hanging it. Each test gets a fresh demo venue: three funded accounts on the default instruments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import zmq

from gateway.client import (
    AccountDisabled,
    AsyncClient,
    Client,
    InsufficientFunds,
    InvalidOrder,
    LogonRejected,
    RateLimited,
    RiskRejected,
    SessionEnded,
    UnknownOrder,
    VenueError,
    exception_for,
)
from gateway.server import GatewayConfig, GatewayServer, demo_exchange, demo_venue
from matching import reasons
from matching.instruments import OffGridError

T = 3.0  # every client call gives up after this many seconds


@pytest.fixture
def venue() -> Iterator[tuple[GatewayServer, str, dict[str, int]]]:
    srv, keys = demo_venue()
    endpoint = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    try:
        yield srv, endpoint, keys
    finally:
        srv.stop()


@pytest.fixture
def endpoint(venue: tuple[GatewayServer, str, dict[str, int]]) -> str:
    return venue[1]


def connect(endpoint: str, key: str = "demo-key-1", **kw: object) -> Client:
    return Client.connect(endpoint, key, timeout=T, **kw)  # type: ignore[arg-type]


# --- logon ---------------------------------------------------------------------------------
def test_logon_good_key_learns_account_and_instruments(endpoint: str) -> None:
    with connect(endpoint) as c:
        assert c.account == 1
        btc = c.instrument("BTC-USD")
        assert btc.tick_size == Decimal("0.01") and btc.lot_size == Decimal("0.0001")
        assert c.instrument(btc.id) is btc
        assert c.instrument("BTC-PERP").tick_size == Decimal("0.1")
        assert len(c.instruments) == 10  # 4 spot/perp + 3 strikes x call/put
        call = c.instrument("BTC-26MAR27-80000-C")
        assert (call.kind, call.strike, call.option_type) == ("option", Decimal(80000), "call")
        assert call.underlying == "BTC-USD" and call.expiry_ns > 0


def test_logon_bad_key_is_rejected(endpoint: str) -> None:
    with pytest.raises(LogonRejected) as e:
        connect(endpoint, "not-a-key")
    assert reasons.name(e.value.code) == "BAD_CREDENTIALS"


def test_connect_to_nothing_times_out() -> None:
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.ROUTER)  # bound, never answers
    s.linger = 0
    port = s.bind_to_random_port("tcp://127.0.0.1")
    try:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            Client.connect(f"tcp://127.0.0.1:{port}", "k", timeout=0.3)
        assert time.monotonic() - t0 < 2
    finally:
        s.close(linger=0)


# --- trading -------------------------------------------------------------------------------
def test_cross_between_two_accounts_exact_avg_price_and_fees(endpoint: str) -> None:
    with connect(endpoint, "demo-key-1") as seller, connect(endpoint, "demo-key-2") as buyer:
        usd0 = buyer.balances()["USD"].total
        s1 = seller.sell("BTC-USD", "0.1", "90000.00")
        s2 = seller.sell("BTC-USD", Decimal("0.3"), Decimal("90000.04"))
        assert s1.status == s2.status == "new" and s1.order_id and s2.order_id
        b = buyer.buy("BTC-USD", "0.4", "90001.00")
        assert b.status in ("new", "partially_filled", "filled")  # first report, then fills
        buyer.wait_until(lambda: b.is_done)
        assert b.status == "filled"
        assert b.cum_qty == Decimal("0.4") and b.leaves_qty == 0
        # 0.1 @ 90000.00 + 0.3 @ 90000.04 = 36000.012 over 0.4: exactly 90000.03
        assert b.avg_price == Decimal("90000.03")
        assert [(f.qty, f.price, f.liquidity) for f in b.fills] == [
            (Decimal("0.1"), Decimal("90000.00"), "taker"),
            (Decimal("0.3"), Decimal("90000.04"), "taker"),
        ]
        # taker 5 bp of 36000.012 USD = 18.000006 USD (USD has 6 decimals): exact per fill
        assert [f.fee for f in b.fills] == [Decimal("4.5"), Decimal("13.500006")]
        assert b.fee == Decimal("18.000006") and b.fee_units == 18_000_006
        usd1 = buyer.balances()["USD"].total
        assert usd0 - usd1 == Decimal("36000.012") + Decimal("18.000006")
        # the seller learns of its fills at its next call
        seller.wait_until(lambda: s1.is_done and s2.is_done)
        assert s1.status == s2.status == "filled"
        assert s1.fills[0].liquidity == "maker" and s1.fee == Decimal("0.9")  # 1 bp of 9000
        assert s2.avg_price == Decimal("90000.04")


def test_cancel_and_cancel_again(endpoint: str) -> None:
    with connect(endpoint) as c:
        o = c.buy("ETH-USD", "1.5", "2900.00")
        assert o.status == "new" and o.leaves_qty == Decimal("1.5")
        assert c.cancel(o) is o
        assert o.status == "cancelled" and o.reason == reasons.CANCEL_USER
        with pytest.raises(UnknownOrder) as e:
            c.cancel(o)
        assert e.value.code == reasons.UNKNOWN_ORDER and e.value.order is o


def test_amend_price_and_quantity(endpoint: str) -> None:
    with connect(endpoint) as c:
        o = c.buy("BTC-USD", "0.1", "89000.00")
        c.amend(o, price="89000.50", qty="0.25")
        assert o.price == Decimal("89000.50") and o.qty == Decimal("0.25")
        assert o.status == "new"
        live = c.order_status(o)
        assert live is not None
        assert (live.price, live.qty, live.leaves_qty) == (
            Decimal("89000.50"),
            Decimal("0.25"),
            Decimal("0.25"),
        )
        with pytest.raises(OffGridError):
            c.amend(o, price="89000.505")
        c.cancel(o)
        with pytest.raises(UnknownOrder):
            c.amend(o, qty="0.3")


def test_mass_cancel_by_instrument_then_all(endpoint: str) -> None:
    with connect(endpoint) as c:
        a = c.buy("BTC-USD", "0.1", "89000.00")
        b = c.sell("BTC-USD", "0.1", "91000.00")
        e = c.buy("ETH-USD", "1", "2900.00")
        gone = c.mass_cancel("BTC-USD")
        assert {o.cl_ord_id for o in gone} == {a.cl_ord_id, b.cl_ord_id}
        assert a.status == b.status == "cancelled" and e.status == "new"
        assert [o.cl_ord_id for o in c.open_orders()] == [e.cl_ord_id]
        assert c.mass_cancel() == [e]
        assert c.open_orders() == []
        assert c.mass_cancel(side="buy") == []  # nothing left: still answered


def test_queries_balances_positions_status(endpoint: str) -> None:
    with connect(endpoint, "demo-key-1") as a, connect(endpoint, "demo-key-2") as b:
        bal = a.balances()
        assert bal["USD"].total == Decimal(10_000_000) and bal["BTC"].total == Decimal(100)
        assert a.positions() == {}
        o = a.sell("BTC-PERP", "1.5", "90000.0")
        live = a.order_status(o)
        assert live is not None and live.order_id == o.order_id and live.side == "sell"
        assert [x.order_id for x in a.open_orders("BTC-PERP")] == [o.order_id]
        assert a.open_orders("ETH-USD") == []
        assert a.balances()["USD"].held > 0  # margin held for the resting order
        x = b.buy("BTC-PERP", "1.5", "90000.0")
        b.wait_until(lambda: x.is_done)
        assert a.order_status(o) is None  # filled: no longer live
        pa, pb = a.positions()["BTC-PERP"], b.positions()["BTC-PERP"]
        assert (pa.qty, pb.qty) == (Decimal("-1.5"), Decimal("1.5"))
        assert pb.avg_entry == Decimal("90000.0") and pa.avg_entry == Decimal("90000.0")
        assert a.order_status(o) is None


def test_off_grid_and_float_refused_before_sending(endpoint: str) -> None:
    with connect(endpoint) as c:
        sent_before = dict(c.orders)
        with pytest.raises(OffGridError) as e:
            c.buy("BTC-USD", "0.1", "90000.001")
        assert e.value.code == reasons.OFF_TICK
        with pytest.raises(OffGridError) as e:
            c.buy("BTC-USD", "0.00001", "90000.00")
        assert e.value.code == reasons.OFF_LOT
        with pytest.raises(OffGridError) as e:
            c.buy("BTC-USD", 0.1, "90000.00")  # type: ignore[arg-type]
        assert e.value.code == reasons.INVALID_DECIMAL
        with pytest.raises(KeyError):
            c.buy("DOGE-USD", "1", "1")
        assert c.orders == sent_before and c.open_orders() == []
        # the next order still gets the next id: nothing was consumed by the refusals
        assert c.buy("BTC-USD", "0.1", "89000.00").cl_ord_id == 1


def test_insufficient_funds_raises_typed_exception(endpoint: str) -> None:
    with connect(endpoint, "demo-key-3") as c:
        with pytest.raises(InsufficientFunds) as e:
            c.buy("BTC-USD", "500", "90000.00")  # 45M USD; the account has 10M
        assert e.value.code == reasons.INSUFFICIENT_BALANCE
        assert isinstance(e.value, VenueError) and isinstance(e.value, RiskRejected)
        assert e.value.order is not None and e.value.order.status == "rejected"
        with pytest.raises(InvalidOrder) as e2:
            c.buy("BTC-USD", "0.1", "50000.00")  # outside the 10% band
        assert e2.value.code == reasons.OUTSIDE_PRICE_BAND


def test_exception_for_maps_reason_families() -> None:
    assert exception_for(reasons.INSUFFICIENT_BALANCE) is InsufficientFunds
    assert exception_for(reasons.INSUFFICIENT_MARGIN) is InsufficientFunds
    assert exception_for(reasons.ACCOUNT_DISABLED) is AccountDisabled
    assert exception_for(reasons.UNKNOWN_ORDER) is UnknownOrder
    assert exception_for(reasons.RATE_LIMITED) is RateLimited
    assert exception_for(reasons.QTY_BELOW_MIN) is InvalidOrder
    assert exception_for(reasons.OFF_TICK) is InvalidOrder
    assert exception_for(reasons.REDUCE_ONLY_WOULD_INCREASE) is RiskRejected
    assert exception_for(reasons.BAD_CREDENTIALS) is LogonRejected
    assert exception_for(reasons.SESSION_ENDED) is SessionEnded
    assert all(issubclass(exception_for(c), VenueError) for c in reasons.REASONS)


def test_throttle_raises_rate_limited() -> None:
    cfg = GatewayConfig(api_keys={"k": 1}, rate_per_s=0.001, burst=5)
    srv = GatewayServer(demo_exchange(), cfg)
    endpoint = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    try:
        # connect spends 3 tokens (instruments, balances, open orders); two orders spend the rest
        with connect(endpoint, "k") as c:
            c.buy("BTC-USD", "0.1", "89000.00")
            c.buy("BTC-USD", "0.1", "89000.01")
            t0 = time.monotonic()
            with pytest.raises(RateLimited) as e:
                c.buy("BTC-USD", "0.1", "89000.02", timeout=0.5)
            assert e.value.code == reasons.RATE_LIMITED
            assert time.monotonic() - t0 < 2
    finally:
        srv.stop()


# --- sessions ------------------------------------------------------------------------------
def test_reconnect_resends_unacknowledged_order_as_duplicate(
    venue: tuple[GatewayServer, str, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, endpoint, _ = venue
    # a long heartbeat: on a busy machine the old session must not time out (and cancel the
    # order on disconnect) before the reconnect has resent it
    with connect(endpoint, heartbeat_ms=10_000) as c:
        # the client must not read the acknowledgement (it drains right after sending, and a
        # fast venue has answered by then): this is the connection dropping before it does
        with monkeypatch.context() as m:
            m.setattr(c, "_drain", lambda: 0)
            o = c.buy("BTC-USD", "0.2", "89500.00", wait=False)
        assert o.status == "pending_new"
        # the venue has taken and answered it (the answer waits unread on the socket) ...
        assert c._sock is not None and c._sock.poll(int(T * 1000), zmq.POLLIN)
        # ... and the connection drops before the client reads the acknowledgement
        resent = c.reconnect()
        assert resent == [o]
        assert o.duplicate and o.status == "new" and o.order_id
        live = c.open_orders()
        assert [(x.cl_ord_id, x.order_id) for x in live] == [(o.cl_ord_id, o.order_id)]
        assert srv.ex.live_orders() == 1
        assert c.reconnect() == []  # nothing unacknowledged any more
        assert c.buy("BTC-USD", "0.1", "89000.00").cl_ord_id == o.cl_ord_id + 1


def test_new_client_starts_above_live_cl_ord_ids(endpoint: str) -> None:
    with connect(endpoint, cancel_on_disconnect=False) as c1:
        o = c1.buy("BTC-USD", "0.1", "89000.00")
    with connect(endpoint) as c2:  # the same account, orders still live
        o2 = c2.buy("BTC-USD", "0.1", "89000.00")
        assert o2.cl_ord_id > o.cl_ord_id and not o2.duplicate


def test_heartbeats_keep_the_session_and_silence_cancels(endpoint: str) -> None:
    # 400 ms: the session survives on heartbeats alone even on a busy 2-core machine
    c = connect(endpoint, heartbeat_ms=400)
    o = c.buy("BTC-USD", "0.1", "89000.00")
    t_end = time.monotonic() + 1.0
    while time.monotonic() < t_end:  # idle, but polling: heartbeats go out
        c.poll(0.05)
    assert c.order_status(o) is not None and o.status == "new"
    c.close()  # no logout, no heartbeats: the venue ends the session after 2 x 400 ms
    with connect(endpoint) as watcher:
        deadline = time.monotonic() + T
        while watcher.open_orders() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.open_orders() == []  # cancel-on-disconnect


def test_logout_then_calls_fail_cleanly(endpoint: str) -> None:
    c = connect(endpoint)
    c.logout()
    with pytest.raises(ConnectionError):
        c.balances()


# --- asyncio -------------------------------------------------------------------------------
def test_async_client(endpoint: str) -> None:
    async def main() -> None:
        a = await AsyncClient.connect(endpoint, "demo-key-1", timeout=T)
        b = await AsyncClient.connect(endpoint, "demo-key-2", timeout=T)
        async with a, b:
            assert a.account == 1 and b.account == 2
            s = await a.sell("ETH-USD", "2", "3000.00")
            x = await b.buy("ETH-USD", "0.5", "3000.00")
            await b.wait_until(lambda: x.is_done)
            assert x.status == "filled" and x.avg_price == Decimal("3000")
            assert x.fee == Decimal("0.75")  # 5 bp of 1500
            await a.wait_until(lambda: s.status != "new")
            assert s.status == "partially_filled" and s.cum_qty == Decimal("0.5")
            await a.amend(s, qty="1.0")
            assert s.qty == Decimal("1.0") and s.leaves_qty == Decimal("0.5")
            assert [o.order_id for o in await a.open_orders()] == [s.order_id]
            await a.cancel(s)
            assert s.status == "cancelled"
            with pytest.raises(UnknownOrder):
                await a.cancel(s)
            with pytest.raises(InsufficientFunds):
                await b.buy("ETH-USD", "10000", "3000.00")
            assert (await b.balances())["ETH"].total == Decimal("1000.5")
            r = await a.buy("ETH-USD", "0.1", "2900.00", wait=False)
            assert r.status in ("pending_new", "new")  # the ack may already have been read
            await a.wait_until(lambda: r.acknowledged)
            assert r.status == "new"
            assert await a.mass_cancel() == [r]

    asyncio.run(main())
