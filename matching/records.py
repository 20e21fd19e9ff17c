"""Record layouts: every command and event that crosses the engine boundary.

One schema per record type, as aligned numpy dtypes, so that a batch of commands is one array
(journaled byte for byte) and a batch of events is one array (read by clearing, the gateway and
market data). The integer constants below are the enumerations the kernels use; they are plain
module-level ints so that numba folds them as compile-time constants.

Field meaning of an event depends on its ``kind`` (a tagged union, like exchange-core's
``MatcherTradeEvent``); the table in ``docs/rulebook.md`` spells out every kind.
"""

from __future__ import annotations

import numpy as np

# --- command kinds -------------------------------------------------------------------------
CMD_NEW = 1  # new order
CMD_CANCEL = 2  # cancel one order (by order_id, or by client_order_id when order_id == 0)
CMD_AMEND = 3  # change price and/or total quantity of a resting order
CMD_MASS_CANCEL = 4  # cancel by account / instrument / side (0 / -1 / 0 mean "all")
CMD_HALT = 5  # halt an instrument: new orders and amends rejected, cancels allowed
CMD_RESUME = 6  # resume a halted instrument
CMD_END_OF_DAY = 7  # session end: cancel DAY orders of one instrument (-1: all instruments)
CMD_CLOCK = 8  # advance engine time only (expires GTD orders)
CMD_SET_POSITION = 9  # seed an account's net position (lots, signed) for reduce-only checks
CMD_SET_REF_PRICE = 10  # set the reference price used by the price band before any trade
# Clearing commands (docs/clearing.md, section 8): handled by clearing, never by the engine
# (an engine without clearing rejects them with INVALID_COMMAND).
CMD_DEPOSIT = 11  # account, instrument = asset index, qty_lots = amount, order_id = transfer id
CMD_WITHDRAW = 12  # as deposit
CMD_SET_MARK = 13  # instrument, price_ticks = index price, flags: 0 mark = index, 1 = banded mid
CMD_FUNDING = 14  # instrument (perpetual): pay funding now
CMD_SETTLE = 15  # instrument (future / option), price_ticks = settlement price
CMD_ACCOUNT = 16  # account, flags bit 0 = disabled

CMD_NAMES = {
    CMD_NEW: "new",
    CMD_CANCEL: "cancel",
    CMD_AMEND: "amend",
    CMD_MASS_CANCEL: "mass_cancel",
    CMD_HALT: "halt",
    CMD_RESUME: "resume",
    CMD_END_OF_DAY: "end_of_day",
    CMD_CLOCK: "clock",
    CMD_SET_POSITION: "set_position",
    CMD_SET_REF_PRICE: "set_ref_price",
    CMD_DEPOSIT: "deposit",
    CMD_WITHDRAW: "withdraw",
    CMD_SET_MARK: "set_mark",
    CMD_FUNDING: "funding",
    CMD_SETTLE: "settle",
    CMD_ACCOUNT: "account",
}

# --- sides ---------------------------------------------------------------------------------
SIDE_NONE = 0  # only in mass cancel: both sides
BUY = 1
SELL = 2

# --- order types ---------------------------------------------------------------------------
LIMIT = 1
MARKET = 2
STOP_MARKET = 3
STOP_LIMIT = 4

# --- time in force -------------------------------------------------------------------------
GTC = 1
IOC = 2
FOK = 3
GTD = 4
DAY = 5

# --- order flags (bit set) -----------------------------------------------------------------
FLAG_POST_ONLY = 1
FLAG_REDUCE_ONLY = 2

# --- self-trade prevention modes (the taker's mode governs) --------------------------------
STP_NONE = 0
STP_CANCEL_TAKER = 1
STP_CANCEL_MAKER = 2
STP_CANCEL_BOTH = 3
STP_DECREMENT = 4  # decrement both by the overlap, cancel whichever reaches zero

