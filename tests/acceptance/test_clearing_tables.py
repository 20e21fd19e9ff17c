"""Clearing acceptance scenarios on the numba ``Exchange``, with every number worked out by hand
from docs/clearing.md and written as before/after tables.

Default venue (venue.defaults) and assets: USD scale 6, BTC scale 8.
  BTC-USD (0) spot:      tick 0.01, lot 0.0001 -> nf 1, bf 10,000; here maker -100 ppm (rebate)
  BTC-PERP (2):          tick 0.1, lot 0.001   -> nf 100; mark starts at 900,000 ($90,000)
  BTC-...-100000-C (8):  tick 5, lot 0.01      -> nf 50,000, und_nf 100, strike 10,000,000
Default rates: maker 100 ppm, taker 500 ppm, im 10%, mm 5%, option fee cap 12.5% of premium,
opt_im 15%, opt_im_min 10%, opt_mm 7.5%, liquidation fee 0.5%, funding cap 0.75%, mark band 0.5%.

A table row is ``account  balance  held  position  cost`` (USD; ``-`` for the system accounts).
"""

from __future__ import annotations

import numpy as np

from clearing.config import ClearingConfig, RiskParams
from clearing.exchange import Exchange
from clearing.records import (
    L_BASE,
    L_FUNDING,
    L_NOTIONAL,
    L_REBATE,
    SYS_EXTERNAL,
    SYS_FEES,
    SYS_INSURANCE,
    SYS_POOL,
)
from matching import reasons as R
from matching.records import (
    EV_ADL,
    EV_CANCELLED,
    EV_FILL,
    EV_FUNDING,
    EV_LIQUIDATION,
    EV_MARK,
    EV_SETTLEMENT,
)
from venue.defaults import default_instruments

USD, BTC = 0, 1
SPOT, PERP, CALL100K = 0, 2, 8
CONFIG = ClearingConfig(risk={SPOT: RiskParams(maker_fee_ppm=-100, taker_fee_ppm=500)})
SYS = {"EXTERNAL": SYS_EXTERNAL, "FEES": SYS_FEES, "INSURANCE": SYS_INSURANCE}


def venue() -> Exchange:
    return Exchange(default_instruments(), CONFIG)


def fund(ex: Exchange, amounts: dict[int, int], asset: int = USD) -> None:
    for a, amount in amounts.items():
        ex.deposit(a, asset, amount, 1_000 * (asset + 1) + a)


def table(ex: Exchange, rows: list[int | str], asset: int = USD, iid: int = PERP) -> str:
    """``account balance held pos cost`` per row; names: system accounts, POOL (of iid)."""
    out = ["account balance held pos cost"]
    for r in rows:
        if r == "POOL":
            out.append(f"POOL {ex.pool(iid)} - - -")
        elif isinstance(r, str):
            out.append(f"{r} {ex.sys_balance(SYS[r], asset)} - - -")
        else:
            bal, held = ex.balance(r, asset)
            pos, cost = ex.position_cost(r, iid)
            out.append(f"{r} {bal} {held} {pos} {cost}")
    return "\n".join(out)


def expect(ex: Exchange, rows: list[int | str], want: str, **kw: int) -> None:
    """Compare with a table written by hand (commas and spacing are free)."""
    got = table(ex, rows, **kw)
    norm_want = [ln.replace(",", "").split() for ln in want.strip().splitlines()]
    norm_got = [ln.split() for ln in got.splitlines()]
    assert norm_got == norm_want, f"\nwant:\n{want.strip()}\ngot:\n{got}"
    ex.check_invariants()


def entries(ex: Exchange, since: int) -> list[tuple[int, int, int, int, int]]:
    """Ledger entries since ``since`` as (amount, from, to, asset, kind)."""
    led = ex.ledger()[since:]
    cols = ("amount", "from_account", "to_account", "asset", "kind")
    return [tuple(int(e[c]) for c in cols) for e in led]  # type: ignore[misc]


