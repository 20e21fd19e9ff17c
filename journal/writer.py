"""The write-ahead journal writer: what ``GatewayServer.journal`` is.

The gateway calls ``append(cmds)`` with every stamped batch before it runs, and ``commit()``
before any reply of that batch leaves the process. ``append`` only encodes (records sealed with
their CRC32C in one kernel call); ``commit`` is one ``write`` of the whole batch, then, by the
fsync policy:

- ``durable``: one ``fdatasync`` per batch (group commit): an acknowledged command survives a
  crash of the process, the OS or the machine.
- ``interval``: a background thread fsyncs every ``interval_ms``: a process crash loses nothing
  (the bytes are in the OS), an OS crash or power loss loses up to the last ``interval_ms`` of
  acknowledged commands.
- ``none``: never fsync (the OS writes back when it likes, typically within ~30 s): a process
  crash loses nothing, an OS crash or power loss loses an unbounded recent part.

Files rotate when they pass ``rotate_bytes`` (between batches; the new file is created,
its header written and, unless ``none``, fsynced with its directory). A failed write raises
``JournalError`` in the gateway thread, so the batch is never acknowledged (fail-stop).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from journal.records import (
    COMMAND_DTYPE,
    RECORD_SIZE,
    JournalError,
    encode_header,
    encode_records,
    file_name,
)

POLICIES = ("durable", "interval", "none")


def fsync_dir(directory: Path) -> None:
    """fsync a directory, so that files created or renamed in it survive a crash. O(1)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """Appends stamped command batches to ``directory`` (created if missing), starting a new
    file at ``next_seq``. ``genesis``: the 16-byte fingerprint of the configuration."""

    def __init__(
        self,
        directory: str | Path,
        next_seq: int,
        genesis: bytes,
        *,
        policy: str = "durable",
        interval_ms: int = 5,
        rotate_bytes: int = 64 << 20,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"fsync policy {policy!r}: one of {', '.join(POLICIES)}")
        if interval_ms < 1 or rotate_bytes < 4096:
            raise ValueError("interval_ms must be >= 1 and rotate_bytes >= 4096")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.policy = policy
        self.interval_ms = interval_ms
        self.rotate_bytes = rotate_bytes
        self.genesis = genesis
        self.next_seq = next_seq  # of the next record appended
        self.fsyncs = 0
        self.rotations = 0
        self.records = 0
        self._pending: list[np.ndarray] = []
        self._lock = threading.Lock()  # the fd and size, against the interval thread
        self._dirty = False
        self._fd = -1
        self._size = 0
        self.path = self.dir
        self._open(next_seq)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if policy == "interval":
            self._thread = threading.Thread(target=self._flusher, name="journal-fsync", daemon=True)
            self._thread.start()

    # --- files -------------------------------------------------------------------------------
    def _open(self, first_seq: int) -> None:
        path = self.dir / file_name(first_seq)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            raise JournalError(
                f"{path} exists already: the journal directory was not recovered first"
            ) from None
        header = encode_header(first_seq, time.time_ns(), self.genesis)
        self._write_all(fd, header, path)
        if self.policy != "none":
            os.fsync(fd)
            fsync_dir(self.dir)
            self.fsyncs += 2
        self._fd, self._size, self.path = fd, len(header), path

    def _rotate(self) -> None:
        with self._lock:
            old = self._fd
            if self.policy != "none":
                os.fdatasync(old)
                self.fsyncs += 1
            self._open(self.next_seq)
            os.close(old)
            self._dirty = False
        self.rotations += 1

    @staticmethod
    def _write_all(fd: int, data: bytes | memoryview, path: Path) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.write(fd, view)
                view = view[n:]
        except OSError as e:
            raise JournalError(f"{path}: cannot write the journal: {e}") from e

    # --- the gateway's hooks -----------------------------------------------------------------
    def append(self, cmds: np.ndarray) -> np.ndarray | None:
        """Encode a stamped batch (its seqs must continue the journal); returns its records
        (uint8 rows of 120 bytes, written at the next ``commit``). O(n)."""
        if cmds.dtype != COMMAND_DTYPE:
            raise TypeError(f"journal: commands must be COMMAND_DTYPE, not {cmds.dtype}")
        n = len(cmds)
        if n == 0:
            return None
        first = int(cmds["seq"][0])
        if first != self.next_seq or int(cmds["seq"][-1]) != first + n - 1:
            raise JournalError(
                f"journal: batch seq {first}..{int(cmds['seq'][-1])} does not continue the "
                f"journal at seq {self.next_seq}"
            )
        rows = encode_records(cmds)
        self._pending.append(rows)
        self.next_seq = first + n
        return rows

    def commit(self) -> None:
        """Write what was appended (one write), fsync by the policy, rotate if due. Returns
        when the batch may be acknowledged. O(bytes) + one fdatasync under ``durable``."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending = []
        with self._lock:
            self._write_all(self._fd, data.reshape(-1).data, self.path)
            self._size += data.size
            self.records += data.size // RECORD_SIZE
            if self.policy == "durable":
                try:
                    os.fdatasync(self._fd)
                except OSError as e:
                    raise JournalError(f"{self.path}: fdatasync failed: {e}") from e
                self.fsyncs += 1
            else:
                self._dirty = True
        if self._size >= self.rotate_bytes:
            self._rotate()

    def sync(self) -> None:
        """fsync the current file now (any policy). O(1) + one fsync."""
        with self._lock:
            if self._fd >= 0:
                os.fdatasync(self._fd)
                self.fsyncs += 1
                self._dirty = False

    def _flusher(self) -> None:
        while not self._stop.wait(self.interval_ms / 1000):
            with self._lock:
                if not self._dirty or self._fd < 0:
                    continue
                fd = os.dup(self._fd)  # fsync outside the lock: commits go on meanwhile
                self._dirty = False
            try:
                os.fdatasync(fd)
                self.fsyncs += 1
            finally:
                os.close(fd)

    def close(self) -> None:
        """Write anything appended, fsync (any policy) and close. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._fd < 0:
            return
        self.commit()
        self.sync()
        with self._lock:
            os.close(self._fd)
            self._fd = -1
