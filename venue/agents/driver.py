"""Drives the background agents: decides who acts when, turns their intents into commands, and
feeds them the engine's fills.

Two clocks, one driver:
- **live** (``attach(server)``): the gateway calls ``tick`` at every wakeup with its stamp time
  (``GatewayServer.sources``) and hands every batch's events back (``listeners``), so agents'
  orders are sequenced, journaled and published exactly like clients' orders.
- **simulated** (``simulate(ex, driver, seconds)``): a loop over a virtual clock calls the same
  ``tick`` and ``on_events`` directly on an ``Exchange``, as fast as it can: minutes of market in
  seconds, for tests and for warming a venue up. Same seed, same steps: same events, byte for
  byte.

Perpetuals get their mark price from the fair value path (the index) once a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.api import FIELD_INDEX
from matching.records import (
    BUY,
    CMD_SET_MARK,
    COMMAND_DTYPE,
    EV_FILL,
    EVENT_DTYPE,
)
from venue.agents.fair import FairValue, FairValueModel
from venue.agents.traders import (
    SECOND,
    Agent,
    Command,
    Informed,
    Market,
    MarketMaker,
    MeanReversion,
    Momentum,
    NoiseTrader,
)

if TYPE_CHECKING:
    from clearing.exchange import Exchange
    from gateway.server import GatewayServer
    from matching.instruments import Instrument

FIRST_AGENT_ACCOUNT = 900_001  # agents' accounts: far above the operator's
_EN = EVENT_DTYPE.names or ()
_E_KIND, _E_INST, _E_ACCT, _E_MACCT, _E_SIDE, _E_QTY, _E_PRICE = (
    _EN.index(n)
    for n in ("kind", "instrument", "account", "maker_account", "side", "qty_lots", "price_ticks")
)


@dataclass(frozen=True)
class InstrumentAgents:
    """The agents of one instrument and its fair value path."""

    symbol: str
    market_makers: int = 2
    noise_traders: int = 4
    momentum: int = 1
    mean_reversion: int = 1
    informed: int = 1
    vol: float = 1.0  # annualised
    jumps_per_hour: float = 6.0
    jump_bps: float = 30.0
    spread_bps: float = 4.0  # market makers' half spread around their value
    order_notional: Decimal = Decimal(2000)  # typical order, in the settlement asset
    noise_rate_per_s: float = 1.0  # per noise trader


@dataclass(frozen=True)
class AgentsConfig:
    """``[agents]`` of the venue configuration (docs/config.md)."""

    seed: int = 1
    instruments: tuple[InstrumentAgents, ...] = ()
    deposit: Decimal = Decimal(10) ** 9  # per agent account and asset, in whole units
    rate_scale: float = 1.0  # multiplies every agent's activity (chaos burst mode raises it)


def lively_config(instruments: Iterable[Instrument], seed: int = 1) -> AgentsConfig:
    """``venue run --market lively``: the default agents on every spot and perpetual."""
    chosen = [i for i in instruments if i.kind in ("spot", "perpetual")]
    return AgentsConfig(seed=seed, instruments=tuple(InstrumentAgents(i.symbol) for i in chosen))


@dataclass
class _Book:
    inst: Instrument
    spec: InstrumentAgents
    fair: FairValue
    agents: list[Agent] = field(default_factory=list)
    last: int = 0


class AgentDriver:
    """The agents of an ``Exchange`` under ``config``. ``fund()`` once before trading; then
    ``tick(t_ns)`` -> commands and ``on_events(events)``. O(agents due) per tick."""

    def __init__(self, ex: Exchange, config: AgentsConfig) -> None:
        self.ex = ex
        self.config = config
        self.rate_scale = config.rate_scale
        by_symbol = {i.symbol: i for i in ex.instruments.values()}
        root = np.random.SeedSequence(config.seed)
        self.books: dict[int, _Book] = {}
        self.by_account: dict[int, Agent] = {}
        account = FIRST_AGENT_ACCOUNT
        for spec in config.instruments:
            inst = by_symbol.get(spec.symbol)
            if inst is None:
                raise ValueError(f"agents: unknown instrument {spec.symbol!r}")
            if inst.kind not in ("spot", "perpetual", "future"):
                raise ValueError(f"agents: {spec.symbol} is an {inst.kind}; agents trade "
                                 "spot, futures and perpetuals")  # fmt: skip
            seeds = root.spawn(1)[0]
            ref = inst.ref_price_ticks
            if ref <= 0:
                raise ValueError(f"agents: {spec.symbol} needs a reference price")
            model = FairValueModel(float(ref), spec.vol, spec.jumps_per_hour, spec.jump_bps)
            book = _Book(inst, spec, FairValue(model, np.random.default_rng(seeds.spawn(1)[0])))
            size = self._size(inst, spec.order_notional, ref)
            half = max(1, round(ref * spec.spread_bps / 1e4))
            plan: list[tuple[type[Agent], int, dict[str, Any]]] = [
                (MarketMaker, spec.market_makers, {"half_spread": half, "step": half}),
                (NoiseTrader, spec.noise_traders,
                 {"rate_per_s": spec.noise_rate_per_s, "width_ticks": 4 * half}),
                (Momentum, spec.momentum, {}),
                (MeanReversion, spec.mean_reversion, {"lookback": 30, "threshold_bps": 20.0}),
                (Informed, spec.informed, {"period_s": 0.5, "threshold_bps": 2 * spec.spread_bps}),
            ]  # fmt: skip
            for cls, count, kw in plan:
                for n in range(count):
                    rng = np.random.default_rng(seeds.spawn(1)[0])
                    agent = cls(f"{spec.symbol}/{cls.kind}-{n + 1}", account, inst.id, size, rng,
                                **kw)  # fmt: skip
                    agent.next_t = 0  # first act at the first tick, then on its own schedule
                    book.agents.append(agent)
                    self.by_account[account] = agent
                    account += 1
            self.books[inst.id] = book
        self.t_ns = 0
        self.next_mark = 0
        self.commands = 0

    @staticmethod
    def _size(inst: Instrument, notional: Decimal, ref_ticks: int) -> int:
        per_lot = inst.tick_size * ref_ticks * inst.lot_size * inst.multiplier
        return max(1, int(notional / per_lot)) if per_lot > 0 else 1

    @property
    def accounts(self) -> list[int]:
        return sorted(self.by_account)

    def fund(self) -> None:
        """Deposit ``config.deposit`` of every asset into every agent account (idempotent
        transfer ids: funding twice changes nothing)."""
        for a in self.accounts:
            for k, asset in enumerate(self.ex.config.assets):
                amount = int(self.config.deposit * (Decimal(10) ** asset.scale))
                self.ex.deposit(a, k, amount, transfer_id=(a << 8) | k)

    # --- the clock --------------------------------------------------------------------------
    def tick(self, t_ns: int) -> list[Command]:
        """Advance to ``t_ns`` and return the commands of every agent due by then."""
        if self.t_ns == 0:
            self.t_ns = t_ns
            self.next_mark = t_ns
        dt = (t_ns - self.t_ns) / SECOND
        if dt < 0:
            return []
        out: list[Command] = []
        if dt > 0:
            for b in self.books.values():
                b.fair.advance(dt)
        self.t_ns = t_ns
        if t_ns >= self.next_mark:  # the index of every perpetual, once a second
            self.next_mark = t_ns + SECOND
            for b in self.books.values():
                if b.inst.kind == "perpetual":
                    out.append({"kind": CMD_SET_MARK, "instrument": b.inst.id,
                                "price_ticks": max(1, round(b.fair.ticks))})  # fmt: skip
        scale = self.rate_scale
        for b in self.books.values():
            due = [a for a in b.agents if a.next_t <= t_ns]
            if not due:
                continue
            top = self.ex.book(b.inst.id, 1)
            m = Market(
                t_ns,
                top.bids[0].price_ticks if top.bids else 0,
                top.asks[0].price_ticks if top.asks else 0,
                b.last,
                b.fair.ticks,
                b.inst.ref_price_ticks,
            )
            for a in due:
                out.extend(a.act(m))
                a.schedule(t_ns)
                if scale != 1.0:  # burst (or calm): the agent comes back sooner (later)
                    a.next_t = t_ns + max(1, int((a.next_t - t_ns) / scale))
        self.commands += len(out)
        return out

    def on_events(self, events: np.ndarray) -> None:
        """Positions and last prices from a batch's fills. O(events)."""
        if not len(events):
            return
        fills = events[events["kind"] == EV_FILL]
        for e in fills.tolist():
            q, side = e[_E_QTY], e[_E_SIDE]
            b = self.books.get(e[_E_INST])
            if b is not None:
                b.last = e[_E_PRICE]
            taker = self.by_account.get(e[_E_ACCT])
            if taker is not None:
                taker.position += q if side == BUY else -q
            maker = self.by_account.get(e[_E_MACCT])
            if maker is not None:
                maker.position += -q if side == BUY else q

    def sync_positions(self) -> None:
        """Take the agents' positions from clearing (after a recovery): perpetuals and futures
        from their positions; spot inventory starts again from zero (balances are the truth).
        O(agents)."""
        for a, agent in self.by_account.items():
            if self.books[agent.instrument].inst.kind != "spot":
                agent.position = self.ex.position(a, agent.instrument)

    # --- live -------------------------------------------------------------------------------
    def attach(self, server: GatewayServer) -> None:
        """Trade inside a live venue: commands at every gateway wakeup, fills from every batch."""
        server.sources.append(self.tick)
        server.listeners.append(self.on_events)


