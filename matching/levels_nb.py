"""Numba kernels for price levels and the FIFO queues of orders inside them.

Levels of one (instrument, side) form a skip list ordered best first (bids: highest price first;
asks: lowest; buy stops: lowest trigger; sell stops: highest), with a sentinel head per side.
Best level: O(1). Removing the best level (what a sweep does): O(height). Inserting a new level or
removing any level: O(height) for L levels on the side. A price's level is found
through the level hash table in O(1) expected, so adding to an existing level never searches.
Orders in a level are a doubly linked list (``prev``/``next``): append, unlink O(1).
"""

from __future__ import annotations

from matching._jit import njit, njit_inline
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
from matching.view_nb import (
    ctr_of,
    inst_of,
    levels_of,
    lnext_of,
    lprev_of,
    lv_k1_of,
    lv_k2_of,
    lv_v_of,
    orders_of,
    upd_of,
)


@njit_inline
def lkey_nb(bside, price):
    """Skip-list key: ascending key = better level first on every side."""
    if bside == 1 or bside == 2:
        return price
    return -price


@njit_inline
def level_alloc_nb(st):
    l = ctr_of(st)[C_LFREE]
    ctr_of(st)[C_LFREE] = lnext_of(st)[l, 0]
    ctr_of(st)[C_LUSED] += 1
    for lane in range(SKIP_H):
        lnext_of(st)[l, lane] = -1
        lprev_of(st)[l, lane] = -1
    lv = levels_of(st)[l]
    lv.head = -1
    lv.tail = -1
    lv.count = 0
    lv.visible = 0
    lv.sentinel = 0
    return l


@njit_inline
def level_free_nb(st, l):
    levels_of(st)[l].instrument = -1
    levels_of(st)[l].count = 0
    lnext_of(st)[l, 0] = ctr_of(st)[C_LFREE]
    ctr_of(st)[C_LFREE] = l
    ctr_of(st)[C_LUSED] -= 1


@njit
def init_instrument_nb(st, inst_id):
    """Give an instrument its four sentinel heads (caller ensures 4 free levels). O(1)."""
    for b in range(4):
        l = level_alloc_nb(st)
        lv = levels_of(st)[l]
        lv.sentinel = 1
        lv.height = 1
        lv.instrument = inst_id
        lv.bside = b
        lv.price = 0
        inst_of(st)[inst_id].hdr[b] = l


@njit_inline
def level_find_nb(st, inst_id, bside, price):
    """Level of (instrument, side, price), or -1. Expected O(1)."""
    return ht_find_nb(lv_k1_of(st), lv_k2_of(st), lv_v_of(st), inst_id * 4 + bside, price)


@njit_inline
def _random_height(st):
    # p = 1/4 per extra lane: two random bits per lane
    x = xorshift_nb(ctr_of(st), C_RNG)
    h = 1
    while h < SKIP_H and (x & 3) == 0:
        h += 1
        x >>= 2
    return h


@njit
def level_insert_nb(st, inst_id, bside, price):
    """Create the level (instrument, side, price) in its skip list. O(log L) expected."""
    hdr = inst_of(st)[inst_id].hdr[bside]
    k = lkey_nb(bside, price)
    h = _random_height(st)
    top = levels_of(st)[hdr].height
    if h > top:
        top = h
    upd = upd_of(st)
    x = hdr
    for lane in range(top - 1, -1, -1):
        while True:
            nx = lnext_of(st)[x, lane]
            if nx != -1 and lkey_nb(bside, levels_of(st)[nx].price) < k:
                x = nx
            else:
                break
        upd[lane] = x
    if h > levels_of(st)[hdr].height:
        levels_of(st)[hdr].height = h
    l = level_alloc_nb(st)
    lv = levels_of(st)[l]
    lv.price = price
    lv.instrument = inst_id
    lv.bside = bside
    lv.height = h
    nx = lnext_of(st)
    pv = lprev_of(st)
    for lane in range(h):
        after = nx[upd[lane], lane]
        nx[l, lane] = after
        pv[l, lane] = upd[lane]
        nx[upd[lane], lane] = l
        if after != -1:
            pv[after, lane] = l
    ctr_of(st)[C_NLV] += ht_put_nb(
        lv_k1_of(st), lv_k2_of(st), lv_v_of(st), inst_id * 4 + bside, price, l
    )
    return l