# --- (a) spot ------------------------------------------------------------------------------
def test_spot_trade_with_maker_rebate_and_taker_fee() -> None:
    # acct 2 sells 5 @ 9,000,000: holds base 5 * bf 10,000 = 50,000 BTC units
    # acct 1 buys 3 @ 9,010,000 (taker; crosses at 9,000,000):
    #   per_lot 9,010,000 * 1 + ceil(9,010,000 * 500 / 1e6) = 9,014,505; held 27,043,515
    # fill 3 @ 9,000,000: notional 27,000,000 (1 -> 2), base 30,000 (2 -> 1),
    #   taker fee ceil(27,000,000 * 500 / 1e6) = 13,500 (1 -> FEES),
    #   maker rebate floor(27,000,000 * 100 / 1e6) = 2,700 (FEES -> 2)
    ex = venue()
    fund(ex, {1: 100_000_000})
    fund(ex, {2: 100_000}, BTC)
    ex.limit(SPOT, 2, "sell", 5, 9_000_000)
    expect(ex, [1, 2], """
        account  balance      held  pos cost
        1        100,000,000  0     0   0
        2        0            0     0   0
    """)  # fmt: skip
    expect(ex, [1, 2], """
        account  balance  held    pos cost
        1        0        0       0   0
        2        100,000  50,000  0   0
    """, asset=BTC)  # fmt: skip
    n = len(ex.ledger())
    ev = ex.limit(SPOT, 1, "buy", 3, 9_010_000)
    fills = ev[ev["kind"] == EV_FILL]
    assert [(int(f["qty_lots"]), int(f["price_ticks"])) for f in fills] == [(3, 9_000_000)]
    assert entries(ex, n) == [
        (27_000_000, 1, 2, USD, L_NOTIONAL),
        (30_000, 2, 1, BTC, L_BASE),
        (13_500, 1, SYS_FEES, USD, 5),
        (2_700, SYS_FEES, 2, USD, L_REBATE),
    ]
    expect(ex, [1, 2, "FEES", "EXTERNAL"], """
        account   balance       held  pos cost
        1         72,986,500    0     0   0
        2         27,002,700    0     0   0
        FEES      10,800        -     -   -
        EXTERNAL  -100,000,000  -     -   -
    """)  # fmt: skip
    expect(ex, [1, 2, "FEES", "EXTERNAL"], """
        account   balance   held    pos cost
        1         30,000    0       0   0
        2         70,000    20,000  0   0
        FEES      0         -       -   -
        EXTERNAL  -100,000  -       -   -
    """, asset=BTC)  # fmt: skip


