"""Clearing record layouts: the ledger entry, the per-instrument risk row, and the codes.

Money is int64 in each asset's smallest unit (``clearing.config.Asset``); rates are integer
parts per million. See ``docs/clearing.md`` for every rule these records serve.
"""

from __future__ import annotations

import numpy as np

# --- system accounts (ledger codes; client accounts are >= 1) ------------------------------
SYS_EXTERNAL = -1  # the world outside: minus deposits, plus withdrawals
SYS_FEES = -2  # the venue's fee account
SYS_INSURANCE = -3  # the insurance fund
SYS_POOL = -4  # the clearing house's side of an instrument (entry.instrument names which)
N_SYS = 3  # EXTERNAL, FEES, INSURANCE have a row per asset; POOL has one per instrument

SYS_NAMES = {
    SYS_EXTERNAL: "EXTERNAL",
    SYS_FEES: "FEES",
    SYS_INSURANCE: "INSURANCE",
    SYS_POOL: "POOL",
}

# --- ledger entry kinds --------------------------------------------------------------------
L_DEPOSIT = 1
L_WITHDRAWAL = 2
L_NOTIONAL = 3  # spot quote amount, or option premium: buyer -> seller
L_BASE = 4  # spot base amount: seller -> buyer
L_FEE = 5  # account -> FEES
L_REBATE = 6  # FEES -> account (negative maker fee)
L_REALISED_PNL = 7  # POOL <-> account (futures, perpetuals)
L_FUNDING = 8  # payer -> POOL -> receiver (perpetuals): two entries per payment
L_SETTLEMENT = 9  # expiry: POOL <-> account
L_LIQUIDATION_FEE = 10  # account -> INSURANCE
L_INSURANCE_COVER = 11  # INSURANCE -> account (loss beyond equity)

LEDGER_KIND_NAMES = {
    L_DEPOSIT: "deposit",
    L_WITHDRAWAL: "withdrawal",
    L_NOTIONAL: "notional",
    L_BASE: "base",
    L_FEE: "fee",
    L_REBATE: "rebate",
    L_REALISED_PNL: "realised_pnl",
    L_FUNDING: "funding",
    L_SETTLEMENT: "settlement",
    L_LIQUIDATION_FEE: "liquidation_fee",
    L_INSURANCE_COVER: "insurance_cover",
}

# One movement: ``amount`` (> 0) from ``from_account`` to ``to_account`` in ``asset``.
LEDGER_DTYPE = np.dtype(
    [
        ("seq", np.int64),  # the command that caused it
        ("ref", np.int64),  # trade id, order id or transfer id
        ("amount", np.int64),  # > 0, in the asset's smallest unit
        ("from_account", np.int32),  # account id >= 1, or SYS_*
        ("to_account", np.int32),
        ("instrument", np.int32),  # -1 when none
        ("asset", np.int16),
        ("kind", np.uint8),  # L_*
    ],
    align=True,
)

MAX_TIERS = 4

# The clearing view of an instrument (one row per engine instrument id).
CL_INST_DTYPE = np.dtype(
    [
        ("nf", np.int64),  # settlement units per tick x lot
        ("bf", np.int64),  # spot: base units per lot
        ("und_nf", np.int64),  # option: settlement units per underlying tick x lot
        ("strike_ticks", np.int64),  # option: strike in underlying ticks
        ("maker_ppm", np.int64),
        ("taker_ppm", np.int64),
        ("fee_cap_ppm", np.int64),  # option fee cap, fraction of premium; 0 = none
        ("tier_floor", np.int64, (MAX_TIERS,)),  # notional floors (settlement units), ascending
        ("tier_im", np.int64, (MAX_TIERS,)),  # initial margin rate of each tier
        ("tier_mm", np.int64, (MAX_TIERS,)),  # maintenance margin rate of each tier
        ("opt_im", np.int64),  # short option initial: max(opt_im - OTM/U, opt_im_min) x U
        ("opt_im_min", np.int64),
        ("opt_mm", np.int64),
        ("liq_fee_ppm", np.int64),
        ("funding_cap_ppm", np.int64),
        ("funding_interval_ns", np.int64),  # 0: funding only by command
        ("next_funding_ns", np.int64),
        ("mark_band_ppm", np.int64),
        ("mark_ticks", np.int64),  # mark price (options: the option's own mark)
        ("index_ticks", np.int64),
        ("n_tiers", np.int32),
        ("underlying", np.int32),  # option: instrument id of the underlying (its mark is U)
        ("settle_asset", np.int16),
        ("base_asset", np.int16),  # spot only; -1 otherwise
        ("kind", np.uint8),  # matching.records.KIND_*
        ("is_call", np.uint8),
        ("settled", np.uint8),
        ("defined", np.uint8),
    ],
    align=True,
)

# Per live order: what clearing holds for it (docs/clearing.md 4.1).
HOLD_DTYPE = np.dtype(
    [
        ("order_id", np.int64),
        ("per_lot", np.int64),
        ("free_lots", np.int64),
        ("leaves", np.int64),
        ("account", np.int32),
        ("instrument", np.int32),
        ("asset", np.int16),
        ("side", np.uint8),
        ("reduce_only", np.uint8),
    ],
    align=True,
)


def new_ledger(n: int) -> np.ndarray:
    """A zeroed buffer for ``n`` ledger entries. O(n)."""
    return np.zeros(n, dtype=LEDGER_DTYPE)
