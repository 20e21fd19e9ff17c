"""CRC32C (Castagnoli) kernels: one checksum over a byte range, and whole batches of journal
records sealed or checked in one call.

Software slicing-by-8 over a 8 x 256 table (``journal.crc.TABLE``): about 1 GB/s here, no
per-record Python. Why not a PyPI package: ``crc32c`` / ``google-crc32c`` are faster per byte
(SSE4.2) but cost a Python call per record (~0.3 us, plus the loop), and a journal record is
120 bytes: sealing or scanning a batch in one kernel call is several times faster overall. The
test suite checks this kernel against the RFC 3720 vectors and the ``crc32c`` package.
``nogil``: snapshot checksums run in a background thread beside the gateway.
"""

from __future__ import annotations

import numba
import numpy as np

_MASK32 = np.uint64(0xFFFFFFFF)
_FF = np.uint64(0xFF)


@numba.njit(cache=True, nogil=True)
def crc32c_nb(tab, buf, start, end, crc):
    """CRC32C of ``buf[start:end]`` (uint8) continuing from ``crc`` (0 to start). O(bytes)."""
    c = np.uint64(crc) ^ _MASK32
    i = start
    # hot loop: 8 bytes per step through 8 table lookups (slicing-by-8)
    while i + 8 <= end:
        lo = (
            np.uint64(buf[i])
            | (np.uint64(buf[i + 1]) << np.uint64(8))
            | (np.uint64(buf[i + 2]) << np.uint64(16))
            | (np.uint64(buf[i + 3]) << np.uint64(24))
        ) ^ c
        hi = (
            np.uint64(buf[i + 4])
            | (np.uint64(buf[i + 5]) << np.uint64(8))
            | (np.uint64(buf[i + 6]) << np.uint64(16))
            | (np.uint64(buf[i + 7]) << np.uint64(24))
        )
        c = (
            np.uint64(tab[7, lo & _FF])
            ^ np.uint64(tab[6, (lo >> np.uint64(8)) & _FF])
            ^ np.uint64(tab[5, (lo >> np.uint64(16)) & _FF])
            ^ np.uint64(tab[4, (lo >> np.uint64(24)) & _FF])
            ^ np.uint64(tab[3, hi & _FF])
            ^ np.uint64(tab[2, (hi >> np.uint64(8)) & _FF])
            ^ np.uint64(tab[1, (hi >> np.uint64(16)) & _FF])
            ^ np.uint64(tab[0, (hi >> np.uint64(24)) & _FF])
        )
        i += 8
    while i < end:
        c = np.uint64(tab[0, (c ^ np.uint64(buf[i])) & _FF]) ^ (c >> np.uint64(8))
        i += 1
    return np.int64(c ^ _MASK32)


@numba.njit(cache=True, nogil=True)
def _u32(buf, i):
    return (
        np.int64(buf[i])
        | (np.int64(buf[i + 1]) << 8)
        | (np.int64(buf[i + 2]) << 16)
        | (np.int64(buf[i + 3]) << 24)
    )


@numba.njit(cache=True, nogil=True)
def _i64(buf, i):
    v = np.uint64(0)
    for k in range(8):
        v |= np.uint64(buf[i + k]) << np.uint64(8 * k)
    return np.int64(v)


@numba.njit(cache=True, nogil=True)
def seal_records_nb(tab, rows, crc_at, body_at):
    """Write each record's CRC32C of ``row[body_at:]`` at ``row[crc_at:crc_at+4]`` (little
    endian). ``rows``: uint8 (n, record size). O(bytes)."""
    n, size = rows.shape
    for r in range(n):
        row = rows[r]
        c = crc32c_nb(tab, row, body_at, size, 0)
        for k in range(4):
            row[crc_at + k] = np.uint8((c >> (8 * k)) & 0xFF)


@numba.njit(cache=True, nogil=True)
def _record_ok(tab, buf, at, size, body_len):
    if _u32(buf, at) != body_len:
        return 2
    if crc32c_nb(tab, buf, at + 8, at + size, 0) != _u32(buf, at + 4):
        return 3
    return 0


@numba.njit(cache=True, nogil=True)
def scan_records_nb(tab, buf, start, size, body_len, seq_at, cmd_seq_at, expected):
    """Check records of ``size`` bytes from ``buf[start]``: length field, CRC32C, and the
    sequence (header seq == command seq == ``expected``, +1 per record; ``expected`` < 0: take
    the first record's). Returns (valid records, error at the first invalid one: 0 none,
    1 truncated, 2 bad length, 3 bad CRC, 4 sequence). O(bytes)."""
    n = 0
    at = start
    end = len(buf)
    while at < end:
        if at + size > end:
            return n, 1
        err = _record_ok(tab, buf, at, size, body_len)
        if err:
            return n, err
        seq = _i64(buf, at + seq_at)
        if seq != _i64(buf, at + cmd_seq_at) or (expected >= 0 and seq != expected):
            return n, 4
        expected = seq + 1
        n += 1
        at += size
    return n, 0


@numba.njit(cache=True, nogil=True)
def valid_after_nb(tab, buf, start, size, body_len):
    """Offset of the first record (at ``start + k * size``, k >= 1) with a valid length and
    CRC, or -1: tells a torn tail (nothing valid follows) from corruption. O(bytes)."""
    at = start + size
    while at + size <= len(buf):
        if _record_ok(tab, buf, at, size, body_len) == 0:
            return at
        at += size
    return -1
