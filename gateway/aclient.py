"""``AsyncClient``: the calls of ``gateway.client.Client`` as coroutines over ``zmq.asyncio``,
on the same sans-I/O core (``gateway.client_core``). Import it from ``gateway.client``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import zmq
import zmq.asyncio

from gateway import protocol as p
from gateway.client_core import _Core, _Op, apply_curve
from gateway.orders import (
    Balance,
    InstrumentRef,
    LiveOrder,
    Order,
    Position,
    RequestTimeout,
    SessionEnded,
    VenueError,
)
from matching.instruments import DecimalLike, Instrument

__all__ = ["AsyncClient"]

T = TypeVar("T")


# --- the asyncio client --------------------------------------------------------------------
class AsyncClient:
    """``Client``'s calls as coroutines over ``zmq.asyncio``. Build with
    ``await AsyncClient.connect(...)``. Messages are processed while a call awaits a reply or
    in ``await poll(timeout)``; heartbeats are sent from inside those calls."""

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
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.endpoints = [endpoint] if isinstance(endpoint, str) else list(endpoint)
        if not self.endpoints:
            raise ValueError("no endpoint given")
        self.endpoint = self.endpoints[0]
        self.failover_s = 10.0
        self.failovers = 0
        self._failing_over = False
        self.timeout = timeout
        self.heartbeat_ms = heartbeat_ms
        self._api_key = api_key
        self._cod = cancel_on_disconnect
        self._cod_keep_gtc = cod_keep_gtc
        self._curve = (curve_server_key, curve_keypair)
        self._ctx = context or zmq.asyncio.Context.instance()
        self._core = _Core()
        self._sock: zmq.asyncio.Socket | None = None
        self._last_send = 0.0
        self.logged_on = False

    @classmethod
    async def connect(
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
        context: zmq.asyncio.Context | None = None,
    ) -> AsyncClient:
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
            await c.open()
        except BaseException:
            c.close()
            raise
        return c

    def _new_socket(self) -> zmq.asyncio.Socket:
        sock = self._ctx.socket(zmq.DEALER)
        sock.linger = 0
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

    async def open(self) -> None:
        self._sock = self._new_socket()
        await self._logon()
        await self._run(self._core.fetch_instruments())
        await self.balances()
        self._core.seed_from_open_orders(await self.open_orders())

    async def _logon(self) -> None:
        c = self._core
        await self._run(c.logon(self._api_key, self.heartbeat_ms, self._cod, self._cod_keep_gtc))
        self.logged_on = True

    async def _send(self, msg: p._In) -> None:
        if self._sock is None:
            raise ConnectionError("client is closed")
        frame = self._core.codec.encode(msg)
        try:
            await self._sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:  # no connection yet (or a full queue): wait for one, bounded
            if not await self._sock.poll(max(int(self.timeout * 1000), 1), zmq.POLLOUT):  # type: ignore[call-arg]
                raise RequestTimeout(f"could not send {type(msg).__name__} in time") from None
            try:
                await self._sock.send(frame, zmq.NOBLOCK)
            except zmq.Again:
                raise RequestTimeout(f"could not send {type(msg).__name__}") from None
        self._last_send = time.monotonic()

    async def _drain(self) -> int:
        assert self._sock is not None
        n = 0
        while await self._sock.poll(0):
            self._core.handle(await self._sock.recv())
            n += 1
        return n

    def _heartbeat_due(self) -> float:
        return self._last_send + self.heartbeat_ms / 1000 - time.monotonic()

    async def _tick(self) -> None:
        if self.logged_on and self.heartbeat_ms > 0 and self._heartbeat_due() <= 0:
            await self._send(p.Heartbeat())

    async def _run(self, op: _Op[T], timeout: float | None = None) -> T:
        """As ``Client._run``, failover included."""
        try:
            return await self._wait(op, timeout)
        except (RequestTimeout, SessionEnded):
            session = op.msgs and isinstance(op.msgs[0], p.Logon | p.Logout)
            if len(self.endpoints) < 2 or self._failing_over or session or not op.msgs:
                raise
        await self._fail_over(timeout)
        resends, rest = self._core.after_failover(op, self.endpoints)
        for resend in resends:
            await self._wait(resend, timeout)
        return await self._wait(rest, timeout)

    async def _fail_over(self, timeout: float | None) -> None:
        self._failing_over = True
        deadline = time.monotonic() + self.failover_s
        try:
            while True:
                try:
                    await self.reconnect(timeout)
                    self.failovers += 1
                    return
                except (RequestTimeout, SessionEnded):
                    if time.monotonic() > deadline:
                        raise
        finally:
            self._failing_over = False

    async def _wait(self, op: _Op[T], timeout: float | None = None) -> T:
        if self._sock is None:
            raise ConnectionError("client is closed")
        rate0 = self._core.rate_limited
        for m in op.msgs:
            await self._send(m)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        await self._drain()
        while not op.done():
            left = deadline - time.monotonic()
            self._core.check(op, rate0, left <= 0, limit)
            await self._tick()
            step = left
            if self.logged_on and self.heartbeat_ms > 0:
                step = min(step, max(self._heartbeat_due(), 0.001))
            if await self._sock.poll(max(int(step * 1000), 1)):
                await self._drain()
        await self._drain()
        return op.result()

    async def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        await self._run(_Op([], condition, lambda: None), timeout)

    @property
    def account(self) -> int:
        return self._core.account

    @property
    def instruments(self) -> dict[str, Instrument]:
        return dict(self._core.by_symbol)

    @property
    def orders(self) -> dict[int, Order]:
        return self._core.orders

    def instrument(self, ref: InstrumentRef) -> Instrument:
        return self._core.instrument(ref)

    async def poll(self, timeout: float = 0.0) -> int:
        if self._sock is None:
            raise ConnectionError("client is closed")
        await self._tick()
        n = await self._drain()
        if n or timeout <= 0:
            return n
        if await self._sock.poll(max(int(timeout * 1000), 1)):
            n = await self._drain()
        await self._tick()
        return n

    async def heartbeat(self) -> None:
        await self._send(p.Heartbeat())
        await self._drain()

    async def submit(
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
        return await self._run(op, timeout)

    async def buy(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return await self.submit(instrument, "buy", qty, price, **kw)

    async def sell(
        self, instrument: InstrumentRef, qty: DecimalLike, price: DecimalLike | None = None,
        **kw: Any,
    ) -> Order:  # fmt: skip
        if price is None:
            kw.setdefault("type", "market")
            kw.setdefault("tif", "ioc")
        return await self.submit(instrument, "sell", qty, price, **kw)

    async def cancel(self, order: Order | int, timeout: float | None = None) -> Order | None:
        return await self._run(self._core.cancel(order), timeout)

    async def amend(
        self,
        order: Order,
        price: DecimalLike | None = None,
        qty: DecimalLike | None = None,
        timeout: float | None = None,
    ) -> Order:
        return await self._run(self._core.amend(order, price, qty), timeout)

    async def mass_cancel(
        self, symbol: InstrumentRef | None = None, side: str = "both", timeout: float | None = None
    ) -> list[Order]:
        return await self._run(self._core.mass_cancel(symbol, side), timeout)

    async def order_status(
        self, order: Order | int, timeout: float | None = None
    ) -> LiveOrder | None:
        return await self._run(self._core.order_status(order), timeout)

    async def open_orders(
        self, symbol: InstrumentRef | None = None, timeout: float | None = None
    ) -> list[LiveOrder]:
        return await self._run(self._core.open_orders(symbol), timeout)

    async def balances(self, timeout: float | None = None) -> dict[str, Balance]:
        return await self._run(self._core.balances(), timeout)

    async def positions(self, timeout: float | None = None) -> dict[str, Position]:
        return await self._run(self._core.positions(), timeout)

    async def reconnect(self, timeout: float | None = None) -> list[Order]:
        if self._sock is not None:
            if self.logged_on:
                with contextlib.suppress(zmq.ZMQError):
                    msg = p.Logout(req=self._core.req())
                    self._core.finish(msg.req)
                    await self._sock.send(self._core.codec.encode(msg), zmq.NOBLOCK)
                self._sock.close(linger=200)
            else:
                self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False
        self._sock = self._new_socket()
        await self._logon()
        pending = self._core.unacknowledged()
        for order in pending:
            await self._run(self._core.resend(order), timeout)
        return pending

    async def logout(self, timeout: float | None = None) -> None:
        try:
            if self._sock is not None and self.logged_on:
                with contextlib.suppress(RequestTimeout, VenueError, zmq.ZMQError):
                    t = min(self.timeout, 1.0) if timeout is None else timeout
                    await self._run(self._core.logout(), t)
        finally:
            self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        self.logged_on = False

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.logout()
        else:
            self.close()
