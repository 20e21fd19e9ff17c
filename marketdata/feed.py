"""The market-data publisher: engine events in, sequenced packets out on an XPUB socket.

``Publisher.on_events(events)`` is a gateway listener (``server.listeners.append(...)``): it
runs in the gateway thread after each batch's replies went out. One kernel pass
(``feed_nb.publish_events_nb``) turns the batch's EVENT_DTYPE records into the records of every
channel; then one packet per (channel, instrument) with records in the batch is sent, NOBLOCK:
a subscriber at its high-water mark loses packets (and recovers from the sequence numbers and
a snapshot), the venue never waits. Without a gateway (backtests, tools) feed it the events an
``Exchange`` or ``Engine`` returns: ``pub.on_events(ex.process(cmds))``.

Wire format, sequence rules and recovery: docs/marketdata.md.
"""

from __future__ import annotations

import itertools
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import zmq
from numba import types
from numba.typed import Dict

from marketdata import wire as W
from marketdata.book import arena_levels
from marketdata.feed_nb import publish_events_nb
from marketdata.levels_nb import grow_arena, new_arena, set_level_nb
from matching.instruments import Instrument
from matching.records import EVENT_DTYPE

_ORDER_T = types.UniTuple(types.int64, 6)
_MORE = int(zmq.SNDMORE) | int(zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


def new_session_id() -> int:
    """A random positive 63-bit feed session id (a restarted publisher gets a new one)."""
    return secrets.randbits(63) | 1


class Publisher:
    """Derives every channel from engine events and publishes it. ``instruments``: the
    venue's instruments (ids may be sparse). ``hwm``: per-subscriber send high-water mark in
    packets. ``session``: fixed session id (tests); default random. ``conflate_ms`` > 0:
    ``l2`` and ``bbo`` go out at most every that many ms, one update per changed level / one
    BBO per instrument, with their own contiguous sequence numbers (docs/marketdata.md)."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        ctx: zmq.Context[Any] | None = None,
        *,
        hwm: int = 100_000,
        session: int | None = None,
        conflate_ms: float = 0.0,
    ) -> None:
        self.instruments = sorted(instruments, key=lambda i: i.id)
        if not self.instruments:
            raise ValueError("a publisher needs at least one instrument")
        ids = [i.id for i in self.instruments]
        if min(ids) < 0 or len(set(ids)) != len(ids):
            raise ValueError("instrument ids must be distinct and >= 0")
        self.ids = np.array(ids, dtype=np.int64)
        self.imap = np.full(max(ids) + 1, -1, dtype=np.int64)
        self.imap[self.ids] = np.arange(len(ids))
        self.index = {i.id: k for k, i in enumerate(self.instruments)}
        self.by_symbol = {i.symbol: i for i in self.instruments}
        self.session = new_session_id() if session is None else int(session)
        self.packet_seq = 0
        self.packets_sent = 0
        self.updates_sent = 0
        self.errors = 0  # internal errors survived (guarded listener)
        n = len(self.instruments)
        self.arena = new_arena(2 * n)
        self.orders = Dict.empty(types.int64, _ORDER_T)
        self.tk = np.zeros(9, dtype=np.int64)
        self.seqs = np.zeros((n, W.N_CHANNELS), dtype=np.int64)
        self.bbo_last = np.zeros((n, 6), dtype=np.int64)
        self.bbo_tmp = np.zeros(6, dtype=np.int64)
        self.bars1s = np.zeros((n, 7), dtype=np.int64)
        self.bars1m = np.zeros((n, 7), dtype=np.int64)
        self.bar_open = np.zeros((2, 2 * n + 1), dtype=np.int64)  # flags, count, open list
        self.cnt_out = np.zeros(W.N_CHANNELS, dtype=np.int64)
        self._hb_seqs = self.seqs.copy()
        if conflate_ms < 0:
            raise ValueError("conflate_ms must be >= 0")
        self.conflate_ns = int(conflate_ms * 1e6)
        self.cseqs = np.zeros((n, W.N_CHANNELS), dtype=np.int64)  # conflated l2 / bbo numbers
        self._pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {W.CH_L2: [], W.CH_BBO: []}
        self._next_flush = 0
        self._hb_next = 0.0
        self._bufs: list[np.ndarray] = []
        self._idx: list[np.ndarray] = []
        self._alloc(1024)
        self._topics = [
            [W.topic(ch, i.symbol) for i in self.instruments] for ch in range(W.N_CHANNELS)
        ]
        self._ids = [int(i) for i in self.ids]
        self._prefixes: set[bytes] = set()
        self._watched = [[False] * n for _ in range(W.N_CHANNELS)]
        self._own_ctx = ctx is None
        self._ctx = ctx
        self.hwm = hwm
        self.sock: zmq.Socket[Any] | None = None  # created by bind()
        self.endpoint = ""
        # in-process consumers of every packet's frames (backtests, tests, the recorder)
        self.sinks: list[Callable[[list[bytes]], None]] = []
        # gateway.chaos.Chaos: drops or holds back packets on purpose (client testing)
        self.chaos: Any = None

    def _alloc(self, n_events: int) -> None:
        size = 3 * n_events + 2 * len(self.instruments) + 16
        self._bufs = [np.zeros(size, dtype=dt) for dt in W.CHANNEL_DTYPES]
        self._idx = [np.zeros(size, dtype=np.int64) for _ in W.CHANNEL_DTYPES]
        self._cap_events = n_events

    def bind(self, endpoint: str = "tcp://127.0.0.1:*") -> str:
        """Bind the XPUB socket; returns the concrete endpoint (``*``: a random port)."""
        if self.sock is None:
            if self._ctx is None:
                self._ctx = zmq.Context()
            self.sock = self._ctx.socket(zmq.XPUB)
            self.sock.setsockopt(zmq.SNDHWM, self.hwm)
            self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return self.endpoint

    def close(self) -> None:
        """Close the socket (and the context, if this publisher made it)."""
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None
        if self._own_ctx and self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None

    def reset(self, dump: np.ndarray | None = None) -> None:
        """Start a new feed session from scratch (new session id, sequences from 1), seeded
        from ``dump`` if given: subscribers see the new id and resync from snapshots. For a
        publisher that hit an internal error. O(instruments + orders)."""
        n = len(self.instruments)
        self.session = new_session_id()
        self.arena = new_arena(2 * n)
        self.orders = Dict.empty(types.int64, _ORDER_T)
        for a in (self.tk, self.seqs, self.cseqs, self.bbo_last, self.bars1s, self.bars1m,
                  self.bar_open):  # fmt: skip
            a[...] = 0
        self._hb_seqs = self.seqs.copy()
        for parts in self._pending.values():
            parts.clear()
        if dump is not None:
            self.seed(dump)

    def guarded(self, dump: Callable[[], np.ndarray]) -> Callable[[np.ndarray], None]:
        """``on_events`` for the gateway: an internal error (a bug) must not stop the venue:
        it is reported on stderr and the feed restarts as a new session seeded from
        ``dump()`` (the engine's book). O(1) when nothing fails."""

        def listener(events: np.ndarray) -> None:
            try:
                self.on_events(events)
            except Exception as e:
                self.errors += 1
                print(f"marketdata: publisher error {e!r}; new feed session", file=sys.stderr)
                self.reset(dump())

        return listener

    # --- state seeding --------------------------------------------------------------------
    def seed(self, dump: np.ndarray) -> None:
        """Start from a book that already has resting orders (``Exchange.dump()``, e.g. after
        a restart from a journal): levels and orders are loaded, nothing is published (a
        subscriber takes a snapshot). O(orders), Python: start-up only."""
        keys, qty, cnt, start, cap, n, top = self.arena
        for r in dump:
            side = int(r["side"])
            if side not in (1, 2) or int(r["instrument"]) not in self.index:
                continue
            ii = self.index[int(r["instrument"])]
            price, vis = int(r["price_ticks"]), int(r["visible_lots"])
            self.orders[int(r["order_id"])] = (
                ii, side, price, vis, int(r["leaves_lots"]), int(r["display_lots"]))  # fmt: skip
            b = 2 * ii + side - 1
            key = price if side == 1 else -price
            ks, kn = int(start[b]), int(n[b])
            p = ks + int(np.searchsorted(keys[ks : ks + kn], key))
            have = p < ks + kn and keys[p] == key
            q0, c0 = (int(qty[p]), int(cnt[p])) if have else (0, 0)
            while set_level_nb(keys, qty, cnt, start, cap, n, top, b, key, q0 + vis, c0 + 1) == -2:
                self.arena = grow_arena(self.arena)
                keys, qty, cnt, start, cap, n, top = self.arena

    # --- the listener ---------------------------------------------------------------------
    def on_events(self, events: np.ndarray) -> None:
        """Derive and publish one batch of engine events (the gateway listener). Never blocks:
        a full subscriber queue drops. O(events) in one kernel plus one send per packet."""
        if events.dtype is not EVENT_DTYPE and events.dtype != EVENT_DTYPE:
            raise TypeError(f"events must be EVENT_DTYPE records, not {events.dtype}")
        if len(events) == 0:
            return
        if len(events) > self._cap_events:
            self._alloc(max(len(events), 2 * self._cap_events))
        b, x = self._bufs, self._idx
        done = 0
        while True:
            keys, qty, cnt, start, cap, n, top = self.arena
            done = publish_events_nb(
                events, done, self.imap, keys, qty, cnt, start, cap, n, top, self.orders,
                self.tk, self.seqs, self.bbo_last, self.bbo_tmp, self.bars1s, self.bars1m,
                self.bar_open, self.cnt_out, b[0], x[0], b[1], x[1], b[2], x[2], b[3], x[3],
                b[4], x[4], b[5], x[5], b[6], x[6],
            )  # fmt: skip
            if done >= len(events):
                break
            self.arena = grow_arena(self.arena)
        if self.sock is not None:
            self._read_subscriptions()
        self._send_all()
        if self.conflate_ns:
            self.flush()

    def _read_subscriptions(self) -> None:
        """XPUB hands us each topic prefix when its first subscriber arrives and when its last
        leaves: keep a table of watched (channel, instrument) so that no packet is encoded for
        a topic nobody reads (a real venue's main saving at low rates). O(1) when unchanged."""
        assert self.sock is not None
        changed = False
        sock = self.sock
        # ask the socket first: a failed recv costs an exception (~5 us) every batch
        while int(sock.getsockopt(_EVENTS)) & _POLLIN:
            m = sock.recv(_LAST)
            if m[:1] == b"\x01":
                self._prefixes.add(m[1:])
            elif m[:1] == b"\x00":
                self._prefixes.discard(m[1:])
            changed = True
        if changed:
            pre = tuple(self._prefixes)
            self._watched = [[t.startswith(pre) for t in row] for row in self._topics]

    def _send_all(self) -> None:
        send_ns = time.time_ns()
        for ch, k in enumerate(self.cnt_out.tolist()):
            if k == 0:
                continue
            recs = self._bufs[ch][:k]
            inst = self._idx[ch][:k]
            if self.conflate_ns and ch in self._pending:
                self._pending[ch].append((recs.copy(), inst.copy()))
                continue
            if k == 1 or (inst[0] == inst[-1] and (k < 3 or (inst == inst[0]).all())):
                self._send(ch, int(inst[0]), recs, send_ns)
                continue
            order = np.argsort(inst, kind="stable")
            recs = recs[order]
            inst = inst[order]
            cuts = np.flatnonzero(np.diff(inst)) + 1
            lo = 0
            for hi in [*cuts.tolist(), k]:
                self._send(ch, int(inst[lo]), recs[lo:hi], send_ns)
                lo = hi

    def _send(self, ch: int, ii: int, recs: np.ndarray, send_ns: int, last: int = -1) -> None:
        # all records of (ch, ii) in this batch go in this one packet: the last one is the
        # channel's latest sequence number
        sinks = self.sinks
        if not sinks and not self._watched[ch][ii]:
            return
        self.packet_seq += 1
        count = len(recs)
        if last < 0:
            last = int(self.seqs[ii, ch])
        hdr = W.PacketHeader(W.WIRE_VERSION, self.session, self.packet_seq, ch,
                             self._ids[ii], last - count + 1, last, count, send_ns)  # fmt: skip
        topic, head, body = self._topics[ch][ii], W.HEADER_ENCODER.encode(hdr), recs.tobytes()
        for sink in sinks:
            sink([topic, head, body])
        sock = self.sock
        chaos = self.chaos
        if (
            sock is not None
            and chaos is not None
            and chaos.md_packet(sock, [topic, head, body], self.packet_seq)
        ):
            return  # dropped, or held back to be sent later
        if sock is not None:
            try:  # plain int flags: pyzmq's enum arithmetic costs more than the send
                sock.send(topic, _MORE)
                sock.send(head, _MORE)
                sock.send(body, _LAST)
            except zmq.Again:  # only with XPUB_NODROP: drop rather than block the venue
                return
        self.packets_sent += 1
        self.updates_sent += count

    def heartbeat(self) -> int:
        """Send, for every (channel, instrument) that published since the last heartbeat, an
        empty packet (count 0) carrying its last sequence number: a subscriber that lost the
        LAST packet of a burst sees the hole now instead of at the next update (CME's and
        Coinbase's heartbeats serve the same purpose). Returns packets sent. O(changed)."""
        if self.conflate_ns:
            self.flush()
            now = time.monotonic()
            if now < self._hb_next:  # ticks come every conflation period: beat every 0.25 s
                return 0
            self._hb_next = now + 0.25
        seqs = self.public_seqs()
        changed = np.argwhere(seqs != self._hb_seqs)
        if len(changed) == 0:
            return 0
        self._hb_seqs = seqs
        if self.sock is not None:
            self._read_subscriptions()
        send_ns = time.time_ns()
        empty = self._bufs[0][:0]
        for ii, ch in changed.tolist():
            if not self.sinks and not self._watched[ch][ii]:
                continue
            last = int(seqs[ii, ch])
            self.packet_seq += 1
            hdr = W.PacketHeader(W.WIRE_VERSION, self.session, self.packet_seq, ch,
                                 int(self.ids[ii]), last + 1, last, 0, send_ns)  # fmt: skip
            frames = [self._topics[ch][ii], W.HEADER_ENCODER.encode(hdr), empty.tobytes()]
            for sink in self.sinks:
                sink(frames)
            if self.sock is not None:
                self.sock.send_multipart(frames, zmq.NOBLOCK)
        return len(changed)

    # --- what snapshots need --------------------------------------------------------------
    def last_seq(self, channel: int, instrument: int) -> int:
        """The last sequence number published on (channel, instrument id). With conflation,
        pending l2 / bbo updates are sent first (a snapshot must not be ahead). O(1)."""
        if self.conflate_ns and channel in self._pending:
            self.flush(force=True)
            return int(self.cseqs[self.index[instrument], channel])
        return int(self.seqs[self.index[instrument], channel])

    def public_seqs(self) -> np.ndarray:
        """(instruments x channels) last sequence numbers as subscribers see them. O(n)."""
        if not self.conflate_ns:
            return self.seqs.copy()
        out = self.seqs.copy()
        out[:, W.CH_L2] = self.cseqs[:, W.CH_L2]
        out[:, W.CH_BBO] = self.cseqs[:, W.CH_BBO]
        return out

    # --- conflation -----------------------------------------------------------------------
    def flush(self, force: bool = False) -> None:
        """Send the conflated ``l2`` / ``bbo`` updates held since the last flush, if the
        conflation period is over (or ``force``): per instrument, the last state of every
        level that changed (action new / change / delete relative to what was last sent; a
        level born and gone in the period is not sent) and the last BBO.
        O(held records log held records), numpy."""
        if not self.conflate_ns or not any(self._pending.values()):
            return
        now = time.monotonic_ns()
        if not force and now < self._next_flush:
            return
        self._next_flush = now + self.conflate_ns
        send_ns = time.time_ns()
        for ch, parts in self._pending.items():
            if not parts:
                continue
            recs = np.concatenate([p[0] for p in parts])
            inst = np.concatenate([p[1] for p in parts])
            parts.clear()
            order = np.argsort(inst, kind="stable")
            recs, inst = recs[order], inst[order]
            cuts = [0, *(np.flatnonzero(np.diff(inst)) + 1).tolist(), len(inst)]
            for lo, hi in itertools.pairwise(cuts):
                ii = int(inst[lo])
                out = _conflate_l2(recs[lo:hi]) if ch == W.CH_L2 else recs[hi - 1 : hi].copy()
                if len(out) == 0:
                    continue
                first = int(self.cseqs[ii, ch]) + 1
                out["seq"] = np.arange(first, first + len(out))
                self.cseqs[ii, ch] = first + len(out) - 1
                self._send(ch, ii, out, send_ns, int(self.cseqs[ii, ch]))

    def levels(self, instrument: int, depth: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The publisher's own view of the book: (bids, asks) as (price, qty, orders) rows,
        best first (depth 0: all). O(levels)."""
        ii = self.index[instrument]
        return arena_levels(self.arena, ii, depth)

    def level_count(self, instrument: int) -> int:
        """Levels on the deeper side of an instrument's book. O(1)."""
        ii = self.index[instrument]
        n = self.arena[5]
        return int(max(n[2 * ii], n[2 * ii + 1]))


def _conflate_l2(g: np.ndarray) -> np.ndarray:
    """One record per (side, price) of ``g`` (one instrument's L2 records in time order): its
    last state, with the action relative to the state before ``g``; in order of last change."""
    key = g["price_ticks"] * 4 + g["side"]
    _, first_idx = np.unique(key, return_index=True)
    _, rev_idx = np.unique(key[::-1], return_index=True)
    last_idx = len(g) - 1 - rev_idx  # same key order as first_idx (both sorted by key)
    born = g["action"][first_idx] == W.L2_NEW
    gone = g["qty_lots"][last_idx] == 0
    keep = ~(born & gone)
    out = g[last_idx].copy()
    out["action"] = np.where(born, W.L2_NEW, np.where(gone, W.L2_DELETE, W.L2_CHANGE))
    out = out[keep]
    return out[np.argsort(last_idx[keep], kind="stable")]
