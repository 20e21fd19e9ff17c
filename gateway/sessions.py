"""Sessions: Logon, the per-session token bucket, heartbeat expiry and the end of a session
with its cancel-on-disconnect. ``SessionKeeper`` is the half of ``GatewayServer`` that owns
them; the server supplies ``_reply`` (queue a message for a peer) and ``_add`` (append a command
to this wakeup's batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from gateway import protocol as P
from gateway.reports import refusal
from matching import reasons as R
from matching.records import CMD_CANCEL, CMD_MASS_CANCEL, GTC

if TYPE_CHECKING:
    from gateway.reports import Track
    from gateway.server import GatewayConfig


@dataclass
class Session:
    """One connection (a ROUTER peer identity) and, after Logon, the account it acts for."""

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
    pack: bool = False  # replies of one wakeup go in one packed frame
    rate: float = 0.0  # this session's throttle (the gateway's, or chaos's tighter one)
    burst: float = 0.0


class SessionKeeper:
    """Logon, throttles and the end of sessions (mixed into ``GatewayServer``)."""

    config: GatewayConfig
    chaos: Any
    sessions: dict[bytes, Session]
    _by_account: dict[int, list[Session]]
    tracks: dict[int, Track]
    _next_sid: int
    _last_idle: float

    def _reply(self, sess: Session | None, msg: msgspec.Struct, identity: bytes = b"") -> None:
        raise NotImplementedError

    def _add(self, sess: Session | None, req: int, msg: Any, **fields: int) -> None:
        raise NotImplementedError

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
        sess.pack = msg.pack
        sess.last_seen = now
        self._apply_throttle(sess)
        sess.tokens = sess.burst
        sess.refilled = now
        self._reply(
            sess,
            P.LogonAck(
                req=msg.req, account=account, session=sess.sid, heartbeat_ms=sess.heartbeat_ms
            ),
        )

    def _apply_throttle(self, sess: Session) -> None:
        """The session's token bucket: the gateway's, or a tighter one chaos asked for."""
        rate, burst = self.config.rate_per_s, float(self.config.burst)
        if self.chaos is not None:
            o = self.chaos.of(sess.account)
            if o.rate_per_s:
                rate = min(rate, o.rate_per_s)
                burst = min(burst, float(o.burst or max(1.0, o.rate_per_s)))
        sess.rate, sess.burst = rate, burst
        sess.tokens = min(sess.tokens, burst)

    def _throttled(self, sess: Session, msg: Any) -> None:
        """Over the token bucket: a RATE_LIMITED reject; a run of them ends the session."""
        sess.throttled += 1
        self._reply(sess, refusal(msg, R.RATE_LIMITED))
        if sess.throttled > self.config.abuse_rejects:  # sustained abuse: the session ends
            self._end(sess, cancel=True)

    def _expire_sessions(self) -> None:
        """End the sessions silent for two heartbeat intervals. Silence is counted up to the
        last moment the venue waited for input and none came (``_last_idle``), not up to now:
        whatever a client sent before that moment had arrived by then, while under a backlog
        its heartbeats may still sit in a queue (the venue's, TCP's or the client's), and that
        silence would be the venue's, not the client's. A saturated venue therefore ends no
        session for silence. O(sessions)."""
        idle = self._last_idle
        for sess in list(self.sessions.values()):
            if sess.account and idle - sess.last_seen > 2 * sess.heartbeat_ms / 1000:
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
