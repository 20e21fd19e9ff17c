"""``venue bench clearing`` runs end to end on a small workload and reports its keys."""

from __future__ import annotations

import json

import pytest

from venue.cli import main


def test_bench_clearing_small(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "clearing", "--commands", "3000", "--fills", "3000", "--repeat", "1"]
    assert main([*args, "--json", "--no-write"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["fills"] == 3000 and r["fills_per_s"] > 0
    assert r["pipeline_cmds_per_s"] > 0 and r["risk_rejects"] == 0
    assert set(r["targets"]) == {"fills_per_s", "pipeline_cmds_per_s"}
