"""The `venue` command line: the commands a newcomer runs first do what they say."""

from __future__ import annotations

import json

import pytest

from venue.cli import main


def test_venue_run_demo_prints_a_book_trades_and_holds_invariants(capsys) -> None:
    assert main(["run", "--demo", "--commands", "3000", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "trade tape" in out and "BTC-USD book" in out
    assert "invariants hold" in out
    assert "UNKNOWN_ORDER" not in out  # the demo flow cancels and amends only live orders


def test_venue_reasons_lists_every_code(capsys) -> None:
    assert main(["reasons"]) == 0
    out = capsys.readouterr().out
    assert "3013" in out and "UNKNOWN_ORDER" in out and "2001" in out


def test_venue_bench_engine_prints_a_json_line(capsys) -> None:
    args = ["bench", "engine", "--workload", "exchange-core", "--commands", "5000"]
    args += ["--reference-commands", "2000", "--json", "--no-write"]
    assert main(args) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    res = json.loads(last)
    for key in ("workload", "commands", "seconds", "cmds_per_s", "events", "trades"):
        assert key in res
    assert res["commands"] == 5000 and res["events"] > 5000 and res["trades"] > 0
    assert res["reference_events_identical"] is True


def test_unknown_command_is_refused_with_usage(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fly"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
