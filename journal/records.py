"""The journal's on-disk layout (docs/durability.md, "Record format").

A journal is a directory of files ``journal-<first seq, 20 digits>.wal``. Each file is a
64-byte header, then fixed-size records, one per stamped command, in sequence order:

header (little endian): magic ``OVJRNL\\x00\\x01`` (8), format version u32, header size u32
(64), record size u32 (120), reserved u32, first seq i64, created ns i64, genesis fingerprint
(16 bytes: which configuration the commands apply to), reserved u32, CRC32C of bytes 0..59 u32.

record (120 bytes): length u32 (of what follows the CRC: 112), CRC32C u32 (of the 112 bytes
that follow), seq i64, ts_ns i64, the COMMAND_DTYPE record (96 bytes, its alignment padding
zeroed so that equal commands give equal bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from journal.crc import TABLE, crc32c
from journal.crc_nb import seal_records_nb
from matching.records import COMMAND_DTYPE

FORMAT_VERSION = 1
MAGIC = b"OVJRNL\x00\x01"
HEADER = struct.Struct("<8sIIIIqq16sI")  # everything but the trailing CRC
HEADER_SIZE = HEADER.size + 4
assert HEADER_SIZE == 64

RECORD_DTYPE = np.dtype(
    [
        ("length", np.uint32),
        ("crc", np.uint32),
        ("seq", np.int64),
        ("ts_ns", np.int64),
        ("cmd", COMMAND_DTYPE),
    ],
    align=True,
)
RECORD_SIZE = RECORD_DTYPE.itemsize


def _offset(dtype: np.dtype, name: str) -> int:
    fields: Any = dtype.fields or {}
    return int(fields[name][1])


BODY_AT = 8  # the CRC covers bytes 8..RECORD_SIZE of a record
BODY_LEN = RECORD_SIZE - BODY_AT
SEQ_AT = _offset(RECORD_DTYPE, "seq")
CMD_AT = _offset(RECORD_DTYPE, "cmd")
CMD_SEQ_AT = CMD_AT + _offset(COMMAND_DTYPE, "seq")
assert RECORD_SIZE == 120 and BODY_LEN == 112 and CMD_AT == 24


def padding_bytes(dtype: np.dtype) -> np.ndarray:
    """Byte offsets of a structured dtype that belong to no field (alignment padding). O(1)."""
    used = np.zeros(dtype.itemsize, dtype=bool)
    fields: Any = dtype.fields or {}
    for name in dtype.names or ():
        sub, off = fields[name][:2]
        used[off : off + sub.itemsize] = True
    return np.flatnonzero(~used)


def field_bytes(dtype: np.dtype) -> np.ndarray:
    """Byte offsets of a structured dtype that belong to a field. O(1)."""
    pad = set(padding_bytes(dtype).tolist())
    return np.array([i for i in range(dtype.itemsize) if i not in pad], dtype=np.int64)


_CMD_PAD = CMD_AT + padding_bytes(COMMAND_DTYPE)


class JournalError(Exception):
    """A journal that cannot be written or read; the message says where and what."""


class JournalCorrupt(JournalError):
    """A record that fails its checks somewhere other than the torn tail: never skipped."""

    def __init__(self, path: object, offset: int, what: str) -> None:
        super().__init__(f"{path}: corrupt journal at byte offset {offset}: {what}")
        self.path = path
        self.offset = offset
        self.what = what


@dataclass(frozen=True)
class FileHeader:
    version: int
    record_size: int
    first_seq: int
    created_ns: int
    genesis: bytes


def file_name(first_seq: int) -> str:
    """``journal-<first seq>.wal``: names sort in sequence order."""
    return f"journal-{first_seq:020d}.wal"


def encode_header(first_seq: int, created_ns: int, genesis: bytes) -> bytes:
    """The 64-byte file header (with its CRC32C). O(1)."""
    if len(genesis) != 16:
        raise ValueError("the genesis fingerprint is 16 bytes")
    body = HEADER.pack(
        MAGIC, FORMAT_VERSION, HEADER_SIZE, RECORD_SIZE, 0, first_seq, created_ns, genesis, 0
    )
    return body + struct.pack("<I", crc32c(body))


def decode_header(raw: bytes, path: object) -> FileHeader:
    """Parse and check a file header; JournalCorrupt naming the file otherwise. O(1)."""
    if len(raw) < HEADER_SIZE:
        raise JournalCorrupt(path, len(raw), f"file header cut short ({len(raw)} of 64 bytes)")
    body = raw[: HEADER.size]
    (crc,) = struct.unpack_from("<I", raw, HEADER.size)
    if crc32c(body) != crc:
        raise JournalCorrupt(path, 0, "file header CRC32C mismatch")
    magic, version, hsize, rsize, _r, first, created, genesis, _r2 = HEADER.unpack(body)
    if magic != MAGIC:
        raise JournalCorrupt(path, 0, f"not a journal file (magic {magic!r})")
    if version != FORMAT_VERSION or hsize != HEADER_SIZE or rsize != RECORD_SIZE:
        raise JournalCorrupt(
            path, 0, f"journal format {version} (header {hsize}, record {rsize}) is not "
            f"this build's {FORMAT_VERSION} (64, {RECORD_SIZE})",
        )  # fmt: skip
    return FileHeader(version, rsize, first, created, genesis)


def encode_records(cmds: np.ndarray) -> np.ndarray:
    """Journal records for a stamped COMMAND_DTYPE batch, sealed with their CRC32C, as a uint8
    array (n, 120). One kernel call for the checksums; O(n)."""
    n = len(cmds)
    rec = np.zeros(n, dtype=RECORD_DTYPE)
    rec["length"] = BODY_LEN
    rec["seq"] = cmds["seq"]
    rec["ts_ns"] = cmds["ts_ns"]
    rec["cmd"] = cmds
    rows = rec.view(np.uint8).reshape(n, RECORD_SIZE)
    if len(_CMD_PAD):  # the copy may carry the source's undefined padding bytes
        rows[:, _CMD_PAD] = 0
    seal_records_nb(TABLE, rows, 4, BODY_AT)
    return rows


def commands_of(rows: np.ndarray) -> np.ndarray:
    """The COMMAND_DTYPE records of checked journal rows (uint8 (n, 120) or flat). A copy,
    contiguous. O(n)."""
    u8 = np.asarray(rows).reshape(-1, RECORD_SIZE)
    # the command bytes of each row in one byte copy: a structured field copy is ~5x slower
    return np.ascontiguousarray(u8[:, CMD_AT:]).view(COMMAND_DTYPE).reshape(-1)
