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

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import msgspec
import numpy as np
import zmq

from clearing.exchange import Exchange
from gateway import curve as Z
from gateway import protocol as P
from gateway.queries import answer_query
from gateway.reports import (
    E_KIND,
    E_SEQ,
    Reporter,
    Track,
    fees_by_fill,
    kill_switches,
    msg_tag,
    refusal,
    rejected_report,
)
from gateway.sessions import Session, SessionKeeper
from matching import reasons as R
from matching.api import FIELD_BOUNDS, FIELD_INDEX, FIELDS
from matching.records import (
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CLOCK,
    CMD_HALT,
    CMD_MASS_CANCEL,
    CMD_NEW,
    CMD_RESUME,
    COMMAND_DTYPE,
    EV_LEVEL,
    EVENT_DTYPE,
    FLAG_POST_ONLY,
    FLAG_REDUCE_ONLY,
)

_N_FIELDS = len(FIELD_INDEX)
ORDER_TYPES, TIFS, STPS, SIDES = P.ORDER_TYPES, P.TIFS, P.STPS, P.SIDES
# the command record's field order, checked here because the fast paths build rows by position
assert FIELDS[:19] == (
    "seq", "ts_ns", "order_id", "client_order_id", "price_ticks", "qty_lots", "trigger_ticks",
    "display_lots", "expire_ns", "account", "instrument", "stp_group", "kind", "side",
    "order_type", "tif", "flags", "stp", "reason",
) and _N_FIELDS == 19, "COMMAND_DTYPE changed: update GatewayServer's row builders"  # fmt: skip
# int constants: pyzmq's flag enums cost a conversion per call
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE) | _NOBLOCK
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
_EXPIRE_EVERY_S = 0.02  # heartbeat deadlines are checked at most this often (intervals >= 100 ms)


@dataclass(frozen=True)
class GatewayConfig:
    """Who may log on and how fast. ``api_keys`` maps a key to its account."""

    api_keys: dict[str, int] = field(default_factory=dict)
    rate_per_s: float = 50_000.0  # token bucket refill per session (a load-testing default)
    burst: int = 100_000  # bucket size
    abuse_rejects: int = 10_000  # consecutive throttled messages that end the session
    max_msg_bytes: int = 64 * 1024
    max_batch: int = 1024  # messages drained per wakeup (bounds one step's latency)
    max_open_orders: int = 0  # per account; 0 = no limit
    max_notional: int = 0  # settlement units per order; 0 = no limit
    zmtp_heartbeat_ms: int = 1000
    # after a wakeup with messages, poll without sleeping for this long before blocking again
    # (a busy-spin idle strategy, as LMAX/Aeron: waking a sleeping thread costs 50-100 us on a
    # VM). Spinning holds a core while traffic flows; 0 blocks at once (in-process tests).
    spin_us: int = 0
    # CURVE (gateway.curve): set the secret key to encrypt, and only these client keys get in
    curve_secret_key: bytes | None = None  # z85; None: plaintext, loopback binds only
    curve_public_key: bytes | None = None  # z85; None: derived from the secret key
    curve_allowed_clients: tuple[bytes, ...] = ()  # z85 public keys of the clients let in


