"""The numba strategy path: the whole L3 replay loop in one kernel, strategy included.

``run_nb`` is ``backtest.runner.Backtest.run`` for a strategy written as an ``@njit``
function: the same two clocks, the same ordering rules (a command arriving with a packet
goes after it; answers before packets before the venue at equal times), the same batches
bounded by the latency floors, the same mirror of the visible book and the same handling
of historical executions the strategy already consumed. Latencies: entry and response
constant, feed any model (its delivery times are drawn before the run).

The strategy: ``strat(kind, now_ns, book, upd, position, state, out) -> n``, called with
``kind`` 0 for a market-data packet and 1 for an answer about one of its orders; ``book``
is int64 [best bid, bid lots, best ask, ask lots] as delivered, ``upd`` int64 [event kind
(EV_*), order id, side, price, qty, leaves, 1 maker / 2 taker, exchange ts], ``position``
its lots as delivered, ``state`` its own float64 array; it writes up to ``len(out)``
commands into ``out`` (COMMAND_DTYPE: kind, order_id >= 4e12, side, price_ticks,
qty_lots, order_type, tif, flags) and returns how many.

The kernel takes the strategy as an argument, so numba compiles it per strategy and per
process (it cannot cache it): the first run costs the compile, later runs do not.
"""

from __future__ import annotations

from pathlib import Path

from numba import njit

from backtest.book_nb import EV_FILL, EV_LEVEL, P_ACCOUNT, P_NEV, P_NEXT_SEQ, P_NLED, mirror_nb
from clearing.pipeline_nb import MODE_CLIENT, pipeline_desc_nb
from matching._jit import guard_cache

_HERE = Path(__file__).resolve()
# these kernels call clearing's, matching's and book_nb's: stale when any of them changes
guard_cache(
    _HERE.parent / "__pycache__",
    [
        *sorted((_HERE.parent.parent / "matching").glob("*.py")),
        *sorted((_HERE.parent.parent / "clearing").glob("*.py")),
        _HERE.parent / "book_nb.py",
        _HERE,
    ],
    prefix="fast_nb.",
)

INF = 2**62
RESTING = 1  # marketdata.history.replay.RESTING_ACCOUNT
CMD_CLOCK = 8
CMD_NEW = 1
L_FEE = 5
L_REBATE = 6
# st (int64) indices: the loop state, kept in an array so that the Python side reads it
S_P, S_Q, S_AH, S_AT, S_RH, S_RT, S_NTOOK, S_NFILL, S_POS, S_LASTA, S_LASTR = range(11)
S_CONS_N, S_CONS_LOTS, S_TOOK_LOTS, S_NSAMP, S_CASH, S_FEES, S_CMDS, S_NEXTS = range(11, 19)
S_BKIND, S_BC0, S_BC1, S_BE, S_DONE, S_FIRST = range(19, 25)  # a batch stopped to grow
S_NNEW, S_NEWLOTS, S_NCANCEL = range(25, 28)
S_LEN = 28
RES_W = 10  # response row: delivery, kind, order id, side, price, qty, leaves, liquidity, ts, fee
FILL_W = 9  # fill row: ts, order id, side, price, qty, liquidity, fee, trade id, leaves


@njit(cache=True)
def _copy_cmd(dst, i, src, j):
    """dst[i] = src[j], field by field (COMMAND_DTYPE)."""
    d = dst[i]
    s = src[j]
    d["seq"] = s["seq"]
    d["ts_ns"] = s["ts_ns"]
    d["order_id"] = s["order_id"]
    d["client_order_id"] = s["client_order_id"]
    d["price_ticks"] = s["price_ticks"]
    d["qty_lots"] = s["qty_lots"]
    d["trigger_ticks"] = s["trigger_ticks"]
    d["display_lots"] = s["display_lots"]
    d["expire_ns"] = s["expire_ns"]
    d["account"] = s["account"]
    d["instrument"] = s["instrument"]
    d["stp_group"] = s["stp_group"]
    d["kind"] = s["kind"]
    d["side"] = s["side"]
    d["order_type"] = s["order_type"]
    d["tif"] = s["tif"]
    d["flags"] = s["flags"]
    d["stp"] = s["stp"]
    d["reason"] = s["reason"]