# --- event kinds ---------------------------------------------------------------------------
EV_ACCEPTED = 1
EV_REJECTED = 2
EV_FILL = 3
EV_CANCELLED = 4
EV_AMENDED = 5
EV_TRIGGERED = 6
EV_LEVEL = 7  # a visible price level changed: qty_lots = new visible total, leaves_lots = orders
EV_MASS_CANCELLED = 8  # acknowledgement of a mass cancel: qty_lots = number of orders cancelled
EV_STATUS = 9  # instrument status change: reason = STATUS_HALTED / STATUS_RESUMED / ...
EV_POSITION = 10  # acknowledgement of CMD_SET_POSITION: qty_lots = the new position
# Clearing events (docs/clearing.md, section 8)
EV_BALANCE = 11  # deposit / withdrawal done: qty_lots = amount, leaves_lots = new balance
EV_MARK = 12  # mark price set: price_ticks = mark, aux = index
EV_FUNDING = 13  # funding paid: qty_lots = total paid, aux = rate (ppm), price_ticks = mark
EV_SETTLEMENT = 14  # instrument settled: price_ticks = settlement price, qty_lots = positions
EV_ACCOUNT = 15  # account enabled / disabled: flags bit 0 = disabled
EV_LIQUIDATION = 16  # liquidation of a position: qty_lots = position, price = bankruptcy price
EV_ADL = 17  # auto-deleverage: account closes qty_lots against maker_account at price_ticks

EV_NAMES = {
    EV_ACCEPTED: "accepted",
    EV_REJECTED: "rejected",
    EV_FILL: "fill",
    EV_CANCELLED: "cancelled",
    EV_AMENDED: "amended",
    EV_TRIGGERED: "triggered",
    EV_LEVEL: "level",
    EV_MASS_CANCELLED: "mass_cancelled",
    EV_STATUS: "status",
    EV_POSITION: "position",
    EV_BALANCE: "balance",
    EV_MARK: "mark",
    EV_FUNDING: "funding",
    EV_SETTLEMENT: "settlement",
    EV_ACCOUNT: "account",
    EV_LIQUIDATION: "liquidation",
    EV_ADL: "adl",
}

# EV_AMENDED flag bit: the amend kept the order's queue position.
EVF_KEPT_PRIORITY = 1
# EV_FILL flag bit: the maker was an iceberg and refilled its displayed tranche after this fill.
EVF_REFILLED = 2
# EV_BALANCE flag bit: a repeat of a known transfer id; nothing changed.
EVF_DUPLICATE = 1

# --- instrument kinds ----------------------------------------------------------------------
KIND_SPOT = 1
KIND_FUTURE = 2
KIND_PERPETUAL = 3
KIND_OPTION = 4

# Command record: 96 bytes. Fields a command kind does not use are zero.
COMMAND_DTYPE = np.dtype(
    [
        ("seq", np.int64),  # global sequence number, stamped by the sequencer
        ("ts_ns", np.int64),  # sequencer timestamp; drives GTD expiry (no wall clock inside)
        ("order_id", np.int64),  # venue order id; 0 on NEW lets the engine assign one
        ("client_order_id", np.int64),  # unique per account among live orders; 0 = none
        ("price_ticks", np.int64),  # limit price (NEW), new price (AMEND, 0 = unchanged)
        ("qty_lots", np.int64),  # order quantity (NEW), new total quantity (AMEND, 0 = unchanged)
        ("trigger_ticks", np.int64),  # stop trigger price (stop orders)
        ("display_lots", np.int64),  # iceberg displayed tranche; 0 = fully displayed
        ("expire_ns", np.int64),  # GTD expiry time
        ("account", np.int32),  # owning account (>= 1); 0 = all in mass cancel
        ("instrument", np.int32),  # instrument id; -1 = all in mass cancel / end of day
        ("stp_group", np.int32),  # self-trade prevention group; 0 = the account itself
        ("kind", np.uint8),  # CMD_*
        ("side", np.uint8),  # BUY / SELL (SIDE_NONE = both in mass cancel)
        ("order_type", np.uint8),  # LIMIT / MARKET / STOP_MARKET / STOP_LIMIT
        ("tif", np.uint8),  # GTC / IOC / FOK / GTD / DAY
        ("flags", np.uint8),  # FLAG_POST_ONLY | FLAG_REDUCE_ONLY
        ("stp", np.uint8),  # STP_* mode of this order
        ("reason", np.uint16),  # mass cancel: the cancel reason to report (user, disconnect, ...)
    ],
    align=True,
)

