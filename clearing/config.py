"""Clearing configuration: assets, per-instrument fees and margin, and the integer factors.

``ClearingConfig(assets, risk={instrument_id: RiskParams}, default=RiskParams())`` is what an
operator writes; ``instrument_rows(instruments)`` turns it into the CL_INST_DTYPE table the
kernels read, checking that every money factor is an exact integer (docs/clearing.md, section 2):
a tick x lot that is not a whole number of the settlement asset's units is refused here, with a
message saying which scale to raise, rather than rounded on every fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from clearing.records import CL_INST_DTYPE, MAX_TIERS
from matching.instruments import Instrument

PPM = 1_000_000


@dataclass(frozen=True)
class Asset:
    """A currency or coin: one unit of money is ``10**-scale`` of it."""

    code: str
    scale: int

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.scale)

    def to_units(self, amount: Decimal | str | int) -> int:
        """Exact Decimal -> units; ValueError when it is not a whole number of units."""
        d = Decimal(amount)
        q = d.scaleb(self.scale)
        if q != q.to_integral_value():
            raise ValueError(f"{amount} {self.code} is finer than its unit {self.unit}")
        return int(q)

    def from_units(self, units: int) -> Decimal:
        return Decimal(int(units)).scaleb(-self.scale)


@dataclass(frozen=True)
class Tier:
    """From ``notional_floor`` (in settlement units) up, these margin rates apply (ppm)."""

    notional_floor: int
    im_ppm: int
    mm_ppm: int


@dataclass(frozen=True)
class RiskParams:
    """Fees and margin of one instrument. Rates in ppm: 500 = 5 bp; a negative maker fee is a
    rebate. Defaults are typical of a crypto venue (Deribit's option margin)."""

    maker_fee_ppm: int = 100
    taker_fee_ppm: int = 500
    im_ppm: int = 100_000  # 10% initial margin: 10x leverage
    mm_ppm: int = 50_000
    tiers: tuple[Tier, ...] = ()  # optional: above these notionals, other rates
    option_fee_cap_ppm: int = 125_000  # option fee at most 12.5% of the premium
    opt_im_ppm: int = 150_000
    opt_im_min_ppm: int = 100_000
    opt_mm_ppm: int = 75_000
    liquidation_fee_ppm: int = 5_000
    funding_cap_ppm: int = 7_500
    funding_interval_ns: int = 0  # 0: funding only by command
    mark_band_ppm: int = 5_000

    def problems(self) -> list[str]:
        out = []
        if not -PPM < self.maker_fee_ppm < PPM or not 0 <= self.taker_fee_ppm < PPM:
            out.append("fees must be below 100% (taker >= 0; maker may be a rebate)")
        if self.taker_fee_ppm + min(self.maker_fee_ppm, 0) < 0:
            out.append("a maker rebate must not exceed the taker fee (the fee account would pay)")
        for name in ("im_ppm", "mm_ppm", "opt_im_ppm", "opt_im_min_ppm", "opt_mm_ppm"):
            if not 0 <= getattr(self, name) <= PPM:
                out.append(f"{name} must be within 0..{PPM}")
        if self.mm_ppm > self.im_ppm:
            out.append("maintenance margin must not exceed initial margin")
        if len(self.tiers) > MAX_TIERS - 1:
            out.append(f"at most {MAX_TIERS - 1} tiers above the base rates")
        floors = [t.notional_floor for t in self.tiers]
        if floors != sorted(floors) or any(f <= 0 for f in floors):
            out.append("tier floors must be positive and ascending")
        for name in ("liquidation_fee_ppm", "funding_cap_ppm", "mark_band_ppm"):
            if not 0 <= getattr(self, name) < PPM:
                out.append(f"{name} must be within 0..{PPM - 1}")
        if self.funding_interval_ns < 0:
            out.append("funding_interval_ns must be >= 0")
        return out


DEFAULT_ASSETS = (Asset("USD", 6), Asset("BTC", 8), Asset("ETH", 8))


@dataclass(frozen=True)
class ClearingConfig:
    """Assets (index = position in the tuple) and risk parameters per instrument id."""

    assets: tuple[Asset, ...] = DEFAULT_ASSETS
    risk: Mapping[int, RiskParams] = field(default_factory=dict)
    default: RiskParams = RiskParams()

    def asset_index(self, code: str) -> int:
        for k, a in enumerate(self.assets):
            if a.code == code:
                return k
        raise ValueError(f"unknown asset {code!r}: configured are {[a.code for a in self.assets]}")

    def params(self, instrument_id: int) -> RiskParams:
        return self.risk.get(instrument_id, self.default)


def _exact(value: Decimal, what: str, fix: str) -> int:
    if value != value.to_integral_value() or value <= 0:
        raise ValueError(f"{what} = {value} is not a whole number of units: {fix}")
    return int(value)


def instrument_rows(config: ClearingConfig, instruments: Iterable[Instrument]) -> np.ndarray:
    """CL_INST_DTYPE rows indexed by instrument id. Raises ValueError naming the instrument and
    what to change when a factor is not an exact integer or an asset is unknown. O(ids)."""
    insts = list(instruments)
    by_symbol = {i.symbol: i for i in insts}
    n = (max(i.id for i in insts) + 1) if insts else 0
    rows = np.zeros(n, dtype=CL_INST_DTYPE)
    rows["base_asset"] = -1
    rows["underlying"] = -1
    for inst in insts:
        p = config.params(inst.id)
        problems = p.problems()
        if problems:
            raise ValueError(f"risk parameters of {inst.symbol}: " + "; ".join(problems))
        r = rows[inst.id]
        settle_code = inst.settlement_asset or inst.quote_asset
        sa = config.assets[config.asset_index(settle_code)]
        r["settle_asset"] = config.asset_index(settle_code)
        fix = f"raise the scale of {sa.code} or coarsen {inst.symbol}'s tick or lot"
        r["nf"] = _exact(
            inst.tick_size * inst.lot_size * inst.multiplier / sa.unit, f"{inst.symbol} nf", fix
        )
        if inst.kind == "spot":
            ba = config.assets[config.asset_index(inst.base_asset)]
            r["base_asset"] = config.asset_index(inst.base_asset)
            r["bf"] = _exact(
                inst.lot_size / ba.unit,
                f"{inst.symbol} base units per lot",
                f"raise the scale of {ba.code}",
            )
        if inst.kind == "option":
            und = by_symbol.get(inst.underlying or "")
            if und is None:
                raise ValueError(f"option {inst.symbol}: underlying {inst.underlying!r} unknown")
            assert inst.strike is not None
            r["underlying"] = und.id
            r["und_nf"] = _exact(
                und.tick_size * inst.lot_size * inst.multiplier / sa.unit,
                f"{inst.symbol} und_nf",
                fix,
            )
            r["strike_ticks"] = und.price_to_ticks(inst.strike)
            r["is_call"] = 1 if inst.option_type == "call" else 0
        r["kind"] = inst.kind_code
        r["maker_ppm"] = p.maker_fee_ppm
        r["taker_ppm"] = p.taker_fee_ppm
        r["fee_cap_ppm"] = p.option_fee_cap_ppm if inst.kind == "option" else 0
        tiers = [Tier(0, p.im_ppm, p.mm_ppm), *p.tiers]
        r["n_tiers"] = len(tiers)
        for k, t in enumerate(tiers):
            r["tier_floor"][k] = t.notional_floor
            r["tier_im"][k] = t.im_ppm
            r["tier_mm"][k] = t.mm_ppm
        r["opt_im"] = p.opt_im_ppm
        r["opt_im_min"] = p.opt_im_min_ppm
        r["opt_mm"] = p.opt_mm_ppm
        r["liq_fee_ppm"] = p.liquidation_fee_ppm
        r["funding_cap_ppm"] = p.funding_cap_ppm
        r["funding_interval_ns"] = p.funding_interval_ns
        r["next_funding_ns"] = p.funding_interval_ns
        r["mark_band_ppm"] = p.mark_band_ppm
        # futures start marked at their reference price; options need an explicit mark
        r["mark_ticks"] = inst.ref_price_ticks if inst.kind != "option" else 0
        r["index_ticks"] = r["mark_ticks"]
        r["defined"] = 1
    return rows
