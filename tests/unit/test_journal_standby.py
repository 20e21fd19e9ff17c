"""Replication between a primary (``Replicator``) and a standby (``Standby``), in one process
over loopback: catch-up from the journal, one acknowledged batch at a time, promotion, epoch
fencing, refusals, and the primary's fail-stop when its standby stops acknowledging."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from bench.journal_bench import order_stream, stamp
from gateway.server import GatewayServer, demo_venue
from journal.records import JournalError
from journal.recovery import replay_journal
from journal.service import Durability
from journal.standby import PROMOTE_FILE, Replicator, Standby, read_epoch, write_epoch
from journal.writer import JournalWriter

_SERVERS: list[GatewayServer] = []


def _venue() -> GatewayServer:
    srv, _ = demo_venue()
    _SERVERS.append(srv)  # each holds a ROUTER socket: stopped by the fixture
    return srv


@pytest.fixture
def ctx() -> Iterator[zmq.Context[Any]]:
    c: zmq.Context[Any] = zmq.Context()
    yield c
    while _SERVERS:
        _SERVERS.pop().stop()
    c.destroy(linger=0)


def _primary(
    d: Path, ctx: zmq.Context[Any], **kw: Any
) -> tuple[GatewayServer, Durability, Replicator]:
    srv = _venue()
    dur = Durability(srv, d, warn=lambda m: None)
    dur.open()
    rep = Replicator(dur.writer, "tcp://127.0.0.1:*", d, dur.genesis, ctx=ctx, **kw)  # type: ignore[arg-type]
    return srv, dur, rep


def _standby(d: Path, endpoint: str, ctx: zmq.Context[Any]) -> tuple[GatewayServer, Standby]:
    srv = _venue()
    sb = Standby(srv, d, endpoint, lambda g: JournalWriter(d, srv.ex.next_seq, g), ctx=ctx,
                 takeover_ms=300, log=lambda m: None)  # fmt: skip
    return srv, sb


def _send(srv: GatewayServer, journal: Any, n: int, seed: int, first_cl: int = 1) -> None:
    cmds = order_stream(n, seed, first_cl)
    for at in range(0, n, 50):
        b = cmds[at : at + 50].copy()
        stamp(b, srv.ex.next_seq, 10**18 + at)
        journal.append(b)
        srv.replay_batch(b)
        journal.commit()


class Follow:
    """A standby's ``run`` in a thread."""

    def __init__(self, sb: Standby) -> None:
        self.stop = threading.Event()
        self.why = ""
        self.error: BaseException | None = None
        self.t = threading.Thread(target=self._run, args=(sb,), daemon=True)
        self.t.start()

    def _run(self, sb: Standby) -> None:
        try:
            self.why = sb.run(self.stop.is_set)
        except BaseException as e:  # reported by the test
            self.error = e

    def join(self) -> str:
        self.t.join(10)
        assert not self.t.is_alive()
        if self.error is not None:
            raise self.error
        return self.why


def test_standby_catches_up_follows_and_takes_over(tmp_path: Path, ctx: zmq.Context[Any]) -> None:
    psrv, pdur, rep = _primary(tmp_path / "p", ctx)
    _send(psrv, pdur.writer, 1000, seed=1)  # before the standby: it catches up from disk
    ssrv, sb = _standby(tmp_path / "s", rep.endpoint, ctx)
    f = Follow(sb)
    assert rep.wait_for_standby(10) == 1000
    _send(psrv, rep, 2000, seed=2, first_cl=10_000)  # each commit waits for the standby
    assert sb.applied == 3000  # nothing acknowledged that the standby lacks
    assert ssrv.ex.state_hash() == psrv.ex.state_hash()
    assert ssrv.export_state() == psrv.export_state()
    rep.close()  # the primary goes silent
    assert f.join() == "primary lost"
    assert sb.promote() == 2 and read_epoch(tmp_path / "s") == 2
    sb.writer.close()
    ex = _venue().ex
    replay_journal(ex, tmp_path / "s")  # the standby's own journal is complete
    assert ex.state_hash() == psrv.ex.state_hash()
    pdur.close()


def test_promote_file_and_stop(tmp_path: Path, ctx: zmq.Context[Any]) -> None:
    _psrv, pdur, rep = _primary(tmp_path / "p", ctx)
    _ssrv, sb = _standby(tmp_path / "s", rep.endpoint, ctx)
    f = Follow(sb)
    rep.wait_for_standby(10)
    (tmp_path / "s" / PROMOTE_FILE).touch()
    assert f.join() == "promoted"
    assert not (tmp_path / "s" / PROMOTE_FILE).exists()
    _s2, sb2 = _standby(tmp_path / "s2", rep.endpoint, ctx)
    f2 = Follow(sb2)
    f2.stop.set()
    assert f2.join() == "stopped"
    for w in (sb.writer, sb2.writer):
        w.close()
    rep.close()
    pdur.close()


def test_a_primary_behind_the_standbys_epoch_is_fenced(
    tmp_path: Path, ctx: zmq.Context[Any]
) -> None:
    (tmp_path / "s").mkdir()
    write_epoch(tmp_path / "s", 5)  # this standby already followed a newer primary
    _psrv, pdur, rep = _primary(tmp_path / "p", ctx)
    _ssrv, sb = _standby(tmp_path / "s", rep.endpoint, ctx)
    f = Follow(sb)
    with pytest.raises(JournalError, match="fenced"):
        rep.wait_for_standby(10)
    with pytest.raises(JournalError, match="refused this standby: fenced"):
        f.join()
    sb.writer.close()
    rep.close()
    pdur.close()


def test_a_standby_of_another_configuration_is_refused(
    tmp_path: Path, ctx: zmq.Context[Any]
) -> None:
    _psrv, pdur, rep = _primary(tmp_path / "p", ctx)
    other = _venue()
    other.ex.deposit(1, "USD", 1, 777)
    sb = Standby(other, tmp_path / "s", rep.endpoint,
                 lambda g: JournalWriter(tmp_path / "s", other.ex.next_seq, g), ctx=ctx,
                 log=lambda m: None)  # fmt: skip
    f = Follow(sb)
    with pytest.raises(JournalError, match="another configuration"):
        rep.wait_for_standby(10)
    with pytest.raises(JournalError, match="another configuration"):
        f.join()
    sb.writer.close()
    rep.close()
    pdur.close()


def test_primary_stops_acknowledging_when_the_standby_is_gone(
    tmp_path: Path, ctx: zmq.Context[Any]
) -> None:
    psrv, pdur, rep = _primary(tmp_path / "p", ctx, ack_timeout_ms=200)
    _ssrv, sb = _standby(tmp_path / "s", rep.endpoint, ctx)
    f = Follow(sb)
    rep.wait_for_standby(10)
    f.stop.set()
    f.join()  # the standby is gone
    with pytest.raises(JournalError, match="did not acknowledge"):
        _send(psrv, rep, 50, seed=3)
    with pytest.raises(JournalError, match="no standby attached"):
        _send(psrv, rep, 50, seed=4, first_cl=100)
    lonely = Replicator(pdur.writer, "tcp://127.0.0.1:*", tmp_path / "p", pdur.genesis, ctx=ctx)  # type: ignore[arg-type]
    try:
        with pytest.raises(JournalError, match="no standby said hello"):
            lonely.wait_for_standby(0.2)
    finally:
        lonely.close()
    sb.writer.close()
    rep.close()
    pdur.close()


def test_venue_promote_asks_the_standby(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from venue.cli import main

    assert main(["promote", str(tmp_path)]) == 0
    assert (tmp_path / PROMOTE_FILE).exists()
    assert main(["promote", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().out
