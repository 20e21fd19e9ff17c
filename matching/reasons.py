"""Reason codes: stable integers, numbered by the pipeline stage that produces them.

- 1xxx gateway / edge: input that never reaches the engine (off-grid decimals, malformed fields).
- 2xxx risk: checks against an account's position or money.
- 3xxx matching: rejects by the engine (3001-3099), cancel reasons (3100-3199) and instrument
  status (3200-3299).

A code, once published, keeps its number and meaning forever; new codes take new numbers.
``REASONS`` maps each code to its name and a one-line meaning that says what to fix.
"""

from __future__ import annotations

from typing import NamedTuple

OK = 0

# --- 1xxx: gateway / edge ------------------------------------------------------------------
OFF_TICK = 1001
OFF_LOT = 1002
INVALID_DECIMAL = 1003
RATE_LIMITED = 1004
NOT_LOGGED_ON = 1005
MALFORMED_MESSAGE = 1006
BAD_CREDENTIALS = 1007
UNSUPPORTED_VERSION = 1008
KILL_SWITCH_ACTIVE = 1009
MAX_OPEN_ORDERS = 1010
MAX_NOTIONAL = 1011
SESSION_ENDED = 1012

# --- 2xxx: risk ----------------------------------------------------------------------------
REDUCE_ONLY_WOULD_INCREASE = 2001
INSUFFICIENT_BALANCE = 2002
INSUFFICIENT_MARGIN = 2003
ACCOUNT_DISABLED = 2004
STOP_MARKET_BUY_UNFUNDED = 2005
NO_MARK_PRICE = 2006
POSITION_OWNED_BY_CLEARING = 2007
INSTRUMENT_SETTLED = 2008
INVALID_TRANSFER = 2009
INVALID_CLEARING_COMMAND = 2010

# --- 3001-3099: matching rejects -----------------------------------------------------------
UNKNOWN_INSTRUMENT = 3001
INSTRUMENT_HALTED = 3002
INVALID_SIDE = 3003
INVALID_ORDER_TYPE = 3004
INVALID_TIF = 3005
QTY_NOT_POSITIVE = 3006
QTY_BELOW_MIN = 3007
QTY_ABOVE_MAX = 3008
PRICE_NOT_POSITIVE = 3009
OUTSIDE_PRICE_BAND = 3010
DUPLICATE_ORDER_ID = 3011
DUPLICATE_CLIENT_ORDER_ID = 3012
UNKNOWN_ORDER = 3013
POST_ONLY_WOULD_TAKE = 3014
FOK_CANNOT_FILL = 3015
INVALID_COMBINATION = 3016
INVALID_DISPLAY = 3017
INVALID_EXPIRY = 3018
INVALID_TRIGGER = 3019
STOP_WOULD_TRIGGER = 3020
AMEND_QTY_NOT_ABOVE_FILLED = 3021
CAPACITY_EXHAUSTED = 3022
INVALID_COMMAND = 3023
VALUE_TOO_LARGE = 3024
AMEND_NOT_ALLOWED = 3025
INVALID_ACCOUNT = 3026
INVALID_STP = 3027
INVALID_REASON = 3028

# --- 3100-3199: why an accepted order was cancelled ----------------------------------------
CANCEL_USER = 3101
CANCEL_IOC_REMAINDER = 3102
CANCEL_MARKET_NO_LIQUIDITY = 3103
CANCEL_STP = 3104
CANCEL_EXPIRED = 3105
CANCEL_DAY_END = 3106
CANCEL_DISCONNECT = 3107
CANCEL_LIQUIDATION = 3108
CANCEL_MASS = 3109
CANCEL_REDUCE_ONLY = 3110
CANCEL_KILL_SWITCH = 3111
CANCEL_FOK = 3112
CANCEL_SETTLEMENT = 3113

# --- 3200-3299: instrument status ----------------------------------------------------------
STATUS_HALTED = 3201
STATUS_RESUMED = 3202
STATUS_REF_PRICE = 3203


class Reason(NamedTuple):
    code: int
    name: str
    meaning: str


