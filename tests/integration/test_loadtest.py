"""``venue loadtest --embedded``: a short run as a subprocess (client processes are spawned, so a
subprocess keeps them away from pytest's own process), with a timeout that fails, not hangs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"sent", "acked", "acked_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
        "rejects", "clients", "rate", "duration", "endpoint"}  # fmt: skip


def test_loadtest_embedded_json() -> None:
    cmd = [sys.executable, "-m", "venue.cli", "loadtest", "--embedded", "--clients", "2",
           "--rate", "500", "--duration", "2", "--json", "--no-write"]  # fmt: skip
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"venue loadtest did not finish in 60 s: {e.stderr!r}")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("loadtest: 2 client(s)")
    res = json.loads(lines[-1])
    assert not KEYS - res.keys(), KEYS - res.keys()
    assert res["clients"] == 2 and res["rate"] == 500 and res["duration"] == 2
    assert 0 < res["acked"] <= res["sent"]
    assert res["sent"] == 1000  # open loop: the schedule decides how many, not the venue
    assert 0 < res["p50_us"] <= res["p90_us"] <= res["p99_us"] <= res["p999_us"] <= res["max_us"]
    assert isinstance(res["rejects"], dict)
    assert all(isinstance(k, str) and v > 0 for k, v in res["rejects"].items())
    assert "acked/s" in out.stderr  # the progress line