# --- (b) perpetual -------------------------------------------------------------------------
def test_perpetual_open_partial_close_flip_and_unrealised() -> None:
    ex = venue()
    fund(ex, {1: 200_000_000, 2: 200_000_000, 3: 200_000_000})
    # open: 2 sells 5 @ 900,000 (= mark): per_lot ceil(900,000*100*10%) 9,000,000 + loss 0
    #   + fee ceil(90,000,000*500/1e6) 45,000 = 9,045,000; held 45,225,000
    ex.limit(PERP, 2, "sell", 5, 900_000)
    assert ex.balance(2, USD) == (200_000_000, 45_225_000)
    # 1 buys 5: notional 450,000,000; taker fee 225,000 (1), maker fee 45,000 (2)
    ex.limit(PERP, 1, "buy", 5, 900_000)
    expect(ex, [1, 2, "POOL", "FEES"], """
        account  balance      held  pos  cost
        1        199,775,000  0     5    4,500,000
        2        199,955,000  0     -5   -4,500,000
        POOL     0            -     -    -
        FEES     270,000      -     -    -
    """)  # fmt: skip
    # partial close with profit: 1 sells 2 @ 910,000 (reduces: free 2, need 0)
    ex.limit(PERP, 1, "sell", 2, 910_000)
    assert ex.balance(1, USD) == (199_775_000, 0)
    # 3 buys 2 @ 910,000 (taker, opens): per_lot ceil(910,000*100*10%) 9,100,000
    #   + loss (910,000-900,000)*100 1,000,000 + fee 45,500 = 10,145,500
    # fill 2 @ 910,000: notional 182,000,000; taker fee 91,000 (3), maker fee 18,200 (1)
    # 1 closes 2 of 5: cc = trunc(4,500,000*2/5) = 1,800,000; realised 910,000*2 - 1,800,000
    #   = 20,000 ticks x lots * nf 100 = 2,000,000 POOL -> 1
    ex.limit(PERP, 3, "buy", 2, 910_000)
    expect(ex, [1, 2, 3, "POOL", "FEES"], """
        account  balance      held  pos  cost
        1        201,756,800  0     3    2,700,000
        2        199,955,000  0     -5   -4,500,000
        3        199,909,000  0     2    1,820,000
        POOL     -2,000,000   -     -    -
        FEES     379,200      -     -    -
    """)  # fmt: skip
    # flip: 1 sells 7 @ 890,000 (rests; long 3: free 3): per_lot ceil(900,000*100*10%)
    #   9,000,000 + loss (900,000-890,000)*100 1,000,000 + fee 44,500 = 10,044,500; held
    #   4 * 10,044,500 = 40,178,000
    ex.limit(PERP, 1, "sell", 7, 890_000)
    assert ex.balance(1, USD) == (201_756_800, 40_178_000)
    # 2 buys 7 @ 890,000 (short 5: free 5): notional 623,000,000; taker fee 311,500 (2),
    #   maker fee 62,300 (1)
    # 2: closes 5: cc -4,500,000; realised -890,000*5 + 4,500,000 = 50,000 -> 5,000,000 to 2;
    #    rest 2 opens long at 1,780,000
    # 1: closes 3: cc 2,700,000; realised 890,000*3 - 2,700,000 = -30,000 -> 3,000,000 to POOL;
    #    rest 4 opens short at -3,560,000
    n = len(ex.ledger())
    ex.limit(PERP, 2, "buy", 7, 890_000)
    assert entries(ex, n) == [
        (311_500, 2, SYS_FEES, USD, 5),
        (62_300, 1, SYS_FEES, USD, 5),
        (5_000_000, SYS_POOL, 2, USD, 7),
        (3_000_000, 1, SYS_POOL, USD, 7),
    ]
    expect(ex, [1, 2, 3, "POOL", "FEES", "EXTERNAL"], """
        account   balance      held  pos  cost
        1         198,694,500  0     -4   -3,560,000
        2         204,643,500  0     2    1,780,000
        3         199,909,000  0     2    1,820,000
        POOL      -4,000,000   -     -    -
        FEES      753,000      -     -    -
        EXTERNAL  -600,000,000 -     -    -
    """)  # fmt: skip
    # POOL = -nf * sum(cost) = -100 * (-3,560,000 + 1,780,000 + 1,820,000) = -4,000,000
    # unrealised at mark 880,000: value (880,000*pos - cost)*100; im ceil(|pos|*880,000*100*10%)
    ev = ex.set_mark(PERP, 880_000)
    assert [int(e["kind"]) for e in ev] == [EV_MARK]
    # | account | equity                   | initial    | maintenance | held | available   |
    margins = [(a, *ex.margin(a, USD).values()) for a in (1, 2, 3)]
    assert margins == [
        (1, 198_694_500 + 4_000_000, 35_200_000, 17_600_000, 0, 167_494_500),
        (2, 204_643_500 - 2_000_000, 17_600_000, 8_800_000, 0, 185_043_500),
        (3, 199_909_000 - 6_000_000, 17_600_000, 8_800_000, 0, 176_309_000),
    ]
    ex.check_invariants()


