"""``venue run``: a venue serving order entry until Ctrl-C (or ``duration`` seconds).

Without ``--config`` it is the embedded default (``gateway.server.demo_venue()``: the default
instruments and three funded demo accounts). With ``--config venue.toml`` everything comes from
the file (``venue.config``, docs/config.md).

Without CURVE encryption the venue binds to loopback only and says so: a newcomer needs no keys,
and nothing is exposed beyond this machine. Any other bind needs CURVE keys and the list of
client public keys allowed in (a ZAP authenticator refuses every other client).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.curve import is_loopback

if TYPE_CHECKING:
    from gateway.server import GatewayServer

DEFAULT_BIND = "tcp://127.0.0.1:7001"
LOOPBACK_ONLY = (
    "without CURVE encryption the venue binds to loopback only (tcp://127.0.0.1:PORT); "
    "set gateway.curve_secret_key and gateway.curve_allowed_clients in a --config file to "
    "serve other machines"
)


def serve(
    bind: str | None = None,
    duration: float = 0.0,
    config: str | Path | None = None,
    on_start: Callable[[GatewayServer], None] | None = None,
) -> int:
    """Start the venue (``config``: a TOML file, else the embedded default) on ``bind`` (None:
    the file's ``gateway.bind``, else ``DEFAULT_BIND``); serve for ``duration`` seconds (0:
    until Ctrl-C). ``on_start(server)`` is called once it serves. Returns the exit status."""
    from gateway.server import demo_venue

    srv: GatewayServer
    if config is not None:
        from venue.config import ConfigError, load_config

        try:
            cfg = load_config(config)
        except ConfigError as e:
            print(f"venue run: {e}", file=sys.stderr)
            return 2
        bind = bind or cfg.bind
        curve = cfg.gateway.curve_secret_key is not None
        if not curve and not is_loopback(bind):
            print(f"refusing to bind {bind}: {LOOPBACK_ONLY}", file=sys.stderr)
            return 2
        srv = cfg.build_server()
        accounts = [
            f"  account {a.id}: api key {', '.join(a.api_keys) or '(none)'}"
            + (" deposits " + ", ".join(f"{v} {k}" for k, v in a.deposits.items()))
            for a in cfg.accounts
        ]
        header = f"configuration {config} (data in {cfg.data_dir}); accounts:"
    else:
        bind = bind or DEFAULT_BIND
        curve = False
        if not is_loopback(bind):
            print(f"refusing to bind {bind}: {LOOPBACK_ONLY}", file=sys.stderr)
            return 2
        srv, keys = demo_venue()
        header = "demo accounts (funded: 10,000,000 USD, 100 BTC, 1,000 ETH each):"
        accounts = [f"  account {account}: api key {key}" for key, account in keys.items()]
    try:
        endpoint = srv.bind(bind)
    except (ValueError, OSError) as e:  # zmq.ZMQError is an OSError: address in use...
        srv.stop()
        print(f"venue run: cannot bind {bind}: {e}", file=sys.stderr)
        return 2
    if curve:
        assert srv.curve_public_key is not None
        print(
            f"openvenue: order entry on {endpoint} (CURVE; server public key "
            f"{srv.curve_public_key.decode()}; {len(srv.config.curve_allowed_clients)} client "
            "keys allowed)"
        )
    else:
        print(f"openvenue: order entry on {endpoint} (loopback only: no CURVE encryption)")
    print("instruments: " + ", ".join(i.symbol for i in sorted(
        srv.ex.instruments.values(), key=lambda i: i.id)))  # fmt: skip
    print(header)
    for line in accounts:
        print(line)
    print("protocol: docs/protocol.md; client: gateway.client.Client; Ctrl-C stops", flush=True)
    done = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: done.set()) if in_main else None
    srv.start()
    try:
        if on_start is not None:
            on_start(srv)
        done.wait(duration if duration > 0 else None)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        srv.stop()
        print("openvenue: stopped", flush=True)
    return 0
