"""Historical data as the backtest replays it: a ``History`` of packets and engine commands.

A **packet** is one historical market event as the feed would have carried it (a LOBSTER
message, a Binance depth diff or trade), at its exchange time. Packet ``p`` owns the engine
commands ``cmds[cmd_start[p]:cmd_start[p + 1]]`` (possibly none), prepared once per file and
independent of any strategy:

- **L3 (order by order)**, ``lobster_history``: LOBSTER messages mapped to commands by the
  project's own replay driver (``marketdata.history.replay``; docs/replay.md): submissions,
  cancels and amends of account 1, executions as IOCs of account 2 that fill the named order.
- **L2 (depth and trades)**, ``binance_history``: a Binance capture (``../shared/data/binance``).
  Each price level is one synthetic order of account 1; a depth diff cancels the level's old
  order and places one with the new absolute size (cancels first, so the book never crosses
  on the way); trades are packets without commands (they drive the queue models).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from marketdata.history.lobster import read_messages, read_orderbook
from marketdata.history.replay import (
    AGGRESSOR_ACCOUNT,
    AGGRESSOR_ID_BASE,
    RESTING_ACCOUNT,
    _Cmd,
    _Replayer,
    _to_array,
)
from matching.engine import Engine
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_CANCEL,
    CMD_NEW,
    COMMAND_DTYPE,
    GTC,
    IOC,
    LIMIT,
    SELL,
    STP_CANCEL_MAKER,
)

HIST_ACCOUNTS = (RESTING_ACCOUNT, AGGRESSOR_ACCOUNT)
L2_ID_BASE = 3 * 10**12  # synthetic level orders of an L2 history: L2_ID_BASE + k
# L2 synthetic orders are spread over accounts 11..26 (by id), one STP group: a deep book's
# holds (a spot book at a 1e-10 quote unit is some 1e18 units of bids) exceed what one int64
# account balance can hold, and the group keeps crossed synthetic levels from trading
L2_ACCOUNT_BASE = 11
L2_ACCOUNTS = 16
L2_STP_GROUP = 7


def l2_account(order_id: int) -> int:
    """The account of synthetic L2 order ``order_id``."""
    return L2_ACCOUNT_BASE + order_id % L2_ACCOUNTS


def hist_accounts(mode: str) -> tuple[int, ...]:
    """Accounts the historical commands of a ``mode`` history use (to be funded)."""
    if mode == "l3":
        return HIST_ACCOUNTS
    return (AGGRESSOR_ACCOUNT, *range(L2_ACCOUNT_BASE, L2_ACCOUNT_BASE + L2_ACCOUNTS))


@dataclass
class History:
    """Packets and their engine commands; see the module docstring. Arrays are int64 unless
    said otherwise. ``trades_*`` (L2 only) are the historical trades, one per packet listed
    in ``trade_pkt``; ``lvl_*`` (L2 only) are the depth changes (packet, side, price, size
    before, size after) that the queue models read."""

    mode: str  # "l3" or "l2"
    instrument: Instrument
    cmds: np.ndarray  # COMMAND_DTYPE, seq 0 (the engine stamps), ts_ns set
    cmd_start: np.ndarray  # len packets + 1
    pkt_ts: np.ndarray  # exchange time of each packet
    exec_maker: np.ndarray  # per command: historical order an execution IOC must fill, or 0
    price_lo: int
    price_hi: int
    source: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    trade_pkt: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    trade_price: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    trade_qty: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    trade_side: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lvl_pkt: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lvl_side: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lvl_price: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lvl_prev: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lvl_new: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def packets(self) -> int:
        return len(self.pkt_ts)

    def head(self, packets: int) -> History:
        """The first ``packets`` packets (for quick runs and tests). O(size)."""
        p = min(packets, self.packets)
        nc = int(self.cmd_start[p])
        tsel = self.trade_pkt < p
        lsel = self.lvl_pkt < p
        return History(
            self.mode, self.instrument, self.cmds[:nc].copy(), self.cmd_start[: p + 1].copy(),
            self.pkt_ts[:p].copy(), self.exec_maker[:nc].copy(), self.price_lo, self.price_hi,
            self.source, dict(self.stats), self.trade_pkt[tsel], self.trade_price[tsel],
            self.trade_qty[tsel], self.trade_side[tsel], self.lvl_pkt[lsel], self.lvl_side[lsel],
            self.lvl_price[lsel], self.lvl_prev[lsel], self.lvl_new[lsel],
        )  # fmt: skip


def _window(prices: np.ndarray) -> tuple[int, int]:
    """Prices within 10% of the median (at least 1,000 ticks either side): the backtest's
    view of the book covers that window; levels beyond it (stub quotes) never reach the top."""
    mid = int(np.median(prices)) if len(prices) else 0
    margin = max(1_000, mid // 10)
    return max(mid - margin, 1), mid + margin


def aapl_spot() -> Instrument:
    """LOBSTER's AAPL as a spot instrument with assets for clearing: ticks are LOBSTER's
    integer prices (0.0001 USD), lots are shares."""
    return Instrument(
        id=0, symbol="AAPL", kind="spot", tick_size=Decimal("0.0001"), lot_size=Decimal(1),
        base_asset="AAPL", quote_asset="USD",
    )  # fmt: skip


def lobster_history(
    message_file: str | os.PathLike[str],
    orderbook_file: str | os.PathLike[str] | None = None,
    levels: int = 5,
) -> History:
    """A LOBSTER message file (and optionally its aligned order-book file, which seeds the book
    and adds levels entering the file's window, as ``venue replay lobster`` does) as an L3
    history. Costs one pass of the replay driver in Python (about 1 s per 100,000 messages)."""
    messages = read_messages(message_file)
    book = read_orderbook(orderbook_file) if orderbook_file else None
    if len(messages) == 0:
        raise ValueError(f"{message_file}: no messages")
    return messages_history(messages, book, aapl_spot(), str(message_file))


def messages_history(
    messages: np.ndarray, book: np.ndarray | None, instrument: Instrument, source: str
) -> History:
    """LOBSTER-style messages (LOBSTER_MESSAGE_DTYPE; prices in ``instrument``'s ticks, sizes
    in its lots) as an L3 history, through the same replay driver as ``lobster_history``.
    ``instrument`` must have id 0 (the backtest's exchange has one instrument)."""
    engine = Engine([aapl_spot()])  # the driver's mirror: only its book matters
    seeded = book is not None
    r = _Replayer(messages, engine, seeded)
    built: list[_Cmd] = []

    def run(cmds: list[_Cmd]) -> None:
        r.apply(cmds)
        built.extend(cmds)
        if seeded and cmds:  # the seeded driver looks at the engine's book: keep it current
            r.note_fills(engine.process(_to_array(cmds, messages["time_ns"], 0)))

    if book is not None:
        if len(book) != len(messages):
            raise ValueError(
                f"the order-book file has {len(book)} rows, the message file {len(messages)}"
            )
        run(r.seed(book[0]))
        if not any(c[7] == 0 for c in built):
            run(r.commands_for(0))
        for i in range(1, len(messages)):
            run(r.commands_for(i))
            run(r.window_entries(i, book[i - 1], book[i]))
    else:
        for i in range(len(messages)):
            run(r.commands_for(i))
    ts = messages["time_ns"]
    cmds = _to_array(built, ts, 0)
    cmds["seq"] = 0
    msg = np.array([c[7] for c in built], dtype=np.int64)
    cmds["ts_ns"] = ts[np.maximum(msg, 0)]
    # packets: runs of commands of one message (the seed belongs to the first one)
    key = np.maximum(msg, 0)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    cmd_start = np.r_[starts, len(cmds)].astype(np.int64)
    pkt_ts = cmds["ts_ns"][starts].astype(np.int64)
    exec_maker = np.zeros(len(cmds), dtype=np.int64)
    is_exec = (cmds["account"] == AGGRESSOR_ACCOUNT) & (cmds["tif"] == IOC)
    exec_maker[is_exec] = messages["order_id"][cmds["order_id"][is_exec] - AGGRESSOR_ID_BASE]
    lo, hi = _window(cmds["price_ticks"][cmds["kind"] == CMD_NEW])
    res = r.res
    stats = {
        "messages": len(messages),
        "hidden_executions": res.hidden_executions,
        "cross_trades": res.cross_trades,
        "preexisting_executions": res.preexisting_executions,
        "out_of_priority_executions": res.out_of_priority_executions,
        "window_reentries": res.window_reentries,
    }
    return History("l3", instrument, cmds, cmd_start, pkt_ts, exec_maker, lo, hi, source, stats)


# --- Binance captures ----------------------------------------------------------------------
BINANCE_MARKETS = {
    # file tag -> (instrument, price decimals, size decimals). Spot sizes come with 8 decimals
    # (level totals carry dust below Binance's 0.00001 lot step): they are rounded down to the
    # lot (counted as ``sizes_rounded``), which keeps money in int64 at a 1e-7 USDT unit
    "usdm": (
        Instrument(
            id=0, symbol="BTCUSDT-PERP", kind="perpetual", tick_size=Decimal("0.1"),
            lot_size=Decimal("0.001"), base_asset="BTC", quote_asset="USDT",
            settlement_asset="USDT",
        ),
        1, 3,
    ),
    "spot": (
        Instrument(
            id=0, symbol="BTCUSDT", kind="spot", tick_size=Decimal("0.01"),
            lot_size=Decimal("0.00001"), base_asset="BTC", quote_asset="USDT",
        ),
        2, 5,
    ),
}  # fmt: skip


def _units(text: str, decimals: int) -> int:
    """'61800.30' -> 6180030 at 2 decimals; ValueError when finer than ``decimals``."""
    whole, _, frac = text.partition(".")
    extra = frac[decimals:]
    if extra.strip("0"):
        raise ValueError(f"{text!r} is finer than {decimals} decimals")
    return int(whole or "0") * 10**decimals + int(frac[:decimals].ljust(decimals, "0") or "0")


class _L2Builder:
    def __init__(self, pdec: int, qdec: int) -> None:
        self.pdec, self.qdec = pdec, qdec
        self.rounded = 0  # sizes finer than the lot, rounded down
        self.levels: dict[tuple[int, int], tuple[int, int]] = {}  # (side, price) -> (id, qty)
        self.next_id = L2_ID_BASE
        self.cmds: list[tuple[int, int, int, int, int, int]] = []  # kind, side, px, qty, id, ts
        self.cmd_start: list[int] = []
        self.pkt_ts: list[int] = []
        self.trades: list[tuple[int, int, int, int]] = []  # pkt, price, qty, aggressor side
        self.lvls: list[tuple[int, int, int, int, int]] = []  # pkt, side, price, prev, new

    def depth(self, ts: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        pkt = len(self.pkt_ts)
        self.pkt_ts.append(ts)
        self.cmd_start.append(len(self.cmds))
        news = []
        for side, rows in ((BUY, bids), (SELL, asks)):
            for p_text, q_text in rows:
                px, qty = _units(p_text, self.pdec), self._size(q_text)
                old = self.levels.get((side, px))
                prev = old[1] if old else 0
                if prev == qty:
                    continue
                self.lvls.append((pkt, side, px, prev, qty))
                if old:
                    self.cmds.append((CMD_CANCEL, side, px, 0, old[0], ts))
                    del self.levels[(side, px)]
                if qty:
                    news.append((side, px, qty))
        for side, px, qty in news:  # after every cancel: never crosses on the way
            oid = self.next_id
            self.next_id += 1
            self.levels[(side, px)] = (oid, qty)
            self.cmds.append((CMD_NEW, side, px, qty, oid, ts))

    def trade(self, ts: int, price: str, qty: str, buyer_is_maker: bool) -> None:
        pkt = len(self.pkt_ts)
        self.pkt_ts.append(ts)
        self.cmd_start.append(len(self.cmds))
        agg = SELL if buyer_is_maker else BUY
        lots = self._size(qty)
        if lots > 0:  # a trade smaller than a lot leaves its packet without a trade
            self.trades.append((pkt, _units(price, self.pdec), lots, agg))

    def _size(self, text: str) -> int:
        """Size text -> lots, rounded down to the lot (and counted) when finer."""
        whole, _, frac = text.partition(".")
        if frac[self.qdec :].strip("0"):
            self.rounded += 1
            text = f"{whole}.{frac[: self.qdec]}"
        return _units(text, self.qdec)


def binance_history(path: str | os.PathLike[str], market: str | None = None) -> History:
    """A Binance capture (gzip lines ``<receive ns> <JSON>``: a REST depth snapshot, depth
    diffs, trades; bookTicker lines are skipped) as an L2 history. Packets are timestamped at
    the capture's receive time. Diffs are applied from the snapshot on (``u`` beyond its
    ``lastUpdateId``); trades before the snapshot are dropped. ``market``: "usdm" or "spot"
    (default: from the file name). O(lines), about 1 s for the USD-M file."""
    p = Path(path)
    if market is None:
        market = "usdm" if "usdm" in p.name else "spot" if "spot" in p.name else ""
    if market not in BINANCE_MARKETS:
        raise ValueError(f"{p.name}: market must be one of {sorted(BINANCE_MARKETS)}")
    inst, pdec, qdec = BINANCE_MARKETS[market]
    b = _L2Builder(pdec, qdec)
    dec = msgspec.json.Decoder()
    pending: list[tuple[int, dict[str, Any]]] = []  # diffs seen before the snapshot
    last_id: int | None = None
    stats = {"lines": 0, "depth_diffs": 0, "trades": 0, "skipped": 0, "gaps": 0}
    prev_u: int | None = None
    with gzip.open(p, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            stats["lines"] += 1
            ts_text, _, body = raw.partition(b" ")
            try:
                ts = int(ts_text)
                obj = dec.decode(body)
            except (ValueError, msgspec.DecodeError):
                raise ValueError(f"{p.name} line {lineno}: not '<ns> <JSON>'") from None
            if "lastUpdateId" in obj:
                last_id = int(obj["lastUpdateId"])
                b.depth(ts, obj["bids"], obj["asks"])
                for _pts, d in pending:
                    if int(d["u"]) > last_id:
                        b.depth(ts, d["b"], d["a"])
                        stats["depth_diffs"] += 1
                        prev_u = int(d["u"])
                pending = []
                continue
            data = obj.get("data", obj)
            ev = data.get("e")
            if ev == "depthUpdate":
                if last_id is None:
                    pending.append((ts, data))
                elif int(data["u"]) > last_id:
                    pu = data.get("pu")
                    if prev_u is not None and pu is not None and int(pu) != prev_u:
                        stats["gaps"] += 1
                    prev_u = int(data["u"])
                    b.depth(ts, data["b"], data["a"])
                    stats["depth_diffs"] += 1
            elif ev == "trade" and last_id is not None:
                b.trade(ts, data["p"], data["q"], bool(data["m"]))
                stats["trades"] += 1
            else:
                stats["skipped"] += 1
    if last_id is None:
        raise ValueError(f"{p.name}: no depth snapshot (a line with lastUpdateId)")
    stats["sizes_rounded"] = b.rounded
    return _finish_l2(b, inst, str(p), stats)


def l2_history(
    instrument: Instrument,
    events: list[tuple[Any, ...]],
    price_decimals: int,
    size_decimals: int,
    source: str = "l2",
) -> History:
    """An L2 history from Python records, in time order: ``("depth", ts_ns, bids, asks)``
    with ``[price, size]`` decimal strings (absolute sizes; the first one is the snapshot)
    and ``("trade", ts_ns, price, size, buyer_is_maker)``. For tests and other feeds."""
    b = _L2Builder(price_decimals, size_decimals)
    for ev in events:
        if ev[0] == "depth":
            b.depth(int(ev[1]), ev[2], ev[3])
        elif ev[0] == "trade":
            b.trade(int(ev[1]), ev[2], ev[3], bool(ev[4]))
        else:
            raise ValueError(f"unknown L2 record {ev[0]!r} (expected depth or trade)")
    return _finish_l2(b, instrument, source, {"records": len(events)})


def _finish_l2(b: _L2Builder, inst: Instrument, source: str, stats: dict[str, Any]) -> History:
    n = len(b.cmds)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    if n:
        a = np.array(b.cmds, dtype=np.int64)
        cmds["kind"], cmds["side"], cmds["price_ticks"] = a[:, 0], a[:, 1], a[:, 2]
        cmds["qty_lots"], cmds["order_id"], cmds["ts_ns"] = a[:, 3], a[:, 4], a[:, 5]
    cmds["account"] = L2_ACCOUNT_BASE + cmds["order_id"] % L2_ACCOUNTS
    new = cmds["kind"] == CMD_NEW
    cmds["stp_group"] = np.where(new, L2_STP_GROUP, 0)
    cmds["order_type"] = np.where(new, LIMIT, 0)
    cmds["tif"] = np.where(new, GTC, 0)
    cmds["stp"] = np.where(new, STP_CANCEL_MAKER, 0)
    cmds["side"] = np.where(new, cmds["side"], 0)
    cmds["price_ticks"] = np.where(new, cmds["price_ticks"], 0)
    cmds["instrument"] = inst.id
    tr = np.array(b.trades, dtype=np.int64).reshape(-1, 4)
    lv = np.array(b.lvls, dtype=np.int64).reshape(-1, 5)
    lo, hi = _window(np.r_[cmds["price_ticks"][new], tr[:, 1]])
    # the reference (and first mark) price: the first trade, else the window's middle
    ref = int(tr[0, 1]) if len(tr) else (lo + hi) // 2
    inst = dataclasses.replace(inst, ref_price_ticks=ref)
    return History(
        "l2", inst, cmds, np.array([*b.cmd_start, n], dtype=np.int64),
        np.array(b.pkt_ts, dtype=np.int64), np.zeros(n, dtype=np.int64), lo, hi, source, stats,
        tr[:, 0].copy(), tr[:, 1].copy(), tr[:, 2].copy(), tr[:, 3].copy(),
        lv[:, 0].copy(), lv[:, 1].copy(), lv[:, 2].copy(), lv[:, 3].copy(), lv[:, 4].copy(),
    )  # fmt: skip