def to_commands(cmds: list[Command], t_ns: int) -> np.ndarray:
    """COMMAND_DTYPE records (unstamped: seq 0, time ``t_ns``) from field dicts. O(commands)."""
    rows = []
    n = len(FIELD_INDEX)
    for c in cmds:
        row = [0] * n
        for k, v in c.items():
            row[FIELD_INDEX[k]] = v
        row[FIELD_INDEX["ts_ns"]] = t_ns
        rows.append(tuple(row))
    return np.array(rows, dtype=COMMAND_DTYPE)


def simulate(
    ex: Exchange, driver: AgentDriver, seconds: float, step_ms: float = 50.0, t0_ns: int = 0
) -> int:
    """Run the agents for ``seconds`` of virtual time in steps of ``step_ms`` on ``ex`` (no
    gateway, no wall clock). Returns the number of commands sent. O(commands)."""
    t = t0_ns or max(ex.now_ns, 1) + SECOND
    step = int(step_ms * 1_000_000)
    end = t + int(seconds * SECOND)
    events = np.zeros(4096, dtype=EVENT_DTYPE)
    sent = 0
    while t <= end:
        cmds = driver.tick(t)
        if cmds:
            k, events, _n_led, _led = ex.process_into(to_commands(cmds, t), events)
            driver.on_events(events[:k])
            sent += len(cmds)
        t += step
    return sent


__all__ = [
    "FIRST_AGENT_ACCOUNT",
    "AgentDriver",
    "AgentsConfig",
    "InstrumentAgents",
    "lively_config",
    "simulate",
    "to_commands",
]
