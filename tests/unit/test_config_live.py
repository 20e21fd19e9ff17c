"""The live-market parts of a venue configuration: ``[agents]``, ``[chaos]`` and the admin
socket keys, read from a real TOML file next to the example's instruments."""

from __future__ import annotations

from pathlib import Path

import pytest

from venue.config import ConfigError, load_config
from venue.live import LiveOptions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "venue.toml"

LIVE = """
[agents]
seed = 5
[[agents.instruments]]
symbol = "BTC-PERP"
informed = 2
vol = 0.5

[chaos]
seed = 9
log = "chaos.jsonl"
halts_per_min = 0.5
[chaos.accounts.2]
reject_probability = 0.25
"""


def _write(tmp_path: Path, extra: str, gateway: str = "") -> Path:
    text = EXAMPLE.read_text()
    if gateway:
        text = text.replace("[gateway]\n", "[gateway]\n" + gateway + "\n", 1)
    p = tmp_path / "venue.toml"
    p.write_text(text + extra)
    return p


def test_agents_chaos_and_admin_keys(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, LIVE, 'admin_bind = "tcp://127.0.0.1:7999"\n'
                             'admin_token = "a-long-enough-admin-token"'))  # fmt: skip
    assert cfg.agents is not None and cfg.agents.seed == 5
    assert cfg.agents.instruments[0].informed == 2 and cfg.agents.instruments[0].vol == 0.5
    assert cfg.chaos is not None and cfg.chaos.accounts[2].reject_probability == 0.25
    assert cfg.chaos.log_path == str(tmp_path / "chaos.jsonl")
    live = cfg.live_options(LiveOptions())
    assert live.agents == cfg.agents and live.chaos == cfg.chaos
    assert (live.admin_bind, live.admin_token) == (
        "tcp://127.0.0.1:7999",
        "a-long-enough-admin-token",
    )
    # the command line's explicit endpoint wins over the file's
    assert cfg.live_options(LiveOptions(admin_bind=None)).admin_bind is None


@pytest.mark.parametrize(
    ("extra", "gateway", "piece"),
    [
        ('[agents]\n[[agents.instruments]]\nsymbol = "DOGE-PERP"\n', "", "'DOGE-PERP' is not"),
        ("[chaos]\nhalt_s = -2\n", "", "chaos.halt_s"),
        ("", 'admin_bind = "tcp://0.0.0.0:7004"', "loopback only"),
        ("", 'admin_token = "short"', "gateway.admin_token"),
    ],
)
def test_bad_live_settings_name_the_key(
    tmp_path: Path, extra: str, gateway: str, piece: str
) -> None:
    with pytest.raises(ConfigError, match=piece):
        load_config(_write(tmp_path, extra, gateway))
