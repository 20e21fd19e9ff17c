"""``venue.config``: the example file loads; every bad file names the key and what to fix."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import zmq
import zmq.auth

from venue.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "venue.toml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "venue.toml"
    p.write_text(text)
    return p


def with_example(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text, old
    return write(tmp_path, text.replace(old, new, 1))


def fails(path: Path, *pieces: str) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    for piece in pieces:
        assert piece in msg, msg
    return msg


def test_example_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert [i.symbol for i in cfg.instruments] == ["BTC-USD", "ETH-USD", "BTC-PERP"]
    assert cfg.instruments[2].kind == "perpetual"
    assert cfg.instruments[0].tick_size == Decimal("0.01")
    assert [a.code for a in cfg.clearing.assets] == ["USD", "BTC", "ETH"]
    assert cfg.clearing.params(1).maker_fee_ppm == -50  # ETH-USD's own
    assert cfg.clearing.params(0).taker_fee_ppm == 500  # risk_defaults
    assert cfg.clearing.params(2).im_ppm == 50_000
    assert cfg.gateway.api_keys == {"alice-key": 1, "bob-key": 2, "bob-backup-key": 2}
    assert cfg.gateway.max_open_orders == 1000
    assert cfg.gateway.curve_secret_key is None
    assert cfg.accounts[1].deposits["USD"] == Decimal("500000.50")
    assert cfg.bind == "tcp://127.0.0.1:7001"
    assert cfg.data_dir == EXAMPLE.parent / "venue-data"
    assert cfg.marks == {0: 9_000_000, 2: 900_000}


def test_example_builds_a_funded_exchange(tmp_path: Path) -> None:
    cfg = load_config(with_example(tmp_path, 'data_dir = "venue-data"', 'data_dir = "d/e"'))
    srv = cfg.build_server()
    try:
        assert (tmp_path / "d" / "e").is_dir()  # created if missing
        assert sorted(srv.ex.instruments) == [0, 1, 2]
    finally:
        srv.stop()


def test_no_file_and_bad_toml(tmp_path: Path) -> None:
    fails(tmp_path / "missing.toml", "no such configuration file")
    fails(write(tmp_path, "data_dir = [\n"), "not valid TOML")


@pytest.mark.parametrize(
    ("old", "new", "pieces"),
    [
        ('tick_size = "0.01"', 'tick_size = "abc"', ["instruments[0] (BTC-USD).tick_size"]),
        ('tick_size = "0.01"', "tick_size = true", ["tick_size", "expected a number"]),
        ('tick_size = "0.01"', 'tick_size = "-1"', ["BTC-USD", "tick_size must be above zero"]),
        ('kind = "spot"', 'kind = "swap"', ["BTC-USD", "kind must be one of"]),
        ("id = 2\n", "id = 7\n", ["instruments: ids must be 0, 1, 2"]),
        ("id = 1\n", "id = 0\n", ["instruments[1] (ETH-USD).id", "used twice"]),
        ('base_asset = "BTC"', 'base_asset = "XBT"', ["base_asset", "'XBT' is not configured"]),
        ("band_bps = 1000 ", "band_bsp = 1000 ", ["instruments[0]", "unknown key 'band_bsp'"]),
        ("scale = 6 ", "scale = 1 ", ["instruments", "raise the scale of USD"]),
        ("maker_fee_ppm = -50", "maker_fee_ppm = -900", ["ETH-USD).risk", "maker rebate"]),
        ("mm_ppm = 25_000", "mm_ppm = 75_000", ["BTC-PERP).risk", "maintenance margin"]),
        ("taker_fee_ppm = 500 ", 'taker_fee_ppm = "5bp" ', ["risk_defaults.taker_fee_ppm"]),
        ("max_open_orders = 1000", "max_open_orders = -1", ["gateway.max_open_orders", ">= 0"]),
        ("burst = 40000", "bursts = 40000", ["[gateway]", "unknown key 'bursts'"]),
        ("rate_per_s = 20000", "rate_per_s = 0", ["gateway.rate_per_s", "above zero"]),
        ('USD = "1000000"', 'USD = "0.0000001"', ["accounts[0].deposits.USD", "finer"]),
        ('USD = "1000000"', 'GBP = "1"', ["accounts[0].deposits.GBP", "not configured"]),
        ('["bob-key", ', '["alice-key", ', ["accounts[1].api_keys", "two accounts"]),
        ("id = 1\napi_keys", "id = 0\napi_keys", ["accounts[0].id", ">= 1"]),
        ('mark_price = "90000.00"', 'mark_price = "90000.001"', ["mark_price", "tick size"]),
        ('data_dir = "venue-data"', "data_dir = 3", ["data_dir", "non-empty string"]),
        ('data_dir = "venue-data"', 'datadir = "x"', ["the top level", "unknown key 'datadir'"]),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, old: str, new: str, pieces: list[str]) -> None:
    fails(with_example(tmp_path, old, new), *pieces)


def test_non_loopback_bind_needs_curve(tmp_path: Path) -> None:
    path = with_example(tmp_path, 'bind = "tcp://127.0.0.1:7001"', 'bind = "tcp://0.0.0.0:7001"')
    fails(path, "gateway.bind", "loopback", "curve_secret_key")


def test_curve_keys_from_files_and_text(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    clients = keys / "clients"
    clients.mkdir(parents=True)
    server_pub, server_sec = zmq.auth.create_certificates(keys, "server")
    alice_pub, _ = zmq.auth.create_certificates(clients, "alice")
    bob_pub, _ = zmq.auth.create_certificates(clients, "bob")
    carol_pub, _ = zmq.curve_keypair()
    text = EXAMPLE.read_text().replace(
        'bind = "tcp://127.0.0.1:7001"',
        'bind = "tcp://0.0.0.0:7001"\n'
        'curve_secret_key = "keys/server.key_secret"\n'
        f'curve_allowed_clients = ["keys/clients", "{carol_pub.decode()}"]\n',
    )
    cfg = load_config(write(tmp_path, text))
    g = cfg.gateway
    assert g.curve_public_key == zmq.auth.load_certificate(server_pub)[0]
    assert g.curve_secret_key == zmq.auth.load_certificate(server_sec)[1]
    allowed = {zmq.auth.load_certificate(p)[0] for p in (alice_pub, bob_pub)} | {carol_pub}
    assert set(g.curve_allowed_clients) == allowed

    # the secret key inline as z85 text works the same
    _, secret = zmq.curve_keypair()
    inline = text.replace('"keys/server.key_secret"', f'"{secret.decode()}"')
    assert load_config(write(tmp_path, inline)).gateway.curve_secret_key == secret


@pytest.mark.parametrize(
    ("gateway_lines", "pieces"),
    [
        ('curve_secret_key = "nope"', ["gateway.curve_secret_key", "neither a z85 key"]),
        ('curve_secret_key = "keys/server.key"', ["gateway.curve_secret_key", "no secret key"]),
        ('curve_secret_key = "keys/server.key_secret"', ["curve_allowed_clients", "none would"]),
        (
            'curve_secret_key = "keys/server.key_secret"\ncurve_allowed_clients = ["keys/none"]',
            ["gateway.curve_allowed_clients[0]", "neither a z85 key"],
        ),
        ('curve_allowed_clients = ["keys/server.key"]', ["set gateway.curve_secret_key too"]),
    ],
)
def test_bad_curve_settings_name_the_key(
    tmp_path: Path, gateway_lines: str, pieces: list[str]
) -> None:
    (tmp_path / "keys").mkdir()
    zmq.auth.create_certificates(tmp_path / "keys", "server")
    path = with_example(tmp_path, "[gateway]\n", "[gateway]\n" + gateway_lines + "\n")
    msg = fails(path, *pieces)
    assert re.search(r"venue\.toml: ", msg)
