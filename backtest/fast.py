"""``run_numba``: a backtest whose strategy is an ``@njit`` function (``backtest.fast_nb``).

Same data, exchange, latency floors and outputs as ``Backtest``; entry and response
latencies must be constant (any feed latency model works). The strategy function and its
float64 ``state`` array are the strategy; it gets no ``on_start`` / timers (docs/backtest.md).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from backtest.data import History
from backtest.fast_nb import (
    FILL_W,
    RES_W,
    S_BC0,
    S_BC1,
    S_BE,
    S_BKIND,
    S_CONS_LOTS,
    S_CONS_N,
    S_LEN,
    S_NCANCEL,
    S_NEWLOTS,
    S_NEXTS,
    S_NFILL,
    S_NNEW,
    S_NSAMP,
    S_TOOK_LOTS,
    finish_packets,
    resume_nb,
    run_nb,
)
from backtest.latency import Constant
from backtest.results import Results
from backtest.runner import Backtest, BacktestConfig
from backtest.strategy import Strategy
from matching.records import COMMAND_DTYPE, new_events

_LIQ = {0: "", 1: "maker", 2: "taker"}


def run_numba(history: History, strat: Any, state: np.ndarray, config: BacktestConfig) -> Results:
    """Run ``strat`` (an njit function, see ``backtest.fast_nb``) over an L3 ``history``.
    Returns the same ``Results`` as ``Backtest.run``. O(events); the first call in a process
    compiles the loop for this strategy (seconds)."""
    if history.mode != "l3":
        raise ValueError("the numba path replays L3 (order-by-order) histories only")
    for name, lat in (("entry", config.entry_latency), ("response", config.response_latency)):
        if lat is not None and not isinstance(lat, Constant):
            raise ValueError(f"the numba path needs a constant {name} latency, not {lat}")
    bt = Backtest(history, Strategy(), config)
    h = history
    ex = bt.ex
    bt._point(new_events(1 << 16))
    st = np.zeros(S_LEN, dtype=np.int64)
    st[9] = st[10] = -(2**62)  # last arrival, last response
    st[S_NEXTS] = int(h.pkt_ts[0]) if h.packets else 0
    cap = 1 << 16
    arrq = np.zeros(cap, dtype=COMMAND_DTYPE)
    arr_t = np.zeros(cap, dtype=np.int64)
    resq = np.zeros((cap, RES_W), dtype=np.int64)
    fills = np.zeros((1 << 18, FILL_W), dtype=np.int64)
    took = np.zeros((4096, 2), dtype=np.int64)
    samples = np.zeros((1 << 18, 5), dtype=np.int64)
    scratch = np.zeros(len(h.cmds) and int(np.diff(h.cmd_start).max()) * config.max_batch + 1,
                       dtype=COMMAND_DTYPE)  # fmt: skip
    scratch = np.zeros(max(len(scratch), 1), dtype=COMMAND_DTYPE)
    out = np.zeros(64, dtype=COMMAND_DTYPE)
    entry = int(config.entry_latency.floor_ns)
    resp = int((config.response_latency or config.entry_latency).floor_ns)
    one_rec = np.zeros(1, dtype=COMMAND_DTYPE)
    no_rec = np.full(1, -1, dtype=np.int64)
    ed, cd, ectr, cctr = bt._k
    # compile first (numba cannot cache a loop that takes a function): an empty replay
    e0 = np.zeros(1, dtype=np.int64)
    run_nb(
        ed, cd, ectr, cctr, bt.ev, ex._ledger_buf, bt.par, bt.book, bt.mstate, bt.top,
        h.cmds[:0], e0, bt.rec_row[:0], h.pkt_ts[:0], bt.feed_d[:0], h.exec_maker[:0], entry,
        resp, bt.lookahead, config.max_batch, config.sample_ns, strat, state.copy(),
        np.zeros(S_LEN, dtype=np.int64), arrq, arr_t, resq, fills, took, samples, scratch, out,
        np.zeros(4, dtype=np.int64), np.zeros(8, dtype=np.int64), one_rec, no_rec,
        np.zeros(1, dtype=np.int64),
    )  # fmt: skip
    t = time.perf_counter()
    while True:
        ed, cd, ectr, cctr = bt._k
        status = run_nb(
            ed, cd, ectr, cctr, bt.ev, ex._ledger_buf, bt.par, bt.book, bt.mstate, bt.top,
            h.cmds, h.cmd_start, bt.rec_row, h.pkt_ts, bt.feed_d, h.exec_maker, entry, resp,
            bt.lookahead, config.max_batch, config.sample_ns, strat, state, st, arrq, arr_t, resq,
            fills, took, samples, scratch, out, np.zeros(4, dtype=np.int64),
            np.zeros(8, dtype=np.int64), one_rec, no_rec, np.zeros(1, dtype=np.int64),
        )  # fmt: skip
        if status == 0:
            break
        # the venue must grow (order pool, event or ledger buffer): grow, finish the batch
        kind = int(st[S_BKIND])
        c0, c1 = int(st[S_BC0]), int(st[S_BC1])
        batch = one_rec if kind == 2 else scratch[: c1 - c0] if kind == 3 else h.cmds[c0:c1]
        rec = no_rec if kind == 2 else bt.rec_row[c0:c1]
        while status != 0:
            ex.handle_stop(int(status))
            bt._point(ex._out)
            ed, cd, ectr, cctr = bt._k
            status = resume_nb(
                ed, cd, ectr, cctr, bt.ev, ex._ledger_buf, bt.par, bt.book, bt.mstate, batch,
                rec, bt.top, resp, st, resq, fills, took,
            )  # fmt: skip
        if kind != 2:
            finish_packets(int(st[0]), int(st[S_BE]), h.cmd_start, bt.top, st)
    wall = time.perf_counter() - t
    res = bt.res
    res.wall_s = wall
    for r in fills[: st[S_NFILL]].tolist():
        ts, oid, side, px, qty, liq, fee, tid, leaves = r
        res.fills.append((ts, oid, side, px, qty, _LIQ[liq], fee, tid, leaves, 0.0))
    res._pos, res._cash, res._fees = int(st[8]), int(st[15]), int(st[16])
    nf = bt.nf
    for k, (ts, mid2, pos, cash, fees) in enumerate(samples[: st[S_NSAMP]].tolist()):
        mid = mid2 / 2
        if k == 0:
            q = bt.start_balances.get(bt.quote, 0)
            base = bt.start_balances.get(bt.base_code, 0) / max(bt.bf, 1)
            res._capital = q + base * mid * nf
        pnl = (cash + pos * mid) * nf - fees
        res.series.append((ts, mid, pos, pnl, res._capital + pnl))
    res.counters["consumed_executions"] = int(st[S_CONS_N])
    res.counters["consumed_lots"] = int(st[S_CONS_LOTS])
    res.counters["strategy_took_lots"] = int(st[S_TOOK_LOTS])
    res.finish()
    m = res.metrics  # commands are counted in the kernel, not logged one by one
    m["orders"], m["cancels"] = int(st[S_NNEW]), int(st[S_NCANCEL])
    m["fill_ratio"] = m["filled_lots"] / int(st[S_NEWLOTS]) if st[S_NEWLOTS] else 0.0
    return res
