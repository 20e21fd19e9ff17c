"""Instrument definitions and exact Decimal <-> ticks / lots conversion.

An instrument fixes the grid: a price is ``ticks * tick_size``, a size is ``lots * lot_size``.
Conversion refuses any value off the grid (``OffGridError`` with reason ``OFF_TICK`` or
``OFF_LOT``) instead of rounding, never goes through float, and is exact whatever the decimal
context's precision: it works on the integer coefficients, not with Decimal division. A value whose
ticks or lots would not fit the records' int64 is refused with ``VALUE_TOO_LARGE``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from matching import reasons
from matching.records import (
    INSTRUMENT_DTYPE,
    KIND_FUTURE,
    KIND_OPTION,
    KIND_PERPETUAL,
    KIND_SPOT,
)

KINDS = {
    "spot": KIND_SPOT,
    "future": KIND_FUTURE,
    "perpetual": KIND_PERPETUAL,
    "option": KIND_OPTION,
}

DecimalLike = Decimal | str | int

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class OffGridError(ValueError):
    """A price or size that is not on the instrument's grid, not a number at all, or too large.

    ``code`` is the reason code: ``OFF_TICK``, ``OFF_LOT``, ``INVALID_DECIMAL`` or
    ``VALUE_TOO_LARGE``.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def to_decimal(value: DecimalLike, what: str) -> Decimal:
    """``value`` as a finite Decimal; floats are refused (they are not exact), and so are bools.
    O(len(value))."""
    if isinstance(value, bool):
        raise OffGridError(reasons.INVALID_DECIMAL, f"{what} {value!r} is a bool, not a number")
    if isinstance(value, float):
        raise OffGridError(
            reasons.INVALID_DECIMAL,
            f"{what} {value!r} is a float: pass a Decimal or a string such as '{value}'",
        )
    try:
        d = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise OffGridError(reasons.INVALID_DECIMAL, f"{what} {value!r} is not a number") from None
    if not d.is_finite():
        raise OffGridError(reasons.INVALID_DECIMAL, f"{what} {value!r} is not finite")
    return d


def _split(d: Decimal) -> tuple[int, int]:
    """A finite Decimal as ``(coefficient, exponent)`` with ``d == coefficient * 10**exponent``
    exactly (the coefficient carries the sign). O(digits)."""
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int), "finite Decimal expected"
    coefficient = int("".join(map(str, digits)) or "0")
    return (-coefficient if sign else coefficient), exponent


def _units(d: Decimal, unit: Decimal) -> int | None:
    """``d / unit`` when it is an integer, else None; ``unit`` > 0. Exact and independent of the
    decimal context (Decimal's own divmod rounds to the context precision, fails on large
    quotients and flushes tiny remainders to zero). Returns a value outside int64 only as
    ``INT64_MAX + 1`` (a sentinel for "too large"). O(digits of d and unit)."""
    if d.is_zero():
        return 0
    diff = d.adjusted() - unit.adjusted()
    if diff < -1:
        return None  # 0 < |d| < unit: never a multiple
    if diff > 20:
        return INT64_MAX + 1  # |d / unit| >= 10**20: no int64 can hold it
    dc, de = _split(d)
    uc, ue = _split(unit)
    # Both shifts are bounded by the digit counts of d and unit (given the checks above).
    num = dc * 10 ** max(de - ue, 0)
    den = uc * 10 ** max(ue - de, 0)
    q, r = divmod(num, den)
    if r:
        return None
    if not INT64_MIN <= q <= INT64_MAX:
        return INT64_MAX + 1
    return q


