"""The publisher's kernel: one pass over a batch of engine events (EVENT_DTYPE) writes the
records of every channel (marketdata/wire.py) with their per-instrument sequence numbers.

It keeps, between calls: the level books (levels_nb arena) for L2 actions and the BBO; the
resting orders (a numba typed dict, order id -> (instrument index, side, price, displayed,
leaves, display tranche)) for L3; the last BBO and the open OHLCV bars per instrument; the
"taker in flight" of the current command (docs/marketdata.md, "How L3 is derived").

Only public fields are ever read from an event into a record: order ids, prices, sizes,
sides, trade ids, times. Accounts, client order ids and maker accounts never reach a record.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from marketdata.levels_nb import NEED_ROOM, set_level_nb

# numba freezes module globals as compile-time constants, imported ones too: the engine's own
# event kinds, reasons and the wire's channels, never copies that could drift from them
from marketdata.wire import (
    CH_BBO,
    CH_L2,
    CH_L3,
    CH_OHLCV_1M,
    CH_OHLCV_1S,
    CH_STATUS,
    CH_TRADES,
)
from matching.reasons import STATUS_HALTED, STATUS_RESUMED
from matching.records import (
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    EV_FUNDING,
    EV_LEVEL,
    EV_MARK,
    EV_SETTLEMENT,
    EV_STATUS,
    EV_TRIGGERED,
    EVF_KEPT_PRIORITY,
    EVF_REFILLED,
    LIMIT,
    STOP_LIMIT,
)

# taker-in-flight slots of ``tk``
T_SEQ = 0
T_OID = 1
T_II = 2
T_SIDE = 3
T_PRICE = 4
T_LEAVES = 5
T_CAN_REST = 6
T_AWAIT = 7  # an amend took the order off its level: the next LEVEL there is that removal
T_OLD_PRICE = 8

# bar slots
B_START = 0
B_OPEN = 1
B_HIGH = 2
B_LOW = 3
B_CLOSE = 4
B_VOL = 5
B_N = 6

ST_HALTED = 1
ST_RESUMED = 2
ST_REF_PRICE = 3
ST_MARK = 4
ST_FUNDING = 5
ST_SETTLEMENT = 6


@njit(cache=True)
def _l3(out, oinst, cnt, seqs, ii, ts, oid, side, price, size, remaining, trade_id, action):
    k = cnt[CH_L3]
    seqs[ii, CH_L3] += 1
    r = out[k]
    r["seq"] = seqs[ii, CH_L3]
    r["ts_ns"] = ts
    r["order_id"] = oid
    r["price_ticks"] = price
    r["size_lots"] = size
    r["remaining_lots"] = remaining
    r["trade_id"] = trade_id
    r["side"] = side
    r["action"] = action
    oinst[k] = ii
    cnt[CH_L3] = k + 1


@njit(cache=True)
def _bar_out(out, oinst, cnt, seqs, ch, ii, bar, closed):
    k = cnt[ch]
    seqs[ii, ch] += 1
    r = out[k]
    r["seq"] = seqs[ii, ch]
    r["start_ns"] = bar[B_START]
    r["open_ticks"] = bar[B_OPEN]
    r["high_ticks"] = bar[B_HIGH]
    r["low_ticks"] = bar[B_LOW]
    r["close_ticks"] = bar[B_CLOSE]
    r["volume_lots"] = bar[B_VOL]
    r["trades"] = bar[B_N]
    r["closed"] = closed
    oinst[k] = ii
    cnt[ch] = k + 1


@njit(cache=True)
def _status(out, oinst, cnt, seqs, ii, ts, kind, price, value, reason):
    k = cnt[CH_STATUS]
    seqs[ii, CH_STATUS] += 1
    r = out[k]
    r["seq"] = seqs[ii, CH_STATUS]
    r["ts_ns"] = ts
    r["price_ticks"] = price
    r["value"] = value
    r["kind"] = kind
    r["reason"] = reason
    oinst[k] = ii
    cnt[CH_STATUS] = k + 1


@njit(cache=True)
def _bar_trade(bars, bar_open, oh, oinst, cnt, seqs, ch, ii, width, ts, price, qty):
    bar = bars[ii]
    start = ts - ts % width
    if bar[B_N] > 0 and bar[B_START] != start:
        _bar_out(oh, oinst, cnt, seqs, ch, ii, bar, 1)
        bar[B_N] = 0
    if bar[B_N] == 0:
        bar[B_START] = start
        bar[B_OPEN] = price
        bar[B_HIGH] = price
        bar[B_LOW] = price
        bar[B_VOL] = 0
    bar[B_HIGH] = max(bar[B_HIGH], price)
    bar[B_LOW] = min(bar[B_LOW], price)
    bar[B_CLOSE] = price
    bar[B_VOL] += qty
    bar[B_N] += 1
    # bar_open row: flags of the n instruments, then the count and list of open bars
    n = bars.shape[0]
    if bar_open[ii] == 0:
        bar_open[n + 1 + bar_open[n]] = ii
        bar_open[n] += 1
    bar_open[ii] = 1


@njit(cache=True)
def _top(keys, qty, cnt, start, n, b, sign, dst, at):
    m = n[b]
    if m == 0:
        dst[at] = 0
        dst[at + 1] = 0
        dst[at + 2] = 0
    else:
        p = start[b] + m - 1
        dst[at] = keys[p] * sign
        dst[at + 1] = qty[p]
        dst[at + 2] = cnt[p]


@njit(cache=True)
def flush_bars_nb(bars1s, bars1m, bar_open, now_ns, cnt_out, seqs, o1, o1_i, o2, o2_i):
    """End of a batch: every bar that traded in it goes out as it stands (closed = 0), and bars
    whose period ended before ``now_ns`` go out closed. ``bar_open[w]``: per instrument a flag
    (0 no open bar, 1 traded since it went out, 2 open and unchanged), then the count and the
    list of open bars, so the walk is O(open bars), not O(instruments)."""
    n = bars1s.shape[0]
    for which in range(2):
        bars = bars1s if which == 0 else bars1m
        width = 1_000_000_000 if which == 0 else 60_000_000_000
        ch = CH_OHLCV_1S if which == 0 else CH_OHLCV_1M
        out = o1 if which == 0 else o2
        oi = o1_i if which == 0 else o2_i
        flags = bar_open[which]
        kept = 0
        for j in range(flags[n]):
            ii = flags[n + 1 + j]
            bar = bars[ii]
            if bar[B_N] > 0 and now_ns >= bar[B_START] + width:
                _bar_out(out, oi, cnt_out, seqs, ch, ii, bar, 1)
                bar[B_N] = 0
                flags[ii] = 0
                continue
            if flags[ii] == 1 and bar[B_N] > 0:
                _bar_out(out, oi, cnt_out, seqs, ch, ii, bar, 0)
                flags[ii] = 2  # open, nothing new since it went out
            flags[n + 1 + kept] = ii
            kept += 1
        flags[n] = kept


@njit(cache=True)
def publish_events_nb(
    ev, first, imap, keys, qty, cnt, start, cap, n, top, orders, tk, seqs, bbo_last, bbo_tmp,
    bars1s, bars1m, bar_open, cnt_out, tr, tr_i, l2, l2_i, bbo, bbo_i, l3, l3_i, o1, o1_i,
    o2, o2_i, st, st_i,
):  # fmt: skip
    """Turn events ``ev[first:]`` into channel records appended to the output buffers
    (counts in ``cnt_out``, by channel). Returns the index of the first event not done:
    ``len(ev)``, or less when the level arena needs room (grow, then call again from there).
    The output buffers must hold 3 records per event per channel. At the end, the bars go
    out (``flush_bars_nb``). O(events * log levels + instruments)."""
    nmap = imap.shape[0]
    if first == 0:
        cnt_out[:] = 0
    for i in range(first, ev.shape[0]):
        e = ev[i]
        inst = e["instrument"]
        if inst < 0 or inst >= nmap:
            continue
        ii = imap[inst]
        if ii < 0:
            continue
        kind = e["kind"]
        seq = e["seq"]
        ts = e["ts_ns"]
        if seq != tk[T_SEQ]:
            tk[T_SEQ] = seq
            tk[T_OID] = 0
            tk[T_AWAIT] = 0
        if kind == EV_LEVEL:
            side = e["side"]
            price = e["price_ticks"]
            q = e["qty_lots"]
            c = e["leaves_lots"]
            b = 2 * ii + (0 if side == 1 else 1)
            key = price if side == 1 else -price
            old = set_level_nb(keys, qty, cnt, start, cap, n, top, b, key, q, c)
            if old == NEED_ROOM:
                return i
            if q == 0 and old < 0:
                continue  # an empty level that was not there: nothing to say
            k = cnt_out[CH_L2]
            seqs[ii, CH_L2] += 1
            r = l2[k]
            r["seq"] = seqs[ii, CH_L2]
            r["ts_ns"] = ts
            r["price_ticks"] = price
            r["qty_lots"] = q
            r["orders"] = c
            r["side"] = side
            r["action"] = 1 if old < 0 else (3 if q == 0 else 2)
            l2_i[k] = ii
            cnt_out[CH_L2] = k + 1
            # L3: is this the LEVEL of the taker in flight coming to rest?
            if tk[T_OID] != 0 and tk[T_II] == ii and tk[T_SIDE] == side:
                if tk[T_AWAIT] != 0 and tk[T_OLD_PRICE] == price:
                    tk[T_AWAIT] = 0  # the amended order leaving its old level
                elif tk[T_CAN_REST] != 0 and tk[T_PRICE] == price:
                    vis = q - (old if old > 0 else 0)
                    leaves = tk[T_LEAVES]
                    disp = vis if vis < leaves else 0
                    oid = tk[T_OID]
                    orders[oid] = (ii, np.int64(side), price, vis, leaves, disp)
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, oid, side, price, vis, vis, 0, 1)
                    tk[T_OID] = 0
            # BBO: emit when the top of either side changed
            _top(keys, qty, cnt, start, n, 2 * ii, 1, bbo_tmp, 0)
            _top(keys, qty, cnt, start, n, 2 * ii + 1, -1, bbo_tmp, 3)
            same = True
            for j in range(6):
                if bbo_tmp[j] != bbo_last[ii, j]:
                    same = False
                    bbo_last[ii, j] = bbo_tmp[j]
            if not same:
                k = cnt_out[CH_BBO]
                seqs[ii, CH_BBO] += 1
                r2 = bbo[k]
                r2["seq"] = seqs[ii, CH_BBO]
                r2["ts_ns"] = ts
                r2["bid_ticks"] = bbo_tmp[0]
                r2["bid_lots"] = bbo_tmp[1]
                r2["bid_orders"] = bbo_tmp[2]
                r2["ask_ticks"] = bbo_tmp[3]
                r2["ask_lots"] = bbo_tmp[4]
                r2["ask_orders"] = bbo_tmp[5]
                bbo_i[k] = ii
                cnt_out[CH_BBO] = k + 1
        elif kind == EV_FILL:
            price = e["price_ticks"]
            q = e["qty_lots"]
            k = cnt_out[CH_TRADES]
            seqs[ii, CH_TRADES] += 1
            r3 = tr[k]
            r3["seq"] = seqs[ii, CH_TRADES]
            r3["ts_ns"] = ts
            r3["trade_id"] = e["trade_id"]
            r3["price_ticks"] = price
            r3["qty_lots"] = q
            r3["side"] = e["side"]
            tr_i[k] = ii
            cnt_out[CH_TRADES] = k + 1
            _bar_trade(bars1s, bar_open[0], o1, o1_i, cnt_out, seqs, CH_OHLCV_1S, ii,
                       1_000_000_000, ts, price, q)  # fmt: skip
            _bar_trade(bars1m, bar_open[1], o2, o2_i, cnt_out, seqs, CH_OHLCV_1M, ii,
                       60_000_000_000, ts, price, q)  # fmt: skip
            if tk[T_OID] == e["order_id"]:
                tk[T_LEAVES] = e["leaves_lots"]
            mid = e["maker_order_id"]
            if mid in orders:
                o = orders[mid]
                vis = o[3] - q
                leaves = e["maker_leaves_lots"]
                if leaves <= 0:
                    del orders[mid]
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, mid, o[1], o[2], q, 0, e["trade_id"], 2)
                elif (e["flags"] & EVF_REFILLED) != 0 or vis <= 0:
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, mid, o[1], o[2], q, 0, e["trade_id"], 2)
                    nv = min(o[5], leaves) if o[5] > 0 else leaves
                    orders[mid] = (o[0], o[1], o[2], nv, leaves, o[5])
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, mid, o[1], o[2], nv, nv, 0, 5)
                else:
                    orders[mid] = (o[0], o[1], o[2], vis, leaves, o[5])
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, mid, o[1], o[2], q, vis, e["trade_id"], 2)
        elif kind == EV_CANCELLED:
            oid = e["order_id"]
            if oid in orders:
                o = orders[oid]
                leaves = e["leaves_lots"]
                if leaves <= 0:
                    del orders[oid]
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, oid, o[1], o[2], o[3], 0, 0, 4)
                else:  # STP decrement of a resting maker: it loses lots in place
                    q = e["qty_lots"]
                    vis = o[3] - q
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, oid, o[1], o[2], q, max(vis, 0), 0, 3)
                    if vis <= 0:
                        vis = min(o[5], leaves) if o[5] > 0 else leaves
                        _l3(l3, l3_i, cnt_out, seqs, ii, ts, oid, o[1], o[2], vis, vis, 0, 5)
                    orders[oid] = (o[0], o[1], o[2], vis, leaves, o[5])
            elif tk[T_OID] == oid:
                tk[T_LEAVES] = e["leaves_lots"]
                if e["leaves_lots"] <= 0:
                    tk[T_OID] = 0
        elif kind == EV_ACCEPTED or kind == EV_TRIGGERED:
            ot = e["order_type"]
            if kind == EV_TRIGGERED or ot <= 2:  # LIMIT / MARKET take now; stops are parked
                tk[T_OID] = e["order_id"]
                tk[T_II] = ii
                tk[T_SIDE] = e["side"]
                tk[T_PRICE] = e["price_ticks"]
                tk[T_LEAVES] = e["leaves_lots"]
                tk[T_CAN_REST] = 1 if (ot == LIMIT or ot == STOP_LIMIT) else 0
                tk[T_AWAIT] = 0
        elif kind == EV_AMENDED:
            oid = e["order_id"]
            if oid in orders:
                o = orders[oid]
                leaves = e["leaves_lots"]
                if (e["flags"] & EVF_KEPT_PRIORITY) != 0:
                    nv = min(o[3], leaves)
                    if nv != o[3]:
                        _l3(l3, l3_i, cnt_out, seqs, ii, ts, oid, o[1], o[2], o[3] - nv, nv, 0, 3)
                    orders[oid] = (o[0], o[1], o[2], nv, leaves, o[5])
                else:
                    del orders[oid]
                    _l3(l3, l3_i, cnt_out, seqs, ii, ts, oid, o[1], o[2], o[3], 0, 0, 4)
                    tk[T_OID] = oid
                    tk[T_II] = ii
                    tk[T_SIDE] = o[1]
                    tk[T_PRICE] = e["price_ticks"]
                    tk[T_LEAVES] = leaves
                    tk[T_CAN_REST] = 1
                    tk[T_AWAIT] = 1
                    tk[T_OLD_PRICE] = o[2]
        elif kind == EV_STATUS:
            rc = e["reason"]
            sk = ST_HALTED if rc == STATUS_HALTED else (
                ST_RESUMED if rc == STATUS_RESUMED else ST_REF_PRICE)  # fmt: skip
            _status(st, st_i, cnt_out, seqs, ii, ts, sk, e["price_ticks"], 0, rc)
        elif kind == EV_MARK:
            _status(st, st_i, cnt_out, seqs, ii, ts, ST_MARK, e["price_ticks"], e["aux"], 0)
        elif kind == EV_FUNDING:
            _status(st, st_i, cnt_out, seqs, ii, ts, ST_FUNDING, e["price_ticks"], e["aux"], 0)
        elif kind == EV_SETTLEMENT:
            _status(st, st_i, cnt_out, seqs, ii, ts, ST_SETTLEMENT, e["price_ticks"], 0, 0)
    if ev.shape[0] > 0:
        flush_bars_nb(bars1s, bars1m, bar_open, ev[ev.shape[0] - 1]["ts_ns"], cnt_out, seqs,
                      o1, o1_i, o2, o2_i)  # fmt: skip
    return ev.shape[0]
