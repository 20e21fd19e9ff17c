"""ReferenceExchange (clearing/reference.py) against hand-computed numbers of docs/clearing.md.

Default venue (venue.defaults): USD scale 6, BTC scale 8; fees maker 100 / taker 500 ppm;
im 10%, mm 5%; option fee cap 12.5% of premium.
  BTC-USD (0): nf 1, bf 10,000, ref 9,000,000 ticks ($90,000)
  BTC-PERP (2): nf 100, mark starts at 900,000 ticks ($90,000)
  BTC-...-100000-C (8): nf 50,000, und_nf 100, strike 10,000,000 underlying ticks
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from clearing.config import ClearingConfig, RiskParams
from clearing.records import (
    L_BASE,
    L_DEPOSIT,
    L_FEE,
    L_NOTIONAL,
    L_REALISED_PNL,
    L_REBATE,
    L_WITHDRAWAL,
    SYS_EXTERNAL,
    SYS_FEES,
    SYS_INSURANCE,
    SYS_POOL,
)
from clearing.reference import ReferenceExchange
from matching import reasons as R
from matching.api import make_command
from matching.records import (
    BUY,
    CMD_ACCOUNT,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_DEPOSIT,
    CMD_FUNDING,
    CMD_NEW,
    CMD_SET_MARK,
    CMD_SET_POSITION,
    CMD_SETTLE,
    CMD_WITHDRAW,
    EV_ACCEPTED,
    EV_ACCOUNT,
    EV_BALANCE,
    EV_CANCELLED,
    EV_FILL,
    EV_MARK,
    EV_REJECTED,
    EVF_DUPLICATE,
    FLAG_REDUCE_ONLY,
    GTC,
    GTD,
    IOC,
    LIMIT,
    SELL,
    STOP_MARKET,
)
from venue.defaults import default_instruments

USD, BTC = 0, 1
SPOT, PERP, CALL100K = 0, 2, 8


def run(x: ReferenceExchange, kind: int, **f: Any) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """One command; returns its events and its ledger entries as (amount, from, to, asset, kind)
    tuples. Checks the invariants after every command."""
    ev, led = x.process(make_command(kind, **f))
    x.check_invariants()
    return ev, [
        (int(e["amount"]), int(e["from_account"]), int(e["to_account"]), int(e["asset"]),
         int(e["kind"]))
        for e in led
    ]  # fmt: skip


def order(x: ReferenceExchange, account: int, inst: int, side: int, qty: int, price: int, **f: Any):
    f.setdefault("order_type", LIMIT)
    f.setdefault("tif", GTC)
    return run(
        x, CMD_NEW, account=account, instrument=inst, side=side, qty_lots=qty, price_ticks=price,
        **f,
    )  # fmt: skip


_tid = iter(range(1, 10**6))


def deposit(x: ReferenceExchange, account: int, asset: int, amount: int) -> None:
    ev, _ = run(x, CMD_DEPOSIT, account=account, instrument=asset, qty_lots=amount,
                order_id=next(_tid))  # fmt: skip
    assert ev[-1]["kind"] == EV_BALANCE


def kinds(ev: np.ndarray) -> list[int]:
    return [int(k) for k in ev["kind"]]


def rejected(ev: np.ndarray, reason: int) -> None:
    assert len(ev) == 1 and ev[0]["kind"] == EV_REJECTED and ev[0]["reason"] == reason


def new_x() -> ReferenceExchange:
    return ReferenceExchange(default_instruments(), ClearingConfig())


# --- spot ---------------------------------------------------------------------------------
def test_spot_trade_moves_notional_base_and_fees() -> None:
    # acct 2 sells 10 @ 9,000,000: hold per_lot = bf = 10,000 BTC units -> held 100,000
    # acct 1 buys 4 @ 9,000,000: per_lot = 9,000,000 + ceil(9,000,000*500/1e6)=4,500 -> 9,004,500
    # fill 4: notional 36,000,000; base 40,000; taker fee 18,000; maker fee 3,600
    # | acct | USD before  | USD after  | BTC before | BTC after | BTC held |
    # | 1    | 100,000,000 | 63,982,000 | 0          | 40,000    | 0        |
    # | 2    | 0           | 35,996,400 | 1,000,000  | 960,000   | 60,000   |
    # | FEES | 0           | 21,600     |            |           |          |
    x = new_x()
    deposit(x, 1, USD, 100_000_000)
    deposit(x, 2, BTC, 1_000_000)
    order(x, 2, SPOT, SELL, 10, 9_000_000)
    assert x.balance(2, BTC) == (1_000_000, 100_000)
    ev, led = order(x, 1, SPOT, BUY, 4, 9_000_000)
    assert kinds(ev)[:2] == [EV_ACCEPTED, EV_FILL]
    assert led == [
        (36_000_000, 1, 2, USD, L_NOTIONAL),
        (40_000, 2, 1, BTC, L_BASE),
        (18_000, 1, SYS_FEES, USD, L_FEE),
        (3_600, 2, SYS_FEES, USD, L_FEE),
    ]
    assert x.balance(1, USD) == (63_982_000, 0)
    assert x.balance(1, BTC) == (40_000, 0)
    assert x.balance(2, USD) == (35_996_400, 0)
    assert x.balance(2, BTC) == (960_000, 60_000)
    assert x.balance(SYS_FEES, USD) == (21_600, 0)
    assert x.accounts() == [1, 2]


def test_spot_maker_rebate() -> None:
    # maker -100 ppm: rebate floor(36,000,000*100/1e6) = 3,600 FEES -> maker; FEES 18,000-3,600
    x = ReferenceExchange(
        default_instruments(), ClearingConfig(risk={SPOT: RiskParams(maker_fee_ppm=-100)})
    )
    deposit(x, 1, USD, 100_000_000)
    deposit(x, 2, BTC, 1_000_000)
    order(x, 2, SPOT, SELL, 10, 9_000_000)
    _, led = order(x, 1, SPOT, BUY, 4, 9_000_000)
    assert led[2:] == [(18_000, 1, SYS_FEES, USD, L_FEE), (3_600, SYS_FEES, 2, USD, L_REBATE)]
    assert x.balance(2, USD) == (36_003_600, 0)
    assert x.balance(SYS_FEES, USD) == (14_400, 0)


def test_hold_released_on_cancel_and_ioc_remainder() -> None:
    # buy 5 @ 8,900,000: per_lot 8,900,000 + 4,450 = 8,904,450 -> held 44,522,250; cancel -> 0
    # IOC buy 5 @ 9,000,000 (per_lot 9,004,500, held 45,022,500) against 2 offered:
    # | step        | USD total   | USD held   |
    # | accepted    | 100,000,000 | 45,022,500 |
    # | fill 2      | 81,991,000  | 27,013,500 |  (18,000,000 + fee 9,000 paid)
    # | IOC cancel 3| 81,991,000  | 0          |
    x = new_x()
    deposit(x, 1, USD, 100_000_000)
    deposit(x, 2, BTC, 1_000_000)
    ev, _ = order(x, 1, SPOT, BUY, 5, 8_900_000)
    assert x.balance(1, USD) == (100_000_000, 44_522_250)
    ev, _ = run(x, CMD_CANCEL, account=1, order_id=int(ev[0]["order_id"]))
    assert ev[0]["kind"] == EV_CANCELLED
    assert x.balance(1, USD) == (100_000_000, 0)
    order(x, 2, SPOT, SELL, 2, 9_000_000)
    ev, _ = order(x, 1, SPOT, BUY, 5, 9_000_000, tif=IOC)
    assert kinds(ev) == [EV_ACCEPTED, EV_FILL, 7, EV_CANCELLED]
    assert ev[3]["reason"] == R.CANCEL_IOC_REMAINDER
    assert x.balance(1, USD) == (81_991_000, 0)
    assert x.balance(2, BTC) == (980_000, 0)


def test_gtd_expiry_releases_hold_before_the_command() -> None:
    x = new_x()
    deposit(x, 1, USD, 100_000_000)
    order(x, 1, SPOT, BUY, 1, 8_900_000, tif=GTD, expire_ns=100, ts_ns=10)
    assert x.balance(1, USD)[1] == 8_904_450
    ev, _ = run(x, CMD_WITHDRAW, account=1, instrument=USD, qty_lots=100_000_000, order_id=99,
                ts_ns=200)  # fmt: skip
    assert kinds(ev) == [EV_CANCELLED, 7, EV_BALANCE]
    assert ev[0]["reason"] == R.CANCEL_EXPIRED
    assert x.balance(1, USD) == (0, 0)


def test_amend_changes_the_hold() -> None:
    # | amend              | per_lot   | leaves | held       |
    # | new 5 @ 8,900,000  | 8,904,450 | 5      | 44,522,250 |
    # | qty 3              | 8,904,450 | 3      | 26,713,350 |
    # | price 8,800,000    | 8,804,400 | 3      | 26,413,200 |
    # | qty 12: 105,652,800 - 26,413,200 > 100,000,000 - 26,413,200 -> INSUFFICIENT_BALANCE
    x = new_x()
    deposit(x, 1, USD, 100_000_000)
    ev, _ = order(x, 1, SPOT, BUY, 5, 8_900_000)
    oid = int(ev[0]["order_id"])
    run(x, CMD_AMEND, account=1, order_id=oid, qty_lots=3)
    assert x.balance(1, USD)[1] == 26_713_350
    run(x, CMD_AMEND, account=1, order_id=oid, price_ticks=8_800_000)
    assert x.balance(1, USD)[1] == 26_413_200
    ev, _ = run(x, CMD_AMEND, account=1, order_id=oid, qty_lots=12)
    rejected(ev, R.INSUFFICIENT_BALANCE)
    assert ev[0]["order_id"] == oid and ev[0]["qty_lots"] == 12
    ev, _ = run(x, CMD_AMEND, account=1, order_id=oid, qty_lots=11)  # 96,848,400: fits
    assert ev[0]["kind"] != EV_REJECTED
    assert x.balance(1, USD)[1] == 96_848_400


def test_risk_rejects() -> None:
    x = new_x()
    deposit(x, 3, USD, 1_000_000)
    ev, _ = order(x, 3, SPOT, BUY, 1, 9_000_000, client_order_id=5)  # needs 9,004,500
    rejected(ev, R.INSUFFICIENT_BALANCE)
    e = ev[0]
    assert (e["account"], e["instrument"], e["side"], e["price_ticks"], e["qty_lots"]) == (
        3, SPOT, BUY, 9_000_000, 1,
    )  # fmt: skip
    assert (e["client_order_id"], e["order_type"], e["tif"], e["cmd_kind"]) == (5, LIMIT, GTC, 1)
    ev, _ = order(x, 3, SPOT, BUY, 1, 0, order_type=STOP_MARKET, trigger_ticks=9_100_000)
    rejected(ev, R.STOP_MARKET_BUY_UNFUNDED)
    ev, _ = run(x, CMD_ACCOUNT, account=3, flags=1)
    assert ev[0]["kind"] == EV_ACCOUNT and ev[0]["flags"] == 1
    ev, _ = order(x, 3, SPOT, BUY, 1, 100)
    rejected(ev, R.ACCOUNT_DISABLED)
    run(x, CMD_ACCOUNT, account=3, flags=0)
    ev, _ = order(x, 3, SPOT, BUY, 1, 8_500_000)  # 8,504,250 > 1,000,000 still
    rejected(ev, R.INSUFFICIENT_BALANCE)
    ev, _ = order(x, 3, SPOT, BUY, 1, 100)  # 100 + ceil(0.05) = 101: the engine's band rejects
    rejected(ev, R.OUTSIDE_PRICE_BAND)
    rejected(run(x, CMD_ACCOUNT, account=0)[0], R.INVALID_ACCOUNT)
    rejected(run(x, CMD_SET_POSITION, account=3, instrument=PERP, qty_lots=5)[0],
             R.POSITION_OWNED_BY_CLEARING)  # fmt: skip
    rejected(run(x, CMD_FUNDING, instrument=PERP)[0], R.INVALID_CLEARING_COMMAND)
    rejected(run(x, CMD_SETTLE, instrument=CALL100K, price_ticks=1)[0], R.INVALID_CLEARING_COMMAND)
    # the sequence advanced over rejects: the next stamped seq is past every command so far
    ev, _ = run(x, CMD_SET_MARK, instrument=SPOT, price_ticks=9_000_000)
    assert ev[-1]["seq"] == x.engine.next_seq - 1 == 13


# --- perpetual ----------------------------------------------------------------------------
def test_perp_open_partial_close_flip() -> None:
    # per_lot at px = mark = 900,000: ceil(900,000*100*0.1)=9,000,000 + loss 0 + fee 45,000
    # open: 2 sells 10, 1 buys 10 @ 900,000; notional 900,000,000; fees 450,000 / 90,000
    # partial close: 1 sells 4 @ 910,000 (free 4, held 0); 3 buys 4: fill notional 364,000,000
    #   acct 1: cc = trunc(9,000,000*4/10) = 3,600,000; realised 910,000*4 - 3,600,000 = 40,000
    #   ticks x lots = 4,000,000 POOL -> 1; acct 3 taker fee 182,000, acct 1 maker fee 36,400
    # flip: 1 sells 10 @ 890,000 (pos 6: free 6; per_lot 9,000,000+1,000,000+44,500; held
    #   40,178,000); 2 buys 10 (short 10: free 10). Fill 10 @ 890,000:
    #   acct 2: cc = -9,000,000; realised -8,900,000 + 9,000,000 = 100,000 -> POOL -> 2 10,000,000
    #   acct 1: cc = 5,400,000; realised 5,340,000 - 5,400,000 = -60,000 -> 1 -> POOL 6,000,000;
    #   rest 4 opens short at cost -3,560,000
    # | acct | pos | cost       | USD bal     | held |
    # | 1    | -4  | -3,560,000 | 97,424,600  | 0    |  100M -450,000 -36,400 +4M -89,000 -6M
    # | 2    | 0   | 0          | 109,465,000 | 0    |  100M -90,000 -445,000 +10M
    # | 3    | 4   | 3,640,000  | 99,818,000  | 0    |  100M -182,000
    # POOL = -4M -10M +6M = -8,000,000 = -100 * (-3,560,000 + 3,640,000)
    x = new_x()
    for a in (1, 2, 3):
        deposit(x, a, USD, 100_000_000)
    order(x, 2, PERP, SELL, 10, 900_000)
    assert x.balance(2, USD) == (100_000_000, 90_450_000)
    _, led = order(x, 1, PERP, BUY, 10, 900_000)
    assert led == [(450_000, 1, SYS_FEES, USD, L_FEE), (90_000, 2, SYS_FEES, USD, L_FEE)]
    assert x.position(1, PERP) == (10, 9_000_000) and x.position(2, PERP) == (-10, -9_000_000)
    m = x.margin(1, USD)
    assert m == {"equity": 99_550_000, "initial": 90_000_000, "maintenance": 45_000_000,
                 "held": 0, "available": 9_550_000}  # fmt: skip
    order(x, 1, PERP, SELL, 4, 910_000)
    assert x.balance(1, USD) == (99_550_000, 0)  # reduces: no hold
    _, led = order(x, 3, PERP, BUY, 4, 910_000)
    assert led == [
        (182_000, 3, SYS_FEES, USD, L_FEE),
        (36_400, 1, SYS_FEES, USD, L_FEE),
        (4_000_000, SYS_POOL, 1, USD, L_REALISED_PNL),
    ]
    assert x.position(1, PERP) == (6, 5_400_000) and x.pool(PERP) == -4_000_000
    order(x, 1, PERP, SELL, 10, 890_000)
    assert x.balance(1, USD) == (103_513_600, 40_178_000)
    _, led = order(x, 2, PERP, BUY, 10, 890_000)
    assert led == [
        (445_000, 2, SYS_FEES, USD, L_FEE),
        (89_000, 1, SYS_FEES, USD, L_FEE),
        (10_000_000, SYS_POOL, 2, USD, L_REALISED_PNL),
        (6_000_000, 1, SYS_POOL, USD, L_REALISED_PNL),
    ]
    assert x.position(1, PERP) == (-4, -3_560_000)
    assert x.position(2, PERP) == (0, 0)
    assert x.position(3, PERP) == (4, 3_640_000)
    assert x.balance(1, USD) == (97_424_600, 0)
    assert x.balance(2, USD) == (109_465_000, 0)
    assert x.balance(3, USD) == (99_818_000, 0)
    assert x.pool(PERP) == -8_000_000


def test_perp_margin_reduce_only_and_free_lots() -> None:
    # acct 1 short 4 at cost -3,560,000 (as above, shortened): mark 900,000
    # available = bal + (900,000*-4 + 3,560,000)*100 - ceil(4*900,000*100*0.1) - held
    x = new_x()
    for a in (1, 2):
        deposit(x, a, USD, 100_000_000)
    order(x, 2, PERP, BUY, 4, 890_000)
    order(x, 1, PERP, SELL, 4, 890_000)  # acct 1 taker: fee ceil(356,000,000*500/1e6)=178,000
    assert x.position(1, PERP) == (-4, -3_560_000)
    bal = 100_000_000 - 178_000
    assert x.margin(1, USD)["available"] == bal - 4_000_000 - 36_000_000 == 59_822_000
    ev, led = run(x, CMD_WITHDRAW, account=1, instrument=USD, qty_lots=59_822_001, order_id=1)
    rejected(ev, R.INSUFFICIENT_BALANCE)
    ev, led = run(x, CMD_WITHDRAW, account=1, instrument=USD, qty_lots=59_822_000, order_id=1)
    assert led == [(59_822_000, 1, SYS_EXTERNAL, USD, L_WITHDRAWAL)]
    assert ev[0]["leaves_lots"] == 40_000_000 and x.margin(1, USD)["available"] == 0
    # buy 2 @ 880,000 reduces the short of 4 (open buys 0): free 2, need 0
    ev, _ = order(x, 1, PERP, BUY, 2, 880_000)
    assert ev[0]["kind"] == EV_ACCEPTED and x.balance(1, USD)[1] == 0
    # buy 3: red = 4 - 2 open = 2 -> need = per_lot * 1 > 0 = available
    ev, _ = order(x, 1, PERP, BUY, 3, 880_000)
    rejected(ev, R.INSUFFICIENT_MARGIN)
    # reduce-only: free_lots = qty, no margin needed
    ev, _ = order(x, 1, PERP, BUY, 2, 880_000, flags=FLAG_REDUCE_ONLY)
    assert ev[0]["kind"] == EV_ACCEPTED and x.balance(1, USD)[1] == 0
    # a fresh account without enough: per_lot 9,045,000 > 1,000,000
    deposit(x, 4, USD, 1_000_000)
    rejected(order(x, 4, PERP, BUY, 1, 900_000)[0], R.INSUFFICIENT_MARGIN)


# --- options ------------------------------------------------------------------------------
def test_option_premium_capped_fee_and_short_margin() -> None:
    # U = 9,000,000 (BTC-USD mark); Ul = U*und_nf = 900,000,000; 100k call: OTM = 1,000,000
    # ticks, OTMl = 100,000,000. short_im_lot(10) = ceil(max(150,000*Ul - 1e6*OTMl,
    #   100,000*Ul)/1e6) + 10*50,000 = ceil(max(35e12, 90e12)/1e6) + 500,000 = 90,500,000
    # acct 6 sells 3 @ 10: held 271,500,000
    # acct 5 buys 2 @ 10: per_lot 10*50,000 + ceil(900,000,000*500/1e6) = 950,000, held 1,900,000
    # fill 2 @ 10: premium 1,000,000 5 -> 6; fee base U*2*100 = 1,800,000,000: taker 900,000,
    #   maker 180,000, both capped at floor(1,000,000*125,000/1e6) = 125,000
    # | acct | USD bal       | held       | pos | cost |
    # | 5    |   998,875,000 | 0          | 2   | 20   |
    # | 6    | 1,000,875,000 | 90,500,000 | -2  | -20  |
    x = new_x()
    ev, _ = run(x, CMD_SET_MARK, instrument=SPOT, price_ticks=9_000_000)
    assert ev[0]["kind"] == EV_MARK and ev[0]["price_ticks"] == ev[0]["aux"] == 9_000_000
    for a in (5, 6):
        deposit(x, a, USD, 1_000_000_000)
    ev, _ = order(x, 6, CALL100K, SELL, 3, 10)
    sell_id = int(ev[0]["order_id"])
    assert x.balance(6, USD) == (1_000_000_000, 271_500_000)
    order(x, 5, CALL100K, BUY, 2, 10)
    assert x.balance(5, USD) == (998_875_000, 0)  # (held 1,900,000 made, then released)
    assert x.balance(6, USD) == (1_000_875_000, 90_500_000)
    assert x.balance(SYS_FEES, USD) == (250_000, 0)
    assert x.position(5, CALL100K) == (2, 20) and x.position(6, CALL100K) == (-2, -20)
    assert x.pool(CALL100K) == 0
    # short margin at option mark 0: im 2*90,000,000; mm 2*ceil(75,000*Ul/1e6) = 135,000,000
    assert x.margin(6, USD) == {
        "equity": 1_000_875_000, "initial": 180_000_000, "maintenance": 135_000_000,
        "held": 90_500_000, "available": 730_375_000,
    }  # fmt: skip
    # option mark 12: value -2*12*50,000; im and mm each + 2*600,000
    run(x, CMD_SET_MARK, instrument=CALL100K, price_ticks=12)
    m6 = x.margin(6, USD)
    assert (m6["equity"], m6["initial"], m6["maintenance"]) == (
        1_000_875_000 - 1_200_000, 181_200_000, 136_200_000,
    )  # fmt: skip
    assert x.margin(5, USD)["equity"] == 998_875_000 + 1_200_000
    # 6 cancels its last lot (hold released), then 5 closes 1 at 12 against a bid from 6
    # (premium 6 -> 5): no PnL entry
    run(x, CMD_CANCEL, account=6, order_id=sell_id)
    assert x.balance(6, USD)[1] == 0
    # 6 is short 2, but a buy pays its premium either way: 12*50,000 + ceil(9e8 * 500/1e6)
    ev, led = order(x, 6, CALL100K, BUY, 1, 12)
    assert x.balance(6, USD)[1] == 1_050_000
    ev, led = order(x, 5, CALL100K, SELL, 1, 12)  # 5 is long 2: free 1, need 0
    assert x.balance(6, USD)[1] == 0  # the buy filled: its hold released
    assert [e[4] for e in led] == [L_NOTIONAL, L_FEE, L_FEE]
    assert led[0] == (600_000, 6, 5, USD, L_NOTIONAL)
    assert led[1][0] == led[2][0] == 75_000  # capped at floor(600,000 * 0.125)
    assert x.position(5, CALL100K) == (1, 10) and x.position(6, CALL100K) == (-1, -10)


def test_option_needs_underlying_mark() -> None:
    insts = default_instruments()
    insts[0] = replace(insts[0], ref_price_ticks=0, band_bps=0)
    x = ReferenceExchange(insts)
    deposit(x, 1, USD, 1_000_000_000)
    rejected(order(x, 1, CALL100K, BUY, 1, 10)[0], R.NO_MARK_PRICE)
    run(x, CMD_SET_MARK, instrument=SPOT, price_ticks=9_000_000)
    assert order(x, 1, CALL100K, BUY, 1, 10)[0][0]["kind"] == EV_ACCEPTED


# --- transfers ----------------------------------------------------------------------------
def test_deposit_idempotent_and_withdrawal_reject() -> None:
    x = new_x()
    ev, led = run(x, CMD_DEPOSIT, account=1, instrument=USD, qty_lots=5_000_000, order_id=7)
    assert led == [(5_000_000, SYS_EXTERNAL, 1, USD, L_DEPOSIT)]
    e = ev[0]
    assert (e["kind"], e["order_id"], e["qty_lots"], e["leaves_lots"], e["flags"]) == (
        EV_BALANCE, 7, 5_000_000, 5_000_000, 0,
    )  # fmt: skip
    for kind in (CMD_DEPOSIT, CMD_WITHDRAW):  # a known id: nothing changes, original amount
        ev, led = run(x, kind, account=1, instrument=USD, qty_lots=9, order_id=7)
        assert led == [] and ev[0]["flags"] == EVF_DUPLICATE
        assert (ev[0]["qty_lots"], ev[0]["leaves_lots"]) == (5_000_000, 5_000_000)
    ev, _ = run(x, CMD_WITHDRAW, account=1, instrument=USD, qty_lots=6_000_000, order_id=8)
    rejected(ev, R.INSUFFICIENT_BALANCE)
    ev, led = run(x, CMD_WITHDRAW, account=1, instrument=USD, qty_lots=2_000_000, order_id=8)
    assert led == [(2_000_000, 1, SYS_EXTERNAL, USD, L_WITHDRAWAL)]
    assert ev[0]["leaves_lots"] == 3_000_000
    for bad in (
        {"account": 1, "instrument": USD, "qty_lots": 0, "order_id": 9},
        {"account": 1, "instrument": USD, "qty_lots": 1, "order_id": 0},
        {"account": 1, "instrument": 3, "qty_lots": 1, "order_id": 9},
        {"account": 0, "instrument": USD, "qty_lots": 1, "order_id": 9},
    ):
        rejected(run(x, CMD_DEPOSIT, **bad)[0], R.INVALID_TRANSFER)
    rejected(run(x, CMD_WITHDRAW, account=SYS_INSURANCE, instrument=USD, qty_lots=1,
                 order_id=9)[0], R.INVALID_TRANSFER)  # fmt: skip
    run(x, CMD_DEPOSIT, account=SYS_INSURANCE, instrument=USD, qty_lots=1_000, order_id=9)
    assert x.balance(SYS_INSURANCE, USD) == (1_000, 0)
    assert x.balance(SYS_EXTERNAL, USD) == (-3_001_000, 0)
    assert x.balance(1, USD) == (3_000_000, 0)


@pytest.mark.parametrize("flags,mark", [(0, 9_000_000), (1, 9_045_000)])
def test_set_mark_banded_mid(flags: int, mark: int) -> None:
    # book 9,000,000 / 9,200,000: mid 9,100,000, band 0.5% of 9,000,000 = 45,000 -> 9,045,000
    x = new_x()
    deposit(x, 1, USD, 100_000_000)
    deposit(x, 2, BTC, 1_000_000)
    order(x, 1, SPOT, BUY, 1, 9_000_000)
    order(x, 2, SPOT, SELL, 1, 9_200_000)
    ev, _ = run(x, CMD_SET_MARK, instrument=SPOT, price_ticks=9_000_000, flags=flags)
    assert (ev[0]["price_ticks"], ev[0]["aux"]) == (mark, 9_000_000)
    rejected(run(x, CMD_SET_MARK, instrument=99, price_ticks=1)[0], R.UNKNOWN_INSTRUMENT)
    rejected(run(x, CMD_SET_MARK, instrument=SPOT, price_ticks=0)[0], R.PRICE_NOT_POSITIVE)