_TABLE: list[tuple[int, str, str]] = [
    (OK, "OK", "no error"),
    (OFF_TICK, "OFF_TICK", "price is not a multiple of the instrument's tick size"),
    (OFF_LOT, "OFF_LOT", "size is not a multiple of the instrument's lot size"),
    (INVALID_DECIMAL, "INVALID_DECIMAL", "price or size is not a finite decimal number"),
    (RATE_LIMITED, "RATE_LIMITED", "session over its message rate: slow down (token bucket)"),
    (NOT_LOGGED_ON, "NOT_LOGGED_ON", "send Logon first: no other message is accepted before it"),
    (
        MALFORMED_MESSAGE,
        "MALFORMED_MESSAGE",
        "not a valid protocol message (see the text for the field or the byte that is wrong)",
    ),
    (BAD_CREDENTIALS, "BAD_CREDENTIALS", "unknown API key"),
    (UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION", "protocol version not supported by this venue"),
    (
        KILL_SWITCH_ACTIVE,
        "KILL_SWITCH_ACTIVE",
        "the operator's kill switch is on for this account: only reduce-only orders",
    ),
    (MAX_OPEN_ORDERS, "MAX_OPEN_ORDERS", "the account has its configured maximum of open orders"),
    (MAX_NOTIONAL, "MAX_NOTIONAL", "price x size is above the configured maximum order notional"),
    (
        SESSION_ENDED,
        "SESSION_ENDED",
        "the session was ended (heartbeats stopped, or sustained rate abuse): log on again",
    ),
    (
        REDUCE_ONLY_WOULD_INCREASE,
        "REDUCE_ONLY_WOULD_INCREASE",
        "reduce-only order is on the position's side or larger than the position",
    ),
    (
        INSUFFICIENT_BALANCE,
        "INSUFFICIENT_BALANCE",
        "available balance cannot pay for the order (price x size + fee) or the withdrawal",
    ),
    (
        INSUFFICIENT_MARGIN,
        "INSUFFICIENT_MARGIN",
        "available margin cannot cover the initial margin this order adds: deposit or reduce",
    ),
    (ACCOUNT_DISABLED, "ACCOUNT_DISABLED", "the account is disabled: only cancels are accepted"),
    (
        STOP_MARKET_BUY_UNFUNDED,
        "STOP_MARKET_BUY_UNFUNDED",
        "a stop-market buy paid in cash (spot, option) cannot be funded in advance: "
        "send a stop-limit",
    ),
    (
        NO_MARK_PRICE,
        "NO_MARK_PRICE",
        "the instrument (or an option's underlying) has no mark price yet: set one first",
    ),
    (
        POSITION_OWNED_BY_CLEARING,
        "POSITION_OWNED_BY_CLEARING",
        "positions come from fills under clearing: set_position is for a bare engine only",
    ),
    (INSTRUMENT_SETTLED, "INSTRUMENT_SETTLED", "the instrument has expired and settled"),
    (
        INVALID_TRANSFER,
        "INVALID_TRANSFER",
        "deposit or withdrawal needs an amount > 0, a transfer id > 0, a known asset and account",
    ),
    (
        INVALID_CLEARING_COMMAND,
        "INVALID_CLEARING_COMMAND",
        "clearing command does not fit the instrument (e.g. funding of a non-perpetual)",
    ),
    (UNKNOWN_INSTRUMENT, "UNKNOWN_INSTRUMENT", "no instrument has this id"),
    (INSTRUMENT_HALTED, "INSTRUMENT_HALTED", "instrument is halted: only cancels are accepted"),
    (INVALID_SIDE, "INVALID_SIDE", "side must be BUY (1) or SELL (2)"),
    (INVALID_ORDER_TYPE, "INVALID_ORDER_TYPE", "order type must be limit, market or a stop"),
    (INVALID_TIF, "INVALID_TIF", "time in force not allowed for this order type"),
    (QTY_NOT_POSITIVE, "QTY_NOT_POSITIVE", "quantity must be at least one lot"),
    (QTY_BELOW_MIN, "QTY_BELOW_MIN", "quantity is below the instrument's minimum order size"),
    (QTY_ABOVE_MAX, "QTY_ABOVE_MAX", "quantity is above the instrument's maximum order size"),
    (PRICE_NOT_POSITIVE, "PRICE_NOT_POSITIVE", "price must be above zero for this instrument"),
    (
        OUTSIDE_PRICE_BAND,
        "OUTSIDE_PRICE_BAND",
        "price is outside the band around the reference (last trade) price",
    ),
    (DUPLICATE_ORDER_ID, "DUPLICATE_ORDER_ID", "a live order already has this order id"),
    (
        DUPLICATE_CLIENT_ORDER_ID,
        "DUPLICATE_CLIENT_ORDER_ID",
        "this account already has a live order with this client order id",
    ),
    (UNKNOWN_ORDER, "UNKNOWN_ORDER", "no live order of this account has this id"),
    (POST_ONLY_WOULD_TAKE, "POST_ONLY_WOULD_TAKE", "post-only order would trade on arrival"),
    (FOK_CANNOT_FILL, "FOK_CANNOT_FILL", "fill-or-kill order cannot be filled in full now"),
    (
        INVALID_COMBINATION,
        "INVALID_COMBINATION",
        "flags, type and time in force do not combine (e.g. post-only IOC)",
    ),
    (INVALID_DISPLAY, "INVALID_DISPLAY", "iceberg display must be positive and below quantity"),
    (INVALID_EXPIRY, "INVALID_EXPIRY", "GTD order needs an expiry time after the command time"),
    (INVALID_TRIGGER, "INVALID_TRIGGER", "stop order needs a trigger price above zero"),
    (
        STOP_WOULD_TRIGGER,
        "STOP_WOULD_TRIGGER",
        "stop trigger is already reached by the last trade price",
    ),
    (
        AMEND_QTY_NOT_ABOVE_FILLED,
        "AMEND_QTY_NOT_ABOVE_FILLED",
        "new total quantity must exceed what has already filled",
    ),
    (
        CAPACITY_EXHAUSTED,
        "CAPACITY_EXHAUSTED",
        "the engine reached its configured maximum number of live orders",
    ),
    (INVALID_COMMAND, "INVALID_COMMAND", "unknown command kind"),
    (
        VALUE_TOO_LARGE,
        "VALUE_TOO_LARGE",
        "price or quantity too large: price x quantity must fit in 63 bits",
    ),
    (
        AMEND_NOT_ALLOWED,
        "AMEND_NOT_ALLOWED",
        "this order cannot be amended (pending stop order): cancel and resubmit",
    ),
    (INVALID_ACCOUNT, "INVALID_ACCOUNT", "account id must be at least 1"),
    (INVALID_STP, "INVALID_STP", "unknown self-trade prevention mode"),
    (INVALID_REASON, "INVALID_REASON", "mass cancel reason must be a cancel reason (31xx)"),
    (CANCEL_USER, "CANCEL_USER", "cancelled by its owner"),
    (CANCEL_IOC_REMAINDER, "CANCEL_IOC_REMAINDER", "unfilled rest of an IOC order"),
    (
        CANCEL_MARKET_NO_LIQUIDITY,
        "CANCEL_MARKET_NO_LIQUIDITY",
        "unfilled rest of a market order: book empty or protection band reached",
    ),
    (CANCEL_STP, "CANCEL_STP", "cancelled by self-trade prevention"),
    (CANCEL_EXPIRED, "CANCEL_EXPIRED", "GTD order reached its expiry time"),
    (CANCEL_DAY_END, "CANCEL_DAY_END", "DAY order cancelled at the session end"),
    (CANCEL_DISCONNECT, "CANCEL_DISCONNECT", "cancel-on-disconnect of the owning session"),
    (CANCEL_LIQUIDATION, "CANCEL_LIQUIDATION", "cancelled because the account is liquidated"),
    (CANCEL_MASS, "CANCEL_MASS", "cancelled by a mass cancel"),
    (
        CANCEL_REDUCE_ONLY,
        "CANCEL_REDUCE_ONLY",
        "reduce-only order no longer reduces the position",
    ),
    (CANCEL_KILL_SWITCH, "CANCEL_KILL_SWITCH", "cancelled by the operator's kill switch"),
    (CANCEL_FOK, "CANCEL_FOK", "triggered fill-or-kill stop could not fill in full"),
    (
        CANCEL_SETTLEMENT,
        "CANCEL_SETTLEMENT",
        "cancelled because its instrument expired and settled",
    ),
    (STATUS_HALTED, "STATUS_HALTED", "instrument halted"),
    (STATUS_RESUMED, "STATUS_RESUMED", "instrument resumed"),
    (STATUS_REF_PRICE, "STATUS_REF_PRICE", "reference price for the price band set"),
]

REASONS: dict[int, Reason] = {code: Reason(code, name, text) for code, name, text in _TABLE}

# Reasons a mass cancel may carry (the kernel checks the same range).
MASS_CANCEL_REASONS = frozenset(
    {
        CANCEL_USER,
        CANCEL_MASS,
        CANCEL_DISCONNECT,
        CANCEL_LIQUIDATION,
        CANCEL_KILL_SWITCH,
        CANCEL_SETTLEMENT,
    }
)


def stage(code: int) -> str:
    """The pipeline stage a code belongs to: 'gateway', 'risk', 'matching' or 'ok'. O(1)."""
    if code == OK:
        return "ok"
    return {1: "gateway", 2: "risk", 3: "matching"}.get(code // 1000, "unknown")


def name(code: int) -> str:
    """Symbolic name of a reason code, e.g. ``'UNKNOWN_ORDER'``; unknown codes are shown raw."""
    r = REASONS.get(code)
    return r.name if r else f"REASON_{code}"


def explain(code: int) -> str:
    """``'3013 UNKNOWN_ORDER: no live order of this account has this id'``. O(1)."""
    r = REASONS.get(code)
    if r is None:
        return f"{code} unknown reason code"
    return f"{r.code} {r.name}: {r.meaning}"
