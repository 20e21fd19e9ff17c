"""Every clearing reject code (2002..2099), produced on purpose by a minimal bad command on the
numba ``Exchange`` and on the ``ReferenceExchange`` (where it supports the command), with the
venue still working afterwards: the good order placed first is untouched, a new order is
accepted, and the invariants hold. (2001 REDUCE_ONLY_WOULD_INCREASE is the engine's own: see
tests/unit/test_reject_codes.py.)

Default venue (venue.defaults): 0 BTC-USD spot, 2 BTC-PERP, 8 BTC-...-100000-C; instrument 3
(ETH-PERP) is given no reference price here, so it has no mark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from clearing.exchange import Exchange
from clearing.records import SYS_INSURANCE
from clearing.reference import ReferenceExchange
from matching import reasons as R
from matching.api import describe, make_command
from matching.records import (
    BUY,
    CMD_ACCOUNT,
    CMD_AMEND,
    CMD_DEPOSIT,
    CMD_FUNDING,
    CMD_NEW,
    CMD_SET_MARK,
    CMD_SET_POSITION,
    CMD_SETTLE,
    CMD_WITHDRAW,
    EV_ACCEPTED,
    EV_REJECTED,
    GTC,
    LIMIT,
    SELL,
    STOP_MARKET,
)
from venue.defaults import default_instruments

USD, BTC = 0, 1
SPOT, PERP, NO_MARK_PERP, CALL = 0, 2, 3, 8
RICH, POOR = 9, 3

Venue = Exchange | ReferenceExchange


def instruments() -> list:
    insts = default_instruments()
    insts[NO_MARK_PERP] = replace(insts[NO_MARK_PERP], ref_price_ticks=0, band_bps=0)
    return insts


def send(x: Venue, kind: int, **f: Any) -> np.ndarray:
    """One command through either venue; its events."""
    out = x.process(make_command(kind, **f))
    return out[0] if isinstance(out, tuple) else out


def order(x: Venue, account: int, iid: int, side: int, qty: int, price: int, **f: Any):
    f.setdefault("order_type", LIMIT)
    f.setdefault("tif", GTC)
    return send(x, CMD_NEW, account=account, instrument=iid, side=side, qty_lots=qty,
                price_ticks=price, **f)  # fmt: skip


def deposit(x: Venue, account: int, asset: int, amount: int, tid: int) -> np.ndarray:
    return send(x, CMD_DEPOSIT, account=account, instrument=asset, qty_lots=amount, order_id=tid)


def _amend_beyond_balance(x: Venue) -> list[np.ndarray]:
    deposit(x, POOR, USD, 10_000_000, 50)  # $10
    ev = order(x, POOR, SPOT, BUY, 1, 8_500_000)  # holds 8,504,250; 2 lots would not fit
    assert ev[0]["kind"] == EV_ACCEPTED
    return [ev, send(x, CMD_AMEND, account=POOR, order_id=int(ev[0]["order_id"]), qty_lots=2)]


def _settled(x: Venue) -> list[np.ndarray]:
    return [send(x, CMD_SETTLE, instrument=CALL, price_ticks=9_500_000),
            order(x, RICH, CALL, BUY, 1, 10)]  # fmt: skip


Case = Callable[[Venue], "np.ndarray | list[np.ndarray]"]
# code -> (case, runs on the reference too); the first case of each code is the canonical one
CASES: dict[int, list[tuple[str, Case, bool]]] = {
    R.INSUFFICIENT_BALANCE: [
        ("spot buy, no cash", lambda x: order(x, POOR, SPOT, BUY, 1, 9_000_000), True),
        ("spot sell, no base", lambda x: order(x, POOR, SPOT, SELL, 1, 9_000_000), True),
        ("option premium", lambda x: order(x, POOR, CALL, BUY, 1, 10), True),
        ("amend beyond balance", _amend_beyond_balance, True),
        ("withdraw more than free",
         lambda x: send(x, CMD_WITHDRAW, account=POOR, instrument=USD, qty_lots=1, order_id=7),
         True),
    ],
    R.INSUFFICIENT_MARGIN: [
        ("perp buy, no margin", lambda x: order(x, POOR, PERP, BUY, 1, 900_000), True),
        ("short option", lambda x: order(x, POOR, CALL, SELL, 1, 10), True),
    ],
    R.ACCOUNT_DISABLED: [
        ("new order",
         lambda x: [send(x, CMD_ACCOUNT, account=RICH, flags=1),
                    order(x, RICH, SPOT, BUY, 1, 8_900_000)], True),
        ("amend",
         lambda x: [send(x, CMD_ACCOUNT, account=RICH, flags=1),
                    send(x, CMD_AMEND, account=RICH, order_id=1, qty_lots=2)], True),
    ],
    R.STOP_MARKET_BUY_UNFUNDED: [
        ("spot", lambda x: order(x, RICH, SPOT, BUY, 1, 0, order_type=STOP_MARKET,
                                 trigger_ticks=9_100_000), True),
        ("option", lambda x: order(x, RICH, CALL, BUY, 1, 0, order_type=STOP_MARKET,
                                   trigger_ticks=20), True),
    ],
    R.NO_MARK_PRICE: [
        ("perp without mark", lambda x: order(x, RICH, NO_MARK_PERP, BUY, 1, 300_000), True),
    ],
    R.POSITION_OWNED_BY_CLEARING: [
        ("set_position",
         lambda x: send(x, CMD_SET_POSITION, account=RICH, instrument=PERP, qty_lots=5), True),
    ],
    R.INSTRUMENT_SETTLED: [
        ("order after expiry", _settled, False),
        ("settle twice", lambda x: [*_settled(x), send(x, CMD_SETTLE, instrument=CALL,
                                                       price_ticks=9_500_000)], False),
    ],
    R.INVALID_TRANSFER: [
        ("amount 0",
         lambda x: send(x, CMD_DEPOSIT, account=RICH, instrument=USD, qty_lots=0, order_id=5),
         True),
        ("transfer id 0",
         lambda x: send(x, CMD_DEPOSIT, account=RICH, instrument=USD, qty_lots=1), True),
        ("unknown asset",
         lambda x: send(x, CMD_WITHDRAW, account=RICH, instrument=3, qty_lots=1, order_id=5),
         True),
        ("withdraw from the fund",
         lambda x: send(x, CMD_WITHDRAW, account=SYS_INSURANCE, instrument=USD, qty_lots=1,
                        order_id=5), True),
    ],
    R.INVALID_CLEARING_COMMAND: [
        ("mark flags 2",
         lambda x: send(x, CMD_SET_MARK, instrument=PERP, price_ticks=900_000, flags=2), True),
        ("funding of a spot", lambda x: send(x, CMD_FUNDING, instrument=SPOT), False),
        ("settle a perpetual",
         lambda x: send(x, CMD_SETTLE, instrument=PERP, price_ticks=900_000), False),
    ],
}  # fmt: skip

PARAMS = [
    pytest.param(cls, code, k, id=f"{name}-{R.name(code)}-{k}")
    for code, cases in sorted(CASES.items())
    for k, (_label, _f, on_ref) in enumerate(cases)
    for cls, name in ((Exchange, "numba"), (ReferenceExchange, "reference"))
    if on_ref or cls is Exchange
]


def test_every_clearing_reject_code_has_a_case() -> None:
    clearing_codes = {c for c in R.REASONS if 2002 <= c <= 2099}
    assert clearing_codes == set(CASES), sorted(clearing_codes ^ set(CASES))


def _live(x: Venue) -> set[int]:
    dump = x.dump() if isinstance(x, Exchange) else x.engine.dump()
    return set(dump["order_id"].tolist())


@pytest.mark.parametrize("cls,code,k", PARAMS)
def test_clearing_reject_is_produced_and_nothing_is_lost(cls: type, code: int, k: int) -> None:
    x = cls(instruments())
    deposit(x, RICH, USD, 10**12, 1)
    deposit(x, RICH, BTC, 10**9, 2)
    first = order(x, RICH, SPOT, BUY, 1, 8_900_000)  # order 1: must survive every case
    assert first[0]["kind"] == EV_ACCEPTED and first[0]["order_id"] == 1
    held = x.balance(RICH, USD)
    x.check_invariants()
    out = CASES[code][k][1](x)
    batches = out if isinstance(out, list) else [out]
    evs = [e for b in batches for e in b]
    got = [int(e["reason"]) for e in evs if e["kind"] == EV_REJECTED]
    assert got and got[-1] == code, f"wanted {R.name(code)}, got {describe(np.array(evs))}"
    x.check_invariants()
    assert 1 in _live(x)
    if code != R.ACCOUNT_DISABLED:
        assert x.balance(RICH, USD) == held  # the rich account's money and hold untouched
    # the venue goes on: enable the account again, trade against order 1
    send(x, CMD_ACCOUNT, account=RICH, flags=0)
    deposit(x, 4, BTC, 10_000, 3)
    ev = order(x, 4, SPOT, SELL, 1, 8_900_000)
    assert [int(e["kind"]) for e in ev][:2] == [EV_ACCEPTED, 3], describe(ev)  # 3: FILL
    assert 1 not in _live(x)
    x.check_invariants()
    assert R.explain(code).startswith(str(code))
