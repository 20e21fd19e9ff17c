"""Render ``docs/reasons.md`` from ``matching.reasons``: the one place the reason codes are listed.

``scripts/gen_reasons_doc.py`` writes the file; ``tests/unit/test_reasons.py`` renders it again in
memory and fails when the file on disk is stale.
"""

from __future__ import annotations

from matching import reasons

INTRO = """\
# Reason codes

<!-- Generated from matching/reasons.py by scripts/gen_reasons_doc.py: do not edit by hand. -->

Every `REJECTED`, `CANCELLED`, `MASS_CANCELLED` and `STATUS` event carries a reason code in its
`reason` field (see [rulebook.md](rulebook.md)), and so does every error raised when input is
refused at the edge. Codes are stable integers, numbered by the pipeline stage that produces them:

- **1xxx gateway**: input refused at the edge, before it reaches the engine (off-grid or
  malformed decimals).
- **2xxx risk**: checks against an account's position or money.
- **3xxx matching**: rejects by the engine (3001-3099), why an accepted order was cancelled
  (3100-3199), and instrument status (3200-3299).

A code, once published, keeps its number and its meaning forever: codes are never renumbered
or reused, and new codes take new numbers. `matching.reasons.explain(code)` gives the same
text as the table, e.g. `3013 UNKNOWN_ORDER: no live order of this account has this id`.
"""


def _cell(text: str) -> str:
    """Escape a table cell: a ``|`` would end the cell, a newline the row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The full text of ``docs/reasons.md``: intro, then one table row per code, in code order."""
    lines = [INTRO, "| code | name | stage | meaning |", "|---:|---|---|---|"]
    for code in sorted(reasons.REASONS):
        r = reasons.REASONS[code]
        lines.append(f"| {r.code} | `{r.name}` | {reasons.stage(r.code)} | {_cell(r.meaning)} |")
    return "\n".join(lines) + "\n"
