"""``check_state``: the numba engine's invariants, checked in plain Python over its arrays.

Deliberately slow and literal (like sortedcontainers' ``_check``): it walks every skip-list lane,
every level queue, every hash table and the free lists, and raises AssertionError naming the
first thing that is wrong. O(capacity); for tests and audits.
"""

from __future__ import annotations

import numpy as np

from matching.state import (
    C_LFREE,
    C_LUSED,
    C_NCL,
    C_NLV,
    C_NOID,
    C_NPOS,
    C_NSTOPS,
    C_OFREE,
    C_OUSED,
    SKIP_H,
    BookState,
)


def _key(bside: int, price: int) -> int:
    return price if bside in (1, 2) else -price


def _table_entries(vals: np.ndarray) -> np.ndarray:
    return np.nonzero(vals != -1)[0]


def check_state(st: BookState) -> None:
    o, lv, nx, pv, ctr = st.orders, st.levels, st.lnext, st.lprev, st.ctr
    seen_orders: set[int] = set()
    seen_levels: set[int] = set()
    total_stops = 0
    for i in range(len(st.inst)):
        ins = st.inst[i]
        if not ins["defined"]:
            continue
        stops = 0
        best = {}
        for bside in range(4):
            hdr = int(ins["hdr"][bside])
            assert lv[hdr]["sentinel"] == 1, f"instrument {i} side {bside}: head is not a sentinel"
            seen_levels.add(hdr)
            # lane 0: every level, strictly better first
            lane0 = []
            l = int(nx[hdr, 0])
            while l != -1:
                lane0.append(l)
                l = int(nx[l, 0])
            keys = [_key(bside, int(lv[l]["price"])) for l in lane0]
            assert keys == sorted(keys) and len(set(keys)) == len(keys), (
                f"instrument {i} side {bside}: levels out of order {keys}"
            )
            # back-pointers: each level's previous on every lane it is on
            for lane in range(SKIP_H):
                prev_l = hdr
                l = int(nx[hdr, lane])
                while l != -1:
                    assert pv[l, lane] == prev_l, f"level {l} lane {lane}: back-pointer broken"
                    prev_l = l
                    l = int(nx[l, lane])
            # upper lanes: ordered subsets of lane 0, and exactly the levels that tall
            pos = {l: k for k, l in enumerate(lane0)}
            for lane in range(1, SKIP_H):
                l = int(nx[hdr, lane])
                last = -1
                members = []
                while l != -1:
                    assert l in pos, f"level {l} on lane {lane} but not on lane 0"
                    assert pos[l] > last, f"lane {lane} out of order at level {l}"
                    last = pos[l]
                    members.append(l)
                    l = int(nx[l, lane])
                want = [l for l in lane0 if lv[l]["height"] > lane]
                assert members == want, f"instrument {i} side {bside} lane {lane} skips levels"
            if lane0:
                best[bside] = int(lv[lane0[0]]["price"])
            for l in lane0:
                assert l not in seen_levels, f"level {l} linked twice"
                seen_levels.add(l)
                L = lv[l]
                assert L["instrument"] == i and L["bside"] == bside, f"level {l} mislabelled"
                assert L["count"] > 0, f"empty level {l} left in the book"
                # FIFO queue: links both ways, time non-decreasing, totals add up
                s = int(L["head"])
                prev = -1
                count = 0
                visible = 0
                last_seq = -(2**63)
                while s != -1:
                    O = o[s]
                    assert O["live"] == 1, f"dead order slot {s} in level {l}"
                    assert s not in seen_orders, f"order slot {s} queued twice"
                    seen_orders.add(s)
                    assert O["prev"] == prev, f"order {O['order_id']}: prev link broken"
                    assert O["level"] == l, f"order {O['order_id']}: wrong level pointer"
                    assert O["bside"] == bside and O["instrument"] == i
                    want_price = O["price"] if bside < 2 else O["trigger"]
                    assert want_price == L["price"], f"order {O['order_id']} at wrong price"
                    assert O["seq"] >= last_seq, f"level {L['price']}: not FIFO at {O['order_id']}"
                    last_seq = O["seq"]
                    assert 0 < O["visible"] <= O["leaves"] <= O["qty"], (
                        f"order {O['order_id']}: visible {O['visible']} leaves {O['leaves']} "
                        f"qty {O['qty']}"
                    )
                    if O["display"] > 0 and bside < 2:
                        assert O["visible"] <= O["display"], f"iceberg {O['order_id']} over display"
                    elif bside < 2:
                        assert O["visible"] == O["leaves"], f"order {O['order_id']} hides lots"
                    count += 1
                    visible += int(O["visible"])
                    prev = s
                    s = int(O["next"])
                assert prev == L["tail"], f"level {l}: tail link broken"
                assert count == L["count"], f"level {l}: count {L['count']} != {count}"
                assert visible == L["visible"], f"level {l}: visible {L['visible']} != {visible}"
                if bside >= 2:
                    stops += count
        if 0 in best and 1 in best:
            assert best[0] < best[1], f"instrument {i}: crossed book {best[0]} >= {best[1]}"
        assert stops == ins["pending_stops"], f"instrument {i}: pending stops miscounted"
        total_stops += stops
    assert total_stops == ctr[C_NSTOPS], "pending stop total miscounted"

    # pools: every slot is live and queued, or on the free list: nothing orphaned
    live = set(np.nonzero(o["live"] == 1)[0].tolist())
    assert live == seen_orders, f"live order slots in no level: {sorted(live - seen_orders)[:5]}"
    assert len(live) == ctr[C_OUSED], f"live orders {len(live)} != counter {ctr[C_OUSED]}"
    free = set()
    s = int(ctr[C_OFREE])
    while s != -1:
        assert s not in free and s not in live, f"order free list broken at {s}"
        free.add(s)
        s = int(o[s]["next"])
    assert len(free) + len(live) == len(o), "order slots orphaned (neither live nor free)"
    lfree = set()
    l = int(ctr[C_LFREE])
    while l != -1:
        assert l not in lfree and l not in seen_levels, f"level free list broken at {l}"
        lfree.add(l)
        l = int(nx[l, 0])
    assert len(lfree) + len(seen_levels) == len(lv), "level slots orphaned"
    assert len(seen_levels) == ctr[C_LUSED], "level counter wrong"

    # indexes: exactly the live orders / levels / positions, each pointing back correctly
    ids = _table_entries(st.oid_v)
    assert len(ids) == ctr[C_NOID] == len(live), "order-id table size != live orders"
    for k in ids:
        s = int(st.oid_v[k])
        assert s in live and o[s]["order_id"] == st.oid_k[k], f"order id {st.oid_k[k]} misindexed"
    cls = _table_entries(st.cl_v)
    with_cl = [s for s in live if o[s]["client_order_id"] != 0]
    assert len(cls) == ctr[C_NCL] == len(with_cl), "client-order-id table size wrong"
    for k in cls:
        s = int(st.cl_v[k])
        assert s in live, f"client order id {st.cl_k2[k]} points at a dead slot"
        assert (o[s]["account"], o[s]["client_order_id"]) == (st.cl_k1[k], st.cl_k2[k])
    lvs = _table_entries(st.lv_v)
    book_levels = seen_levels - {int(h) for h in st.inst["hdr"].ravel() if h >= 0}
    assert len(lvs) == ctr[C_NLV] == len(book_levels), "level table size wrong"
    for k in lvs:
        l = int(st.lv_v[k])
        assert l in book_levels, f"level table points at unlinked level {l}"
        assert st.lv_k1[k] == lv[l]["instrument"] * 4 + lv[l]["bside"]
        assert st.lv_k2[k] == lv[l]["price"]
    assert len(_table_entries(st.pos_v)) == ctr[C_NPOS], "position table size wrong"
