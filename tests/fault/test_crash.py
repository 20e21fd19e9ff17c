"""SIGKILL a loaded venue subprocess a dozen times (at random moments, while a snapshot is being
written, right after a journal rotation), restart it each time, and check that nothing any
client was told is lost: every acknowledged order accepted exactly once, every acknowledged fill
present, no client order id live twice, balances conserved, the recovered state hash and event
hash equal to a clean replay of the journal, and the venue's open orders equal the replay's.
The harness is tests/fault/harness.py; ``scripts/soak`` runs it for 200 kills."""

from __future__ import annotations

from pathlib import Path

from tests.fault.harness import run


def test_twelve_kills_lose_nothing(tmp_path: Path) -> None:
    lines: list[str] = []
    r = run(tmp_path, kills=12, seed=7, log=lines.append)
    assert r["problems"] == [], "\n".join(lines + r["problems"])
    assert r["kills"] == 12
    hits = [h["hit"] for h in r["hits"]]
    assert {"random", "snapshot", "rotation"} <= set(hits), hits
    assert any(h["tmp_left"] for h in r["hits"]), "no kill landed during a snapshot write"
    assert r["acked_orders"] > 1000 and r["acked_fills"] > 1000
