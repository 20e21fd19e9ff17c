"""The operator's control socket: kill switches, halts and a look at the sessions, from outside
the venue process (``venue admin ...``).

A ROUTER on a loopback endpoint, served by the gateway's own thread (``GatewayServer.pollers``),
so a command acts at a definite point between two batches and never races the loop. Every
request carries the admin token (from the configuration, or generated at start and written to
``<data_dir>/admin.token`` with mode 0600); a wrong token is refused and logged. The socket
binds to loopback only: an operator controls the venue from its own host (or through an SSH
tunnel), never over the network in clear text.

Requests and replies are msgspec Structs in MessagePack, like order entry: a tagged union in,
one ``AdminReply`` out (``ok``, ``text`` for a person, ``data`` for a program).
"""

from __future__ import annotations

import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import zmq

from gateway.curve import is_loopback

if TYPE_CHECKING:
    from gateway.server import GatewayServer

DEFAULT_ADMIN_BIND = "tcp://127.0.0.1:7004"  # venue run: the order-entry port + 3
TOKEN_FILE = "admin.token"


class _Req(msgspec.Struct, tag_field="t", forbid_unknown_fields=True, kw_only=True):
    token: str


class KillSwitch(_Req, tag="kill_switch"):
    """Cancel every order of ``account`` and refuse its new orders except reduce-only (``on``);
    or lift the block (``on`` false)."""

    account: int
    on: bool = True


class Halt(_Req, tag="halt"):
    """Halt an instrument market-wide (``on``), or resume it. ``instrument``: id or symbol."""

    instrument: int | str
    on: bool = True


class SetChaos(_Req, tag="chaos"):
    """Chaos for one account's sessions (``account``), or for every session (0): the fields
    of ``gateway.chaos.SessionChaos``. All zero switches it off."""

    account: int = 0
    reply_delay_ms: float = 0.0
    reply_jitter_ms: float = 0.0
    reject_probability: float = 0.0
    rate_per_s: float = 0.0
    burst: int = 0
    disconnects_per_min: float = 0.0


class Sessions(_Req, tag="sessions"):
    """The logged-on sessions."""


class Status(_Req, tag="status"):
    """Instruments (id, symbol, halted), kill switches, sessions, orders, next sequence."""


AdminRequest = KillSwitch | Halt | SetChaos | Sessions | Status


class AdminReply(msgspec.Struct, kw_only=True, omit_defaults=True):
    ok: bool
    text: str
    data: Any = None


def write_token(data_dir: Path, token: str | None = None) -> str:
    """Write ``token`` (or a new random one) to ``data_dir/admin.token``, readable by its owner
    only, and return it. O(1)."""
    token = token or secrets.token_urlsafe(24)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
    return token


