"""Capacity: every pool and the event buffer grow instead of failing, a command is never
half-applied, and a command resumed after a growth stop behaves exactly as if it had not
stopped (same sequence number, same events)."""

from __future__ import annotations

import numpy as np
import pytest

from matching import reasons
from matching.api import packed_bytes
from matching.engine import Engine
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_NEW,
    COMMAND_DTYPE,
    EV_CANCELLED,
    EV_FILL,
    EV_MASS_CANCELLED,
    EV_REJECTED,
    GTC,
    GTD,
    LIMIT,
    SELL,
    new_events,
)
from matching.reference import ReferenceEngine
from tests.property.streams import INSTRUMENTS, StreamGen

PERP = [Instrument(id=0, symbol="P", kind="perpetual", tick_size="1", lot_size="1")]


def limits(
    n: int, side: int, price0: int, step: int, start_id: int = 1, **extra: int
) -> np.ndarray:
    c = np.zeros(n, dtype=COMMAND_DTYPE)
    c["kind"] = CMD_NEW
    c["account"] = 1 + np.arange(n) % 7
    c["side"] = side
    c["order_type"] = LIMIT
    c["tif"] = GTC
    c["qty_lots"] = 1 + np.arange(n) % 5
    c["price_ticks"] = price0 + step * (np.arange(n) % 200)
    c["order_id"] = np.arange(start_id, start_id + n)
    for k, v in extra.items():
        c[k] = v
    return c


def test_tiny_pools_give_the_same_events_as_roomy_ones() -> None:
    """Starting from 16 order slots and an 8-event buffer, the engine stops and grows many
    times; the events must be identical to an engine that never had to grow."""
    cmds = StreamGen(seed=5).batch(6_000)
    tiny = Engine(INSTRUMENTS, capacity=16, event_capacity=8)
    roomy = Engine(INSTRUMENTS, capacity=1 << 15, event_capacity=1 << 17)
    a = tiny.process(cmds)
    b = roomy.process(cmds)
    assert len(a) == len(b) > 6_000
    assert packed_bytes(a) == packed_bytes(b)
    assert tiny.state_hash() == roomy.state_hash()
    assert tiny.next_seq == roomy.next_seq == 6_001
    tiny.check_invariants()


def test_process_into_hands_back_a_larger_buffer_with_every_event() -> None:
    eng = Engine(PERP)
    cmds = limits(3_000, SELL, 1_000, 1)
    small = new_events(1)
    n, buf = eng.process_into(cmds, small)
    assert buf is not small and len(buf) >= n
    assert n == 6_000  # ACCEPTED + LEVEL each
    assert (buf["order_id"][:n:2] == cmds["order_id"]).all()
    # a buffer that is large enough is used as it is
    big = new_events(1 << 14)
    n2, buf2 = eng.process_into(limits(10, SELL, 1_000, 1, start_id=10_000), big)
    assert buf2 is big and n2 == 20


def test_one_market_order_sweeping_a_deep_book() -> None:
    """5,000 resting orders on 200 levels swept by one order: 5,000 fills and 200 level
    events, from a buffer that started with room for 8 events."""
    eng = Engine(PERP, capacity=16, event_capacity=8)
    eng.process(limits(5_000, SELL, 1_000, 1))
    total = int(eng.dump()["leaves_lots"].sum())
    ev = eng.market(0, 9, "buy", total + 5)
    assert (ev["kind"] == EV_FILL).sum() == 5_000
    assert int(ev["qty_lots"][ev["kind"] == EV_FILL].sum()) == total
    assert ev[-1]["kind"] == EV_CANCELLED and ev[-1]["qty_lots"] == 5
    assert eng.live_orders() == 0
    eng.check_invariants()


def test_iceberg_refills_beyond_the_reserve_of_resting_orders() -> None:
    """One iceberg of 3,000 lots showing 1: a sweep makes 3,000 fills from one order, which
    the per-command reserve must cover through the hidden-lot total."""
    eng = Engine(PERP, event_capacity=8)
    eng.limit(0, 1, "sell", 3_000, 100, display_lots=1)
    ev = eng.limit(0, 2, "buy", 3_000, 100)
    assert (ev["kind"] == EV_FILL).sum() == 3_000
    eng.check_invariants()


