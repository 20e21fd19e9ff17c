"""Every reject code the engine can produce, produced on purpose by a minimal bad command,
with the venue still working afterwards (the good order placed first is untouched).

The edge codes (OFF_TICK, OFF_LOT, INVALID_DECIMAL) come from Decimal conversion and are
produced in test_instruments.py; cancel and status codes in tests/acceptance."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from matching import reasons as R
from matching.api import EngineBase, make_command
from matching.engine import Engine
from matching.instruments import Instrument
from matching.records import (
    EV_REJECTED,
    FOK,
    GTD,
    IOC,
    MARKET,
    STOP_LIMIT,
    STOP_MARKET,
)
from matching.reference import ReferenceEngine

INSTS = [
    Instrument(
        id=0,
        symbol="BTC-PERP",
        kind="perpetual",
        tick_size="1",
        lot_size="1",
        min_qty_lots=2,
        max_qty_lots=100,
        band_bps=1000,
        ref_price_ticks=100,
    ),
    Instrument(id=1, symbol="BTC-USD", kind="spot", tick_size="1", lot_size="1"),
]

Case = Callable[[EngineBase], object]

CASES: dict[int, Case] = {
    R.INVALID_ACCOUNT: lambda e: e.limit(0, 0, "buy", 5, 100),
    R.UNKNOWN_INSTRUMENT: lambda e: e.limit(7, 1, "buy", 5, 100),
    R.INVALID_SIDE: lambda e: e.submit(0, 1, 3, 5, 100),
    R.INVALID_ORDER_TYPE: lambda e: e.submit(0, 1, "buy", 5, 100, order_type=9),
    R.INVALID_TIF: lambda e: e.submit(0, 1, "buy", 5, 0, order_type=MARKET, tif=GTD),
    R.INVALID_STP: lambda e: e.limit(0, 1, "buy", 5, 100, stp=9),
    R.QTY_NOT_POSITIVE: lambda e: e.limit(0, 1, "buy", 0, 100),
    R.QTY_BELOW_MIN: lambda e: e.limit(0, 1, "buy", 1, 100),
    R.QTY_ABOVE_MAX: lambda e: e.limit(0, 1, "buy", 101, 100),
    R.PRICE_NOT_POSITIVE: lambda e: e.limit(1, 1, "buy", 5, 0),
    R.VALUE_TOO_LARGE: lambda e: e.limit(1, 1, "buy", 2**40, 2**40),
    R.INVALID_COMBINATION: lambda e: e.limit(0, 1, "buy", 5, 100, tif=IOC, post_only=True),
    R.INVALID_DISPLAY: lambda e: e.limit(0, 1, "buy", 5, 100, display_lots=5),
    R.INVALID_TRIGGER: lambda e: e.submit(0, 1, "buy", 5, 100, order_type=STOP_LIMIT),
    R.INVALID_EXPIRY: lambda e: (
        e.advance_time(1_000),
        e.limit(0, 1, "buy", 5, 100, tif=GTD, expire_ns=500),
    ),
    R.OUTSIDE_PRICE_BAND: lambda e: e.limit(0, 1, "buy", 5, 111),
    R.DUPLICATE_ORDER_ID: lambda e: e.limit(0, 1, "buy", 5, 95, order_id=1),
    R.DUPLICATE_CLIENT_ORDER_ID: lambda e: e.limit(0, 9, "buy", 5, 95, client_order_id=77),
    R.REDUCE_ONLY_WOULD_INCREASE: lambda e: e.limit(0, 1, "sell", 5, 105, reduce_only=True),
    R.STOP_WOULD_TRIGGER: lambda e: (
        e.limit(0, 2, "sell", 2, 101),
        e.limit(0, 3, "buy", 2, 101),
        e.submit(0, 1, "buy", 5, 0, order_type=STOP_MARKET, trigger_ticks=100),
    ),
    R.POST_ONLY_WOULD_TAKE: lambda e: (
        e.limit(0, 2, "sell", 2, 103),
        e.limit(0, 1, "buy", 5, 103, post_only=True),
    ),
    R.FOK_CANNOT_FILL: lambda e: e.limit(0, 1, "buy", 5, 104, tif=FOK),
    R.UNKNOWN_ORDER: lambda e: e.cancel(2, order_id=1),
    R.AMEND_QTY_NOT_ABOVE_FILLED: lambda e: (
        e.limit(0, 2, "sell", 2, 95),  # fills 2 of order 1's 3 lots
        e.amend(9, 1, qty_lots=2),
    ),
    R.AMEND_NOT_ALLOWED: lambda e: (
        e.submit(0, 2, "sell", 5, 0, order_type=STOP_MARKET, trigger_ticks=90, order_id=50),
        e.amend(2, 50, qty_lots=6),
    ),
    R.INSTRUMENT_HALTED: lambda e: (e.halt(0), e.limit(0, 1, "buy", 5, 100)),
    R.CAPACITY_EXHAUSTED: lambda e: [e.limit(0, 1, "buy", 2, 90 + k) for k in range(3)],
    R.INVALID_COMMAND: lambda e: e.process(make_command(42)),
    R.INVALID_REASON: lambda e: e.mass_cancel(reason=R.CANCEL_IOC_REMAINDER),
}


def _engines() -> list[type[EngineBase]]:
    return [Engine, ReferenceEngine]


def test_every_engine_reject_code_has_a_case() -> None:
    # 2002-2099 come from clearing's risk stage: tests/unit/test_clearing_rejects.py
    engine_codes = {c for c in R.REASONS if 3000 <= c < 3100} | {R.REDUCE_ONLY_WOULD_INCREASE}
    assert engine_codes == set(CASES), sorted(engine_codes ^ set(CASES))


@pytest.mark.parametrize("engine_cls", _engines(), ids=["numba", "reference"])
@pytest.mark.parametrize("code", sorted(CASES), ids=R.name)
def test_reject_code_is_produced_and_nothing_is_lost(engine_cls, code: int) -> None:
    max_orders = 3 if code == R.CAPACITY_EXHAUSTED else 0
    eng = engine_cls(INSTS, max_orders=max_orders)
    eng.set_position(9, 0, -4)  # for the amend case: account 9 is short
    first = eng.limit(0, 9, "buy", 3, 95, order_id=1, client_order_id=77)
    assert first[0]["kind"] != EV_REJECTED
    out = CASES[code](eng)
    batches = out if isinstance(out, list | tuple) else [out]
    got = [int(ev["reason"]) for b in batches for ev in b if ev["kind"] == EV_REJECTED]
    assert got and got[-1] == code, f"wanted {R.name(code)}, got {[R.name(g) for g in got]}"
    # the venue goes on, and the first order is still there as it was
    eng.check_invariants()
    ids = set(eng.dump()["order_id"].tolist())
    assert 1 in ids
    assert R.explain(code).startswith(str(code))
