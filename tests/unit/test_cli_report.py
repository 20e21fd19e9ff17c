"""`venue report balances`: the demo session's report, statements, and a saved ledger."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from venue.cli import main


def test_report_balances_runs_the_demo_and_writes_statements(capsys, tmp_path: Path) -> None:
    assert main(["report", "balances", "--statements", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "totals" in out and "net settlement" in out and "POOL BTC-PERP" in out
    assert "nets per asset sum to zero: USD 0.000000, BTC 0.00000000" in out
    names = {p.name for p in tmp_path.iterdir()}
    assert {"account-1.csv", "account-4.json", "net-settlement.csv"} <= names
    doc = json.loads((tmp_path / "account-4.json").read_text())
    kinds = [ln["kind"] for ln in doc["lines"]]
    assert "realised_pnl" in kinds and "funding" in kinds
    with (tmp_path / "net-settlement.csv").open() as f:
        rows = list(csv.DictReader(f))
    from decimal import Decimal

    for asset in {r["asset"] for r in rows}:
        assert sum(Decimal(r["net"]) for r in rows if r["asset"] == asset) == 0


def test_report_balances_reads_a_saved_ledger(capsys, tmp_path: Path) -> None:
    from clearing.statements import save_ledger
    from venue.report import demo_session

    ex = demo_session()
    save_ledger(ex, tmp_path / "state")
    assert main(["report", "balances", "--state", str(tmp_path / "state")]) == 0
    out = capsys.readouterr().out
    assert f"({len(ex.ledger())} ledger entries)" in out and "POOL BTC-PERP" in out
    assert main(["report", "balances", "--state", str(tmp_path / "missing")]) == 1
    assert "cannot read the ledger" in capsys.readouterr().err
