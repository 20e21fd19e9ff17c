"""Recovery: the newest valid snapshot, then every journaled command after it, replayed into
the exchange; the gateway's order tracks rebuilt; the running event hash continued.

Replay goes through ``Exchange.process_into`` in chunks of up to 64Ki commands (journal batch
boundaries do not matter to the engine: each command's events depend only on the state and the
command), about 1.5M commands/s here with the event hash. The gateway's per-event Python
(``GatewayServer.replay_batch``: reports nobody will read, ~70k commands/s) is skipped: its
order tracks are rebuilt at the end from the engine's live orders, the snapshot's tracks and the
replayed fills (``rebuild_gateway``; ``exact=True`` replays through ``replay_batch`` instead, and
tests check that both end in the same gateway state).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gateway.reports import kill_switches
from journal.eventhash import EventHash
from journal.reader import read_segments
from journal.records import JournalError, commands_of
from journal.snapshot import (
    Snapshot,
    SnapshotError,
    apply_snapshot,
    layout_of,
    read_snapshot,
    snapshot_files,
)
from matching.api import packed_bytes
from matching.records import (
    EV_ACCEPTED,
    EV_FILL,
    EVENT_DTYPE,
    STOP_LIMIT,
    STOP_MARKET,
)

if TYPE_CHECKING:
    from clearing.exchange import Exchange
    from gateway.server import GatewayServer

CHUNK = 1 << 16


def genesis_fingerprint(ex: Exchange) -> bytes:
    """16 bytes naming the state a venue starts from (instruments, clearing tables, initial
    deposits and marks, sequence): journals and snapshots carry it, so a venue never replays
    commands onto another configuration. Call on the freshly built exchange. O(state)."""
    h = hashlib.sha256()
    h.update(ex.state_hash().encode())
    h.update(packed_bytes(ex.engine.state.inst))  # field bytes: padding is undefined
    h.update(packed_bytes(ex.cs.inst))
    for name in ("bal", "held", "sysbal", "pool", "acct_flags"):
        h.update(np.ascontiguousarray(getattr(ex.cs, name)).tobytes())
    h.update(f"{ex.next_seq}:{ex.now_ns}:{sorted(ex.transfers.items())}".encode())
    return h.digest()[:16]


@dataclass
class Recovered:
    """What recovery did: the snapshot used, the commands replayed after it, the result."""

    snapshot_seq: int = 0  # 0: none, replayed from the configuration's initial state
    snapshot_path: Path | None = None
    replayed: int = 0
    last_seq: int = 0
    state_hash: str = ""
    event_hash: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The line ``venue run`` prints at start."""
        snap = f"snapshot seq {self.snapshot_seq}" if self.snapshot_path else "no snapshot"
        return (
            f"recovered {self.replayed} commands after {snap} (now at seq {self.last_seq}) in "
            f"{self.seconds:.2f} s, state hash {self.state_hash}, event hash {self.event_hash}"
        )


class Replayer:
    """Feeds journaled commands through the exchange, hashing the events and keeping what the
    gateway's tracks need (fills per order, kill switches)."""

    def __init__(
        self, ex: Exchange, event_hash: EventHash, chunk: int = CHUNK, track: bool = True
    ) -> None:
        self.ex = ex
        self.track = track  # keep fills and kill switches (for rebuild_gateway)
        self.hash = event_hash
        self.chunk = chunk
        self.buf = np.zeros(4 * chunk, dtype=EVENT_DTYPE)  # room for most chunks' events
        self.commands = 0
        self.fills: list[np.ndarray] = []  # (order id, qty, notional) rows, both sides
        self.accepted: list[np.ndarray] = []  # (order id, order type, trigger) as accepted
        self.switches: list[tuple[int, bool]] = []  # kill switches on/off, in journal order
        self.last_ts = 0
        self.on_events: Callable[[np.ndarray], None] | None = None

    def feed(self, cmds: np.ndarray) -> None:
        """Run stamped commands (seq must continue the exchange's). O(n) kernel time."""
        for at in range(0, len(cmds), self.chunk):
            part = cmds[at : at + self.chunk]
            k, self.buf, _nl, _l = self.ex.process_into(part, self.buf)
            ev = self.buf[:k]
            self.hash.update(ev)
            if self.on_events is not None:
                self.on_events(ev)
            self.commands += len(part)
            self.last_ts = max(self.last_ts, int(part["ts_ns"].max()))
            if not self.track:
                continue
            # field columns gathered by index: copying whole 112-byte records is slower
            kind = ev["kind"]
            ia = np.flatnonzero(kind == EV_ACCEPTED)
            if len(ia):  # a stop keeps its type and trigger in the gateway's track
                ot = ev["order_type"][ia].astype(np.int64)
                self.accepted.append(np.stack([ev["order_id"][ia], ot, ev["aux"][ia]], 1))
            fi = np.flatnonzero(kind == EV_FILL)
            if len(fi):
                q = ev["qty_lots"][fi]
                notional = q * ev["price_ticks"][fi]
                nf = len(fi)
                rows = np.empty((2 * nf, 3), dtype=np.int64)
                rows[:nf, 0] = ev["order_id"][fi]
                rows[nf:, 0] = ev["maker_order_id"][fi]
                rows[:nf, 1] = rows[nf:, 1] = q
                rows[:nf, 2] = rows[nf:, 2] = notional
                self.fills.append(rows)
            self.switches += kill_switches(part)
            if len(self.fills) + len(self.accepted) > 64:
                self._compact()

    def _compact(self) -> None:
        """Keep the fills and acceptances of live orders only: memory stays O(live orders)
        however long the replay. O(kept rows + live orders)."""
        live = self.ex.dump()["order_id"]
        for name in ("fills", "accepted"):
            parts = getattr(self, name)
            if parts:
                rows = np.concatenate(parts)
                setattr(self, name, [rows[np.isin(rows[:, 0], live)]])


