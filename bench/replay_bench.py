"""``venue bench replay``: one LOBSTER hour through three books, in one process run.

The LOBSTER level-50 AAPL message file (09:30 to 10:30, 2012-06-21; ../shared/data/README.md) is
turned once, untimed, into one stream of book operations, then applied to:

- the numba engine: ``Engine.process_into`` in batches of ``--batch`` (after a full untimed
  warm-up run, which also checks what the executions matched);
- nautilus_trader's Rust order book (``nautilus_trader.model.book.OrderBook``, ``L3_MBO``):
  pre-built ``OrderBookDelta`` objects, timed two ways: ``apply_deltas`` of pre-built
  ``OrderBookDeltas`` batches of ``--batch`` (one call into Rust per batch, like
  ``process_into``) and ``apply_delta`` one delta per call; the faster is its figure;
- the plain-Python reference book: ``ReferenceEngine.process`` in the same batches.

The mapping (instrument 0, spot, tick 0.0001, lot 1: LOBSTER's integer prices are ticks and its
shares are lots). Resting orders are account 1, the aggressors of executions account 2.

=========================  ==================================  ===============================
LOBSTER message            engine command                      nautilus delta
=========================  ==================================  ===============================
1 submission               NEW LIMIT GTC, the file's order id  ADD
2 partial cancellation     AMEND to the smaller total qty      UPDATE to the smaller size
3 deletion                 CANCEL by order id                  DELETE
4 visible execution        NEW LIMIT IOC, opposite side, at    UPDATE to what is left, or
                           the resting order's price and the   DELETE when nothing is (its
                           executed size (account 2)           book does not match)
=========================  ==================================  ===============================

Skipped for every book alike (counted): messages naming an order not submitted in the file
(resting since before 09:30), hidden executions (5), cross trades (6) and halts (7).

What counts as an event: one **applied LOBSTER message** = one engine command = one nautilus
delta = one reference-book command. ``events_per_s``, ``nautilus_events_per_s`` and
``reference_events_per_s`` are all applied messages per second, so their ratios compare the
books per input message. The engine's own output (accepted, fill, cancelled, amended, level
events, ...) is reported besides, as ``engine_output_events_per_s``. Each book is timed
``--repeat`` times, round robin, on a fresh book each time; the best run counts.

It prints a summary (first line: the headline), then with ``--json`` one JSON object as the last
line, and unless ``--no-write`` writes that object to ``bench/results/replay-lobster.json``.
nautilus_trader is optional (``pip install '.[bench]'``); without it ``nautilus_events_per_s``
is null.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import sysinfo
from bench.sysinfo import publish
from marketdata.history.lobster import read_messages
from marketdata.history.records import (
    LOB_DELETE,
    LOB_EXEC_VISIBLE,
    LOB_PARTIAL_CANCEL,
    LOB_SUBMIT,
)
from marketdata.history.replay import INSTRUMENT, aapl
from matching.engine import Engine
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_NEW,
    COMMAND_DTYPE,
    EV_FILL,
    EV_REJECTED,
    EVENT_DTYPE,
    GTC,
    IOC,
    LIMIT,
    SELL,
)
from matching.reference import ReferenceEngine

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOBSTER_FILE = (
    DATA_DIR
    / "lobster"
    / "aapl-2012-06-21-level50-1h"
    / "AAPL_2012-06-21_34200000_37800000_message_50.csv"
)
SESSION_DATE_NS = 1_340_236_800 * 10**9  # 2012-06-21 00:00 UTC: LOBSTER times are after midnight
INSTRUMENT_ID = INSTRUMENT  # the replay's instrument id
MAKER_ACCOUNT = 1
TAKER_ACCOUNT = 2
TAKER_ID_BASE = 1 << 40  # order ids of the execution aggressors: far above NASDAQ's
PIP_INSTALL_HINT = "pip install '.[bench]'  (nautilus_trader>=1.200)"

# book operations of the neutral stream (what each applied message does to the resting order)
OP_ADD = 1
OP_UPDATE = 2  # new resting size (partial cancel, or a partial execution)
OP_DELETE = 3  # deletion, or the execution of the whole rest


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``venue bench replay``."""
    parser.add_argument(
        "--file",
        type=Path,
        default=LOBSTER_FILE,
        metavar="PATH",
        help="LOBSTER message file (default: the shared one-hour AAPL level-50 file)",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=0,
        metavar="N",
        help="replay only the first N messages of the file (default 0: all)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=4096,
        metavar="B",
        help="commands per process_into / reference call, deltas per nautilus apply_deltas",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, metavar="R", help="timed runs per book; the best counts"
    )
    parser.add_argument(
        "--no-nautilus", action="store_true", help="do not time nautilus_trader's book"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/replay-lobster.json"
    )


