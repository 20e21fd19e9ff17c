"""matching/reasons.py: one table of stable codes, numbered by stage, and its generated doc."""

from __future__ import annotations

from pathlib import Path

import pytest

from matching import reasons
from matching.reasons_doc import render

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reasons.md"

STAGE_BY_THOUSAND = {1: "gateway", 2: "risk", 3: "matching"}


def module_constants() -> dict[str, int]:
    """Every module-level int constant of reasons.py (uppercase name, an int, not a bool)."""
    return {
        name: value
        for name, value in vars(reasons).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }


CODES = sorted(reasons.REASONS)


def test_table_is_not_trivial() -> None:
    assert len(reasons.REASONS) >= 40
    assert reasons.OK == 0
    assert reasons.REASONS[0].name == "OK"


@pytest.mark.parametrize("code", CODES)
def test_each_code(code: int) -> None:
    r = reasons.REASONS[code]
    assert isinstance(r, reasons.Reason)
    assert r.code == code
    # the name is the constant's own name, upper snake case
    assert r.name.isupper() and r.name.isidentifier()
    assert getattr(reasons, r.name) == code
    # a meaning that says something, on one line
    assert r.meaning.strip() == r.meaning
    assert len(r.meaning) >= 8
    assert "\n" not in r.meaning and "|" not in r.meaning
    # fits the records' uint16 reason field
    assert 0 <= code <= 0xFFFF
    # numbered by stage
    if code == reasons.OK:
        assert reasons.stage(code) == "ok"
    else:
        assert 1000 < code < 4000
        assert code % 1000 != 0
        assert reasons.stage(code) == STAGE_BY_THOUSAND[code // 1000]


def test_names_are_unique() -> None:
    names = [r.name for r in reasons.REASONS.values()]
    assert len(names) == len(set(names))


def test_table_rows_are_unique_and_in_code_order() -> None:
    codes = [code for code, _, _ in reasons._TABLE]
    assert len(codes) == len(set(codes)), "a code appears twice in _TABLE"
    assert codes == sorted(codes)
    assert len(codes) == len(reasons.REASONS)


def test_every_constant_is_in_the_table() -> None:
    consts = module_constants()
    missing = {name: v for name, v in consts.items() if v not in reasons.REASONS}
    assert not missing, f"constants missing from REASONS: {missing}"
    assert set(consts.values()) == set(reasons.REASONS)
    # and no two constants share a number
    by_value: dict[int, list[str]] = {}
    for name, value in consts.items():
        by_value.setdefault(value, []).append(name)
    assert not {v: n for v, n in by_value.items() if len(n) > 1}
    # the table's names are exactly the constants' names
    assert {r.name for r in reasons.REASONS.values()} == set(consts)


def test_matching_sub_ranges() -> None:
    for code, r in reasons.REASONS.items():
        if 3100 <= code < 3200:
            assert r.name.startswith("CANCEL_"), r
        elif 3200 <= code < 3300:
            assert r.name.startswith("STATUS_"), r
        elif 3000 <= code < 3100:
            assert not r.name.startswith(("CANCEL_", "STATUS_")), r
        elif code >= 3300:
            pytest.fail(f"{r} is outside the documented matching sub-ranges")


def test_mass_cancel_reasons_are_cancel_reasons() -> None:
    assert reasons.MASS_CANCEL_REASONS
    for code in reasons.MASS_CANCEL_REASONS:
        assert code in reasons.REASONS
        assert 3100 <= code < 3200


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, "ok"),
        (1001, "gateway"),
        (1999, "gateway"),
        (2001, "risk"),
        (3013, "matching"),
        (3999, "matching"),
        (999, "unknown"),
        (4001, "unknown"),
        (-1, "unknown"),
    ],
)
def test_stage(code: int, expected: str) -> None:
    assert reasons.stage(code) == expected


def test_name_and_explain_known() -> None:
    assert reasons.name(reasons.UNKNOWN_ORDER) == "UNKNOWN_ORDER"
    assert reasons.name(0) == "OK"
    assert (
        reasons.explain(reasons.UNKNOWN_ORDER)
        == "3013 UNKNOWN_ORDER: no live order of this account has this id"
    )
    for code, r in reasons.REASONS.items():
        assert reasons.name(code) == r.name
        assert reasons.explain(code) == f"{code} {r.name}: {r.meaning}"


@pytest.mark.parametrize("code", [4242, 1, 3999, 65535])
def test_name_and_explain_unknown(code: int) -> None:
    assert code not in reasons.REASONS
    assert reasons.name(code) == f"REASON_{code}"
    assert reasons.explain(code) == f"{code} unknown reason code"


# --- docs/reasons.md -------------------------------------------------------------------------


def test_rendered_doc_lists_every_code_in_order() -> None:
    text = render()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| code | name | stage | meaning |"
    body = rows[1:]
    assert [int(row.split("|")[1]) for row in body] == CODES
    for row, code in zip(body, CODES, strict=True):
        r = reasons.REASONS[code]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells == [str(code), f"`{r.name}`", reasons.stage(code), r.meaning]
    assert "never renumbered" in text


def test_doc_is_up_to_date() -> None:
    assert DOC.exists(), "docs/reasons.md is missing: run scripts/gen_reasons_doc.py"
    if DOC.read_text(encoding="utf-8") != render():
        pytest.fail("docs/reasons.md is stale: run scripts/gen_reasons_doc.py")
