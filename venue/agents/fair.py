"""The hidden fair value an informed trader follows: a jump-diffusion in log price.

Between jumps the log price is a Brownian motion with annualised volatility ``vol``; jumps
arrive as a Poisson process (``jumps_per_hour``) with normally distributed log sizes (standard
deviation ``jump_bps``). Merton's model, stepped exactly in log space so the path never goes
negative. Deterministic: the same seed and the same sequence of ``advance`` steps give the same
path, whatever the wall clock does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_YEAR_S = 365.0 * 24 * 3600


@dataclass(frozen=True)
class FairValueModel:
    """Parameters of one instrument's fair value path."""

    start_ticks: float
    vol: float = 1.0  # annualised volatility of log price (1.0 = 100%)
    jumps_per_hour: float = 6.0
    jump_bps: float = 30.0  # standard deviation of a jump's log size, in basis points


class FairValue:
    """One path of ``FairValueModel``. ``advance(dt_s)`` moves it; ``ticks`` is where it is.
    O(1) per step."""

    def __init__(self, model: FairValueModel, rng: np.random.Generator) -> None:
        if model.start_ticks <= 0 or model.vol < 0 or model.jumps_per_hour < 0:
            raise ValueError(f"fair value model needs a positive start and rates: {model}")
        self.model = model
        self.rng = rng
        self.log_price = math.log(model.start_ticks)
        self.jumps = 0

    @property
    def ticks(self) -> float:
        return math.exp(self.log_price)

    def advance(self, dt_s: float) -> float:
        """Move the path forward by ``dt_s`` seconds; returns the new value in ticks."""
        if dt_s <= 0:
            return self.ticks
        m, rng = self.model, self.rng
        var = m.vol * m.vol * dt_s / _YEAR_S
        # drift -var/2: the price itself (not its log) has no drift
        self.log_price += -0.5 * var + math.sqrt(var) * float(rng.standard_normal())
        n = int(rng.poisson(m.jumps_per_hour * dt_s / 3600.0)) if m.jumps_per_hour else 0
        if n:
            self.jumps += n
            self.log_price += float(rng.normal(0.0, m.jump_bps / 1e4, size=n).sum())
        return self.ticks
