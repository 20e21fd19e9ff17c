"""Reading a journal directory: every file checked (header, record length, CRC32C, sequence
continuity within and across files), the torn tail told apart from corruption.

A **torn tail** is what a crash leaves while a batch is being written: the bytes after the
last valid record of the *last* file, provided no valid record follows the first invalid one
(a cut-short record, or one whose CRC fails with nothing valid after it), or a last file whose
header itself was cut short. Those commands were never acknowledged (the reply waits for the
write), so they are dropped with a warning. Anything else that fails a check is corruption:
``JournalCorrupt`` names the file and byte offset, and reading stops. Never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from journal.crc import TABLE
from journal.crc_nb import scan_records_nb, valid_after_nb
from journal.records import (
    BODY_LEN,
    CMD_SEQ_AT,
    HEADER_SIZE,
    RECORD_SIZE,
    SEQ_AT,
    FileHeader,
    JournalCorrupt,
    JournalError,
    decode_header,
)

ERRORS = {
    1: "record cut short",
    2: "bad record length",
    3: "record CRC32C mismatch",
    4: "sequence number out of order (a missing or repeated command)",
}


@dataclass
class Segment:
    """One checked journal file: its header and its valid records (uint8 rows of 120)."""

    path: Path
    header: FileHeader
    rows: np.ndarray
    torn_bytes: int = 0  # dropped from the end (last file only)

    @property
    def first_seq(self) -> int:
        return self.header.first_seq

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def last_seq(self) -> int:
        """Sequence of the last record (first_seq - 1 when empty)."""
        return self.header.first_seq + len(self.rows) - 1


def journal_files(directory: str | Path) -> list[Path]:
    """The journal files of a directory, in sequence order. O(files)."""
    return sorted(Path(directory).glob("journal-*.wal"))


def _named_seq(path: Path) -> int | None:
    """The first seq a journal file's name announces (its header is what counts)."""
    try:
        return int(path.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_segments(
    directory: str | Path,
    *,
    genesis: bytes | None = None,
    repair: bool = False,
    warn: Callable[[str], None] | None = None,
    from_seq: int | None = None,
) -> Iterator[Segment]:
    """Check and yield every file of a journal directory in order (one file in memory at a
    time). ``genesis``: the fingerprint the files must carry (JournalError otherwise).
    ``repair``: cut a torn tail off the last file (and remove a last file with no complete
    header), so that later files start clean. ``from_seq``: skip the files that hold only
    earlier commands (by their names; a start after a snapshot need not read the whole
    history). JournalCorrupt on anything else. O(bytes read)."""
    files = journal_files(directory)
    if from_seq is not None:
        first = 0
        for i, p in enumerate(files):
            named = _named_seq(p)
            if named is not None and named <= from_seq:
                first = i  # the last file starting at or before from_seq holds it
        files = files[first:]
    expected: int | None = None
    for idx, path in enumerate(files):
        last = idx == len(files) - 1
        data = np.fromfile(path, dtype=np.uint8)
        try:
            header = decode_header(data[:HEADER_SIZE].tobytes(), path)
        except JournalCorrupt:
            if last and len(data) < HEADER_SIZE + RECORD_SIZE:
                # a crash while rotating: the new file's header never made it; no record did
                if warn is not None:
                    warn(
                        f"{path}: dropping a journal file with an incomplete header "
                        f"({len(data)} bytes; created during a crash, it holds no command)"
                    )
                if repair:
                    path.unlink()
                    _fsync_dir(path.parent)
                return
            raise
        if genesis is not None and header.genesis != genesis:
            raise JournalError(
                f"{path}: this journal was written by a venue with a different configuration "
                "(instruments, accounts or initial deposits differ): start with the "
                "configuration it was written with, or use another data directory"
            )
        if expected is not None and header.first_seq != expected:
            raise JournalCorrupt(
                path, 0, f"the file starts at seq {header.first_seq} but the previous one "
                f"ends at seq {expected - 1}: commands are missing",
            )  # fmt: skip
        n, err = scan_records_nb(
            TABLE, data, HEADER_SIZE, RECORD_SIZE, BODY_LEN, SEQ_AT, CMD_SEQ_AT, header.first_seq
        )
        n = int(n)
        bad = HEADER_SIZE + n * RECORD_SIZE
        torn = 0
        if err:
            after = int(valid_after_nb(TABLE, data, bad, RECORD_SIZE, BODY_LEN))
            if last and err != 4 and after < 0:
                torn = len(data) - bad
                if warn is not None:
                    warn(
                        f"{path}: dropping a torn tail of {torn} bytes at offset {bad} "
                        f"({ERRORS[int(err)]}; the process died while writing it, and it was "
                        "never acknowledged)"
                    )
                if repair:
                    with open(path, "r+b") as f:
                        f.truncate(bad)
                        os.fsync(f.fileno())
            else:
                where = f"; a valid record follows at offset {after}" if after >= 0 else ""
                raise JournalCorrupt(path, bad, ERRORS[int(err)] + where)
        rows = data[HEADER_SIZE:bad].reshape(n, RECORD_SIZE)
        yield Segment(path, header, rows, torn)
        expected = header.first_seq + n
