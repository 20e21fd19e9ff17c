"""Background traders. Each decides, when its time comes, which commands to send; the driver
(``venue.agents.driver``) sends them through the engine like any client's and tells each agent
its fills. An agent sees only what a real participant would (the top of book, the last trade,
its own position), except the informed trader, who also sees the hidden fair value.

Every agent draws from its own ``numpy.random.Generator`` and acts at times it schedules
itself, so a run is a function of the seed and the simulated clock, not of the wall clock.
Commands are plain dicts of COMMAND_DTYPE fields; prices in ticks, sizes in lots.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from matching.records import (
    BUY,
    CMD_MASS_CANCEL,
    CMD_NEW,
    GTD,
    IOC,
    LIMIT,
    SELL,
)

Command = dict[str, int]
SECOND = 1_000_000_000


@dataclass
class Market:
    """What an agent sees of one instrument when it acts."""

    t_ns: int
    bid: int  # best bid in ticks, 0 if none
    ask: int  # best ask in ticks, 0 if none
    last: int  # last trade price in ticks, 0 before the first trade
    fair: float  # the hidden fair value (only the informed trader may look)
    ref: int  # the instrument's reference price (before any trade)

    @property
    def mid(self) -> float:
        if self.bid and self.ask:
            return (self.bid + self.ask) / 2
        return float(self.last or self.bid or self.ask or self.ref)


class Agent:
    """Base class: an account trading one instrument. ``act`` returns commands; ``position`` is
    kept by the driver from the engine's fills."""

    kind = "agent"

    def __init__(
        self, name: str, account: int, instrument: int, size_lots: int, rng: np.random.Generator
    ) -> None:
        self.name = name
        self.account = account
        self.instrument = instrument
        self.size = max(1, size_lots)
        self.rng = rng
        self.position = 0
        self.next_t = 0
        self._cl = 0

    def schedule(self, t_ns: int) -> None:
        """Set ``next_t`` after acting at ``t_ns``."""
        self.next_t = t_ns + SECOND

    def act(self, m: Market) -> list[Command]:
        raise NotImplementedError

    # command builders --------------------------------------------------------------------------
    def _id(self) -> int:
        self._cl += 1
        return self._cl

    def limit(self, side: int, px: int, qty: int, tif: int = GTD, life_ns: int = 0,
              t_ns: int = 0) -> Command:  # fmt: skip
        cmd = {
            "kind": CMD_NEW, "account": self.account, "instrument": self.instrument,
            "side": side, "order_type": LIMIT, "tif": tif, "price_ticks": max(1, px),
            "qty_lots": qty, "client_order_id": self._id(),
        }  # fmt: skip
        if tif == GTD:
            cmd["expire_ns"] = t_ns + life_ns
        return cmd

    def take(self, side: int, m: Market, qty: int, slip_ticks: int = 0) -> Command | None:
        """An aggressive IOC limit at the opposite touch (plus ``slip_ticks``); None if that
        side is empty."""
        if side == BUY and m.ask:
            return self.limit(BUY, m.ask + slip_ticks, qty, IOC)
        if side == SELL and m.bid:
            return self.limit(SELL, m.bid - slip_ticks, qty, IOC)
        return None

    def sized(self, scale: float = 1.0) -> int:
        return max(1, round(self.size * scale * float(self.rng.uniform(0.5, 1.5))))


class MarketMaker(Agent):
    """Quotes ``levels`` bids and asks around its estimate of value, refreshed every
    ``refresh_ms`` (jittered): the estimate follows the trades (an EMA), and its quotes lean
    against its inventory (``skew_ticks`` per ``size`` of position); a side that would take the
    inventory beyond ``max_lots`` is not quoted."""

    kind = "market_maker"

    def __init__(self, *a: Any, half_spread: int, step: int, levels: int = 3,
                 refresh_ms: int = 250, skew_ticks: float = 1.0, max_lots: int = 0,
                 **kw: Any) -> None:  # fmt: skip
        super().__init__(*a, **kw)
        self.half_spread = max(1, half_spread)
        self.step = max(1, step)
        self.levels = max(1, levels)
        self.refresh_ns = refresh_ms * 1_000_000
        self.skew = skew_ticks
        self.max_lots = max_lots or 50 * self.size
        self.center = 0.0

    def schedule(self, t_ns: int) -> None:
        self.next_t = t_ns + int(self.refresh_ns * float(self.rng.uniform(0.8, 1.2)))

    def act(self, m: Market) -> list[Command]:
        seen = float(m.last or m.mid)
        self.center = seen if not self.center else 0.7 * self.center + 0.3 * seen
        lean = -self.skew * self.position / self.size
        mid = self.center + lean
        out: list[Command] = [
            {"kind": CMD_MASS_CANCEL, "account": self.account, "instrument": self.instrument}
        ]
        for k in range(self.levels):
            off = self.half_spread + k * self.step
            qty = self.sized(1.0 + k)
            if self.position + qty <= self.max_lots:
                out.append(self.limit(BUY, math.floor(mid - off), qty, GTD,
                                      4 * self.refresh_ns, m.t_ns))  # fmt: skip
            if self.position - qty >= -self.max_lots:
                out.append(self.limit(SELL, math.ceil(mid + off), qty, GTD,
                                      4 * self.refresh_ns, m.t_ns))  # fmt: skip
        return out


