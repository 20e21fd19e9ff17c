"""The in-process demo that ``venue run`` starts until the order-entry gateway exists.

It builds the embedded default venue, funds six seeded traders, lets them quote and trade on
every instrument through the real pipeline (risk hold, match, settle: the batch kernel a gateway
will use), and prints what an operator would look at: a sample of the event stream, the trade
tape, the books as price ladders in real prices, and the clearing totals. Deterministic for a
given seed.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

import numpy as np

from matching import reasons
from matching.api import describe
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_NEW,
    COMMAND_DTYPE,
    EV_ACCEPTED,
    EV_CANCELLED,
    EV_FILL,
    EV_NAMES,
    EV_REJECTED,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    new_events,
)


def _flow(insts: list[Instrument], n: int, seed: int) -> np.ndarray:
    """Seeded order flow: makers quoting around a drifting fair value, takers crossing, stops,
    and cancels and amends of orders that are live. To know which are live, the flow is
    generated against a scratch engine (each command applied as it is drawn); the demo then
    replays the finished stream on a fresh engine in one kernel call. Commands are 1 ms apart."""
    from matching.engine import Engine

    scratch = Engine(insts)
    rng = np.random.default_rng(seed)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    fair = {i.id: float(i.ref_price_ticks or 1000) for i in insts}
    live: dict[int, list[int]] = {i.id: [] for i in insts}  # instrument -> live order ids
    owner: dict[int, tuple[int, int]] = {}  # order id -> (instrument, account)
    next_oid = 1
    for k in range(n):
        inst = insts[int(rng.integers(len(insts)))]
        iid = inst.id
        fair[iid] *= 1 + rng.normal(0, 0.0004)
        c = cmds[k]
        c["seq"] = k + 1
        c["ts_ns"] = 1_700_000_000_000_000_000 + k * 1_000_000
        c["instrument"] = iid
        c["account"] = int(rng.integers(1, 7))
        u = rng.random()
        ids = live[iid]
        if u < 0.22 and ids:
            oid = ids[int(rng.integers(len(ids)))]
            c["order_id"] = oid
            c["account"] = owner[oid][1]
            if u < 0.12:
                c["kind"] = CMD_CANCEL
            else:
                c["kind"] = CMD_AMEND
                c["price_ticks"] = max(1, round(fair[iid] * (1 + rng.normal(0, 0.001))))
        else:
            c["kind"] = CMD_NEW
            c["order_id"] = next_oid
            next_oid += 1
            side = BUY if rng.random() < 0.5 else SELL
            c["side"] = side
            c["qty_lots"] = int(rng.integers(1, 50)) * max(1, inst.min_qty_lots)
            if u < 0.30:
                c["order_type"], c["tif"] = MARKET, IOC
            elif u < 0.33:
                c["order_type"], c["tif"] = STOP_MARKET, GTC
                away = 1 + abs(rng.normal(0.002, 0.002))
                c["trigger_ticks"] = round(fair[iid] * (away if side == BUY else 1 / away))
                if side == BUY and inst.kind in ("spot", "option"):
                    # a cash buy must be funded when it is placed: give it a limit
                    c["order_type"] = STOP_LIMIT
                    c["price_ticks"] = round(int(c["trigger_ticks"]) * 1.002)
            else:
                c["order_type"] = LIMIT
                c["tif"] = GTC if rng.random() < 0.9 else IOC
                edge = abs(rng.normal(0.0008, 0.0015))
                px = fair[iid] * (1 - edge if side == BUY else 1 + edge)
                c["price_ticks"] = max(1, round(px))
                if c["tif"] == GTC and rng.random() < 0.08:
                    c["display_lots"] = max(1, int(c["qty_lots"]) // 4)
        for e in scratch.process(cmds[k : k + 1]):
            kind, oid = int(e["kind"]), int(e["order_id"])
            if kind == EV_ACCEPTED and e["order_type"] in (LIMIT, STOP_MARKET, STOP_LIMIT):
                live[int(e["instrument"])].append(oid)
                owner[oid] = (int(e["instrument"]), int(e["account"]))
            gone = []
            if kind == EV_FILL:
                if e["maker_leaves_lots"] == 0:
                    gone.append(int(e["maker_order_id"]))
                if e["leaves_lots"] == 0:
                    gone.append(oid)
            elif kind == EV_CANCELLED and e["leaves_lots"] == 0:
                gone.append(oid)
            for g in gone:
                where = owner.pop(g, None)
                if where is not None:
                    live[where[0]].remove(g)
    return cmds


def run_demo(commands: int = 20_000, seed: int = 7, out: TextIO = sys.stdout) -> int:
    """Run the demo and print its report. Returns a process exit code."""
    # imported here: the first import compiles kernels
    from clearing.exchange import Exchange
    from clearing.statements import totals_table
    from venue.defaults import default_instruments

    insts = default_instruments()
    by_id = {i.id: i for i in insts}
    engine = Exchange(insts, keep_ledger=True)
    for acct in range(1, 7):  # the six demo traders, funded (amounts in asset units)
        engine.deposit(acct, "USD", 50_000_000 * 10**6, acct)
        engine.deposit(acct, "BTC", 500 * 10**8, 100 + acct)
        engine.deposit(acct, "ETH", 5_000 * 10**8, 200 + acct)
    engine.set_mark(0, insts[0].ref_price_ticks)  # the options' underlying
    cmds = _flow(insts, commands, seed)
    t0 = time.perf_counter()
    n_ev, buf, n_led, _led = engine.process_into(cmds, new_events(4 * len(cmds)))
    secs = time.perf_counter() - t0
    ev = buf[:n_ev]
    p = out.write

    def px(iid: int, ticks: int) -> str:
        return f"{by_id[iid].ticks_to_price(ticks):,}"

    def qty(iid: int, lots: int) -> str:
        return f"{by_id[iid].lots_to_qty(lots).normalize():f}"

    p("openvenue demo: the matching engine on the embedded default venue (no network yet)\n")
    p(f"instruments: {', '.join(i.symbol for i in insts)}\n\n")
    p("first events (every command ends in events; see docs/rulebook.md):\n")
    for d, e in zip(describe(ev[:12]), ev[:12], strict=True):
        sym = by_id.get(int(e["instrument"]))
        p(f"  {sym.symbol if sym else '-':<22} {d}\n")
    fills = ev[ev["kind"] == EV_FILL]
    p(f"\ntrade tape (last 10 of {len(fills):,}):\n")
    for f in fills[-10:]:
        iid = int(f["instrument"])
        aggr = "buy " if f["side"] == BUY else "sell"
        p(
            f"  #{int(f['trade_id']):<6} {by_id[iid].symbol:<22} {aggr} "
            f"{qty(iid, int(f['qty_lots'])):>10} @ {px(iid, int(f['price_ticks'])):>12}"
            f"   taker {int(f['order_id'])} maker {int(f['maker_order_id'])}\n"
        )
    for iid in (0, 2):
        view = engine.book(iid, depth=5)
        p(f"\n{by_id[iid].symbol} book (top 5):\n")
        p(f"  {'bid qty':>12} {'bid':>12} | {'ask':<12} {'ask qty':<12}\n")
        for k in range(5):
            b = view.bids[k] if k < len(view.bids) else None
            a = view.asks[k] if k < len(view.asks) else None
            left = f"{qty(iid, b.qty_lots):>12} {px(iid, b.price_ticks):>12}" if b else " " * 25
            right = f"{px(iid, a.price_ticks):<12} {qty(iid, a.qty_lots):<12}" if a else ""
            p(f"  {left} | {right}\n")
    kinds = Counter(EV_NAMES[int(k)] for k in ev["kind"])
    rej = Counter(reasons.name(int(r)) for r in ev["reason"][ev["kind"] == EV_REJECTED])
    canc = Counter(reasons.name(int(r)) for r in ev["reason"][ev["kind"] == EV_CANCELLED])
    p(f"\n{len(cmds):,} commands -> {n_ev:,} events in {secs * 1e3:.1f} ms ")
    p(f"({len(cmds) / secs:,.0f} commands/s: risk hold, match and settle in one pipeline)\n")
    p(f"  events: {dict(kinds)}\n  rejects: {dict(rej) or 'none'}\n  cancels: {dict(canc)}\n")
    accepted = int((ev["kind"] == EV_ACCEPTED).sum())
    p(f"  accepted orders {accepted:,}, resting now {engine.live_orders():,}\n")
    engine.check_invariants()
    p(f"  invariants hold (book and clearing); state hash {engine.state_hash()}\n")
    p(f"\nclearing: {n_led:,} ledger entries; totals per asset (every row sums to zero):\n")
    p(totals_table(engine) + "\n")
    p("\nThe order-entry gateway (ZeroMQ) comes with issue #5; then `venue run` serves clients.\n")
    return 0
