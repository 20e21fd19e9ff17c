"""Random command streams that exercise every rule, and a comparator for two engines.

Prices cluster in a narrow band so that orders cross often; a few accounts share STP groups;
cancels and amends mostly name orders that exist (ids the engine assigned recently), sometimes
ones that do not. Every field is drawn from small ranges on purpose, including invalid values,
so that rejects are exercised as well as fills.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from matching.api import EngineBase, describe, packed_bytes
from matching.instruments import Instrument
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
    DAY,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    STOP_LIMIT,
    STOP_MARKET,
)

INSTRUMENTS = [
    Instrument(
        id=0, symbol="BTC-PERP", kind="perpetual", tick_size=Decimal(1), lot_size=Decimal(1)
    ),
    Instrument(
        id=1,
        symbol="ETH-USD",
        kind="spot",
        tick_size=Decimal(1),
        lot_size=Decimal(1),
        min_qty_lots=2,
        max_qty_lots=40,
        band_bps=1000,
        ref_price_ticks=100,
    ),
    Instrument(
        id=3,
        symbol="SOL-PERP",
        kind="perpetual",
        tick_size=Decimal(1),
        lot_size=Decimal(1),
        market_band_bps=300,
    ),
]
INSTRUMENT_IDS = [0, 1, 3]


class StreamGen:
    """Seeded generator of command records (numpy RNG, so long runs are cheap)."""

    def __init__(self, seed: int, accounts: int = 5) -> None:
        self.rng = np.random.default_rng(seed)
        self.accounts = accounts
        self.ts = 1_000
        self.max_oid = 0  # highest engine-assigned id seen so far (ids count from 1)
        self.cloid = 0

    def _pick(self, choices: list, weights: list[float]) -> int:
        w = np.asarray(weights, dtype=float)
        return choices[int(self.rng.choice(len(choices), p=w / w.sum()))]

    def _existing_id(self) -> int:
        r = self.rng
        if self.max_oid == 0 or r.random() < 0.05:
            return int(r.integers(1, self.max_oid + 3))
        # recent ids are the ones most likely still live
        return int(max(1, self.max_oid - r.geometric(0.15) + 1))

    def command(self) -> np.ndarray:
        r = self.rng
        c = np.zeros(1, dtype=COMMAND_DTYPE)[0]
        self.ts += int(r.integers(0, 50))
        c["ts_ns"] = self.ts
        kind = self._pick(
            [CMD_NEW, CMD_CANCEL, CMD_AMEND, CMD_MASS_CANCEL, CMD_CLOCK, CMD_HALT, CMD_RESUME,
             CMD_END_OF_DAY, CMD_SET_POSITION, CMD_SET_REF_PRICE, 0],
            [62, 12, 14, 1.5, 2, 0.6, 1.2, 0.5, 2, 0.5, 0.2],
        )  # fmt: skip
        c["kind"] = kind
        acct = (
            int(r.integers(1, self.accounts + 1)) if r.random() > 0.01 else int(r.integers(-1, 1))
        )
        c["account"] = acct
        iid = self._pick([*INSTRUMENT_IDS, 2, 7], [45, 25, 28, 1, 1])
        c["instrument"] = iid
        mid = 100
        if kind == CMD_NEW:
            self.max_oid += 1  # upper bound: rejects do not take ids, so this overshoots a bit
            c["side"] = self._pick([1, 2, 0, 3], [49, 49, 1, 1])
            ot = self._pick([LIMIT, MARKET, STOP_MARKET, STOP_LIMIT, 9], [70, 10, 8, 10, 1])
            c["order_type"] = ot
            if ot == MARKET:
                tif = self._pick([IOC, FOK, GTC], [80, 18, 2])
            elif ot == STOP_MARKET:
                tif = self._pick([GTC, GTD, DAY, IOC], [70, 12, 15, 3])
            else:
                tif = self._pick([GTC, IOC, FOK, GTD, DAY, 0], [55, 12, 10, 12, 10, 1])
            c["tif"] = tif
            c["price_ticks"] = mid + int(r.integers(-6, 7)) if r.random() > 0.01 else -5
            c["qty_lots"] = int(r.integers(1, 12)) if r.random() > 0.02 else int(r.integers(-1, 60))
            if ot in (STOP_MARKET, STOP_LIMIT):
                c["trigger_ticks"] = mid + int(r.integers(-8, 9))
            if tif == GTD:
                c["expire_ns"] = self.ts + int(r.integers(-20, 400))
            if r.random() < 0.12:
                c["display_lots"] = int(r.integers(0, 5))
            flags = 0
            if r.random() < 0.08:
                flags |= 1
            if r.random() < 0.08:
                flags |= 2
            if r.random() < 0.005:
                flags |= 8
            c["flags"] = flags
            if r.random() < 0.3:
                c["stp"] = int(r.integers(0, 5)) if r.random() > 0.01 else 7
            if r.random() < 0.2:
                c["stp_group"] = int(r.integers(1, 3)) * 100
            if r.random() < 0.25:
                self.cloid += 1
                c["client_order_id"] = self.cloid - int(r.integers(0, 3))
            if r.random() < 0.02:
                c["order_id"] = self._existing_id()
        elif kind in (CMD_CANCEL, CMD_AMEND):
            if r.random() < 0.85:
                c["order_id"] = self._existing_id()
            else:
                c["client_order_id"] = max(0, self.cloid - int(r.integers(0, 6)))
            if kind == CMD_AMEND:
                if r.random() < 0.6:
                    c["price_ticks"] = mid + int(r.integers(-6, 7))
                if r.random() < 0.6:
                    c["qty_lots"] = int(r.integers(-1, 14))
        elif kind == CMD_MASS_CANCEL:
            c["account"] = int(r.integers(0, self.accounts + 1))
            c["instrument"] = self._pick([-1, 0, 1, 3, 5], [3, 3, 3, 3, 1])
            c["side"] = int(r.integers(0, 3)) if r.random() > 0.05 else 4
            c["reason"] = self._pick([0, 3101, 3107, 3109, 3111, 3102], [5, 1, 1, 1, 1, 0.3])
        elif kind == CMD_CLOCK:
            self.ts += int(r.integers(0, 300))
            c["ts_ns"] = self.ts
        elif kind == CMD_END_OF_DAY:
            c["instrument"] = self._pick([-1, 0, 1, 3, 9], [3, 2, 2, 2, 1])
        elif kind == CMD_SET_POSITION:
            c["qty_lots"] = int(r.integers(-15, 16))
        elif kind == CMD_SET_REF_PRICE:
            c["price_ticks"] = mid + int(r.integers(-10, 11))
        return c

    def batch(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=COMMAND_DTYPE)
        for i in range(n):
            out[i] = self.command()
        return out


def assert_same_events(a: np.ndarray, b: np.ndarray, label: str = "") -> None:
    """Require identical event records; on a difference, show both streams around it."""
    if len(a) == len(b) and packed_bytes(a) == packed_bytes(b):
        return
    n = min(len(a), len(b))
    first = next(
        (i for i in range(n) if packed_bytes(a[i : i + 1]) != packed_bytes(b[i : i + 1])), n
    )
    lo = max(0, first - 3)
    da = describe(a[lo : first + 4])
    db = describe(b[lo : first + 4])
    lines = [f"{label}: event streams differ at index {first} (lengths {len(a)} vs {len(b)})"]
    lines.append("numba:")
    lines += [f"  {lo + k}: {d}" for k, d in enumerate(da)]
    lines.append("reference:")
    lines += [f"  {lo + k}: {d}" for k, d in enumerate(db)]
    raise AssertionError("\n".join(lines))


def assert_same_state(fast: EngineBase, ref: EngineBase, label: str = "") -> None:
    df, dr = fast.dump(), ref.dump()
    if packed_bytes(df) != packed_bytes(dr):
        raise AssertionError(f"{label}: books differ\nnumba:\n{df}\nreference:\n{dr}")
    assert fast.state_hash() == ref.state_hash(), f"{label}: instrument status differs"
