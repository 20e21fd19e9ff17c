"""The market maker of ``backtest_market_maker.py`` as a numba strategy (the fast path).

    python examples/backtest_numba_mm.py      # LOBSTER AAPL hour, order by order

``mm_nb`` is called on every packet and every answer; its float64 ``state`` holds the
parameters and its quotes: see ``new_state``. Same rules as the Python version: one bid and
one ask, ``half_spread`` ticks around the mid rounded to ``tick_round``, shifted by ``skew``
ticks per lot held, no new quote beyond ``max_pos``, no second command while one is pending.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from numba import njit

# state slots
SIZE, HALF, SKEW, MAXPOS, ROUND, BID_ID, ASK_ID, BID_PX, ASK_PX, BID_PEND, ASK_PEND = range(11)
QMID, NEXT_ID = 11, 12
ID_BASE = 4 * 10**12


def new_state(size: int = 100, half_spread: int = 100, skew: float = 1.0, max_pos: int = 1000,
              tick_round: int = 100) -> np.ndarray:  # fmt: skip
    s = np.zeros(16, dtype=np.float64)
    s[SIZE], s[HALF], s[SKEW], s[MAXPOS], s[ROUND] = size, half_spread, skew, max_pos, tick_round
    s[NEXT_ID] = 1
    return s


@njit  # not cached: compiled with the loop that calls it (backtest.fast_nb)
def _emit(out, n, kind, oid, side, price, qty):
    c = out[n]
    c["kind"] = kind
    c["order_id"] = oid
    c["side"] = side
    c["price_ticks"] = price
    c["qty_lots"] = qty
    c["order_type"] = 1 if kind == 1 else 0
    c["tif"] = 1 if kind == 1 else 0
    c["flags"] = 1 if kind == 1 else 0  # post-only
    return n + 1


@njit  # not cached: compiled with the loop that calls it (backtest.fast_nb)
def _side(s, n, out, id_slot, px_slot, pend_slot, side, px, allowed):
    oid = int(s[id_slot])
    if oid != 0:
        if s[pend_slot] != 0 or (allowed and s[px_slot] == px):
            return n
        n = _emit(out, n, 2, oid + ID_BASE - 1, 0, 0, 0)  # cancel, and quote anew at once
        s[id_slot] = 0
    if not allowed or px <= 0:
        return n
    oid = int(s[NEXT_ID])
    s[NEXT_ID] += 1
    s[id_slot], s[px_slot], s[pend_slot] = oid, px, 1
    return _emit(out, n, 1, oid + ID_BASE - 1, side, px, int(s[SIZE]))


@njit  # not cached: compiled with the loop that calls it (backtest.fast_nb)
def mm_nb(kind, now, book, upd, position, s, out):
    """See the module docstring; the numba strategy signature is in backtest/fast_nb.py."""
    if kind == 1:  # an answer: which quote, and is it still alive
        oid = upd[1] - ID_BASE + 1
        for id_slot, pend_slot in ((BID_ID, BID_PEND), (ASK_ID, ASK_PEND)):
            if s[id_slot] == oid:
                k = upd[0]
                if k == 1 or k == 5:  # accepted, amended
                    s[pend_slot] = 0
                elif k == 2 or k == 4 or (k == 3 and upd[5] == 0):  # gone
                    s[id_slot] = 0
                    s[pend_slot] = 0
        if upd[0] == 3:
            s[QMID] = 0.0  # a fill: quote again at the next book
        return 0
    bid, ask = book[0], book[2]
    if bid <= 0 or ask <= 0:
        return 0
    mid = (bid + ask) / 2.0
    if mid == s[QMID]:
        return 0
    s[QMID] = mid
    r = s[ROUND]
    shift = s[SKEW] * position
    b = min(int(round((mid - s[HALF] - shift) / r) * r), ask - int(r))
    a = max(int(round((mid + s[HALF] - shift) / r) * r), bid + int(r))
    n = _side(s, 0, out, BID_ID, BID_PX, BID_PEND, 1, b, position < s[MAXPOS])
    return _side(s, n, out, ASK_ID, ASK_PX, ASK_PEND, 2, a, position > -s[MAXPOS])


def main() -> int:
    from backtest import BacktestConfig, Constant
    from backtest.fast import run_numba
    from backtest.sweep import load_history

    hist = load_history("lobster")
    lat = Constant(50_000)
    cfg = BacktestConfig(entry_latency=lat, feed_latency=lat, base=Decimal(10_000),
                         maker_fee_ppm=-20, taker_fee_ppm=30)  # fmt: skip
    res = run_numba(hist, mm_nb, new_state(), cfg)
    print(res.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
