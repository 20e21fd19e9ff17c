"""Durability of a running venue: recovery at start, the journal as the gateway's
``journal`` hook, the running event hash and periodic snapshots as a gateway listener, and a
last snapshot at shutdown. ``venue run`` uses it; so can any embedding of ``GatewayServer``.

``hashes.log`` in the data directory gets one line per snapshot, recovery and shutdown:
``seq=S event_hash=H [state_hash=X] what``; ``venue replay journal DIR`` checks every line.
"""

from __future__ import annotations

import fcntl
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from journal.config import JournalConfig
from journal.crc import warm_up
from journal.eventhash import EventHash
from journal.records import JournalError
from journal.recovery import Recovered, recover
from journal.snapshot import (
    BufferPool,
    Snapshot,
    capture,
    layout_of,
    prune_snapshots,
    write_snapshot,
)
from journal.writer import JournalWriter

if TYPE_CHECKING:
    from gateway.server import GatewayServer

HASH_LOG = "hashes.log"
LOCK_FILE = "LOCK"


def _stderr(msg: str) -> None:
    print(f"journal: {msg}", file=sys.stderr, flush=True)


class Durability:
    """``open()`` before ``server.start()``, ``close()`` after ``server.stop()``."""

    def __init__(
        self,
        server: GatewayServer,
        data_dir: str | Path,
        config: JournalConfig | None = None,
        warn: Callable[[str], None] = _stderr,
    ) -> None:
        self.server = server
        self.dir = Path(data_dir)
        self.config = config or JournalConfig()
        self.warn = warn
        self.writer: JournalWriter | None = None
        self.pool = BufferPool()  # snapshot arrays reused: a capture only memcpys
        self.hash = EventHash()
        self.genesis = b""
        self.layout = ""
        self.snapshots = 0
        self.snapshot_pause_ms: list[float] = []  # gateway-thread time of each capture
        self._since = 0  # commands since the last snapshot
        self._last_snap = time.monotonic()
        self._queue: queue.Queue[Snapshot | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.closers: list[Callable[[], None]] = []  # run at the end of ``close``
        self._lock_fd = -1

    # --- start / stop ------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the data directory for this process (an exclusive ``flock`` on ``DIR/LOCK``,
        released by ``close`` or by the process's death): two venues never write one journal.
        JournalError if another process holds it. O(1)."""
        if self._lock_fd >= 0:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalError(
                f"{self.dir} is in use by another venue process (it holds {LOCK_FILE}); one "
                "data directory per venue"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def open(self) -> Recovered:
        """Recover the server from the data directory, then journal and snapshot from here on.
        JournalError / JournalCorrupt if the directory cannot be recovered (nothing is
        started then)."""
        self.lock()
        warm_up()
        res, self.hash, self.genesis = recover(self.server, self.dir, warn=self.warn)
        self.start(self.new_writer())
        self._log(res.last_seq, res.event_hash, res.state_hash, "recovered")
        return res

    def new_writer(self) -> JournalWriter:
        """A journal writer continuing at the server's next seq, by this configuration."""
        cfg = self.config
        return JournalWriter(
            self.dir,
            self.server.ex.next_seq,
            self.genesis,
            policy=cfg.fsync,
            interval_ms=cfg.interval_ms,
            rotate_bytes=cfg.rotate_bytes,
        )

    def start(self, writer: JournalWriter) -> None:
        """Journal through ``writer`` (the gateway's ``journal`` hook) and take snapshots from
        here on; ``self.hash`` and ``self.genesis`` must describe the server's state."""
        self.layout = layout_of(self.server)
        self.writer = writer
        self.server.journal = writer
        self.server.listeners.insert(0, self.on_batch)
        self._thread = threading.Thread(target=self._snapshotter, name="snapshots", daemon=True)
        self._thread.start()

    def close(self) -> str:
        """After the gateway stopped: a last snapshot (written now), the journal closed.
        Returns the final hash line ("" if it never started; the directory is released)."""
        if self.writer is None:
            self.unlock()
            return ""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.writer.close()
        ex = self.server.ex
        if self.snapshot_due(force=True):
            snap = capture(self.server, self.genesis, self.layout, self.hash.state())
            self._write(snap)
        line = self._log(ex.next_seq - 1, self.hash.hexdigest(), ex.state_hash(), "shutdown")
        if self.on_batch in self.server.listeners:
            self.server.listeners.remove(self.on_batch)
        self.server.journal = None
        self.writer = None
        for closer in self.closers:
            closer()
        self.unlock()
        return line

    # --- the gateway thread ------------------------------------------------------------------
    def on_batch(self, events: np.ndarray) -> None:
        """Listener: hash the batch's events; take a snapshot when one is due (copies only,
        the write happens in the snapshot thread). O(events), O(state) when snapshotting."""
        self.hash.update(events)
        # every command has at least one event and a batch's seqs are consecutive
        self._since += int(events["seq"][-1]) - int(events["seq"][0]) + 1
        if self.snapshot_due() and self._queue.empty():
            t0 = time.perf_counter()
            self._since = 0
            self._last_snap = time.monotonic()
            try:
                snap = capture(self.server, self.genesis, self.layout, self.hash.state(), self.pool)
            except (MemoryError, ValueError) as e:  # the journal has it all: go on without
                self.errors.append(f"snapshot capture failed: {e}")
                self.warn(self.errors[-1])
                return
            self.snapshot_pause_ms.append((time.perf_counter() - t0) * 1000)
            self._queue.put(snap)

    def snapshot_due(self, force: bool = False) -> bool:
        cfg = self.config
        if force:
            return self._since > 0 or not any(self.dir.glob("snapshot-*.snap"))
        if self._since == 0:
            return False
        every = cfg.snapshot_every_cmds
        period = cfg.snapshot_interval_s
        return bool(every and self._since >= every) or bool(
            period and time.monotonic() - self._last_snap >= period
        )

    # --- the snapshot thread -----------------------------------------------------------------
    def _snapshotter(self) -> None:
        while True:
            snap = self._queue.get()
            if snap is None:
                return
            self._write(snap)

    def _write(self, snap: Snapshot) -> None:
        try:
            write_snapshot(self.dir, snap, fsync=self.config.fsync != "none")
            prune_snapshots(self.dir, self.config.snapshots_kept)
        except OSError as e:  # the journal still has everything: recovery replays more
            msg = f"snapshot at seq {snap.seq} failed: {e}"
            self.errors.append(msg)
            self.warn(msg)
            return
        self.snapshots += 1
        self.pool.release(snap)
        chain = EventHash(snap.hash_chain, snap.hash_pending)
        self._log(snap.seq, chain.hexdigest(), "", "snapshot")

    def _log(self, seq: int, event_hash: str, state_hash: str, what: str) -> str:
        line = f"seq={seq} event_hash={event_hash}"
        if state_hash:
            line += f" state_hash={state_hash}"
        line += f" {what}"
        with open(self.dir / HASH_LOG, "a") as f:
            f.write(line + "\n")
        return line
