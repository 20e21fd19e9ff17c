"""``venue run``: a venue serving order entry until Ctrl-C (or ``duration`` seconds).

Without ``--config`` it is the embedded default (``gateway.server.demo_venue()``: the default
instruments and three funded demo accounts). With ``--config venue.toml`` everything comes from
the file (``venue.config``, docs/config.md).

Without CURVE encryption the venue binds to loopback only and says so: a newcomer needs no keys,
and nothing is exposed beyond this machine. Any other bind needs CURVE keys and the list of
client public keys allowed in (a ZAP authenticator refuses every other client).
"""

from __future__ import annotations

import dataclasses
import gc
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.curve import is_loopback
from venue.live import Live, LiveOptions, replay_server

if TYPE_CHECKING:
    from gateway.server import GatewayServer
    from journal.config import JournalConfig
    from journal.service import Durability

DEFAULT_BIND = "tcp://127.0.0.1:7001"
# the embedded default's journal and snapshots (git-ignored); --data-dir or data_dir elsewhere
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "venue-data"
LIVELY_DATA_DIR = DEFAULT_DATA_DIR.parent / "lively-data"  # --market lively's own journal
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
    data_dir: str | Path | None = None,
    replicate: str | None = None,
    standby_of: str | None = None,
    live: LiveOptions | None = None,
    fsync: str | None = None,
    spin_us: int | None = None,
) -> int:
    """Start the venue (``config``: a TOML file, else the embedded default) on ``bind`` (None:
    the file's ``gateway.bind``, else ``DEFAULT_BIND``); serve for ``duration`` seconds (0:
    until Ctrl-C). ``on_start(server)`` is called once it serves. State is recovered from and
    journaled to ``data_dir`` (None: the file's ``data_dir``, else ``DEFAULT_DATA_DIR``;
    docs/durability.md). ``replicate``: acknowledge only what the standby connected there has;
    ``standby_of``: follow that primary, serve once promoted. ``live``: background agents,
    historical flow, chaos and the admin socket (venue/live.py). ``spin_us``: the gateway's
    busy-poll after traffic, over the file's (``GatewayConfig.spin_us``). ``fsync``: the
    journal's fsync policy over the configuration's. Returns the exit status."""
    from gateway.server import demo_venue
    from journal.config import JournalConfig

    jcfg = JournalConfig()
    live = live or LiveOptions()
    source = None

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
        live = cfg.live_options(live)
        jcfg = cfg.journal
        data_dir = data_dir or cfg.data_dir
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
        from gateway.demo import DEMO_KEYS
        from gateway.server import GatewayConfig
        from venue.config import DEFAULT_SPIN_US

        gcfg = GatewayConfig(api_keys=dict(DEMO_KEYS), spin_us=DEFAULT_SPIN_US)
        if live.replay_l3:
            try:
                srv, source = replay_server(live, gcfg)
            except (OSError, ValueError) as e:
                print(f"venue run: --replay-l3 {live.replay_l3}: {e}", file=sys.stderr)
                return 2
            keys = dict(DEMO_KEYS)
            # a replay starts from its file every time: never on top of an older journal
            data_dir = data_dir or tempfile.mkdtemp(prefix="openvenue-replay-")
        else:
            srv, keys = demo_venue(gcfg)
        # agents' accounts are part of the initial state: their own journal by default
        lively = live.market == "lively" or live.agents is not None
        data_dir = data_dir or (LIVELY_DATA_DIR if lively else DEFAULT_DATA_DIR)
        header = "demo accounts (funded: 10,000,000 USD, 100 BTC, 1,000 ETH each):"
        accounts = [f"  account {account}: api key {key}" for key, account in keys.items()]
    market = Live(srv, live, source)
    market.fund()
    if fsync is not None:  # the command line's policy over the file's
        jcfg = dataclasses.replace(jcfg, fsync=fsync)
    dur = _recover(srv, Path(data_dir), jcfg, replicate, standby_of)
    if isinstance(dur, int):
        return dur
    live_lines = market.attach()
    try:
        endpoint = srv.bind(bind)
    except (ValueError, OSError) as e:  # zmq.ZMQError is an OSError: address in use...
        srv.stop()
        dur.close()
        print(f"venue run: cannot bind {bind}: {e}", file=sys.stderr)
        return 2
    from marketdata.snapshot import attach_default_feed  # market data (issue #6)

    md_pub, md_snap = attach_default_feed(srv, endpoint)
    market.feed(md_pub)
    try:
        live_lines += market.open_admin(Path(data_dir), endpoint)
    except (ValueError, OSError) as e:
        srv.stop()
        md_pub.close()
        md_snap.close()
        dur.close()
        print(f"venue run: cannot open the admin socket {live.admin_bind}: {e} (--admin-bind "
              "another port, or --no-admin)", file=sys.stderr)  # fmt: skip
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
    print(f"openvenue: market data on {md_pub.endpoint} (XPUB), snapshots on {md_snap.endpoint} "
          "(ROUTER; loopback; docs/marketdata.md)")  # fmt: skip
    print("instruments: " + ", ".join(i.symbol for i in sorted(
        srv.ex.instruments.values(), key=lambda i: i.id)))  # fmt: skip
    print(header)
    for line in accounts:
        print(line)
    for line in live_lines:
        print(line)
    print("protocol: docs/protocol.md; client: gateway.client.Client; Ctrl-C stops", flush=True)
    done = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: done.set()) if in_main else None
    if spin_us is not None:
        srv.config = dataclasses.replace(srv.config, spin_us=spin_us)
    if in_main:
        # The start-up heap (numba's compiler, the modules, the recovered state: ~115,000
        # objects) lives as long as the process. Frozen out of the collector's generations,
        # a full collection under load walks only what the venue allocates while it runs:
        # ~30 ms less each time (a p99.9 outlier), as in Instagram's gc.freeze recipe.
        gc.collect()
        gc.freeze()
    srv.start()
    try:
        if on_start is not None:
            on_start(srv)
        done.wait(duration if duration > 0 else None)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        srv.stop()
        market.close()
        md_pub.close()
        md_snap.close()
        print(f"openvenue: stopped; {dur.close()}", flush=True)
    return 0


def _recover(
    srv: GatewayServer,
    data_dir: Path,
    jcfg: JournalConfig,
    replicate: str | None = None,
    standby_of: str | None = None,
) -> Durability | int:
    """Recover the venue from ``data_dir`` and journal from here on (as a primary waiting for
    its standby, or as a standby until it takes over: ``journal.standby``); an exit status
    (after saying why) if it cannot or should not serve."""
    from journal.records import JournalError
    from journal.service import Durability

    dur = Durability(srv, data_dir, jcfg)
    try:
        if standby_of:
            from journal.standby import follow

            return follow(srv, dur, standby_of)
        res = dur.open()
        print(f"openvenue: data in {data_dir} (journal fsync {jcfg.fsync}); {res.line()}")
        if replicate:
            from journal.standby import replicate_to

            replicate_to(srv, dur, replicate)
    except (JournalError, OSError) as e:
        srv.stop()
        dur.close()
        print(f"venue run: cannot recover from {data_dir}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        srv.stop()
        dur.close()
        return 130
    return dur
