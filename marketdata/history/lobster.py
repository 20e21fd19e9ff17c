"""Readers of LOBSTER message and order-book files (see ../shared/data/README.md, "lobster/").

``read_messages(path)`` returns LOBSTER_MESSAGE_DTYPE records; ``read_orderbook(path)`` an int64
array ``(rows, levels, 4)`` of AskPrice, AskSize, BidPrice, BidSize per level. Parsing is
vectorised (one split of the whole text, numpy conversions per column); only when that finds
something wrong does a row-by-row scan run, to name the first bad cell exactly:
``LobsterFormatError`` with the file, the 1-based line, the column (name and number) and what
was expected. Times are parsed from their decimal text, never through float. Digits beyond the
nanosecond are dropped: LOBSTER's own files carry float noise there now and then (the one-hour
sample has ``35821.088778456004``), so they are accepted and truncated, not refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from marketdata.history.records import (
    LOB_HALT,
    LOB_SUBMIT,
    LOBSTER_MESSAGE_DTYPE,
)

MESSAGE_COLUMNS = ("Time", "Type", "OrderID", "Size", "Price", "Direction")
ORDERBOOK_FIELDS = ("AskPrice", "AskSize", "BidPrice", "BidSize")

_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_TIME_RE = re.compile(r"^\s*(\d+)(?:\.(\d*))?\s*$")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_MAX_DECIMALS = 9


class LobsterFormatError(ValueError):
    """A LOBSTER file that does not have the documented layout. The message names the file,
    the 1-based line, the column and what was expected."""


def _fail(path: Path, line: int, what: str) -> LobsterFormatError:
    return LobsterFormatError(f"{path.name} line {line}, {what}")


def _cell_fail(path: Path, line: int, col: int, name: str, problem: str) -> LobsterFormatError:
    return _fail(path, line, f"column {col} ({name}): {problem}")


def _read_cells(path: str | os.PathLike[str], ncols: int | None) -> tuple[Path, np.ndarray]:
    """The file as a 2-D array of strings (rows, columns). ``ncols`` None: every row must have
    the first row's count. Raises LobsterFormatError for a missing... empty file or a row
    with another column count. O(file size)."""
    p = Path(path)
    raw = p.read_bytes()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise _fail(p, line, f"byte {raw[e.start]:#04x} is not ASCII text") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines are harmless
    if not lines:
        raise LobsterFormatError(f"{p.name}: the file is empty (expected comma separated rows)")
    expected = ncols if ncols is not None else lines[0].count(",") + 1
    counts = np.fromiter((s.count(",") for s in lines), dtype=np.int64, count=len(lines)) + 1
    bad = np.flatnonzero(counts != expected)
    if len(bad):
        i = int(bad[0])
        raise _fail(
            p, i + 1, f"{int(counts[i])} columns where {expected} were expected: {lines[i]!r}"
        )
    cells = np.array(",".join(lines).split(","), dtype=str).reshape(len(lines), expected)
    return p, cells


def _int_column(cells: np.ndarray) -> np.ndarray | None:
    """One column of strings as int64, or None when any cell is not a plain integer."""
    try:
        out = cells.astype(np.int64)
    except (ValueError, OverflowError):
        return None
    if not np.all(np.char.isdigit(np.char.lstrip(np.char.strip(cells), "+-"))):
        return None  # numpy accepts things such as '1_000' that are not LOBSTER integers
    return out


def _check_int(p: Path, line: int, col: int, name: str, s: str) -> int:
    if not _INT_RE.match(s):
        raise _cell_fail(p, line, col, name, f"{s!r} is not an integer")
    v = int(s)
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise _cell_fail(p, line, col, name, f"{s!r} does not fit 64 bits")
    return v


def _parse_time(p: Path, line: int, s: str) -> int:
    m = _TIME_RE.match(s)
    if not m:
        raise _cell_fail(
            p,
            line,
            1,
            "Time",
            f"{s!r} is not a time (expected seconds after midnight, such as 34200.004241176)",
        )
    frac = (m.group(2) or "")[:_MAX_DECIMALS]
    return int(m.group(1)) * 10**9 + int(frac.ljust(_MAX_DECIMALS, "0"))


def _truncate(frac: np.ndarray) -> np.ndarray:
    """Decimals beyond the nanosecond dropped (truncated toward zero)."""
    if frac.dtype.itemsize // 4 <= _MAX_DECIMALS:
        return frac
    return frac.astype(f"<U{_MAX_DECIMALS}")


def _times_ns(cells: np.ndarray) -> np.ndarray | None:
    """Vectorised exact time parse: integer seconds and up to 9 decimals, as int64 ns."""
    stripped = np.char.strip(cells)
    whole, _, frac = (np.char.partition(stripped, ".")[:, k] for k in range(3))
    ok = np.char.isdigit(whole) & ((np.char.str_len(frac) == 0) | np.char.isdigit(frac))
    if not np.all(ok):
        return None
    secs = whole.astype(np.int64)
    if np.any(secs > _INT64_MAX // 10**9 - 1):
        return None
    return secs * 10**9 + np.char.ljust(_truncate(frac), _MAX_DECIMALS, "0").astype(np.int64)


def _scan_messages(p: Path, cells: np.ndarray) -> LobsterFormatError:
    """Row by row: the first bad cell of a message file (the slow path, errors only)."""
    for i, row in enumerate(cells):
        line = i + 1
        _parse_time(p, line, str(row[0]))
        vals = [_check_int(p, line, c + 1, MESSAGE_COLUMNS[c], str(row[c])) for c in range(1, 6)]
        typ, _oid, size, _price, direction = vals
        if not 1 <= typ <= LOB_HALT:
            raise _cell_fail(
                p, line, 2, "Type", f"{typ} is not a LOBSTER event type (expected 1 to 7)"
            )
        if size < 0:
            raise _cell_fail(p, line, 4, "Size", f"{size} is negative (expected shares >= 0)")
        if direction not in (1, -1):
            raise _cell_fail(
                p, line, 6, "Direction", f"{direction} is not a direction (expected 1 or -1)"
            )
    return LobsterFormatError(f"{p.name}: values out of range")  # not reached in practice


def read_messages(path: str | os.PathLike[str]) -> np.ndarray:
    """A LOBSTER message file (no header; Time, Type, OrderID, Size, Price, Direction) as
    LOBSTER_MESSAGE_DTYPE records, in file order. Time is exact (int nanoseconds after
    midnight). Raises LobsterFormatError naming the first bad cell, OSError when the file
    cannot be read. O(rows), vectorised."""
    p, cells = _read_cells(path, len(MESSAGE_COLUMNS))
    out = np.zeros(len(cells), dtype=LOBSTER_MESSAGE_DTYPE)
    times = _times_ns(cells[:, 0])
    cols = [_int_column(cells[:, c]) for c in range(1, 6)]
    if times is None or any(c is None for c in cols):
        raise _scan_messages(p, cells)
    typ, oid, size, price, direction = (c for c in cols if c is not None)
    if (
        np.any((typ < LOB_SUBMIT) | (typ > LOB_HALT))
        or np.any(size < 0)
        or np.any((direction != 1) & (direction != -1))
    ):
        raise _scan_messages(p, cells)
    out["time_ns"] = times
    out["type"] = typ
    out["order_id"] = oid
    out["size"] = size
    out["price"] = price
    out["direction"] = direction
    return out


def orderbook_column_name(col: int) -> str:
    """Name of 0-based column ``col`` of an order-book file: AskPrice1, AskSize1, ..."""
    return f"{ORDERBOOK_FIELDS[col % 4]}{col // 4 + 1}"


def read_orderbook(path: str | os.PathLike[str], levels: int | None = None) -> np.ndarray:
    """A LOBSTER order-book file as int64 ``(rows, levels, 4)``: AskPrice, AskSize, BidPrice,
    BidSize per level (the level count is the column count / 4; ``levels`` keeps the first
    that many and must not exceed it). Sizes must be >= 0. O(rows * columns), vectorised."""
    p, cells = _read_cells(path, None)
    ncols = cells.shape[1]
    if ncols % 4:
        raise _fail(
            p,
            1,
            f"{ncols} columns: an order-book file has 4 per level "
            "(AskPrice, AskSize, BidPrice, BidSize)",
        )
    have = ncols // 4
    if levels is not None and not 1 <= levels <= have:
        raise LobsterFormatError(
            f"{p.name}: {levels} levels requested but the file has {have} (4 columns each)"
        )
    try:
        values = cells.astype(np.int64)
        ok = bool(np.all(np.char.isdigit(np.char.lstrip(np.char.strip(cells), "+-"))))
    except (ValueError, OverflowError):
        ok = False
    if ok:
        sizes = values[:, 1::2]
        ok = not np.any(sizes < 0)
    if not ok:
        for i, row in enumerate(cells):
            for c in range(ncols):
                name = orderbook_column_name(c)
                v = _check_int(p, i + 1, c + 1, name, str(row[c]))
                if c % 2 == 1 and v < 0:
                    raise _cell_fail(p, i + 1, c + 1, name, f"{v} is negative (expected >= 0)")
        raise LobsterFormatError(f"{p.name}: values out of range")
    book = values.reshape(len(values), have, 4)
    return book[:, :levels] if levels is not None else book