class NoiseTrader(Agent):
    """Random orders at Poisson times (``rate_per_s``): with probability ``p_take`` an
    aggressive IOC at the touch, else a limit around the mid (sometimes through it) that lives
    ``life_s`` seconds."""

    kind = "noise"

    def __init__(self, *a: Any, rate_per_s: float = 1.0, p_take: float = 0.3,
                 width_ticks: int = 10, life_s: float = 20.0, **kw: Any) -> None:  # fmt: skip
        super().__init__(*a, **kw)
        self.rate = max(1e-6, rate_per_s)
        self.p_take = p_take
        self.width = max(1, width_ticks)
        self.life_ns = int(life_s * SECOND)

    def schedule(self, t_ns: int) -> None:
        self.next_t = t_ns + max(1, int(float(self.rng.exponential(1.0 / self.rate)) * SECOND))

    def act(self, m: Market) -> list[Command]:
        rng = self.rng
        side = BUY if rng.random() < 0.5 else SELL
        qty = self.sized()
        if rng.random() < self.p_take:
            cmd = self.take(side, m, qty, slip_ticks=int(rng.integers(0, 3)))
            return [cmd] if cmd else []
        sign = 1 if side == BUY else -1
        off = int(rng.integers(-2, self.width + 1))  # a few cross the mid
        px = round(m.mid) - sign * off
        return [self.limit(side, px, qty, GTD, self.life_ns, m.t_ns)]


class Momentum(Agent):
    """Every ``period_s``: if the last price moved more than ``threshold_bps`` over
    ``lookback`` periods, trade in that direction (within ``max_lots`` of position)."""

    kind = "momentum"

    def __init__(self, *a: Any, period_s: float = 1.0, lookback: int = 10,
                 threshold_bps: float = 10.0, max_lots: int = 0, **kw: Any) -> None:  # fmt: skip
        super().__init__(*a, **kw)
        self.period_ns = int(period_s * SECOND)
        self.seen: deque[float] = deque(maxlen=max(2, lookback + 1))
        self.threshold = threshold_bps / 1e4
        self.max_lots = max_lots or 20 * self.size

    def schedule(self, t_ns: int) -> None:
        self.next_t = t_ns + int(self.period_ns * float(self.rng.uniform(0.9, 1.1)))

    def act(self, m: Market) -> list[Command]:
        self.seen.append(float(m.last or m.mid))
        if len(self.seen) < (self.seen.maxlen or 2):
            return []
        move = self.seen[-1] / self.seen[0] - 1.0
        return self._lean(
            m, BUY if move > self.threshold else SELL if move < -self.threshold else 0
        )

    def _lean(self, m: Market, side: int) -> list[Command]:
        if not side:
            return []
        qty = self.sized()
        if (side == BUY and self.position + qty > self.max_lots) or (
            side == SELL and self.position - qty < -self.max_lots
        ):
            return []
        cmd = self.take(side, m, qty)
        return [cmd] if cmd else []


class MeanReversion(Momentum):
    """Every ``period_s``: if the last price is more than ``threshold_bps`` away from its slow
    average (EMA over ``lookback`` periods), trade back toward it."""

    kind = "mean_reversion"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.ema = 0.0

    def act(self, m: Market) -> list[Command]:
        p = float(m.last or m.mid)
        alpha = 2.0 / ((self.seen.maxlen or 2) + 1)
        self.ema = p if not self.ema else (1 - alpha) * self.ema + alpha * p
        gap = p / self.ema - 1.0
        return self._lean(m, SELL if gap > self.threshold else BUY if gap < -self.threshold else 0)


class Informed(Momentum):
    """Knows the hidden fair value. Every ``period_s``: buys when the ask is more than
    ``threshold_bps`` below it, sells when the bid is that far above it."""

    kind = "informed"

    def act(self, m: Market) -> list[Command]:
        edge = m.fair * self.threshold
        if m.ask and m.fair - m.ask > edge:
            return self._lean(m, BUY)
        if m.bid and m.bid - m.fair > edge:
            return self._lean(m, SELL)
        return []


KINDS: dict[str, type[Agent]] = {
    c.kind: c for c in (MarketMaker, NoiseTrader, Momentum, MeanReversion, Informed)
}
