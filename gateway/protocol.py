"""The order-entry protocol: msgspec Structs in one tagged union, MessagePack on the wire.

Every message is one MessagePack map whose ``"t"`` field names the message (the tag). A ZeroMQ
frame holds one message, or a MessagePack array of up to ``MAX_PACKED`` messages (a packed frame:
one socket call for many orders; each message in it is handled exactly as if it came alone, in
order). The venue packs its replies to a session only if the session's Logon asked (``pack``).

Numbers on the wire are the engine's integers: prices in the instrument's
ticks, sizes in lots, money in the asset's smallest unit, times in nanoseconds; the client library
converts Decimals at the edge with the instrument's tick and lot (``Instruments`` tells them).
Inbound structs forbid unknown fields, so a typo is a reject that names it, not a silent default.

Encode and decode through ``Codec`` (one reused Encoder and Decoder per socket, as msgspec
recommends: building them is the expensive part). ``docs/protocol.md`` shows one exchange per
message.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from matching import records as _r

PROTOCOL_VERSION = 1
MAX_PACKED = 1024  # messages in one packed frame
# the first byte of a MessagePack array (fixarray, array 16, array 32): a packed frame
_ARRAY_FIRST_BYTES = frozenset([*range(0x90, 0xA0), 0xDC, 0xDD])

# wire names <-> the engine's codes (matching.records): one table each way, for every module
ORDER_TYPES = {
    "limit": _r.LIMIT, "market": _r.MARKET, "stop": _r.STOP_MARKET, "stop_limit": _r.STOP_LIMIT,
}  # fmt: skip
TIFS = {"gtc": _r.GTC, "ioc": _r.IOC, "fok": _r.FOK, "gtd": _r.GTD, "day": _r.DAY}
STPS = {
    "none": _r.STP_NONE, "cancel_taker": _r.STP_CANCEL_TAKER, "cancel_maker": _r.STP_CANCEL_MAKER,
    "cancel_both": _r.STP_CANCEL_BOTH, "decrement": _r.STP_DECREMENT,
}  # fmt: skip
SIDES = {"buy": _r.BUY, "sell": _r.SELL}
TYPE_NAMES = {v: k for k, v in ORDER_TYPES.items()}
TIF_NAMES = {v: k for k, v in TIFS.items()}
SIDE_NAMES = {v: k for k, v in SIDES.items()}


# gc=False: messages hold scalars and strings (query replies: lists of such Structs), never a
# cycle, so the garbage collector need not track the thousands a busy venue has in flight
class _In(
    msgspec.Struct,
    tag_field="t",
    forbid_unknown_fields=True,
    kw_only=True,
    omit_defaults=True,
    gc=False,
):
    """Client -> venue. ``req`` is echoed in the reply so that a client can match them."""

    req: int = 0


class _Out(msgspec.Struct, tag_field="t", kw_only=True, omit_defaults=True, gc=False):
    """Venue -> client."""

    req: int = 0


# --- client -> venue ---------------------------------------------------------------------------
class Logon(_In, tag="logon"):
    api_key: str
    version: int = PROTOCOL_VERSION
    heartbeat_ms: int = 5_000  # the client's heartbeat interval; the venue expects one per 2x
    cancel_on_disconnect: bool = True
    cod_keep_gtc: bool = False  # cancel-on-disconnect spares GTC orders (as CME's option)
    pack: bool = False  # the venue may send several replies in one frame (a MessagePack array)


class Logout(_In, tag="logout"):
    pass


class Heartbeat(_In, tag="hb"):
    pass


class NewOrder(_In, tag="new"):
    cl_ord_id: int  # > 0, unique per account among live orders
    instrument: int
    side: Literal["buy", "sell"]
    qty_lots: int
    price_ticks: int = 0  # limit price (limit, stop_limit)
    type: Literal["limit", "market", "stop", "stop_limit"] = "limit"
    tif: Literal["gtc", "ioc", "fok", "gtd", "day"] = "gtc"
    trigger_ticks: int = 0  # stop, stop_limit
    display_lots: int = 0  # iceberg tranche; 0 = fully displayed
    expire_ns: int = 0  # gtd
    post_only: bool = False
    reduce_only: bool = False
    stp: Literal["none", "cancel_taker", "cancel_maker", "cancel_both", "decrement"] = "none"


class Cancel(_In, tag="cancel"):
    order_id: int = 0  # the venue's id, or
    cl_ord_id: int = 0  # the client's id of a live order


class Amend(_In, tag="amend"):
    order_id: int = 0
    cl_ord_id: int = 0
    price_ticks: int = 0  # 0 = unchanged
    qty_lots: int = 0  # new total quantity; 0 = unchanged


class MassCancel(_In, tag="mass_cancel"):
    instrument: int = -1  # -1 = all
    side: Literal["both", "buy", "sell"] = "both"


class OrderStatus(_In, tag="status"):
    order_id: int = 0
    cl_ord_id: int = 0


class OpenOrders(_In, tag="open_orders"):
    instrument: int = -1


class Balances(_In, tag="balances"):
    pass


class Positions(_In, tag="positions"):
    pass


class Instruments(_In, tag="instruments"):
    pass


Inbound = (
    Logon
    | Logout
    | Heartbeat
    | NewOrder
    | Cancel
    | Amend
    | MassCancel
    | OrderStatus
    | OpenOrders
    | Balances
    | Positions
    | Instruments
)


# --- venue -> client ---------------------------------------------------------------------------
class LogonAck(_Out, tag="logon_ack"):
    account: int
    session: int  # the venue's id of this session
    version: int = PROTOCOL_VERSION
    heartbeat_ms: int = 5_000


class LogonReject(_Out, tag="logon_reject"):
    reason: int
    text: str


class HeartbeatAck(_Out, tag="hb_ack"):
    ts_ns: int = 0


ExecType = Literal[
    "new", "partial_fill", "fill", "cancelled", "amended", "rejected", "triggered", "expired"
]


class ExecutionReport(_Out, tag="exec"):
    exec_type: ExecType
    order_id: int
    cl_ord_id: int
    instrument: int
    side: Literal["buy", "sell"]
    status: Literal["new", "partially_filled", "filled", "cancelled", "rejected", "pending"]
    price_ticks: int = 0
    qty_lots: int = 0  # order quantity
    cum_lots: int = 0  # filled so far
    leaves_lots: int = 0
    avg_price: str = ""  # exact decimal price, "" before the first fill
    last_lots: int = 0  # this fill
    last_price_ticks: int = 0
    trade_id: int = 0
    fee: int = 0  # this fill's fee in the settlement asset's units (negative: rebate)
    liquidity: Literal["", "maker", "taker"] = ""
    reason: int = 0
    text: str = ""
    seq: int = 0  # the venue's sequence number of the command that caused it
    ts_ns: int = 0
    duplicate: bool = False  # a NewOrder resent with a live cl_ord_id: this is that order


class CancelReject(_Out, tag="cancel_reject"):
    order_id: int
    cl_ord_id: int
    reason: int
    text: str


class BusinessReject(_Out, tag="reject"):
    reason: int
    text: str
    ref: str = ""  # what was rejected: the message tag, or "frame"


class MassCancelAck(_Out, tag="mass_cancel_ack"):
    cancelled: int = 0  # orders cancelled
    reason: int = 0  # non-zero when the mass cancel was rejected
    text: str = ""


class OrderState(msgspec.Struct, kw_only=True, omit_defaults=True):
    order_id: int
    cl_ord_id: int
    instrument: int
    side: Literal["buy", "sell"]
    type: str
    tif: str
    price_ticks: int
    qty_lots: int
    leaves_lots: int
    trigger_ticks: int = 0


class OrderStatusReply(_Out, tag="status_reply"):
    order: OrderState | None = None


class OpenOrdersReply(_Out, tag="open_orders_reply"):
    orders: list[OrderState] = msgspec.field(default_factory=list)


class BalanceLine(msgspec.Struct, kw_only=True):
    asset: str
    scale: int  # one unit is 10**-scale of the asset
    total: int
    held: int
    available: int


class BalancesReply(_Out, tag="balances_reply"):
    balances: list[BalanceLine] = msgspec.field(default_factory=list)


class PositionLine(msgspec.Struct, kw_only=True):
    instrument: int
    qty_lots: int
    cost: int  # signed ticks x lots: average entry = cost / qty_lots
    unrealised: int  # settlement units at the mark


class PositionsReply(_Out, tag="positions_reply"):
    positions: list[PositionLine] = msgspec.field(default_factory=list)


class InstrumentInfo(msgspec.Struct, kw_only=True):
    id: int
    symbol: str
    kind: str
    tick_size: str
    lot_size: str
    min_qty_lots: int
    max_qty_lots: int
    base_asset: str = ""
    quote_asset: str = ""
    settlement_asset: str = ""
    multiplier: str = "1"
    expiry_ns: int = 0  # futures and options
    strike: str = ""  # options: a price in the underlying's units
    option_type: str = ""  # "call" or "put"
    underlying: str = ""  # the underlying's symbol


class InstrumentsReply(_Out, tag="instruments_reply"):
    instruments: list[InstrumentInfo] = msgspec.field(default_factory=list)


Outbound = (
    LogonAck
    | LogonReject
    | HeartbeatAck
    | ExecutionReport
    | CancelReject
    | BusinessReject
    | MassCancelAck
    | OrderStatusReply
    | OpenOrdersReply
    | BalancesReply
    | PositionsReply
    | InstrumentsReply
)


class Codec:
    """One reused MessagePack encoder and decoder for one direction. ``decode`` raises
    ``msgspec.ValidationError`` (wrong field or type: its message names the field) or
    ``msgspec.DecodeError`` (not MessagePack). O(message size)."""

    def __init__(self, inbound: bool) -> None:
        self._enc = msgspec.msgpack.Encoder()
        union = Inbound if inbound else Outbound
        self._dec: msgspec.msgpack.Decoder[object] = msgspec.msgpack.Decoder(union)
        self._many: msgspec.msgpack.Decoder[list[object]] = msgspec.msgpack.Decoder(
            list[union]  # type: ignore[valid-type]
        )

    def encode(self, msg: msgspec.Struct) -> bytes:
        return self._enc.encode(msg)

    def encode_many(self, msgs: list[msgspec.Struct]) -> bytes:
        """A packed frame: several messages as one MessagePack array. O(total size)."""
        return self._enc.encode(msgs)

    def decode(self, frame: bytes) -> object:
        """One message (not a packed frame)."""
        return self._dec.decode(frame)

    def decode_frame(self, frame: bytes) -> list[object]:
        """Every message of a frame, packed or not, in order. A packed frame longer than
        ``MAX_PACKED`` or with any invalid message raises as a whole (nothing of it is used).
        O(frame size)."""
        if frame[:1] and frame[0] in _ARRAY_FIRST_BYTES:
            msgs = self._many.decode(frame)
            if len(msgs) > MAX_PACKED:
                raise msgspec.ValidationError(
                    f"a packed frame holds at most {MAX_PACKED} messages, not {len(msgs)}"
                )
            return msgs
        return [self._dec.decode(frame)]


def venue_codec() -> Codec:
    """The venue's codec: decodes client messages."""
    return Codec(inbound=True)


def client_codec() -> Codec:
    """A client's codec: decodes venue messages."""
    return Codec(inbound=False)
