"""The journal's records and files: CRC32C, the writer under each fsync policy, rotation, and
the reader telling a torn tail (dropped, with a warning) from corruption (stops, naming the file
and the byte offset)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from bench.journal_bench import order_stream, stamp
from journal.config import JournalConfig, parse_journal
from journal.crc import crc32c
from journal.reader import journal_files, read_segments
from journal.records import (
    HEADER_SIZE,
    RECORD_SIZE,
    JournalCorrupt,
    JournalError,
    commands_of,
    decode_header,
    encode_header,
    encode_records,
)
from journal.writer import JournalWriter
from matching.api import packed_bytes

GENESIS = bytes(range(16))


def test_crc32c_known_vectors() -> None:
    # RFC 3720 appendix B.4 and the classic check value
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(b"") == 0
    assert crc32c(b"456789", crc32c(b"123")) == 0xE3069283  # continues


def test_crc32c_matches_the_crc32c_package() -> None:
    ref = pytest.importorskip("crc32c")
    rng = np.random.default_rng(5)
    for n in (1, 7, 8, 9, 63, 120, 1000, 4099):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == ref.crc32c(data), n


def _batches(n: int, batch: int, first_seq: int = 1) -> list[np.ndarray]:
    cmds = order_stream(n, seed=3)
    out = []
    for at in range(0, n, batch):
        b = cmds[at : at + batch].copy()
        stamp(b, first_seq + at, 1_000 + at)
        out.append(b)
    return out


def _write(d: Path, batches: list[np.ndarray], **kw: object) -> JournalWriter:
    w = JournalWriter(d, int(batches[0]["seq"][0]), GENESIS, **kw)  # type: ignore[arg-type]
    for b in batches:
        w.append(b)
        w.commit()
    w.close()
    return w


def _all(d: Path, **kw: object) -> np.ndarray:
    segs = list(read_segments(d, **kw))  # type: ignore[arg-type]
    rows = [s.rows for s in segs if s.count]
    return commands_of(np.concatenate(rows)) if rows else np.zeros(0)


def test_records_round_trip_byte_for_byte(tmp_path: Path) -> None:
    batches = _batches(5000, 300, first_seq=11)
    _write(tmp_path, batches)
    got = _all(tmp_path, genesis=GENESIS)
    want = np.concatenate(batches)
    assert len(got) == 5000
    assert packed_bytes(got) == packed_bytes(want)
    assert int(got["seq"][0]) == 11 and (np.diff(got["seq"]) == 1).all()


def test_record_layout_and_padding_zeroed() -> None:
    b = _batches(3, 3)[0]
    raw = b.view(np.uint8).reshape(3, -1)
    raw[:, 92:] = 0xAB  # garbage in the command's alignment padding
    rows = encode_records(b)
    assert rows.shape == (3, RECORD_SIZE)
    assert (rows[:, 24 + 92 : 24 + 96] == 0).all()
    for r in rows:
        assert int.from_bytes(r[0:4].tobytes(), "little") == 112
        assert int.from_bytes(r[4:8].tobytes(), "little") == crc32c(r[8:].tobytes())


def test_header_is_checked(tmp_path: Path) -> None:
    h = encode_header(42, 7, GENESIS)
    assert decode_header(h, "f").first_seq == 42
    bad = bytearray(h)
    bad[20] ^= 1
    with pytest.raises(JournalCorrupt, match="header CRC32C"):
        decode_header(bytes(bad), "f")
    with pytest.raises(JournalCorrupt, match="cut short"):
        decode_header(h[:30], "f")


def test_rotation_by_size_and_continuity_across_files(tmp_path: Path) -> None:
    batches = _batches(6000, 500)
    w = _write(tmp_path, batches, rotate_bytes=100_000)
    files = journal_files(tmp_path)
    assert len(files) == w.rotations + 1 >= 6
    segs = list(read_segments(tmp_path))
    for a, b in itertools.pairwise(segs):
        assert b.first_seq == a.last_seq + 1
        assert b.path.name == f"journal-{b.first_seq:020d}.wal"
    assert sum(s.count for s in segs) == 6000


@pytest.mark.parametrize("policy", ["durable", "interval", "none"])
def test_fsync_policies(tmp_path: Path, policy: str) -> None:
    w = JournalWriter(tmp_path, 1, GENESIS, policy=policy, interval_ms=2)
    after_open = w.fsyncs
    for b in _batches(400, 100):
        w.append(b)
        w.commit()
    if policy == "durable":
        assert w.fsyncs == after_open + 4  # one per batch: group commit
    if policy == "interval":
        import time

        deadline = time.monotonic() + 2
        while w.fsyncs == after_open and time.monotonic() < deadline:
            time.sleep(0.005)
        assert w.fsyncs > after_open  # the background thread synced
    if policy == "none":
        assert w.fsyncs == 0
    w.close()
    assert len(_all(tmp_path)) == 400  # every policy writes before the commit returns


def test_append_refuses_a_gap_and_wrong_dtype(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1, GENESIS)
    b = _batches(10, 10, first_seq=5)[0]
    with pytest.raises(JournalError, match="does not continue"):
        w.append(b)
    with pytest.raises(TypeError):
        w.append(np.zeros(3))
    w.close()
    with pytest.raises(JournalError, match="exists already"):
        JournalWriter(tmp_path, 1, GENESIS)


def _records_file(d: Path) -> Path:
    return journal_files(d)[-1]


def test_torn_tail_cut_short_is_dropped_and_repaired(tmp_path: Path) -> None:
    _write(tmp_path, _batches(50, 10))
    f = _records_file(tmp_path)
    with open(f, "r+b") as fh:
        fh.truncate(os.path.getsize(f) - 50)  # the last record cut short
    warnings: list[str] = []
    assert len(_all(tmp_path, warn=warnings.append)) == 49
    assert len(warnings) == 1 and "torn tail of 70 bytes" in warnings[0]
    assert f"offset {HEADER_SIZE + 49 * RECORD_SIZE}" in warnings[0]
    _all(tmp_path, repair=True)
    assert os.path.getsize(f) == HEADER_SIZE + 49 * RECORD_SIZE
    warnings.clear()
    assert len(_all(tmp_path, warn=warnings.append)) == 49 and not warnings


def test_torn_tail_of_zeros_and_of_a_half_written_record(tmp_path: Path) -> None:
    _write(tmp_path, _batches(20, 10))
    f = _records_file(tmp_path)
    with open(f, "ab") as fh:  # the file grew but the data never landed (power loss)
        fh.write(bytes(3 * RECORD_SIZE))
    assert len(_all(tmp_path)) == 20
    with open(f, "r+b") as fh:  # a record whose CRC fails, as the last one
        fh.truncate(HEADER_SIZE + 20 * RECORD_SIZE)
        fh.seek(HEADER_SIZE + 19 * RECORD_SIZE + 60)
        fh.write(b"\x01\x02")
    warnings: list[str] = []
    assert len(_all(tmp_path, warn=warnings.append)) == 19
    assert "CRC32C" in warnings[0]


def test_corrupt_record_followed_by_valid_ones_stops_with_file_and_offset(tmp_path: Path) -> None:
    _write(tmp_path, _batches(30, 10))
    f = _records_file(tmp_path)
    at = HEADER_SIZE + 7 * RECORD_SIZE
    with open(f, "r+b") as fh:
        fh.seek(at + 40)
        fh.write(b"\xff")
    with pytest.raises(JournalCorrupt) as e:
        _all(tmp_path)
    assert e.value.offset == at and e.value.path == f
    assert f"byte offset {at}" in str(e.value) and "CRC32C" in str(e.value)
    assert "valid record follows" in str(e.value)


def test_damage_in_an_earlier_file_is_never_a_torn_tail(tmp_path: Path) -> None:
    _write(tmp_path, _batches(3000, 500), rotate_bytes=100_000)
    first = journal_files(tmp_path)[0]
    size = os.path.getsize(first)
    with open(first, "r+b") as fh:
        fh.truncate(size - 10)
    with pytest.raises(JournalCorrupt, match="cut short") as e:
        _all(tmp_path)
    assert e.value.path == first


def test_missing_file_is_a_gap(tmp_path: Path) -> None:
    _write(tmp_path, _batches(3000, 500), rotate_bytes=100_000)
    files = journal_files(tmp_path)
    files[1].unlink()
    with pytest.raises(JournalCorrupt, match="commands are missing") as e:
        _all(tmp_path)
    assert e.value.path == files[2]


def test_crash_during_rotation_leaves_a_headerless_file(tmp_path: Path) -> None:
    _write(tmp_path, _batches(100, 10))
    last = _records_file(tmp_path)
    new = tmp_path / "journal-00000000000000000101.wal"
    new.write_bytes(encode_header(101, 0, GENESIS)[:20])  # the header half written
    warnings: list[str] = []
    assert len(_all(tmp_path, warn=warnings.append)) == 100
    assert "incomplete header" in warnings[0]
    _all(tmp_path, repair=True)
    assert not new.exists() and last.exists()


def test_journal_of_another_configuration_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, _batches(10, 10))
    with pytest.raises(JournalError, match="different configuration"):
        _all(tmp_path, genesis=bytes(16))


def test_sequence_out_of_order_is_corruption(tmp_path: Path) -> None:
    b = _batches(10, 10)[0]
    w = JournalWriter(tmp_path, 1, GENESIS)
    w.append(b)
    w.commit()
    bad = _batches(5, 5, first_seq=12)[0]  # skips seq 11, slipped past append's check
    w._pending.append(encode_records(bad))
    w.commit()
    w.close()
    with pytest.raises(JournalCorrupt, match="sequence number out of order"):
        _all(tmp_path)


def test_journal_config_table() -> None:
    assert parse_journal({}) == JournalConfig()
    c = parse_journal({"fsync": "interval", "interval_ms": 20, "snapshot_interval_s": 0.5})
    assert (c.fsync, c.interval_ms, c.snapshot_interval_s) == ("interval", 20, 0.5)
    for raw, words in (
        ({"fsync": "always"}, "journal.fsync"),
        ({"interval_ms": 0}, "journal.interval_ms"),
        ({"rotate_bytes": "big"}, "journal.rotate_bytes"),
        ({"snapshot_interval_s": -1}, "snapshot_interval_s"),
        ({"fsynk": "none"}, "unknown key 'fsynk'"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_journal(raw)


def test_reading_from_a_seq_skips_earlier_files(tmp_path: Path) -> None:
    _write(tmp_path, _batches(3000, 500), rotate_bytes=100_000)
    files = journal_files(tmp_path)
    files[0].write_bytes(b"damaged, but before the snapshot")  # not read from seq 2000 on
    segs = list(read_segments(tmp_path, from_seq=2000))
    assert segs[0].first_seq <= 2000 <= segs[0].last_seq
    assert segs[-1].last_seq == 3000
    with pytest.raises(JournalCorrupt):  # a full read still finds it
        list(read_segments(tmp_path))