@njit(cache=True)
def _venue(ed, cd, ectr, cctr, ev, led, par, book, mstate, batch, rec_row, top, resp_ns,
           st, resq, fills, took, samples):  # fmt: skip
    """Run ``batch`` at the venue, mirror it, and queue the strategy's answers. Returns the
    pipeline status: 0, or the growth it needs (``st[S_DONE]`` commands done, first seq in
    ``st[S_FIRST]``): the caller grows, then ``resume_nb``."""
    ectr[par[P_NEV]] = 0
    cctr[par[P_NLED]] = 0
    first = ectr[par[P_NEXT_SEQ]]
    status, done = pipeline_desc_nb(ed, cd, batch, MODE_CLIENT)
    if status != 0:
        st[S_DONE] = done
        st[S_FIRST] = first
        return status
    return _after(ev, led, par, book, mstate, batch, rec_row, top, resp_ns, st, resq, fills,
                  took, first, ectr[par[P_NEV]], cctr[par[P_NLED]])  # fmt: skip


@njit(cache=True)
def resume_nb(ed, cd, ectr, cctr, ev, led, par, book, mstate, batch, rec_row, top, resp_ns,
              st, resq, fills, took):  # fmt: skip
    """Go on with a batch that stopped for growth (after the caller grew what was needed)."""
    done = st[S_DONE]
    status, k = pipeline_desc_nb(ed, cd, batch[done:], MODE_CLIENT)
    st[S_DONE] = done + k
    if status != 0:
        return status
    return _after(ev, led, par, book, mstate, batch, rec_row, top, resp_ns, st, resq, fills,
                  took, st[S_FIRST], ectr[par[P_NEV]], cctr[par[P_NLED]])  # fmt: skip


@njit(cache=True)
def _after(ev, led, par, book, mstate, batch, rec_row, top, resp_ns, st, resq, fills, took,
           first, n, nled):  # fmt: skip
    """Mirror a finished batch and queue the strategy's answers (and its fills)."""
    mine, _f = mirror_nb(ev, n, first, batch.shape[0], par, book, mstate, rec_row, top)
    if mine == 0:
        return 0
    acct = par[P_ACCOUNT]
    last_seq = -1
    d = 0
    cap = resq.shape[0]
    for j in range(n):
        e = ev[j]
        kind = e["kind"]
        if kind == EV_LEVEL:
            continue
        maker = kind == EV_FILL and e["maker_account"] == acct
        if not (maker or e["account"] == acct):
            continue
        if kind > 5:  # accepted, rejected, fill, cancelled, amended only
            continue
        if e["seq"] != last_seq:
            d = max(st[S_LASTR], e["ts_ns"] + resp_ns)
            st[S_LASTR] = d
            last_seq = e["seq"]
        r = st[S_RT] % cap
        resq[r, 0] = d
        resq[r, 1] = kind
        resq[r, 4] = e["price_ticks"]
        resq[r, 5] = e["qty_lots"]
        resq[r, 8] = e["ts_ns"]
        resq[r, 9] = 0
        if maker:
            resq[r, 2] = e["maker_order_id"]
            resq[r, 3] = 2 if e["side"] == 1 else 1
            resq[r, 6] = e["maker_leaves_lots"]
            resq[r, 7] = 1
        else:
            resq[r, 2] = e["order_id"]
            resq[r, 3] = e["side"]
            resq[r, 6] = e["leaves_lots"]
            resq[r, 7] = 2 if kind == EV_FILL else 0
        st[S_RT] += 1
        if kind == EV_FILL:
            fee = 0
            for k in range(nled):
                le = led[k]
                if le["ref"] == e["trade_id"] and le["seq"] == e["seq"]:
                    if le["kind"] == L_FEE and le["from_account"] == acct:
                        fee += le["amount"]
                    elif le["kind"] == L_REBATE and le["to_account"] == acct:
                        fee -= le["amount"]
            resq[r, 9] = fee
            f = st[S_NFILL]
            if f < fills.shape[0]:
                fills[f, 0] = e["ts_ns"]
                fills[f, 1] = resq[r, 2]
                fills[f, 2] = resq[r, 3]
                fills[f, 3] = e["price_ticks"]
                fills[f, 4] = e["qty_lots"]
                fills[f, 5] = resq[r, 7]
                fills[f, 6] = fee
                fills[f, 7] = e["trade_id"]
                fills[f, 8] = resq[r, 6]
            st[S_NFILL] += 1
            if not maker and e["maker_account"] == RESTING:
                # L3: the strategy took from a historical order (see _consume)
                mo = e["maker_order_id"]
                t = st[S_NTOOK]
                k = 0
                while k < t and took[k, 0] != mo:
                    k += 1
                if k == t and t < took.shape[0]:
                    took[t, 0] = mo
                    took[t, 1] = 0
                    st[S_NTOOK] += 1
                if k < took.shape[0]:
                    took[k, 1] += e["qty_lots"]
                st[S_TOOK_LOTS] += e["qty_lots"]
    return 0


