"""Clearing: accounts, ledger, positions, fees, margin, pre-trade risk holds, liquidation,
funding, expiry settlement and statements (docs/clearing.md). Reads the engine's events; the
engine never calls it."""

from pathlib import Path

from matching._jit import guard_cache

_HERE = Path(__file__).resolve().parent
# clearing's kernels call matching's: their cache is stale when either package changes
guard_cache(
    _HERE / "__pycache__",
    [
        *sorted((_HERE.parent / "matching").glob("*.py")),
        *sorted(_HERE.glob("*_nb.py")),
        _HERE / "records.py",
        _HERE / "state.py",
    ],
)
