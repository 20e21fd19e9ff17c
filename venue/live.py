"""What ``venue run`` adds around the gateway to make a live market (issue #9) and to be
operated from outside: background agents (``--market lively`` or ``[agents]``), historical flow
(``--replay-l3``), chaos (``[chaos]``) and the admin socket (``venue admin``).

``serve`` calls these in order: ``replay_server`` (instead of the demo venue, with
``--replay-l3``), ``Live.fund`` (before recovery: agents' deposits are part of the initial
state, like the demo accounts'), ``Live.attach`` (after recovery), ``Live.close``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.admin import AdminService, write_token

if TYPE_CHECKING:
    from gateway.chaos import Chaos, ChaosConfig
    from gateway.server import GatewayConfig, GatewayServer
    from venue.agents.driver import AgentDriver, AgentsConfig
    from venue.replay_live import HistorySource

MARKETS = ("quiet", "lively")


@dataclass
class LiveOptions:
    """``venue run`` flags and configuration tables for the live market."""

    market: str = "quiet"  # lively: the default agents on every spot and perpetual
    agents: AgentsConfig | None = None  # [agents] (wins over --market)
    chaos: ChaosConfig | None = None  # [chaos]
    replay_l3: str | None = None  # a LOBSTER message file fed in at recorded speed
    replay_orderbook: str | None = None
    replay_speed: float = 1.0
    admin_bind: str | None = "auto"  # auto: order-entry port + 3 (else random); None: none
    admin_token: str | None = None  # None: a fresh one, written to the data directory


def replay_server(opts: LiveOptions, config: GatewayConfig) -> tuple[GatewayServer, Any]:
    """The venue for ``--replay-l3``: the embedded default plus the history's instrument, and
    the source that feeds its flow (attached by ``Live.attach``)."""
    from gateway.server import GatewayServer
    from venue.replay_live import HistorySource, load, replay_exchange

    assert opts.replay_l3 is not None
    history = load(opts.replay_l3, opts.replay_orderbook)
    ex, inst = replay_exchange(history)
    source = HistorySource(history, inst.id, speed=opts.replay_speed)
    print(f"openvenue: replaying {len(history.cmds):,} historical commands of {inst.symbol} "
          f"(instrument {inst.id}) from {opts.replay_l3} at {opts.replay_speed}x")  # fmt: skip
    return GatewayServer(ex, config), source


class Live:
    """The live-market parts of one venue process."""

    def __init__(self, srv: GatewayServer, opts: LiveOptions, source: HistorySource | None) -> None:
        self.srv = srv
        self.opts = opts
        self.source = source
        self.driver: AgentDriver | None = None
        self.chaos: Chaos | None = None
        self.admin: AdminService | None = None
        agents = opts.agents
        if agents is None and opts.market == "lively":
            from venue.agents.driver import lively_config

            agents = lively_config(srv.ex.instruments.values())
        if agents is not None and agents.instruments:
            from venue.agents.driver import AgentDriver

            self.driver = AgentDriver(srv.ex, agents)

    def fund(self) -> None:
        """The agents' deposits: part of the venue's initial state (before recovery)."""
        if self.driver is not None:
            self.driver.fund()

    def attach(self) -> list[str]:
        """Agents, historical flow and chaos on the recovered venue; the lines ``venue run``
        prints about them."""
        lines = []
        srv = self.srv
        if self.driver is not None:
            self.driver.sync_positions()
            self.driver.attach(srv)
            symbols = sorted({b.inst.symbol for b in self.driver.books.values()})
            lines.append(f"openvenue: {len(self.driver.accounts)} background agents trade "
                         f"{', '.join(symbols)} (accounts {self.driver.accounts[0]}+; "
                         "docs/live-market.md)")  # fmt: skip
        if self.source is not None:
            srv.sources.append(self.source.tick)
        if self.opts.chaos is not None:
            from gateway.chaos import Chaos

            self.chaos = Chaos(self.opts.chaos)
            self.chaos.attach(srv)
            if self.driver is not None:
                self.chaos.drivers.append(self.driver)
            lines.append("openvenue: CHAOS is on (docs/live-market.md)"
                         + (f"; its log: {self.opts.chaos.log_path}"
                            if self.opts.chaos.log_path else ""))  # fmt: skip
        return lines

    def feed(self, publisher: Any) -> None:
        """Let chaos drop or hold back the market-data publisher's packets."""
        if self.chaos is not None:
            publisher.chaos = self.chaos

    def open_admin(self, data_dir: Path, order_endpoint: str) -> list[str]:
        """The admin socket (after order entry and market data took their ports): at
        ``admin_bind``, or with "auto" at the order-entry port + 3 (a random port if that is
        taken). Raises OSError/ValueError if an explicit endpoint cannot bind."""
        want = self.opts.admin_bind
        if not want:
            return []
        token = write_token(data_dir, self.opts.admin_token)
        self.admin = AdminService(self.srv, token)
        try:
            endpoint = self._bind_admin(want, order_endpoint)
        except BaseException:
            self.admin.close()
            self.admin = None
            raise
        self.admin.attach()
        return [f"openvenue: admin on {endpoint} (token in {data_dir / 'admin.token'}; "
                "venue admin --help)"]  # fmt: skip

    def _bind_admin(self, want: str, order_endpoint: str) -> str:
        import zmq

        assert self.admin is not None
        if want != "auto":
            return self.admin.bind(want)
        port = order_endpoint.rsplit(":", 1)[-1]
        if port.isdigit():
            try:
                return self.admin.bind(f"tcp://127.0.0.1:{int(port) + 3}")
            except zmq.ZMQError:
                pass  # taken: a random port, printed
        return self.admin.bind("tcp://127.0.0.1:*")

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
        if self.chaos is not None:
            self.chaos.close()
