"""``venue report balances``: totals, balances and the net settlement of a clearing ledger.

Without ``--state`` it runs a small deterministic session on the embedded default venue
(deposits, spot and perpetual trades, a mark change and a funding) through ``Exchange`` and
reports on it; with ``--state DIR`` it reads a ledger saved by ``clearing.statements.save_ledger``
(``DIR/ledger.npy`` + ``DIR/assets.json``). ``--statements OUT`` also writes per-account CSV and
JSON statements and ``net-settlement.csv`` there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from clearing.config import Asset
from clearing.records import SYS_INSURANCE
from clearing.statements import (
    ledger_accounts,
    ledger_totals,
    load_ledger,
    net_settlement,
    net_sums,
    net_table,
    statement,
    text_table,
    totals_table,
    units_text,
    write_statements,
)

if TYPE_CHECKING:
    from clearing.exchange import Exchange

BTC_USD, BTC_PERP = 0, 2


def demo_session() -> Exchange:
    """A small deterministic session on the default venue (USD scale 6, BTC scale 8):
    four accounts and the insurance fund deposit; account 2 sells 0.5 BTC spot to accounts 1
    and 3; accounts 3 and 4 open BTC-PERP positions and 4 partly closes at a profit; quotes
    around 90,500 then move the mark (banded mid) and one funding is paid. O(1); the first
    call in a process compiles the kernels (minutes once, cached afterwards)."""
    from clearing.exchange import Exchange
    from venue.defaults import default_instruments

    ex = Exchange(default_instruments())
    usd, btc = 0, 1
    deposits = (
        (1, usd, 1_000_000_000_000),  # $1,000,000
        (2, usd, 200_000_000_000),  # $200,000
        (2, btc, 1_000_000_000),  # 10 BTC
        (3, usd, 500_000_000_000),
        (4, usd, 500_000_000_000),
        (SYS_INSURANCE, usd, 100_000_000_000),
    )
    for tid, (acct, asset, amount) in enumerate(deposits, start=1):
        ex.deposit(acct, asset, amount, tid)
    # spot BTC-USD: tick $0.01, lot 0.0001 BTC
    ex.limit(BTC_USD, 2, "sell", 5_000, 9_000_000)  # 0.5 BTC at $90,000
    ex.limit(BTC_USD, 1, "buy", 3_000, 9_000_000)
    ex.limit(BTC_USD, 3, "buy", 2_500, 9_001_000)  # takes the rest, 500 lots left resting
    # BTC-PERP: tick $0.1, lot 0.001 BTC; mark starts at $90,000
    ex.limit(BTC_PERP, 3, "sell", 1_000, 900_000)
    ex.limit(BTC_PERP, 4, "buy", 1_000, 900_000)  # 4 long 1 BTC, 3 short
    ex.limit(BTC_PERP, 1, "sell", 500, 901_000)
    ex.limit(BTC_PERP, 4, "buy", 500, 901_000)  # 4 long 1.5
    ex.limit(BTC_PERP, 3, "buy", 300, 903_000)  # 3 bids $90,300 (reduces its short)
    ex.limit(BTC_PERP, 4, "sell", 300, 903_000)  # 4 closes 0.3 at a profit
    ex.limit(BTC_PERP, 1, "buy", 100, 903_000)
    ex.limit(BTC_PERP, 2, "sell", 100, 907_000)  # book mid $90,500
    ex.set_mark(BTC_PERP, 900_000, banded_mid=True)  # mark = mid clamped to index +- 0.5%
    ex.funding(BTC_PERP)  # mark > index: longs pay shorts
    return ex


def _balances_table(ledger: np.ndarray, assets: tuple[Asset, ...]) -> str:
    rows = []
    for acct in ledger_accounts(ledger):
        lines = statement(ledger, acct)
        closing: dict[int, int] = {}
        for ln in lines:
            closing[ln.asset] = ln.balance
        for a, b in sorted(closing.items()):
            rows.append([str(acct), assets[a].code, str(len(lines)), units_text(assets[a], b)])
    return text_table(("account", "asset", "entries", "balance"), rows)


def report_balances(
    state: str | None = None, statements_dir: str | None = None, out: TextIO | None = None
) -> int:
    """Print totals, client balances and the net settlement of the demo session or of a saved
    ledger; write statements when asked. Returns a process exit code. O(entries x accounts)."""
    p = (out or sys.stdout).write
    if state is None:
        ex = demo_session()
        ex.check_invariants()
        ledger, assets = ex.ledger(), ex.config.assets
        symbols = {i: inst.symbol for i, inst in ex.instruments.items()}
        p(f"openvenue clearing report: the demo session ({len(ledger)} ledger entries)\n\n")
        p("totals (conservation: every row sums to 0):\n")
        p(totals_table(ex))
    else:
        try:
            ledger, assets, symbols = load_ledger(state)
        except (OSError, ValueError, KeyError) as exc:
            print(f"venue report: cannot read the ledger in {state}: {exc}", file=sys.stderr)
            return 1
        p(f"openvenue clearing report: {state} ({len(ledger)} ledger entries)\n\n")
        p("totals from the ledger (held is not in a ledger):\n")
        p(totals_table(totals=ledger_totals(ledger, assets), assets=assets))
    p("\nclient balances:\n")
    p(_balances_table(ledger, assets))
    seqs = ledger["seq"]
    lines = net_settlement(ledger)
    cycle = f"seq {int(seqs.min())}..{int(seqs.max())}" if len(seqs) else "empty"
    p(f"\nnet settlement of the cycle ({cycle}; + receives, - owes):\n")
    p(net_table(lines, assets, symbols))
    sums = net_sums(lines)
    check = ", ".join(f"{assets[a].code} {units_text(assets[a], s)}" for a, s in sums.items())
    p(f"nets per asset sum to zero: {check or 'nothing moved'}\n")
    if statements_dir is not None:
        paths = write_statements(ledger, statements_dir, assets, symbols=symbols)
        p(f"\nwrote {len(paths)} files to {Path(statements_dir)}\n")
    return 0
