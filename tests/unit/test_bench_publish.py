"""``bench.sysinfo.publish``: the one ending every benchmark (and the load test) shares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import sysinfo


def test_publish_writes_says_where_and_prints_json_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sysinfo, "RESULTS_DIR", tmp_path / "results")
    r = {"name": "x", "value": 3}
    sysinfo.publish(r, "x", write=True, as_json=True)
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "results" / "x.json"
    assert json.loads(path.read_text()) == r
    assert out[0] == f"  written: {path}"
    assert json.loads(out[-1]) == r
    sysinfo.publish({"n": Path("p")}, "y", write=False, as_json=True, default=str)
    assert not (tmp_path / "results" / "y.json").exists()
    assert json.loads(capsys.readouterr().out) == {"n": "p"}
