"""Backtesting against the real matching engine and clearing (docs/backtest.md).

``Backtest(history, strategy, BacktestConfig(...)).run()`` replays a ``History`` (L3 from
LOBSTER, L2 from Binance captures: ``backtest.data``) and a ``Strategy`` (``backtest.strategy``)
with latency models (``backtest.latency``) and, in L2, a queue model (``backtest.queue``).

The names below load on first use, so that ``venue``'s command line (which registers
``venue backtest``) does not import the backtest machinery for every other command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtest.data import History, binance_history, lobster_history
    from backtest.latency import Constant, LogNormal, Recorded, Uniform, parse_latency
    from backtest.results import Results
    from backtest.runner import STRATEGY_ACCOUNT, Backtest, BacktestConfig
    from backtest.strategy import BookView, Context, Order, OrderUpdate, Strategy, Trade

_WHERE = {
    "History": "data", "binance_history": "data", "lobster_history": "data",
    "Constant": "latency", "LogNormal": "latency", "Recorded": "latency", "Uniform": "latency",
    "parse_latency": "latency", "Results": "results", "STRATEGY_ACCOUNT": "runner",
    "Backtest": "runner", "BacktestConfig": "runner", "BookView": "strategy",
    "Context": "strategy", "Order": "strategy", "OrderUpdate": "strategy",
    "Strategy": "strategy", "Trade": "strategy",
}  # fmt: skip

__all__ = [
    "STRATEGY_ACCOUNT",
    "Backtest",
    "BacktestConfig",
    "BookView",
    "Constant",
    "Context",
    "History",
    "LogNormal",
    "Order",
    "OrderUpdate",
    "Recorded",
    "Results",
    "Strategy",
    "Trade",
    "Uniform",
    "binance_history",
    "lobster_history",
    "parse_latency",
]


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'backtest' has no attribute {name!r}")
    return getattr(importlib.import_module(f"backtest.{mod}"), name)
