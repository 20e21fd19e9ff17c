"""``venue run --config``: the example configuration serves order entry on a random port."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.auth

from gateway.client import Client, RequestTimeout
from gateway.server import GatewayServer
from venue.cli import main
from venue.serve import serve

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "venue.toml"
LOOPBACK = 'bind = "tcp://127.0.0.1:7001"'
T = 3.0


def example_copy(tmp_path: Path, bind: str = 'bind = "tcp://127.0.0.1:*"') -> Path:
    """The example with a random port; its data_dir lands in tmp_path."""
    p = tmp_path / "venue.toml"
    p.write_text(EXAMPLE.read_text().replace(LOOPBACK, bind, 1))
    return p


def test_serve_example_config_accepts_its_accounts(tmp_path: Path) -> None:
    path = example_copy(tmp_path)
    seen: dict[str, object] = {}

    def trade(srv: GatewayServer) -> None:
        ctx: zmq.Context[Any] = zmq.Context()
        try:
            with Client.connect(srv.endpoint, "bob-backup-key", timeout=T, context=ctx) as c:
                seen["account"] = c.account
                seen["symbols"] = sorted(c.instruments)
                seen["usd"] = c.balances()["USD"].total
                seen["order"] = c.buy("BTC-USD", "0.1", "89000.00").status
        finally:
            ctx.destroy(linger=0)

    assert serve(config=path, duration=0.01, on_start=trade) == 0
    assert seen == {
        "account": 2,
        "symbols": ["BTC-PERP", "BTC-USD", "ETH-USD"],
        "usd": Decimal("500000.50"),
        "order": "new",
    }
    assert (tmp_path / "venue-data").is_dir()


def test_cli_run_with_config_starts_and_stops(tmp_path: Path, capsys) -> None:
    path = example_copy(tmp_path)
    assert main(["run", "--config", str(path), "--duration", "1"]) == 0
    out = capsys.readouterr().out
    assert "order entry on tcp://127.0.0.1:" in out
    assert "BTC-USD, ETH-USD, BTC-PERP" in out
    assert "alice-key" in out
    assert "openvenue: stopped" in out


def test_cli_run_refuses_bad_config_and_public_plaintext_bind(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("burst = 40000", "burst = 0"))
    assert main(["run", "--config", str(bad), "--duration", "1"]) == 2
    assert "gateway.burst" in capsys.readouterr().err
    public = example_copy(tmp_path, 'bind = "tcp://0.0.0.0:*"')
    assert main(["run", "--config", str(public), "--duration", "1"]) == 2
    assert "loopback" in capsys.readouterr().err
    ok = example_copy(tmp_path)
    assert main(["run", "--config", str(ok), "--bind", "tcp://0.0.0.0:*", "--duration", "1"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert main(["run", "--bind", "tcp://*:7001", "--duration", "1"]) == 2  # embedded default


def test_serve_curve_config_lets_in_only_allowed_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    (keys / "clients").mkdir(parents=True)
    zmq.auth.create_certificates(keys, "server")
    _, alice_secret_file = zmq.auth.create_certificates(keys / "clients", "alice")
    alice = zmq.auth.load_certificate(alice_secret_file)
    path = example_copy(
        tmp_path,
        'bind = "tcp://127.0.0.1:*"\ncurve_secret_key = "keys/server.key_secret"\n'
        'curve_allowed_clients = ["keys/clients"]',
    )
    seen: dict[str, object] = {}

    def check(srv: GatewayServer) -> None:
        ctx: zmq.Context[Any] = zmq.Context()
        try:
            server_key = srv.curve_public_key
            assert server_key is not None and alice[1] is not None
            with Client.connect(
                srv.endpoint,
                "alice-key",
                timeout=T,
                curve_server_key=server_key,
                curve_keypair=(alice[0], alice[1]),
                context=ctx,
            ) as c:
                seen["account"] = c.account
            with pytest.raises(RequestTimeout):  # another key
                Client.connect(
                    srv.endpoint, "alice-key", timeout=0.8, curve_server_key=server_key, context=ctx
                )
            seen["stranger"] = "refused"
        finally:
            ctx.destroy(linger=0)

    assert serve(config=path, duration=0.01, on_start=check) == 0
    assert seen == {"account": 1, "stranger": "refused"}


def test_cli_run_spin_us_overrides_the_file_and_refuses_bad_values(tmp_path: Path, capsys) -> None:
    assert main(["run", "--spin-us", "-1", "--duration", "1"]) == 2
    assert "--spin-us must be 0..1000000" in capsys.readouterr().err
    seen: list[int] = []
    path = example_copy(tmp_path)
    assert serve(config=path, duration=0.5, spin_us=0, on_start=lambda s: seen.append(
        s.config.spin_us)) == 0  # fmt: skip
    assert seen == [0]
