"""Direct smoke tests of the reference engine (matching/reference.py) against docs/rulebook.md."""

from __future__ import annotations

import random

import numpy as np
import pytest

from matching import reasons as R
from matching.api import make_command
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CLOCK,
    CMD_END_OF_DAY,
    CMD_HALT,
    CMD_MASS_CANCEL,
    CMD_NEW,
    CMD_RESUME,
    CMD_SET_POSITION,
    DAY,
    DUMP_BUY_STOPS,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    EV_LEVEL,
    EV_MASS_CANCELLED,
    EV_REJECTED,
    EV_TRIGGERED,
    EVENT_DTYPE,
    EVF_KEPT_PRIORITY,
    EVF_REFILLED,
    FOK,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    STP_DECREMENT,
)
from matching.reference import ReferenceEngine


def perp(**kw: object) -> Instrument:
    return Instrument(id=0, symbol="TEST", kind="perpetual", tick_size="0.01", lot_size="1", **kw)  # type: ignore[arg-type]


@pytest.fixture
def eng() -> ReferenceEngine:
    return ReferenceEngine([perp()])


def kinds(ev: np.ndarray) -> list[int]:
    return [int(k) for k in ev["kind"]]


def test_cross_fill_fields(eng: ReferenceEngine) -> None:
    ev = eng.limit(0, 1, "sell", 5, 100, client_order_id=11)
    assert kinds(ev) == [EV_ACCEPTED, EV_LEVEL]
    maker_id = int(ev[0]["order_id"])
    assert maker_id == 1
    assert (ev[1]["side"], ev[1]["price_ticks"], ev[1]["qty_lots"], ev[1]["leaves_lots"]) == (
        SELL,
        100,
        5,
        1,
    )
    ev = eng.limit(0, 2, "buy", 3, 101, client_order_id=22)
    assert ev.dtype == EVENT_DTYPE
    assert kinds(ev) == [EV_ACCEPTED, EV_FILL, EV_LEVEL]
    fill = ev[1]
    assert fill["order_id"] == 2 and fill["client_order_id"] == 22 and fill["account"] == 2
    assert fill["side"] == BUY and fill["order_type"] == LIMIT
    assert fill["price_ticks"] == 100 and fill["qty_lots"] == 3 and fill["leaves_lots"] == 0
    assert fill["maker_order_id"] == maker_id and fill["maker_account"] == 1
    assert fill["maker_leaves_lots"] == 2 and fill["trade_id"] == 1
    assert fill["flags"] == 0 and fill["reason"] == 0 and fill["aux"] == 0
    assert fill["cmd_kind"] == CMD_NEW and fill["seq"] == 2
    level = ev[2]
    assert (level["order_id"], level["qty_lots"], level["leaves_lots"]) == (0, 2, 1)
    assert eng.position(2, 0) == 3 and eng.position(1, 0) == -3
    assert eng.status_table().tolist() == [[100, 1, 0]]
    assert eng.book(0).best_ask() == (100, 2, 1) and eng.book(0).best_bid() is None
    eng.check_invariants()


def test_cancel_then_unknown(eng: ReferenceEngine) -> None:
    eng.limit(0, 1, "buy", 4, 99, client_order_id=7)
    ev = eng.cancel(1, client_order_id=7)
    assert kinds(ev) == [EV_CANCELLED, EV_LEVEL]
    assert ev[0]["reason"] == R.CANCEL_USER and ev[0]["qty_lots"] == 4
    assert ev[0]["leaves_lots"] == 0 and ev[0]["price_ticks"] == 99
    assert (ev[1]["qty_lots"], ev[1]["leaves_lots"]) == (0, 0)
    ev = eng.cancel(1, 1)
    assert kinds(ev) == [EV_REJECTED] and ev[0]["reason"] == R.UNKNOWN_ORDER
    assert eng.live_orders() == 0 and len(eng.dump()) == 0
    eng.check_invariants()


