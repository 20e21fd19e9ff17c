"""The operator's admin socket over loopback: kill switch and halt from outside the gateway's
thread take effect on real sessions, a bad token is refused, status and sessions report the
venue, and ``venue admin`` drives it from the command line."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq

from gateway import protocol as P
from gateway.admin import AdminClient, AdminService, write_token
from gateway.server import GatewayConfig, GatewayServer, demo_exchange
from matching import reasons as R
from tests.integration.test_gateway import KEYS, PX, Conn, _new
from venue.cli import main

TOKEN = "test-admin-token-0123456789"


@pytest.fixture
def venue() -> Iterator[tuple[GatewayServer, str, str, zmq.Context[Any]]]:
    ctx: zmq.Context[Any] = zmq.Context()
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(KEYS)), ctx)
    ep = srv.bind("tcp://127.0.0.1:*")
    admin = AdminService(srv, TOKEN)
    admin_ep = admin.bind("tcp://127.0.0.1:*")
    admin.attach()
    srv.start()
    try:
        yield srv, ep, admin_ep, ctx
    finally:
        srv.stop()
        admin.close()
        srv.ex.check_invariants()
        ctx.destroy(linger=0)


def test_kill_switch_and_halt_from_outside(venue: Any) -> None:
    _srv, ep, admin_ep, ctx = venue
    c = Conn(ctx, ep)
    c.logon("k2")
    c.send(_new(1, px=PX - 10, req=1))
    assert c.recv().exec_type == "new"
    with AdminClient(admin_ep, TOKEN) as adm:
        r = adm.kill_switch(2)
        assert r.ok and "account 2" in r.text
        cancelled = c.until(lambda m: getattr(m, "exec_type", "") == "cancelled")
        assert cancelled.reason == R.CANCEL_KILL_SWITCH
        c.send(_new(2, px=PX - 10, req=2))
        assert c.recv().reason == R.KILL_SWITCH_ACTIVE
        assert adm.status().data["killed_accounts"] == [2]
        assert adm.kill_switch(2, on=False).ok
        c.send(_new(3, px=PX - 10, req=3))
        assert c.until(lambda m: getattr(m, "req", 0) == 3).exec_type == "new"
        # halt by symbol, then resume by id
        r = adm.halt("BTC-USD")
        assert r.ok and r.data == {"instrument": 0}
        c.send(_new(4, px=PX - 10, req=4))
        assert c.until(lambda m: getattr(m, "req", 0) == 4).reason == R.INSTRUMENT_HALTED
        st = adm.status().data
        assert st["instruments"][0] == {"id": 0, "symbol": "BTC-USD", "halted": True}
        assert adm.halt(0, on=False).ok
        c.send(_new(5, px=PX - 10, req=5))
        assert c.until(lambda m: getattr(m, "req", 0) == 5).exec_type == "new"
        sessions = adm.sessions()
        assert sessions.ok and [s["account"] for s in sessions.data] == [2]
        nobody = adm.kill_switch(0)
        assert not nobody.ok and "account must be >= 1" in nobody.text
        unknown = adm.halt("NOPE-USD")
        assert not unknown.ok and "BTC-USD" in unknown.text  # says what exists
    c.close()


def test_bad_token_and_malformed_requests_are_refused(venue: Any, capsys: Any) -> None:
    srv, _ep, admin_ep, _ctx = venue
    with AdminClient(admin_ep, "wrong-token-but-long-enough") as adm:
        r = adm.kill_switch(1)
        assert not r.ok and r.text == "bad admin token"
        adm.sock.send(b"\xc1 not msgpack")
        assert adm.sock.poll(3000)
        r = msgspec.msgpack.decode(adm.sock.recv(), type=dict)
        assert r["ok"] is False and "malformed" in r["text"]
    assert srv.killed == set()
    assert "bad token" in capsys.readouterr().err
    svc = AdminService(srv, TOKEN)
    try:
        with pytest.raises(ValueError, match="loopback"):
            svc.bind("tcp://0.0.0.0:0")
    finally:
        svc.close()
    with pytest.raises(ValueError, match="16"):
        AdminService(srv, "short")


def test_venue_admin_command_line(venue: Any, tmp_path: Path, capsys: Any) -> None:
    _srv, _ep, admin_ep, _ctx = venue
    token = write_token(tmp_path, TOKEN)
    path = tmp_path / "admin.token"
    assert token == TOKEN and stat.S_IMODE(path.stat().st_mode) == 0o600
    base = ["admin", "--endpoint", admin_ep, "--token-file", str(path)]
    assert main([*base, "halt", "ETH-USD"]) == 0
    assert "ETH-USD halted" in capsys.readouterr().out
    assert main([*base, "status"]) == 0
    out = capsys.readouterr().out
    assert "ETH-USD" in out and "HALTED" in out
    assert main([*base, "--json", "kill-switch", "3"]) == 0
    assert '"ok": true' in capsys.readouterr().out
    assert main(["admin", "--endpoint", admin_ep, "--token", "x" * 20, "status"]) == 1
    assert "refused: bad admin token" in capsys.readouterr().out
    missing = ["admin", "--token-file", str(tmp_path / "none"), "status"]
    assert main(missing) == 2
    assert "cannot read the admin token" in capsys.readouterr().err


def test_no_venue_times_out() -> None:
    with (
        AdminClient("tcp://127.0.0.1:9", TOKEN, timeout_s=0.3) as adm,
        pytest.raises(TimeoutError, match="admin endpoint"),
    ):
        adm.status()
    assert P.PROTOCOL_VERSION == 1


def test_chaos_switched_on_and_off_from_outside(venue: Any, capsys: Any) -> None:
    srv, ep, admin_ep, ctx = venue
    c = Conn(ctx, ep)
    c.logon("k2")
    with AdminClient(admin_ep, TOKEN) as adm:
        r = adm.chaos(2, reject_probability=1.0)
        assert r.ok and "reject_probability=1.0" in r.text
        c.send(_new(1, px=PX - 10, req=1))
        assert c.recv().exec_type == "rejected"
        bad = adm.chaos(2, reject_probability=2.0)
        assert not bad.ok and "reject_probability" in bad.text
    base = ["admin", "--endpoint", admin_ep, "--token", TOKEN]
    assert main([*base, "chaos", "--account", "2"]) == 0  # all zero: off
    assert "chaos for account 2: off" in capsys.readouterr().out
    c.send(_new(2, px=PX - 10, req=2))
    assert c.recv().exec_type == "new"
    assert [e["chaos"] for e in srv.chaos.events][-1] == "configured"
    c.close()
