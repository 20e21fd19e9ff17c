"""Chaos for testing trading clients: a venue that misbehaves on purpose, the way real ones do.

Switched on venue-wide or per account (``[chaos]`` in the configuration, or at run time with
``venue admin chaos``). Per session: replies delayed by a fixed latency plus jitter (never
reordered), new orders rejected at random with realistic reasons, a tighter throttle, and
forced disconnects (cancel-on-disconnect applies). Venue-wide: random instrument halts and
resumes, bursts that multiply the background agents' flow, and market-data packets dropped or
delayed (so a client must recover from gaps; applied by the market-data publisher through
``md_drop`` / ``md_delay_ns``).

Every chaos event is logged, one JSON object per line (``log_path``, and the last
``MEMORY`` in ``Chaos.events``) with the wall-clock time, so a client team can line it up with
what their client did. A seeded generator decides everything, so the same seed and the same
traffic give the same chaos.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zmq

from matching import reasons as R

if TYPE_CHECKING:
    from gateway.server import GatewayServer
    from gateway.sessions import Session

MEMORY = 10_000  # chaos events kept in memory
# what a busy exchange really answers now and then
REJECT_REASONS = (
    R.INSUFFICIENT_MARGIN,
    R.OUTSIDE_PRICE_BAND,
    R.MAX_OPEN_ORDERS,
    R.INSTRUMENT_HALTED,
)


@dataclass(frozen=True)
class SessionChaos:
    """What one session suffers. All zero: nothing."""

    reply_delay_ms: float = 0.0  # every reply waits this long...
    reply_jitter_ms: float = 0.0  # ... plus uniform 0..jitter (order kept per session)
    reject_probability: float = 0.0  # a NewOrder is refused with a realistic reason
    rate_per_s: float = 0.0  # a tighter throttle (0: the gateway's own)
    burst: int = 0  # its bucket (0: the gateway's own, capped at the rate)
    disconnects_per_min: float = 0.0  # forced disconnects (cancel-on-disconnect applies)

    def __post_init__(self) -> None:
        for name in ("reply_delay_ms", "reply_jitter_ms", "rate_per_s", "disconnects_per_min"):
            if getattr(self, name) < 0:
                raise ValueError(f"chaos {name} must be >= 0, not {getattr(self, name)}")
        if not 0.0 <= self.reject_probability <= 1.0:
            raise ValueError(f"chaos reject_probability must be in 0..1: {self.reject_probability}")
        if self.burst < 0:
            raise ValueError(f"chaos burst must be >= 0, not {self.burst}")


@dataclass(frozen=True)
class ChaosConfig:
    """``[chaos]``: ``session`` for every session, ``accounts`` replacing it per account."""

    seed: int = 1
    session: SessionChaos = SessionChaos()
    accounts: dict[int, SessionChaos] = field(default_factory=dict)
    halts_per_min: float = 0.0  # random halts, each of halt_s seconds
    halt_s: float = 5.0
    halt_instruments: tuple[int, ...] = ()  # () = any instrument
    bursts_per_min: float = 0.0  # background flow multiplied by burst_factor for burst_s
    burst_s: float = 10.0
    burst_factor: float = 5.0
    md_drop_probability: float = 0.0  # market-data packets dropped
    md_delay_ms: float = 0.0  # market-data packets held back this long
    log_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("halts_per_min", "halt_s", "bursts_per_min", "burst_s", "md_delay_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"chaos {name} must be >= 0, not {getattr(self, name)}")
        if not 0.0 <= self.md_drop_probability <= 1.0:
            raise ValueError(f"chaos md_drop_probability must be in 0..1: "
                             f"{self.md_drop_probability}")  # fmt: skip
        if self.burst_factor <= 0:
            raise ValueError(f"chaos burst_factor must be > 0, not {self.burst_factor}")


class Chaos:
    """The chaos of one ``GatewayServer`` (``attach``). Costs nothing on the hot path when a
    session's options are all zero; a delayed reply costs a heap push and pop."""

    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.events: deque[dict[str, Any]] = deque(maxlen=MEMORY)
        self._log = Path(config.log_path).open("a") if config.log_path else None  # noqa: SIM115
        self._delayed: list[tuple[int, int, bytes, bytes]] = []  # (due ns, n, identity, frame)
        self._md_delayed: list[tuple[int, int, Any, list[bytes]]] = []  # (due, n, socket, frames)
        self._n = 0
        self._last_due: dict[bytes, int] = {}
        self._halted: dict[int, float] = {}  # instrument -> resume time (monotonic s)
        self._burst_until = 0.0
        self._next = {"disconnect": 0.0, "halt": 0.0, "burst": 0.0}
        self.drivers: list[Any] = []  # background agent drivers a burst speeds up
        self.server: GatewayServer | None = None

    def attach(self, server: GatewayServer) -> None:
        server.chaos = self
        self.server = server

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # --- configuration at run time ----------------------------------------------------------
    def set_session(self, account: int | None, options: SessionChaos) -> None:
        """Replace the options of one account's sessions (None: of every session). Sessions
        logged on already get the new throttle at once."""
        if account is None:
            self.config = replace(self.config, session=options)
        else:
            self.config = replace(self.config, accounts={**self.config.accounts, account: options})
        self.log("configured", account=account, **options.__dict__)
        if self.server is not None:
            for s in self.server.sessions.values():
                if s.account and (account is None or s.account == account):
                    self.server._apply_throttle(s)

    def of(self, account: int) -> SessionChaos:
        return self.config.accounts.get(account, self.config.session)

    # --- the log ----------------------------------------------------------------------------
    def log(self, kind: str, **fields: Any) -> None:
        rec = {"t": round(time.time(), 6), "chaos": kind, **fields}
        self.events.append(rec)
        if self._log is not None:
            self._log.write(json.dumps(rec) + "\n")
            self._log.flush()

    # --- per session ------------------------------------------------------------------------
    def reject(self, sess: Session, req: int, cl_ord_id: int) -> int:
        """A reason to refuse this NewOrder, or 0."""
        p = self.of(sess.account).reject_probability
        if not p or self.rng.random() >= p:
            return 0
        reason = int(REJECT_REASONS[int(self.rng.integers(len(REJECT_REASONS)))])
        self.log("reject", session=sess.sid, account=sess.account, req=req,
                 cl_ord_id=cl_ord_id, reason=reason, name=R.name(reason))  # fmt: skip
        return reason

    def delay_ns(self, sess: Session) -> int:
        o = self.of(sess.account)
        if not (o.reply_delay_ms or o.reply_jitter_ms):
            return 0
        jitter = float(self.rng.uniform(0.0, o.reply_jitter_ms)) if o.reply_jitter_ms else 0.0
        return int((o.reply_delay_ms + jitter) * 1e6)

    def hold(self, identity: bytes, frame: bytes, delay_ns: int) -> None:
        """Keep a reply frame until its time; never before an earlier reply of the same peer."""
        due = max(time.monotonic_ns() + delay_ns, self._last_due.get(identity, 0))
        self._last_due[identity] = due
        self._n += 1
        heapq.heappush(self._delayed, (due, self._n, identity, frame))

    def next_due_s(self) -> float | None:
        """Seconds until the next held reply or packet is due (None: none held)."""
        dues = [q[0][0] for q in (self._delayed, self._md_delayed) if q]
        if not dues:
            return None
        return max(0.0, (min(dues) - time.monotonic_ns()) / 1e9)

    def release(self, send: Any) -> int:
        """Send every held reply (``send(identity, frame)``) and market-data packet that is
        due. Returns how many."""
        now = time.monotonic_ns()
        n = 0
        while self._delayed and self._delayed[0][0] <= now:
            _due, _n, ident, frame = heapq.heappop(self._delayed)
            send(ident, frame)
            n += 1
        md = self._md_delayed
        while md and md[0][0] <= now:
            _due, _n, sock, frames = heapq.heappop(md)
            # market data never blocks the venue: a full queue drops the packet
            with contextlib.suppress(zmq.ZMQError):
                sock.send_multipart(frames, zmq.NOBLOCK)
            n += 1
        return n

    # --- venue-wide, once per wakeup ----------------------------------------------------------
    def _due(self, what: str, per_min: float, now: float) -> bool:
        """Poisson arrivals of ``what`` at ``per_min``: True when one is due at ``now``."""
        if per_min <= 0:
            return False
        nxt = self._next[what]
        if nxt == 0.0:  # the first arrival, from now
            self._next[what] = now + float(self.rng.exponential(60.0 / per_min))
            return False
        if now < nxt:
            return False
        self._next[what] = now + float(self.rng.exponential(60.0 / per_min))
        return True

    def tick(self, srv: GatewayServer, now: float) -> None:
        """Forced disconnects, halts and resumes, bursts: whatever is due at ``now``."""
        cfg = self.config
        for inst, until in list(self._halted.items()):
            if now >= until:
                del self._halted[inst]
                srv.halt(inst, on=False)
                self.log("resume", instrument=inst)
        if self._due("halt", cfg.halts_per_min, now):
            pool = [i for i in (cfg.halt_instruments or sorted(srv.ex.instruments))
                    if i not in self._halted]  # fmt: skip
            if pool:
                inst = int(pool[int(self.rng.integers(len(pool)))])
                self._halted[inst] = now + cfg.halt_s
                srv.halt(inst, on=True)
                self.log("halt", instrument=inst, seconds=cfg.halt_s)
        if self._burst_until and now >= self._burst_until:
            self._burst_until = 0.0
            for d in self.drivers:
                d.rate_scale = d.config.rate_scale
            self.log("burst_end")
        if self._due("burst", cfg.bursts_per_min, now) and not self._burst_until:
            self._burst_until = now + cfg.burst_s
            for d in self.drivers:
                d.rate_scale = d.config.rate_scale * cfg.burst_factor
            self.log("burst", factor=cfg.burst_factor, seconds=cfg.burst_s)
        self._disconnects(srv, now)

    def _disconnects(self, srv: GatewayServer, now: float) -> None:
        rates = {
            a: self.of(a).disconnects_per_min
            for a in {s.account for s in srv.sessions.values()}
            if a
        }
        for account, per_min in sorted(rates.items()):
            if not per_min or not self._due_account(account, per_min, now):
                continue
            victims = sorted((s for s in srv.sessions.values() if s.account == account),
                             key=lambda s: s.sid)  # fmt: skip
            if victims:
                sess = victims[int(self.rng.integers(len(victims)))]
                self.log("disconnect", session=sess.sid, account=account)
                srv._end(sess, cancel=True)

    def _due_account(self, account: int, per_min: float, now: float) -> bool:
        key = f"disconnect:{account}"
        self._next.setdefault(key, 0.0)
        return self._due(key, per_min, now)

    # --- market data (called by the publisher) --------------------------------------------
    def md_packet(self, sock: Any, frames: list[bytes], packet_seq: int) -> bool:
        """The publisher's hook for one packet: True if chaos took it (dropped, or held back
        ``md_delay_ms`` to be sent by ``release``); False to send it now."""
        if self.md_drop():
            self.log("md_drop", topic=frames[0].decode(errors="replace"), packet=packet_seq)
            return True
        delay = self.md_delay_ns()
        if not delay:
            return False
        self._n += 1
        heapq.heappush(self._md_delayed, (time.monotonic_ns() + delay, self._n, sock, frames))
        return True

    def md_drop(self) -> bool:
        """Drop this market-data packet?"""
        p = self.config.md_drop_probability
        return bool(p) and self.rng.random() < p

    def md_delay_ns(self) -> int:
        return int(self.config.md_delay_ms * 1e6)