# Event record: 112 bytes; a tagged union on ``kind`` (see docs/rulebook.md, "Events").
EVENT_DTYPE = np.dtype(
    [
        ("seq", np.int64),  # sequence number of the command that caused the event
        ("ts_ns", np.int64),  # that command's timestamp
        ("order_id", np.int64),  # the order (the taker on a fill)
        ("client_order_id", np.int64),
        ("price_ticks", np.int64),  # order / trade / level / trigger price
        ("qty_lots", np.int64),  # order qty, fill qty, cancelled qty, level total, count
        ("leaves_lots", np.int64),  # what the order has left after this event (level: orders)
        ("maker_order_id", np.int64),  # fill: the resting order
        ("maker_leaves_lots", np.int64),  # fill: what the resting order has left
        ("trade_id", np.int64),  # fill: per-instrument trade number, from 1
        ("aux", np.int64),  # kind-specific: accepted = trigger_ticks, triggered = last price
        ("account", np.int32),
        ("instrument", np.int32),
        ("maker_account", np.int32),  # fill: the resting order's account
        ("kind", np.uint8),  # EV_*
        ("side", np.uint8),  # the order's side; on a fill, the aggressor's side
        ("reason", np.uint16),  # reason code (matching.reasons) for rejects, cancels, status
        ("order_type", np.uint8),
        ("tif", np.uint8),
        ("cmd_kind", np.uint8),  # CMD_* of the command that caused the event
        ("flags", np.uint8),  # EVF_* bits, or the order's FLAG_* bits on accepted
    ],
    align=True,
)

# Instrument parameters as the kernel sees them (static part, set by the Python wrapper).
INSTRUMENT_DTYPE = np.dtype(
    [
        ("min_qty_lots", np.int64),
        ("max_qty_lots", np.int64),
        ("band_bps", np.int64),  # limit price band around the reference price; 0 = none
        ("market_band_bps", np.int64),  # market order protection around best opposite; 0 = none
        ("ref_price_ticks", np.int64),  # reference price before the first trade
        ("last_price_ticks", np.int64),  # last trade price; 0 = no trade yet
        ("trade_count", np.int64),  # trades so far: the next trade id is trade_count + 1
        ("pending_stops", np.int64),  # stop orders waiting for their trigger
        ("resting", np.int64),  # orders resting in the book (both sides)
        ("ice_hidden", np.int64),  # hidden lots of resting icebergs (bounds refills)
        ("hdr", np.int32, (4,)),  # skip-list head level of: bids, asks, buy stops, sell stops
        ("kind", np.uint8),  # KIND_*
        ("halted", np.uint8),
        ("allow_nonpositive_price", np.uint8),
        ("defined", np.uint8),
    ],
    align=True,
)

# Book dump: the canonical, implementation-independent description of resting orders, in
# priority order (instrument, side, level, FIFO). Equal dumps mean equal books; its hash is the
# state hash shared by the numba engine and the reference book.
DUMP_DTYPE = np.dtype(
    [
        ("instrument", np.int32),
        ("side", np.uint8),  # 1 bid, 2 ask, 3 buy stop, 4 sell stop
        ("order_type", np.uint8),
        ("tif", np.uint8),
        ("flags", np.uint8),
        ("account", np.int32),
        ("stp_group", np.int32),
        ("order_id", np.int64),
        ("client_order_id", np.int64),
        ("price_ticks", np.int64),
        ("trigger_ticks", np.int64),
        ("qty_lots", np.int64),
        ("leaves_lots", np.int64),
        ("visible_lots", np.int64),
        ("display_lots", np.int64),
        ("expire_ns", np.int64),
        ("stp", np.uint8),
    ],
    align=True,
)

DUMP_BIDS = 1
DUMP_ASKS = 2
DUMP_BUY_STOPS = 3
DUMP_SELL_STOPS = 4


def new_commands(n: int) -> np.ndarray:
    """A zeroed batch of ``n`` command records. O(n)."""
    return np.zeros(n, dtype=COMMAND_DTYPE)


def new_events(n: int) -> np.ndarray:
    """A zeroed buffer for ``n`` event records. O(n)."""
    return np.zeros(n, dtype=EVENT_DTYPE)
