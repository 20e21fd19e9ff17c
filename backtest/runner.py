"""``Backtest``: historical packets and a strategy's orders through one ``Exchange``.

Two clocks. The **venue** processes, in time order, historical packets (at their exchange
time) and the strategy's commands (at their arrival time = sent time + entry latency; a
command arriving at the same time as a packet goes after it). The **strategy** receives, in
time order, market-data packets (exchange time + feed latency, first in first out) and
answers about its orders (event time + response latency); at equal times answers come first,
then packets, then timers. Whatever the strategy sends while handling something arrives after
the venue time it was sent at plus the entry latency, so the venue may run ahead in batches
as far as no command could arrive earlier (``_batch_end``); every batch is one kernel call
(``step_nb``), which also records the top of the book after each packet (what the strategy
will be shown). Determinism: no wall clock, no hash ordering, one seeded generator per
latency channel: the same inputs and seed give the same fills, byte for byte.

L3 (order-by-order): historical executions whose resting order the strategy already took
(its aggression filled that order first) are shrunk by what was taken, or dropped when
nothing is left, and counted (``consumed_executions``, ``consumed_lots``). L2: the queue
model of ``backtest.queue`` decides the strategy's passive fills, executed in the engine.
"""

from __future__ import annotations

import bisect
import heapq
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from backtest.book_nb import ledger_nb, mine_nb, mirror_nb, new_top, step_nb
from backtest.data import History, hist_accounts
from backtest.l2fills import L2Fills
from backtest.latency import Constant, LatencyModel
from backtest.queue import QueueModel, QueueState, parse_queue_model
from backtest.results import Results
from backtest.strategy import Context, Order, OrderUpdate, Strategy, Trade
from clearing import admin
from clearing.config import Asset, ClearingConfig, RiskParams
from clearing.exchange import Exchange
from clearing.pipeline_nb import NEED_ADMIN
from clearing.records import L_FEE, L_REBATE
from clearing.state import K_NLED
from marketdata.history.replay import RESTING_ACCOUNT
from matching import reasons
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CLOCK,
    CMD_NEW,
    COMMAND_DTYPE,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    EV_REJECTED,
    FLAG_POST_ONLY,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STP_CANCEL_TAKER,
    new_events,
)
from matching.state import C_NEV, C_NEXT_SEQ

STRATEGY_ACCOUNT = 3
STRATEGY_ID_BASE = 4 * 10**12
INF = 2**62
_TIFS = {"gtc": GTC, "ioc": IOC, "fok": FOK}
_KIND_NAMES = {
    EV_ACCEPTED: "accepted",
    EV_REJECTED: "rejected",
    EV_FILL: "fill",
    EV_CANCELLED: "cancelled",
    EV_AMENDED: "amended",
}


@dataclass
class BacktestConfig:
    """Everything of a run besides the data and the strategy. Fees are the instrument's
    clearing fees in ppm (negative maker fee: a rebate); ``cash`` and ``base`` fund the
    strategy's account (Decimal amounts of the quote / settlement and base assets)."""

    entry_latency: LatencyModel = field(default_factory=Constant)
    feed_latency: LatencyModel = field(default_factory=Constant)
    response_latency: LatencyModel | None = None  # None: the entry latency model
    seed: int = 0
    queue_model: str = "conservative"  # L2 only: conservative | prob[:power:N] | prob:log
    book_depth: int = 1  # levels per side recorded for ctx.book() after every packet
    timer_ns: int = 0  # on_timer period in strategy time (0: none)
    maker_fee_ppm: int = 200
    taker_fee_ppm: int = 500
    cash: Decimal = Decimal(1_000_000)
    base: Decimal = Decimal(0)
    sample_ns: int = 1_000_000_000  # equity / inventory sample period
    max_batch: int = 4096  # packets per kernel call at most
    capacity: int = 1 << 14  # initial order pool of the exchange (it grows when needed)
    progress: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # strategy parameters (ctx.params)


def _scale(d: Decimal) -> int:
    return max(0, -d.normalize().as_tuple().exponent)  # type: ignore[operator]


