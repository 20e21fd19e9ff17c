"""The numba engine's state: aligned structured arrays in one NamedTuple, and their growth.

Layout (all capacities grow by reallocation here, outside the kernel, never by a crash):

- ``orders``: the order pool (ORDER_DTYPE). Free slots form a list through ``next``. A live
  order sits in one price level (bids/asks) or one stop queue, linked by ``prev``/``next``.
- ``levels`` + ``lnext``: price levels, kept per (instrument, side) in a skip list ordered best
  first (``lnext[l, k]`` is the next level on lane k). Each (instrument, side) has a sentinel
  head level. Four sides: 0 bids, 1 asks, 2 buy stops (by trigger), 3 sell stops.
- hash tables (open addressing, linear probing, backward-shift delete; value -1 = empty):
  order id -> slot, (account, client order id) -> slot, (instrument*4+side, price) -> level,
  (account, instrument) -> index into ``posv`` (net positions).
- ``heap_t``/``heap_id``: binary min-heap of (expire_ns, order_id) for GTD expiry.
- ``inst``: INSTRUMENT_DTYPE per instrument id; ``ctr``: int64 counters (indices below).

The kernel checks before each command that every pool can absorb that command's worst case and
otherwise returns NEED_CAPACITY with the index of the command; the wrapper calls ``grow`` and
resumes at that command, so a batch never half-applies a command.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from matching.records import INSTRUMENT_DTYPE

SKIP_H = 12  # skip-list lanes: with p = 1/4 this serves ~16M levels per side in O(log n)

ORDER_DTYPE = np.dtype(
    [
        ("order_id", np.int64),
        ("client_order_id", np.int64),
        ("price", np.int64),  # limit price in ticks (0 for market / stop-market)
        ("qty", np.int64),  # total quantity (changed by amend)
        ("leaves", np.int64),  # remaining, hidden included
        ("visible", np.int64),  # displayed remaining (== leaves unless iceberg)
        ("display", np.int64),  # iceberg tranche (0 = not an iceberg)
        ("trigger", np.int64),
        ("expire", np.int64),
        ("seq", np.int64),  # time priority: seq of the command that queued it last
        ("account", np.int32),
        ("instrument", np.int32),
        ("level", np.int32),
        ("prev", np.int32),
        ("next", np.int32),
        ("stp_group", np.int32),
        ("pos", np.int32),  # index into posv, -1 for spot
        ("side", np.uint8),
        ("order_type", np.uint8),
        ("tif", np.uint8),
        ("flags", np.uint8),
        ("stp", np.uint8),
        ("bside", np.uint8),  # 0 bids, 1 asks, 2 buy stops, 3 sell stops
        ("live", np.uint8),
    ],
    align=True,
)

LEVEL_DTYPE = np.dtype(
    [
        ("price", np.int64),  # price (book sides) or trigger (stop sides)
        ("visible", np.int64),  # sum of the orders' visible lots
        ("head", np.int32),
        ("tail", np.int32),
        ("count", np.int32),
        ("instrument", np.int32),
        ("bside", np.uint8),
        ("height", np.uint8),  # lanes this level is on (a sentinel: highest lane in use)
        ("sentinel", np.uint8),
    ],
    align=True,
)

# ctr indices
C_NEV = 0  # events written in the current call
C_OFREE = 1  # head of the free order-slot list
C_OUSED = 2  # live orders (resting + pending stops + the taker in flight)
C_LFREE = 3  # head of the free level list (linked through lnext[:, 0])
C_LUSED = 4
C_NOID = 5  # entries in the order-id table
C_NCL = 6  # entries in the client-order-id table
C_NLV = 7  # entries in the level table
C_NPOS = 8  # positions (entries in the position table == used posv slots)
C_NHEAP = 9
C_NEXT_OID = 10  # next engine-assigned order id
C_RNG = 11  # xorshift state for skip-list heights
C_NOW = 12  # engine time (max command ts so far)
C_SEQ = 13  # current command's seq
C_TS = 14  # current command's ts
C_CKIND = 15  # current command's kind
C_NSTOPS = 16  # pending stops, all instruments
C_MAXORD = 17  # configured max live orders (0 = unlimited)
C_TDEAD = 18  # scratch: the taker was cancelled by STP
C_NEED = 19  # events the next command needs room for (after NEED_EVENTS)
C_NEXT_SEQ = 20  # sequence number the next unstamped command gets
N_CTR = 24


class BookState(NamedTuple):
    orders: np.ndarray
    levels: np.ndarray
    lnext: np.ndarray
    oid_k: np.ndarray
    oid_v: np.ndarray
    cl_k1: np.ndarray
    cl_k2: np.ndarray
    cl_v: np.ndarray
    lv_k1: np.ndarray
    lv_k2: np.ndarray
    lv_v: np.ndarray
    pos_k1: np.ndarray
    pos_k2: np.ndarray
    pos_v: np.ndarray
    posv: np.ndarray
    heap_t: np.ndarray
    heap_id: np.ndarray
    inst: np.ndarray
    ctr: np.ndarray
    upd: np.ndarray  # scratch: skip-list predecessors, one per lane
    lprev: np.ndarray  # lprev[l, k]: the previous level on lane k (makes removal O(height))


def descriptor(st: BookState) -> np.ndarray:
    """(address, first dimension) of every state array, in field order: what the borrowed
    kernel entry (``borrow_nb``) rebuilds the state from. Rebuild after any reallocation."""
    d = np.zeros(2 * len(st) + 2, dtype=np.int64)  # + the event buffer, set per call
    for k, arr in enumerate(st):
        assert arr.flags.c_contiguous, f"state array {st._fields[k]} must be C-contiguous"
        d[2 * k] = arr.ctypes.data
        d[2 * k + 1] = arr.shape[0]
    return d


def _pow2(n: int) -> int:
    p = 16
    while p < n:
        p *= 2
    return p


def _empty_orders(n: int) -> np.ndarray:
    o = np.zeros(n, dtype=ORDER_DTYPE)
    o["next"] = np.arange(1, n + 1, dtype=np.int32)
    o["next"][-1] = -1
    o["prev"] = -1
    o["level"] = -1
    o["pos"] = -1
    return o


def _empty_levels(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lv = np.zeros(n, dtype=LEVEL_DTYPE)
    lv["head"] = -1
    lv["tail"] = -1
    lv["instrument"] = -1
    nx = np.full((n, SKIP_H), -1, dtype=np.int32)
    nx[:, 0] = np.arange(1, n + 1, dtype=np.int32)
    nx[-1, 0] = -1
    return lv, nx, np.full((n, SKIP_H), -1, dtype=np.int32)


def _table(n: int, keys: int) -> tuple[np.ndarray, ...]:
    ks = tuple(np.zeros(n, dtype=np.int64) for _ in range(keys))
    return (*ks, np.full(n, -1, dtype=np.int64))


def new_state(inst_table: np.ndarray, order_capacity: int = 1024, max_orders: int = 0) -> BookState:
    """Empty state for the given instrument table. O(capacity + instruments)."""
    n_inst = len(inst_table)
    cap_o = max(16, order_capacity)
    cap_l = max(64, 4 * n_inst + 64, cap_o // 4)
    orders = _empty_orders(cap_o)
    levels, lnext, lprev = _empty_levels(cap_l)
    oid_k, oid_v = _table(_pow2(2 * cap_o), 1)
    cl_k1, cl_k2, cl_v = _table(256, 2)
    lv_k1, lv_k2, lv_v = _table(_pow2(2 * cap_l), 2)
    pos_k1, pos_k2, pos_v = _table(256, 2)
    ctr = np.zeros(N_CTR, dtype=np.int64)
    ctr[C_OFREE] = 0
    ctr[C_LFREE] = 0
    ctr[C_NEXT_OID] = 1
    ctr[C_NEXT_SEQ] = 1
    ctr[C_RNG] = 0x2545F4914F6CDD1D
    ctr[C_MAXORD] = max_orders
    return BookState(
        orders=orders,
        levels=levels,
        lnext=lnext,
        oid_k=oid_k,
        oid_v=oid_v,
        cl_k1=cl_k1,
        cl_k2=cl_k2,
        cl_v=cl_v,
        lv_k1=lv_k1,
        lv_k2=lv_k2,
        lv_v=lv_v,
        pos_k1=pos_k1,
        pos_k2=pos_k2,
        pos_v=pos_v,
        posv=np.zeros(128, dtype=np.int64),
        heap_t=np.zeros(64, dtype=np.int64),
        heap_id=np.zeros(64, dtype=np.int64),
        inst=np.array(inst_table, dtype=INSTRUMENT_DTYPE, copy=True),
        ctr=ctr,
        upd=np.zeros(SKIP_H, dtype=np.int32),
        lprev=lprev,
    )


def _grow_orders(st: BookState, need: int) -> BookState:
    o = st.orders
    n = len(o)
    new_n = max(2 * n, n + need)
    grown = _empty_orders(new_n)
    grown[:n] = o
    # chain the new slots in front of the current free list
    grown["next"][new_n - 1] = st.ctr[1]
    st.ctr[1] = n
    return st._replace(orders=grown)


def _grow_levels(st: BookState, need: int) -> BookState:
    lv, nx, pv = st.levels, st.lnext, st.lprev
    n = len(lv)
    new_n = max(2 * n, n + need)
    glv, gnx, gpv = _empty_levels(new_n)
    glv[:n] = lv
    gnx[:n] = nx
    gpv[:n] = pv
    gnx[new_n - 1, 0] = st.ctr[3]
    st.ctr[3] = n
    return st._replace(levels=glv, lnext=gnx, lprev=gpv)


def grow(st: BookState, rehash, stops: int) -> BookState:
    """Grow every pool that cannot absorb one more command's worst case. ``rehash`` is the
    kernel that rebuilds a table into a larger one. O(size of what grows)."""
    ctr = st.ctr
    if ctr[C_OFREE] == -1:
        st = _grow_orders(st, 1)
    free_levels = len(st.levels) - ctr[C_LUSED]
    if free_levels < stops + 8:
        st = _grow_levels(st, stops + 8)

    def bigger(n_used: int, cap: int, extra: int) -> int:
        return _pow2(max(2 * cap, 4 * (n_used + extra)))

    if 2 * (ctr[C_NOID] + 2) > len(st.oid_v) or len(st.oid_v) < 2 * len(st.orders):
        size = bigger(ctr[C_NOID], max(len(st.oid_v), len(st.orders)), 2)
        k = np.zeros(size, dtype=np.int64)
        v = np.full(size, -1, dtype=np.int64)
        rehash(st.oid_k, st.oid_k, st.oid_v, k, k, v, 1)
        st = st._replace(oid_k=k, oid_v=v)
    if 2 * (ctr[C_NCL] + 2) > len(st.cl_v):
        size = bigger(ctr[C_NCL], len(st.cl_v), 2)
        k1, k2 = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        v = np.full(size, -1, dtype=np.int64)
        rehash(st.cl_k1, st.cl_k2, st.cl_v, k1, k2, v, 2)
        st = st._replace(cl_k1=k1, cl_k2=k2, cl_v=v)
    if 2 * (ctr[C_NLV] + stops + 4) > len(st.lv_v):
        size = bigger(ctr[C_NLV], len(st.lv_v), stops + 4)
        k1, k2 = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        v = np.full(size, -1, dtype=np.int64)
        rehash(st.lv_k1, st.lv_k2, st.lv_v, k1, k2, v, 2)
        st = st._replace(lv_k1=k1, lv_k2=k2, lv_v=v)
    if 2 * (ctr[C_NPOS] + 2) > len(st.pos_v):
        size = bigger(ctr[C_NPOS], len(st.pos_v), 2)
        k1, k2 = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        v = np.full(size, -1, dtype=np.int64)
        rehash(st.pos_k1, st.pos_k2, st.pos_v, k1, k2, v, 2)
        st = st._replace(pos_k1=k1, pos_k2=k2, pos_v=v)
    if ctr[C_NPOS] + 2 > len(st.posv):
        posv = np.zeros(2 * len(st.posv) + 2, dtype=np.int64)
        posv[: len(st.posv)] = st.posv
        st = st._replace(posv=posv)
    if ctr[C_NHEAP] + 2 > len(st.heap_t):
        n = 2 * len(st.heap_t)
        ht, hi = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        ht[: len(st.heap_t)] = st.heap_t
        hi[: len(st.heap_id)] = st.heap_id
        st = st._replace(heap_t=ht, heap_id=hi)
    return st