def _switched(killed: set[int], switches: list[tuple[int, bool]]) -> set[int]:
    for account, on in switches:
        if on:
            killed.add(account)
        else:
            killed.discard(account)
    return killed


def rebuild_gateway(server: GatewayServer, prior: dict[str, Any], rp: Replayer) -> None:
    """The gateway state after the replay, handed to ``import_state`` (format 2, which
    rebuilds one track per live order from the engine's book): the fill notional of every live
    order with fills (the snapshot's plus the replayed ones), the original type and trigger of
    stop orders (the snapshot's, else the order's ACCEPTED event), and the kill switches as the
    replayed commands left them. O(live orders with fills or stops + replayed fills)."""
    if prior.get("version", 1) >= 2:
        fills0 = {int(o): (int(c), int(n)) for o, c, n in prior.get("fills", [])}
        stops0 = {int(o): (int(t), int(g)) for o, t, g in prior.get("stops", [])}
    else:  # every track written out: keep what format 2 keeps
        fills0 = {int(r[0]): (int(r[10]), int(r[11])) for r in prior["tracks"] if r[10]}
        stops0 = {int(r[0]): (int(r[5]), int(r[9])) for r in prior["tracks"]
                  if r[5] in (STOP_MARKET, STOP_LIMIT)}  # fmt: skip
    live_ids = server.ex.dump()["order_id"]
    fills = np.concatenate(rp.fills) if rp.fills else np.zeros((0, 3), dtype=np.int64)
    fills = fills[np.isin(fills[:, 0], live_ids)]
    if len(fills):
        ids, inv = np.unique(fills[:, 0], return_inverse=True)
        q = np.zeros(len(ids), dtype=np.int64)
        n = np.zeros(len(ids), dtype=np.int64)
        np.add.at(q, inv, fills[:, 1])
        np.add.at(n, inv, fills[:, 2])
        for i, a, b in zip(ids.tolist(), q.tolist(), n.tolist(), strict=True):
            c0, n0 = fills0.get(i, (0, 0))
            fills0[i] = (c0 + a, n0 + b)
    acc = np.concatenate(rp.accepted) if rp.accepted else np.zeros((0, 3), dtype=np.int64)
    acc = acc[np.isin(acc[:, 0], live_ids) & np.isin(acc[:, 1], (STOP_MARKET, STOP_LIMIT))]
    stops0.update({int(o): (int(t), int(g)) for o, t, g in acc.tolist()})
    live = set(live_ids.tolist())
    server.import_state(
        {
            "version": 2,
            "fills": sorted([o, c, n] for o, (c, n) in fills0.items() if o in live),
            "stops": sorted([o, t, g] for o, (t, g) in stops0.items() if o in live),
            "killed": sorted(_switched(set(prior.get("killed", ())), rp.switches)),
            "next_sid": prior.get("next_sid", 1),
        }
    )
    server._last_ts = max(int(getattr(server, "_last_ts", 0)), rp.last_ts)


def load_snapshot(
    server: GatewayServer, directory: Path, genesis: bytes, warn: Callable[[str], None]
) -> Snapshot | None:
    """The newest snapshot of ``directory`` that reads back whole, or None. A damaged one (or
    one from another build) is reported and the next older one tried; one written for another
    configuration stops recovery (JournalError). O(snapshot size)."""
    layout = layout_of(server)
    for p in snapshot_files(directory):
        try:
            snap = read_snapshot(p, None, layout, like=server)
        except SnapshotError as e:
            warn(f"skipping snapshot {p.name}: {e}")
            continue
        if snap.genesis != genesis:
            raise JournalError(
                f"{p}: this snapshot was written by a venue with a different configuration "
                "(instruments, accounts or initial deposits differ): start with the "
                "configuration it was written with, or use another data directory"
            )
        return snap
    return None


