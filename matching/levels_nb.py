"""Numba kernels for price levels and the FIFO queues of orders inside them.

Levels of one (instrument, side) form a skip list ordered best first (bids: highest price first;
asks: lowest; buy stops: lowest trigger; sell stops: highest), with a sentinel head per side.
Best level: O(1). Removing the best level (what a sweep does): O(height). Inserting a new level or
removing an inner one: O(log L) expected for L levels on the side. A price's level is found
through the level hash table in O(1) expected, so adding to an existing level never searches.
Orders in a level are a doubly linked list (``prev``/``next``): append, unlink O(1).
"""

from __future__ import annotations

from matching._jit import njit
from matching.state import (
    C_LFREE,
    C_LUSED,
    C_NLV,
    C_OFREE,
    C_OUSED,
    C_RNG,
    SKIP_H,
)
from matching.tables_nb import ht_del_nb, ht_find_nb, ht_put_nb, xorshift_nb


@njit
def lkey_nb(bside, price):
    """Skip-list key: ascending key = better level first on every side."""
    if bside == 1 or bside == 2:
        return price
    return -price


@njit
def level_alloc_nb(st):
    l = st.ctr[C_LFREE]
    st.ctr[C_LFREE] = st.lnext[l, 0]
    st.ctr[C_LUSED] += 1
    for lane in range(SKIP_H):
        st.lnext[l, lane] = -1
    lv = st.levels[l]
    lv.head = -1
    lv.tail = -1
    lv.count = 0
    lv.visible = 0
    lv.sentinel = 0
    return l


@njit
def level_free_nb(st, l):
    st.levels[l].instrument = -1
    st.levels[l].count = 0
    st.lnext[l, 0] = st.ctr[C_LFREE]
    st.ctr[C_LFREE] = l
    st.ctr[C_LUSED] -= 1


@njit
def init_instrument_nb(st, inst_id):
    """Give an instrument its four sentinel heads (caller ensures 4 free levels). O(1)."""
    for b in range(4):
        l = level_alloc_nb(st)
        lv = st.levels[l]
        lv.sentinel = 1
        lv.height = 1
        lv.instrument = inst_id
        lv.bside = b
        lv.price = 0
        st.inst[inst_id].hdr[b] = l


@njit
def level_find_nb(st, inst_id, bside, price):
    """Level of (instrument, side, price), or -1. Expected O(1)."""
    return ht_find_nb(st.lv_k1, st.lv_k2, st.lv_v, inst_id * 4 + bside, price)


@njit
def _random_height(st):
    # p = 1/4 per extra lane: two random bits per lane
    x = xorshift_nb(st.ctr, C_RNG)
    h = 1
    while h < SKIP_H and (x & 3) == 0:
        h += 1
        x >>= 2
    return h


@njit
def level_insert_nb(st, inst_id, bside, price):
    """Create the level (instrument, side, price) in its skip list. O(log L) expected."""
    hdr = st.inst[inst_id].hdr[bside]
    k = lkey_nb(bside, price)
    h = _random_height(st)
    top = st.levels[hdr].height
    if h > top:
        top = h
    upd = st.upd
    x = hdr
    for lane in range(top - 1, -1, -1):
        while True:
            nx = st.lnext[x, lane]
            if nx != -1 and lkey_nb(bside, st.levels[nx].price) < k:
                x = nx
            else:
                break
        upd[lane] = x
    if h > st.levels[hdr].height:
        st.levels[hdr].height = h
    l = level_alloc_nb(st)
    lv = st.levels[l]
    lv.price = price
    lv.instrument = inst_id
    lv.bside = bside
    lv.height = h
    for lane in range(h):
        st.lnext[l, lane] = st.lnext[upd[lane], lane]
        st.lnext[upd[lane], lane] = l
    st.ctr[C_NLV] += ht_put_nb(st.lv_k1, st.lv_k2, st.lv_v, inst_id * 4 + bside, price, l)
    return l


@njit
def level_remove_nb(st, l):
    """Unlink an (empty) level from its skip list and free it. O(height) for the best level,
    O(log L) expected otherwise."""
    lv = st.levels[l]
    inst_id = lv.instrument
    bside = lv.bside
    hdr = st.inst[inst_id].hdr[bside]
    h = lv.height
    if st.lnext[hdr, 0] == l:
        # the best level is first on every lane it is on
        for lane in range(h):
            st.lnext[hdr, lane] = st.lnext[l, lane]
    else:
        k = lkey_nb(bside, lv.price)
        x = hdr
        for lane in range(st.levels[hdr].height - 1, -1, -1):
            while True:
                nx = st.lnext[x, lane]
                if nx != -1 and nx != l and lkey_nb(bside, st.levels[nx].price) < k:
                    x = nx
                else:
                    break
            if lane < h:
                st.lnext[x, lane] = st.lnext[l, lane]
    st.ctr[C_NLV] -= ht_del_nb(st.lv_k1, st.lv_k2, st.lv_v, inst_id * 4 + bside, lv.price)
    level_free_nb(st, l)


@njit
def best_level_nb(st, inst_id, bside):
    """Best level of a side, or -1. O(1)."""
    return st.lnext[st.inst[inst_id].hdr[bside], 0]


# --- order slots and FIFO queues -----------------------------------------------------------
@njit
def order_alloc_nb(st):
    """A free order slot (caller ensures one exists). O(1)."""
    s = st.ctr[C_OFREE]
    o = st.orders[s]
    st.ctr[C_OFREE] = o.next
    st.ctr[C_OUSED] += 1
    o.live = 1
    o.prev = -1
    o.next = -1
    o.level = -1
    o.pos = -1
    return s


@njit
def order_free_nb(st, s):
    o = st.orders[s]
    o.live = 0
    o.level = -1
    o.prev = -1
    o.next = st.ctr[C_OFREE]
    st.ctr[C_OFREE] = s
    st.ctr[C_OUSED] -= 1


@njit
def order_append_nb(st, l, s):
    """Queue order s at the back of level l. O(1)."""
    o = st.orders[s]
    lv = st.levels[l]
    o.level = l
    o.next = -1
    o.prev = lv.tail
    if lv.tail != -1:
        st.orders[lv.tail].next = s
    else:
        lv.head = s
    lv.tail = s
    lv.count += 1
    lv.visible += o.visible


@njit
def order_unlink_nb(st, s):
    """Take order s out of its level's queue (the level itself stays). O(1)."""
    o = st.orders[s]
    l = o.level
    lv = st.levels[l]
    if o.prev != -1:
        st.orders[o.prev].next = o.next
    else:
        lv.head = o.next
    if o.next != -1:
        st.orders[o.next].prev = o.prev
    else:
        lv.tail = o.prev
    lv.count -= 1
    lv.visible -= o.visible
    o.prev = -1
    o.next = -1
    o.level = -1
    return l


@njit
def order_queue_nb(st, s, bside, price):
    """Queue order s at the back of (its instrument, bside, price), creating the level if
    needed; returns the level. O(1) for an existing level, O(log L) for a new one."""
    o = st.orders[s]
    l = level_find_nb(st, o.instrument, bside, price)
    if l == -1:
        l = level_insert_nb(st, o.instrument, bside, price)
    o.bside = bside
    order_append_nb(st, l, s)
    return l
