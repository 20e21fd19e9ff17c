"""LOBSTER readers: exact times, the order-book shape, and error messages that name the cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marketdata.history.lobster import LobsterFormatError, read_messages, read_orderbook
from marketdata.history.records import LOBSTER_MESSAGE_DTYPE

NAME = "AAPL_2012-06-21_34200000_57600000_message_10.csv"


def _write(tmp_path: Path, text: str, name: str = NAME) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_times_are_exact_nanoseconds(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "34200.004241176,1,16113575,18,5853300,1\n"
        "34200.1,3,16113575,18,5853300,1\n"
        "34201,7,0,0,-1,-1\n"
        "35821.088778456004,4,7,100,5851500,-1\n",
    )
    m = read_messages(p)
    assert m.dtype == LOBSTER_MESSAGE_DTYPE
    assert m["time_ns"].tolist() == [
        34_200_004_241_176,
        34_200_100_000_000,
        34_201_000_000_000,
        35_821_088_778_456,  # float noise beyond the nanosecond is dropped
    ]
    assert m["type"].tolist() == [1, 3, 7, 4]
    assert m["order_id"].tolist() == [16113575, 16113575, 0, 7]
    assert m["price"].tolist() == [5853300, 5853300, -1, 5851500]
    assert m["direction"].tolist() == [1, 1, -1, -1]


def test_orderbook_shape_and_levels(tmp_path: Path) -> None:
    row = "5859400,200,5853300,18,5859800,200,9999999999,0"
    p = _write(tmp_path, f"{row}\n{row}\n", "ob.csv")
    b = read_orderbook(p)
    assert b.shape == (2, 2, 4) and b.dtype == np.int64
    assert b[0, 1].tolist() == [5859800, 200, 9999999999, 0]
    assert read_orderbook(p, levels=1).shape == (2, 1, 4)
    with pytest.raises(LobsterFormatError, match="3 levels requested but the file has 2"):
        read_orderbook(p, levels=3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "1,1,1,1,1,1\n34200.1,1,2,3,abc,1\n",
            r"line 2, column 5 \(Price\): 'abc' is not an integer",
        ),
        ("34200.1,1,2,3,4\n", r"line 1, 5 columns where 6 were expected"),
        ("34200.1,1,2,3,4,1\n34200.2,1,2,3,4,1,9\n", r"line 2, 7 columns where 6"),
        ("34200.1,9,2,3,4,1\n", r"line 1, column 2 \(Type\): 9 is not a LOBSTER event type"),
        ("34200.1,1,2,3,4,0\n", r"line 1, column 6 \(Direction\): 0 is not a direction"),
        ("34200.1,1,2,-3,4,1\n", r"line 1, column 4 \(Size\): -3 is negative"),
        ("34200.1,1,2.5,3,4,1\n", r"line 1, column 3 \(OrderID\): '2.5' is not an integer"),
        ("9:30,1,2,3,4,1\n", r"line 1, column 1 \(Time\): '9:30' is not a time"),
        ("34200.1,1,1_000,3,4,1\n", r"column 3 \(OrderID\): '1_000' is not an integer"),
        ("", r"the file is empty"),
        ("\n\n", r"the file is empty"),
    ],
)
def test_message_errors_name_file_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(LobsterFormatError, match=expected) as info:
        read_messages(p)
    assert str(info.value).startswith(NAME)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,2,3,4\n1,2,x,4\n", r"ob.csv line 2, column 3 \(BidPrice1\): 'x' is not an integer"),
        ("1,2,3,4,5,6\n", r"ob.csv line 1, 6 columns: an order-book file has 4 per level"),
        ("1,2,3,4\n1,2,3\n", r"ob.csv line 2, 3 columns where 4 were expected"),
        ("1,2,3,4,5,-6,7,8\n", r"ob.csv line 1, column 6 \(AskSize2\): -6 is negative"),
        ("", r"ob.csv: the file is empty"),
    ],
)
def test_orderbook_errors_name_file_line_and_column(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(LobsterFormatError, match=expected):
        read_orderbook(_write(tmp_path, text, "ob.csv"))


def test_missing_file_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_messages(tmp_path / "nope.csv")