def test_iceberg_refill_goes_to_back(eng: ReferenceEngine) -> None:
    eng.limit(0, 1, "sell", 10, 100, display_lots=3)  # id 1, shows 3
    eng.limit(0, 2, "sell", 2, 100)  # id 2
    assert eng.book(0).best_ask() == (100, 5, 2)
    ev = eng.limit(0, 3, "buy", 4, 100, tif=IOC)
    # 3 from the iceberg (it refills and moves behind id 2), then 1 from id 2
    assert kinds(ev) == [EV_ACCEPTED, EV_FILL, EV_FILL, EV_LEVEL]
    assert ev[1]["maker_order_id"] == 1 and ev[1]["qty_lots"] == 3
    assert ev[1]["flags"] == EVF_REFILLED and ev[1]["maker_leaves_lots"] == 7
    assert ev[2]["maker_order_id"] == 2 and ev[2]["qty_lots"] == 1 and ev[2]["flags"] == 0
    assert (ev[3]["qty_lots"], ev[3]["leaves_lots"]) == (4, 2)
    d = eng.dump()
    assert d["order_id"].tolist() == [2, 1]
    assert d["visible_lots"].tolist() == [1, 3] and d["display_lots"].tolist() == [0, 3]
    eng.check_invariants()


def test_stop_market_triggers_and_sweeps(eng: ReferenceEngine) -> None:
    eng.limit(0, 1, "sell", 1, 100)
    eng.limit(0, 1, "sell", 5, 102)
    ev = eng.stop(0, 2, "buy", 2, trigger=100)  # stop-market, GTC
    assert kinds(ev) == [EV_ACCEPTED] and ev[0]["aux"] == 100 and ev[0]["price_ticks"] == 0
    assert eng.dump()[-1]["side"] == DUMP_BUY_STOPS
    eng.check_invariants()
    ev = eng.limit(0, 3, "buy", 1, 100)  # trades at 100: the stop triggers
    assert kinds(ev) == [EV_ACCEPTED, EV_FILL, EV_LEVEL, EV_TRIGGERED, EV_FILL, EV_LEVEL]
    trig = ev[3]
    assert trig["order_id"] == 3 and trig["order_type"] == STOP_MARKET and trig["aux"] == 100
    assert trig["qty_lots"] == 2 and trig["leaves_lots"] == 2 and trig["price_ticks"] == 0
    fill = ev[4]
    assert fill["order_type"] == MARKET and fill["tif"] == IOC and fill["price_ticks"] == 102
    assert fill["trade_id"] == 2 and fill["leaves_lots"] == 0
    assert eng.book(0).best_ask() == (102, 3, 1)
    eng.check_invariants()


def test_stop_limit_rests_as_limit(eng: ReferenceEngine) -> None:
    eng.limit(0, 1, "buy", 1, 100)
    eng.stop(0, 2, "sell", 4, trigger=100, price=99, tif=DAY)
    ev = eng.limit(0, 3, "sell", 1, 100)
    assert kinds(ev) == [EV_ACCEPTED, EV_FILL, EV_LEVEL, EV_TRIGGERED, EV_LEVEL]
    assert ev[3]["order_type"] == STOP_LIMIT and ev[3]["price_ticks"] == 99
    row = eng.dump()[0]
    assert row["order_type"] == LIMIT and row["trigger_ticks"] == 0 and row["visible_lots"] == 4
    eng.check_invariants()
    ev = eng.end_of_day()
    assert kinds(ev) == [EV_CANCELLED, EV_LEVEL] and ev[0]["reason"] == R.CANCEL_DAY_END
    assert eng.live_orders() == 0


def test_stp_decrement_and_fok(eng: ReferenceEngine) -> None:
    eng.limit(0, 1, "sell", 3, 100)
    ev = eng.limit(0, 1, "buy", 5, 100, stp=STP_DECREMENT)
    assert kinds(ev) == [EV_ACCEPTED, EV_CANCELLED, EV_CANCELLED, EV_LEVEL, EV_LEVEL]
    assert ev[1]["order_id"] == 1 and ev[1]["qty_lots"] == 3 and ev[1]["leaves_lots"] == 0
    assert ev[2]["order_id"] == 2 and ev[2]["qty_lots"] == 3 and ev[2]["leaves_lots"] == 2
    assert ev[4]["side"] == BUY and ev[4]["qty_lots"] == 2  # the taker's remainder rests
    ev = eng.submit(0, 2, "sell", 3, 100, tif=FOK)
    assert kinds(ev) == [EV_REJECTED] and ev[0]["reason"] == R.FOK_CANNOT_FILL
    ev = eng.market(0, 2, "sell", 2, tif=FOK)
    assert kinds(ev) == [EV_ACCEPTED, EV_FILL, EV_LEVEL]
    eng.check_invariants()


