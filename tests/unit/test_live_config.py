"""``[agents]`` and ``[chaos]`` configuration tables: good ones parse, bad ones are refused
with a message naming the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from venue.live_config import parse_agents, parse_chaos


def test_agents_table() -> None:
    cfg = parse_agents(
        {"seed": 3, "rate_scale": Decimal("2"),
         "instruments": [{"symbol": "BTC-PERP", "vol": Decimal("0.8"), "market_makers": 3}]}
    )  # fmt: skip
    assert cfg.seed == 3 and cfg.rate_scale == 2.0
    (spec,) = cfg.instruments
    assert (spec.symbol, spec.vol, spec.market_makers, spec.noise_traders) == (
        "BTC-PERP",
        0.8,
        3,
        4,
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"instruments": []}, "[[agents.instruments]]"),
        (
            {"instruments": [{"symbol": "X", "nope": 1}]},
            "agents.instruments[0]: unknown key 'nope'",
        ),
        ({"instruments": [{"symbol": "X", "vol": -1}]}, "agents.instruments[0].vol"),
        ({"instruments": [{"symbol": "X", "informed": 1.5}]}, "informed: a whole number"),
        ({"instruments": [{"vol": 1}]}, "symbol"),
        ({"instruments": [{"symbol": "X"}], "deposit": -5}, "agents.deposit"),
        ({"instruments": [{"symbol": "X"}], "speed": 2}, "unknown key 'speed'"),
    ],
)
def test_bad_agents_tables(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_agents(raw)


def test_chaos_table(tmp_path: Path) -> None:
    cfg = parse_chaos(
        {"seed": 2, "halts_per_min": 1, "halt_instruments": [0, 2], "log": "chaos.jsonl",
         "session": {"reply_delay_ms": 5},
         "accounts": {"7": {"reject_probability": Decimal("0.1"), "burst": 3}}},
        base=tmp_path,
    )  # fmt: skip
    assert cfg.session.reply_delay_ms == 5.0 and cfg.halt_instruments == (0, 2)
    assert cfg.accounts[7].reject_probability == 0.1 and cfg.accounts[7].burst == 3
    assert cfg.log_path == str(tmp_path / "chaos.jsonl")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"accounts": {"x": {}}}, "chaos.accounts.x: the key is an account number"),
        ({"session": {"reject_probability": 2}}, "chaos.session: chaos reject_probability"),
        ({"halt_s": -1}, "chaos.halt_s: must be >= 0"),
        ({"what": 1}, "chaos: unknown key 'what'"),
        ({"halt_instruments": ["BTC"]}, "chaos.halt_instruments"),
        ({"burst_factor": 0}, "burst_factor must be > 0"),
        ({"log": 5}, "chaos.log"),
    ],
)
def test_bad_chaos_tables(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_chaos(raw)
