"""Queue-position models for depth-and-trades (L2) replay, where the data has no order ids.

For each of the strategy's resting orders the backtest keeps ``front``: the historical lots
estimated ahead of it at its price, set to the level's visible size when the order arrives.

- Trades at the order's price, on its side, are volume taken from the front of the queue:
  ``front -= qty``; the order fills ``min(leaves, -front)`` once ``front`` goes below zero.
  A trade through the price (a sell below a bid, a buy above an ask) fills the whole order.
- Depth changes at the order's price: ``prev`` -> ``new`` lots (historical, the strategy's
  own orders excluded), net of the trade volume seen at that level since the last change
  (``chg = prev - new - traded``):

  * ``conservative``: cancels always come from behind the order, so only trades move it
    forward: ``front = min(front, new)`` (the queue ahead cannot exceed the level).
  * ``prob``: hftbacktest's probabilistic queue model. A decrease ``chg > 0`` comes from
    behind the order with probability ``p = f(back) / (f(back) + f(front))``, with
    ``back = prev - front`` and ``f(x) = x ** n`` (``power``, n = 3 by default) or
    ``f(x) = log(1 + x)`` (``log``); the estimate moves to
    ``front' = front - (1 - p) * chg + min(back - p * chg, 0)``, then ``min(front', new)``.
    An increase only clamps: ``front = min(front, new)``.

Both are deterministic (expected values, no random draws). Fills are applied in the engine
(docs/backtest.md, "L2").
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class QueueState:
    order_id: int
    side: int
    price_ticks: int
    leaves_lots: int
    front: float
    traded: int = 0  # trade lots at this level since the last depth change


class QueueModel:
    """Conservative model (the base class): cancels never move the order forward."""

    name = "conservative"

    def on_depth(self, q: QueueState, prev: int, new: int) -> None:
        """The level went from ``prev`` to ``new`` historical lots. O(1)."""
        q.traded = 0
        q.front = min(q.front, float(new))

    def on_trade(self, q: QueueState, qty: int) -> int:
        """A trade of ``qty`` at the order's price on its side; returns the lots filled."""
        q.traded += qty
        q.front -= qty
        if q.front >= 0:
            return 0
        fill = min(q.leaves_lots, math.ceil(-q.front - 1e-9))
        q.front = 0.0
        return fill


class ProbQueueModel(QueueModel):
    """hftbacktest-style probabilistic model; ``kind`` "power" (exponent ``n``) or "log"."""

    def __init__(self, kind: str = "power", n: float = 3.0) -> None:
        if kind not in ("power", "log"):
            raise ValueError(f"probabilistic queue model kind must be power or log, not {kind}")
        self.kind, self.n = kind, n
        self.name = f"prob:{kind}" + (f":{n:g}" if kind == "power" else "")

    def _f(self, x: float) -> float:
        x = max(x, 0.0)
        return x**self.n if self.kind == "power" else math.log1p(x)

    def on_depth(self, q: QueueState, prev: int, new: int) -> None:
        chg = prev - new - q.traded
        q.traded = 0
        if chg <= 0:
            q.front = min(q.front, float(new))
            return
        front = q.front
        back = prev - front
        fb, ff = self._f(back), self._f(front)
        p = fb / (fb + ff) if fb + ff > 0 else 1.0
        est = front - (1.0 - p) * chg + min(back - p * chg, 0.0)
        q.front = max(min(est, float(new)), 0.0)


def parse_queue_model(text: str) -> QueueModel:
    """``conservative``, ``prob`` (= prob:power:3), ``prob:power:N`` or ``prob:log``."""
    parts = text.split(":")
    if parts == ["conservative"]:
        return QueueModel()
    if parts[0] == "prob":
        kind = parts[1] if len(parts) > 1 else "power"
        n = float(parts[2]) if len(parts) > 2 else 3.0
        return ProbQueueModel(kind, n)
    raise ValueError(f"queue model {text!r}: expected conservative, prob, prob:power:N, prob:log")
