"""Rulebook tables: write acceptance scenarios the way a venue rulebook states them.

A scenario is a BOOK BEFORE table, the COMMANDS, the EVENTS expected and the BOOK AFTER table::

    s = Scenario(engine_cls)                 # instrument 0 "BTC-PERP", perpetual, tick 1, lot 1
    s.book('''
        side  account  order_id  price  qty
        sell  2        11        101    5
    ''')
    ev = s.run(lambda e: e.limit(0, 1, "buy", 7, 102, order_id=20))
    s.expect(ev, '''
        kind      order_id  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        -               102    7    7       -
        fill      20        11              101    5    2       0
        level     -         -               101    0    0       -
        level     -         -               102    2    1       -
    ''')
    s.after('''
        side  price  qty  orders
        buy   102    2    1
    ''')

Tables are whitespace-separated; the first line is the header. ``-`` means "don't care" in
``expect`` / ``resting`` and "default" in ``book``. Names are accepted wherever the record holds an
enumeration: kinds (``fill``), sides (``buy``), reasons (``CANCEL_STP``), order types
(``stop_limit``), tifs (``gtd``), command kinds (``clock``), flags (``REFILLED|...``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from matching import reasons
from matching.api import describe
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_NAMES,
    DAY,
    DUMP_ASKS,
    DUMP_BIDS,
    DUMP_BUY_STOPS,
    DUMP_SELL_STOPS,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_FILL,
    EV_LEVEL,
    EV_NAMES,
    EVF_KEPT_PRIORITY,
    EVF_REFILLED,
    FLAG_POST_ONLY,
    FLAG_REDUCE_ONLY,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    STP_CANCEL_BOTH,
    STP_CANCEL_MAKER,
    STP_CANCEL_TAKER,
    STP_DECREMENT,
    STP_NONE,
)

# The two engines under test, imported lazily so that one missing engine fails only its own
# parameter (with its ImportError), never the whole suite.
ENGINES = {
    "reference": "matching.reference.ReferenceEngine",
    "numba": "matching.engine.Engine",
}


def load_engine(dotted: str) -> type:
    """The class named by ``package.module.Class``; ImportError / AttributeError propagate."""
    module_name, _, cls_name = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)


def perp(id: int = 0, symbol: str = "BTC-PERP", **kw: Any) -> Instrument:
    """A perpetual with tick 1 and lot 1 (prices and sizes read directly as ticks and lots)."""
    kw.setdefault("kind", "perpetual")
    kw.setdefault("tick_size", Decimal(1))
    kw.setdefault("lot_size", Decimal(1))
    return Instrument(id=id, symbol=symbol, **kw)


def spot(id: int = 0, symbol: str = "BTC-USD", **kw: Any) -> Instrument:
    """A spot instrument with tick 1 and lot 1 (no positions are tracked)."""
    return perp(id, symbol, kind="spot", **kw)


# --- names ---------------------------------------------------------------------------------
KINDS = {v: k for k, v in EV_NAMES.items()}
CMDS = {v: k for k, v in CMD_NAMES.items()}
SIDE_NAMES = {"buy": BUY, "sell": SELL, "none": 0, "both": 0}
ORDER_TYPES = {
    "limit": LIMIT,
    "market": MARKET,
    "stop_market": STOP_MARKET,
    "stop_limit": STOP_LIMIT,
}
TIFS = {"gtc": GTC, "ioc": IOC, "fok": FOK, "gtd": GTD, "day": DAY}
STPS = {
    "none": STP_NONE,
    "cancel_taker": STP_CANCEL_TAKER,
    "cancel_maker": STP_CANCEL_MAKER,
    "cancel_both": STP_CANCEL_BOTH,
    "decrement": STP_DECREMENT,
}
FLAG_NAMES = {
    "REFILLED": EVF_REFILLED,
    "KEPT_PRIORITY": EVF_KEPT_PRIORITY,
    "POST_ONLY": FLAG_POST_ONLY,
    "REDUCE_ONLY": FLAG_REDUCE_ONLY,
}
DUMP_SIDES = {
    "buy": DUMP_BIDS,
    "bid": DUMP_BIDS,
    "sell": DUMP_ASKS,
    "ask": DUMP_ASKS,
    "buy_stop": DUMP_BUY_STOPS,
    "sell_stop": DUMP_SELL_STOPS,
}


def _inverse(d: dict[str, int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for k, v in d.items():
        out.setdefault(v, k)
    return out


def _enum(table: dict[str, int]) -> Callable[[str], int]:
    def parse(text: str) -> int:
        key = text.lower()
        if key in table:
            return table[key]
        return int(text)

    return parse


def _reason(text: str) -> int:
    if text.lower() in ("0", "none", "ok"):
        return 0
    code = getattr(reasons, text.upper(), None)
    if isinstance(code, int) and code in reasons.REASONS:
        return code
    return int(text)


def _flags(text: str) -> int:
    if text.lower() in ("0", "none"):
        return 0
    out = 0
    for part in text.split("|"):
        out |= FLAG_NAMES[part.upper()] if part.upper() in FLAG_NAMES else int(part)
    return out


def _render_flags(v: int, kind: int) -> str:
    if v == 0:
        return "0"
    if kind == EV_FILL:
        names = {EVF_REFILLED: "REFILLED"}
    elif kind == EV_AMENDED:
        names = {EVF_KEPT_PRIORITY: "KEPT_PRIORITY"}
    elif kind == EV_ACCEPTED:
        names = {FLAG_POST_ONLY: "POST_ONLY", FLAG_REDUCE_ONLY: "REDUCE_ONLY"}
    else:
        names = {}
    parts = [n for bit, n in names.items() if v & bit]
    rest = v & ~sum(b for b in names if v & b)
    if rest:
        parts.append(str(rest))
    return "|".join(parts)


def _render_enum(table: dict[str, int]) -> Callable[[int, int], str]:
    inv = _inverse(table)
    return lambda v, kind: inv.get(v, str(v))


def _render_int(v: int, kind: int) -> str:
    return str(v)


# Event columns: table header -> (record field, parser, renderer).
EVENT_COLUMNS: dict[str, tuple[str, Callable[[str], int], Callable[[int, int], str]]] = {}


def _col(names: Iterable[str], field: str, parse=int, render=_render_int) -> None:
    for n in names:
        EVENT_COLUMNS[n] = (field, parse, render)


_col(["kind"], "kind", _enum(KINDS), _render_enum(KINDS))
_col(["order_id", "oid"], "order_id")
_col(["client_order_id", "cid"], "client_order_id")
_col(["maker_order_id", "maker"], "maker_order_id")
_col(["price", "price_ticks"], "price_ticks")
_col(["qty", "qty_lots"], "qty_lots")
_col(["leaves", "leaves_lots", "orders"], "leaves_lots")
_col(["maker_leaves", "maker_leaves_lots"], "maker_leaves_lots")
_col(["trade_id", "trade"], "trade_id")
_col(["aux"], "aux")
_col(["account", "acct"], "account")
_col(["maker_account", "maker_acct"], "maker_account")
_col(["instrument", "inst"], "instrument")
_col(["side"], "side", _enum(SIDE_NAMES), _render_enum(SIDE_NAMES))
_col(["reason"], "reason", _reason, lambda v, k: reasons.name(v) if v else "0")
_col(["order_type", "type"], "order_type", _enum(ORDER_TYPES), _render_enum(ORDER_TYPES))
_col(["tif"], "tif", _enum(TIFS), _render_enum(TIFS))
_col(["cmd_kind", "cmd"], "cmd_kind", _enum(CMDS), _render_enum(CMDS))
_col(["flags"], "flags", _flags, _render_flags)
_col(["seq"], "seq")
_col(["ts", "ts_ns"], "ts_ns")


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a whitespace table; blank lines and ``#`` comments are ignored."""
    lines = [ln.split("#", 1)[0].split() for ln in text.strip("\n").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        return [], []
    header, rows = lines[0], lines[1:]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"table row {i + 1} has {len(row)} cells, header has {len(header)}: {row}"
            )
    return header, rows


