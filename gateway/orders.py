"""Values and exceptions of the client library: ``Order`` (a live view updated as the venue's
ExecutionReports arrive), ``Fill``, ``LiveOrder``, ``Balance``, ``Position``, and the
``VenueError`` hierarchy chosen by reject reason code (``exception_for``).

Import them from ``gateway.client`` (which re-exports everything public here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from gateway import protocol as p
from matching import reasons
from matching.instruments import Instrument

__all__ = [
    "AccountDisabled",
    "Balance",
    "Fill",
    "InstrumentRef",
    "InsufficientFunds",
    "InvalidOrder",
    "LiveOrder",
    "LogonRejected",
    "Order",
    "Position",
    "RateLimited",
    "RequestTimeout",
    "RiskRejected",
    "SessionEnded",
    "Side",
    "UnknownOrder",
    "VenueError",
    "exception_for",
]

Side = Literal["buy", "sell"]
InstrumentRef = str | int | Instrument


# --- exceptions ----------------------------------------------------------------------------
class VenueError(Exception):
    """The venue refused something. ``code`` is the reason code (``matching.reasons``), ``text``
    the venue's explanation; ``order`` is the rejected ``Order`` when there is one."""

    def __init__(self, code: int, text: str = "", order: Order | None = None) -> None:
        self.code = code
        self.text = text
        self.order = order
        super().__init__(f"{reasons.explain(code)}" + (f" ({text})" if text else ""))


class LogonRejected(VenueError):
    """Logon refused (unknown API key, wrong protocol version, ...)."""


class InvalidOrder(VenueError):
    """Refused by the gateway (1xxx) or by matching (3xxx): fix the request."""


class UnknownOrder(InvalidOrder):
    """3013 UNKNOWN_ORDER: no live order of this account has this id (filled, cancelled...)."""


class RiskRejected(VenueError):
    """Refused by the risk check (2xxx) for a reason without a more specific class."""


class InsufficientFunds(RiskRejected):
    """2002 INSUFFICIENT_BALANCE or 2003 INSUFFICIENT_MARGIN."""


class AccountDisabled(RiskRejected):
    """2004 ACCOUNT_DISABLED: only cancels are accepted."""


class RateLimited(VenueError):
    """The gateway throttled the session: slow down and retry."""


class SessionEnded(VenueError):
    """The venue ended the session (heartbeats stopped, rate abuse, logout) or never had one
    (NOT_LOGGED_ON): ``reconnect()``."""


class RequestTimeout(TimeoutError):
    """No reply from the venue within the timeout (the request may or may not have arrived)."""


class FailedOver(RequestTimeout):
    """The venue stopped answering this request and the client has failed over (logged on
    again, at whichever of its endpoints serves now, and resent its unacknowledged orders).
    The request itself may or may not have been executed: look (``order_status``,
    ``open_orders``) and retry."""


def _is_rate_code(code: int) -> bool:
    """True for the gateway's throttle codes: any reason whose name contains ``RATE``, so the
    client needs no change when the gateway adds (or renumbers, before publishing) them."""
    name = reasons.name(code)
    return "RATE" in name and not name.startswith("REASON_")


def exception_for(code: int) -> type[VenueError]:
    """The exception class for a reject reason code. O(1)."""
    name = reasons.name(code)
    if name in ("SESSION_ENDED", "NOT_LOGGED_ON"):
        return SessionEnded
    if name in ("BAD_CREDENTIALS", "UNSUPPORTED_VERSION"):
        return LogonRejected
    if code in (reasons.INSUFFICIENT_BALANCE, reasons.INSUFFICIENT_MARGIN):
        return InsufficientFunds
    if code == reasons.ACCOUNT_DISABLED:
        return AccountDisabled
    if code == reasons.UNKNOWN_ORDER:
        return UnknownOrder
    if _is_rate_code(code):
        return RateLimited
    stage = code // 1000
    if stage == 2:
        return RiskRejected
    if stage in (1, 3):
        return InvalidOrder
    return VenueError


def _code(name: str) -> int:
    """A gateway reason code by name (0 if this venue version does not define it)."""
    return int(getattr(reasons, name, 0))


def _raise(code: int, text: str, order: Order | None = None) -> None:
    raise exception_for(code)(code, text, order)


# --- values ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fill:
    """One execution of an order: exact size and price, and its fee (negative: a rebate)."""

    qty: Decimal
    price: Decimal
    fee_units: int  # in the settlement asset's smallest unit
    fee: Decimal | None  # the same in the asset (None while its scale is unknown)
    liquidity: str  # "maker" or "taker"
    trade_id: int
    ts_ns: int


@dataclass(eq=False)
class Order:
    """An order sent by this client (or reported to it). Updated in place as ExecutionReports
    arrive. ``status`` is ``"pending_new"`` until the venue's first report, then the venue's:
    new, partially_filled, filled, cancelled, rejected, pending (an untriggered stop)."""

    cl_ord_id: int
    instrument: Instrument = field(repr=False)
    side: Side
    qty: Decimal
    price: Decimal | None
    type: str = "limit"
    tif: str = "gtc"
    status: str = "pending_new"
    order_id: int = 0
    cum_qty: Decimal = Decimal(0)
    leaves_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fills: list[Fill] = field(default_factory=list)
    fee_units: int = 0
    fee: Decimal | None = None  # sum of the fills' fees in the settlement asset
    reason: int = 0
    text: str = ""
    duplicate: bool = False  # the venue answered a resend: this was already live
    reports: list[p.ExecutionReport] = field(default_factory=list, repr=False)
    _sent: p.NewOrder | None = field(default=None, repr=False)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def __repr__(self) -> str:
        avg = f" avg={self.avg_price}" if self.avg_price is not None else ""
        why = f" reason={self.reason}" if self.reason else ""
        return (
            f"<Order {self.cl_ord_id} #{self.order_id} {self.side} {self.qty} {self.symbol}"
            f" @ {self.price} {self.status} filled={self.cum_qty}{avg}{why}>"
        )

    @property
    def acknowledged(self) -> bool:
        """True once the venue has answered this order (accepted or rejected)."""
        return bool(self.reports)

    @property
    def is_live(self) -> bool:
        return self.status in ("pending_new", "new", "partially_filled", "pending")

    @property
    def is_done(self) -> bool:
        return self.status in ("filled", "cancelled", "rejected")


@dataclass(frozen=True)
class LiveOrder:
    """The venue's view of one live order (``open_orders``, ``order_status``)."""

    order_id: int
    cl_ord_id: int
    symbol: str
    side: str
    type: str
    tif: str
    price: Decimal
    qty: Decimal
    leaves_qty: Decimal
    trigger: Decimal | None


@dataclass(frozen=True)
class Balance:
    asset: str
    total: Decimal
    held: Decimal
    available: Decimal


@dataclass(frozen=True)
class Position:
    """Net position (positive long). ``avg_entry`` is cost / qty rounded to the decimal
    context's precision (the exact integers are ``qty_lots`` and ``cost``: ticks x lots)."""

    symbol: str
    qty: Decimal
    avg_entry: Decimal | None
    unrealised: Decimal | None
    qty_lots: int
    cost: int
    unrealised_units: int