@njit
def level_remove_nb(st, l):
    """Unlink an (empty) level from its skip list and free it. O(height), 4/3 lanes expected."""
    lv = levels_of(st)[l]
    inst_id = lv.instrument
    bside = lv.bside
    h = lv.height
    # every lane's neighbours are known both ways: unlink without searching
    nx = lnext_of(st)
    pv = lprev_of(st)
    for lane in range(h):
        before = pv[l, lane]
        after = nx[l, lane]
        nx[before, lane] = after
        if after != -1:
            pv[after, lane] = before
    ctr_of(st)[C_NLV] -= ht_del_nb(
        lv_k1_of(st), lv_k2_of(st), lv_v_of(st), inst_id * 4 + bside, lv.price
    )
    level_free_nb(st, l)


@njit_inline
def best_level_nb(st, inst_id, bside):
    """Best level of a side, or -1. O(1)."""
    return lnext_of(st)[inst_of(st)[inst_id].hdr[bside], 0]


# --- order slots and FIFO queues -----------------------------------------------------------
@njit_inline
def order_alloc_nb(st):
    """A free order slot (caller ensures one exists). O(1)."""
    s = ctr_of(st)[C_OFREE]
    o = orders_of(st)[s]
    ctr_of(st)[C_OFREE] = o.next
    ctr_of(st)[C_OUSED] += 1
    o.live = 1
    o.prev = -1
    o.next = -1
    o.level = -1
    o.pos = -1
    return s


@njit_inline
def order_free_nb(st, s):
    o = orders_of(st)[s]
    o.live = 0
    o.level = -1
    o.prev = -1
    o.next = ctr_of(st)[C_OFREE]
    ctr_of(st)[C_OFREE] = s
    ctr_of(st)[C_OUSED] -= 1


@njit_inline
def order_append_nb(st, l, s):
    """Queue order s at the back of level l. O(1)."""
    o = orders_of(st)[s]
    lv = levels_of(st)[l]
    o.level = l
    o.next = -1
    o.prev = lv.tail
    if lv.tail != -1:
        orders_of(st)[lv.tail].next = s
    else:
        lv.head = s
    lv.tail = s
    lv.count += 1
    lv.visible += o.visible
    if o.bside < 2:
        # per-instrument totals that bound a sweep's events (process_nb.events_needed_nb)
        ins = inst_of(st)[o.instrument]
        ins.resting += 1
        ins.ice_hidden += o.leaves - o.visible


@njit_inline
def order_unlink_nb(st, s):
    """Take order s out of its level's queue (the level itself stays). O(1)."""
    o = orders_of(st)[s]
    l = o.level
    lv = levels_of(st)[l]
    if o.prev != -1:
        orders_of(st)[o.prev].next = o.next
    else:
        lv.head = o.next
    if o.next != -1:
        orders_of(st)[o.next].prev = o.prev
    else:
        lv.tail = o.prev
    lv.count -= 1
    lv.visible -= o.visible
    if o.bside < 2:
        ins = inst_of(st)[o.instrument]
        ins.resting -= 1
        ins.ice_hidden -= o.leaves - o.visible
    o.prev = -1
    o.next = -1
    o.level = -1
    return l


@njit
def order_queue_nb(st, s, bside, price):
    """Queue order s at the back of (its instrument, bside, price), creating the level if
    needed; returns the level. O(1) for an existing level, O(log L) for a new one."""
    o = orders_of(st)[s]
    l = level_find_nb(st, o.instrument, bside, price)
    if l == -1:
        l = level_insert_nb(st, o.instrument, bside, price)
    o.bside = bside
    order_append_nb(st, l, s)
    return l
