"""The clearing pipeline as a whole: batch cuts do not matter, funding comes due by itself,
capacity grows mid-batch, and the kernel resumes cleanly around clearing commands."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from clearing.config import ClearingConfig, RiskParams
from clearing.exchange import Exchange
from clearing.records import L_FUNDING
from matching.api import make_command, packed_bytes
from matching.instruments import Instrument
from matching.records import (
    BUY,
    CMD_DEPOSIT,
    CMD_NEW,
    CMD_SET_MARK,
    COMMAND_DTYPE,
    EV_FUNDING,
    EVENT_DTYPE,
    GTC,
    GTD,
    LIMIT,
    SELL,
)

HOUR = 3_600_000_000_000
D = Decimal
PERP = Instrument(id=0, symbol="X-PERP", kind="perpetual", tick_size=D(1), lot_size=D("0.01"),
                  ref_price_ticks=100, settlement_asset="USD", quote_asset="USD")  # fmt: skip
SPOT = Instrument(id=1, symbol="X-USD", kind="spot", tick_size=D(1), lot_size=D("0.01"),
                  ref_price_ticks=100, base_asset="BTC", quote_asset="USD")  # fmt: skip


def _stream(n: int, seed: int) -> np.ndarray:
    """Deposits, a mark, then random limit orders (some GTD) on both instruments."""
    rng = np.random.default_rng(seed)
    head = [
        make_command(CMD_DEPOSIT, account=a, instrument=k, qty_lots=10**12, order_id=10 * a + k)
        for a in range(1, 5)
        for k in (0, 1)
    ]
    head.append(make_command(CMD_SET_MARK, instrument=0, price_ticks=101))
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    cmds["kind"] = CMD_NEW
    cmds["instrument"] = rng.integers(0, 2, n)
    cmds["account"] = rng.integers(1, 5, n)
    cmds["side"] = rng.choice([BUY, SELL], n)
    cmds["order_type"] = LIMIT
    cmds["tif"] = rng.choice([GTC, GTC, GTD], n)
    cmds["price_ticks"] = rng.integers(95, 106, n)
    cmds["qty_lots"] = rng.integers(1, 20, n)
    cmds["ts_ns"] = np.arange(1, n + 1) * (HOUR // 4)  # 15 minutes apart: funding comes due
    cmds["expire_ns"] = np.where(cmds["tif"] == GTD, cmds["ts_ns"] + HOUR, 0)
    return np.concatenate([*head, cmds])


def _config() -> ClearingConfig:
    return ClearingConfig(default=RiskParams(funding_interval_ns=8 * HOUR, mark_band_ppm=50_000))


def test_batch_cuts_do_not_change_anything() -> None:
    cmds = _stream(600, 3)
    whole = Exchange([PERP, SPOT], _config(), event_capacity=16, ledger_capacity=16)
    ev_whole = whole.process(cmds)
    parts = Exchange([PERP, SPOT], _config())
    ev_parts = np.concatenate([parts.process(cmds[k : k + 7]) for k in range(0, len(cmds), 7)])
    assert packed_bytes(ev_whole) == packed_bytes(ev_parts)
    assert packed_bytes(whole.ledger()) == packed_bytes(parts.ledger())
    assert whole.state_hash() == parts.state_hash()
    whole.check_invariants()
    parts.check_invariants()


def test_funding_comes_due_by_itself_and_sums_to_zero() -> None:
    ex = Exchange([PERP, SPOT], _config())
    ev = ex.process(_stream(200, 5))
    funding = ev[ev["kind"] == EV_FUNDING]
    # 200 commands 15 minutes apart: 50 hours, so funding at 8h, 16h, ..., 48h
    assert len(funding) == 6
    assert (np.diff(funding["ts_ns"]) >= 8 * HOUR).all()
    led = ex.ledger()
    f = led[led["kind"] == L_FUNDING]
    assert int(f["amount"][f["to_account"] == -4].sum()) == int(funding["qty_lots"].sum())
    assert int(f["amount"][f["from_account"] == -4].sum()) == int(funding["qty_lots"].sum())
    ex.check_invariants()


def test_capacity_and_buffers_grow_mid_batch() -> None:
    ex = Exchange([PERP, SPOT], _config(), capacity=4, event_capacity=8, ledger_capacity=8)
    buf = np.zeros(8, dtype=EVENT_DTYPE)
    n, buf, n_led, led = ex.process_into(_stream(400, 9), buf)
    assert len(buf) >= n > 400
    assert n_led > 0 and len(led) >= n_led
    ex.check_invariants()