@njit(cache=True)
def _consume(batch, em, took, st):
    """Shrink or drop executions of historical orders the strategy already took."""
    t = st[S_NTOOK]
    for i in range(batch.shape[0]):
        m = em[i]
        if m == 0:
            continue
        for k in range(t):
            if took[k, 0] == m and took[k, 1] > 0:
                qty = batch[i]["qty_lots"]
                take = min(qty, took[k, 1])
                took[k, 1] -= take
                st[S_CONS_N] += 1
                st[S_CONS_LOTS] += take
                if take == qty:
                    batch[i]["kind"] = CMD_CLOCK
                else:
                    batch[i]["qty_lots"] = qty - take
                break


@njit
def run_nb(ed, cd, ectr, cctr, ev, led, par, book, mstate, top, cmds, cmd_start, rec_row,
           pkt_ts, feed_d, exec_maker, entry_ns, resp_ns, lookahead, max_batch, sample_ns, strat,
           sstate, st, arrq, arr_t, resq, fills, took, samples, scratch, out, book4, upd, one_rec,
           no_rec, one_row):  # fmt: skip
    """The whole replay; see the module docstring. Returns 0, or a pipeline status when the
    venue must grow: the caller grows it, finishes the batch (``resume_nb``,
    ``finish_packets``) and calls again; the loop state is in ``st``. O(events)."""
    P = pkt_ts.shape[0]
    acap = arrq.shape[0]
    rcap = resq.shape[0]
    acct = par[P_ACCOUNT]
    inst = par[0]
    while True:
        p = st[S_P]
        q = st[S_Q]
        t_hist = pkt_ts[p] if p < P else INF
        t_arr = arr_t[st[S_AH] % acap] if st[S_AH] < st[S_AT] else INF
        d_feed = feed_d[q] if q < p else INF
        d_resp = resq[st[S_RH] % rcap, 0] if st[S_RH] < st[S_RT] else INF
        t_d = min(d_feed, d_resp)
        if t_d <= min(t_hist, t_arr) and t_d < INF:
            if d_resp == t_d:
                r = st[S_RH] % rcap
                st[S_RH] += 1
                for k in range(8):
                    upd[k] = resq[r, k + 1]
                if upd[0] == EV_FILL:
                    sgn = 1 if upd[2] == 1 else -1
                    st[S_POS] += sgn * upd[4]
                    st[S_CASH] -= sgn * upd[4] * upd[3]
                    st[S_FEES] += resq[r, 9]
                row = q - 1
            else:
                row = q
                st[S_Q] = q + 1
                upd[0] = 0
            if row >= 0:
                book4[0] = top[0, row, 0]
                book4[1] = top[1, row, 0]
                book4[2] = top[2, row, 0]
                book4[3] = top[3, row, 0]
                if d_feed == t_d and d_resp != t_d and t_d >= st[S_NEXTS]:
                    s = st[S_NSAMP]
                    if s < samples.shape[0] and book4[0] > 0 and book4[2] > 0:
                        samples[s, 0] = t_d
                        samples[s, 1] = book4[0] + book4[2]
                        samples[s, 2] = st[S_POS]
                        samples[s, 3] = st[S_CASH]
                        samples[s, 4] = st[S_FEES]
                        st[S_NSAMP] += 1
                        st[S_NEXTS] = t_d + sample_ns
            n = strat(1 if d_resp == t_d else 0, t_d, book4, upd, st[S_POS], sstate, out)
            for k in range(n):
                a = max(st[S_LASTA], t_d + entry_ns)
                st[S_LASTA] = a
                w = st[S_AT] % acap
                _copy_cmd(arrq, w, out, k)
                arrq[w]["ts_ns"] = a
                arrq[w]["account"] = acct
                arrq[w]["instrument"] = inst
                arrq[w]["stp"] = 1 if out[k]["kind"] == CMD_NEW else 0
                arr_t[w] = a
                st[S_AT] += 1
                st[S_CMDS] += 1
                if out[k]["kind"] == CMD_NEW:
                    st[S_NNEW] += 1
                    st[S_NEWLOTS] += out[k]["qty_lots"]
                elif out[k]["kind"] == 2:  # cancel
                    st[S_NCANCEL] += 1
            continue
        if t_hist == INF and t_arr == INF:
            if t_d == INF:
                return 0
            continue
        if t_arr < t_hist:
            _copy_cmd(one_rec, 0, arrq, st[S_AH] % acap)
            st[S_AH] += 1
            status = _venue(ed, cd, ectr, cctr, ev, led, par, book, mstate, one_rec, no_rec,
                            top, resp_ns, st, resq, fills, took, samples)  # fmt: skip
            if status != 0:
                st[S_BKIND] = 2
                return status
            continue
        bound = min(t_arr, t_d + entry_ns, t_hist + lookahead)
        e = p + 1
        hi = min(P, p + max_batch)
        while e < hi and pkt_ts[e] <= bound:
            e += 1
        c0 = cmd_start[p]
        c1 = cmd_start[e]
        if cmd_start[p + 1] == c0:
            # a packet without commands shows the book as it is now
            one_row[0] = p
            mirror_nb(ev, 0, 0, 1, par, book, mstate, one_row, top)
        if c1 > c0:
            if st[S_NTOOK] > 0:
                m = c1 - c0
                for i in range(m):
                    _copy_cmd(scratch, i, cmds, c0 + i)
                batch = scratch[:m]
                _consume(batch, exec_maker[c0:c1], took, st)
            else:
                batch = cmds[c0:c1]
            rec = rec_row[c0:c1]
            status = _venue(ed, cd, ectr, cctr, ev, led, par, book, mstate, batch, rec, top,
                            resp_ns, st, resq, fills, took, samples)  # fmt: skip
            if status != 0:
                st[S_BKIND] = 3 if st[S_NTOOK] > 0 else 1
                st[S_BC0] = c0
                st[S_BC1] = c1
                st[S_BE] = e
                return status
        finish_packets(p, e, cmd_start, top, st)


@njit(cache=True)
def finish_packets(p, e, cmd_start, top, st):
    """After packets [p, e) ran: packets without commands show the book of the one before."""
    for k in range(p + 1, e):
        if cmd_start[k + 1] == cmd_start[k]:
            for w in range(4):
                for lv in range(top.shape[2]):
                    top[w, k, lv] = top[w, k - 1, lv]
    st[S_P] = e
