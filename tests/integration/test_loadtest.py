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


def test_loadtest_frames_group_messages() -> None:
    """``--frame-us``: a client sends what is due at most once per interval, and every message
    still gets its reply (the frames are packed, the schedule unchanged)."""
    cmd = [sys.executable, "-m", "venue.cli", "loadtest", "--embedded", "--clients", "1",
           "--rate", "2000", "--duration", "1", "--frame-us", "5000", "--json",
           "--no-write"]  # fmt: skip
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"venue loadtest did not finish in 60 s: {e.stderr!r}")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["client_frame_us"] == 5000
    assert res["sent"] == 2000 and res["acked"] + res["refused"] == 2000
    # a message waits for its frame: up to 5 ms, about 2.5 ms on average, and it shows
    assert res["p50_us"] > 1000


def test_frame_interval_default() -> None:
    from gateway.loadtest import AUTO_FRAME_RATE, AUTO_FRAME_US, frame_us_for

    assert frame_us_for(AUTO_FRAME_RATE, None) == 0  # one message per frame when it is due
    assert frame_us_for(AUTO_FRAME_RATE + 1, None) == AUTO_FRAME_US
    assert frame_us_for(25_000, 0) == 0 and frame_us_for(100, 250) == 250


def test_loadtest_refuses_negative_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.loadtest import main

    for flag in ("--frame-us", "--spin-us"):
        assert main(["--embedded", flag, "-5", "--no-write"]) == 2
        assert "0 or more" in capsys.readouterr().err
