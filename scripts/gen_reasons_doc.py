"""Write docs/reasons.md from matching/reasons.py.

Run with the project's interpreter: `.venv/bin/python scripts/gen_reasons_doc.py`.
`--check` writes nothing and exits 1 when the file is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # works from a plain checkout too, not only an installed one

from matching.reasons_doc import render  # noqa: E402

DOC = ROOT / "docs" / "reasons.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/reasons.md from matching/reasons.py.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/reasons.md is stale")
    args = parser.parse_args(argv)
    text = render()
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else None
    if args.check:
        if current != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run scripts/gen_reasons_doc.py")
            return 1
        print(f"{DOC.relative_to(ROOT)} is up to date")
        return 0
    if current == text:
        print(f"{DOC.relative_to(ROOT)} already up to date")
    else:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
