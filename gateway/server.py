"""The order-entry gateway: a ROUTER socket in front of the clearing pipeline.

One loop, one thread (``GatewayServer.start``), and per wakeup: drain every pending message,
decode each with the one reused decoder, turn the valid ones into command records stamped by the
sequencer (global seq, wall-clock ts), run ONE ``Exchange.process_into`` batch, then send every
reply. Never one engine call per message.

Sessions are bound to an account at Logon (API key from ``GatewayConfig.api_keys``). A session
sees only its account's orders: the engine answers another account's order id as unknown.
Per session: a token-bucket throttle (over it: ``RATE_LIMITED``; a burst of rejects ends the
session), a heartbeat deadline (twice the client's interval; when it passes the session ends
and, if the client asked for it, its account's orders are cancelled: ``CANCEL_DISCONNECT``).
libzmq's ROUTER_NOTIFY (peer-disconnect messages) is a draft API absent from pyzmq's wheels, so
a dropped connection is detected by its heartbeats stopping (ZMTP heartbeats are also on, so
dead TCP peers are dropped by libzmq itself). Frames above ``max_msg_bytes`` make libzmq drop
the connection (ZMQ_MAXMSGSIZE); anything else malformed gets a ``BusinessReject`` naming what
was wrong, and the venue goes on.

Operator controls (thread-safe, applied at the next wakeup): ``kill_switch``, ``halt``,
``resume``. Pre-trade controls from configuration: max order notional and max open orders per
account (the price band and max size are the instrument's, checked by the engine).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import zmq

from clearing.exchange import Exchange
from clearing.records import L_FEE, L_REBATE
from gateway import curve as Z
from gateway import protocol as P
from gateway.queries import answer_query
from matching import reasons as R
from matching.api import FIELD_BOUNDS, FIELD_INDEX
from matching.records import (
    CMD_AMEND,
    CMD_CANCEL,
    CMD_HALT,
    CMD_MASS_CANCEL,
    CMD_NEW,
    CMD_RESUME,
    COMMAND_DTYPE,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_FILL,
    EV_MASS_CANCELLED,
    EV_REJECTED,
    EV_TRIGGERED,
    EVENT_DTYPE,
    FLAG_POST_ONLY,
    FLAG_REDUCE_ONLY,
    GTC,
    STOP_LIMIT,
    STOP_MARKET,
)

_N_FIELDS = len(FIELD_INDEX)
ORDER_TYPES, TIFS, STPS, SIDES = P.ORDER_TYPES, P.TIFS, P.STPS, P.SIDES
SIDE_NAMES: dict[int, Any] = dict(P.SIDE_NAMES)
EXPIRY_REASONS = {R.CANCEL_EXPIRED, R.CANCEL_DAY_END}


@dataclass(frozen=True)
class GatewayConfig:
    """Who may log on and how fast. ``api_keys`` maps a key to its account."""

    api_keys: dict[str, int] = field(default_factory=dict)
    rate_per_s: float = 20_000.0  # token bucket refill per session
    burst: int = 40_000  # bucket size
    abuse_rejects: int = 10_000  # consecutive throttled messages that end the session
    max_msg_bytes: int = 64 * 1024
    max_batch: int = 1024  # messages drained per wakeup (bounds one step's latency)
    max_open_orders: int = 0  # per account; 0 = no limit
    max_notional: int = 0  # settlement units per order; 0 = no limit
    zmtp_heartbeat_ms: int = 1000
    # CURVE (gateway.curve): set the secret key to encrypt, and only these client keys get in
    curve_secret_key: bytes | None = None  # z85; None: plaintext, loopback binds only
    curve_public_key: bytes | None = None  # z85; None: derived from the secret key
    curve_allowed_clients: tuple[bytes, ...] = ()  # z85 public keys of the clients let in


@dataclass
class Session:
    identity: bytes
    sid: int
    account: int = 0
    heartbeat_ms: int = 5000
    cod: bool = True
    cod_keep_gtc: bool = False
    last_seen: float = 0.0
    tokens: float = 0.0
    refilled: float = 0.0
    throttled: int = 0  # consecutive throttled messages


@dataclass
class Track:
    """What the gateway remembers of an order to build its reports."""

    account: int
    cl_ord_id: int
    instrument: int
    side: int
    order_type: int
    tif: int
    price: int
    qty: int
    trigger: int = 0
    sid: int = 0  # the session that placed it (0: not placed through this gateway)
    cum: int = 0
    notional: int = 0  # sum of price x lots filled


class GatewayServer:
    """The venue's order-entry endpoint. ``bind`` then ``start`` (or drive ``step`` yourself)."""

    def __init__(
        self, exchange: Exchange, config: GatewayConfig, ctx: zmq.Context[Any] | None = None
    ) -> None:
        self.ex = exchange
        self.config = config
        on = config.curve_secret_key is not None  # ZAP: one per context, so CURVE owns its own
        self._own_ctx = ctx is None and on
        self.ctx = ctx or (zmq.Context() if on else zmq.Context.instance())
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, config.max_msg_bytes)
        self.sock.setsockopt(zmq.HEARTBEAT_IVL, config.zmtp_heartbeat_ms)
        self.sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * config.zmtp_heartbeat_ms)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        self.sock.setsockopt(zmq.RCVHWM, 100_000)
        self.codec = P.venue_codec()
        self.sessions: dict[bytes, Session] = {}
        self._by_account: dict[int, list[Session]] = {}  # logged-on sessions per account
        self.tracks: dict[int, Track] = {}
        self.live_by_cl: dict[tuple[int, int], int] = {}  # (account, cl_ord_id) -> order id
        self.open_count: dict[int, int] = {}
        self.killed: set[int] = set()
        self._next_sid = 1
        self._ops: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events = np.zeros(1 << 16, dtype=EVENT_DTYPE)
        self._last_ts = 0
        self._inst = self.ex.instruments
        self.endpoint = ""
        # Downstream of matching, never upstream: each listener gets every batch's events (a
        # view valid only during the call) after that batch's replies were sent (market data).
        self.listeners: list[Callable[[np.ndarray], None]] = []
        # The write-ahead journal (issue #7): ``append(cmds)`` gets every stamped batch before
        # it runs, ``commit()`` is called before any reply of that batch leaves the process.
        self.journal: Any = None
        # Other sockets served by this loop's thread (e.g. the market-data snapshot service, so
        # that a snapshot reads the engine at exactly the sequence last published): ``handler()``
        # is called when its socket is readable; add them before ``start``.
        self.pollers: list[tuple[zmq.Socket[Any], Callable[[], None]]] = []
        # per wakeup: replies per peer (with the position of the message each answers), and
        # per command of the batch its session, request id, message and position
        self._out: dict[bytes, list[tuple[int, msgspec.Struct]]] = {}
        self._origin: list[tuple[Session | None, int, Any]] = []
        self._cmd_pos: list[int] = []
        self._pos = 0
        self._n = 0
        self.auth: Any = None
        self.curve_public_key: bytes | None = None
        if on:
            try:  # never a CURVE server without its authenticator: it would let anyone in
                self.curve_public_key, self.auth = Z.secure(self.sock, self.ctx, config)
            except BaseException:
                self.stop()
                raise

    # --- lifecycle ---------------------------------------------------------------------------
    def bind(self, endpoint: str = "tcp://127.0.0.1:*") -> str:
        """Bind and return the concrete endpoint (``*`` port: a random free one). Without CURVE
        only loopback endpoints: ValueError otherwise."""
        Z.check_bind(endpoint, self.config.curve_secret_key is not None)
        self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return self.endpoint

    def start(self) -> None:
        """Run the loop in a background thread until ``stop``."""
        self._thread = threading.Thread(target=self.serve, name="gateway", daemon=True)
        self._thread.start()

    def serve(self) -> None:
        """The loop ``start`` runs: wait for a message (at most 5 ms, for heartbeat deadlines and
        operator commands), then one ``step``; then the other sockets in ``pollers``."""
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        handlers = {}
        for sock, handler in self.pollers:
            poller.register(sock, zmq.POLLIN)
            handlers[sock] = handler
        while not self._stop.is_set():
            ready = dict(poller.poll(5))
            self.step()
            for sock, handler in handlers.items():
                if sock in ready:
                    handler()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sock.close(linger=0)
        if self.auth is not None:
            self.auth.stop()
            self.auth = None
        if self._own_ctx:
            self.ctx.destroy(linger=0)

    # --- operator controls (thread-safe) -----------------------------------------------------
    def kill_switch(self, account: int, on: bool = True) -> None:
        """Cancel everything of ``account`` and block its new orders except reduce-only."""

        def op() -> None:
            if on:
                self.killed.add(account)
                self._admin_cmds.append(
                    dict(
                        kind=CMD_MASS_CANCEL,
                        account=account,
                        instrument=-1,
                        reason=R.CANCEL_KILL_SWITCH,
                    )
                )
            else:
                self.killed.discard(account)

        self._ops.put(op)

    def halt(self, instrument: int, on: bool = True) -> None:
        """Halt (or resume) an instrument market-wide."""
        kind = CMD_HALT if on else CMD_RESUME
        self._ops.put(lambda: self._admin_cmds.append(dict(kind=kind, instrument=instrument)))

    # --- durable state (issue #7) --------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """What the gateway must keep across a restart, as plain builtins (msgspec/pickle-able):
        the order tracks (reports and duplicate detection), open-order counts, kill switches
        and the next session number. Sessions themselves end with the process. O(live orders)."""
        return {
            "version": 1,
            "tracks": [
                (oid, t.account, t.cl_ord_id, t.instrument, t.side, t.order_type, t.tif,
                 t.price, t.qty, t.trigger, t.cum, t.notional)
                for oid, t in self.tracks.items()
            ],
            "killed": sorted(self.killed),
            "next_sid": self._next_sid,
        }  # fmt: skip

    def import_state(self, state: dict[str, Any]) -> None:
        """Restore ``export_state()`` output (before ``start``); O(live orders)."""
        if state.get("version") != 1:
            raise ValueError(f"gateway state version {state.get('version')!r} is not 1")
        self.tracks.clear()
        self.live_by_cl.clear()
        self.open_count.clear()
        for row in state["tracks"]:
            oid, acct, cl, inst, side, ot, tif, px, qty, trig, cum, notional = row
            t = Track(acct, cl, inst, side, ot, tif, px, qty, trig, 0, cum, notional)
            self.tracks[oid] = t
            if cl:
                self.live_by_cl[(acct, cl)] = oid
            self.open_count[acct] = self.open_count.get(acct, 0) + 1
        self.killed = set(state["killed"])
        self._next_sid = int(state["next_sid"])

    def replay_batch(self, cmds: np.ndarray) -> int:
        """Run an already stamped batch (from the journal) exactly as a live wakeup would, with
        no session to answer: the engine, clearing and the gateway's order tracks end in the
        state the live run had. Returns the number of events (in ``self._events``)."""
        self._out = {}
        self._origin = [(None, 0, None) for _ in range(len(cmds))]
        self._cmd_pos = [0] * len(cmds)
        self._pos = 0
        self._n = len(cmds)
        return self._run(stamped=cmds)

    # --- one wakeup --------------------------------------------------------------------------
    def step(self) -> int:
        """Drain, batch, run, reply. Returns the number of messages handled."""
        self._admin_cmds: list[dict[str, int]] = []
        while not self._ops.empty():
            self._ops.get_nowait()()
        now = time.monotonic()
        # replies per peer, each with the position of the message it answers, so that a peer
        # gets its replies in the order of its messages whether or not they went to the engine
        self._out = {}
        self._origin = []
        self._cmd_pos = []
        self._pos = 0
        self._queries: list[tuple[int, Session, Any]] = []
        self._pending_new: dict[int, int] = {}
        self._rows: list[tuple[int, ...]] = []
        self._n = 0
        for extra in self._admin_cmds:
            self._add(None, 0, None, **extra)
        handled = 0
        while handled < self.config.max_batch:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            handled += 1
            self._pos = handled
            self._message(frames, now)
        self._pos = handled + 1
        if handled < self.config.max_batch:
            # only when the socket was drained: under a backlog, heartbeats wait in the queue
            # and silence would be the venue's, not the client's
            self._expire_sessions(now)
        k = self._run() if self._n else 0
        if k and self.journal is not None:
            self.journal.commit()
        for pos, sess, q in self._queries:
            self._pos = pos
            self._answer(sess, q)
        self._send()
        if k:
            view = self._events[:k]
            for listener in self.listeners:
                listener(view)
        return handled

    # --- decoding ----------------------------------------------------------------------------
    def _reply(self, sess: Session | None, msg: msgspec.Struct, identity: bytes = b"") -> None:
        ident = sess.identity if sess is not None else identity
        self._out.setdefault(ident, []).append((self._pos, msg))

    def _message(self, frames: list[bytes], now: float) -> None:
        identity = frames[0]
        sess = self.sessions.get(identity)
        if len(frames) != 2:
            self._reply(
                sess,
                P.BusinessReject(
                    reason=R.MALFORMED_MESSAGE,
                    ref="frame",
                    text=f"one frame per message, not {len(frames) - 1}",
                ),
                identity,
            )
            return
        try:
            msg = self.codec.decode(frames[1])
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            self._reply(
                sess,
                P.BusinessReject(reason=R.MALFORMED_MESSAGE, ref="frame", text=str(e)),
                identity,
            )
            return
        if isinstance(msg, P.Logon):
            self._logon(identity, sess, msg, now)
            return
        if sess is None or sess.account == 0:
            self._reply(
                None,
                P.BusinessReject(
                    req=getattr(msg, "req", 0),
                    reason=R.NOT_LOGGED_ON,
                    text=R.explain(R.NOT_LOGGED_ON),
                    ref=_tag(msg),
                ),
                identity,
            )
            return
        sess.last_seen = now
        if isinstance(msg, P.Logout):  # never throttled: a client may always leave
            self._end(sess, cancel=False, req=msg.req)
            return
        if not self._throttle_ok(sess, now, msg):
            return
        if isinstance(msg, P.Heartbeat):
            self._reply(sess, P.HeartbeatAck(req=msg.req, ts_ns=time.time_ns()))
        elif isinstance(msg, P.NewOrder):
            self._new_order(sess, msg)
        elif isinstance(msg, P.Cancel):
            self._add(
                sess,
                msg.req,
                msg,
                kind=CMD_CANCEL,
                account=sess.account,
                order_id=msg.order_id,
                client_order_id=msg.cl_ord_id,
            )
        elif isinstance(msg, P.Amend):
            self._add(
                sess,
                msg.req,
                msg,
                kind=CMD_AMEND,
                account=sess.account,
                order_id=msg.order_id,
                client_order_id=msg.cl_ord_id,
                price_ticks=msg.price_ticks,
                qty_lots=msg.qty_lots,
            )
        elif isinstance(msg, P.MassCancel):
            side = 0 if msg.side == "both" else SIDES[msg.side]
            self._add(
                sess,
                msg.req,
                msg,
                kind=CMD_MASS_CANCEL,
                account=sess.account,
                instrument=msg.instrument,
                side=side,
                reason=R.CANCEL_USER,
            )
        else:
            self._queries.append((self._pos, sess, msg))

    def _logon(self, identity: bytes, sess: Session | None, msg: P.Logon, now: float) -> None:
        if msg.version != P.PROTOCOL_VERSION:
            self._reply(
                None,
                P.LogonReject(
                    req=msg.req,
                    reason=R.UNSUPPORTED_VERSION,
                    text=f"protocol version {msg.version} is not {P.PROTOCOL_VERSION}",
                ),
                identity,
            )
            return
        account = self.config.api_keys.get(msg.api_key)
        if account is None:
            self._reply(
                None,
                P.LogonReject(
                    req=msg.req, reason=R.BAD_CREDENTIALS, text=R.explain(R.BAD_CREDENTIALS)
                ),
                identity,
            )
            return
        if sess is None:
            sess = Session(identity=identity, sid=self._next_sid)
            self._next_sid += 1
            self.sessions[identity] = sess
        if sess.account and sess.account != account:
            self._unlink(sess)
        if sess not in self._by_account.setdefault(account, []):
            self._by_account[account].append(sess)
        sess.account = account
        sess.heartbeat_ms = max(100, msg.heartbeat_ms)
        sess.cod = msg.cancel_on_disconnect
        sess.cod_keep_gtc = msg.cod_keep_gtc
        sess.last_seen = now
        sess.tokens = float(self.config.burst)
        sess.refilled = now
        self._reply(
            sess,
            P.LogonAck(
                req=msg.req, account=account, session=sess.sid, heartbeat_ms=sess.heartbeat_ms
            ),
        )

    def _throttle_ok(self, sess: Session, now: float, msg: Any) -> bool:
        cfg = self.config
        sess.tokens = min(float(cfg.burst), sess.tokens + (now - sess.refilled) * cfg.rate_per_s)
        sess.refilled = now
        if sess.tokens >= 1.0:
            sess.tokens -= 1.0
            sess.throttled = 0
            return True
        sess.throttled += 1
        self._reply(
            sess,
            P.BusinessReject(
                req=getattr(msg, "req", 0),
                reason=R.RATE_LIMITED,
                text=R.explain(R.RATE_LIMITED),
                ref=_tag(msg),
            ),
        )
        if sess.throttled > cfg.abuse_rejects:  # sustained abuse: the session ends
            self._end(sess, cancel=True)
        return False

    def _new_order(self, sess: Session, m: P.NewOrder) -> None:
        a = sess.account
        known = self.live_by_cl.get((a, m.cl_ord_id))
        if known is not None:  # a resend: answer with the live order's state
            self._reply(sess, self._state_report(known, "new", m.req, duplicate=True))
            return
        reason = 0
        if a in self.killed and not m.reduce_only:
            reason = R.KILL_SWITCH_ACTIVE
        elif self.config.max_open_orders and (
            # orders of this wakeup's batch count too: they are not accepted yet
            self.open_count.get(a, 0) + self._pending_new.get(a, 0) >= self.config.max_open_orders
        ):
            reason = R.MAX_OPEN_ORDERS
        elif self.config.max_notional and m.instrument in self._inst:
            nf = int(self.ex.cs.inst[m.instrument]["nf"])
            if abs(m.price_ticks) * m.qty_lots * nf > self.config.max_notional:
                reason = R.MAX_NOTIONAL
        if reason:
            self._reply(sess, _rejected_report(m, m.req, reason))
            return
        self._pending_new[a] = self._pending_new.get(a, 0) + 1
        flags = (FLAG_POST_ONLY if m.post_only else 0) | (FLAG_REDUCE_ONLY if m.reduce_only else 0)
        self._add(
            sess,
            m.req,
            m,
            kind=CMD_NEW,
            account=a,
            client_order_id=m.cl_ord_id,
            instrument=m.instrument,
            side=SIDES[m.side],
            order_type=ORDER_TYPES[m.type],
            tif=TIFS[m.tif],
            price_ticks=m.price_ticks,
            qty_lots=m.qty_lots,
            trigger_ticks=m.trigger_ticks,
            display_lots=m.display_lots,
            expire_ns=m.expire_ns,
            flags=flags,
            stp=STPS[m.stp],
        )

    def _add(self, sess: Session | None, req: int, msg: Any, **fields: int) -> None:
        """Append one command to this wakeup's batch, refusing values the record cannot hold."""
        for k, v in fields.items():
            lo, hi = FIELD_BOUNDS[FIELD_INDEX[k]]
            if not lo <= v <= hi:
                self._reply(
                    sess,
                    P.BusinessReject(
                        req=req,
                        reason=R.VALUE_TOO_LARGE,
                        ref=_tag(msg),
                        text=f"{k}={v} is outside {lo}..{hi}",
                    ),
                )
                return
        row = [0] * _N_FIELDS
        for k, v in fields.items():
            row[FIELD_INDEX[k]] = v
        self._rows.append(tuple(row))
        self._origin.append((sess, req, msg))
        self._cmd_pos.append(self._pos)
        self._n += 1

    # --- sessions ----------------------------------------------------------------------------
    def _expire_sessions(self, now: float) -> None:
        for sess in list(self.sessions.values()):
            if sess.account and now - sess.last_seen > 2 * sess.heartbeat_ms / 1000:
                self._end(sess, cancel=True)

    def _unlink(self, sess: Session) -> None:
        group = self._by_account.get(sess.account, [])
        if sess in group:
            group.remove(sess)

    def _end(self, sess: Session, cancel: bool, req: int = 0) -> None:
        """End a session. With ``cancel`` and the session's cancel-on-disconnect choice, the
        orders it placed go (``CANCEL_DISCONNECT``): all of the account's, in one mass cancel,
        when no other session of the account is logged on, else just this session's, one by
        one. ``cod_keep_gtc`` spares GTC orders."""
        self.sessions.pop(sess.identity, None)
        self._unlink(sess)
        self._reply(
            None,
            P.BusinessReject(req=req, reason=R.SESSION_ENDED, text=R.explain(R.SESSION_ENDED)),
            sess.identity,
        )
        if not (cancel and sess.cod and sess.account):
            return
        others = any(s.account == sess.account for s in self.sessions.values())
        if not others and not sess.cod_keep_gtc:
            self._add(
                None,
                0,
                None,
                kind=CMD_MASS_CANCEL,
                account=sess.account,
                instrument=-1,
                reason=R.CANCEL_DISCONNECT,
            )
            return
        for oid, t in list(self.tracks.items()):
            mine = t.sid == sess.sid or not others
            if t.account == sess.account and mine and not (sess.cod_keep_gtc and t.tif == GTC):
                self._add(
                    None,
                    0,
                    None,
                    kind=CMD_CANCEL,
                    account=t.account,
                    order_id=oid,
                    reason=R.CANCEL_DISCONNECT,
                )

    # --- the batch ---------------------------------------------------------------------------
    def _run(self, stamped: np.ndarray | None = None) -> int:
        """Stamp, journal and run this wakeup's batch (or run a batch ``stamped`` already, from
        the journal); turn its events into replies. Returns the number of events."""
        n = self._n
        if stamped is None:
            # one array per wakeup from plain tuples: a numpy write per field costs microseconds
            cmds = np.array(self._rows, dtype=COMMAND_DTYPE)
            first = self.ex.next_seq
            cmds["seq"] = np.arange(first, first + n)
            ts = max(time.time_ns(), self._last_ts + 1)
            self._last_ts = ts
            cmds["ts_ns"] = ts
            if self.journal is not None:
                self.journal.append(cmds)
        else:
            cmds = stamped
            first = int(cmds["seq"][0]) if n else self.ex.next_seq
            self._last_ts = max(self._last_ts, int(cmds["ts_ns"].max()) if n else 0)
        k, self._events, n_led, led = self.ex.process_into(cmds, self._events)
        # events as dicts of Python ints: reading numpy record fields one by one is slower
        names = EVENT_DTYPE.names or ()
        ev = [dict(zip(names, t, strict=True)) for t in self._events[:k].tolist()]
        fees: dict[tuple[int, int, int], int] = {}
        if n_led:
            lg = led[:n_led]
            lnames = lg.dtype.names or ()
            sel = lg[(lg["kind"] == L_FEE) | (lg["kind"] == L_REBATE)].tolist()
            for e in (dict(zip(lnames, t, strict=True)) for t in sel):
                if int(e["kind"]) == L_FEE:
                    key = (int(e["instrument"]), int(e["ref"]), int(e["from_account"]))
                    fees[key] = fees.get(key, 0) + int(e["amount"])
                else:
                    key = (int(e["instrument"]), int(e["ref"]), int(e["to_account"]))
                    fees[key] = fees.get(key, 0) - int(e["amount"])
        for e in ev:
            i = int(e["seq"]) - first
            sess, req, msg = self._origin[i] if 0 <= i < n else (None, 0, None)
            self._pos = self._cmd_pos[i] if 0 <= i < n else self._pos
            self._event(e, sess, req, msg, fees)
        return k

    def _sessions_of(self, account: int) -> list[Session]:
        return self._by_account.get(account, [])

    def _to_account(self, account: int, origin: Session | None, msg: msgspec.Struct) -> None:
        for s in self._sessions_of(account):
            if s is not origin:
                self._reply(s, msg)
        if origin is not None and origin.account == account:
            self._reply(origin, msg)

    def _event(self, e: Any, sess: Session | None, req: int, msg: Any, fees: dict) -> None:
        kind = int(e["kind"])
        if kind == EV_ACCEPTED:
            oid = int(e["order_id"])
            t = Track(
                account=int(e["account"]),
                cl_ord_id=int(e["client_order_id"]),
                instrument=int(e["instrument"]),
                side=int(e["side"]),
                order_type=int(e["order_type"]),
                tif=int(e["tif"]),
                price=int(e["price_ticks"]),
                qty=int(e["qty_lots"]),
                trigger=int(e["aux"]),
                sid=sess.sid if sess is not None and sess.account == int(e["account"]) else 0,
            )
            self.tracks[oid] = t
            if t.cl_ord_id:
                self.live_by_cl[(t.account, t.cl_ord_id)] = oid
            self.open_count[t.account] = self.open_count.get(t.account, 0) + 1
            own = req if sess is not None and sess.account == t.account else 0
            self._to_account(t.account, sess, self._state_report(oid, "new", own, ev=e))
        elif kind == EV_REJECTED:
            self._rejected(e, sess, req, msg)
        elif kind == EV_FILL:
            self._fill(e, sess, req, fees)
        elif kind in (EV_CANCELLED, EV_AMENDED, EV_TRIGGERED):
            oid = int(e["order_id"])
            tr = self.tracks.get(oid)
            if tr is None:
                return
            t = tr
            if kind == EV_AMENDED:
                t.price = int(e["price_ticks"])
                t.qty = int(e["qty_lots"])
            reason = int(e["reason"])
            if kind == EV_CANCELLED:
                xt = "expired" if reason in EXPIRY_REASONS else "cancelled"
            else:
                xt = "amended" if kind == EV_AMENDED else "triggered"
            own = req if sess is not None and sess.account == t.account else 0
            rep = self._state_report(
                oid, xt, own, leaves=int(e["leaves_lots"]), reason=reason, ev=e
            )
            self._to_account(t.account, sess, rep)
            if kind == EV_CANCELLED and int(e["leaves_lots"]) == 0:
                self._forget(oid)
        elif kind == EV_MASS_CANCELLED and sess is not None and isinstance(msg, P.MassCancel):
            self._reply(sess, P.MassCancelAck(req=req, cancelled=int(e["qty_lots"])))

    def _rejected(self, e: Any, sess: Session | None, req: int, msg: Any) -> None:
        if sess is None:
            return
        reason = int(e["reason"])
        if isinstance(msg, P.NewOrder):
            dup = self.live_by_cl.get((sess.account, msg.cl_ord_id))
            if reason == R.DUPLICATE_CLIENT_ORDER_ID and dup is not None:
                self._reply(sess, self._state_report(dup, "new", req, duplicate=True))
                return
            self._reply(sess, _rejected_report(msg, req, reason, int(e["seq"]), int(e["ts_ns"])))
        elif isinstance(msg, P.Cancel | P.Amend):
            self._reply(
                sess,
                P.CancelReject(
                    req=req,
                    order_id=msg.order_id,
                    cl_ord_id=msg.cl_ord_id,
                    reason=reason,
                    text=R.explain(reason),
                ),
            )
        elif isinstance(msg, P.MassCancel):
            self._reply(sess, P.MassCancelAck(req=req, reason=reason, text=R.explain(reason)))

    def _fill(self, e: Any, sess: Session | None, req: int, fees: dict) -> None:
        iid, tid = int(e["instrument"]), int(e["trade_id"])
        q, px = int(e["qty_lots"]), int(e["price_ticks"])
        for oid, acct, leaves, liq in (
            (int(e["order_id"]), int(e["account"]), int(e["leaves_lots"]), "taker"),
            (
                int(e["maker_order_id"]),
                int(e["maker_account"]),
                int(e["maker_leaves_lots"]),
                "maker",
            ),
        ):
            t = self.tracks.get(oid)
            if t is None:
                continue
            t.cum += q
            t.notional += q * px
            own = req if liq == "taker" and sess is not None and sess.account == acct else 0
            rep = self._state_report(
                oid, "fill" if leaves == 0 else "partial_fill", own, leaves=leaves, ev=e
            )
            rep.last_lots = q
            rep.last_price_ticks = px
            rep.trade_id = tid
            rep.fee = fees.get((iid, tid, acct), 0)
            rep.liquidity = liq  # type: ignore[assignment]
            self._to_account(acct, sess if liq == "taker" else None, rep)
            if leaves == 0:
                self._forget(oid)

    def _forget(self, oid: int) -> None:
        t = self.tracks.pop(oid, None)
        if t is None:
            return
        if self.live_by_cl.get((t.account, t.cl_ord_id)) == oid:
            del self.live_by_cl[(t.account, t.cl_ord_id)]
        self.open_count[t.account] = max(0, self.open_count.get(t.account, 1) - 1)

    def _state_report(
        self,
        oid: int,
        exec_type: Any,
        req: int,
        *,
        leaves: int | None = None,
        reason: int = 0,
        duplicate: bool = False,
        ev: Any = None,
    ) -> P.ExecutionReport:
        t = self.tracks[oid]
        left = t.qty - t.cum if leaves is None else leaves
        status: Any
        if exec_type in ("cancelled", "expired") and left == 0:
            status = "cancelled"
        elif t.cum and left == 0:
            status = "filled"
        elif t.cum:
            status = "partially_filled"
        else:
            status = "pending" if t.order_type in (STOP_MARKET, STOP_LIMIT) else "new"
        inst = self._inst.get(t.instrument)
        avg = ""
        if t.cum and inst is not None:
            avg = format((inst.tick_size * Decimal(t.notional) / Decimal(t.cum)).normalize(), "f")
        return P.ExecutionReport(
            req=req,
            exec_type=exec_type,
            order_id=oid,
            cl_ord_id=t.cl_ord_id,
            instrument=t.instrument,
            side=SIDE_NAMES.get(t.side, "buy"),
            status=status,
            price_ticks=t.price,
            qty_lots=t.qty,
            cum_lots=t.cum,
            leaves_lots=left,
            avg_price=avg,
            reason=reason,
            text=R.explain(reason) if reason else "",
            duplicate=duplicate,
            seq=int(ev["seq"]) if ev is not None else 0,
            ts_ns=int(ev["ts_ns"]) if ev is not None else 0,
        )

    def _answer(self, sess: Session, q: Any) -> None:
        answer_query(self, sess, q)

    def _send(self) -> None:
        enc = self.codec.encode
        for ident, msgs in self._out.items():
            msgs.sort(key=lambda pm: pm[0])  # stable: events of one command keep their order
            for _p, m in msgs:
                try:
                    self.sock.send_multipart([ident, enc(m)], zmq.NOBLOCK)
                except zmq.Again:  # the peer's queue is full: it loses this reply
                    break
                except zmq.ZMQError:
                    break


def _rejected_report(
    m: P.NewOrder, req: int, reason: int, seq: int = 0, ts_ns: int = 0
) -> P.ExecutionReport:
    """The report of a NewOrder refused by the gateway (no seq) or by the pipeline."""
    return P.ExecutionReport(
        req=req, exec_type="rejected", status="rejected", order_id=0, cl_ord_id=m.cl_ord_id,
        instrument=m.instrument, side=m.side, price_ticks=m.price_ticks, qty_lots=m.qty_lots,
        reason=reason, text=R.explain(reason), seq=seq, ts_ns=ts_ns,
    )  # fmt: skip


def _tag(msg: Any) -> str:
    return type(msg).__name__ if msg is not None else ""


# the embedded default's demo venue lives in gateway.demo; re-exported for callers
from gateway.demo import DEMO_KEYS, demo_exchange, demo_venue  # noqa: E402

__all__ = ["DEMO_KEYS", "GatewayConfig", "GatewayServer", "demo_exchange", "demo_venue"]