# --- reading ------------------------------------------------------------------------------------
def load_messages(path: Path, limit: int = 0) -> np.ndarray:
    """The file's messages (LOBSTER_MESSAGE_DTYPE), the first ``limit`` if ``limit`` > 0."""
    msgs = read_messages(path)
    return msgs[:limit] if limit > 0 else msgs


# --- the stream ---------------------------------------------------------------------------------
@dataclass
class Stream:
    """One event stream, in the form each book takes it (built once, untimed)."""

    commands: np.ndarray  # COMMAND_DTYPE, one per applied message, seq = index + 1
    expect_maker: np.ndarray  # int64 per command: the resting order an execution names, else 0
    op: np.ndarray  # uint8 per command: OP_ADD / OP_UPDATE / OP_DELETE
    side: np.ndarray  # uint8: BUY / SELL of the resting order
    price: np.ndarray  # int64 ticks (dollars x 10000)
    size: np.ndarray  # int64: ADD the order size, UPDATE the new resting size, DELETE the last
    order_id: np.ndarray  # int64: the resting order
    ts_ns: np.ndarray  # int64 UNIX ns
    messages: int = 0  # messages read
    applied: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.commands)


def build_stream(msgs: np.ndarray) -> Stream:
    """LOBSTER messages -> the stream of book operations (see the module docstring). O(n)."""
    n = len(msgs)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    expect = np.zeros(n, dtype=np.int64)
    op = np.zeros(n, dtype=np.uint8)
    side = np.zeros(n, dtype=np.uint8)
    price = np.zeros(n, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    oid = np.zeros(n, dtype=np.int64)
    ts = np.zeros(n, dtype=np.int64)
    applied = {"submission": 0, "partial_cancel": 0, "deletion": 0, "execution": 0}
    skipped = {
        "unknown_order": 0,  # resting since before 09:30 (or already gone)
        "hidden_execution": 0,
        "cross_or_halt": 0,
        "other": 0,  # zero sizes, duplicate ids, oversized cancels / executions
    }
    # live orders: id -> [side, price, total qty (engine's view), resting size]
    live: dict[int, list[int]] = {}
    k = 0
    for t_ns, o_id, sz, px, typ, direction in msgs.tolist():
        typ = int(typ)
        s = BUY if direction == 1 else SELL
        c = cmds[k]
        if typ == LOB_SUBMIT:
            if sz <= 0 or o_id in live or o_id <= 0:
                skipped["other"] += 1
                continue
            live[o_id] = [s, px, sz, sz]
            c["kind"] = CMD_NEW
            c["order_id"] = o_id
            c["side"] = s
            c["order_type"] = LIMIT
            c["tif"] = GTC
            c["price_ticks"] = px
            c["qty_lots"] = sz
            c["account"] = MAKER_ACCOUNT
            op[k], size[k] = OP_ADD, sz
            applied["submission"] += 1
        elif typ in (LOB_PARTIAL_CANCEL, LOB_DELETE, LOB_EXEC_VISIBLE):
            o = live.get(o_id)
            if o is None:
                skipped["unknown_order"] += 1
                continue
            s, px = o[0], o[1]
            if typ == LOB_DELETE:
                del live[o_id]
                c["kind"] = CMD_CANCEL
                c["order_id"] = o_id
                c["account"] = MAKER_ACCOUNT
                op[k], size[k] = OP_DELETE, o[3]
                applied["deletion"] += 1
            elif typ == LOB_PARTIAL_CANCEL:
                if not 0 < sz < o[3]:
                    skipped["other"] += 1
                    continue
                o[2] -= sz
                o[3] -= sz
                c["kind"] = CMD_AMEND
                c["order_id"] = o_id
                c["side"] = s
                c["qty_lots"] = o[2]
                c["account"] = MAKER_ACCOUNT
                op[k], size[k] = OP_UPDATE, o[3]
                applied["partial_cancel"] += 1
            else:
                if not 0 < sz <= o[3]:
                    skipped["other"] += 1
                    continue
                o[3] -= sz
                c["kind"] = CMD_NEW
                c["order_id"] = TAKER_ID_BASE + k
                c["side"] = SELL if s == BUY else BUY
                c["order_type"] = LIMIT
                c["tif"] = IOC
                c["price_ticks"] = px
                c["qty_lots"] = sz
                c["account"] = TAKER_ACCOUNT
                expect[k] = o_id
                if o[3] == 0:
                    del live[o_id]
                    op[k], size[k] = OP_DELETE, sz
                else:
                    op[k], size[k] = OP_UPDATE, o[3]
                applied["execution"] += 1
        elif typ == LOB_EXEC_VISIBLE + 1:
            skipped["hidden_execution"] += 1
            continue
        else:
            skipped["cross_or_halt"] += 1
            continue
        c["seq"] = k + 1
        c["ts_ns"] = SESSION_DATE_NS + t_ns
        c["instrument"] = INSTRUMENT_ID
        side[k], price[k], oid[k], ts[k] = s, px, o_id, SESSION_DATE_NS + t_ns
        k += 1
    return Stream(
        commands=cmds[:k].copy(),
        expect_maker=expect[:k].copy(),
        op=op[:k].copy(),
        side=side[:k].copy(),
        price=price[:k].copy(),
        size=size[:k].copy(),
        order_id=oid[:k].copy(),
        ts_ns=ts[:k].copy(),
        messages=n,
        applied=applied,
        skipped=skipped,
    )


def instrument() -> Instrument:
    """AAPL as the replay defines it (LOBSTER's integer prices are ticks, its shares lots)."""
    return aapl()


# --- the numba engine ---------------------------------------------------------------------------
def _engine_capacity(stream: Stream) -> int:
    return max(1024, int(np.count_nonzero(stream.op == OP_ADD)) + 16)


def engine_check(stream: Stream, batch: int) -> dict[str, Any]:
    """Untimed full run (also the numba warm-up): the engine's events, and how many executions
    filled exactly the resting order LOBSTER names, for exactly its size."""
    eng = Engine([instrument()], capacity=_engine_capacity(stream))
    ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    outs = []
    cmds = stream.commands
    for s in range(0, len(cmds), batch):
        n, ev = eng.process_into(cmds[s : s + batch], ev)
        outs.append(ev[:n].copy())
    events = np.concatenate(outs) if outs else np.zeros(0, dtype=EVENT_DTYPE)
    fills = events[events["kind"] == EV_FILL]
    idx = fills["seq"] - 1
    good = (fills["maker_order_id"] == stream.expect_maker[idx]) & (
        fills["qty_lots"] == cmds["qty_lots"][idx]
    )
    n_exec = int(np.count_nonzero(stream.expect_maker))
    exact = len(np.unique(idx[good]))
    return {
        "engine_events": len(events),
        "engine_fills": len(fills),
        "engine_rejects": int(np.count_nonzero(events["kind"] == EV_REJECTED)),
        "executions": n_exec,
        "executions_matched_exactly": exact,
        "resting_orders_after": eng.live_orders(),
    }


def time_engine(stream: Stream, batch: int) -> tuple[float, int]:
    """One timed run on a fresh engine: (seconds, engine events emitted)."""
    eng = Engine([instrument()], capacity=_engine_capacity(stream))
    ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    cmds = stream.commands
    chunks = [cmds[s : s + batch] for s in range(0, len(cmds), batch)]
    events = 0
    process_into = eng.process_into
    t0 = time.perf_counter_ns()
    for chunk in chunks:
        k, ev = process_into(chunk, ev)
        events += k
    return (time.perf_counter_ns() - t0) / 1e9, events


# --- the reference book -------------------------------------------------------------------------
def time_reference(stream: Stream, batch: int) -> tuple[float, int]:
    """One timed run on a fresh reference book: (seconds, events emitted)."""
    ref = ReferenceEngine([instrument()])
    cmds = stream.commands
    chunks = [cmds[s : s + batch] for s in range(0, len(cmds), batch)]
    events = 0
    t0 = time.perf_counter_ns()
    for chunk in chunks:
        events += len(ref.process(chunk))
    return (time.perf_counter_ns() - t0) / 1e9, events


# --- nautilus_trader ----------------------------------------------------------------------------
def _import_nautilus() -> Any:
    """The nautilus_trader names the bench uses, or None when it is not installed."""
    try:
        with warnings.catch_warnings():
            # nautilus_trader or its dependencies may warn on import; pytest turns warnings
            # into errors, and they are not ours to fix
            warnings.simplefilter("ignore")
            import nautilus_trader
            from nautilus_trader.model import book, data, enums, identifiers, objects
    except ImportError:
        return None
    return argparse.Namespace(
        version=nautilus_trader.__version__,
        OrderBook=book.OrderBook,
        OrderBookDelta=data.OrderBookDelta,
        OrderBookDeltas=data.OrderBookDeltas,
        BookOrder=data.BookOrder,
        BookType=enums.BookType,
        BookAction=enums.BookAction,
        OrderSide=enums.OrderSide,
        InstrumentId=identifiers.InstrumentId,
        Price=objects.Price,
        Quantity=objects.Quantity,
        FIXED_SCALAR=int(objects.FIXED_SCALAR),
    )


def nautilus_version() -> str | None:
    nt = _import_nautilus()
    return None if nt is None else str(nt.version)


@dataclass
class NautilusStream:
    nt: Any
    instrument_id: Any
    deltas: list[Any]
    batches: list[Any]  # OrderBookDeltas of up to `batch` deltas each


def build_nautilus(stream: Stream, batch: int) -> NautilusStream | None:
    """Pre-build (untimed) the stream's OrderBookDelta objects and their batches; None when
    nautilus_trader is not installed. O(n)."""
    nt = _import_nautilus()
    if nt is None:
        return None
    iid = nt.InstrumentId.from_str("AAPL.XNAS")
    action = {OP_ADD: nt.BookAction.ADD, OP_UPDATE: nt.BookAction.UPDATE}
    delete = nt.BookAction.DELETE
    sides = {BUY: nt.OrderSide.BUY, SELL: nt.OrderSide.SELL}
    raw_per_tick = nt.FIXED_SCALAR // 10**4  # price precision 4: one tick is 0.0001
    raw_per_lot = nt.FIXED_SCALAR  # size precision 0
    price_cache: dict[int, Any] = {}
    deltas = []
    for i, (o, s, px, sz, oid, ts) in enumerate(
        zip(
            stream.op.tolist(),
            stream.side.tolist(),
            stream.price.tolist(),
            stream.size.tolist(),
            stream.order_id.tolist(),
            stream.ts_ns.tolist(),
            strict=True,
        )
    ):
        p = price_cache.get(px)
        if p is None:
            p = price_cache[px] = nt.Price.from_raw(px * raw_per_tick, 4)
        order = nt.BookOrder(sides[s], p, nt.Quantity.from_raw(sz * raw_per_lot, 0), oid)
        deltas.append(nt.OrderBookDelta(iid, action.get(o, delete), order, 0, i + 1, ts, ts))
    batches = [nt.OrderBookDeltas(iid, deltas[s : s + batch]) for s in range(0, len(deltas), batch)]
    return NautilusStream(nt=nt, instrument_id=iid, deltas=deltas, batches=batches)


def _nautilus_book(ns: NautilusStream) -> Any:
    return ns.nt.OrderBook(ns.instrument_id, ns.nt.BookType.L3_MBO)


def time_nautilus_per_delta(ns: NautilusStream) -> float:
    """One timed run on a fresh L3 book, ``apply_delta`` once per delta: seconds."""
    book = _nautilus_book(ns)
    apply = book.apply_delta
    deltas = ns.deltas
    t0 = time.perf_counter_ns()
    for d in deltas:
        apply(d)
    return (time.perf_counter_ns() - t0) / 1e9


def time_nautilus_batches(ns: NautilusStream) -> float:
    """One timed run on a fresh L3 book, ``apply_deltas`` once per batch: seconds."""
    book = _nautilus_book(ns)
    apply = book.apply_deltas
    batches = ns.batches
    t0 = time.perf_counter_ns()
    for b in batches:
        apply(b)
    return (time.perf_counter_ns() - t0) / 1e9


def nautilus_book_summary(ns: NautilusStream) -> dict[str, Any]:
    """Untimed: the book after the whole stream (orders resting, best bid / ask)."""
    book = _nautilus_book(ns)
    for b in ns.batches:
        book.apply_deltas(b)
    bb, ba = book.best_bid_price(), book.best_ask_price()
    return {
        "nautilus_update_count": int(book.update_count),
        "nautilus_best_bid": None if bb is None else str(bb),
        "nautilus_best_ask": None if ba is None else str(ba),
        "nautilus_resting_orders_after": sum(len(level.orders()) for level in book.bids())
        + sum(len(level.orders()) for level in book.asks()),
    }


# --- the core -----------------------------------------------------------------------------------
def _rate(n: int, seconds: float | None) -> float | None:
    return n / seconds if seconds and seconds > 0 else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def replay(
    msgs: np.ndarray, batch: int = 4096, repeat: int = 3, nautilus: bool = True
) -> dict[str, Any]:
    """Build the stream from ``msgs`` and time the three books on it (best of ``repeat``
    runs each, round robin). Returns the result record (without machine / command info)."""
    t = time.perf_counter()
    stream = build_stream(msgs)
    build_s = time.perf_counter() - t
    n = stream.n
    r: dict[str, Any] = {
        "messages": stream.messages,
        "applied_messages": n,
        "applied": stream.applied,
        "skipped": stream.skipped,
        "batch": batch,
        "repeat": repeat,
        "stream_build_s": round(build_s, 3),
    }
    _log(f"{stream.messages:,} messages -> {n:,} applied; warm-up / check run of the engine")
    r.update(engine_check(stream, batch))

    ns: NautilusStream | None = None
    r["nautilus_version"] = None
    if nautilus:
        t = time.perf_counter()
        ns = build_nautilus(stream, batch)
        if ns is not None:
            r["nautilus_version"] = str(ns.nt.version)
            r["nautilus_build_s"] = round(time.perf_counter() - t, 3)
            r.update(nautilus_book_summary(ns))  # also its warm-up
    r["nautilus_available"] = ns is not None
    if nautilus and ns is None:
        r["nautilus_message"] = f"nautilus_trader is not installed: {PIP_INSTALL_HINT}"
    elif not nautilus:
        r["nautilus_message"] = "nautilus_trader not timed (--no-nautilus)"

    eng_s: list[float] = []
    eng_events = 0
    ref_s: list[float] = []
    ref_events = 0
    nt_batch_s: list[float] = []
    nt_delta_s: list[float] = []
    for i in range(repeat):
        _log(f"timed run {i + 1}/{repeat}")
        s, eng_events = time_engine(stream, batch)
        eng_s.append(s)
        if ns is not None:
            nt_batch_s.append(time_nautilus_batches(ns))
            nt_delta_s.append(time_nautilus_per_delta(ns))
        s, ref_events = time_reference(stream, batch)
        ref_s.append(s)

    best_eng = min(eng_s) if eng_s else None
    best_ref = min(ref_s) if ref_s else None
    best_ntb = min(nt_batch_s) if nt_batch_s else None
    best_ntd = min(nt_delta_s) if nt_delta_s else None
    eng_rate = _rate(n, best_eng)
    ref_rate = _rate(n, best_ref)
    ntb_rate = _rate(n, best_ntb)
    ntd_rate = _rate(n, best_ntd)
    nt_rate = max((x for x in (ntb_rate, ntd_rate) if x), default=None)
    r.update(
        {
            "events_per_s": eng_rate,
            "nautilus_events_per_s": nt_rate,
            "reference_events_per_s": ref_rate,
            "engine_vs_nautilus": _ratio(eng_rate, nt_rate),
            "engine_vs_reference": _ratio(eng_rate, ref_rate),
            "nautilus_vs_reference": _ratio(nt_rate, ref_rate),
            "engine_seconds": best_eng,
            "engine_seconds_all": eng_s,
            "engine_output_events": eng_events,
            "engine_output_events_per_s": _rate(eng_events, best_eng),
            "engine_ns_per_event": best_eng * 1e9 / n if best_eng and n else None,
            "nautilus_batch_events_per_s": ntb_rate,
            "nautilus_per_delta_events_per_s": ntd_rate,
            "nautilus_batch_seconds_all": nt_batch_s,
            "nautilus_per_delta_seconds_all": nt_delta_s,
            "nautilus_ns_per_event": 1e9 / nt_rate if nt_rate else None,
            "reference_seconds": best_ref,
            "reference_seconds_all": ref_s,
            "reference_output_events": ref_events,
            "reference_output_events_match": ref_events == eng_events,
        }
    )
    target_ok = None if r["engine_vs_nautilus"] is None else r["engine_vs_nautilus"] >= 1.0
    r["target"] = {
        "text": "engine at least as fast as nautilus_trader's book per applied message",
        "value": r["engine_vs_nautilus"],
        "status": "not measured" if target_ok is None else ("PASS" if target_ok else "BELOW"),
    }
    return r


# --- reporting ----------------------------------------------------------------------------------
def _fmt(x: float | None, spec: str = ",.0f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def summary(r: dict[str, Any]) -> str:
    """The human-readable report; the first line is the headline."""
    a, s = r["applied"], r["skipped"]
    lines = [
        f"replay LOBSTER: engine {_fmt(r['events_per_s'])} msgs/s, nautilus_trader "
        f"{_fmt(r['nautilus_events_per_s'])} msgs/s, reference {_fmt(r['reference_events_per_s'])}"
        f" msgs/s; engine/nautilus {_fmt(r['engine_vs_nautilus'], ',.2f')}x, engine/reference "
        f"{_fmt(r['engine_vs_reference'], ',.1f')}x; {r['machine']['cpu']}",
        f"  file:       {r['file']}",
        f"  stream:     {r['messages']:,} messages, {r['applied_messages']:,} applied "
        f"({a['submission']:,} submissions, {a['partial_cancel']:,} partial cancels, "
        f"{a['deletion']:,} deletions, {a['execution']:,} visible executions); skipped "
        f"{s['unknown_order']:,} on orders resting before 09:30, {s['hidden_execution']:,} "
        f"hidden executions, {s['cross_or_halt']:,} crosses / halts, {s['other']:,} other",
        "  event:      one applied LOBSTER message = one engine command = one nautilus delta = "
        "one reference command; rates are applied messages/s, best of "
        f"{r['repeat']} runs, batch {r['batch']:,}",
        f"  engine:     Engine.process_into: {_fmt(r['engine_seconds'], '.4f')} s, "
        f"{_fmt(r['engine_ns_per_event'], ',.1f')} ns/msg; emitted {r['engine_output_events']:,} "
        f"engine events = {_fmt(r['engine_output_events_per_s'])} events/s; "
        f"{r['executions_matched_exactly']:,} of {r['executions']:,} executions filled exactly "
        f"the order LOBSTER names; {r['engine_rejects']:,} rejects",
    ]
    if r["nautilus_available"]:
        lines.append(
            f"  nautilus:   nautilus_trader {r['nautilus_version']} OrderBook L3_MBO: "
            f"apply_deltas (batches of {r['batch']:,}) {_fmt(r['nautilus_batch_events_per_s'])}"
            f" deltas/s, apply_delta per delta {_fmt(r['nautilus_per_delta_events_per_s'])} "
            f"deltas/s; the faster counts ({_fmt(r['nautilus_ns_per_event'], ',.1f')} ns/msg)"
        )
    else:
        lines.append(f"  nautilus:   {r.get('nautilus_message', 'not measured')}")
    lines.append(
        f"  reference:  ReferenceEngine.process: {_fmt(r['reference_seconds'], '.3f')} s; "
        f"{r['reference_output_events']:,} events "
        f"({'same count as' if r['reference_output_events_match'] else 'DIFFERS from'} the engine)"
    )
    lines.append(f"  machine:    {sysinfo.describe(r['machine'])}")
    t = r["target"]
    lines.append(
        f"  target:     {t['text']}: "
        + ("not measured" if t["value"] is None else f"{_fmt(t['value'], ',.2f')}x {t['status']}")
    )
    return "\n".join(lines)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args`` (see ``add_arguments``); returns the exit
    status (0, 1 when the data file is missing, 2 on bad arguments)."""
    if args.batch < 1 or args.repeat < 1 or args.messages < 0:
        print("bench replay: --batch and --repeat must be >= 1, --messages >= 0", file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.is_file():
        print(f"bench replay: no LOBSTER message file at {path}", file=sys.stderr)
        return 1
    msgs = load_messages(path, args.messages)
    r: dict[str, Any] = {"file": str(path)}
    r.update(replay(msgs, args.batch, args.repeat, nautilus=not args.no_nautilus))
    r["machine"] = sysinfo.machine_info()
    r["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    r["argv"] = sys.argv
    print(summary(r))
    if r.get("nautilus_message") and not r["nautilus_available"]:
        print(f"NOTE: {r['nautilus_message']}")
    if not r["reference_output_events_match"]:
        print("WARNING: the reference book and the engine emitted different event counts: a bug")
    publish(r, "replay-lobster", write=not args.no_write, as_json=args.json,
            default=_json_default)  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="venue bench replay", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
