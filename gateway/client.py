"""Client library for the order-entry gateway: Decimals in, Decimals out, typed exceptions.

``Client.connect(endpoint, api_key)`` opens a ZeroMQ DEALER socket (linger 0), logs on, and
fetches the venue's instruments, so that every call can take a symbol and exact Decimal (or
string) prices and sizes; they are converted to ticks and lots with the instrument's grid, and a
value off the grid raises ``OffGridError`` before anything is sent. Floats are refused.

The client is synchronous and single-threaded (no background thread): incoming messages are
processed whenever a method waits for a reply, or when you call ``poll(timeout)``. A Heartbeat is
sent from inside those calls once ``heartbeat_ms`` has passed since the last message sent, so a
client that stays idle for long (more than ``heartbeat_ms``) must call ``poll()`` or
``heartbeat()`` now and then, or the venue ends the session (and, with cancel-on-disconnect,
cancels its orders). Every wait is bounded by ``timeout``: a missing reply raises
``RequestTimeout``, never hangs. A ``Client`` must not be shared between threads.

``Order`` objects are live views: their status, fills, average price and fees update as the
venue's ExecutionReports arrive (during any later call or ``poll``). Rejects raise subclasses of
``VenueError`` chosen by the reason code (``exception_for``). ``reconnect()`` logs on again on a
new socket and resends every order that was sent but never acknowledged, with the same
cl_ord_id: the venue answers a resent live cl_ord_id with that order's state
(``duplicate=True``) instead of creating it twice.

``AsyncClient`` offers the same calls as coroutines over ``zmq.asyncio``. Both share one
sans-I/O core (``_Core``) that builds requests and applies replies; the two classes only move
frames and wait.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import zmq

from gateway import protocol as p
from gateway.aclient import AsyncClient
from gateway.client_core import _Core, _Op, apply_curve
from gateway.orders import (
    AccountDisabled,
    Balance,
    FailedOver,
    Fill,
    InstrumentRef,
    InsufficientFunds,
    InvalidOrder,
    LiveOrder,
    LogonRejected,
    Order,
    Position,
    RateLimited,
    RequestTimeout,
    RiskRejected,
    SessionEnded,
    UnknownOrder,
    VenueError,
    exception_for,
)
from matching.instruments import DecimalLike, Instrument

__all__ = [
    "AccountDisabled",
    "AsyncClient",
    "Balance",
    "Client",
    "FailedOver",
    "Fill",
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
    "UnknownOrder",
    "VenueError",
    "exception_for",
]

T = TypeVar("T")


# --- the synchronous client ----------------------------------------------------------------
class Client:
    """A synchronous session with the venue. Build with ``Client.connect``."""

    def __init__(
        self,
        endpoint: str | Sequence[str],
        api_key: str,
        *,
        timeout: float = 5.0,
        heartbeat_ms: int = 1000,
        cancel_on_disconnect: bool = True,
        cod_keep_gtc: bool = False,
        curve_server_key: bytes | str | None = None,
        curve_keypair: tuple[bytes | str, bytes | str] | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        """Not connected yet: use ``Client.connect`` (or call ``open()``)."""
        self.endpoints = [endpoint] if isinstance(endpoint, str) else list(endpoint)
        if not self.endpoints:
            raise ValueError("no endpoint given")
        self.endpoint = self.endpoints[0]
        self.failover_s = 10.0  # how long a failover keeps trying to log on again
        self.failovers = 0
        self._failing_over = False
        self.timeout = timeout
        self.heartbeat_ms = heartbeat_ms
        self._api_key = api_key
        self._cod = cancel_on_disconnect
        self._cod_keep_gtc = cod_keep_gtc
        self._curve = (curve_server_key, curve_keypair)
        self._ctx = context or zmq.Context.instance()
        self._core = _Core()
        self._sock: zmq.Socket[Any] | None = None
        self._last_send = 0.0
        self.logged_on = False

    @classmethod
    def connect(
        cls,
        endpoint: str | Sequence[str],
        api_key: str,
        *,
        timeout: float = 5.0,
        heartbeat_ms: int = 1000,
        cancel_on_disconnect: bool = True,
        cod_keep_gtc: bool = False,
        curve_server_key: bytes | str | None = None,
        curve_keypair: tuple[bytes | str, bytes | str] | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> Client:
        """Connect, log on (``LogonRejected`` on a bad key), fetch the instruments and the
        account's live orders. ``RequestTimeout`` if the venue does not answer in ``timeout``
        seconds. CURVE: pass the venue's public key (z85) and this client's ``(public, secret)``
        keypair (z85), whose public key the venue must allow (``curve_allowed_clients``); a key
        the venue does not allow never completes the handshake: ``RequestTimeout``. Without a
        keypair a fresh one is made (only a venue allowing any key would accept it).

        ``endpoint`` may be a list (a primary and its hot standbys, docs/durability.md): the
        client connects to all of them and only a serving venue binds, so only it hears the
        client. When a request goes unanswered or the session ends, the client fails over: it
        logs on again wherever a venue serves (trying for ``failover_s`` seconds) and resends
        its unacknowledged orders; an order call then completes there, any other call raises
        ``FailedOver`` (it may or may not have been executed)."""
        c = cls(
            endpoint,
            api_key,
            timeout=timeout,
            heartbeat_ms=heartbeat_ms,
            cancel_on_disconnect=cancel_on_disconnect,
            cod_keep_gtc=cod_keep_gtc,
            curve_server_key=curve_server_key,
            curve_keypair=curve_keypair,
            context=context,
        )
        try:
            c.open()
        except BaseException:
            c.close()
            raise
        return c

    # --- plumbing --------------------------------------------------------------------------
    def _new_socket(self) -> zmq.Socket[Any]:
        sock = self._ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.sndtimeo = max(int(self.timeout * 1000), 0)
        try:
            apply_curve(sock, *self._curve)
        except BaseException:
            sock.close(linger=0)
            raise
        if len(self.endpoints) > 1:
            sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only to a venue that is there
        for ep in self.endpoints:
            sock.connect(ep)
        return sock

    def open(self) -> None:
        """Open the socket, log on, fetch instruments, balances (for the assets' scales) and
        open orders (to start cl_ord_ids above any live one)."""
        self._sock = self._new_socket()
        self._logon()
        self._run(self._core.fetch_instruments())
        self.balances()
        self._core.seed_from_open_orders(self.open_orders())

    def _logon(self) -> None:
        c = self._core
        self._run(c.logon(self._api_key, self.heartbeat_ms, self._cod, self._cod_keep_gtc))
        self.logged_on = True

    def _send(self, msg: p._In) -> None:
        if self._sock is None:
            raise ConnectionError("client is closed")
        try:
            self._sock.send(self._core.codec.encode(msg))
        except zmq.Again:
            raise RequestTimeout(f"could not send {type(msg).__name__} in time") from None
        self._last_send = time.monotonic()

    def _drain(self) -> int:
        assert self._sock is not None
        n = 0
        while True:
            try:
                frame = self._sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return n
            self._core.handle(frame)
            n += 1

    def _heartbeat_due(self) -> float:
        """Seconds until the next heartbeat is due (<= 0: now)."""
        return self._last_send + self.heartbeat_ms / 1000 - time.monotonic()

    def _tick(self) -> None:
        if self.logged_on and self.heartbeat_ms > 0 and self._heartbeat_due() <= 0:
            self._send(p.Heartbeat())

    def _run(self, op: _Op[T], timeout: float | None = None) -> T:
        """Send the op's messages, process incoming ones until it is done, return its result.
        Bounded by ``timeout`` (default: the client's). With several endpoints an unanswered
        request or an ended session fails over (``connect``)."""
        try:
            return self._wait(op, timeout)
        except (RequestTimeout, SessionEnded):
            session = op.msgs and isinstance(op.msgs[0], p.Logon | p.Logout)
            if len(self.endpoints) < 2 or self._failing_over or session or not op.msgs:
                raise
        self._fail_over(timeout)
        resends, rest = self._core.after_failover(op, self.endpoints)
        for resend in resends:
            self._wait(resend, timeout)
        return self._wait(rest, timeout)

    def _fail_over(self, timeout: float | None) -> None:
        """Log on again wherever a venue serves now and resend unacknowledged orders; keep
        trying for ``failover_s`` seconds (a standby takes over within about one)."""
        self._failing_over = True
        deadline = time.monotonic() + self.failover_s
        try:
            while True:
                try:
                    self.reconnect(timeout)
                    self.failovers += 1
                    return
                except (RequestTimeout, SessionEnded):
                    if time.monotonic() > deadline:
                        raise
        finally:
            self._failing_over = False

    def _wait(self, op: _Op[T], timeout: float | None = None) -> T:
        if self._sock is None:
            raise ConnectionError("client is closed")
        rate0 = self._core.rate_limited
        for m in op.msgs:
            self._send(m)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        self._drain()
        while not op.done():
            left = deadline - time.monotonic()
            self._core.check(op, rate0, left <= 0, limit)
            self._tick()
            step = left
            if self.logged_on and self.heartbeat_ms > 0:
                step = min(step, max(self._heartbeat_due(), 0.001))
            if self._sock.poll(max(int(step * 1000), 1), zmq.POLLIN):
                self._drain()
        self._drain()  # whatever else has arrived (e.g. the fills after an order's "new")
        return op.result()

    def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        """Process incoming messages until ``condition()`` holds (e.g. ``lambda: order.is_done``)
        or raise ``RequestTimeout``. Heartbeats go out meanwhile."""
        self._run(_Op([], condition, lambda: None), timeout)

    # --- public API ------------------------------------------------------------------------
    @property
    def account(self) -> int:
        return self._core.account

    @property
    def session(self) -> int:
        return self._core.session

    @property
    def instruments(self) -> dict[str, Instrument]:
        """Every instrument of the venue by symbol."""
        return dict(self._core.by_symbol)

    @property
    def orders(self) -> dict[int, Order]:
        """Every order this client knows, by cl_ord_id."""
        return self._core.orders

    def instrument(self, ref: InstrumentRef) -> Instrument:
        return self._core.instrument(ref)

    def on_report(self, listener: Callable[[Order, p.ExecutionReport], None]) -> None:
        """Call ``listener(order, report)`` after every execution report is applied (during
        any call or ``poll``): fills of resting orders arrive this way too."""
        self._core.report_listeners.append(listener)

    def poll(self, timeout: float = 0.0) -> int:
        """Process incoming messages for up to ``timeout`` seconds (returns early after the
        first batch); sends a heartbeat if one is due. Returns how many were processed."""
        if self._sock is None:
            raise ConnectionError("client is closed")
        self._tick()
        n = self._drain()
        if n or timeout <= 0:
            return n
        if self._sock.poll(max(int(timeout * 1000), 1), zmq.POLLIN):
            n = self._drain()
        self._tick()
        return n

    def heartbeat(self) -> None:
        """Send a Heartbeat now (and process whatever has arrived)."""
        self._send(p.Heartbeat())
        self._drain()

    def submit(
        self,
        instrument: InstrumentRef,
        side: str,
        qty: DecimalLike,
        price: DecimalLike | None = None,
        type: str = "limit",
        tif: str = "gtc",
        trigger: DecimalLike | None = None,
        display: DecimalLike | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        stp: str = "none",
        expire_ns: int = 0,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Order:
        """Send a new order. ``price``/``qty`` (and ``trigger``, ``display``: an iceberg's
        shown size) are Decimals or strings on the instrument's grid, else ``OffGridError``
        and nothing is sent. With ``wait`` (default) returns after the venue's first report,
        raising the reject's ``VenueError`` subclass; without, returns at once."""
        op = self._core.new_order(
            instrument,
            side,
            qty,
            price,
            type=type,
            tif=tif,
            trigger=trigger,
            display=display,
            post_only=post_only,
            reduce_only=reduce_only,
            stp=stp,
            expire_ns=expire_ns,
            wait=wait,
        )
        return self._run(op, timeout)

    def buy(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        """``submit(instrument, "buy", qty, price, **kw)``; no price: a market order."""
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return self.submit(instrument, "buy", qty, price, **kw)

    def sell(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        """``submit(instrument, "sell", qty, price, **kw)``; no price: a market order."""
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return self.submit(instrument, "sell", qty, price, **kw)

    def cancel(self, order: Order | int, timeout: float | None = None) -> Order | None:
        """Cancel an order (an ``Order`` or a venue order id); waits for the venue's answer.
        ``UnknownOrder`` when it is no longer live."""
        return self._run(self._core.cancel(order), timeout)

    def amend(
        self,
        order: Order,
        price: DecimalLike | None = None,
        qty: DecimalLike | None = None,
        timeout: float | None = None,
    ) -> Order:
        """Change price and/or total quantity; waits for the venue's answer."""
        return self._run(self._core.amend(order, price, qty), timeout)

    def mass_cancel(
        self, symbol: InstrumentRef | None = None, side: str = "both", timeout: float | None = None
    ) -> list[Order]:
        """Cancel every live order of the account (on one instrument and/or side); returns the
        orders the venue reported cancelled."""
        return self._run(self._core.mass_cancel(symbol, side), timeout)

    def order_status(self, order: Order | int, timeout: float | None = None) -> LiveOrder | None:
        """The venue's view of a live order; None when it is not live (done or unknown)."""
        return self._run(self._core.order_status(order), timeout)

    def open_orders(
        self, symbol: InstrumentRef | None = None, timeout: float | None = None
    ) -> list[LiveOrder]:
        return self._run(self._core.open_orders(symbol), timeout)

    def balances(self, timeout: float | None = None) -> dict[str, Balance]:
        return self._run(self._core.balances(), timeout)

    def positions(self, timeout: float | None = None) -> dict[str, Position]:
        return self._run(self._core.positions(), timeout)

    def reconnect(self, timeout: float | None = None) -> list[Order]:
        """Drop the socket, open a new one, log on again and resend every NewOrder sent but
        never acknowledged (same cl_ord_id: a live one comes back ``duplicate=True``). Waits
        for their answers and returns the resent orders.

        A Logout is attempted on the old socket first: if the venue still hears it, the old
        session ends at once without cancel-on-disconnect (which would cancel the account's
        orders, the new session's included, once the old session's heartbeats stop)."""
        self._abandon_socket()
        self._sock = self._new_socket()
        self._logon()
        pending = self._core.unacknowledged()
        for order in pending:
            self._run(self._core.resend(order), timeout)
        return pending

    def _abandon_socket(self) -> None:
        if self._sock is not None:
            if self.logged_on:
                with contextlib.suppress(zmq.ZMQError):
                    msg = p.Logout(req=self._core.req())
                    self._core.finish(msg.req)
                    self._sock.send(self._core.codec.encode(msg), zmq.NOBLOCK)
                self._sock.close(linger=200)  # lets the Logout leave; close does not block
            else:
                self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False

    def logout(self, timeout: float | None = None) -> None:
        """End the session (the venue answers SESSION_ENDED; its Logout keeps the account's
        orders: cancel-on-disconnect applies only when heartbeats stop), then close."""
        try:
            if self._sock is not None and self.logged_on:
                with contextlib.suppress(RequestTimeout, VenueError, zmq.ZMQError):
                    self._run(
                        self._core.logout(), min(self.timeout, 1.0) if timeout is None else timeout
                    )
        finally:
            self.close()

    def close(self) -> None:
        """Close the socket (no Logout: the venue sees the session time out)."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.logout()
        else:
            self.close()
