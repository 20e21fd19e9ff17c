"""Hot standby: a second venue follows the primary's journal over ZeroMQ, applies every batch,
and takes over when told (``venue promote DIR``) or when the primary's heartbeats stop, under a
higher epoch (docs/durability.md, "Hot standby").

Primary (``venue run --replicate ENDPOINT``): a ROUTER on ENDPOINT. At start it waits for its
standby, brings it up to date from the journal files, and only then opens order entry. From then
on ``Replicator`` is the gateway's ``journal``: ``commit`` writes the batch locally (by the fsync
policy), sends it to the standby and returns (so the gateway replies) only once the standby has
acknowledged it, having written and applied it: the standby is at most one batch behind and
holds everything acknowledged (LMAX's replicator). A standby that does not acknowledge within
``ack_timeout_ms`` stops the primary's order entry (``JournalError``: fail-stop, never an
acknowledgement the standby lacks).

Standby (``venue run --standby-of ENDPOINT``): recovers its own data directory, says
``Hello(epoch, next_seq)``, journals (durably) and applies each ``Batch``, acknowledges it, and
pings every 100 ms. Catch-up batches (from the primary's files, before it serves) go through
recovery's fast replay (~1.5M commands/s) and the gateway's order tracks are rebuilt after
them; live batches through ``GatewayServer.replay_batch`` (engine, clearing and tracks, per
event). When no message came from the primary for ``takeover_ms``, or ``DIR/promote`` appears,
it promotes itself: epoch + 1 written to ``DIR/epoch`` (fsynced), order entry bound and
started, sequence numbers continuing from the last applied batch.

Fencing: a standby refuses batches of an epoch below its own and tells such a primary so; a
primary that hears of a higher epoch refuses to serve. An old primary that comes back as a
primary finds no standby at its epoch and, with replication on, never acknowledges anything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import zmq

from journal.crc import TABLE, warm_up
from journal.crc_nb import scan_records_nb
from journal.reader import read_segments
from journal.records import (
    BODY_LEN,
    CMD_SEQ_AT,
    RECORD_SIZE,
    SEQ_AT,
    JournalCorrupt,
    JournalError,
    commands_of,
)
from journal.recovery import Replayer, rebuild_gateway, recover
from journal.writer import JournalWriter, fsync_dir

if TYPE_CHECKING:
    from gateway.server import GatewayServer

EPOCH_FILE = "epoch"
PROMOTE_FILE = "promote"
PING_S = 0.1
CATCH_UP_CHUNK = 8192


class Hello(msgspec.Struct, tag="hello"):
    epoch: int
    next_seq: int
    genesis: bytes


class Ack(msgspec.Struct, tag="ack"):
    seq: int


class Ping(msgspec.Struct, tag="ping"):
    pass


class Batch(msgspec.Struct, tag="batch"):
    epoch: int
    first_seq: int
    records: bytes
    catch_up: bool = False  # from the primary's journal files, before it serves


class Pong(msgspec.Struct, tag="pong"):
    epoch: int
    next_seq: int


class Refuse(msgspec.Struct, tag="refuse"):
    reason: str


Msg = Hello | Ack | Ping | Batch | Pong | Refuse
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Msg)


def read_epoch(directory: str | Path) -> int:
    """The epoch recorded in a data directory (1 when none yet). O(1)."""
    p = Path(directory) / EPOCH_FILE
    try:
        return int(p.read_text().strip())
    except FileNotFoundError:
        return 1
    except ValueError:
        raise JournalError(f"{p}: not an epoch number") from None


def write_epoch(directory: str | Path, epoch: int) -> None:
    """Record ``epoch`` atomically and durably (tmp, fsync, rename, fsync dir). O(1)."""
    d = Path(directory)
    tmp = d / (EPOCH_FILE + ".tmp")
    with open(tmp, "w") as f:
        f.write(f"{epoch}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, d / EPOCH_FILE)
    fsync_dir(d)


class Replicator:
    """The primary's journal when replication is on: local write, then the standby's ack."""

    def __init__(
        self,
        writer: JournalWriter,
        bind: str,
        data_dir: str | Path,
        genesis: bytes,
        *,
        ack_timeout_ms: int = 1000,
        ctx: zmq.Context[Any] | None = None,
    ) -> None:
        self.writer = writer
        self.dir = Path(data_dir)
        self.genesis = genesis
        self.epoch = read_epoch(self.dir)
        self.ack_timeout_ms = ack_timeout_ms
        self.sock = (ctx or zmq.Context.instance()).socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(bind)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.peer: bytes | None = None
        self._rows: list[np.ndarray] = []
        self.batches = 0

    # --- start: wait for the standby and bring it up to date ---------------------------------
    def wait_for_standby(self, timeout_s: float) -> int:
        """Block until a standby says Hello, then send it every journaled command it lacks.
        Returns the number sent. JournalError on timeout, another configuration, a standby
        ahead of this journal, or a higher epoch (this primary is fenced)."""
        end = time.monotonic() + timeout_s
        while self.peer is None:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                raise JournalError(f"no standby said hello on {self.endpoint} in {timeout_s} s")
            ident, raw = self.sock.recv_multipart()
            msg = _dec.decode(raw)
            if isinstance(msg, Ping):
                continue
            if not isinstance(msg, Hello):
                continue
            self._check_hello(ident, msg)
            self.peer = ident
            return self._catch_up(msg.next_seq)
        return 0

    def _check_hello(self, ident: bytes, h: Hello) -> None:
        why = ""
        if h.genesis != self.genesis:
            why = "the standby has another configuration"
        elif h.epoch > self.epoch:
            why = (f"fenced: the standby is at epoch {h.epoch}, this primary at {self.epoch}: "
                   "a standby took over since; restart this venue as its standby, with a fresh "
                   "data directory")  # fmt: skip
        elif h.next_seq > self.writer.next_seq:
            why = (f"the standby is at seq {h.next_seq - 1}, ahead of this journal "
                   f"({self.writer.next_seq - 1}): give it a fresh data directory")  # fmt: skip
        if why:
            self.sock.send_multipart([ident, _enc.encode(Refuse(reason=why))])
            raise JournalError(f"replication: {why}")
        self.epoch = max(self.epoch, h.epoch)

    def _catch_up(self, next_seq: int) -> int:
        sent = 0
        for seg in read_segments(self.dir, genesis=self.genesis, from_seq=next_seq):
            if seg.count == 0 or seg.last_seq < next_seq:
                continue
            rows = seg.rows[max(0, next_seq - seg.first_seq) :]
            for at in range(0, len(rows), CATCH_UP_CHUNK):
                part = rows[at : at + CATCH_UP_CHUNK]
                first = next_seq + sent
                self._send_and_wait(first, part, catch_up=True)
                sent += len(part)
        return sent

    # --- the gateway's journal hooks ---------------------------------------------------------
    def append(self, cmds: np.ndarray) -> None:
        """Journal locally (encode); the batch goes to the standby at ``commit``. O(n)."""
        rows = self.writer.append(cmds)
        if rows is not None:
            self._rows.append(rows)

    def commit(self) -> None:
        """Write locally, then replicate and wait for the standby's ack (its write and apply
        included): the gateway replies after this returns. JournalError if the standby does
        not ack in ``ack_timeout_ms``. O(bytes) + one round trip."""
        self.writer.commit()
        if not self._rows:
            return
        rows = self._rows[0] if len(self._rows) == 1 else np.concatenate(self._rows)
        self._rows = []
        first = int.from_bytes(rows[0, SEQ_AT : SEQ_AT + 8].tobytes(), "little")
        self._send_and_wait(first, rows)

    def _send_and_wait(self, first: int, rows: np.ndarray, catch_up: bool = False) -> None:
        if self.peer is None:
            raise JournalError("replication: no standby attached; not acknowledging")
        last = first + len(rows) - 1
        batch = Batch(epoch=self.epoch, first_seq=first, records=rows.tobytes(), catch_up=catch_up)
        self.sock.send_multipart([self.peer, _enc.encode(batch)])
        end = time.monotonic() + self.ack_timeout_ms / 1000
        while True:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(max(1, int(left * 1000))):
                self.peer = None  # the next batch fails at once: fail-stop
                raise JournalError(
                    f"replication: the standby did not acknowledge seq {first}..{last} within "
                    f"{self.ack_timeout_ms} ms; not acknowledging (replication is on)"
                )
            if self._handle(*self.sock.recv_multipart()) >= last:
                self.batches += 1
                return

    def _handle(self, ident: bytes, raw: bytes) -> int:
        """Answer a ping; return the seq an Ack from the standby acknowledges (else -1)."""
        try:
            msg = _dec.decode(raw)
        except msgspec.DecodeError:
            return -1
        if isinstance(msg, Ping):
            pong = Pong(epoch=self.epoch, next_seq=self.writer.next_seq)
            self.sock.send_multipart([ident, _enc.encode(pong)], zmq.NOBLOCK)
        elif isinstance(msg, Ack) and ident == self.peer:
            return msg.seq
        elif isinstance(msg, Refuse) and ident == self.peer:
            self.peer = None
            raise JournalError(f"replication: the standby refused: {msg.reason}")
        elif isinstance(msg, Hello):  # a second standby, or one that restarted: not now
            why = "this primary is serving: a standby attaches only when the primary starts"
            self.sock.send_multipart([ident, _enc.encode(Refuse(reason=why))], zmq.NOBLOCK)
        return -1

    def on_readable(self) -> None:
        """``server.pollers`` handler: answer pings between batches (the heartbeat)."""
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._handle(*frames)

    def close(self) -> None:
        self.sock.close(linger=0)


class Standby:
    """Follows a primary (``run``), then hands over a server ready to serve: its state, its
    journal writer and event hash continue where the primary's last batch left them."""

    def __init__(
        self,
        server: GatewayServer,
        data_dir: str | Path,
        primary: str,
        writer_factory: Callable[[bytes], JournalWriter],
        *,
        takeover_ms: int = 1000,
        ctx: zmq.Context[Any] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.server = server
        self.dir = Path(data_dir)
        self.primary = primary
        self.takeover_ms = takeover_ms
        self.log = log
        warm_up()  # no kernel may compile inside a batch's acknowledgement
        self.res, self.hash, self.genesis = recover(server, self.dir, warn=log)
        self.epoch = read_epoch(self.dir)
        self.primary_epoch = 0
        self.writer = writer_factory(self.genesis)
        self.applied = 0
        self._replayer: Replayer | None = None  # while catching up
        self._prior: dict[str, Any] = {}
        self.sock = (ctx or zmq.Context.instance()).socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(primary)

    def run(self, stop: Callable[[], bool]) -> str:
        """Follow until the primary is silent for ``takeover_ms`` ("primary lost"), a promote
        request ("promoted"), or ``stop()`` ("stopped"). JournalError if the primary refuses
        this standby or sends a damaged batch."""
        hello = Hello(epoch=self.epoch, next_seq=self.server.ex.next_seq, genesis=self.genesis)
        self.sock.send(_enc.encode(hello))
        heard = False
        last = time.monotonic()
        pinged = 0.0
        try:
            while True:
                now = time.monotonic()
                if stop():
                    return "stopped"
                if (self.dir / PROMOTE_FILE).exists():
                    (self.dir / PROMOTE_FILE).unlink()
                    return "promoted"
                if heard and now - last > self.takeover_ms / 1000:
                    return "primary lost"
                if now - pinged >= PING_S:
                    self.sock.send(_enc.encode(Ping()))
                    pinged = now
                if not self.sock.poll(20):
                    continue
                msg = _dec.decode(self.sock.recv())
                heard, last = True, time.monotonic()
                if isinstance(msg, Batch):
                    self._apply(msg)
                elif isinstance(msg, Pong):
                    self.primary_epoch = msg.epoch
                elif isinstance(msg, Refuse):
                    raise JournalError(f"the primary refused this standby: {msg.reason}")
        finally:
            self._caught_up()
            self.sock.close(linger=0)

    def _apply(self, b: Batch) -> None:
        if b.epoch < self.epoch:
            why = f"batch of epoch {b.epoch} below this standby's {self.epoch}: fenced"
            self.sock.send(_enc.encode(Refuse(reason=why)))
            raise JournalError(why)
        self.primary_epoch = b.epoch
        # writable, as every buffer the kernels see (a read-only one would compile anew)
        buf = np.frombuffer(bytearray(b.records), dtype=np.uint8)
        nxt = self.server.ex.next_seq
        n, err = scan_records_nb(TABLE, buf, 0, RECORD_SIZE, BODY_LEN, SEQ_AT, CMD_SEQ_AT, nxt)
        if err or b.first_seq != nxt:
            raise JournalCorrupt(self.primary, int(n) * RECORD_SIZE,
                                 f"replicated batch from seq {b.first_seq} (expected {nxt}) "
                                 f"fails its checks (error {int(err)})")  # fmt: skip
        t0 = time.perf_counter()
        cmds = commands_of(buf)
        self.writer.append(cmds)
        self.writer.commit()  # durable here too, before the ack
        if b.catch_up:  # the fast path of recovery; the gateway's tracks rebuilt after it
            if self._replayer is None:
                self._prior = self.server.export_state()
                self._replayer = Replayer(self.server.ex, self.hash)
            self._replayer.feed(cmds)
        else:
            self._caught_up()
            k = self.server.replay_batch(cmds)  # live: the gateway's tracks kept per event
            self.hash.update(self.server._events[:k])
        self.applied += len(cmds)
        self.sock.send(_enc.encode(Ack(seq=int(cmds["seq"][-1]))))
        took = time.perf_counter() - t0
        if took > 0.1:
            self.log(f"slow apply: {len(cmds)} commands from seq {b.first_seq} took {took:.3f} s")

    def _caught_up(self) -> None:
        """After a catch-up by the fast path: the gateway's tracks from the engine's orders."""
        if self._replayer is not None:
            rebuild_gateway(self.server, self._prior, self._replayer)
            self._replayer = None

    def promote(self) -> int:
        """Take over: epoch above any seen, recorded durably. Returns the new epoch."""
        self.epoch = max(self.epoch, self.primary_epoch) + 1
        write_epoch(self.dir, self.epoch)
        return self.epoch


# --- venue run wiring --------------------------------------------------------------------------
def replicate_to(server: GatewayServer, dur: Any, bind: str, wait_s: float = 24 * 3600) -> None:
    """Make a recovered venue a primary replicating to the standby that connects to ``bind``:
    waits for it (and catches it up) before returning. JournalError as ``Replicator``."""
    rep = Replicator(dur.writer, bind, dur.dir, dur.genesis)
    dur.closers.append(rep.close)
    print(f"openvenue: primary at epoch {rep.epoch}: waiting for a standby on {rep.endpoint} "
          "(order entry opens once it has every command)", flush=True)  # fmt: skip
    sent = rep.wait_for_standby(wait_s)
    server.journal = rep
    server.pollers.append((rep.sock, rep.on_readable))
    print(f"openvenue: standby attached (sent it {sent} commands); every acknowledgement now "
          "waits for it", flush=True)  # fmt: skip


def follow(server: GatewayServer, dur: Any, primary: str, takeover_ms: int = 1000) -> Any:
    """``venue run --standby-of``: follow ``primary`` until it is lost or the operator
    promotes this venue; then return ``dur`` started on the followed state (the caller serves),
    or 0 if stopped with Ctrl-C first. JournalError as ``Standby``."""
    import signal
    import threading

    cfg = dur.config
    dur.lock()

    def writer(genesis: bytes) -> JournalWriter:
        return JournalWriter(
            dur.dir, server.ex.next_seq, genesis, policy=cfg.fsync,
            interval_ms=cfg.interval_ms, rotate_bytes=cfg.rotate_bytes,
        )  # fmt: skip

    sb = Standby(server, dur.dir, primary, writer, takeover_ms=takeover_ms,
                 log=lambda m: print(f"journal: {m}", flush=True))  # fmt: skip
    print(f"openvenue: standby of {primary} at epoch {sb.epoch} (data in {dur.dir}); "
          f"{sb.res.line()}; `venue promote {dur.dir}` or {takeover_ms} ms of the primary's "
          "silence takes over", flush=True)  # fmt: skip
    stop = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set()) if main else None
    try:
        why = sb.run(stop.is_set)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    if why == "stopped":
        sb.writer.close()
        dur.unlock()
        server.stop()
        print(f"openvenue: standby stopped after applying {sb.applied} commands", flush=True)
        return 0
    epoch = sb.promote()
    dur.hash, dur.genesis = sb.hash, sb.genesis
    dur.start(sb.writer)
    ex = server.ex
    dur._log(ex.next_seq - 1, sb.hash.hexdigest(), ex.state_hash(), f"promoted_epoch_{epoch}")
    print(f"openvenue: PROMOTED to primary at epoch {epoch} ({why}) after applying "
          f"{sb.applied} commands; sequence continues at {ex.next_seq}", flush=True)  # fmt: skip
    return dur


def request_promotion(data_dir: str | Path) -> int:
    """``venue promote DIR``: ask the standby running on ``DIR`` to take over (it checks every
    20 ms). Returns the exit status."""
    d = Path(data_dir)
    if not d.is_dir():
        print(f"venue promote: {d}: no such directory", flush=True)
        return 2
    (d / PROMOTE_FILE).touch()
    print(f"venue promote: asked the standby on {d} to take over", flush=True)
    return 0