class GatewayServer(Reporter, SessionKeeper):
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
        self.partial: dict[int, Track] = {}
        self.stops: dict[int, Track] = {}
        self.live_by_cl: dict[tuple[int, int], int] = {}  # (account, cl_ord_id) -> order id
        self.open_count: dict[int, int] = {}
        self.killed: set[int] = set()
        self._price_text: dict[tuple[int, int], str] = {}
        self._next_sid = 1
        self._ops: deque[Callable[[], None]] = deque()  # appends and pops are thread-safe
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
        # Order sources inside the venue (background agents, historical flow): called at every
        # wakeup with its timestamp, each returns commands (dicts of COMMAND_DTYPE fields) that
        # join the batch like a client's, with no session to answer.
        self.sources: list[Callable[[int], list[dict[str, int]]]] = []
        self.chaos: Any = None  # gateway.chaos.Chaos, when a client team asked for it
        # per wakeup: replies per peer (with the position of the message each answers), and
        # per command of the batch its session, request id, message and position
        self._out: dict[bytes, list[tuple[int, msgspec.Struct]]] = {}
        self._origin: list[tuple[Session | None, int, Any]] = []
        self._cmd_pos: list[int] = []
        self._pos = 0
        self._n = 0
        self._rows: list[tuple[int, ...]] = []
        self._queries: list[tuple[int, Session, Any]] = []
        self._pending_new: dict[int, int] = {}
        self._admin_cmds: list[dict[str, int]] = []
        self._seq0 = 0  # the sequence number of this wakeup's first command
        self._ts = 0  # this wakeup's timestamp
        self._next_expiry = 0.0
        # the last moment the venue waited for input and none came (serve: a poll that timed
        # out), so that everything sent before had been read: heartbeat silence counts to it
        self._last_idle = time.monotonic()
        self._serving = False
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
        operator commands; without waiting while spinning, ``GatewayConfig.spin_us``), then one
        ``step``; then the other sockets in ``pollers``."""
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        handlers: dict[Any, Callable[[], None]] = {}
        for sock, handler in self.pollers:
            poller.register(sock, zmq.POLLIN)
            handlers[sock] = handler
        self._serving = True
        spin = self.config.spin_us / 1e6
        spin_until = 0.0
        stop, step, poll, clock = self._stop.is_set, self.step, poller.poll, time.monotonic
        while not stop():
            timeout = 0 if spin and clock() < spin_until else 5
            if self.chaos is not None:  # wake up in time for a held (delayed) reply
                due = self.chaos.next_due_s()
                if due is not None:
                    timeout = min(timeout, int(due * 1000))
            ready = poll(timeout)
            if timeout and not ready:
                self._last_idle = clock()
            if step() and spin:
                spin_until = clock() + spin
            if ready and handlers:
                for sock, _ in ready:
                    if sock in handlers:
                        handlers[sock]()

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
                # journaled (a recovery must not bring the block back): a CLOCK command
                # carrying the account and the kill-switch reason, which the engine ignores
                self._admin_cmds.append(
                    dict(kind=CMD_CLOCK, account=account, reason=R.CANCEL_KILL_SWITCH)
                )

        self._ops.append(op)

    def halt(self, instrument: int, on: bool = True) -> None:
        """Halt (or resume) an instrument market-wide."""
        kind = CMD_HALT if on else CMD_RESUME
        self._ops.append(lambda: self._admin_cmds.append(dict(kind=kind, instrument=instrument)))

    # --- durable state (issue #7) --------------------------------------------------------
    def replay_batch(self, cmds: np.ndarray) -> int:
        """Run an already stamped batch (from the journal) exactly as a live wakeup would, with
        no session to answer: the engine, clearing and the gateway's order tracks end in the
        state the live run had. Returns the number of events (in ``self._events``)."""
        self._out = {}
        self._origin = [(None, 0, None) for _ in range(len(cmds))]
        self._cmd_pos = [0] * len(cmds)
        self._pos = 0
        self._n = len(cmds)
        for account, on in kill_switches(cmds):  # the kill switches, as the live run had them
            if on:
                self.killed.add(account)
            else:
                self.killed.discard(account)
        return self._run(stamped=cmds)

    # --- one wakeup --------------------------------------------------------------------------
    def step(self) -> int:
        """Drain, batch, run, reply. Returns the number of messages handled. Costs one engine
        call per wakeup plus O(messages + events) Python; no numpy work per message."""
        self._admin_cmds = []
        while self._ops:
            self._ops.popleft()()
        now = time.monotonic()
        # replies per peer, each with the position of the message it answers, so that a peer
        # gets its replies in the order of its messages whether or not they went to the engine
        self._out = {}
        self._origin = []
        self._cmd_pos = []
        self._pos = 0
        self._queries = []
        self._pending_new = {}
        self._rows = []
        self._n = 0
        # stamp as we go: the sequencer numbers commands in arrival order, one time per wakeup
        self._seq0 = self.ex.next_seq
        self._ts = max(time.time_ns(), self._last_ts + 1)
        for extra in self._admin_cmds:
            self._add(None, 0, None, **extra)
        for source in self.sources:
            for fields in source(self._ts):
                self._add(None, 0, None, **fields)
        handled = 0
        limit = self.config.max_batch
        sock = self.sock
        getsockopt, recv = sock.getsockopt, sock.recv_multipart
        # EVENTS before each read: an empty queue found by zmq.Again costs an exception
        while handled < limit and getsockopt(_EVENTS) & _POLLIN:  # type: ignore[operator]
            try:
                frames = recv(_NOBLOCK)
            except zmq.Again:
                break
            handled += self._frame(frames, now, handled)
        self._pos = handled + 1
        if self.chaos is not None:
            self.chaos.tick(self, now)
        if not handled and not self._serving:  # driven by hand: an empty step is idle
            self._last_idle = now
        if now >= self._next_expiry:
            self._next_expiry = now + _EXPIRE_EVERY_S
            self._expire_sessions()
        k = self._run() if self._n else 0
        if k and self.journal is not None:
            self.journal.commit()
        for pos, sess, q in self._queries:
            self._pos = pos
            self._answer(sess, q)
        if self._out:
            self._send()
        if self.chaos is not None:
            self.chaos.release(self._send_frame)
        if k:
            view = self._events[:k]
            for listener in self.listeners:
                listener(view)
        return handled

    # --- decoding ----------------------------------------------------------------------------
    def _reply(self, sess: Session | None, msg: msgspec.Struct, identity: bytes = b"") -> None:
        ident = sess.identity if sess is not None else identity
        out = self._out.get(ident)
        if out is None:
            self._out[ident] = [(self._pos, msg)]
        else:
            out.append((self._pos, msg))

    def _frame(self, frames: list[bytes], now: float, handled: int) -> int:
        """Every message of one frame (packed or not), in order. Returns how many."""
        identity = frames[0]
        sess = self.sessions.get(identity)
        if len(frames) != 2:
            self._pos = handled + 1
            self._reply(
                sess,
                P.BusinessReject(
                    reason=R.MALFORMED_MESSAGE,
                    ref="frame",
                    text=f"one frame per message, not {len(frames) - 1}",
                ),
                identity,
            )
            return 1
        try:
            msgs = self.codec.decode_frame(frames[1])
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            self._pos = handled + 1
            self._reply(
                sess,
                P.BusinessReject(reason=R.MALFORMED_MESSAGE, ref="frame", text=str(e)),
                identity,
            )
            return 1
        if sess is not None and sess.account:
            # the token bucket's refill, once per frame: its messages share the wakeup's time
            tokens = sess.tokens + (now - sess.refilled) * sess.rate
            sess.tokens = tokens if tokens < sess.burst else sess.burst
            sess.refilled = now
        for msg in msgs:
            handled += 1
            self._pos = handled
            self._message(identity, sess, msg, now)
            sess = self.sessions.get(identity)  # a Logon or Logout changes it
        return len(msgs)

    def _message(self, identity: bytes, sess: Session | None, msg: Any, now: float) -> None:
        tp = type(msg)
        if tp is P.Logon:
            self._logon(identity, sess, msg, now)
            return
        if sess is None or sess.account == 0:
            self._reply(None, refusal(msg, R.NOT_LOGGED_ON), identity)
            return
        sess.last_seen = now
        if tp is P.Logout:  # never throttled: a client may always leave
            self._end(sess, cancel=False, req=msg.req)
            return
        # the token bucket (refilled by _frame, or full from this frame's Logon)
        if sess.tokens < 1.0:
            self._throttled(sess, msg)
            return
        sess.tokens -= 1.0
        sess.throttled = 0
        if tp is P.NewOrder:
            self._new_order(sess, msg)
        elif tp is P.Cancel:
            self._row(
                (0, 0, msg.order_id, msg.cl_ord_id, 0, 0, 0, 0, 0, sess.account, 0, 0,
                 CMD_CANCEL, 0, 0, 0, 0, 0, 0), sess, msg.req, msg,
            )  # fmt: skip
        elif tp is P.Heartbeat:
            self._reply(sess, P.HeartbeatAck(req=msg.req, ts_ns=time.time_ns()))
        elif tp is P.Amend:
            self._row(
                (0, 0, msg.order_id, msg.cl_ord_id, msg.price_ticks, msg.qty_lots, 0, 0, 0,
                 sess.account, 0, 0, CMD_AMEND, 0, 0, 0, 0, 0, 0), sess, msg.req, msg,
            )  # fmt: skip
        elif tp is P.MassCancel:
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

    def _new_order(self, sess: Session, m: P.NewOrder) -> None:
        a = sess.account
        known = self.live_by_cl.get((a, m.cl_ord_id))
        if known is not None:  # a resend: answer with the live order's state
            self._reply(sess, self._state_report(known, "new", m.req, duplicate=True))
            return
        if self.chaos is not None:
            reason = self.chaos.reject(sess, m.req, m.cl_ord_id)
            if reason:
                self._reply(sess, rejected_report(m, m.req, reason))
                return
        cfg = self.config
        if self.killed or cfg.max_open_orders or cfg.max_notional:
            reason = self._pre_trade(a, m)
            if reason:
                self._reply(sess, rejected_report(m, m.req, reason))
                return
            self._pending_new[a] = self._pending_new.get(a, 0) + 1
        flags = (FLAG_POST_ONLY if m.post_only else 0) | (FLAG_REDUCE_ONLY if m.reduce_only else 0)
        self._row(
            (0, 0, 0, m.cl_ord_id, m.price_ticks, m.qty_lots, m.trigger_ticks, m.display_lots,
             m.expire_ns, a, m.instrument, 0, CMD_NEW, SIDES[m.side], ORDER_TYPES[m.type],
             TIFS[m.tif], flags, STPS[m.stp], 0), sess, m.req, m,
        )  # fmt: skip

    def _pre_trade(self, a: int, m: P.NewOrder) -> int:
        """The gateway's own checks of a NewOrder (kill switch, max open orders, max notional):
        a reason code, or 0. O(1)."""
        if a in self.killed and not m.reduce_only:
            return R.KILL_SWITCH_ACTIVE
        cfg = self.config
        if cfg.max_open_orders and (
            # orders of this wakeup's batch count too: they are not accepted yet
            self.open_count.get(a, 0) + self._pending_new.get(a, 0) >= cfg.max_open_orders
        ):
            return R.MAX_OPEN_ORDERS
        if cfg.max_notional and m.instrument in self._inst:
            nf = int(self.ex.cs.inst[m.instrument]["nf"])
            if abs(m.price_ticks) * m.qty_lots * nf > cfg.max_notional:
                return R.MAX_NOTIONAL
        return 0

    def _add(self, sess: Session | None, req: int, msg: Any, **fields: int) -> None:
        """Append one command given by field names to this wakeup's batch. O(fields)."""
        row = [0] * _N_FIELDS
        for k, v in fields.items():
            row[FIELD_INDEX[k]] = v
        self._row(tuple(row), sess, req, msg)

    def _row(self, row: tuple[int, ...], sess: Session | None, req: int, msg: Any) -> None:
        """Append one command record (a tuple in COMMAND_DTYPE order; its seq and ts are
        stamped when the batch is built) to this wakeup's batch. Values the record cannot hold
        are found then too (``_build``)."""
        self._rows.append(row)
        self._origin.append((sess, req, msg))
        self._cmd_pos.append(self._pos)
        self._n += 1

    def _build(self) -> np.ndarray:
        """This wakeup's command array, stamped: seq from ``_seq0`` in arrival order, ts the
        wakeup's. One numpy call; only if a value does not fit its field (numpy raises
        OverflowError) are the rows checked one by one, the misfits answered with
        VALUE_TOO_LARGE and the rest numbered without them. O(commands)."""
        rows, seq0, ts = self._rows, self._seq0, self._ts
        try:
            cmds = np.array(rows, dtype=COMMAND_DTYPE)
        except OverflowError:
            return self._build_checked()
        cmds["seq"] = np.arange(seq0, seq0 + len(cmds))
        cmds["ts_ns"] = ts
        return cmds

    def _build_checked(self) -> np.ndarray:
        """``_build`` when some value does not fit: row by row."""
        rows: list[tuple[int, ...]] = []
        origin: list[tuple[Session | None, int, Any]] = []
        cmd_pos: list[int] = []
        for row, org, pos in zip(self._rows, self._origin, self._cmd_pos, strict=True):
            bad = next(
                (i for i, v in enumerate(row) if not FIELD_BOUNDS[i][0] <= v <= FIELD_BOUNDS[i][1]),
                -1,
            )
            if bad < 0:
                rows.append((self._seq0 + len(rows), self._ts, *row[2:]))
                origin.append(org)
                cmd_pos.append(pos)
                continue
            sess, req, msg = org
            lo, hi = FIELD_BOUNDS[bad]
            self._pos = pos
            self._reply(
                sess,
                P.BusinessReject(
                    req=req,
                    reason=R.VALUE_TOO_LARGE,
                    ref=msg_tag(msg),
                    text=f"{FIELDS[bad]}={row[bad]} is outside {lo}..{hi}",
                ),
            )
        self._rows, self._origin, self._cmd_pos, self._n = rows, origin, cmd_pos, len(rows)
        return np.array(rows, dtype=COMMAND_DTYPE)

    # --- the batch ---------------------------------------------------------------------------
    def _run(self, stamped: np.ndarray | None = None) -> int:
        """Journal and run this wakeup's batch (or a batch ``stamped`` already, from the
        journal); turn its events into replies. Returns the number of events."""
        if stamped is None:
            cmds = self._build()
            n = self._n
            if not n:
                return 0
            first = self._seq0
            self._last_ts = self._ts
            if self.journal is not None:
                self.journal.append(cmds)
        else:
            cmds, n = stamped, len(stamped)
            first = int(cmds["seq"][0]) if n else self.ex.next_seq
            self._last_ts = max(self._last_ts, int(cmds["ts_ns"].max()) if n else 0)
        k, self._events, n_led, led = self.ex.process_into(cmds, self._events)
        fees = fees_by_fill(led, n_led)
        origin, cmd_pos, event = self._origin, self._cmd_pos, self._event
        evs = self._events[:k]
        if k > 64:  # level events (about half) are market data's: drop them before tolist
            evs = evs[evs["kind"] != EV_LEVEL]
        for e in evs.tolist():
            if e[E_KIND] == EV_LEVEL:
                continue
            i = e[E_SEQ] - first
            if 0 <= i < n:
                sess, req, msg = origin[i]
                self._pos = cmd_pos[i]
            else:
                sess, req, msg = None, 0, None
            event(e, sess, req, msg, fees)
        return k

    def _answer(self, sess: Session, q: Any) -> None:
        answer_query(self, sess, q)

    def _send(self) -> None:
        """Every queued reply, per peer in the order of the messages they answer; to a session
        that asked for packed replies, all of a wakeup's replies in one frame. A peer whose
        queue is full loses its replies (ROUTER never blocks the venue). Chaos may hold a
        session's replies back (``Chaos.hold``), in order."""
        enc, enc_many = self.codec.encode, self.codec.encode_many
        send = self.sock.send
        sessions = self.sessions
        chaos = self.chaos
        for ident, msgs in self._out.items():
            if len(msgs) > 1:
                msgs.sort(key=_first)  # stable: events of one command keep their order
            sess = sessions.get(ident)
            if sess is not None and sess.pack and len(msgs) > 1:
                frames = [enc_many([m for _p, m in msgs[i : i + P.MAX_PACKED]])
                          for i in range(0, len(msgs), P.MAX_PACKED)]  # fmt: skip
            else:
                frames = [enc(m) for _p, m in msgs]
            delay = chaos.delay_ns(sess) if chaos is not None and sess is not None else 0
            if delay:
                for frame in frames:
                    chaos.hold(ident, frame, delay)
                continue
            try:
                for frame in frames:
                    send(ident, _MORE_NOBLOCK)
                    send(frame, _NOBLOCK)
            except zmq.ZMQError:  # Again (queue full) or a peer gone: it loses these replies
                continue

    def _send_frame(self, ident: bytes, frame: bytes) -> None:
        try:
            self.sock.send(ident, _MORE_NOBLOCK)
            self.sock.send(frame, _NOBLOCK)
        except zmq.ZMQError:
            pass


_first = itemgetter(0)  # a reply's position (C, not a Python call per element)


# the embedded default's demo venue lives in gateway.demo; re-exported for callers
from gateway.demo import DEMO_KEYS, demo_exchange, demo_venue  # noqa: E402

__all__ = ["DEMO_KEYS", "GatewayConfig", "GatewayServer", "demo_exchange", "demo_venue"]
