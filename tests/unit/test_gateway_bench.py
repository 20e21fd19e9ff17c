"""``venue bench gateway`` runs end to end on a tiny workload and reports every shape."""

from __future__ import annotations

import json
from typing import Any

from bench import gateway_bench
from venue.cli import main


def test_mix_is_the_load_tests() -> None:
    msgs = gateway_bench.mix(2000, seed=1, base=10)
    kinds = [type(m).__name__ for m in msgs]
    assert 0.2 < kinds.count("Cancel") / len(msgs) < 0.4
    assert kinds.count("NewOrder") > kinds.count("Cancel")
    assert [m.req for m in msgs] == list(range(10, 2010))
    assert gateway_bench.mix(50, 3, 0) == gateway_bench.mix(50, 3, 0)


def test_bench_gateway_json(capsys: Any) -> None:
    assert main(["bench", "gateway", "--messages", "300", "--json", "--no-write"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    shapes = {(s["per_wakeup"], s["packed"]) for s in out["shapes"]}
    assert shapes == set(gateway_bench.SHAPES)
    for s in out["shapes"]:
        u = s["us_per_msg"]
        assert s["msgs_per_s"] > 0 and 0 < u["p50"] <= u["p99"] <= u["p999"]
