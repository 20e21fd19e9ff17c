"""Statements and settlement reports read from the clearing ledger (docs/clearing.md 3, 8, 9).

Everything here reads a LEDGER_DTYPE array (``Exchange.ledger()`` or one saved by
``save_ledger``) and never touches the exchange's state, so it runs on a live exchange or on an
archived ledger alike. Amounts are int units of each asset; files show them as exact decimal
strings in asset units (``Asset.from_units``). Costs are O(entries) in Python ints (exact).

- ``net_settlement``: the multilateral net of one settlement cycle, per account and asset.
- ``statement``: one account's entries in order with a running balance per asset.
- ``write_statements``: CSV and JSON per account, plus ``net-settlement.csv``.
- ``totals_table``: ``Exchange.totals()`` as a fixed-width text table.
- ``save_ledger`` / ``load_ledger``: ``ledger.npy`` + ``assets.json`` in a directory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clearing.config import Asset
from clearing.records import LEDGER_DTYPE, LEDGER_KIND_NAMES, SYS_NAMES, SYS_POOL

if TYPE_CHECKING:
    from clearing.exchange import Exchange

LEDGER_FILE = "ledger.npy"
ASSETS_FILE = "assets.json"


def account_name(account: int) -> str:
    """A client account's id as text, or a system account's name (EXTERNAL, FEES, ...)."""
    return SYS_NAMES.get(account, str(account)) if account < 0 else str(account)


def kind_name(kind: int) -> str:
    return LEDGER_KIND_NAMES.get(kind, f"kind{kind}")


def units_text(asset: Asset, units: int) -> str:
    """Exact decimal text of ``units`` in asset units, never in exponent form: '0.045000'."""
    return f"{asset.from_units(units):f}"


def _rows(ledger: np.ndarray) -> Iterable[tuple[int, int, int, int, int, int, int, int]]:
    """The ledger as tuples of Python ints: seq, ref, amount, from, to, instrument, asset, kind."""
    if ledger.dtype != LEDGER_DTYPE:
        raise TypeError(f"ledger must be LEDGER_DTYPE records, not {ledger.dtype}")
    return zip(
        ledger["seq"].tolist(),
        ledger["ref"].tolist(),
        ledger["amount"].tolist(),
        ledger["from_account"].tolist(),
        ledger["to_account"].tolist(),
        ledger["instrument"].tolist(),
        ledger["asset"].tolist(),
        ledger["kind"].tolist(),
        strict=True,
    )


def _ledger_of(ex_or_ledger: Exchange | np.ndarray) -> np.ndarray:
    return ex_or_ledger if isinstance(ex_or_ledger, np.ndarray) else ex_or_ledger.ledger()


# --- net settlement ------------------------------------------------------------------------
@dataclass(frozen=True)
class NetLine:
    """What one account receives and pays in one asset over a cycle; ``net = receives - pays``
    (> 0: it is owed money, < 0: it owes). POOL lines name their instrument; others have -1."""

    account: int
    asset: int
    receives: int
    pays: int
    net: int
    instrument: int = -1


def net_settlement(
    ledger: np.ndarray, since_seq: int = 0, until_seq: int | None = None
) -> list[NetLine]:
    """The multilateral net settlement report of one cycle. A cycle is a range of command
    sequence numbers, ``since_seq < seq <= until_seq`` (None: to the end): the operator cuts
    cycles (daily, say) by recording the last seq of each. Every entry counts, system accounts
    included (EXTERNAL, FEES, INSURANCE, and each instrument's POOL). Lines are ordered by asset,
    client accounts first, then system accounts. Raises ValueError when an entry's amount is
    not positive or the nets of an asset do not sum to zero. O(entries)."""
    recv: dict[tuple[int, int, int], int] = {}
    pays: dict[tuple[int, int, int], int] = {}
    for seq, _ref, amount, frm, to, iid, asset, _kind in _rows(ledger):
        if seq <= since_seq or (until_seq is not None and seq > until_seq):
            continue
        if amount <= 0:
            raise ValueError(f"ledger entry of seq {seq} has a non-positive amount {amount}")
        kf = (frm, iid if frm == SYS_POOL else -1, asset)
        kt = (to, iid if to == SYS_POOL else -1, asset)
        pays[kf] = pays.get(kf, 0) + amount
        recv[kt] = recv.get(kt, 0) + amount

    def order(k: tuple[int, int, int]) -> tuple[int, int, int, int]:
        acct, iid, asset = k
        return (asset, 0 if acct > 0 else 1, acct if acct > 0 else -acct, iid)

    lines = [
        NetLine(
            account=k[0],
            asset=k[2],
            receives=recv.get(k, 0),
            pays=pays.get(k, 0),
            net=recv.get(k, 0) - pays.get(k, 0),
            instrument=k[1],
        )
        for k in sorted(recv.keys() | pays.keys(), key=order)
    ]
    bad = {a: s for a, s in net_sums(lines).items() if s != 0}
    if bad:
        raise ValueError(f"net settlement does not sum to zero per asset: {bad}")
    return lines


def net_sums(lines: Iterable[NetLine]) -> dict[int, int]:
    """Per asset, the sum of the nets: zero when the ledger conserves money. O(lines)."""
    out: dict[int, int] = {}
    for ln in lines:
        out[ln.asset] = out.get(ln.asset, 0) + ln.net
    return out


# --- per-account statement -----------------------------------------------------------------
@dataclass(frozen=True)
class StatementLine:
    """One ledger entry seen from one account: ``amount`` signed (+ in, - out) and ``balance``
    the account's running balance in that asset after it."""

    seq: int
    ref: int
    kind: str
    counterparty: str
    instrument: int
    asset: int
    amount: int
    balance: int


def statement(
    ledger: np.ndarray, account: int, opening: dict[int, int] | None = None
) -> list[StatementLine]:
    """Every ledger entry touching ``account``, in ledger order, with the running balance per
    asset starting from ``opening`` (asset -> units; default 0). Counterparties are account ids
    or system account names. For SYS_POOL all instruments' pools count as one. O(entries)."""
    bal = dict(opening or {})
    out: list[StatementLine] = []
    for seq, ref, amount, frm, to, iid, asset, kind in _rows(ledger):
        if account not in (frm, to):
            continue
        signed = (amount if to == account else 0) - (amount if frm == account else 0)
        bal[asset] = bal.get(asset, 0) + signed
        other = frm if to == account else to
        out.append(
            StatementLine(
                seq=seq,
                ref=ref,
                kind=kind_name(kind),
                counterparty=account_name(other),
                instrument=iid,
                asset=asset,
                amount=signed,
                balance=bal[asset],
            )
        )
    return out


def closing_balances(lines: Sequence[StatementLine], opening: Mapping[int, int]) -> dict[int, int]:
    """asset -> balance after the last line (the opening where an asset has none). O(lines)."""
    out = dict(opening)
    for ln in lines:
        out[ln.asset] = ln.balance
    return out


def ledger_accounts(ledger: np.ndarray) -> list[int]:
    """Client account ids (>= 1) that appear in the ledger, ascending. O(entries)."""
    ids = np.union1d(ledger["from_account"], ledger["to_account"])
    return [int(a) for a in ids if a >= 1]


# --- files ---------------------------------------------------------------------------------
STATEMENT_COLUMNS: tuple[str, ...] = ("seq", "ref", "kind", "counterparty", "instrument")
STATEMENT_COLUMNS += ("symbol", "asset", "amount", "balance")
NET_COLUMNS = ("account", "instrument", "symbol", "asset", "receives", "pays", "net")


def _symbols_of(ex_or_ledger: Exchange | np.ndarray) -> dict[int, str]:
    if isinstance(ex_or_ledger, np.ndarray):
        return {}
    return {iid: inst.symbol for iid, inst in ex_or_ledger.instruments.items()}


def write_statements(
    ex_or_ledger: Exchange | np.ndarray,
    out_dir: str | Path,
    assets: Sequence[Asset],
    accounts: Iterable[int] | None = None,
    symbols: Mapping[int, str] | None = None,
) -> list[Path]:
    """Write ``account-<id>.csv`` and ``account-<id>.json`` per account (default: every client
    account in the ledger) and ``net-settlement.csv`` of the whole ledger into ``out_dir``
    (created). Amounts are exact decimal strings in asset units. Returns the paths written.
    O(entries x accounts)."""
    ledger = _ledger_of(ex_or_ledger)
    syms = dict(symbols) if symbols is not None else _symbols_of(ex_or_ledger)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def sym(iid: int) -> str:
        return syms.get(iid, "") if iid >= 0 else ""

    for acct in ledger_accounts(ledger) if accounts is None else list(accounts):
        lines = statement(ledger, acct)
        rows = [
            {
                "seq": ln.seq,
                "ref": ln.ref,
                "kind": ln.kind,
                "counterparty": ln.counterparty,
                "instrument": ln.instrument,
                "symbol": sym(ln.instrument),
                "asset": assets[ln.asset].code,
                "amount": units_text(assets[ln.asset], ln.amount),
                "balance": units_text(assets[ln.asset], ln.balance),
            }
            for ln in lines
        ]
        path = out / f"account-{acct}.csv"
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=STATEMENT_COLUMNS)
            w.writeheader()
            w.writerows(rows)
        written.append(path)
        closing = closing_balances(lines, {})
        doc: dict[str, Any] = {
            "account": acct,
            "closing": {
                assets[a].code: units_text(assets[a], b) for a, b in sorted(closing.items())
            },
            "lines": rows,
        }
        path = out / f"account-{acct}.json"
        path.write_text(json.dumps(doc, indent=1) + "\n")
        written.append(path)
    path = out / "net-settlement.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=NET_COLUMNS)
        w.writeheader()
        for n in net_settlement(ledger):
            a = assets[n.asset]
            w.writerow(
                {
                    "account": account_name(n.account),
                    "instrument": n.instrument,
                    "symbol": sym(n.instrument),
                    "asset": a.code,
                    "receives": units_text(a, n.receives),
                    "pays": units_text(a, n.pays),
                    "net": units_text(a, n.net),
                }
            )
    written.append(path)
    return written