def test_amend_priority(eng: ReferenceEngine) -> None:
    eng.limit(0, 1, "buy", 5, 100)
    eng.limit(0, 2, "buy", 5, 100)
    ev = eng.amend(1, 1, qty_lots=3)
    assert kinds(ev) == [EV_AMENDED, EV_LEVEL] and ev[0]["flags"] == EVF_KEPT_PRIORITY
    ev = eng.amend(1, 1, qty_lots=6)  # growing loses priority
    assert kinds(ev) == [EV_AMENDED, EV_LEVEL, EV_LEVEL] and ev[0]["flags"] == 0
    assert eng.dump()["order_id"].tolist() == [2, 1]
    eng.check_invariants()


def test_expiry_and_mass_cancel(eng: ReferenceEngine) -> None:
    eng.limit(0, 1, "buy", 1, 90, tif=GTD, expire_ns=50, ts_ns=10)
    eng.limit(0, 2, "buy", 1, 91, ts_ns=10)
    ev = eng.halt(0, ts_ns=60)
    assert kinds(ev) == [EV_CANCELLED, EV_LEVEL, 9]
    assert ev[0]["reason"] == R.CANCEL_EXPIRED and ev[0]["cmd_kind"] == CMD_CLOCK
    assert ev[2]["cmd_kind"] == CMD_HALT
    assert kinds(eng.limit(0, 2, "buy", 1, 91))[0] == EV_REJECTED
    ev = eng.mass_cancel(account=2)
    assert kinds(ev) == [EV_CANCELLED, EV_LEVEL, EV_MASS_CANCELLED]
    assert ev[2]["qty_lots"] == 1 and ev[2]["reason"] == R.CANCEL_MASS
    assert eng.status_table()[0, 2] == 1
    eng.check_invariants()


def test_random_commands_keep_invariants() -> None:
    rng = random.Random(1234)
    eng = ReferenceEngine(
        [perp(band_bps=500, market_band_bps=100, ref_price_ticks=100)], max_orders=40
    )
    kinds_ = [CMD_NEW] * 12 + [CMD_CANCEL, CMD_AMEND, CMD_AMEND, CMD_MASS_CANCEL, CMD_CLOCK]
    kinds_ += [CMD_SET_POSITION, CMD_HALT, CMD_RESUME, CMD_RESUME, CMD_END_OF_DAY]
    ts = 0
    for _ in range(1500):
        ts += rng.randint(0, 3)
        kind = rng.choice(kinds_)
        fields = {
            "ts_ns": ts,
            "account": rng.randint(1, 3),
            "instrument": 0,
            "side": rng.choice([BUY, SELL]),
            "order_type": rng.choice([LIMIT, LIMIT, LIMIT, MARKET, STOP_MARKET, STOP_LIMIT]),
            "tif": rng.choice([1, 1, 2, 3, 4, 5]),
            "qty_lots": rng.randint(1, 10),
            "price_ticks": rng.randint(96, 104),
            "trigger_ticks": rng.randint(95, 105),
            "display_lots": rng.choice([0, 0, 2]),
            "expire_ns": ts + rng.randint(1, 30),
            "stp": rng.choice([0, 0, 1, 2, 3, 4]),
            "flags": rng.choice([0, 0, 0, 1, 2]),
            "order_id": rng.randint(1, 30) if kind in (CMD_CANCEL, CMD_AMEND) else 0,
        }
        if kind == CMD_AMEND:
            fields["price_ticks"] = rng.choice([0, rng.randint(96, 104)])
        if kind == CMD_SET_POSITION:
            fields["qty_lots"] = rng.randint(-8, 8)
        if kind == CMD_MASS_CANCEL:
            fields["side"] = rng.choice([0, BUY, SELL])
        ev = eng.process(make_command(kind, **fields))
        assert (ev["seq"] == ev["seq"][0]).all() if len(ev) else True
        eng.check_invariants()
        assert eng.live_orders() == len(eng.dump())
