"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zmq


@pytest.fixture
def ctx() -> Iterator[zmq.Context[Any]]:
    """A ZeroMQ context of the test's own, destroyed (linger 0) when the test ends."""
    c: zmq.Context[Any] = zmq.Context()
    try:
        yield c
    finally:
        c.destroy(linger=0)
