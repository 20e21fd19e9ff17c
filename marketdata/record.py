"""Recording the feed to disk, and reading a recording back (backtests, ``venue replay feed``).

A recording is a directory:

- ``meta.json``: format version, instruments (id, symbol, tick and lot size), endpoints, start
  time;
- ``feed.log``: every frame set the recorder received, in arrival order, VERBATIM: feed packets
  ``[topic, header, body]`` and the snapshot replies ``[header, body]`` it asked for (at start
  and after any gap of its own). Entry: ``<q recv_ns> <B kind> <B nframes>``, then per frame
  ``<I length>`` and the bytes;
- ``index.bin``: one fixed ``INDEX_DTYPE`` record per entry (offset, receive time, kind,
  channel, instrument, first and last sequence), appended as it goes, so a crash loses at most
  the entry being written and a reader can seek by time or instrument without parsing the log.

Why a binary log and not Parquet: the packets already are compact little-endian records; kept
as they came they cost no transcoding at a million updates a second, replay byte for byte
(the replayed feed is the recorded feed), and need no new dependency. Columnar analysis is
one ``np.frombuffer`` per packet away (``Recording.records``).
"""

from __future__ import annotations

import json
import struct
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import zmq

from marketdata import wire as W
from marketdata.client import FeedClient, FeedCore, Update

FORMAT_VERSION = 1
KIND_PACKET = 0
KIND_SNAPSHOT = 1
_ENTRY = struct.Struct("<qBB")
_LEN = struct.Struct("<I")

INDEX_DTYPE = np.dtype(
    [
        ("offset", "<i8"),
        ("recv_ns", "<i8"),
        ("first_seq", "<i8"),
        ("last_seq", "<i8"),
        ("instrument", "<i4"),
        ("channel", "i1"),
        ("kind", "u1"),
    ],
    align=True,
)


class LogWriter:
    """Appends entries to ``feed.log`` and ``index.bin`` of a directory."""

    def __init__(self, out_dir: str | Path, infos: list[W.InstrumentInfo], **meta: Any) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        if (self.dir / "feed.log").exists():
            raise FileExistsError(f"{self.dir} already holds a recording")
        m = {
            "format": "openvenue-feed-log",
            "version": FORMAT_VERSION,
            "wire_version": W.WIRE_VERSION,
            "instruments": [[i.id, i.symbol, i.tick_size, i.lot_size] for i in infos],
            "started_ns": time.time_ns(),
            **meta,
        }
        (self.dir / "meta.json").write_text(json.dumps(m, indent=1) + "\n")
        self.log: BinaryIO = open(self.dir / "feed.log", "wb")  # noqa: SIM115 (closed in close)
        self.idx: BinaryIO = open(self.dir / "index.bin", "wb")  # noqa: SIM115
        self.offset = 0
        self.entries = 0
        self.bytes = 0

    def write(self, kind: int, frames: list[bytes]) -> None:
        """Append one frame set (O(bytes)); kind KIND_PACKET or KIND_SNAPSHOT."""
        now = time.time_ns()
        parts = [_ENTRY.pack(now, kind, len(frames))]
        for f in frames:
            parts += [_LEN.pack(len(f)), bytes(f)]
        blob = b"".join(parts)
        rec = np.zeros(1, dtype=INDEX_DTYPE)
        rec["offset"], rec["recv_ns"], rec["kind"] = self.offset, now, kind
        try:
            if kind == KIND_PACKET:
                h = W.HEADER_DECODER.decode(frames[1])
                ch, inst, first, last = h.channel, h.instrument, h.first_seq, h.last_seq
            else:
                s = W.SNAP_HDR_DECODER.decode(frames[0])
                ch, inst, first, last = s.channel, s.instrument, s.seq, s.seq
            rec["channel"], rec["instrument"] = ch, inst
            rec["first_seq"], rec["last_seq"] = first, last
        except Exception:  # recorded anyway; the index just says -1
            rec["channel"], rec["instrument"] = -1, -1
        self.log.write(blob)
        self.idx.write(rec.tobytes())
        self.offset += len(blob)
        self.entries += 1

    def flush(self) -> None:
        self.log.flush()
        self.idx.flush()

    def close(self) -> None:
        self.log.close()
        self.idx.close()


