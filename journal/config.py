"""The ``[journal]`` table of a venue configuration (docs/config.md, docs/durability.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from journal.writer import POLICIES


@dataclass(frozen=True)
class JournalConfig:
    """Durability settings of ``venue run``."""

    fsync: str = "durable"  # durable | interval | none (docs/durability.md: what each risks)
    interval_ms: int = 5  # fsync period under "interval"
    rotate_bytes: int = 64 << 20  # a journal file rotates once it passes this size
    snapshot_interval_s: float = 60.0  # a snapshot at most this long after the last (0: never)
    snapshot_every_cmds: int = 1_000_000  # ... or after this many commands (0: never)
    snapshots_kept: int = 3


KEYS = {f.name for f in fields(JournalConfig)}


def parse_journal(raw: dict[str, Any]) -> JournalConfig:
    """A ``[journal]`` table as a JournalConfig; ValueError naming the key otherwise."""
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise ValueError(
            f"journal: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(KEYS))})"
        )
    d = JournalConfig()
    fsync = raw.get("fsync", d.fsync)
    if fsync not in POLICIES:
        raise ValueError(f"journal.fsync: one of {', '.join(POLICIES)}, not {fsync!r}")

    def whole(name: str, lo: int) -> int:
        v = raw.get(name, getattr(d, name))
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"journal.{name}: a whole number >= {lo}, not {v!r}")
        return v

    interval = raw.get("snapshot_interval_s", d.snapshot_interval_s)
    if isinstance(interval, bool) or not isinstance(interval, int | float | Decimal):
        raise ValueError(f"journal.snapshot_interval_s: a number of seconds, not {interval!r}")
    if interval < 0:
        raise ValueError(f"journal.snapshot_interval_s: must be >= 0, not {interval}")
    return JournalConfig(
        fsync=fsync,
        interval_ms=whole("interval_ms", 1),
        rotate_bytes=whole("rotate_bytes", 4096),
        snapshot_interval_s=float(interval),
        snapshot_every_cmds=whole("snapshot_every_cmds", 0),
        snapshots_kept=whole("snapshots_kept", 1),
    )
