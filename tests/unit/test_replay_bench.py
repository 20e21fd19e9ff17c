"""Smoke test of ``venue bench replay`` on the first 2,000 LOBSTER messages."""

from __future__ import annotations

import pytest

from bench import replay_bench

N_MESSAGES = 2_000


@pytest.fixture(scope="module")
def messages():
    if not replay_bench.LOBSTER_FILE.is_file():
        pytest.skip(f"shared LOBSTER data not found at {replay_bench.LOBSTER_FILE}")
    return replay_bench.load_messages(replay_bench.LOBSTER_FILE, N_MESSAGES)


def test_stream_counts_every_message(messages) -> None:
    stream = replay_bench.build_stream(messages)
    assert stream.messages == N_MESSAGES
    assert stream.n == sum(stream.applied.values())
    assert stream.n + sum(stream.skipped.values()) == N_MESSAGES
    assert stream.applied["submission"] > 0 and stream.applied["execution"] > 0
    # seq is the command index + 1, and every execution names the resting order it takes
    assert (stream.commands["seq"] == range(1, stream.n + 1)).all()
    assert (stream.expect_maker != 0).sum() == stream.applied["execution"]


def test_replay_core_smoke(messages) -> None:
    # always ask for nautilus: without the optional package the bench must say how to get it
    nautilus = replay_bench.nautilus_version() is not None
    r = replay_bench.replay(messages, batch=512, repeat=1, nautilus=True)
    assert r["applied_messages"] > 0
    assert r["events_per_s"] > 0
    assert r["reference_events_per_s"] > 0
    assert r["engine_vs_reference"] > 0
    # the engine and the reference book agree on the same commands
    assert r["reference_output_events_match"]
    assert r["engine_rejects"] == 0
    # at the start of the file every execution of an order submitted in it hits that order
    assert r["executions_matched_exactly"] == r["executions"]
    if nautilus:
        assert r["nautilus_events_per_s"] > 0
        assert r["engine_vs_nautilus"] > 0
        assert r["nautilus_update_count"] == r["applied_messages"]
    else:
        assert r["nautilus_events_per_s"] is None
        assert "pip install" in r["nautilus_message"]


def test_no_nautilus_reports_null(messages) -> None:
    r = replay_bench.replay(messages[:300], batch=128, repeat=1, nautilus=False)
    assert r["nautilus_events_per_s"] is None
    assert r["engine_vs_nautilus"] is None
    assert r["target"]["status"] == "not measured"