def recover(
    server: GatewayServer,
    directory: str | Path,
    *,
    exact: bool = False,
    warn: Callable[[str], None] | None = None,
) -> tuple[Recovered, EventHash, bytes]:
    """Bring a freshly built server (not started) to the state its data directory records:
    the newest valid snapshot, then every journaled command after it. Repairs a torn journal
    tail (cut off, with a warning). Returns what was done, the running event hash (to go on
    with) and the genesis fingerprint. JournalError / JournalCorrupt stop it: nothing is
    skipped silently. ``exact``: replay through ``server.replay_batch`` (slow; for tests).
    O(snapshot + journal after it)."""
    t0 = time.perf_counter()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    res = Recovered()

    def note(msg: str) -> None:
        res.warnings.append(msg)
        if warn is not None:
            warn(msg)

    for tmp in d.glob("*.tmp"):  # a snapshot whose write a crash interrupted
        note(f"removing {tmp.name}: an unfinished snapshot (the crash came while writing it)")
        tmp.unlink()
    ex = server.ex
    genesis = genesis_fingerprint(ex)
    eh = EventHash()
    prior = server.export_state()
    snap = load_snapshot(server, d, genesis, note)
    if snap is not None:
        apply_snapshot(server, snap)
        eh = EventHash(snap.hash_chain, snap.hash_pending)
        prior = snap.gateway
        res.snapshot_seq, res.snapshot_path = snap.seq, snap.path
    start = ex.next_seq
    rp = Replayer(ex, eh)
    last_seg = None
    for seg in read_segments(d, genesis=genesis, repair=True, warn=note, from_seq=start):
        last_seg = seg
        if seg.count == 0 or seg.last_seq < start:
            continue
        skip = max(0, start - seg.first_seq)
        if seg.first_seq + skip != ex.next_seq:
            raise JournalError(
                f"{seg.path}: the journal goes on at seq {seg.first_seq + skip} but the state "
                f"is at seq {ex.next_seq - 1}: commands are missing (a journal file deleted?)"
            )
        cmds = commands_of(seg.rows[skip:])
        if exact:
            for at in range(0, len(cmds), 1024):
                part = cmds[at : at + 1024]
                k = server.replay_batch(part)
                eh.update(server._events[:k])
            rp.commands += len(cmds)
        else:
            rp.feed(cmds)
    if last_seg is not None and last_seg.count == 0:
        last_seg.path.unlink()  # an empty last file: the writer starts a new one at this seq
    if not exact:
        rebuild_gateway(server, prior, rp)
    res.replayed = rp.commands
    res.last_seq = ex.next_seq - 1
    res.state_hash = ex.state_hash()
    res.event_hash = eh.hexdigest()
    res.seconds = time.perf_counter() - t0
    return res, eh, genesis


def replay_journal(
    ex: Exchange,
    directory: str | Path,
    *,
    checkpoints: list[int] | None = None,
    stop_at: Callable[[int, EventHash], None] | None = None,
    warn: Callable[[str], None] | None = None,
    on_events: Callable[[np.ndarray], None] | None = None,
) -> tuple[EventHash, int]:
    """Replay a whole journal from the configuration's initial state (no snapshot) into a
    freshly built exchange, read-only (a torn tail is reported, not cut). At each seq of
    ``checkpoints`` that the replay reaches, ``stop_at(seq, event_hash)`` is called with the
    state right after that command. Returns the event hash and the number of commands.
    JournalError / JournalCorrupt on a damaged or foreign journal. O(n)."""
    eh = EventHash()
    rp = Replayer(ex, eh, track=False)
    rp.on_events = on_events
    marks = sorted(s for s in set(checkpoints or []) if s >= ex.next_seq - 1)

    def reached() -> None:
        while marks and marks[0] <= ex.next_seq - 1:
            seq = marks.pop(0)
            if seq == ex.next_seq - 1 and stop_at is not None:
                stop_at(seq, eh)

    reached()
    genesis = genesis_fingerprint(ex)
    for seg in read_segments(directory, genesis=genesis, repair=False, warn=warn):
        if seg.count == 0:
            continue
        if seg.first_seq != ex.next_seq:
            raise JournalError(
                f"{seg.path}: the journal goes on at seq {seg.first_seq} but the replay is at "
                f"seq {ex.next_seq - 1}: commands are missing"
            )
        cmds = commands_of(seg.rows)
        at = 0
        while at < len(cmds):
            end = len(cmds)
            if marks and marks[0] <= seg.last_seq:
                end = marks[0] - seg.first_seq + 1
            rp.feed(cmds[at:end])
            at = end
            reached()
    return eh, rp.commands
