"""``engine_cls``: every acceptance scenario runs once per engine.

The engines are imported lazily by dotted name, so while one of them does not exist yet its
parameter fails with that engine's ImportError, and the other still runs.
"""

from __future__ import annotations

import pytest

from .tables import ENGINES, load_engine


@pytest.fixture(params=sorted(ENGINES, key=lambda k: k != "reference"))
def engine_cls(request: pytest.FixtureRequest) -> type:
    return load_engine(ENGINES[request.param])