class Recording:
    """A recording directory, read back. ``entries()`` yields the frames as recorded;
    ``updates()`` replays them through a FeedCore (the same sequencing and snapshot recovery
    as a live client) and yields the updates a subscriber would have seen."""

    def __init__(self, path: str | Path) -> None:
        self.dir = Path(path)
        meta_path = self.dir / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.dir} is not a recording (no meta.json)")
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"recording format {self.meta.get('version')} is not supported")
        self.infos = [W.InstrumentInfo(*row) for row in self.meta["instruments"]]

    def index(self) -> np.ndarray:
        """Every entry's INDEX_DTYPE record (O(entries), one read)."""
        return np.fromfile(self.dir / "index.bin", dtype=INDEX_DTYPE)

    def entries(self, start_offset: int = 0) -> Iterator[tuple[int, int, list[bytes]]]:
        """(recv_ns, kind, frames) in recorded order. A torn last entry (crash) ends it."""
        data = (self.dir / "feed.log").read_bytes()
        p = start_offset
        end = len(data)
        while p + _ENTRY.size <= end:
            recv_ns, kind, n = _ENTRY.unpack_from(data, p)
            q = p + _ENTRY.size
            frames = []
            for _ in range(n):
                if q + 4 > end:
                    return
                (ln,) = _LEN.unpack_from(data, q)
                q += 4
                if q + ln > end:
                    return
                frames.append(data[q : q + ln])
                q += ln
            yield recv_ns, kind, frames
            p = q

    def core(self, channels: Iterable[str] = W.CHANNEL_NAMES) -> FeedCore:
        """A FeedCore over this recording's instruments."""
        return FeedCore(self.infos, channels)

    def updates(
        self, channels: Iterable[str] = W.CHANNEL_NAMES, core: FeedCore | None = None
    ) -> Iterator[Update]:
        """What a subscriber would have seen, applied to ``core.builder`` as it goes (pass a
        core to read its books afterwards). In-process: for backtests. O(recording)."""
        core = core or self.core(channels)
        core.start()
        for _ns, kind, frames in self.entries():
            if kind == KIND_PACKET:
                yield from core.on_packet(frames)
            elif kind == KIND_SNAPSHOT:
                yield from core.on_snapshot(frames)
        core.requests.clear()

    def records(self, channel: str, instrument: int) -> np.ndarray:
        """Every recorded incremental record of one (channel, instrument), concatenated, as
        received (duplicates and holes included). O(recording)."""
        ch = W.CHANNEL_IDS[channel]
        parts = []
        for _ns, kind, frames in self.entries():
            if kind != KIND_PACKET:
                continue
            h = W.HEADER_DECODER.decode(frames[1])
            if h.channel == ch and h.instrument == instrument and h.count:
                parts.append(W.decode_body(ch, frames[2]))
        dt = W.CHANNEL_DTYPES[ch]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dt)


class Recorder:
    """Subscribes to a feed (all symbols and channels unless told) and writes what arrives.
    ``run(duration)``; ``progress`` prints one refreshed line to stderr every second."""

    def __init__(
        self,
        feed_endpoint: str,
        snapshot_endpoint: str,
        out_dir: str | Path,
        symbols: Iterable[str] | None = None,
        channels: Iterable[str] = W.CHANNEL_NAMES,
        ctx: zmq.Context[Any] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.client = FeedClient(
            feed_endpoint, snapshot_endpoint, symbols, channels, ctx=ctx, timeout=timeout
        )
        infos = list(self.client.core.infos.values())
        try:
            self.writer = LogWriter(out_dir, infos, feed=feed_endpoint, snapshot=snapshot_endpoint)
        except BaseException:
            self.client.close()
            raise
        self.client.tap = self.writer.write
        self.updates = 0

    def poll(self, timeout: float = 0.1) -> int:
        """Receive and record what is queued (up to ``timeout`` s wait). Returns updates."""
        ups = self.client.poll(timeout)
        n = sum(len(u.records) for u in ups)
        self.updates += n
        return n

    def run(self, duration: float = 0.0, progress: bool = False) -> None:
        """Record for ``duration`` s (0: until KeyboardInterrupt)."""
        end = time.monotonic() + duration if duration > 0 else float("inf")
        next_line = time.monotonic() + 1.0
        try:
            while time.monotonic() < end:
                self.poll(0.1)
                if progress and time.monotonic() >= next_line:
                    next_line += 1.0
                    print("\r" + self.progress_line(), end="", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            pass
        if progress:
            print("\r" + self.progress_line(), file=sys.stderr, flush=True)

    def progress_line(self) -> str:
        c = self.client.core
        mb = self.writer.offset / 1e6
        return (
            f"recording {self.writer.dir}: {self.writer.entries:,} packets, "
            f"{self.updates:,} updates, {mb:,.1f} MB, gaps {len(c.gaps)}, "
            f"snapshots {c.snapshots}, resyncs {c.resyncs}"
        )

    def close(self) -> None:
        self.writer.close()
        self.client.close()


def run_record_cli(feed: str, snapshot: str, out: str, duration: float) -> int:
    """``venue record``: record until Ctrl-C (or ``duration`` s). Returns the exit status."""
    try:
        rec = Recorder(feed, snapshot, out)
    except (TimeoutError, FileExistsError, KeyError, ValueError) as e:
        print(f"venue record: {e}", file=sys.stderr)
        return 2
    try:
        rec.run(duration, progress=True)
    finally:
        rec.close()
    return 0