class Backtest:
    """One run: ``Backtest(history, strategy, config).run() -> Results``. Costs about one
    kernel call per historical packet plus the strategy's own Python."""

    def __init__(self, history: History, strategy: Strategy, config: BacktestConfig) -> None:
        self.history = h = history
        self.strategy = strategy
        self.config = config
        inst = h.instrument
        quote = inst.settlement_asset or inst.quote_asset
        base = inst.base_asset
        self.quote, self.base_code = quote, base
        q_scale = _scale(inst.tick_size * inst.lot_size * inst.multiplier)
        assets = (Asset(quote, q_scale), Asset(base, _scale(inst.lot_size)))
        self.assets = assets
        fees = RiskParams(maker_fee_ppm=config.maker_fee_ppm, taker_fee_ppm=config.taker_fee_ppm)
        self.ex = Exchange(
            [inst], ClearingConfig(assets=assets, default=fees), capacity=config.capacity,
            keep_ledger=False,
        )  # fmt: skip
        self.nf = int(inst.tick_size * inst.lot_size * inst.multiplier / assets[0].unit)
        self.bf = int(inst.lot_size / assets[1].unit)
        self.spot = inst.kind == "spot"
        accounts = hist_accounts(h.mode)
        big = min(10**17, 6 * 10**18 // len(accounts))  # sums over accounts stay in int64
        tid = 1
        for acct in accounts:
            for a in assets:
                self.ex.deposit(acct, a.code, big, transfer_id=tid)
                tid += 1
        self.start_balances = {quote: assets[0].to_units(config.cash)}
        if config.base:
            self.start_balances[base] = assets[1].to_units(config.base)
        for code, units in self.start_balances.items():
            if units > 0:
                self.ex.deposit(STRATEGY_ACCOUNT, code, units, transfer_id=tid)
                tid += 1
        self.view_balances = dict(self.start_balances)
        # futures and perpetuals are marked (margin, liquidation) at the venue's mid
        self.mark_ns = config.sample_ns if not self.spot else INF
        self.next_mark = 0
        if not self.spot:
            self.ex.set_mark(inst.id, inst.ref_price_ticks or (h.price_lo + h.price_hi) // 2)
        # the mirror of the visible book and the top rows shown to the strategy
        self.lo = h.price_lo
        self.book = np.zeros((2, h.price_hi - h.price_lo), dtype=np.int64)
        self.mstate = np.array([-1, -1, 0, 0, 0], dtype=np.int64)
        self.top = new_top(h.packets + 1, max(1, config.book_depth))
        self.par = np.array(
            [inst.id, self.lo, max(1, config.book_depth), STRATEGY_ACCOUNT, C_NEV, K_NLED,
             C_NEXT_SEQ], dtype=np.int64,
        )  # fmt: skip
        rec = np.full(len(h.cmds), -1, dtype=np.int64)
        has = h.cmd_start[1:] > h.cmd_start[:-1]
        rec[h.cmd_start[1:][has] - 1] = np.flatnonzero(has)
        self.rec_row = rec
        self.pkt_has_cmds = has
        # the hot loop reads Python lists: list indexing costs a fraction of numpy's
        self.cmd_start_l: list[int] = h.cmd_start.tolist()
        self.has_l: list[bool] = has.tolist()
        self.all_have = bool(has.all())
        self.exec_maker_l: list[int] = h.exec_maker.tolist()
        self.mine_rows = np.zeros((4096, 16), dtype=np.int64)
        self.led_rows = np.zeros((4096, 5), dtype=np.int64)
        self.arr1 = np.zeros(1, dtype=COMMAND_DTYPE)  # the strategy command at the venue
        self.no_rec = np.full(64, -1, dtype=np.int64)
        self.ev = new_events(1 << 14)
        self._point(self.ev)
        # latency: one generator per channel, spawned from the seed
        ss = np.random.SeedSequence(config.seed)
        g_feed, g_entry, g_resp = (np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(3))
        self.g_entry, self.g_resp = g_entry, g_resp
        self.entry = config.entry_latency
        self.resp = config.response_latency or config.entry_latency
        feed = config.feed_latency
        lat = feed.sample(h.pkt_ts, g_feed)
        self.feed_d = np.maximum.accumulate(h.pkt_ts + lat) if h.packets else lat
        self.lookahead = min(feed.floor_ns, self.resp.floor_ns) + self.entry.floor_ns
        # constant latencies skip the model call on every command and answer
        self.entry_c = self.entry.ns if isinstance(self.entry, Constant) else -1
        self.resp_c = self.resp.ns if isinstance(self.resp, Constant) else -1
        # strategy side
        self.ctx = Context(self)
        self.arrivals: deque[tuple[int, tuple[int, ...], float]] = deque()  # (time, cmd, mid)
        self.last_arrival = -INF
        self.responses: deque[tuple[int, OrderUpdate, int]] = deque()  # (time, update, seq)
        self.last_response = -INF
        self.timers: list[tuple[int, int]] = []  # (time, 1 periodic / 0 scheduled)
        self.next_id = STRATEGY_ID_BASE
        self.pending_deltas: dict[int, dict[int, int]] = {}  # seq -> asset -> delta
        self.decision_mid: dict[int, float] = {}  # order id -> mid when sent
        # venue side of the strategy's orders
        self.took: dict[int, int] = {}  # L3: historical order id -> lots the strategy took
        self.queue: QueueModel = parse_queue_model(config.queue_model)
        self.resting: dict[int, QueueState] = {}  # L2: strategy orders resting at the venue
        self.l2: L2Fills | None = None  # L2: the queue walk and fills, made on first use
        self.res = Results(self)
        self.trades_l3: deque[tuple[int, Trade]] = deque()  # (packet, trade) to deliver
        self.n_trade_ptr = 0
        self.cb_book = type(strategy).on_book is not Strategy.on_book
        self.cb_trade = type(strategy).on_trade is not Strategy.on_trade

    # --- venue plumbing ----------------------------------------------------------------------
    def _point(self, buf: np.ndarray) -> None:
        self.ex._out = buf
        self.ex.engine._point_descriptor(buf)
        self.ev = buf
        # what step_nb takes, cached: rebuilt whenever the exchange reallocates something
        self._k = (self.ex.engine._desc, self.ex._cdesc, self.ex.engine.state.ctr, self.ex.cs.ctr)

    def _slow(self, cmds: np.ndarray, rec_row: np.ndarray) -> tuple[int, int, int, int]:
        """A batch through ``Exchange.process_into`` (it grows what is needed), then the
        mirror. Returns (events, strategy events, fills, first seq). O(batch)."""
        first = self.ex.next_seq
        n, buf, _nl, _led = self.ex.process_into(cmds, self.ev)
        self._point(buf)
        mine, fills = mirror_nb(
            buf, n, first, len(cmds), self.par, self.book, self.mstate, rec_row, self.top
        )
        return n, int(mine), int(fills), first

    def _run_cmds(self, cmds: np.ndarray, rec_row: np.ndarray) -> tuple[int, int, int, int]:
        ed, cd, ectr, cctr = self._k
        st, done, n, mine, fills, first = step_nb(
            ed, cd, cmds, ectr, cctr, self.ev, self.par, self.book, self.mstate, rec_row, self.top
        )
        if st == 0:
            return n, mine, fills, first
        return self._finish_stop(st, done, first, cmds, rec_row)

    def _finish_stop(
        self, st: int, done: int, first: int, cmds: np.ndarray, rec_row: np.ndarray
    ) -> tuple[int, int, int, int]:
        ex = self.ex
        # a pool or buffer must grow (or a clearing command needs Python): finish in Python,
        # from the command where the kernel stopped, keeping its events and ledger
        while st != 0:
            if st == NEED_ADMIN:
                if admin.run(ex, cmds[done : done + 1]):
                    done += 1
            else:
                ex.handle_stop(int(st))
            self._point(ex._out)
            if done >= len(cmds):
                break
            from clearing.pipeline_nb import MODE_CLIENT, pipeline_desc_nb

            st, k = pipeline_desc_nb(ex.engine._desc, ex._cdesc, cmds[done:], MODE_CLIENT)
            done += int(k)
        n = int(ex.engine.state.ctr[C_NEV])
        mine, fills = mirror_nb(
            self.ev, n, first, len(cmds), self.par, self.book, self.mstate, rec_row, self.top
        )
        return n, int(mine), int(fills), int(first)

    # --- the main loop -----------------------------------------------------------------------
    def run(self) -> Results:
        """Replay everything; returns the results (fills, orders, series, metrics)."""
        h, ctx, strat = self.history, self.ctx, self.strategy
        P = h.packets
        pkt_ts: list[int] = h.pkt_ts.tolist()
        feed_d: list[int] = self.feed_d.tolist()
        entry_floor, lookahead = self.entry.floor_ns, self.lookahead
        max_batch = self.config.max_batch
        cb_book, cb_trade = self.cb_book, self.cb_trade
        res = self.res
        t0_wall = time.perf_counter()
        next_progress = t0_wall + 0.5
        start_ns = int(pkt_ts[0]) if P else 0
        self.end_ns = int(pkt_ts[-1]) if P else 0
        ctx.now_ns = start_ns
        if self.config.timer_ns > 0:
            heapq.heappush(self.timers, (start_ns + self.config.timer_ns, 1))
        self.res.start(start_ns)
        strat.on_start(ctx)
        p = 0  # next packet the venue processes
        q = 0  # next packet delivered to the strategy
        arrivals, responses, timers = self.arrivals, self.responses, self.timers
        progress = self.config.progress
        l3 = h.mode == "l3"
        cs_l, cmds_all, rec_all = self.cmd_start_l, h.cmds, self.rec_row
        par, book, mstate, top = self.par, self.book, self.mstate, self.top
        kk = self._k
        ed, cd, ectr, cctr = kk
        all_have = l3 and self.all_have  # every packet has commands (L3): no empty rows
        while True:
            if q == p < P and all_have and not arrivals and not responses and not timers:
                # A quiet stretch: nothing in flight, everything delivered. Run one L3 packet
                # at the venue, deliver what is due before the next one, repeat, in a tight
                # loop (the hot path); leave it as soon as anything else is pending.
                p0 = p
                while p < P and not self.took and all_have:
                    e = bisect.bisect_right(pkt_ts, pkt_ts[p] + lookahead, p + 1,
                                            min(P, p + max_batch))  # fmt: skip
                    if self._k is not kk:
                        kk = self._k
                        ed, cd, ectr, cctr = kk
                    c0, c1 = cs_l[p], cs_l[e]
                    cmds, rec = cmds_all[c0:c1], rec_all[c0:c1]
                    st, done, n, mine, fills, first = step_nb(
                        ed, cd, cmds, ectr, cctr, self.ev, par, book, mstate, rec, top
                    )
                    if st != 0:
                        n, mine, fills, first = self._finish_stop(st, done, first, cmds, rec)
                    if mine:
                        self._mine(n, first)
                    if fills and cb_trade:
                        self._public_trades(n, first, c0)
                    p = e
                    nxt = pkt_ts[p] if p < P else INF
                    while q < p and feed_d[q] <= nxt and not responses:
                        t_d = feed_d[q]
                        ctx.now_ns = t_d
                        ctx._row = q
                        if cb_trade:
                            self._deliver_trades(q)
                        if cb_book:
                            strat.on_book(ctx)
                        if t_d >= res._next_sample:
                            res.sample(t_d, q)
                        q += 1
                        if arrivals or timers:
                            break
                    if q < p or arrivals or timers or responses:
                        break
                if p != p0:
                    if progress and time.perf_counter() > next_progress:
                        next_progress = time.perf_counter() + 0.5
                        self._progress(p, t0_wall)
                    continue
                # no progress (a batch of several packets is due): the general case below
            # (plain comparisons: this runs a few times per packet)
            t_hist = pkt_ts[p] if p < P else INF
            t_arr = arrivals[0][0] if arrivals else INF
            t_x = t_arr if t_arr < t_hist else t_hist
            d_feed = feed_d[q] if q < p else INF
            d_resp = responses[0][0] if responses else INF
            d_tim = timers[0][0] if timers else INF
            t_d = d_feed if d_feed < d_resp else d_resp
            if d_tim < t_d:
                t_d = d_tim
            if t_d <= t_x and t_d < INF:
                # the strategy's turn (hot path: one packet per pass)
                ctx.now_ns = t_d
                if d_resp == t_d:
                    self._deliver_response(responses.popleft())
                elif d_feed == t_d:
                    # every feed packet due before anything else happens, in one inner loop
                    # (hot path): answers go first at equal times, the venue after
                    limit = t_x if t_x < d_tim else d_tim
                    n_arr, n_tim = len(arrivals), len(timers)
                    while True:
                        ctx._row = q
                        if cb_trade:
                            self._deliver_trades(q)
                        if cb_book:
                            strat.on_book(ctx)
                        if t_d >= res._next_sample:
                            res.sample(t_d, q)
                        q += 1
                        if len(arrivals) != n_arr or len(timers) != n_tim:
                            break  # the strategy acted: back to the general case
                        if q >= p:
                            break
                        t_d = feed_d[q]
                        if t_d > limit or t_d >= d_resp:
                            break
                        ctx.now_ns = t_d
                else:
                    _t, periodic = heapq.heappop(timers)
                    if periodic and t_d + self.config.timer_ns <= self.end_ns:
                        heapq.heappush(timers, (t_d + self.config.timer_ns, 1))
                    strat.on_timer(ctx)
                continue
            if t_hist == INF and t_arr == INF:
                if t_d == INF:
                    break
                continue
            if t_arr < t_hist:
                a, cmd, mid = arrivals.popleft()
                self._arrive(a, cmd, mid)
                continue
            # historical packets [p, e): none can be overtaken by a command not yet sent
            bound = min(t_arr, t_d + entry_floor, t_hist + lookahead)
            e = bisect.bisect_right(pkt_ts, bound, p + 1, min(P, p + max_batch))
            if all_have and not self.took:
                # L3 packets, nothing consumed: the kernel call inline (the hot path)
                if self._k is not kk:
                    kk = self._k
                    ed, cd, ectr, cctr = kk
                c0, c1 = cs_l[p], cs_l[e]
                cmds, rec = cmds_all[c0:c1], rec_all[c0:c1]
                st, done, n, mine, fills, first = step_nb(
                    ed, cd, cmds, ectr, cctr, self.ev, par, book, mstate, rec, top
                )
                if st != 0:
                    n, mine, fills, first = self._finish_stop(st, done, first, cmds, rec)
                if mine:
                    self._mine(n, first)
                if fills and cb_trade:
                    self._public_trades(n, first, c0)
                p = e
            else:
                p = self._packets(p, e)
            if progress and time.perf_counter() > next_progress:
                next_progress = time.perf_counter() + 0.5
                self._progress(p, t0_wall)
        ctx.now_ns = max(ctx.now_ns, self.end_ns)
        strat.on_stop(ctx)
        self.res.wall_s = time.perf_counter() - t0_wall
        if self.config.progress:
            self._progress(P, t0_wall)
            print(file=sys.stderr)
        return self.res.finish()

    def _progress(self, p: int, t0: float) -> None:
        P = max(self.history.packets, 1)
        dt = max(time.perf_counter() - t0, 1e-9)
        n = int(30 * p / P)
        print(
            f"\r[{'#' * n}{'.' * (30 - n)}] {p:,}/{P:,} events  {p / dt:,.0f} events/s  "
            f"fills {len(self.res.fills)}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    # --- historical packets ------------------------------------------------------------------
    def _packets(self, p: int, e: int) -> int:
        """Run packets [p, e) at the venue; returns the next packet to run (< e when an L2
        queue fill cut the batch short)."""
        if self.history.mode == "l2" and self.resting:
            if self.l2 is None:
                self.l2 = L2Fills(self)
            e, fills = self.l2.walk(p, e)
            self._run_packets(p, e)
            if fills:
                self.l2.execute(fills, int(self.history.pkt_ts[e - 1]), self.cmd_start_l[e])
            return e
        self._run_packets(p, e)
        return e

    def _run_packets(self, p: int, e: int) -> None:
        h = self.history
        if self.next_mark < INF and int(h.pkt_ts[p]) >= self.next_mark:
            self._mark(int(h.pkt_ts[p]))
        c0, c1 = self.cmd_start_l[p], self.cmd_start_l[e]
        if e == p + 1 and c1 > c0:
            # the common case: one packet with commands (hot path)
            cmds = h.cmds[c0:c1]
            if self.took:
                cmds = self._consumed(cmds, c0)
            n, mine, fills, first = self._run_cmds(cmds, self.rec_row[c0:c1])
            if mine:
                self._mine(n, first)
            if fills and self.cb_trade and h.mode == "l3":
                self._public_trades(n, first, c0)
            return
        if not self.has_l[p]:
            # a packet without commands shows the book as it is now
            self.no_rec[0] = p
            mirror_nb(self.ev, 0, 0, 1, self.par, self.book, self.mstate, self.no_rec, self.top)
            self.no_rec[0] = -1
        if c1 > c0:
            cmds = h.cmds[c0:c1]
            if self.took:
                cmds = self._consumed(cmds, c0)
            n, mine, fills, first = self._run_cmds(cmds, self.rec_row[c0:c1])
            if mine:
                self._mine(n, first)
            if fills and self.cb_trade and h.mode == "l3":
                self._public_trades(n, first, c0)
        # packets without commands show the book of the packet before them
        if e - p > 1 and not self.all_have:
            has = self.pkt_has_cmds[p:e]
            if not has.all():
                idx = np.where(has, np.arange(e - p), 0)
                idx[0] = 0
                idx = np.maximum.accumulate(idx)
                self.top[:, p:e] = self.top[:, p + idx]

    def _mark(self, t_ns: int) -> None:
        """Mark a future / perpetual at the venue's mid (clearing may liquidate)."""
        b, a = int(self.mstate[0]), int(self.mstate[1])
        if b >= 0 and a >= 0:
            self.ex.set_mark(self.history.instrument.id, self.lo + (b + a) // 2)
            self._point(self.ev)  # the convenience call pointed the engine at its own buffer
        self.next_mark = t_ns + self.mark_ns

    def _consumed(self, cmds: np.ndarray, c0: int) -> np.ndarray:
        """L3: shrink (or drop) executions of historical orders the strategy already took.
        O(commands) in Python lists: executions are a few percent of the commands."""
        took = self.took
        em = self.exec_maker_l[c0 : c0 + len(cmds)]
        hit = [k for k, m in enumerate(em) if m and m in took]
        if not hit:
            return cmds
        cmds = cmds.copy()
        for k in hit:
            oid = em[k]
            if oid not in self.took:  # an earlier execution in this batch used it all up
                continue
            qty = int(cmds["qty_lots"][k])
            take = min(qty, self.took[oid])
            self.took[oid] -= take
            if self.took[oid] == 0:
                del self.took[oid]
            self.res.counters["consumed_executions"] += 1
            self.res.counters["consumed_lots"] += take
            if take == qty:
                cmds["kind"][k] = CMD_CLOCK  # nothing left to execute: time only
            else:
                cmds["qty_lots"][k] = qty - take
        return cmds

    def _public_trades(self, n: int, first: int, c0: int) -> None:
        ev = self.ev[:n]
        f = ev[ev["kind"] == EV_FILL]
        pk = self.history.cmd_start  # packet of a command: searchsorted on the starts
        for e in f:
            c = c0 + int(e["seq"]) - first
            pkt = int(np.searchsorted(pk, c, side="right")) - 1
            self.trades_l3.append(
                (pkt, Trade(int(e["ts_ns"]), int(e["price_ticks"]), int(e["qty_lots"]),
                            int(e["side"])))
            )  # fmt: skip

    def _deliver_trades(self, q: int) -> None:
        h, strat, ctx = self.history, self.strategy, self.ctx
        if h.mode == "l3":
            tq = self.trades_l3
            while tq and tq[0][0] <= q:
                pkt, tr = tq.popleft()
                if pkt == q:
                    strat.on_trade(ctx, tr)
            return
        k = self.n_trade_ptr
        tp = h.trade_pkt
        while k < len(tp) and tp[k] <= q:
            if tp[k] == q:
                strat.on_trade(
                    ctx,
                    Trade(int(h.pkt_ts[q]), int(h.trade_price[k]), int(h.trade_qty[k]),
                          int(h.trade_side[k])),
                )  # fmt: skip
            k += 1
        self.n_trade_ptr = k

    # --- the strategy's commands -------------------------------------------------------------
    # A strategy command travels as a plain tuple: (kind, order id, side, price, qty,
    # order type, tif, flags); the record is built when it reaches the venue.
    def _send(self, cmd: tuple[int, ...]) -> None:
        ctx = self.ctx
        lat = self.entry_c if self.entry_c >= 0 else self.entry.one(ctx.now_ns, self.g_entry)
        a = max(self.last_arrival, ctx.now_ns + lat)
        self.last_arrival = a
        mid = ctx.mid
        self.arrivals.append((a, cmd, mid))
        self.res.command(ctx.now_ns, a, cmd, mid)

    def send_new(
        self, side: int, qty: int, price: int, tif: str, market: bool, post_only: bool
    ) -> int:
        if tif not in _TIFS:
            raise ValueError(f"tif must be one of {sorted(_TIFS)}, not {tif!r}")
        if not market and not self.lo <= price < self.lo + self.book.shape[1]:
            raise ValueError(
                f"price {price} ticks is outside the backtest's price window "
                f"[{self.lo}, {self.lo + self.book.shape[1]})"
            )
        oid = self.next_id
        self.next_id += 1
        self._send(
            (CMD_NEW, oid, side, 0 if market else price, qty, MARKET if market else LIMIT,
             IOC if market and tif == "gtc" else _TIFS[tif], FLAG_POST_ONLY if post_only else 0)
        )  # fmt: skip
        self.ctx.orders[oid] = Order(oid, side, price, qty, qty, "pending", self.ctx.now_ns)
        self.decision_mid[oid] = self.ctx.mid
        return oid

    def send_cancel(self, order_id: int) -> None:
        self._send((CMD_CANCEL, order_id, 0, 0, 0, 0, 0, 0))

    def send_amend(self, order_id: int, price: int, qty: int) -> None:
        self._send((CMD_AMEND, order_id, 0, price, qty, 0, 0, 0))

    def schedule(self, at_ns: int) -> None:
        heapq.heappush(self.timers, (at_ns, 0))

    def _arrive(self, a: int, cmd: tuple[int, ...], mid: float) -> None:
        """One strategy command at the venue (at time ``a``)."""
        kind, oid, side, price, qty, otype, tif, flags = cmd
        arr = self.arr1
        arr[0] = (0, a, oid, 0, price, qty, 0, 0, 0, STRATEGY_ACCOUNT, self.history.instrument.id,
                  0, kind, side, otype, tif, flags, STP_CANCEL_TAKER if kind == CMD_NEW else 0,
                  0)  # fmt: skip
        front = 0
        if kind in (CMD_NEW, CMD_AMEND) and self.history.mode == "l2":
            side, px = self._side_price(cmd)
            i = px - self.lo
            if 0 <= i < self.book.shape[1] and side:
                front = int(self.book[0 if side == BUY else 1, i])
        n, mine, _fills, first = self._run_cmds(arr, self.no_rec[:1])
        if mine:
            self._mine(n, first, new_front=front)

    def _side_price(self, cmd: tuple[int, ...]) -> tuple[int, int]:
        kind, oid, side, price = cmd[0], cmd[1], cmd[2], cmd[3]
        if kind == CMD_NEW:
            return side, price
        q = self.resting.get(oid)
        if q is None:
            return 0, 0
        return q.side, price or q.price_ticks

    # --- answers about the strategy's orders ----------------------------------------------------
    def _mine(self, n: int, first: int, new_front: int = 0) -> None:
        """Events of this call about the strategy's orders: truth records, queue states,
        L3 consumption, and the answers queued for delivery. O(events)."""
        S = STRATEGY_ACCOUNT
        k = mine_nb(self.ev, n, S, self.mine_rows)
        while k < 0:  # more of them than rows: a bigger scratch array
            self.mine_rows = np.zeros((2 * len(self.mine_rows), 16), dtype=np.int64)
            k = mine_nb(self.ev, n, S, self.mine_rows)
        rows = self.mine_rows[:k].tolist()
        # only fills move the strategy's money (deposits happen before the run)
        fees = self._ledger() if any(r[0] == EV_FILL for r in rows) else {}
        last_seq = -1
        d = 0
        l3 = self.history.mode == "l3"
        for row in rows:
            (kind, seq, ts, oid, moid, eside, price, qty, leaves, mleaves, _acct, macct, tid,
             reason, tif, flags) = row  # fmt: skip
            if kind not in _KIND_NAMES:
                continue
            if seq != last_seq:
                lat = self.resp_c if self.resp_c >= 0 else self.resp.one(ts, self.g_resp)
                d = max(self.last_response, ts + lat)
                self.last_response = d
                last_seq = seq
            maker = kind == EV_FILL and macct == S
            if maker:
                oid, leaves, side = moid, mleaves, (SELL if eside == BUY else BUY)
            else:
                side = eside
            fee = 0
            liq = ""
            if kind == EV_FILL:
                liq = "maker" if maker else "taker"
                fee = fees.get(tid, 0)
                self.res.fill(ts, oid, side, price, qty, liq, fee, tid, leaves,
                              self.decision_mid.get(oid, 0.0))  # fmt: skip
                if l3 and not maker and macct == RESTING_ACCOUNT:
                    self.took[moid] = self.took.get(moid, 0) + qty
                    self.res.counters["strategy_took_lots"] += qty
            if not l3:
                self._track_resting(kind, oid, side, price, leaves, tif, flags, new_front)
            up = OrderUpdate(
                _KIND_NAMES[kind], oid, side, price, qty, leaves,
                reasons.name(reason) if reason else "", ts, liq, fee,
            )  # fmt: skip
            self.responses.append((d, up, seq))

    def _track_resting(
        self, k: int, oid: int, side: int, price: int, leaves: int, tif: int, flags: int,
        front: int,
    ) -> None:  # fmt: skip
        """L2: keep the queue state of the strategy's resting orders current."""
        if k == EV_ACCEPTED and leaves > 0 and tif == GTC:
            self.resting[oid] = QueueState(oid, side, price, leaves, float(front))
        elif k == EV_AMENDED and oid in self.resting:
            qs = self.resting[oid]
            qs.leaves_lots = leaves
            if not flags & 1:  # lost its priority: a new place in the queue
                qs.price_ticks = price
                qs.front = float(front)
        elif oid in self.resting:
            qs = self.resting[oid]
            qs.leaves_lots = leaves
            if leaves <= 0 or k in (EV_CANCELLED, EV_REJECTED):
                del self.resting[oid]

    def _ledger(self) -> dict[int, int]:
        """Strategy ledger entries of this call: balance deltas per seq (delivered with the
        answers) and the fee per trade id (rebates negative)."""
        n = int(self.ex.cs.ctr[K_NLED])
        k = ledger_nb(self.ex._ledger_buf, n, STRATEGY_ACCOUNT, self.led_rows)
        while k < 0:
            self.led_rows = np.zeros((2 * len(self.led_rows), 5), dtype=np.int64)
            k = ledger_nb(self.ex._ledger_buf, n, STRATEGY_ACCOUNT, self.led_rows)
        fees: dict[int, int] = {}
        for seq, ref, amt, asset, kind in self.led_rows[:k].tolist():
            deltas = self.pending_deltas.setdefault(seq, {})
            deltas[asset] = deltas.get(asset, 0) + amt
            if kind in (L_FEE, L_REBATE):
                fees[ref] = fees.get(ref, 0) - amt
        return fees

    def _deliver_response(self, item: tuple[int, OrderUpdate, int]) -> None:
        _d, up, seq = item
        ctx = self.ctx
        deltas = self.pending_deltas.pop(seq, None)
        if deltas:
            for asset, amt in deltas.items():
                code = self.assets[asset].code
                self.view_balances[code] = self.view_balances.get(code, 0) + amt
        o = ctx.orders.get(up.order_id)
        if o is not None:
            if up.kind == "fill":
                ctx.position += up.qty_lots if up.side == BUY else -up.qty_lots
                o.leaves_lots = up.leaves_lots
            elif up.kind == "amended":
                o.leaves_lots = up.leaves_lots
                o.price_ticks = up.price_ticks or o.price_ticks
                o.qty_lots = up.qty_lots or o.qty_lots
            if up.kind in ("accepted", "amended", "fill"):
                o.status = "open"
            if up.kind in ("rejected", "cancelled") or (up.kind == "fill" and not up.leaves_lots):
                o.status = "done"
                del ctx.orders[up.order_id]
            elif up.kind == "accepted" and up.leaves_lots == 0:
                pass
        elif up.kind == "fill":
            ctx.position += up.qty_lots if up.side == BUY else -up.qty_lots
        self.res.update(up)
        self.strategy.on_order_update(ctx, up)
