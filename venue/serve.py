"""``venue run``: the embedded default venue serving order entry until Ctrl-C.

Without CURVE encryption the venue binds to loopback only and says so: a newcomer needs no keys,
and nothing is exposed beyond this machine. (CURVE with a ZAP authenticator, required for any
other bind, is the next step of issue #5.)
"""

from __future__ import annotations

import signal
import sys
import threading
from urllib.parse import urlparse

LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


def serve(bind: str = "tcp://127.0.0.1:7001", duration: float = 0.0) -> int:
    """Start the default venue on ``bind``; serve for ``duration`` seconds (0: until Ctrl-C)."""
    host = urlparse(bind).hostname or ""
    if not bind.startswith("tcp://") or host not in LOOPBACK:
        print(
            f"refusing to bind {bind}: without CURVE encryption the venue binds to loopback only "
            "(tcp://127.0.0.1:PORT)",
            file=sys.stderr,
        )
        return 2
    from gateway.server import demo_venue

    srv, keys = demo_venue()
    endpoint = srv.bind(bind)
    print(f"openvenue: order entry on {endpoint} (loopback only: no CURVE encryption)")
    print("instruments: " + ", ".join(i.symbol for i in sorted(
        srv.ex.instruments.values(), key=lambda i: i.id)))  # fmt: skip
    print("demo accounts (funded: 10,000,000 USD, 100 BTC, 1,000 ETH each):")
    for key, account in keys.items():
        print(f"  account {account}: api key {key}")
    print("protocol: docs/protocol.md; client: gateway.client.Client; Ctrl-C stops", flush=True)
    done = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: done.set())
    srv.start()
    try:
        done.wait(duration if duration > 0 else None)
    finally:
        signal.signal(signal.SIGINT, previous)
        srv.stop()
        print("openvenue: stopped", flush=True)
    return 0
