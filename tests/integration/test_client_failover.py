"""Clients with several endpoints fail over: when the venue they trade with stops answering,
the order-entry client logs on again at the one that serves now and completes the order call
there; the market-data client connects to all feeds and hears whichever venue publishes."""

from __future__ import annotations

import socket
from decimal import Decimal
from typing import Any

import pytest
import zmq

from gateway.client import Client, FailedOver
from gateway.demo import DEMO_KEYS, demo_exchange
from gateway.server import GatewayConfig, GatewayServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _venue(ctx: zmq.Context[Any], endpoint: str) -> GatewayServer:
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(DEMO_KEYS)), ctx)
    srv.bind(endpoint)
    srv.start()
    return srv


def test_order_client_fails_over_to_the_venue_that_serves() -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    ea, eb = (f"tcp://127.0.0.1:{_free_port()}" for _ in range(2))
    primary = _venue(ctx, ea)
    standby: GatewayServer | None = None
    try:
        c = Client.connect([ea, eb], "demo-key-1", timeout=1.0, context=ctx)
        first = c.buy("BTC-USD", "0.01", "89000.00")
        assert first.status == "new" and c.failovers == 0
        primary.stop()  # the primary dies; a standby takes over at the other endpoint
        standby = _venue(ctx, eb)
        second = c.buy("BTC-USD", "0.02", "88000.00")  # unanswered at ea, completed at eb
        assert second.status == "new" and second.qty == Decimal("0.02")
        assert c.failovers == 1
        standby.stop()  # and back to the first endpoint (say, a primary that recovered)
        primary = _venue(ctx, ea)
        with pytest.raises(FailedOver, match="OpenOrders"):  # a query is not replayed
            c.open_orders()
        assert c.failovers == 2
        assert c.open_orders() == []  # logged on over there: the next call works
        primary.stop()
        c.failover_s = 0.5  # nobody serves: the failover gives up
        with pytest.raises(TimeoutError):
            c.open_orders()
        c.close()
    finally:
        primary.stop()
        if standby is not None:
            standby.stop()
        ctx.destroy(linger=0)


def test_one_endpoint_never_fails_over() -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    ea = f"tcp://127.0.0.1:{_free_port()}"
    srv = _venue(ctx, ea)
    try:
        c = Client.connect(ea, "demo-key-2", timeout=0.5, context=ctx)
        srv.stop()
        with pytest.raises(TimeoutError) as e:
            c.open_orders()
        assert not isinstance(e.value, FailedOver)
        c.close()
    finally:
        srv.stop()
        ctx.destroy(linger=0)
    with pytest.raises(ValueError):
        Client([], "demo-key-2")


def test_async_client_fails_over_too() -> None:
    import asyncio

    import zmq.asyncio

    from gateway.client import AsyncClient

    async def scenario() -> tuple[str, int]:
        actx = zmq.asyncio.Context()
        sctx: zmq.Context[Any] = zmq.Context()
        ea, eb = (f"tcp://127.0.0.1:{_free_port()}" for _ in range(2))
        primary = _venue(sctx, ea)
        standby = None
        try:
            c = await AsyncClient.connect([ea, eb], "demo-key-3", timeout=1.0, context=actx)
            await c.buy("BTC-USD", "0.01", "89000.00")
            primary.stop()
            standby = _venue(sctx, eb)
            order = await c.buy("BTC-USD", "0.02", "88000.00")
            c.close()
            return order.status, c.failovers
        finally:
            primary.stop()
            if standby is not None:
                standby.stop()
            actx.destroy(linger=0)
            sctx.destroy(linger=0)

    assert asyncio.run(scenario()) == ("new", 1)
