"""CRC32C (Castagnoli, the iSCSI / ext4 / RocksDB checksum): the table and a Python entry.

The kernels are in ``journal.crc_nb`` (why a numba kernel rather than a package: see there).
"""

from __future__ import annotations

import numpy as np

from journal.crc_nb import crc32c_nb, scan_records_nb, seal_records_nb, valid_after_nb

POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _table() -> np.ndarray:
    t = np.zeros((8, 256), dtype=np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
        t[0, n] = c
    for k in range(1, 8):
        for n in range(256):
            prev = int(t[k - 1, n])
            t[k, n] = (prev >> 8) ^ int(t[0, prev & 0xFF])
    return t


TABLE = _table()


def crc32c(data: bytes | bytearray | memoryview | np.ndarray, crc: int = 0) -> int:
    """CRC32C of ``data``, continuing from ``crc`` (0 to start). O(bytes), ~1 GB/s."""
    buf: np.ndarray
    if isinstance(data, np.ndarray):
        buf = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    else:
        buf = np.frombuffer(data, dtype=np.uint8)
    return int(crc32c_nb(TABLE, buf, 0, len(buf), crc))


def warm_up() -> None:
    """Load (or, the first time on a machine, compile: ~2 s) every journal kernel with the
    argument types the journal uses, so that none compiles inside a batch's commit: a standby
    must acknowledge in milliseconds. O(1) once cached."""
    rows = np.zeros((1, 120), dtype=np.uint8)
    seal_records_nb(TABLE, rows, 4, 8)
    buf = rows.reshape(-1)
    scan_records_nb(TABLE, buf, 0, 120, 112, 8, 24, 0)
    valid_after_nb(TABLE, buf, 0, 120, 112)
    crc32c_nb(TABLE, buf, 0, len(buf), 0)