def test_expiry_of_many_orders_resumes_across_buffer_growth() -> None:
    eng = Engine(PERP, capacity=16, event_capacity=4)
    ref = ReferenceEngine(PERP)
    cmds = limits(2_000, BUY, 500, 1, tif=GTD, expire_ns=5_000, ts_ns=10)
    eng.process(cmds)
    ref.process(cmds)
    a = eng.advance_time(6_000)
    b = ref.advance_time(6_000)
    assert packed_bytes(a) == packed_bytes(b)
    assert (a["reason"] == reasons.CANCEL_EXPIRED).sum() == 2_000
    assert eng.live_orders() == 0
    eng.check_invariants()


def test_mass_cancel_of_many_orders_from_a_small_buffer() -> None:
    eng = Engine(PERP, event_capacity=2)
    eng.process(limits(4_000, BUY, 500, 1))
    ev = eng.mass_cancel()
    assert ev[-1]["kind"] == EV_MASS_CANCELLED and ev[-1]["qty_lots"] == 4_000
    assert eng.live_orders() == 0
    eng.check_invariants()


def test_max_orders_rejects_instead_of_growing() -> None:
    eng = Engine(PERP, max_orders=3, capacity=16)
    out = eng.process(limits(5, BUY, 500, 1))
    rejects = out[out["kind"] == EV_REJECTED]
    assert list(rejects["reason"]) == [reasons.CAPACITY_EXHAUSTED] * 2
    assert eng.live_orders() == 3
    # a cancel frees a place
    eng.cancel(1, order_id=1)
    ev = eng.limit(0, 1, "buy", 1, 400)
    assert ev[0]["kind"] != EV_REJECTED


@pytest.mark.parametrize("n_instruments", [10_000])
def test_idle_instruments_cost_little_memory(n_instruments: int) -> None:
    """Thousands of instruments must be cheap: each idle one costs its parameter row and four
    skip-list heads. (Start-up time is measured by `venue bench startup`, not here.)"""
    insts = [
        Instrument(id=i, symbol=f"I{i}", kind="spot", tick_size="1", lot_size="1")
        for i in range(n_instruments)
    ]
    eng = Engine(insts)
    st = eng.state
    lanes = st.lnext.itemsize * st.lnext.shape[1] + st.lprev.itemsize * st.lprev.shape[1]
    per_instrument = (st.inst.nbytes + 4 * (st.levels.itemsize + lanes)) / n_instruments
    assert per_instrument < 700, per_instrument
    total = sum(a.nbytes for a in st)
    assert total < 12 * 1024 * 1024, total
    ev = eng.limit(n_instruments - 1, 1, "buy", 1, 10)
    assert ev[0]["instrument"] == n_instruments - 1 and ev[0]["kind"] != EV_REJECTED
    eng.check_invariants()


@pytest.mark.parametrize("engine_cls", [Engine, ReferenceEngine], ids=["numba", "reference"])
def test_per_command_api_refuses_values_that_do_not_fit_the_record(engine_cls) -> None:
    eng = engine_cls(PERP)
    with pytest.raises(ValueError, match="account=1099511627776 does not fit"):
        eng.limit(0, 2**40, "buy", 1, 100)
    with pytest.raises(ValueError, match="side=300 does not fit"):
        eng.submit(0, 1, 300, 1, 100)
    with pytest.raises(ValueError, match="instrument=-2147483649 does not fit"):
        eng.submit(-(2**31) - 1, 1, "buy", 1, 100)
    with pytest.raises(ValueError, match="qty_lots=18446744073709551616 does not fit"):
        eng.submit(0, 1, "buy", 2**64, 100)
    with pytest.raises(TypeError, match="unknown command field"):
        eng._one(CMD_NEW, None, acount=1)
    # nothing was applied, and the engine goes on
    assert eng.live_orders() == 0
    assert eng.limit(0, 1, "buy", 1, 100)[0]["kind"] == 1