# --- (c) option ------------------------------------------------------------------------------
def test_option_premium_capped_fee_short_margin_and_expiry() -> None:
    # U = 9,200,000 (BTC-USD mark); Ul = U * und_nf = 920,000,000; the 100k call is OTM by
    # 800,000 ticks: OTMl = 80,000,000.
    # short_im_lot(m) = ceil(max(150,000*Ul - 1e6*OTMl, 100,000*Ul) / 1e6) + m*50,000
    #                 = ceil(max(5.8e13, 9.2e13) / 1e6) + m*50,000 = 92,000,000 + m*50,000
    ex = venue()
    ev = ex.set_mark(SPOT, 9_200_000)
    assert (int(ev[0]["price_ticks"]), int(ev[0]["aux"])) == (9_200_000, 9_200_000)
    fund(ex, {5: 1_000_000_000, 6: 1_000_000_000})
    # 6 sells 3 @ 50 (mark 0): per_lot short_im_lot(50) = 94,500,000; held 283,500,000
    sell = ex.limit(CALL100K, 6, "sell", 3, 50)
    assert ex.balance(6, USD) == (1_000_000_000, 283_500_000)
    # 5 buys 2 @ 50: premium 2*50*50,000 = 5,000,000 (5 -> 6); fee base U*2*100 =
    #   1,840,000,000: taker 920,000 capped at floor(5,000,000*12.5%) = 625,000; maker 184,000
    n = len(ex.ledger())
    ex.limit(CALL100K, 5, "buy", 2, 50)
    assert entries(ex, n) == [
        (5_000_000, 5, 6, USD, L_NOTIONAL),
        (625_000, 5, SYS_FEES, USD, 5),
        (184_000, 6, SYS_FEES, USD, 5),
    ]
    expect(ex, [5, 6, "POOL", "FEES"], """
        account  balance        held        pos  cost
        5        994,375,000    0           2    100
        6        1,004,816,000  94,500,000  -2   -100
        POOL     0              -           -    -
        FEES     809,000        -           -    -
    """, iid=CALL100K)  # fmt: skip
    # option mark 0: im 2*92,000,000; mm 2*ceil(75,000*Ul/1e6) = 2*69,000,000
    assert ex.margin(6, USD) == {"equity": 1_004_816_000, "initial": 184_000_000,
                                 "maintenance": 138_000_000, "held": 94_500_000,
                                 "available": 726_316_000}  # fmt: skip
    # option mark 60: value -2*60*50,000 = -6,000,000; im 2*(92,000,000 + 3,000,000),
    #   mm 2*(69,000,000 + 3,000,000)
    ex.set_mark(CALL100K, 60)
    assert ex.margin(6, USD) == {"equity": 998_816_000, "initial": 190_000_000,
                                 "maintenance": 144_000_000, "held": 94_500_000,
                                 "available": 714_316_000}  # fmt: skip
    assert ex.margin(5, USD)["equity"] == 994_375_000 + 6_000_000
    # 6 cancels its last sell lot (hold released), buys 1 back @ 60 (option buy: free 0,
    #   per_lot 3,000,000 + ceil(920,000,000*500/1e6) = 3,460,000); 5 sells 1 @ 60 (long 2:
    #   free 1, need 0). Premium 3,000,000 (6 -> 5); fee base 920,000,000: taker (5) 460,000
    #   capped at floor(3,000,000*12.5%) = 375,000, maker (6) 92,000.
    #   Positions: 5: cost 100 - trunc(100*1/2) = 50; 6: -100 - trunc(-100*1/2) = -50
    ex.cancel(6, int(sell[0]["order_id"]))
    ex.limit(CALL100K, 6, "buy", 1, 60)
    assert ex.balance(6, USD) == (1_004_816_000, 3_460_000)
    ex.limit(CALL100K, 5, "sell", 1, 60)
    # 5 bids 1 @ 40 and holds 40*50,000 + 460,000 = 2,460,000 (expiry cancels it)
    bid = ex.limit(CALL100K, 5, "buy", 1, 40)
    expect(ex, [5, 6, "POOL", "FEES"], """
        account  balance        held       pos  cost
        5        997,000,000    2,460,000  1    50
        6        1,001,724,000  0          -1   -50
        POOL     0              -          -    -
        FEES     1,276,000      -          -    -
    """, iid=CALL100K)  # fmt: skip
    # expiry at 10,300,000: intrinsic 300,000; 1 * 300,000 * 100 = 30,000,000 from 6 to the
    # POOL and from the POOL to 5; 5's bid is cancelled (hold released)
    ev = ex.settle(CALL100K, 10_300_000)
    cancels = ev[ev["kind"] == EV_CANCELLED]
    assert [(int(c["order_id"]), int(c["reason"])) for c in cancels] == [
        (int(bid[0]["order_id"]), R.CANCEL_SETTLEMENT)
    ]
    assert int(ev[-1]["kind"]) == EV_SETTLEMENT and int(ev[-1]["price_ticks"]) == 10_300_000
    expect(ex, [5, 6, "POOL", "FEES", "EXTERNAL"], """
        account   balance         held  pos  cost
        5         1,027,000,000   0     0    0
        6         971,724,000     0     0    0
        POOL      0               -     -    -
        FEES      1,276,000       -     -    -
        EXTERNAL  -2,000,000,000  -     -    -
    """, iid=CALL100K)  # fmt: skip
    assert ex.margin(6, USD)["initial"] == 0
    rej = ex.limit(CALL100K, 5, "buy", 1, 60)
    assert int(rej[0]["reason"]) == R.INSTRUMENT_SETTLED