def save_ledger(
    ex: Exchange, out_dir: str | Path, ledger: np.ndarray | None = None
) -> tuple[Path, Path]:
    """Write ``ledger.npy`` (np.save of the LEDGER_DTYPE array) and ``assets.json`` (the assets
    and instrument symbols) into ``out_dir``; ``load_ledger`` reads them back. O(entries)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    led = ex.ledger() if ledger is None else ledger
    lp, ap = out / LEDGER_FILE, out / ASSETS_FILE
    np.save(lp, np.ascontiguousarray(led, dtype=LEDGER_DTYPE), allow_pickle=False)
    meta = {
        "assets": [{"code": a.code, "scale": a.scale} for a in ex.config.assets],
        "symbols": {str(i): s for i, s in sorted(_symbols_of(ex).items())},
    }
    ap.write_text(json.dumps(meta, indent=1) + "\n")
    return lp, ap


def load_ledger(state_dir: str | Path) -> tuple[np.ndarray, tuple[Asset, ...], dict[int, str]]:
    """(ledger, assets, symbols) from a directory written by ``save_ledger``; ``assets.json``
    may also be a bare list of ``{"code", "scale"}``. Raises ValueError on a wrong dtype."""
    d = Path(state_dir)
    led = np.load(d / LEDGER_FILE, allow_pickle=False)
    if led.dtype != LEDGER_DTYPE:
        raise ValueError(f"{d / LEDGER_FILE} is not a LEDGER_DTYPE array ({led.dtype})")
    meta = json.loads((d / ASSETS_FILE).read_text())
    raw = meta if isinstance(meta, list) else meta["assets"]
    assets = tuple(Asset(str(a["code"]), int(a["scale"])) for a in raw)
    symbols = {} if isinstance(meta, list) else {int(k): str(v) for k, v in meta["symbols"].items()}
    if len(led) and int(led["asset"].max()) >= len(assets):
        raise ValueError(f"{d / LEDGER_FILE} names asset {int(led['asset'].max())} not in assets")
    return led, assets, symbols


# --- text tables ---------------------------------------------------------------------------
TOTALS_COLUMNS = ("asset", "accounts", "held", "fees", "insurance", "pools", "external", "sum")


def ledger_totals(ledger: np.ndarray, assets: Sequence[Asset]) -> list[dict[str, int | str]]:
    """``Exchange.totals()`` rebuilt from a ledger alone (held is unknown there: '-'). O(n)."""
    out: list[dict[str, int | str]] = []
    col = {-1: "external", -2: "fees", -3: "insurance", SYS_POOL: "pools"}
    acc: list[dict[str, int]] = [dict.fromkeys(col.values(), 0) | {"accounts": 0} for _ in assets]
    for _seq, _ref, amount, frm, to, _iid, asset, _kind in _rows(ledger):
        acc[asset][col.get(frm, "accounts")] -= amount
        acc[asset][col.get(to, "accounts")] += amount
    for a, t in zip(assets, acc, strict=True):
        row: dict[str, int | str] = {"asset": a.code, "accounts": t["accounts"], "held": "-"}
        row |= {k: t[k] for k in ("fees", "insurance", "pools", "external")}
        row["sum"] = sum(t.values())
        out.append(row)
    return out


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns: the first left-aligned, the rest right-aligned. O(cells)."""
    widths = [max([len(h), *(len(r[k]) for r in rows)]) for k, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(r) for r in rows)]) + "\n"