def format_table(header: list[str], rows: list[list[str]], marks: Iterable[int] = ()) -> str:
    """Aligned text table; rows whose index is in ``marks`` are flagged with ``>>``."""
    marked = set(marks)
    widths = [len(h) for h in header]
    for row in rows:
        for j, cell in enumerate(row):
            widths[j] = max(widths[j], len(cell))

    def line(cells: list[str], prefix: str) -> str:
        return prefix + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(header, "     ")]
    for i, row in enumerate(rows):
        out.append(line(row, f"{'>>' if i in marked else '  '}{i:>2} "))
    return "\n".join(out)


class Scenario:
    """One engine plus the helpers that read and check it against rulebook tables."""

    def __init__(
        self,
        engine_cls: type,
        *,
        instruments: list[Instrument] | None = None,
        max_orders: int = 0,
        **instrument_fields: Any,
    ) -> None:
        if instruments is None:
            instruments = [perp(**instrument_fields)]
        elif instrument_fields:
            raise TypeError("pass instrument fields or instruments, not both")
        self.instruments = instruments
        self.engine = engine_cls(instruments, max_orders=max_orders)

    # --- BOOK BEFORE -----------------------------------------------------------------------
    def book(self, table: str) -> None:
        """Place each row as a resting order (GTC limit unless told) and check that it was
        accepted without trading. Columns: side account order_id price qty, and optionally
        instrument cid tif expire display stp group flags type trigger ts."""
        header, rows = parse_table(table)
        for row in rows:
            cells = {h: c for h, c in zip(header, row, strict=True) if c != "-"}
            kw: dict[str, Any] = {}
            instrument = int(cells.pop("instrument", 0))
            side = cells.pop("side")
            account = int(cells.pop("account"))
            qty = int(cells.pop("qty"))
            price = int(cells.pop("price", 0))
            kw["order_id"] = int(cells.pop("order_id", 0))
            for name, key in (("cid", "client_order_id"), ("client_order_id", "client_order_id")):
                if name in cells:
                    kw[key] = int(cells.pop(name))
            if "tif" in cells:
                kw["tif"] = _enum(TIFS)(cells.pop("tif"))
            if "expire" in cells:
                kw["expire_ns"] = int(cells.pop("expire"))
            if "display" in cells:
                kw["display_lots"] = int(cells.pop("display"))
            if "stp" in cells:
                kw["stp"] = _enum(STPS)(cells.pop("stp"))
            if "group" in cells:
                kw["stp_group"] = int(cells.pop("group"))
            if "type" in cells:
                kw["order_type"] = _enum(ORDER_TYPES)(cells.pop("type"))
            if "trigger" in cells:
                kw["trigger_ticks"] = int(cells.pop("trigger"))
            if "ts" in cells:
                kw["ts_ns"] = int(cells.pop("ts"))
            for flag in cells.pop("flags", "").split("|"):
                if flag:
                    kw[flag.lower()] = True
            if cells:
                raise ValueError(f"book(): unknown columns {sorted(cells)}")
            ev = self.engine.submit(instrument, account, side, qty, price, **kw)
            kinds = [int(k) for k in ev["kind"]]
            if (
                not kinds
                or kinds[0] != EV_ACCEPTED
                or any(k not in (EV_ACCEPTED, EV_LEVEL) for k in kinds)
            ):
                raise AssertionError(
                    f"book(): order {row} did not simply rest; events:\n" + _describe_lines(ev)
                )
        self.engine.check_invariants()

    # --- COMMANDS --------------------------------------------------------------------------
    def run(self, *commands: Callable[[Any], np.ndarray]) -> np.ndarray:
        """Run each command (a callable taking the engine) in turn, checking the invariants
        after each; return all their events as one array."""
        out = []
        for fn in commands:
            ev = fn(self.engine)
            self.engine.check_invariants()
            out.append(np.asarray(ev))
        return np.concatenate(out) if out else np.zeros(0)

    # --- EVENTS ----------------------------------------------------------------------------
    def expect(self, events: np.ndarray, table: str) -> None:
        """The events must be exactly the table's rows: same count, same kinds in the same
        order, and every named cell equal (``-``: don't care)."""
        header, rows = parse_table(table)
        unknown = [h for h in header if h not in EVENT_COLUMNS]
        if unknown:
            raise ValueError(f"expect(): unknown columns {unknown}; known: {sorted(EVENT_COLUMNS)}")
        if "kind" not in header:
            raise ValueError("expect(): the table needs a 'kind' column")
        actual_rows: list[list[str]] = []
        for e in events:
            kind = int(e["kind"])
            actual_rows.append(
                [EVENT_COLUMNS[h][2](int(e[EVENT_COLUMNS[h][0]]), kind) for h in header]
            )
        problems: list[str] = []
        bad: set[int] = set()
        if len(rows) != len(events):
            problems.append(f"expected {len(rows)} events, got {len(events)}")
        for i, row in enumerate(rows):
            if i >= len(events):
                bad.add(i)
                continue
            for h, cell in zip(header, row, strict=True):
                if cell == "-":
                    continue
                field, parse, _ = EVENT_COLUMNS[h]
                want, got = parse(cell), int(events[i][field])
                if want != got:
                    bad.add(i)
                    problems.append(
                        f"event {i}: {h} expected {cell}, got {actual_rows[i][header.index(h)]}"
                    )
        for i in range(len(rows), len(events)):
            bad.add(i)
        if problems:
            raise AssertionError(
                "events differ from the rulebook table:\n  "
                + "\n  ".join(problems)
                + "\nEXPECTED\n"
                + format_table(header, rows, bad)
                + "\nACTUAL\n"
                + format_table(header, actual_rows, bad)
                + "\nACTUAL (all fields)\n"
                + _describe_lines(events)
            )

    # --- BOOK AFTER ------------------------------------------------------------------------
    def after(self, table: str, instrument: int = 0) -> None:
        """The visible depth of both sides must be exactly the table (columns side price qty
        orders; row order does not matter); then the invariants are checked."""
        header, rows = parse_table(table)
        want_bids: list[tuple[int, int, int]] = []
        want_asks: list[tuple[int, int, int]] = []
        for row in rows:
            cells = dict(zip(header, row, strict=True))
            level = (int(cells["price"]), int(cells["qty"]), int(cells["orders"]))
            side = SIDE_NAMES[cells["side"].lower()]
            (want_bids if side == BUY else want_asks).append(level)
        want_bids.sort(key=lambda lv: -lv[0])
        want_asks.sort(key=lambda lv: lv[0])
        view = self.engine.book(instrument, depth=10_000)
        got_bids = [(int(lv.price_ticks), int(lv.qty_lots), int(lv.orders)) for lv in view.bids]
        got_asks = [(int(lv.price_ticks), int(lv.qty_lots), int(lv.orders)) for lv in view.asks]
        if (got_bids, got_asks) != (want_bids, want_asks):
            raise AssertionError(
                f"book of instrument {instrument} differs\nEXPECTED\n"
                + _ladder(want_bids, want_asks)
                + "\nACTUAL\n"
                + _ladder(got_bids, got_asks)
            )
        self.engine.check_invariants()

    def resting(self, table: str, instrument: int | None = None) -> None:
        """The live orders (``dump()``, priority order: bids, asks, buy stops, sell stops, FIFO
        within a level) must be exactly the table's rows. Columns: order_id, side (buy / sell /
        buy_stop / sell_stop), price, trigger, qty, leaves, visible, display, account, cid."""
        cols = {
            "order_id": ("order_id", int),
            "side": ("side", _enum(DUMP_SIDES)),
            "price": ("price_ticks", int),
            "trigger": ("trigger_ticks", int),
            "qty": ("qty_lots", int),
            "leaves": ("leaves_lots", int),
            "visible": ("visible_lots", int),
            "display": ("display_lots", int),
            "account": ("account", int),
            "cid": ("client_order_id", int),
            "instrument": ("instrument", int),
            "tif": ("tif", _enum(TIFS)),
            "type": ("order_type", _enum(ORDER_TYPES)),
        }
        header, rows = parse_table(table)
        dump = self.engine.dump()
        if instrument is not None:
            dump = dump[dump["instrument"] == instrument]
        side_names = _inverse(DUMP_SIDES)
        actual = [
            [
                side_names.get(int(d["side"]), str(int(d["side"])))
                if h == "side"
                else str(int(d[cols[h][0]]))
                for h in header
            ]
            for d in dump
        ]
        bad = set(range(min(len(rows), len(dump)), max(len(rows), len(dump))))
        for i, row in enumerate(rows[: len(dump)]):
            for h, cell in zip(header, row, strict=True):
                if cell != "-" and cols[h][1](cell) != int(dump[i][cols[h][0]]):
                    bad.add(i)
        if bad:
            raise AssertionError(
                "live orders differ\nEXPECTED\n"
                + format_table(header, rows, bad)
                + "\nACTUAL\n"
                + format_table(header, actual, bad)
            )


def _ladder(bids: list[tuple[int, int, int]], asks: list[tuple[int, int, int]]) -> str:
    rows = [["sell", str(p), str(q), str(n)] for p, q, n in reversed(asks)]
    rows += [["buy", str(p), str(q), str(n)] for p, q, n in bids]
    return format_table(["side", "price", "qty", "orders"], rows)


def _describe_lines(events: np.ndarray) -> str:
    return "\n".join(f"  {i:>2} {d}" for i, d in enumerate(describe(events))) or "  (no events)"
