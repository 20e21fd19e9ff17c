"""CurveZMQ order entry: a CURVE venue lets in only the configured client public keys.

Random ports, linger 0, every wait bounded (a refused handshake shows as no reply within a
short timeout: the client's ``RequestTimeout``), contexts destroyed with ``destroy(linger=0)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from gateway import protocol as P
from gateway.client import Client, RequestTimeout
from gateway.curve import is_loopback
from gateway.server import DEMO_KEYS, GatewayConfig, GatewayServer, demo_exchange

T = 3.0  # a logon that should work
REFUSED = 0.8  # how long a refused client waits for an answer that never comes

SERVER_PUBLIC, SERVER_SECRET = zmq.curve_keypair()
ALLOWED = zmq.curve_keypair()
STRANGER = zmq.curve_keypair()


@pytest.fixture
def curve_venue() -> Iterator[tuple[GatewayServer, str]]:
    cfg = GatewayConfig(
        api_keys=dict(DEMO_KEYS),
        curve_secret_key=SERVER_SECRET,
        curve_allowed_clients=(ALLOWED[0],),
    )
    srv = GatewayServer(demo_exchange(), cfg)
    try:
        endpoint = srv.bind("tcp://127.0.0.1:*")
        srv.start()
        yield srv, endpoint
    finally:
        srv.stop()


def test_configured_client_key_logs_on(
    curve_venue: tuple[GatewayServer, str], ctx: zmq.Context[Any]
) -> None:
    srv, endpoint = curve_venue
    assert srv.curve_public_key == SERVER_PUBLIC  # derived from the secret key
    with Client.connect(
        endpoint,
        "demo-key-1",
        timeout=T,
        curve_server_key=SERVER_PUBLIC,
        curve_keypair=ALLOWED,
        context=ctx,
    ) as c:
        assert c.account == 1
        o = c.buy("BTC-USD", "0.1", "89000.00")
        assert o.status == "new"


def test_configured_client_key_as_text_logs_on(
    curve_venue: tuple[GatewayServer, str], ctx: zmq.Context[Any]
) -> None:
    _, endpoint = curve_venue
    keypair = (ALLOWED[0].decode(), ALLOWED[1].decode())
    with Client.connect(
        endpoint,
        "demo-key-2",
        timeout=T,
        curve_server_key=SERVER_PUBLIC.decode(),
        curve_keypair=keypair,
        context=ctx,
    ) as c:
        assert c.account == 2


def test_unconfigured_client_key_is_refused(
    curve_venue: tuple[GatewayServer, str], ctx: zmq.Context[Any]
) -> None:
    _, endpoint = curve_venue
    with pytest.raises(RequestTimeout):
        Client.connect(
            endpoint,
            "demo-key-1",
            timeout=REFUSED,
            curve_server_key=SERVER_PUBLIC,
            curve_keypair=STRANGER,
            context=ctx,
        )
    with pytest.raises(RequestTimeout):  # a fresh random keypair: refused the same way
        Client.connect(
            endpoint, "demo-key-1", timeout=REFUSED, curve_server_key=SERVER_PUBLIC, context=ctx
        )


def test_plaintext_client_is_refused(
    curve_venue: tuple[GatewayServer, str], ctx: zmq.Context[Any]
) -> None:
    _, endpoint = curve_venue
    with pytest.raises(RequestTimeout):
        Client.connect(endpoint, "demo-key-1", timeout=REFUSED, context=ctx)
    # and at the socket level: a raw plaintext Logon never gets an answer
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    sock.send(P.client_codec().encode(P.Logon(req=1, api_key="demo-key-1")))
    assert sock.poll(int(REFUSED * 1000), zmq.POLLIN) == 0
    sock.close(linger=0)


def test_wrong_server_key_never_connects(
    curve_venue: tuple[GatewayServer, str], ctx: zmq.Context[Any]
) -> None:
    _, endpoint = curve_venue
    other_public, _ = zmq.curve_keypair()
    with pytest.raises(RequestTimeout):
        Client.connect(
            endpoint,
            "demo-key-1",
            timeout=REFUSED,
            curve_server_key=other_public,
            curve_keypair=ALLOWED,
            context=ctx,
        )


def test_non_loopback_bind_needs_curve() -> None:
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(DEMO_KEYS)))
    try:
        for endpoint in ("tcp://0.0.0.0:*", "tcp://*:*", "tcp://10.1.2.3:7001", "ws://[::1]:*"):
            with pytest.raises(ValueError, match="loopback"):
                srv.bind(endpoint)
        assert srv.bind("tcp://127.0.0.1:*").startswith("tcp://127.0.0.1:")
    finally:
        srv.stop()


def test_curve_venue_may_bind_every_interface(ctx: zmq.Context[Any]) -> None:
    cfg = GatewayConfig(
        api_keys=dict(DEMO_KEYS), curve_secret_key=SERVER_SECRET, curve_allowed_clients=ALLOWED[:1]
    )
    srv = GatewayServer(demo_exchange(), cfg)
    try:
        port = srv.bind("tcp://0.0.0.0:*").rsplit(":", 1)[1]
        srv.start()
        with Client.connect(
            f"tcp://127.0.0.1:{port}",
            "demo-key-3",
            timeout=T,
            curve_server_key=SERVER_PUBLIC,
            curve_keypair=ALLOWED,
            context=ctx,
        ) as c:
            assert c.account == 3
    finally:
        srv.stop()


def test_bad_keys_are_refused_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="curve_secret_key"):
        GatewayServer(demo_exchange(), GatewayConfig(curve_secret_key=b"short"))
    with pytest.raises(ValueError, match="curve_allowed_clients"):
        GatewayServer(
            demo_exchange(),
            GatewayConfig(curve_secret_key=SERVER_SECRET, curve_allowed_clients=(b"x",)),
        )
    with pytest.raises(ValueError, match="curve_public_key"):
        GatewayServer(
            demo_exchange(),
            GatewayConfig(curve_secret_key=SERVER_SECRET, curve_public_key=STRANGER[0]),
        )


def test_is_loopback() -> None:
    assert is_loopback("tcp://127.0.0.1:7001")
    assert is_loopback("tcp://localhost:7001")
    assert is_loopback("tcp://[::1]:7001")
    assert is_loopback("ipc:///tmp/venue")
    assert not is_loopback("tcp://*:7001")
    assert not is_loopback("tcp://0.0.0.0:7001")
    assert not is_loopback("tcp://eth0:7001")
    assert not is_loopback("tcp://192.168.1.5:7001")
