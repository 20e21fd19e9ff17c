"""The ``[agents]`` and ``[chaos]`` tables of a venue configuration (docs/config.md,
docs/live-market.md). Each parser takes the TOML table (numbers with a fraction arrive as
Decimals) and raises ``ValueError`` naming the key and what to write instead; unknown keys are
refused."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.chaos import ChaosConfig, SessionChaos
from venue.agents.driver import AgentsConfig, InstrumentAgents

AGENT_KEYS = {"seed", "deposit", "rate_scale", "instruments"}
INSTRUMENT_AGENT_KEYS = {f.name for f in fields(InstrumentAgents)}
SESSION_CHAOS_KEYS = {f.name for f in fields(SessionChaos)}
CHAOS_KEYS = {f.name for f in fields(ChaosConfig)} - {"log_path"} | {"log"}


def _known(t: dict[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(t) - keys)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})")


def _number(t: dict[str, Any], name: str, where: str, default: float, lo: float = 0.0) -> float:
    v = t.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int | float | Decimal):
        raise ValueError(f"{where}.{name}: a number, not {v!r}")
    if v < lo:
        raise ValueError(f"{where}.{name}: must be >= {lo}, not {v}")
    return float(v)


def _whole(t: dict[str, Any], name: str, where: str, default: int, lo: int = 0) -> int:
    v = t.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{where}.{name}: a whole number >= {lo}, not {v!r}")
    return v


def parse_agents(raw: dict[str, Any]) -> AgentsConfig:
    """``[agents]`` with one ``[[agents.instruments]]`` per instrument traded."""
    _known(raw, AGENT_KEYS, "agents")
    d = AgentsConfig()
    items = raw.get("instruments", [])
    if not isinstance(items, list) or not items:
        raise ValueError("agents: write one [[agents.instruments]] table (symbol = ...) per "
                         "instrument the agents trade")  # fmt: skip
    specs = []
    base = InstrumentAgents("")
    for k, t in enumerate(items):
        where = f"agents.instruments[{k}]"
        if not isinstance(t, dict) or not isinstance(t.get("symbol"), str):
            raise ValueError(f'{where}: a table with symbol = "..."')
        _known(t, INSTRUMENT_AGENT_KEYS, where)
        kw: dict[str, Any] = {"symbol": t["symbol"]}
        for name in ("market_makers", "noise_traders", "momentum", "mean_reversion", "informed"):
            kw[name] = _whole(t, name, where, getattr(base, name))
        for name in ("vol", "jumps_per_hour", "jump_bps", "spread_bps", "noise_rate_per_s"):
            kw[name] = _number(t, name, where, getattr(base, name))
        kw["order_notional"] = Decimal(str(_number(t, "order_notional", where,
                                                   float(base.order_notional))))  # fmt: skip
        if kw["order_notional"] <= 0 or kw["spread_bps"] <= 0:
            raise ValueError(f"{where}: order_notional and spread_bps must be above zero")
        specs.append(InstrumentAgents(**kw))
    deposit = raw.get("deposit", d.deposit)
    if isinstance(deposit, bool) or not isinstance(deposit, int | Decimal) or deposit <= 0:
        raise ValueError(f"agents.deposit: a positive amount per asset, not {deposit!r}")
    return AgentsConfig(
        seed=_whole(raw, "seed", "agents", d.seed),
        instruments=tuple(specs),
        deposit=Decimal(deposit),
        rate_scale=_number(raw, "rate_scale", "agents", d.rate_scale, lo=1e-6),
    )


def _session(t: Any, where: str) -> SessionChaos:
    if not isinstance(t, dict):
        raise ValueError(f"{where}: expected a table")
    _known(t, SESSION_CHAOS_KEYS, where)
    d = SessionChaos()
    kw: dict[str, Any] = {
        name: _number(t, name, where, getattr(d, name)) for name in SESSION_CHAOS_KEYS - {"burst"}
    }
    kw["burst"] = _whole(t, "burst", where, 0)
    try:
        return SessionChaos(**kw)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def parse_chaos(raw: dict[str, Any], base: Path = Path()) -> ChaosConfig:
    """``[chaos]`` with optional ``[chaos.session]`` and ``[chaos.accounts.N]`` tables; ``log``
    is relative to ``base``."""
    _known(raw, CHAOS_KEYS, "chaos")
    d = ChaosConfig()
    accounts = {}
    for key, t in (raw.get("accounts") or {}).items():
        if not str(key).isdigit() or int(key) < 1:
            raise ValueError(f"chaos.accounts.{key}: the key is an account number (>= 1)")
        accounts[int(key)] = _session(t, f"chaos.accounts.{key}")
    halt = raw.get("halt_instruments", [])
    if not isinstance(halt, list) or not all(isinstance(i, int) and i >= 0 for i in halt):
        raise ValueError(f"chaos.halt_instruments: a list of instrument ids, not {halt!r}")
    log = raw.get("log")
    if log is not None and not isinstance(log, str):
        raise ValueError(f"chaos.log: a file path, not {log!r}")
    num = {
        name: _number(raw, name, "chaos", getattr(d, name))
        for name in ("halts_per_min", "halt_s", "bursts_per_min", "burst_s", "burst_factor",
                     "md_drop_probability", "md_delay_ms")
    }  # fmt: skip
    session = _session(raw.get("session", {}), "chaos.session")
    try:
        return ChaosConfig(
            seed=_whole(raw, "seed", "chaos", d.seed),
            session=session,
            accounts=accounts,
            halt_instruments=tuple(halt),
            log_path=str(base / log) if log else None,
            **num,
        )
    except ValueError as e:
        raise ValueError(f"chaos: {e}") from None
