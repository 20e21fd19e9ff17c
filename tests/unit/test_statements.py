"""clearing/statements.py on a tiny hand-checked scenario (default venue, BTC-USD spot).

Account 1 deposits $100,000 (USD scale 6), account 2 deposits 1 BTC (scale 8); 2 rests a sell
of 10 lots (0.001 BTC) at $90,000.00 and 1 buys them (taker). nf 1, bf 10,000:
  notional 9,000,000 ticks x 10 lots = 90,000,000 units ($90) from 1 to 2
  base 10 x 10,000 = 100,000 units (0.001 BTC) from 2 to 1
  taker fee ceil(90,000,000 x 500 / 1e6) = 45,000 (1 -> FEES); maker 9,000 (2 -> FEES)
Seqs: deposits 1 and 2, the sell 3, the buy (the trade) 4.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from clearing.records import LEDGER_DTYPE, SYS_EXTERNAL, SYS_FEES
from clearing.statements import (
    NetLine,
    StatementLine,
    ledger_totals,
    load_ledger,
    net_settlement,
    net_sums,
    save_ledger,
    statement,
    totals_table,
    write_statements,
)

USD, BTC = 0, 1
DEP_USD, DEP_BTC = 100_000_000_000, 100_000_000


@pytest.fixture(scope="module")
def ex():
    from clearing.exchange import Exchange
    from venue.defaults import default_instruments

    x = Exchange(default_instruments())
    x.deposit(1, "USD", DEP_USD, 1)
    x.deposit(2, "BTC", DEP_BTC, 1)
    x.limit(0, 2, "sell", 10, 9_000_000)
    x.limit(0, 1, "buy", 10, 9_000_000)
    x.check_invariants()
    return x


def test_statement_lines_and_running_balances(ex) -> None:
    led = ex.ledger()
    assert statement(led, 1) == [
        StatementLine(1, 1, "deposit", "EXTERNAL", -1, USD, DEP_USD, DEP_USD),
        StatementLine(4, 1, "notional", "2", 0, USD, -90_000_000, 99_910_000_000),
        StatementLine(4, 1, "base", "2", 0, BTC, 100_000, 100_000),
        StatementLine(4, 1, "fee", "FEES", 0, USD, -45_000, 99_909_955_000),
    ]
    assert statement(led, 2) == [
        StatementLine(2, 1, "deposit", "EXTERNAL", -1, BTC, DEP_BTC, DEP_BTC),
        StatementLine(4, 1, "notional", "1", 0, USD, 90_000_000, 90_000_000),
        StatementLine(4, 1, "base", "1", 0, BTC, -100_000, 99_900_000),
        StatementLine(4, 1, "fee", "FEES", 0, USD, -9_000, 89_991_000),
    ]
    # the closing balances are the exchange's
    assert ex.balance(1, USD)[0] == 99_909_955_000 and ex.balance(2, BTC)[0] == 99_900_000
    # an opening balance carries into the running balance; system accounts have statements too
    assert statement(led, 2, opening={USD: 5})[1].balance == 90_000_005
    fees = statement(led, SYS_FEES)
    assert [(s.counterparty, s.amount, s.balance) for s in fees] == [
        ("1", 45_000, 45_000),
        ("2", 9_000, 54_000),
    ]


def test_net_settlement_of_the_whole_ledger_and_of_one_cycle(ex) -> None:
    led = ex.ledger()
    assert net_settlement(led) == [
        NetLine(1, USD, DEP_USD, 90_045_000, 99_909_955_000),
        NetLine(2, USD, 90_000_000, 9_000, 89_991_000),
        NetLine(SYS_EXTERNAL, USD, 0, DEP_USD, -DEP_USD),
        NetLine(SYS_FEES, USD, 54_000, 0, 54_000),
        NetLine(1, BTC, 100_000, 0, 100_000),
        NetLine(2, BTC, DEP_BTC, 100_000, DEP_BTC - 100_000),
        NetLine(SYS_EXTERNAL, BTC, 0, DEP_BTC, -DEP_BTC),
    ]
    cycle = net_settlement(led, since_seq=2, until_seq=4)  # the trade only
    assert {(n.account, n.asset): n.net for n in cycle} == {
        (1, USD): -90_045_000,
        (2, USD): 89_991_000,
        (SYS_FEES, USD): 54_000,
        (1, BTC): 100_000,
        (2, BTC): -100_000,
    }
    assert net_sums(cycle) == {USD: 0, BTC: 0}
    assert net_settlement(led, since_seq=0, until_seq=1) == [
        NetLine(1, USD, DEP_USD, 0, DEP_USD),
        NetLine(SYS_EXTERNAL, USD, 0, DEP_USD, -DEP_USD),
    ]


def test_net_settlement_refuses_a_broken_ledger() -> None:
    led = np.zeros(1, dtype=LEDGER_DTYPE)
    led[0] = (1, 1, 0, SYS_EXTERNAL, 1, -1, 0, 1)  # amount 0 is never written
    with pytest.raises(ValueError, match="non-positive"):
        net_settlement(led)


def test_files_are_written_exact_and_parseable(ex, tmp_path: Path) -> None:
    paths = write_statements(ex, tmp_path, ex.config.assets)
    names = sorted(p.name for p in paths)
    assert names == [
        "account-1.csv",
        "account-1.json",
        "account-2.csv",
        "account-2.json",
        "net-settlement.csv",
    ]
    with (tmp_path / "account-1.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["kind"], r["asset"], r["amount"], r["balance"]) for r in rows] == [
        ("deposit", "USD", "100000.000000", "100000.000000"),
        ("notional", "USD", "-90.000000", "99910.000000"),
        ("base", "BTC", "0.00100000", "0.00100000"),
        ("fee", "USD", "-0.045000", "99909.955000"),
    ]
    assert rows[1]["symbol"] == "BTC-USD" and rows[1]["counterparty"] == "2"
    doc = json.loads((tmp_path / "account-2.json").read_text())
    assert doc["account"] == 2
    assert doc["closing"] == {"USD": "89.991000", "BTC": "0.99900000"}
    assert [ln["amount"] for ln in doc["lines"]] == ["1.00000000", "90.000000", "-0.00100000",
                                                      "-0.009000"]  # fmt: skip
    with (tmp_path / "net-settlement.csv").open() as f:
        net = list(csv.DictReader(f))
    fees = next(r for r in net if r["account"] == "FEES")
    assert (fees["asset"], fees["receives"], fees["net"]) == ("USD", "0.054000", "0.054000")
    # only the asked accounts
    only = write_statements(ex.ledger(), tmp_path / "one", ex.config.assets, accounts=[2])
    assert sorted(p.name for p in only) == ["account-2.csv", "account-2.json", "net-settlement.csv"]


def test_save_and_load_round_trip(ex, tmp_path: Path) -> None:
    save_ledger(ex, tmp_path)
    led, assets, symbols = load_ledger(tmp_path)
    assert led.dtype == LEDGER_DTYPE and np.array_equal(led, ex.ledger())
    assert assets == ex.config.assets and symbols[0] == "BTC-USD"
    assert net_settlement(led) == net_settlement(ex.ledger())
    # the totals rebuilt from the ledger agree with the exchange's (held is not in a ledger)
    rebuilt = ledger_totals(led, assets)
    for mine, theirs in zip(rebuilt, ex.totals(), strict=True):
        assert {k: v for k, v in mine.items() if k != "held"} == {
            k: v for k, v in theirs.items() if k != "held"
        }


def test_totals_table_is_fixed_width_decimal(ex) -> None:
    text = totals_table(ex)
    lines = text.splitlines()
    assert lines[0].split() == [
        "asset", "accounts", "held", "fees", "insurance", "pools", "external", "sum"
    ]  # fmt: skip
    assert len({len(ln) for ln in lines}) == 1  # every line the same width
    usd = lines[2].split()
    assert usd[0] == "USD" and usd[1] == "99999.946000" and usd[3] == "0.054000"
    assert usd[-1] == "0.000000"
