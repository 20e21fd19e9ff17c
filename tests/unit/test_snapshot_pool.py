"""Snapshot captures reuse the arrays of the last written snapshot (no page faults on the
gateway thread) and copy them exactly, structured dtypes and 2-D arrays included."""

from __future__ import annotations

import numpy as np

from gateway.demo import demo_venue
from journal.eventhash import EventHash
from journal.recovery import genesis_fingerprint
from journal.snapshot import BufferPool, capture, layout_of
from matching.api import packed_bytes


def test_pooled_capture_is_exact_and_reuses_buffers() -> None:
    srv, _ = demo_venue()
    try:
        srv.ex.limit(0, account=1, side="buy", qty=5, price=8_999_000)
        gen, lay, eh, pool = genesis_fingerprint(srv.ex), layout_of(srv), EventHash(), BufferPool()
        first = capture(srv, gen, lay, eh.state(), pool)
        pool.release(first)
        srv.ex.limit(0, account=2, side="sell", qty=3, price=9_001_000)  # the state moves on
        second = capture(srv, gen, lay, eh.state(), pool)
        plain = capture(srv, gen, lay, eh.state())
        for mine, ref, live in zip(second.engine, plain.engine, srv.ex.engine.state, strict=True):
            assert mine.dtype == ref.dtype and mine.shape == ref.shape
            assert mine.tobytes() == live.tobytes()  # raw bytes, padding and all
            if mine.dtype.names:  # a field-wise copy leaves padding undefined: compare values
                assert packed_bytes(mine.reshape(-1)) == packed_bytes(ref.reshape(-1))
            else:
                assert np.array_equal(mine, ref)
        for mine, ref in zip(second.clear, plain.clear, strict=True):
            assert np.array_equal(mine, ref)
        reused = {id(a) for a in first.engine + first.clear}
        assert reused & {id(a) for a in second.engine + second.clear}  # same memory again
        assert any(a.ndim == 2 for a in second.engine)  # 2-D arrays went through the pool
    finally:
        srv.stop()