def totals_table(
    ex: Exchange | None = None,
    totals: Sequence[Mapping[str, int | str]] | None = None,
    assets: Sequence[Asset] | None = None,
) -> str:
    """``Exchange.totals()`` (or given ``totals`` rows and their ``assets``) as a fixed-width
    text table in decimal asset units. Plain text: rich is not a dependency. O(assets)."""
    if ex is not None:
        totals, assets = ex.totals(), ex.config.assets
    if totals is None or assets is None:
        raise ValueError("totals_table needs an Exchange, or totals and assets")
    rows = []
    for a, t in zip(assets, totals, strict=True):
        rows.append(
            [a.code]
            + [
                v if isinstance(v := t[c], str) else units_text(a, int(v))
                for c in TOTALS_COLUMNS[1:]
            ]
        )
    return text_table(TOTALS_COLUMNS, rows)


def net_table(
    lines: Sequence[NetLine], assets: Sequence[Asset], symbols: Mapping[int, str] | None = None
) -> str:
    """A net settlement report as a fixed-width text table, one row per line. O(lines)."""
    syms = symbols or {}
    rows = []
    for n in lines:
        a = assets[n.asset]
        who = account_name(n.account)
        if n.account == SYS_POOL:
            who += f" {syms.get(n.instrument, n.instrument)}"
        rows.append(
            [who, a.code, units_text(a, n.receives), units_text(a, n.pays), units_text(a, n.net)]
        )
    return text_table(("account", "asset", "receives", "pays", "net"), rows)