# --- (d) funding -----------------------------------------------------------------------------
def test_funding_on_banded_mark_with_remainder() -> None:
    # all fills at 900,000 (notional 90,000,000 a lot: taker 45,000, maker 9,000 a lot)
    # 1 buys 4: 3 from 2, 1 from 3; 4 buys 3 from 3 -> longs 1: 4, 4: 3; shorts 2: 3, 3: 4
    ex = venue()
    fund(ex, dict.fromkeys((1, 2, 3, 4, 5), 1_000_000_000))
    ex.limit(PERP, 2, "sell", 3, 900_000)
    ex.limit(PERP, 3, "sell", 4, 900_000)
    ex.limit(PERP, 1, "buy", 4, 900_000)
    ex.limit(PERP, 4, "buy", 3, 900_000)
    # a book around 903,000: mid (902,000 + 904,000) // 2 = 903,000, inside the band
    # 900,000 +- 900,000*5,000//1e6 = 4,500 -> mark 903,000, index 900,000
    ex.limit(PERP, 5, "buy", 1, 902_000)
    ex.limit(PERP, 5, "sell", 1, 904_000)
    expect(ex, [1, 2, 3, 4, 5, "POOL"], """
        account  balance        held        pos  cost
        1        999,820,000    0           4    3,600,000
        2        999,973,000    0           -3   -2,700,000
        3        999,964,000    0           -4   -3,600,000
        4        999,865,000    0           3    2,700,000
        5        1,000,000,000  18,350,300  0    0
        POOL     0              -           -    -
    """)  # fmt: skip
    # 5's holds: bid 9,020,000 + loss 200,000 + fee 45,100; ask 9,040,000 + fee 45,200
    ev = ex.set_mark(PERP, 900_000, banded_mid=True)
    assert (int(ev[0]["kind"]), int(ev[0]["price_ticks"]), int(ev[0]["aux"])) == (
        EV_MARK, 903_000, 900_000)  # fmt: skip
    # rate = 3,000 * 1e6 // 900,000 = 3,333 ppm (cap 7,500): longs pay
    #   1: floor(4*903,000*100*3,333/1e6) = floor(1,203,879.6) = 1,203,879
    #   4: floor(3*903,000*100*3,333/1e6) = floor(902,909.7)   =   902,909   T = 2,106,788
    # shorts receive floor(T*|pos|/7): 2: 902,909; 3: 1,203,878; remainder 1 to account 2
    n = len(ex.ledger())
    ev = ex.funding(PERP)
    f = ev[ev["kind"] == EV_FUNDING]
    assert [(int(e["qty_lots"]), int(e["aux"]), int(e["price_ticks"])) for e in f] == [
        (2_106_788, 3_333, 903_000)
    ]
    led = entries(ex, n)
    assert led == [
        (1_203_879, 1, SYS_POOL, USD, L_FUNDING),
        (902_909, 4, SYS_POOL, USD, L_FUNDING),
        (902_910, SYS_POOL, 2, USD, L_FUNDING),
        (1_203_878, SYS_POOL, 3, USD, L_FUNDING),
    ]
    paid = sum(e[0] for e in led if e[2] == SYS_POOL)
    got = sum(e[0] for e in led if e[1] == SYS_POOL)
    assert paid == got == 2_106_788
    expect(ex, [1, 2, 3, 4, "POOL"], """
        account  balance        held  pos  cost
        1        998,616,121    0     4    3,600,000
        2        1,000,875,910  0     -3   -2,700,000
        3        1,001,167,878  0     -4   -3,600,000
        4        998,962,091    0     3    2,700,000
        POOL     0              -     -    -
    """)  # fmt: skip


# --- (e) liquidation -------------------------------------------------------------------------
def _liquidation_setup(bid_price: int) -> tuple[Exchange, np.ndarray]:
    """1 goes long 10 @ 900,000 at 10x; 3 and 4 trade 1 @ 860,000 (the price band then allows
    the liquidation's limit); 3 bids 4 @ ``bid_price``; the mark falls to 850,000."""
    ex = venue()
    ex.deposit(SYS_INSURANCE, "USD", 10_000_000, 1)
    fund(ex, {1: 91_000_000, 2: 1_000_000_000, 3: 1_000_000_000, 4: 1_000_000_000})
    ex.limit(PERP, 2, "sell", 10, 900_000)
    ex.limit(PERP, 1, "buy", 10, 900_000)  # per_lot 9,045,000 * 10 = 90,450,000: fits
    ex.limit(PERP, 1, "sell", 2, 950_000)  # reduces: free 2, holds nothing
    ex.limit(PERP, 4, "sell", 1, 860_000)
    ex.limit(PERP, 3, "buy", 1, 860_000)
    ex.limit(PERP, 3, "buy", 4, bid_price)
    expect(ex, [1, 2, 3, 4, "INSURANCE", "FEES"], f"""
        account    balance      held        pos  cost
        1          90,550,000   0           10   9,000,000
        2          999,910,000  0           -10  -9,000,000
        3          999,957,000  {4 * (9_000_000 + (bid_price * 100 * 500 + 999_999) // 10**6)}  1  860,000
        4          999,991,400  0           -1   -860,000
        INSURANCE  10,000,000   -           -    -
        FEES       591,600      -           -    -
    """)  # fmt: skip
    # mark 850,000: 1's equity 90,550,000 + (8,500,000 - 9,000,000)*100 = 40,550,000 <
    # maintenance ceil(10*850,000*100*5%) = 42,500,000 -> liquidated
    return ex, ex.set_mark(PERP, 850_000)


