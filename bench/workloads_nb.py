"""Numba kernels of the workload generators (``bench/workloads.py``).

The exchange-core generator is a *generation pass*: it writes one command, runs it through a real
engine state with ``process_nb`` (one command at a time, from inside numba), and reads the
events back to know which orders are live, so that every cancel and move it writes names an
order that is live at that point of the stream. The live set is an array of order ids plus a
position map indexed by order id: add and remove are O(1), a uniform pick is O(1).

Every kernel is resumable: it returns ``(status, i, events)``. ``ST_NEED_CAPACITY`` means command
``i`` is written but the engine state must grow first (the Python driver runs that one command
through ``Engine.process_into``, which grows the state, feeds its events to ``after_command_nb``
and resumes at ``i + 1``); ``ST_NEED_IDS`` means the per-order arrays are full (the driver grows
them and resumes at ``i``).

Numba keys a cached kernel on its own file only, and these kernels inline the matching kernels:
``guard_cache`` below drops this module's cached machine code whenever a source file of
``matching/`` (or this file) changes, as ``matching._jit`` does for the matching package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matching._jit import guard_cache, njit
from matching.process_nb import STATUS_OK, process_nb
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_NEW,
    EV_ACCEPTED,
    EV_CANCELLED,
    EV_FILL,
    EV_REJECTED,
    GTC,
    IOC,
    LIMIT,
    SELL,
)
from matching.state import C_NEV, C_NLV, C_OUSED
from matching.view_nb import ctr_of, events_of, inst_of, levels_of, lnext_of

_HERE = Path(__file__).resolve()
# these kernels call matching's: their cache is stale when either changes
guard_cache(
    _HERE.parent / "__pycache__",
    [*sorted((_HERE.parent.parent / "matching").glob("*.py")), _HERE],
    prefix="workloads_nb.",
)

# --- kernel status ---------------------------------------------------------------------------
ST_DONE = 0
ST_NEED_CAPACITY = 1
ST_NEED_IDS = 2

# --- indices into the int64 counter array ``g`` ----------------------------------------------
G_NLIVE = 0  # live orders in the generator's live set
G_NBID = 1  # ... of which bids
G_NEXT_ID = 2  # next explicit order id
G_MEASURED = 3  # commands measured (main phase only)
G_TRADED = 4  # measured commands with at least one FILL
G_FILLS = 5  # FILL events of measured commands
G_EVENTS = 6  # events of measured commands
G_REJECTS = 7  # REJECTED events (all phases)
G_SUM_RESTING = 8  # sum over measured commands of resting orders after the command
G_SUM_LEVELS = 9  # sum over measured commands of price levels after the command
G_MIN_RESTING = 10
G_MAX_RESTING = 11
G_MIN_LEVELS = 12
G_MAX_LEVELS = 13
G_PEAK_RESTING = 14  # max resting orders over all phases (sizes the engine)
G_GTC = 15  # main-phase command counts by kind
G_IOC = 16
G_CANCEL = 17
G_MOVE = 18
G_AGGR_GTC = 19  # GTC orders priced to cross
G_CROSS_MOVE = 20  # moves priced to cross
N_G = 24

# --- indices into the float64 parameter array ``p`` ------------------------------------------
P_CENTER = 0  # center price (ticks)
P_WIDTH = 1  # passive orders: 1..width ticks from the opposite best
P_ACCOUNTS = 2
P_TARGET = 3  # target resting orders
P_QMAX = 4  # resting order size: 1..qmax lots
P_IOC_QMAX = 5  # IOC size: 1..ioc_qmax lots
P_AGGR_QMAX = 6  # aggressive GTC size: 1..aggr_qmax lots
P_F_GTC = 7  # command mix (cumulative thresholds are built from these)
P_F_IOC = 8
P_F_CANCEL = 9
P_AGGR_GTC = 10  # fraction of GTC orders priced to cross
P_CROSS_MOVE = 11  # fraction of moves priced to cross when the book is at target
P_GAIN = 12  # exponent of the book-size feedback on crossing moves
P_TS_STEP = 13  # ns between consecutive commands
N_P = 16

# --- xorshift64* ------------------------------------------------------------------------------
_S12 = np.uint64(12)
_S25 = np.uint64(25)
_S27 = np.uint64(27)
_S11 = np.uint64(11)
_MUL = np.uint64(0x2545F4914F6CDD1D)
_INV53 = 1.0 / 9007199254740992.0


@njit
def rand_u64_nb(rs):
    """Next 64 random bits of the xorshift64* state ``rs[0]`` (uint64, never 0). O(1)."""
    x = rs[0]
    x ^= x >> _S12
    x ^= x << _S25
    x ^= x >> _S27
    rs[0] = x
    return x * _MUL


@njit
def rand_below_nb(rs, n):
    """Uniform int in [0, n) for n >= 1. O(1)."""
    return np.int64((rand_u64_nb(rs) >> _S11) % np.uint64(n))


@njit
def rand_unit_nb(rs):
    """Uniform float in [0, 1). O(1)."""
    return np.float64(rand_u64_nb(rs) >> _S11) * _INV53


# --- the live set -----------------------------------------------------------------------------
@njit
def live_add_nb(g, live_ids, live_pos, o_side, oid):
    if live_pos[oid] >= 0:
        return
    n = g[G_NLIVE]
    live_ids[n] = oid
    live_pos[oid] = n
    g[G_NLIVE] = n + 1
    if o_side[oid] == BUY:
        g[G_NBID] += 1


@njit
def live_remove_nb(g, live_ids, live_pos, o_side, oid):
    p = live_pos[oid]
    if p < 0:
        return
    n = g[G_NLIVE] - 1
    last = live_ids[n]
    live_ids[p] = last
    live_pos[last] = p
    live_pos[oid] = -1
    g[G_NLIVE] = n
    if o_side[oid] == BUY:
        g[G_NBID] -= 1


@njit
def after_command_nb(ctr, ev, n_ev, measured, track, g, live_ids, live_pos, o_side):
    """Read one command's events: update the live set (if ``track``) and the statistics
    (``ctr`` is the engine state's counter array). O(events)."""
    traded = 0
    for j in range(n_ev):
        e = ev[j]
        k = e.kind
        if k == EV_FILL:
            traded = 1
            if measured:
                g[G_FILLS] += 1
            if track:
                if e.maker_leaves_lots == 0:
                    live_remove_nb(g, live_ids, live_pos, o_side, e.maker_order_id)
                if e.leaves_lots == 0:
                    live_remove_nb(g, live_ids, live_pos, o_side, e.order_id)
        elif k == EV_ACCEPTED:
            if track:
                live_add_nb(g, live_ids, live_pos, o_side, e.order_id)
        elif k == EV_CANCELLED:
            if track and e.leaves_lots == 0:
                live_remove_nb(g, live_ids, live_pos, o_side, e.order_id)
        elif k == EV_REJECTED:
            g[G_REJECTS] += 1
    resting = ctr[C_OUSED]
    levels = ctr[C_NLV]
    if resting > g[G_PEAK_RESTING]:
        g[G_PEAK_RESTING] = resting
    if measured:
        if g[G_MEASURED] == 0:
            g[G_MIN_RESTING] = resting
            g[G_MAX_RESTING] = resting
            g[G_MIN_LEVELS] = levels
            g[G_MAX_LEVELS] = levels
        g[G_MEASURED] += 1
        g[G_TRADED] += traded
        g[G_EVENTS] += n_ev
        g[G_SUM_RESTING] += resting
        g[G_SUM_LEVELS] += levels
        g[G_MIN_RESTING] = min(g[G_MIN_RESTING], resting)
        g[G_MAX_RESTING] = max(g[G_MAX_RESTING], resting)
        g[G_MIN_LEVELS] = min(g[G_MIN_LEVELS], levels)
        g[G_MAX_LEVELS] = max(g[G_MAX_LEVELS], levels)


@njit
def replay_stats_nb(st, cmds, ev, start, n_prefill, g, live_ids, live_pos, o_side):
    """Run ``cmds[start:]`` one command at a time, collecting the statistics of
    ``after_command_nb`` (the live set is not tracked). Returns (status, i, ev)."""
    for i in range(start, cmds.shape[0]):
        ctr_of(st)[C_NEV] = 0
        status, _done = process_nb(st, cmds[i : i + 1])
        if status != STATUS_OK:
            return ST_NEED_CAPACITY, i, ev
        after_command_nb(
            ctr_of(st),
            events_of(st),
            ctr_of(st)[C_NEV],
            i >= n_prefill,
            False,
            g,
            live_ids,
            live_pos,
            o_side,
        )
    return ST_DONE, cmds.shape[0], ev


# --- exchange-core --------------------------------------------------------------------------
@njit
def _best_nb(levels, lnext, inst, bside):
    """Best price of instrument 0's side ``bside`` (0 bids, 1 asks), or -1: what
    ``matching.levels_nb.best_level_nb`` reads, from the state's arrays rather than the whole
    state tuple (a kernel taking the 20-array state tuple pays ~40 reference-count updates per
    call). O(1)."""
    l = lnext[inst[0].hdr[bside], 0]
    if l == -1:
        return -1
    return levels[l].price


@njit
def _write_new_nb(c, oid, account, side, tif, price, qty):
    c.kind = CMD_NEW
    c.order_id = oid
    c.account = account
    c.instrument = 0
    c.side = side
    c.order_type = LIMIT
    c.tif = tif
    c.price_ticks = price if price >= 1 else 1
    c.qty_lots = qty


@njit
def _reverting_side_nb(rs, p, bid_anchor, ask_anchor):
    """Side of an aggressive order: buys when the market sits below the center (they lift the
    asks), sells above it, so the price random walk stays near the center."""
    mid = 0.5 * (bid_anchor + ask_anchor)
    dev = (mid - p[P_CENTER]) / p[P_WIDTH]
    pb = 0.5 - 2.0 * dev
    pb = min(max(pb, 0.1), 0.9)
    return BUY if rand_unit_nb(rs) < pb else SELL


@njit
def _balancing_side_nb(rs, g):
    """Side of a passive order: the thinner side of the book is more likely."""
    n = g[G_NLIVE]
    nb = g[G_NBID]
    if n == 0:
        pb = 0.5
    else:
        pb = 0.5 + 1.5 * ((n - nb) - nb) / n
        pb = min(max(pb, 0.1), 0.9)
    return BUY if rand_unit_nb(rs) < pb else SELL


@njit
def _passive_price_nb(rs, p, side, bid_anchor, ask_anchor):
    d = 1 + rand_below_nb(rs, np.int64(p[P_WIDTH]))
    if side == BUY:
        return ask_anchor - d
    return bid_anchor + d


@njit
def _write_main_nb(levels, lnext, inst, c, rs, p, g, live_ids, o_acct, o_side, o_price):
    """Write one command of the mix into record ``c``: 9% GTC, 3% IOC, 6% cancel, 82% move."""
    bb = _best_nb(levels, lnext, inst, 0)
    ba = _best_nb(levels, lnext, inst, 1)
    if bb == -1 and ba == -1:
        center = np.int64(p[P_CENTER])
        bid_anchor, ask_anchor = center - 1, center + 1
    elif ba == -1:
        bid_anchor, ask_anchor = bb, bb + 1
    elif bb == -1:
        bid_anchor, ask_anchor = ba - 1, ba
    else:
        bid_anchor, ask_anchor = bb, ba
    u = rand_unit_nb(rs)
    f_gtc = p[P_F_GTC]
    f_ioc = f_gtc + p[P_F_IOC]
    f_cancel = f_ioc + p[P_F_CANCEL]
    nlive = g[G_NLIVE]
    if u < f_ioc or nlive == 0:
        oid = g[G_NEXT_ID]
        g[G_NEXT_ID] = oid + 1
        account = 1 + rand_below_nb(rs, np.int64(p[P_ACCOUNTS]))
        if u < f_gtc or nlive == 0:
            g[G_GTC] += 1
            if rand_unit_nb(rs) < p[P_AGGR_GTC]:
                g[G_AGGR_GTC] += 1
                side = _reverting_side_nb(rs, p, bid_anchor, ask_anchor)
                price = ask_anchor if side == BUY else bid_anchor
                qty = 1 + rand_below_nb(rs, np.int64(p[P_AGGR_QMAX]))
            else:
                side = _balancing_side_nb(rs, g)
                price = _passive_price_nb(rs, p, side, bid_anchor, ask_anchor)
                qty = 1 + rand_below_nb(rs, np.int64(p[P_QMAX]))
            _write_new_nb(c, oid, account, side, GTC, price, qty)
        else:
            g[G_IOC] += 1
            side = _reverting_side_nb(rs, p, bid_anchor, ask_anchor)
            k = rand_below_nb(rs, 3)
            price = ask_anchor + k if side == BUY else bid_anchor - k
            qty = 1 + rand_below_nb(rs, np.int64(p[P_IOC_QMAX]))
            _write_new_nb(c, oid, account, side, IOC, price, qty)
        o_acct[oid] = c.account
        o_side[oid] = c.side
        o_price[oid] = c.price_ticks
        return
    oid = live_ids[rand_below_nb(rs, nlive)]
    c.order_id = oid
    c.account = o_acct[oid]
    if u < f_cancel:
        g[G_CANCEL] += 1
        c.kind = CMD_CANCEL
        return
    g[G_MOVE] += 1
    c.kind = CMD_AMEND
    side = o_side[oid]
    old = o_price[oid]
    # book-size feedback: more crossing moves (which take resting orders out) when the book is
    # above its target, fewer below it
    x = nlive / p[P_TARGET]
    cross = p[P_CROSS_MOVE] * x ** p[P_GAIN]
    if rand_unit_nb(rs) < cross and ((side == BUY and ba != -1) or (side == SELL and bb != -1)):
        g[G_CROSS_MOVE] += 1
        new = ba if side == BUY else bb
    else:
        new = _passive_price_nb(rs, p, side, bid_anchor, ask_anchor)
        if new == old:
            new = new - 1 if side == BUY else new + 1
    if new < 1:
        new = 1 if old != 1 else 2
    c.price_ticks = new
    c.qty_lots = 0
    o_price[oid] = new


@njit
def _write_prefill_nb(c, i, rs, p, g, o_acct, o_side, o_price):
    """Prefill order ``i``: a passive GTC limit 1..width ticks from the center, sides
    alternating (bids below, asks above)."""
    oid = g[G_NEXT_ID]
    g[G_NEXT_ID] = oid + 1
    center = np.int64(p[P_CENTER])
    d = 1 + rand_below_nb(rs, np.int64(p[P_WIDTH]))
    side = BUY if i % 2 == 0 else SELL
    price = center - d if side == BUY else center + d
    qty = 1 + rand_below_nb(rs, np.int64(p[P_QMAX]))
    account = 1 + rand_below_nb(rs, np.int64(p[P_ACCOUNTS]))
    _write_new_nb(c, oid, account, side, GTC, price, qty)
    o_acct[oid] = account
    o_side[oid] = side
    o_price[oid] = c.price_ticks


@njit
def exchange_core_nb(
    st, cmds, ev, start, n_prefill, rs, p, g, live_ids, live_pos, o_acct, o_side, o_price
):
    """Generate ``cmds[start:]`` (zeroed records) as the exchange-core mix, running each command
    through the engine state ``st`` as it is written. Returns (status, i, ev). O(commands)."""
    step = np.int64(p[P_TS_STEP])
    for i in range(start, cmds.shape[0]):
        if g[G_NEXT_ID] + 2 >= live_pos.shape[0]:
            return ST_NEED_IDS, i, ev
        c = cmds[i]
        c.seq = i + 1
        c.ts_ns = (i + 1) * step
        if i < n_prefill:
            _write_prefill_nb(c, i, rs, p, g, o_acct, o_side, o_price)
        else:
            _write_main_nb(
                levels_of(st),
                lnext_of(st),
                inst_of(st),
                c,
                rs,
                p,
                g,
                live_ids,
                o_acct,
                o_side,
                o_price,
            )
        ctr_of(st)[C_NEV] = 0
        status, _done = process_nb(st, cmds[i : i + 1])
        if status != STATUS_OK:
            return ST_NEED_CAPACITY, i, ev
        after_command_nb(
            ctr_of(st),
            events_of(st),
            ctr_of(st)[C_NEV],
            i >= n_prefill,
            True,
            g,
            live_ids,
            live_pos,
            o_side,
        )
    return ST_DONE, cmds.shape[0], ev
