"""``venue journal inspect|verify DIR`` and ``venue replay journal DIR``."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from journal.reader import journal_files, read_segments
from journal.records import JournalError
from journal.service import HASH_LOG
from journal.snapshot import SnapshotError, read_snapshot, snapshot_files

if TYPE_CHECKING:
    from clearing.exchange import Exchange
    from journal.eventhash import EventHash

_LINE = re.compile(r"seq=(\d+) event_hash=([0-9a-f]+)(?: state_hash=([0-9a-f]+))? (\w+)")


def add_journal_arguments(parser: argparse.ArgumentParser) -> None:
    """``venue journal`` sub-commands."""
    sub = parser.add_subparsers(dest="journal_cmd", required=True, metavar="ACTION")
    for name, text in (
        ("inspect", "list journal files, their sequence ranges, snapshots and logged hashes"),
        ("verify", "check every record (CRC32C, sequence) and every snapshot; exit 1 if bad"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("dir", help="the venue's data directory")
        p.set_defaults(func=run_inspect if name == "inspect" else run_verify)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """``venue replay journal DIR``."""
    parser.add_argument("dir", help="the venue's data directory")
    parser.add_argument(
        "--config", metavar="TOML", help="the venue's configuration (default: embedded default)"
    )
    parser.set_defaults(func=run_replay)


def run_promote(args: argparse.Namespace) -> int:
    """``venue promote DIR``."""
    from journal.standby import request_promotion

    return request_promotion(args.dir)


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def run_inspect(args: argparse.Namespace) -> int:
    """Print what the data directory holds. O(journal bytes) (records are checked)."""
    d = Path(args.dir)
    if not d.is_dir():
        print(f"{d}: no such directory", file=sys.stderr)
        return 2
    files = journal_files(d)
    print(f"{d}: {len(files)} journal files")
    total = 0
    try:
        for seg in read_segments(d, warn=_warn):
            total += seg.count
            torn = f", torn tail {seg.torn_bytes} bytes" if seg.torn_bytes else ""
            rng = f"seq {seg.first_seq}..{seg.last_seq}" if seg.count else "empty"
            print(f"  {seg.path.name}  {rng}  {seg.count} records  "
                  f"{seg.path.stat().st_size} bytes{torn}")  # fmt: skip
    except JournalError as e:
        print(f"  {e}", file=sys.stderr)
        return 1
    print(f"  {total} commands journaled")
    snaps = snapshot_files(d)
    print(f"{len(snaps)} snapshots")
    for p in snaps:
        try:
            s = read_snapshot(p)
            kept = s.gateway.get("tracks", s.gateway.get("fills", []))
            print(f"  {p.name}  seq {s.seq}  {p.stat().st_size} bytes  "
                  f"{len(kept)} gateway tracks")  # fmt: skip
        except SnapshotError as e:
            print(f"  {p.name}: {e}")
    log = d / HASH_LOG
    if log.exists():
        lines = log.read_text().splitlines()
        print(f"{HASH_LOG}: {len(lines)} lines, the last ones:")
        for line in lines[-5:]:
            print(f"  {line}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Check every journal record and snapshot; 0 if all are sound (a torn tail is reported
    as a warning), 1 naming the first problem. O(bytes)."""
    d = Path(args.dir)
    if not d.is_dir():
        print(f"{d}: no such directory", file=sys.stderr)
        return 2
    n = 0
    last = 0
    try:
        for seg in read_segments(d, warn=_warn):
            n += seg.count
            last = seg.last_seq if seg.count else last
    except JournalError as e:
        print(f"FAILED: {e}")
        return 1
    bad = 0
    for p in snapshot_files(d):
        try:
            read_snapshot(p)
        except SnapshotError as e:
            print(f"FAILED: {e}")
            bad += 1
    if bad:
        return 1
    print(f"ok: {n} commands (up to seq {last}) in {len(journal_files(d))} files, "
          f"{len(snapshot_files(d))} snapshots")  # fmt: skip
    return 0


def _exchange(config: str | None) -> Exchange:
    if config is None:
        from gateway.demo import demo_exchange

        return demo_exchange()
    from venue.config import load_config

    return load_config(config).build_exchange()


def run_replay(args: argparse.Namespace) -> int:
    """Replay the journal from the configuration's initial state, reproduce the event hash
    and state hash of every line of ``hashes.log``; 1 on any difference. O(journal)."""
    from journal.recovery import replay_journal

    d = Path(args.dir)
    if not d.is_dir():
        print(f"{d}: no such directory", file=sys.stderr)
        return 2
    logged: dict[int, list[tuple[str, str, str]]] = {}
    log = d / HASH_LOG
    if log.exists():
        for line in log.read_text().splitlines():
            m = _LINE.fullmatch(line.strip())
            if m:
                logged.setdefault(int(m[1]), []).append((m[2], m[3] or "", m[4]))
    ex = _exchange(args.config)
    bad: list[str] = []
    checked = 0

    def check(seq: int, eh: EventHash) -> None:
        nonlocal checked
        got_e = eh.hexdigest()
        got_s = ""
        for want_e, want_s, what in logged.get(seq, []):
            checked += 1
            if want_e != got_e:
                bad.append(f"seq {seq} ({what}): event hash {got_e}, logged {want_e}")
            if want_s:
                got_s = got_s or ex.state_hash()
                if want_s != got_s:
                    bad.append(f"seq {seq} ({what}): state hash {got_s}, logged {want_s}")

    t0 = time.perf_counter()
    try:
        eh, n = replay_journal(ex, d, checkpoints=list(logged), stop_at=check, warn=_warn)
    except JournalError as e:
        print(f"FAILED: {e}")
        return 1
    dt = time.perf_counter() - t0
    print(f"replayed {n} commands to seq {ex.next_seq - 1} in {dt:.2f} s "
          f"({n / dt if dt else 0:,.0f} commands/s)")  # fmt: skip
    print(f"event hash {eh.hexdigest()}  state hash {ex.state_hash()}")
    for b in bad:
        print(f"MISMATCH: {b}")
    if bad:
        return 1
    print(f"{checked} logged hashes reproduced" if checked else f"no {HASH_LOG} lines to check")
    return 0