def _times(n: int, unit: Decimal) -> Decimal:
    """``n * unit`` as an exact Decimal, whatever the context precision. O(digits)."""
    uc, ue = _split(unit)
    return Decimal(f"{int(n) * uc}E{ue}")


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument. Sizes in lots and prices in ticks inside the engine.

    ``min_qty_lots`` / ``max_qty_lots`` bound an order's size (``max_qty_lots == 0``: no maximum);
    ``band_bps`` rejects limit prices further than that many basis points from the reference
    (last trade) price; ``market_band_bps`` caps how far a market order may sweep from the best
    opposite price. Options carry ``strike`` (a price), ``option_type`` ('call' or 'put') and
    ``underlying``; futures and options carry ``expiry_ns``.
    """

    id: int
    symbol: str
    kind: str = "spot"
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = Decimal("0.001")
    min_qty_lots: int = 1
    max_qty_lots: int = 0
    band_bps: int = 0
    market_band_bps: int = 0
    ref_price_ticks: int = 0
    multiplier: Decimal = Decimal(1)
    base_asset: str = ""
    quote_asset: str = ""
    settlement_asset: str = ""
    expiry_ns: int = 0
    strike: Decimal | None = None
    option_type: str | None = None
    underlying: str | None = None
    allow_nonpositive_price: bool = False

    def __post_init__(self) -> None:
        # Every decimal field goes through to_decimal, Decimals too: a NaN or an Infinity must be
        # refused here, not crash (NaN) or slip through (Infinity) the checks below.
        for name in ("tick_size", "lot_size", "multiplier"):
            object.__setattr__(self, name, to_decimal(getattr(self, name), name))
        if self.strike is not None:
            object.__setattr__(self, "strike", to_decimal(self.strike, "strike"))
        problems = self.problems()
        if problems:
            raise ValueError(f"instrument {self.symbol or self.id!r}: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every reason this definition is unusable, as sentences (empty when it is fine)."""
        out = []
        if self.id < 0:
            out.append(f"id must be >= 0, not {self.id}")
        if not self.symbol:
            out.append("symbol must not be empty")
        if self.kind not in KINDS:
            out.append(f"kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        if self.tick_size <= 0:
            out.append(f"tick_size must be above zero, not {self.tick_size}")
        if self.lot_size <= 0:
            out.append(f"lot_size must be above zero, not {self.lot_size}")
        if self.min_qty_lots < 1:
            out.append(f"min_qty_lots must be at least 1, not {self.min_qty_lots}")
        if self.max_qty_lots and self.max_qty_lots < self.min_qty_lots:
            out.append("max_qty_lots must be 0 (no maximum) or at least min_qty_lots")
        if self.band_bps < 0 or self.market_band_bps < 0:
            out.append("band_bps and market_band_bps must be >= 0")
        if self.kind == "option":
            if self.option_type not in ("call", "put"):
                out.append("an option needs option_type 'call' or 'put'")
            if self.strike is None or self.strike <= 0:
                out.append("an option needs a strike above zero")
            if self.expiry_ns <= 0:
                out.append("an option needs expiry_ns")
        if self.kind == "future" and self.expiry_ns <= 0:
            out.append("a future needs expiry_ns")
        return out

    # --- conversions: exact, refusing anything off the grid --------------------------------
    def price_to_ticks(self, price: DecimalLike) -> int:
        """Price -> ticks; ``OffGridError(OFF_TICK)`` if not a multiple of tick_size,
        ``OffGridError(VALUE_TOO_LARGE)`` if the ticks do not fit int64. O(digits)."""
        d = to_decimal(price, "price")
        q = _units(d, self.tick_size)
        if q is None:
            raise OffGridError(
                reasons.OFF_TICK,
                f"price {d} is not a multiple of {self.symbol}'s tick size {self.tick_size}",
            )
        if q > INT64_MAX:
            raise OffGridError(
                reasons.VALUE_TOO_LARGE,
                f"price {d} is too large for {self.symbol}: in ticks of {self.tick_size} "
                "it does not fit 64 bits",
            )
        return q

    def ticks_to_price(self, ticks: int) -> Decimal:
        """Ticks -> exact Decimal price. O(digits)."""
        return _times(ticks, self.tick_size)

    def qty_to_lots(self, qty: DecimalLike) -> int:
        """Size -> lots; ``OffGridError(OFF_LOT)`` if not a multiple of lot_size,
        ``OffGridError(VALUE_TOO_LARGE)`` if the lots do not fit int64. O(digits)."""
        d = to_decimal(qty, "size")
        q = _units(d, self.lot_size)
        if q is None:
            raise OffGridError(
                reasons.OFF_LOT,
                f"size {d} is not a multiple of {self.symbol}'s lot size {self.lot_size}",
            )
        if q > INT64_MAX:
            raise OffGridError(
                reasons.VALUE_TOO_LARGE,
                f"size {d} is too large for {self.symbol}: in lots of {self.lot_size} "
                "it does not fit 64 bits",
            )
        return q

    def lots_to_qty(self, lots: int) -> Decimal:
        """Lots -> exact Decimal size. O(digits)."""
        return _times(lots, self.lot_size)

    @property
    def kind_code(self) -> int:
        return KINDS[self.kind]

    def replace(self, **changes: object) -> Instrument:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def instrument_table(instruments: Iterable[Instrument]) -> np.ndarray:
    """The kernel's view of a set of instruments: one INSTRUMENT_DTYPE row per id, rows without
    an instrument left undefined. Raises ValueError on duplicate ids. O(max id)."""
    insts = list(instruments)
    ids = [i.id for i in insts]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate instrument ids: {dup}")
    n = (max(ids) + 1) if ids else 0
    table = np.zeros(n, dtype=INSTRUMENT_DTYPE)
    table["hdr"] = -1
    for inst in insts:
        fill_row(table[inst.id : inst.id + 1], inst)
    return table


def fill_row(row: np.ndarray, inst: Instrument) -> None:
    """Write one instrument's static parameters into a 1-row INSTRUMENT_DTYPE view."""
    row["min_qty_lots"] = inst.min_qty_lots
    row["max_qty_lots"] = inst.max_qty_lots
    row["band_bps"] = inst.band_bps
    row["market_band_bps"] = inst.market_band_bps
    row["ref_price_ticks"] = inst.ref_price_ticks
    row["kind"] = inst.kind_code
    row["allow_nonpositive_price"] = 1 if inst.allow_nonpositive_price else 0
    row["defined"] = 1
