"""Numba kernels that read the book without changing it: depth, dump, positions."""

from __future__ import annotations

from matching._jit import njit
from matching.levels_nb import best_level_nb
from matching.state import C_OUSED
from matching.tables_nb import ht_find_nb
from matching.view_nb import (
    ctr_of,
    inst_of,
    levels_of,
    lnext_of,
    orders_of,
    pos_k1_of,
    pos_k2_of,
    pos_v_of,
    posv_of,
)


@njit
def depth_nb(st, inst_id, bside, depth, out):
    """Top ``depth`` levels of one side into out[:, 0..2] = price, visible, count.
    Returns the number of rows. O(depth)."""
    n = 0
    l = best_level_nb(st, inst_id, bside)
    while l != -1 and n < depth:
        lv = levels_of(st)[l]
        out[n, 0] = lv.price
        out[n, 1] = lv.visible
        out[n, 2] = lv.count
        n += 1
        l = lnext_of(st)[l, 0]
    return n


@njit
def dump_nb(st, out):
    """Every live order in canonical priority order (rulebook 8) into ``out`` (DUMP_DTYPE,
    at least ``ctr[C_OUSED]`` long). Returns the count. O(orders + levels)."""
    n = 0
    for i in range(inst_of(st).shape[0]):
        if inst_of(st)[i].defined == 0:
            continue
        for bside in range(4):
            l = best_level_nb(st, i, bside)
            while l != -1:
                s = levels_of(st)[l].head
                while s != -1:
                    o = orders_of(st)[s]
                    d = out[n]
                    d.instrument = i
                    d.side = bside + 1
                    d.order_type = o.order_type
                    d.tif = o.tif
                    d.flags = o.flags
                    d.account = o.account
                    d.stp_group = o.stp_group
                    d.order_id = o.order_id
                    d.client_order_id = o.client_order_id
                    d.price_ticks = o.price
                    d.trigger_ticks = o.trigger
                    d.qty_lots = o.qty
                    d.leaves_lots = o.leaves
                    d.visible_lots = o.visible
                    d.display_lots = o.display
                    d.expire_ns = o.expire
                    d.stp = o.stp
                    n += 1
                    s = o.next
                l = lnext_of(st)[l, 0]
    return n


@njit
def live_orders_nb(st):
    return ctr_of(st)[C_OUSED]


@njit
def position_nb(st, account, inst_id):
    p = ht_find_nb(pos_k1_of(st), pos_k2_of(st), pos_v_of(st), account, inst_id)
    if p == -1:
        return 0
    return posv_of(st)[p]
