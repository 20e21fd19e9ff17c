"""Latency models: how late the strategy sees the market and how late its orders arrive.

A model turns exchange (or strategy) times into delays, all int64 nanoseconds:
``sample(times_ns, rng) -> delays_ns``. Three kinds:

- ``Constant(ns)``: every delay is ``ns``.
- ``Uniform(lo_ns, hi_ns)`` and ``LogNormal(median_ns, sigma, floor_ns)``: drawn from a seeded
  ``numpy.random.Generator`` (the backtest gives each channel its own stream, spawned from the
  run's seed, so the draws of one channel never depend on what another did).
- ``Recorded(times_ns, delays_ns)``: a measured series; the delay at time t is the last
  recorded one at or before t (the first one before the series starts).

``floor_ns`` is a lower bound of every delay a model can return: the backtest uses it to run
historical data ahead in batches without breaking causality (docs/backtest.md, "Latency").
``parse_latency("50us")`` reads the command-line forms listed in ``parse_latency``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DUR_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?\s*$")


def parse_duration(text: str) -> int:
    """'50us', '1.5ms', '200' (ns) -> int nanoseconds. ValueError on anything else."""
    m = _DUR_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration (expected e.g. 250ns, 50us, 1.5ms, 2s)")
    num, unit = m.group(1), m.group(2) or "ns"
    whole, _, frac = num.partition(".")
    scale = _UNITS[unit]
    ns = int(whole) * scale
    if frac:
        ns += (int(frac.ljust(9, "0")[:9]) * scale) // 10**9
    return ns


class LatencyModel:
    """Base class: ``sample(times_ns, rng)`` returns one delay (int64 ns, >= floor_ns) per time."""

    floor_ns: int = 0

    def sample(self, times_ns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def one(self, t_ns: int, rng: np.random.Generator) -> int:
        """One delay at time ``t_ns`` (the per-order path). O(1) (Recorded: O(log n))."""
        return int(self.sample(np.array([t_ns], dtype=np.int64), rng)[0])


@dataclass(frozen=True)
class Constant(LatencyModel):
    ns: int = 0

    def __post_init__(self) -> None:
        if self.ns < 0:
            raise ValueError(f"a latency cannot be negative ({self.ns} ns)")

    @property
    def floor_ns(self) -> int:  # type: ignore[override]
        return self.ns

    def sample(self, times_ns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.full(len(times_ns), self.ns, dtype=np.int64)

    def one(self, t_ns: int, rng: np.random.Generator) -> int:
        return self.ns


@dataclass(frozen=True)
class Uniform(LatencyModel):
    lo_ns: int
    hi_ns: int

    def __post_init__(self) -> None:
        if not 0 <= self.lo_ns <= self.hi_ns:
            raise ValueError(f"uniform latency needs 0 <= lo <= hi ({self.lo_ns}, {self.hi_ns})")

    @property
    def floor_ns(self) -> int:  # type: ignore[override]
        return self.lo_ns

    def sample(self, times_ns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(self.lo_ns, self.hi_ns + 1, size=len(times_ns), dtype=np.int64)


@dataclass(frozen=True)
class LogNormal(LatencyModel):
    """``floor_ns + median_ns * exp(sigma * N(0, 1))``, rounded down to whole ns."""

    median_ns: int
    sigma: float
    floor: int = 0

    def __post_init__(self) -> None:
        if self.median_ns < 0 or self.sigma < 0 or self.floor < 0:
            raise ValueError("lognormal latency needs median >= 0, sigma >= 0, floor >= 0")

    @property
    def floor_ns(self) -> int:  # type: ignore[override]
        return self.floor

    def sample(self, times_ns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal(len(times_ns))
        return self.floor + np.floor(self.median_ns * np.exp(self.sigma * z)).astype(np.int64)


@dataclass(frozen=True)
class Recorded(LatencyModel):
    """A recorded series: (time, delay) pairs, times ascending."""

    times_ns: np.ndarray = field(repr=False)
    delays_ns: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        t, d = np.asarray(self.times_ns), np.asarray(self.delays_ns)
        if len(t) == 0 or len(t) != len(d):
            raise ValueError("a recorded latency series needs as many delays as times (>= 1)")
        if np.any(np.diff(t) < 0) or np.any(d < 0):
            raise ValueError("recorded latency: times must ascend and delays be >= 0")

    @property
    def floor_ns(self) -> int:  # type: ignore[override]
        return int(np.min(self.delays_ns))

    def sample(self, times_ns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = np.searchsorted(self.times_ns, times_ns, side="right") - 1
        return np.asarray(self.delays_ns, dtype=np.int64)[np.maximum(k, 0)]

    @classmethod
    def from_csv(cls, path: str | Path) -> Recorded:
        """A CSV with a header and columns ``ts_ns,latency_ns`` (integers)."""
        times, delays = [], []
        with open(path, newline="") as f:
            for k, row in enumerate(csv.DictReader(f)):
                try:
                    times.append(int(row["ts_ns"]))
                    delays.append(int(row["latency_ns"]))
                except (KeyError, TypeError, ValueError):
                    raise ValueError(
                        f"{path} row {k + 2}: expected integer columns ts_ns,latency_ns"
                    ) from None
        return cls(np.array(times, dtype=np.int64), np.array(delays, dtype=np.int64))


def parse_latency(text: str) -> LatencyModel:
    """Command-line form of a latency model:
    ``50us`` (constant), ``uniform:20us:80us``, ``lognormal:MEDIAN:SIGMA[:FLOOR]``
    (e.g. ``lognormal:40us:0.5:10us``), ``file:PATH.csv`` (recorded; columns ts_ns,latency_ns).
    """
    kind, _, rest = text.partition(":")
    if not rest:
        return Constant(parse_duration(text))
    parts = rest.split(":")
    if kind == "const" and len(parts) == 1:
        return Constant(parse_duration(parts[0]))
    if kind == "uniform" and len(parts) == 2:
        return Uniform(parse_duration(parts[0]), parse_duration(parts[1]))
    if kind == "lognormal" and len(parts) in (2, 3):
        floor = parse_duration(parts[2]) if len(parts) == 3 else 0
        try:
            sigma = float(parts[1])
        except ValueError:
            raise ValueError(f"lognormal sigma {parts[1]!r} is not a number") from None
        return LogNormal(parse_duration(parts[0]), sigma, floor)
    if kind == "file":
        return Recorded.from_csv(rest)
    raise ValueError(
        f"latency {text!r}: expected 50us, const:50us, uniform:LO:HI, "
        "lognormal:MEDIAN:SIGMA[:FLOOR] or file:PATH.csv"
    )
