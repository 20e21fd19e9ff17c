"""Numba kernels of the backtest: one historical step, and the visible book the feed shows.

The strategy sees the book through the feed, late; so the backtest keeps its own copy of the
visible levels, built from the engine's EV_LEVEL events in the order the engine emitted them,
and records the top ``K`` levels after the last command of every packet. The copy is a dense
window of prices ``[lo, lo + width)`` per side (``book[0]`` bids, ``book[1]`` asks: visible
lots per tick): O(1) per level event; the next best level is found by walking ticks, which is
short near the top of a real book. Levels outside the window are not kept (counted).

``step_nb`` runs one batch of commands through clearing's pipeline kernel and mirrors its
events in the same call: the Python strategy path makes one kernel call per market event, so
the call itself must be cheap (one dispatch instead of the Exchange wrapper plus a mirror).

``par`` (int64): instrument, lo, k_levels, strategy account, index of the engine's event
count, of clearing's ledger count, of the engine's next sequence number (in their counter
arrays). ``mstate`` (int64): best bid index, best ask index, bid levels, ask levels, levels
outside the window (-1 = no best).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from clearing.pipeline_nb import MODE_CLIENT, pipeline_desc_nb
from matching._jit import guard_cache

_HERE = Path(__file__).resolve()
# step_nb calls clearing's (and so matching's) kernels: its cache is stale when they change
guard_cache(
    _HERE.parent / "__pycache__",
    [
        *sorted((_HERE.parent.parent / "matching").glob("*.py")),
        *sorted((_HERE.parent.parent / "clearing").glob("*.py")),
        _HERE,
    ],
    prefix="book_nb.",
)

EV_LEVEL = 7  # matching.records.EV_LEVEL (literals: kernels fold them)
EV_FILL = 3
BUY = 1
P_INST, P_LO, P_K, P_ACCOUNT, P_NEV, P_NLED, P_NEXT_SEQ = 0, 1, 2, 3, 4, 5, 6


@njit(cache=True)
def _top_nb(qty, best, step, lo, k_levels, top, which, row):
    """Top ``k_levels`` non-empty ticks from ``best`` walking by ``step`` into
    top[which (price), row] and top[which + 1 (lots), row]."""
    i = best
    n = 0
    w = qty.shape[0]
    while i >= 0 and i < w and n < k_levels:
        if qty[i] > 0:
            top[which, row, n] = lo + i
            top[which + 1, row, n] = qty[i]
            n += 1
        i += step
    while n < k_levels:
        top[which, row, n] = 0
        top[which + 1, row, n] = 0
        n += 1


@njit(cache=True)
def _level_nb(book, mstate, side, i, q):
    """Set the visible lots of tick ``i`` on ``side`` and keep the best index current."""
    w = book.shape[1]
    if side == BUY:
        qty = book[0]
        if qty[i] == 0 and q > 0:
            mstate[2] += 1
        elif qty[i] > 0 and q == 0:
            mstate[2] -= 1
        qty[i] = q
        if q > 0 and i > mstate[0]:
            mstate[0] = i
        elif q == 0 and i == mstate[0]:
            b = i - 1 if mstate[2] > 0 else -1
            while b >= 0 and qty[b] == 0:
                b -= 1
            mstate[0] = b
    else:
        qty = book[1]
        if qty[i] == 0 and q > 0:
            mstate[3] += 1
        elif qty[i] > 0 and q == 0:
            mstate[3] -= 1
        qty[i] = q
        if q > 0 and (mstate[1] < 0 or i < mstate[1]):
            mstate[1] = i
        elif q == 0 and i == mstate[1]:
            a = i + 1 if mstate[3] > 0 else -1
            while a >= 0 and a < w and qty[a] == 0:
                a += 1
            mstate[1] = a if a < w else -1


@njit(cache=True)
def mirror_nb(ev, n_ev, first_seq, n_cmds, par, book, mstate, rec_row, top):
    """Apply the EV_LEVEL events of instrument ``par[P_INST]`` in ``ev[:n_ev]`` (commands with
    seq ``first_seq ..``) to ``book`` and, after command c, write the top levels to row
    ``rec_row[c]`` of ``top`` (4, rows, k: bid px, bid lots, ask px, ask lots; rows < 0 are
    not recorded). Returns (events of the strategy account, fill events).
    O(events + recorded rows x ticks walked)."""
    lo = par[P_LO]
    inst = par[P_INST]
    acct = par[P_ACCOUNT]
    w = book.shape[1]
    j = 0
    n_mine = 0
    n_fills = 0
    for c in range(n_cmds):
        seq = first_seq + c
        while j < n_ev and ev[j]["seq"] == seq:  # events are in seq order
            e = ev[j]
            k = e["kind"]
            if k == EV_LEVEL:
                if e["instrument"] == inst:
                    i = e["price_ticks"] - lo
                    if i < 0 or i >= w:
                        mstate[4] += 1
                    else:
                        _level_nb(book, mstate, e["side"], i, e["qty_lots"])
            else:
                if k == EV_FILL:
                    n_fills += 1
                    if e["maker_account"] == acct or e["account"] == acct:
                        n_mine += 1
                elif e["account"] == acct:
                    n_mine += 1
            j += 1
        r = rec_row[c]
        if r >= 0:
            _top_nb(book[0], mstate[0], -1, lo, par[P_K], top, 0, r)
            _top_nb(book[1], mstate[1], 1, lo, par[P_K], top, 2, r)
    return n_mine, n_fills


@njit(cache=True)
def step_nb(ed, cd, cmds, ectr, cctr, ev, par, book, mstate, rec_row, top):
    """Run ``cmds`` through clearing's pipeline (``ed`` / ``cd``: the engine's and clearing's
    descriptors; events go to ``ev``, the buffer ``ed`` names) and mirror their events.
    Returns (status, commands done, events, strategy events, fills, first seq). On a status
    other than 0 nothing is mirrored: the caller grows what is needed, finishes the batch
    and mirrors it with ``mirror_nb``. O(commands + events)."""
    ectr[par[P_NEV]] = 0
    cctr[par[P_NLED]] = 0
    first_seq = ectr[par[P_NEXT_SEQ]]
    status, done = pipeline_desc_nb(ed, cd, cmds, MODE_CLIENT)
    if status != 0:
        return status, done, 0, 0, 0, first_seq
    n = ectr[par[P_NEV]]
    mine, fills = mirror_nb(ev, n, first_seq, cmds.shape[0], par, book, mstate, rec_row, top)
    return 0, done, n, mine, fills, first_seq


def new_top(rows: int, k_levels: int) -> np.ndarray:
    """Zeroed top-of-book rows: int64 (4, rows, k_levels). O(rows x k)."""
    return np.zeros((4, rows, k_levels), dtype=np.int64)


@njit(cache=True)
def mine_nb(ev, n, acct, out):
    """Events in ``ev[:n]`` about account ``acct``'s orders (its own, or fills where it is
    the maker), level events excluded, as int64 rows of ``out``: kind, seq, ts, order id,
    maker order id, side, price, qty, leaves, maker leaves, account, maker account, trade id,
    reason, tif, flags. Returns the row count (-1: ``out`` too small). O(n)."""
    k = 0
    for j in range(n):
        e = ev[j]
        kind = e["kind"]
        if kind == EV_LEVEL:
            continue
        if e["account"] == acct or (kind == EV_FILL and e["maker_account"] == acct):
            if k >= out.shape[0]:
                return -1
            out[k, 0] = kind
            out[k, 1] = e["seq"]
            out[k, 2] = e["ts_ns"]
            out[k, 3] = e["order_id"]
            out[k, 4] = e["maker_order_id"]
            out[k, 5] = e["side"]
            out[k, 6] = e["price_ticks"]
            out[k, 7] = e["qty_lots"]
            out[k, 8] = e["leaves_lots"]
            out[k, 9] = e["maker_leaves_lots"]
            out[k, 10] = e["account"]
            out[k, 11] = e["maker_account"]
            out[k, 12] = e["trade_id"]
            out[k, 13] = e["reason"]
            out[k, 14] = e["tif"]
            out[k, 15] = e["flags"]
            k += 1
    return k


@njit(cache=True)
def ledger_nb(led, n, acct, out):
    """Ledger entries of ``led[:n]`` that move account ``acct``'s money, as int64 rows of
    ``out``: seq, ref, signed amount (+ in, - out), asset, kind. Returns the row count
    (-1: ``out`` too small). O(n)."""
    k = 0
    for j in range(n):
        e = led[j]
        sign = 0
        if e["to_account"] == acct:
            sign = 1
        elif e["from_account"] == acct:
            sign = -1
        if sign == 0:
            continue
        if k >= out.shape[0]:
            return -1
        out[k, 0] = e["seq"]
        out[k, 1] = e["ref"]
        out[k, 2] = sign * e["amount"]
        out[k, 3] = e["asset"]
        out[k, 4] = e["kind"]
        k += 1
    return k
