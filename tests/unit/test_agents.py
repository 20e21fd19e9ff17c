"""Background agents in simulated time: they make a market (trades, moving prices, changing
depth), prices follow the hidden fair value, the run is a function of the seed, and clearing's
invariants hold after minutes of it."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from clearing.exchange import Exchange
from gateway.demo import demo_exchange
from matching.api import packed_bytes
from matching.records import EV_FILL, EVENT_DTYPE
from venue.agents.driver import (
    FIRST_AGENT_ACCOUNT,
    AgentDriver,
    AgentsConfig,
    InstrumentAgents,
    lively_config,
    simulate,
    to_commands,
)
from venue.agents.fair import FairValue, FairValueModel


def _lively(seed: int = 7) -> tuple[Exchange, AgentDriver]:
    ex = demo_exchange()
    d = AgentDriver(ex, lively_config(ex.instruments.values(), seed=seed))
    d.fund()
    return ex, d


def _events_hash(ex: Exchange, d: AgentDriver, seconds: float) -> tuple[str, int]:
    """Run like ``simulate`` but hash every event."""
    h = hashlib.blake2b(digest_size=16)
    t = ex.now_ns + 1_000_000_000
    buf = np.zeros(4096, dtype=EVENT_DTYPE)
    fills = 0
    for _ in range(int(seconds * 20)):
        cmds = d.tick(t)
        if cmds:
            k, buf, _n, _l = ex.process_into(to_commands(cmds, t), buf)
            d.on_events(buf[:k])
            h.update(packed_bytes(buf[:k]))
            fills += int((buf[:k]["kind"] == EV_FILL).sum())
        t += 50_000_000
    return h.hexdigest(), fills


def test_fair_value_path_is_seeded_positive_and_has_the_stated_volatility() -> None:
    model = FairValueModel(1_000_000.0, vol=2.0, jumps_per_hour=0.0)
    a = FairValue(model, np.random.default_rng(1))
    b = FairValue(model, np.random.default_rng(1))
    path_a = [a.advance(1.0) for _ in range(20_000)]
    assert path_a == [b.advance(1.0) for _ in range(20_000)]
    assert min(path_a) > 0
    logs = np.diff(np.log(path_a))
    annual = float(logs.std()) * math.sqrt(365 * 24 * 3600)
    assert annual == pytest.approx(2.0, rel=0.05)
    jumpy = FairValue(FairValueModel(100.0, vol=0.0, jumps_per_hour=60.0), np.random.default_rng(2))
    for _ in range(3600):
        jumpy.advance(1.0)
    assert 40 <= jumpy.jumps <= 80  # about 60 in an hour
    with pytest.raises(ValueError):
        FairValue(FairValueModel(0.0), np.random.default_rng(0))


def test_agents_make_a_lively_market_and_clearing_holds() -> None:
    ex, d = _lively()
    assert d.accounts[0] == FIRST_AGENT_ACCOUNT and len(d.accounts) == 4 * 9
    tops = []
    for _ in range(6):  # 3 minutes of market, a look every 30 s
        simulate(ex, d, 30.0)
        tops.append([ex.book(i, 3) for i in range(4)])
        ex.check_invariants()
    status = ex.status_table()
    for i in range(4):
        sym = ex.instruments[i].symbol
        assert status[i, 1] >= 100, f"{sym}: only {status[i, 1]} trades in 3 minutes"
        books = [t[i] for t in tops]
        assert all(b.bids and b.asks for b in books), f"{sym}: a side went empty"
        assert len({b.bids[0].price_ticks for b in books}) >= 3, f"{sym}: the bid never moves"
        # prices follow the hidden fair value (within 1%)
        last, fair = int(status[i, 0]), d.books[i].fair.ticks
        assert abs(last / fair - 1) < 0.01, (sym, last, fair)
    # perpetual positions as the driver saw them from fills are clearing's positions
    for a, agent in d.by_account.items():
        if ex.instruments[agent.instrument].kind == "perpetual":
            assert ex.position(a, agent.instrument) == agent.position
    assert sum(ex.position(a, 2) for a in d.accounts) == 0  # every long has its short


def test_same_seed_same_events_other_seed_other_events() -> None:
    h1, fills1 = _events_hash(*_lively(seed=11), 20.0)
    h2, _ = _events_hash(*_lively(seed=11), 20.0)
    h3, _ = _events_hash(*_lively(seed=12), 20.0)
    assert fills1 > 0
    assert h1 == h2
    assert h1 != h3


def test_burst_multiplies_activity_and_bad_specs_are_refused() -> None:
    ex, d = _lively()
    calm = simulate(ex, d, 10.0)
    d.rate_scale = 4.0
    burst = simulate(ex, d, 10.0)
    assert burst > 2.5 * calm
    ex.check_invariants()
    with pytest.raises(ValueError, match="unknown instrument"):
        AgentDriver(ex, AgentsConfig(instruments=(InstrumentAgents("NOPE"),)))
    option = next(i for i in ex.instruments.values() if i.kind == "option")
    with pytest.raises(ValueError, match="option"):
        AgentDriver(ex, AgentsConfig(instruments=(InstrumentAgents(option.symbol),)))
