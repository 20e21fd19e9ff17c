"""Price-level books in one arena (numba kernels), shared by the publisher and BookBuilder.

Book ``b`` (``2 * instrument_index + side_bit``, side bit 0 = bids, 1 = asks) owns the slots
``start[b] .. start[b] + cap[b]`` of the arena arrays ``keys``, ``qty``, ``cnt``; its ``n[b]``
levels are sorted by ascending key with the BEST level LAST: key = price for bids, -price for
asks. Updates cluster at the top of a book, so keeping the top at the end makes the insert or
delete shift only the few levels above it. A full book moves to the free end of the arena with
twice the room (``top[0]`` is the first free slot); when the arena itself is full the kernel
says so (-2) and the Python wrapper compacts it into a larger one (``compact_nb``), then calls
again: capacity grows outside the kernel, never by a crash.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEED_ROOM = -2


@njit(cache=True)
def find_nb(keys, start, n, b, key):
    """Position of the first level of book b with key >= ``key`` (binary search). O(log n)."""
    lo = start[b]
    hi = lo + n[b]
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def set_level_nb(keys, qty, cnt, start, cap, n, top, b, key, q, c):
    """Set level ``key`` of book b to visible total q with c orders (q == 0 deletes it).
    Returns the previous total (-1: the level was absent) or NEED_ROOM (nothing changed).
    O(log n + levels above it)."""
    s = start[b]
    m = n[b]
    p = find_nb(keys, start, n, b, key)
    found = p < s + m and keys[p] == key
    if q == 0:
        if not found:
            return -1
        old = qty[p]
        # shift the better levels down over the deleted one
        for j in range(p, s + m - 1):
            keys[j] = keys[j + 1]
            qty[j] = qty[j + 1]
            cnt[j] = cnt[j + 1]
        n[b] = m - 1
        return old
    if found:
        old = qty[p]
        qty[p] = q
        cnt[p] = c
        return old
    if m == cap[b]:
        newcap = max(8, 2 * cap[b])
        if top[0] + newcap > keys.shape[0]:
            return NEED_ROOM
        t = top[0]
        for j in range(m):
            keys[t + j] = keys[s + j]
            qty[t + j] = qty[s + j]
            cnt[t + j] = cnt[s + j]
        p = t + (p - s)
        s = t
        start[b] = t
        cap[b] = newcap
        top[0] = t + newcap
    # shift the better levels up to open slot p
    for j in range(s + m, p, -1):
        keys[j] = keys[j - 1]
        qty[j] = qty[j - 1]
        cnt[j] = cnt[j - 1]
    keys[p] = key
    qty[p] = q
    cnt[p] = c
    n[b] = m + 1
    return -1


@njit(cache=True)
def compact_nb(keys, qty, cnt, start, cap, n, nkeys, nqty, ncnt, spare):
    """Copy every book into new arena arrays, each with ``spare`` free slots beyond its
    levels (at least 8). Returns the new first free slot. O(levels)."""
    t = 0
    for b in range(start.shape[0]):
        m = n[b]
        s = start[b]
        for j in range(m):
            nkeys[t + j] = keys[s + j]
            nqty[t + j] = qty[s + j]
            ncnt[t + j] = cnt[s + j]
        start[b] = t
        c = max(8, m + spare, 2 * m)
        cap[b] = c
        t += c
    return t


@njit(cache=True)
def apply_l2_nb(keys, qty, cnt, start, cap, n, top, b_bid, recs, first):
    """Apply L2 records ``recs[first:]`` (absolute level totals) to the books of one
    instrument (bids = book b_bid, asks = b_bid + 1). Returns the index of the first record
    not applied: ``len(recs)`` when done, less when the arena needs room. The BookBuilder's hot
    loop: ~one binary search and a short shift per update, no Python."""
    for i in range(first, recs.shape[0]):
        r = recs[i]
        side = r["side"]
        price = r["price_ticks"]
        if side == 1:
            b = b_bid
            key = price
        else:
            b = b_bid + 1
            key = -price
        q = r["qty_lots"]
        if set_level_nb(keys, qty, cnt, start, cap, n, top, b, key, q, r["orders"]) == NEED_ROOM:
            return i
    return recs.shape[0]


@njit(cache=True)
def levels_out_nb(keys, qty, cnt, start, n, b, sign, depth, out):
    """Write book b's levels, best first, as (price, qty, orders) rows into ``out`` (at most
    ``depth``, 0 = all). Returns the row count. O(rows)."""
    m = n[b]
    k = m if depth <= 0 or depth > m else depth
    s = start[b]
    for j in range(k):
        p = s + m - 1 - j
        out[j, 0] = keys[p] * sign
        out[j, 1] = qty[p]
        out[j, 2] = cnt[p]
    return k


def new_arena(n_books: int, per_book: int = 8) -> tuple[np.ndarray, ...]:
    """Empty arena for ``n_books`` books with ``per_book`` slots each:
    (keys, qty, cnt, start, cap, n, top). O(n_books * per_book)."""
    size = max(n_books * per_book, 64)
    start = np.arange(n_books, dtype=np.int64) * per_book
    cap = np.full(n_books, per_book, dtype=np.int64)
    n = np.zeros(n_books, dtype=np.int64)
    top = np.array([n_books * per_book], dtype=np.int64)
    return (
        np.zeros(size, np.int64),
        np.zeros(size, np.int64),
        np.zeros(size, np.int64),
        start,
        cap,
        n,
        top,
    )


def grow_arena(arena: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """A compacted copy with at least twice the room of the live levels. O(levels)."""
    keys, qty, cnt, start, cap, n, top = arena
    live = int(n.sum())
    size = max(2 * keys.shape[0], 4 * live + 16 * len(n), 64)
    nk, nq, nc = np.zeros(size, np.int64), np.zeros(size, np.int64), np.zeros(size, np.int64)
    top[0] = compact_nb(keys, qty, cnt, start, cap, n, nk, nq, nc, 8)
    return nk, nq, nc, start, cap, n, top
