"""The numba engine and the reference book, driven by the same random commands, must emit the
same events record for record and hold the same books; both keep their invariants throughout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from matching.engine import Engine
from matching.records import (
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CLOCK,
    CMD_END_OF_DAY,
    CMD_HALT,
    CMD_MASS_CANCEL,
    CMD_NEW,
    CMD_RESUME,
    CMD_SET_POSITION,
    CMD_SET_REF_PRICE,
    COMMAND_DTYPE,
    EV_ACCEPTED,
    EV_FILL,
)
from matching.reference import ReferenceEngine

from .streams import INSTRUMENTS, StreamGen, assert_same_events, assert_same_state

prices = st.integers(94, 106)
qtys = st.one_of(st.integers(1, 12), st.integers(-2, 60))
accounts = st.sampled_from([1, 2, 3, 4])
instruments = st.sampled_from([0, 0, 1, 3, 3, 2])


class EngineVsReference(RuleBasedStateMachine):
    """Each rule is one command, run through both engines and compared at once."""

    @initialize()
    def start(self) -> None:
        self.fast = Engine(INSTRUMENTS, capacity=16, event_capacity=8)
        self.ref = ReferenceEngine(INSTRUMENTS)
        self.ts = 1_000
        self.ids: list[int] = []
        self.step = 0

    def run(self, **fields: int) -> None:
        cmd = np.zeros(1, dtype=COMMAND_DTYPE)
        self.ts += fields.pop("dt", 1)
        cmd["ts_ns"] = self.ts
        for k, v in fields.items():
            cmd[k] = v
        a = self.fast.process(cmd)
        b = self.ref.process(cmd)
        self.step += 1
        assert_same_events(a, b, f"step {self.step}: {cmd[0]}")
        self.ids += [int(e["order_id"]) for e in a if e["kind"] == EV_ACCEPTED]

    def some_id(self, data: st.DataObject) -> int:
        if self.ids and data.draw(st.booleans()):
            return data.draw(st.sampled_from(self.ids[-12:]))
        return data.draw(st.integers(0, 40))

    @rule(
        data=st.data(),
        account=accounts,
        instrument=instruments,
        side=st.sampled_from([1, 2, 1, 2, 0]),
        order_type=st.sampled_from([1, 1, 1, 2, 3, 4]),
        tif=st.sampled_from([1, 1, 2, 3, 4, 5]),
        price=prices,
        qty=qtys,
        flags=st.sampled_from([0, 0, 0, 0, 1, 2, 3]),
        stp=st.sampled_from([0, 0, 0, 1, 2, 3, 4]),
        stp_group=st.sampled_from([0, 0, 0, 50]),
        display=st.sampled_from([0, 0, 0, 1, 2, 3]),
        cloid=st.sampled_from([0, 0, 1, 2, 3]),
        dt=st.integers(0, 40),
    )
    def new_order(
        self, data, account, instrument, side, order_type, tif, price, qty, flags, stp,
        stp_group, display, cloid, dt,
    ) -> None:  # fmt: skip
        trigger = data.draw(prices) if order_type in (3, 4) else 0
        expire = self.ts + dt + data.draw(st.integers(-5, 200)) if tif == 4 else 0
        if order_type == 2 and tif not in (2, 3):
            tif = data.draw(st.sampled_from([2, 3]))
        if order_type == 3 and tif in (2, 3):
            tif = 1
        self.run(
            kind=CMD_NEW, account=account, instrument=instrument, side=side,
            order_type=order_type, tif=tif, price_ticks=price, qty_lots=qty, flags=flags,
            stp=stp, stp_group=stp_group, display_lots=display, client_order_id=cloid,
            trigger_ticks=trigger, expire_ns=expire, dt=dt,
        )  # fmt: skip

    @rule(data=st.data(), account=accounts, by_cloid=st.booleans())
    def cancel(self, data, account, by_cloid) -> None:
        if by_cloid:
            self.run(kind=CMD_CANCEL, account=account, client_order_id=data.draw(st.integers(1, 3)))
        else:
            self.run(kind=CMD_CANCEL, account=account, order_id=self.some_id(data))

    @rule(
        data=st.data(),
        account=accounts,
        price=st.one_of(st.just(0), prices),
        qty=st.one_of(st.just(0), st.integers(-1, 14)),
    )
    def amend(self, data, account, price, qty) -> None:
        oid = self.some_id(data)
        self.run(kind=CMD_AMEND, account=account, order_id=oid, price_ticks=price, qty_lots=qty)

    @rule(
        account=st.sampled_from([0, 1, 2, 3]),
        instrument=st.sampled_from([-1, 0, 1, 3]),
        side=st.sampled_from([0, 1, 2]),
        reason=st.sampled_from([0, 3107, 3111]),
    )
    def mass_cancel(self, account, instrument, side, reason) -> None:
        self.run(
            kind=CMD_MASS_CANCEL, account=account, instrument=instrument, side=side, reason=reason
        )

    @rule(dt=st.integers(0, 300))
    def clock(self, dt) -> None:
        self.run(kind=CMD_CLOCK, dt=dt)

    @rule(instrument=instruments, halt=st.booleans())
    def halt_or_resume(self, instrument, halt) -> None:
        self.run(kind=CMD_HALT if halt else CMD_RESUME, instrument=instrument)

    @rule(instrument=st.sampled_from([-1, 0, 3]))
    def end_of_day(self, instrument) -> None:
        self.run(kind=CMD_END_OF_DAY, instrument=instrument)

    @rule(account=accounts, instrument=instruments, qty=st.integers(-12, 12))
    def set_position(self, account, instrument, qty) -> None:
        self.run(kind=CMD_SET_POSITION, account=account, instrument=instrument, qty_lots=qty)

    @rule(instrument=instruments, price=st.integers(-1, 110))
    def set_ref_price(self, instrument, price) -> None:
        self.run(kind=CMD_SET_REF_PRICE, instrument=instrument, price_ticks=price)

    @invariant()
    def books_agree_and_hold(self) -> None:
        if not hasattr(self, "fast"):
            return
        self.fast.check_invariants()
        self.ref.check_invariants()
        assert_same_state(self.fast, self.ref, f"after step {self.step}")
        for acct in (1, 2, 3, 4):
            for iid in (0, 3):
                assert self.fast.position(acct, iid) == self.ref.position(acct, iid)


EngineVsReference.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineVsReference = EngineVsReference.TestCase


@pytest.mark.slow
def test_seeded_long_run_through_the_batch_kernel() -> None:
    """120,000 commands in batches of 1,000 through the batch path (growing from a tiny pool):
    events equal after every batch, books equal and invariants held every few batches."""
    gen = StreamGen(seed=20261121)
    fast = Engine(INSTRUMENTS, capacity=16, event_capacity=16)
    ref = ReferenceEngine(INSTRUMENTS)
    fills = 0
    for b in range(120):
        cmds = gen.batch(1_000)
        a = fast.process(cmds)
        r = ref.process(cmds)
        assert_same_events(a, r, f"batch {b}")
        fills += int((a["kind"] == EV_FILL).sum())
        if b % 10 == 9:
            fast.check_invariants()
            ref.check_invariants()
            assert_same_state(fast, ref, f"after batch {b}")
    # the stream must really trade, or the comparison proves little
    assert fills > 5_000, fills
    assert fast.live_orders() == ref.live_orders() > 0