def _check_liquidation_events(ev: np.ndarray, fill_price: int) -> None:
    # b = 850,000 - 40,550,000 // (10*100) = 809,450; L = b - 10,000,000 // 1,000 = 799,450
    cancels = ev[ev["kind"] == EV_CANCELLED]
    assert int(cancels[0]["account"]) == 1
    assert int(cancels[0]["reason"]) == R.CANCEL_LIQUIDATION
    liq = ev[ev["kind"] == EV_LIQUIDATION]
    assert [(int(e["account"]), int(e["qty_lots"]), int(e["price_ticks"]), int(e["aux"]))
            for e in liq] == [(1, 10, 809_450, 799_450)]  # fmt: skip
    fills = ev[ev["kind"] == EV_FILL]
    assert [(int(e["account"]), int(e["maker_account"]), int(e["qty_lots"]),
             int(e["price_ticks"])) for e in fills] == [(1, 3, 4, fill_price)]  # fmt: skip
    adl = ev[ev["kind"] == EV_ADL]
    assert [(int(e["account"]), int(e["maker_account"]), int(e["qty_lots"]),
             int(e["price_ticks"])) for e in adl] == [(1, 2, 6, 809_450)]  # fmt: skip


def test_liquidation_book_then_adl_then_fee() -> None:
    # 3's bid 4 @ 845,000: the IOC reduce-only sell 10 @ 799,450 takes it, no fee for 1:
    #   1 realises 845,000*4 - trunc(9,000,000*4/10) = -220,000 -> 22,000,000 to the POOL;
    #   3 (maker) pays its maker fee ceil(338,000,000*100/1e6) = 33,800 (see the report: the
    #   doc says "fills carry no trading fee"; the code exempts the liquidated taker only)
    # ADL of the other 6 at b = 809,450 against 2 (upnl 50,000,000 > 4's 1,000,000):
    #   1: 809,450*6 - 5,400,000 = -543,300 -> 54,330,000 to the POOL
    #   2: -809,450*6 + 5,400,000 = 543,300 -> 54,330,000 from the POOL; short 4 @ -3,600,000
    # 1's balance 90,550,000 - 22,000,000 - 54,330,000 = 14,220,000 > 0: liquidation fee
    #   ceil(10*850,000*100 * 5,000/1e6) = 4,250,000 to the fund (closed notional at the mark)
    ex, ev = _liquidation_setup(845_000)
    _check_liquidation_events(ev, 845_000)
    expect(ex, [1, 2, 3, 4, "INSURANCE", "FEES", "POOL"], """
        account    balance        held  pos  cost
        1          9,970,000      0     0    0
        2          1,054,240,000  0     -4   -3,600,000
        3          999,923,200    0     5    4,240,000
        4          999,991,400    0     -1   -860,000
        INSURANCE  14,250,000     -     -    -
        FEES       625,400        -     -    -
        POOL       22,000,000     -     -    -
    """)  # fmt: skip
    # POOL = -100 * (-3,600,000 + 4,240,000 - 860,000) = 22,000,000


def test_liquidation_insurance_covers_the_loss() -> None:
    # 3's bid 4 @ 805,000 (between L and b): 1 realises 805,000*4 - 3,600,000 = -380,000
    #   -> 38,000,000; ADL 6 @ 809,450 -> 54,330,000; balance 90,550,000 - 92,330,000 =
    #   -1,780,000 = 4*(809,450-805,000)*100: the fund covers it; no fee
    ex, ev = _liquidation_setup(805_000)
    _check_liquidation_events(ev, 805_000)
    # 3's maker fee ceil(322,000,000*100/1e6) = 32,200
    expect(ex, [1, 2, 3, "INSURANCE", "FEES", "POOL"], """
        account    balance        held  pos  cost
        1          0              0     0    0
        2          1,054,240,000  0     -4   -3,600,000
        3          999,924,800    0     5    4,080,000
        INSURANCE  8,220,000      -     -    -
        FEES       623,800        -     -    -
        POOL       38,000,000     -     -    -
    """)  # fmt: skip
    # POOL = -100 * (-3,600,000 + 4,080,000 - 860,000) = 38,000,000
