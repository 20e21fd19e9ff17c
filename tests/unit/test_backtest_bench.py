"""``venue bench backtest`` runs end to end on a tiny workload (a check that it works, not
a timing: figures come from the bench itself)."""

from __future__ import annotations

import json

import pytest

from backtest.sweep import DATA
from venue.cli import main


def test_bench_backtest_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    if not (DATA / "lobster").exists() or not (DATA / "binance").exists():
        pytest.skip(f"shared data not found at {DATA} (see ../shared/data/README.md)")
    rc = main(
        ["bench", "backtest", "--max-events", "3000", "--runs", "1", "--no-write",
         "--no-hftbacktest", "--json"]
    )  # fmt: skip
    assert rc == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["events_per_s"] > 0 and r["python_events_per_s"] > 0 and r["l2_events_per_s"] > 0
    assert r["l3_numba"]["numba_fills_match_python"] is True
    assert r["hftbacktest_events_per_s"] is None and "skipped" in r["hftbacktest_reason"]
