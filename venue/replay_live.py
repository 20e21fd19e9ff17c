"""``venue run --replay-l3 FILE``: historical order flow fed into a live venue.

The LOBSTER file becomes engine commands once, by the same driver the backtester and
``venue replay lobster`` use (``backtest.data.lobster_history``: submissions, cancels and
amends of the historical resting account; each execution an IOC of the historical aggressor
account at the executed order's price). ``HistorySource`` then releases them at their recorded
times, shifted to start now and divided by ``speed``, into the gateway's batches
(``GatewayServer.sources``). Clients trade among this flow: their orders take real queue
positions, so an execution the history aimed at the head of a queue may fill a client's order
instead. With no client trading, the book is the historical book.

The replayed instrument joins the embedded default at the next free id with its own asset
(shares, scale 0); the historical accounts (``HIST_RESTING``, ``HIST_AGGRESSOR``) and the demo
accounts are funded so clearing never refuses the flow.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clearing.config import DEFAULT_ASSETS, Asset, ClearingConfig
from clearing.exchange import Exchange
from matching.api import FIELDS
from matching.instruments import Instrument

if TYPE_CHECKING:
    from backtest.data import History

HIST_RESTING, HIST_AGGRESSOR = 800_001, 800_002  # the historical accounts in a live venue
_FUNDS = 10**15  # per historical account and asset, in units (1e9 USD)


def replay_exchange(history: History) -> tuple[Exchange, Instrument]:
    """The embedded default venue plus the history's instrument (next free id, its own base
    asset), the demo accounts funded as ``demo_exchange`` does plus shares of it, and the
    historical accounts funded. O(instruments)."""
    from gateway.demo import DEMO_KEYS
    from venue.defaults import default_instruments

    insts = default_instruments()
    src = history.instrument
    inst = dataclasses.replace(src, id=max(i.id for i in insts) + 1)
    assets: tuple[Asset, ...] = DEFAULT_ASSETS
    if inst.base_asset and inst.base_asset not in {a.code for a in assets}:
        assets = (*assets, Asset(inst.base_asset, 0))
    ex = Exchange([*insts, inst], ClearingConfig(assets=assets), keep_ledger=False)
    tid = 1
    for a in DEMO_KEYS.values():
        for code, amount in (("USD", 10_000_000 * 10**6), ("BTC", 100 * 10**8),
                             ("ETH", 1_000 * 10**8), (inst.base_asset, 100_000)):  # fmt: skip
            ex.deposit(a, code, amount, tid)
            tid += 1
    for a in (HIST_RESTING, HIST_AGGRESSOR):
        for k in range(len(assets)):
            ex.deposit(a, k, _FUNDS, tid)
            tid += 1
    ex.set_mark(0, insts[0].ref_price_ticks)
    return ex, inst


class HistorySource:
    """Releases a history's commands on the gateway's clock. ``tick(t_ns)`` returns the
    commands due by ``t_ns`` (as field dicts), at most ``max_per_tick`` at a time so one
    wakeup stays short. O(commands released)."""

    def __init__(
        self, history: History, instrument: int, speed: float = 1.0, max_per_tick: int = 4096
    ) -> None:
        if history.mode != "l3":
            raise ValueError("live replay takes an order-by-order (L3) history")
        if speed <= 0:
            raise ValueError(f"speed must be above zero, not {speed}")
        cmds = history.cmds.copy()
        accounts = cmds["account"]
        remap = {1: HIST_RESTING, 2: HIST_AGGRESSOR}
        accounts[:] = np.vectorize(lambda a: remap.get(int(a), int(a)), otypes=[np.int32])(accounts)
        cmds["instrument"] = instrument
        self.rows = cmds.tolist()
        self.ts = cmds["ts_ns"].astype(np.int64)
        self.speed = speed
        self.max_per_tick = max_per_tick
        self.next = 0
        self.t0_hist = int(self.ts[0]) if len(self.ts) else 0
        self.t0 = 0  # the live time of the first command, set at the first tick
        self._skip = {FIELDS.index("seq"), FIELDS.index("ts_ns")}

    @property
    def done(self) -> bool:
        return self.next >= len(self.rows)

    def tick(self, t_ns: int) -> list[dict[str, int]]:
        if self.done:
            return []
        if not self.t0:
            self.t0 = t_ns
        horizon = self.t0_hist + int((t_ns - self.t0) * self.speed)
        end = int(np.searchsorted(self.ts, horizon, side="right"))
        end = min(end, self.next + self.max_per_tick)
        out = []
        for row in self.rows[self.next : end]:
            out.append({FIELDS[i]: v for i, v in enumerate(row) if v and i not in self._skip})
        self.next = end
        return out


def load(path: str | Path, orderbook: str | Path | None = None) -> History:
    """A LOBSTER message file (and its order-book file, if given) as an L3 history."""
    from backtest.data import lobster_history

    return lobster_history(path, orderbook)