class AdminService:
    """The control socket of one ``GatewayServer``. ``bind`` then ``attach`` (before the
    server starts); each request costs O(sessions + instruments) at most."""

    def __init__(self, server: GatewayServer, token: str) -> None:
        if len(token) < 16:
            raise ValueError("the admin token must be at least 16 characters")
        self.server = server
        self.token = token.encode()
        self.sock = server.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, 64 * 1024)
        self.decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(AdminRequest)
        self.encoder = msgspec.msgpack.Encoder()
        self.endpoint = ""
        self.refused = 0

    def bind(self, endpoint: str = DEFAULT_ADMIN_BIND) -> str:
        """Bind to a loopback endpoint (ValueError otherwise) and return it."""
        if not is_loopback(endpoint):
            raise ValueError(
                f"refusing to bind the admin socket to {endpoint}: it binds to loopback only "
                "(tcp://127.0.0.1:PORT or ipc://); control a venue from its own host"
            )
        self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return self.endpoint

    def attach(self) -> None:
        """Serve requests from the gateway's thread (``server.pollers``)."""
        self.server.pollers.append((self.sock, self.handle))

    def close(self) -> None:
        self.sock.close(linger=0)

    def handle(self) -> None:
        """Answer every pending request."""
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            reply = self._answer(frames)
            try:
                self.sock.send_multipart([frames[0], self.encoder.encode(reply)], zmq.NOBLOCK)
            except zmq.ZMQError:
                continue

    def _answer(self, frames: list[bytes]) -> AdminReply:
        if len(frames) != 2:
            return AdminReply(ok=False, text="one frame per request")
        try:
            req = self.decoder.decode(frames[1])
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            return AdminReply(ok=False, text=f"malformed request: {e}")
        if not hmac.compare_digest(req.token.encode(), self.token):
            self.refused += 1
            print(f"openvenue admin: refused a {type(req).__name__} request: bad token",
                  file=sys.stderr, flush=True)  # fmt: skip
            return AdminReply(ok=False, text="bad admin token")
        srv = self.server
        if isinstance(req, KillSwitch):
            if req.account < 1:
                return AdminReply(ok=False, text=f"account must be >= 1, not {req.account}")
            srv.kill_switch(req.account, req.on)
            if req.on:
                text = (f"kill switch ON for account {req.account}: its orders are cancelled "
                        "and only reduce-only orders are accepted")  # fmt: skip
            else:
                text = f"kill switch OFF for account {req.account}: new orders accepted again"
            return AdminReply(ok=True, text=text)
        if isinstance(req, Halt):
            inst = self._instrument(req.instrument)
            if inst is None:
                known = ", ".join(sorted(i.symbol for i in srv.ex.instruments.values()))
                return AdminReply(
                    ok=False, text=f"unknown instrument {req.instrument!r} (known: {known})"
                )
            srv.halt(inst.id, req.on)
            what = "halted" if req.on else "resumed"
            return AdminReply(ok=True, text=f"{inst.symbol} {what}", data={"instrument": inst.id})
        if isinstance(req, SetChaos):
            return self._chaos(req)
        if isinstance(req, Sessions):
            rows = self._sessions()
            return AdminReply(ok=True, text=f"{len(rows)} session(s)", data=rows)
        return AdminReply(ok=True, text="status", data=self._status())

    def _chaos(self, req: SetChaos) -> AdminReply:
        from gateway.chaos import Chaos, ChaosConfig, SessionChaos

        fields = {k: getattr(req, k) for k in SessionChaos.__dataclass_fields__}
        try:
            options = SessionChaos(**fields)
        except ValueError as e:
            return AdminReply(ok=False, text=str(e))
        srv = self.server
        if srv.chaos is None:
            Chaos(ChaosConfig()).attach(srv)
        srv.chaos.set_session(req.account or None, options)
        who = f"account {req.account}" if req.account else "every session"
        on = {k: v for k, v in fields.items() if v}
        text = f"chaos for {who}: " + (", ".join(f"{k}={v}" for k, v in on.items()) or "off")
        return AdminReply(ok=True, text=text)

    def _instrument(self, key: int | str) -> Any:
        insts = self.server.ex.instruments
        if isinstance(key, int):
            return insts.get(key)
        return next((i for i in insts.values() if i.symbol == key), None)

    def _sessions(self) -> list[dict[str, Any]]:
        import time

        now = time.monotonic()
        return [
            {
                "session": s.sid,
                "account": s.account,
                "heartbeat_ms": s.heartbeat_ms,
                "idle_ms": round((now - s.last_seen) * 1000, 1),
                "cancel_on_disconnect": s.cod,
                "pack": s.pack,
            }
            for s in sorted(self.server.sessions.values(), key=lambda s: s.sid)
            if s.account
        ]

    def _status(self) -> dict[str, Any]:
        srv = self.server
        status = srv.ex.status_table()
        insts = [
            {"id": i.id, "symbol": i.symbol, "halted": bool(status[i.id, 2])}
            for i in sorted(srv.ex.instruments.values(), key=lambda i: i.id)
        ]
        return {
            "instruments": insts,
            "killed_accounts": sorted(srv.killed),
            "sessions": len(self._sessions()),
            "open_orders": srv.ex.live_orders(),
            "next_seq": srv.ex.next_seq,
        }


class AdminClient:
    """``venue admin``'s side: one request, one reply, with a timeout that fails."""

    def __init__(self, endpoint: str, token: str, timeout_s: float = 5.0) -> None:
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.endpoint = endpoint
        self.token = token
        self.timeout_ms = int(timeout_s * 1000)
        self.decoder = msgspec.msgpack.Decoder(AdminReply)

    def request(self, msg: msgspec.Struct) -> AdminReply:
        """Send ``msg`` and wait for its reply; TimeoutError if the venue does not answer."""
        self.sock.send(msgspec.msgpack.encode(msg))
        if not self.sock.poll(self.timeout_ms):
            raise TimeoutError(
                f"no answer from {self.endpoint} within {self.timeout_ms} ms: is the venue "
                "running, and is this its admin endpoint?"
            )
        return self.decoder.decode(self.sock.recv())

    def kill_switch(self, account: int, on: bool = True) -> AdminReply:
        return self.request(KillSwitch(token=self.token, account=account, on=on))

    def halt(self, instrument: int | str, on: bool = True) -> AdminReply:
        return self.request(Halt(token=self.token, instrument=instrument, on=on))

    def chaos(self, account: int = 0, **options: Any) -> AdminReply:
        """Set chaos for ``account``'s sessions (0: every session); ``options`` are the fields
        of ``gateway.chaos.SessionChaos``."""
        return self.request(SetChaos(token=self.token, account=account, **options))

    def sessions(self) -> AdminReply:
        return self.request(Sessions(token=self.token))

    def status(self) -> AdminReply:
        return self.request(Status(token=self.token))

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.destroy(linger=0)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
