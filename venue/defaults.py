"""The embedded default venue: what ``venue run`` starts with no configuration.

Spot BTC-USD and ETH-USD, perpetuals BTC-PERP and ETH-PERP, and one BTC option expiry with a
few strikes (calls and puts), all settled in USD.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from matching.instruments import Instrument

# One quarterly expiry, fixed so that runs are reproducible (2027-03-26 08:00 UTC).
OPTION_EXPIRY = datetime(2027, 3, 26, 8, 0, tzinfo=UTC)
OPTION_EXPIRY_NS = int(OPTION_EXPIRY.timestamp()) * 1_000_000_000
STRIKES = (Decimal(80000), Decimal(90000), Decimal(100000))


def default_instruments() -> list[Instrument]:
    """The default instrument set, ids 0.. in a fixed order. O(1)."""
    d = Decimal
    insts = [
        Instrument(
            id=0, symbol="BTC-USD", kind="spot", tick_size=d("0.01"), lot_size=d("0.0001"),
            min_qty_lots=1, max_qty_lots=1_000_000, band_bps=1000, ref_price_ticks=9_000_000,
            market_band_bps=500, base_asset="BTC", quote_asset="USD", settlement_asset="USD",
        ),
        Instrument(
            id=1, symbol="ETH-USD", kind="spot", tick_size=d("0.01"), lot_size=d("0.001"),
            max_qty_lots=1_000_000, band_bps=1000, ref_price_ticks=300_000, market_band_bps=500,
            base_asset="ETH", quote_asset="USD", settlement_asset="USD",
        ),
        Instrument(
            id=2, symbol="BTC-PERP", kind="perpetual", tick_size=d("0.1"), lot_size=d("0.001"),
            max_qty_lots=1_000_000, band_bps=1000, ref_price_ticks=900_000, market_band_bps=500,
            base_asset="BTC", quote_asset="USD", settlement_asset="USD",
        ),
        Instrument(
            id=3, symbol="ETH-PERP", kind="perpetual", tick_size=d("0.01"), lot_size=d("0.01"),
            max_qty_lots=1_000_000, band_bps=1000, ref_price_ticks=300_000, market_band_bps=500,
            base_asset="ETH", quote_asset="USD", settlement_asset="USD",
        ),
    ]  # fmt: skip
    next_id = 4
    tag = OPTION_EXPIRY.strftime("%d%b%y").upper()
    for strike in STRIKES:
        for kind, letter in (("call", "C"), ("put", "P")):
            insts.append(
                Instrument(
                    id=next_id,
                    symbol=f"BTC-{tag}-{int(strike)}-{letter}",
                    kind="option",
                    tick_size=d("5"),
                    lot_size=d("0.01"),
                    max_qty_lots=100_000,
                    base_asset="BTC",
                    quote_asset="USD",
                    settlement_asset="USD",
                    expiry_ns=OPTION_EXPIRY_NS,
                    strike=strike,
                    option_type=kind,
                    underlying="BTC-USD",
                )
            )
            next_id += 1
    return insts
