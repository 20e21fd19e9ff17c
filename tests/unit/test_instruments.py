"""matching/instruments.py: exact Decimal <-> ticks / lots conversion, definitions, the table."""

from __future__ import annotations

import dataclasses
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching import reasons
from matching.instruments import (
    INT64_MAX,
    INT64_MIN,
    KINDS,
    Instrument,
    OffGridError,
    instrument_table,
    to_decimal,
)
from matching.records import (
    INSTRUMENT_DTYPE,
    KIND_FUTURE,
    KIND_OPTION,
    KIND_PERPETUAL,
    KIND_SPOT,
)

EXPIRY_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def spot(**kw: object) -> Instrument:
    """BTC-USD spot: tick 0.01, lot 0.001 unless overridden."""
    fields: dict[str, object] = {"id": 0, "symbol": "BTC-USD"}
    fields.update(kw)
    return Instrument(**fields)  # type: ignore[arg-type]


# --- price <-> ticks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "ticks"),
    [
        ("100.05", 10005),
        (Decimal("100.05"), 10005),
        (Decimal("100.050"), 10005),
        ("100.050000", 10005),
        ("100", 10000),
        (100, 10000),
        ("1E+2", 10000),
        ("0.01", 1),
        ("0", 0),
        ("-0", 0),
        ("0.00", 0),
        (Decimal("0E-10"), 0),
        ("-100.05", -10005),
        (Decimal("-0.01"), -1),
        (" 1.5 ", 150),  # Decimal's own parsing: surrounding whitespace is allowed
    ],
)
def test_price_to_ticks_exact(price: object, ticks: int) -> None:
    got = spot().price_to_ticks(price)  # type: ignore[arg-type]
    assert got == ticks
    assert type(got) is int


@pytest.mark.parametrize(
    ("ticks", "text"),
    [(10005, "100.05"), (1, "0.01"), (0, "0.00"), (-10005, "-100.05"), (-1, "-0.01")],
)
def test_ticks_to_price_exact(ticks: int, text: str) -> None:
    price = spot().ticks_to_price(ticks)
    assert isinstance(price, Decimal)
    assert price == Decimal(text)
    assert str(price) == text


def test_ticks_to_price_accepts_numpy_ints() -> None:
    assert spot().ticks_to_price(np.int64(10005)) == Decimal("100.05")  # type: ignore[arg-type]
    assert spot().lots_to_qty(np.int64(1500)) == Decimal("1.5")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tick", "price", "ticks"),
    [
        ("0.25", "100.75", 403),
        ("0.25", "-0.5", -2),
        ("5", "1235", 247),
        ("5", "1E+3", 200),
        ("0.5", "0.5", 1),
        ("0.00000001", "0.12345678", 12345678),
        ("0.010", "100.05", 10005),  # trailing zeros in the tick size change nothing
    ],
)
def test_other_tick_sizes(tick: str, price: str, ticks: int) -> None:
    inst = spot(tick_size=Decimal(tick))
    assert inst.price_to_ticks(price) == ticks
    assert inst.ticks_to_price(ticks) == Decimal(price)


# --- size <-> lots ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "lots"),
    [
        ("1.5", 1500),
        (Decimal("1.500"), 1500),
        ("0.001", 1),
        (2, 2000),
        ("0", 0),
        ("-0.25", -250),  # negative sizes convert exactly; the engine rejects them, not this
    ],
)
def test_qty_to_lots_exact(qty: object, lots: int) -> None:
    got = spot().qty_to_lots(qty)  # type: ignore[arg-type]
    assert got == lots
    assert type(got) is int


@pytest.mark.parametrize(("lots", "text"), [(1500, "1.500"), (1, "0.001"), (0, "0.000")])
def test_lots_to_qty_exact(lots: int, text: str) -> None:
    qty = spot().lots_to_qty(lots)
    assert isinstance(qty, Decimal)
    assert qty == Decimal(text)
    assert str(qty) == text


def test_lot_size_of_whole_units() -> None:
    inst = spot(lot_size=Decimal("100"))
    assert inst.qty_to_lots("2500") == 25
    assert inst.lots_to_qty(25) == Decimal(2500)
    with pytest.raises(OffGridError) as e:
        inst.qty_to_lots("250")
    assert e.value.code == reasons.OFF_LOT


# --- exactness, whatever the decimal context -------------------------------------------------

LONG_TICK = Decimal("0.12345678912345")  # 14 significant digits: products exceed 28 digits


def test_long_tick_is_exact_beyond_default_precision() -> None:
    inst = spot(tick_size=LONG_TICK)
    ticks = 10**18 + 7
    price = inst.ticks_to_price(ticks)
    assert price == Decimal(f"{ticks * 12345678912345}E-14")  # 33 digits, none rounded away
    assert inst.price_to_ticks(price) == ticks
    with pytest.raises(OffGridError) as e:
        inst.price_to_ticks(price + Decimal("1E-14"))
    assert e.value.code == reasons.OFF_TICK


def test_conversion_ignores_a_low_context_precision() -> None:
    inst = spot()
    with localcontext() as ctx:
        ctx.prec = 3
        assert inst.price_to_ticks("123456.78") == 12345678
        assert inst.ticks_to_price(12345678) == Decimal("123456.78")
        with pytest.raises(OffGridError) as e:
            inst.price_to_ticks("123456.785")
        assert e.value.code == reasons.OFF_TICK


def test_tiny_nonzero_price_is_off_tick_not_zero() -> None:
    # Decimal's divmod flushes such a remainder to zero (subnormal); the conversion must not.
    inst = spot()
    for text in ("1E-1000050", "1E-999999999", "-1E-40"):
        with pytest.raises(OffGridError) as e:
            inst.price_to_ticks(text)
        assert e.value.code == reasons.OFF_TICK
    with pytest.raises(OffGridError) as e:
        inst.qty_to_lots("1E-1000050")
    assert e.value.code == reasons.OFF_LOT


def test_int64_edges() -> None:
    inst = spot()
    assert inst.price_to_ticks("92233720368547758.07") == INT64_MAX
    assert inst.price_to_ticks("-92233720368547758.08") == INT64_MIN
    assert inst.ticks_to_price(INT64_MAX) == Decimal("92233720368547758.07")
    assert inst.qty_to_lots("9223372036854775.807") == INT64_MAX


@pytest.mark.parametrize(
    "price", ["92233720368547758.08", "-92233720368547758.09", "1e20", "1e27", "1e999999999"]
)
def test_price_beyond_int64_is_value_too_large(price: str) -> None:
    with pytest.raises(OffGridError) as e:
        spot().price_to_ticks(price)
    assert e.value.code == reasons.VALUE_TOO_LARGE
    assert "BTC-USD" in str(e.value)
    assert "0.01" in str(e.value)


@pytest.mark.parametrize("qty", ["9223372036854775.808", "1e30", "-1e999"])
def test_size_beyond_int64_is_value_too_large(qty: str) -> None:
    with pytest.raises(OffGridError) as e:
        spot().qty_to_lots(qty)
    assert e.value.code == reasons.VALUE_TOO_LARGE
    assert "BTC-USD" in str(e.value)
    assert "0.001" in str(e.value)


TICKS = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
GRIDS = st.sampled_from(["0.01", "0.5", "0.25", "1", "5", "100", "0.00000001", str(LONG_TICK)])


@given(ticks=TICKS, grid=GRIDS)
def test_round_trip_ticks(ticks: int, grid: str) -> None:
    inst = spot(tick_size=Decimal(grid), lot_size=Decimal(grid))
    price = inst.ticks_to_price(ticks)
    with localcontext() as ctx:
        ctx.prec = 100  # enough for any int64 times these grids: the exact product
        assert price == Decimal(ticks) * Decimal(grid)
    assert inst.price_to_ticks(price) == ticks
    assert inst.price_to_ticks(str(price)) == ticks
    assert inst.qty_to_lots(inst.lots_to_qty(ticks)) == ticks


@given(ticks=st.integers(min_value=-(10**15), max_value=10**15))
def test_half_tick_is_always_off_tick(ticks: int) -> None:
    inst = spot()
    with pytest.raises(OffGridError) as e:
        inst.price_to_ticks(inst.ticks_to_price(ticks) + Decimal("0.005"))
    assert e.value.code == reasons.OFF_TICK


# --- off the grid ----------------------------------------------------------------------------


@pytest.mark.parametrize("price", ["100.055", Decimal("100.001"), "0.001", "-0.005", "1E-3"])
def test_off_tick_refused(price: object) -> None:
    with pytest.raises(OffGridError) as e:
        spot().price_to_ticks(price)  # type: ignore[arg-type]
    err = e.value
    assert isinstance(err, ValueError)
    assert err.code == reasons.OFF_TICK
    msg = str(err)
    assert "BTC-USD" in msg
    assert "tick size 0.01" in msg
    assert str(Decimal(str(price))) in msg


@pytest.mark.parametrize("qty", ["1.0005", Decimal("0.0001"), "-0.0005"])
def test_off_lot_refused(qty: object) -> None:
    with pytest.raises(OffGridError) as e:
        spot().qty_to_lots(qty)  # type: ignore[arg-type]
    err = e.value
    assert isinstance(err, ValueError)
    assert err.code == reasons.OFF_LOT
    msg = str(err)
    assert "BTC-USD" in msg
    assert "lot size 0.001" in msg


def test_message_names_the_instrument_and_grid_of_that_instrument() -> None:
    eth = Instrument(7, "ETH-PERP", kind="perpetual", tick_size=Decimal("0.05"), lot_size="0.01")
    with pytest.raises(OffGridError, match=r"ETH-PERP.*tick size 0\.05"):
        eth.price_to_ticks("3000.01")
    with pytest.raises(OffGridError, match=r"ETH-PERP.*lot size 0\.01"):
        eth.qty_to_lots("0.015")


# --- not a number ----------------------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


NOT_DECIMALS = [
    100.05,
    1.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    np.float64(1.5),
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-inf",
    "",
    "   ",
    "abc",
    "1.2.3",
    "1,5",
    "0x10",
    "1e",
    "--1",
    None,
    True,
    False,
    Opaque(),
    [1, 2],
]


@pytest.mark.parametrize("value", NOT_DECIMALS, ids=repr)
def test_price_not_a_number(value: object) -> None:
    with pytest.raises(OffGridError) as e:
        spot().price_to_ticks(value)  # type: ignore[arg-type]
    assert e.value.code == reasons.INVALID_DECIMAL
    assert "price" in str(e.value)


@pytest.mark.parametrize("value", NOT_DECIMALS, ids=repr)
def test_size_not_a_number(value: object) -> None:
    with pytest.raises(OffGridError) as e:
        spot().qty_to_lots(value)  # type: ignore[arg-type]
    assert e.value.code == reasons.INVALID_DECIMAL
    assert "size" in str(e.value)


def test_float_refusal_suggests_a_string() -> None:
    with pytest.raises(OffGridError, match=r"float.*'100\.05'"):
        spot().price_to_ticks(100.05)


def test_to_decimal() -> None:
    assert to_decimal("1.50", "x") == Decimal("1.50")
    assert str(to_decimal("1.50", "x")) == "1.50"  # kept as written, not normalised
    assert to_decimal(3, "x") == Decimal(3)
    d = Decimal("2.5")
    assert to_decimal(d, "x") is d
    with pytest.raises(OffGridError, match="strike"):
        to_decimal("junk", "strike")


# --- definitions -----------------------------------------------------------------------------


def test_defaults_and_kind_codes() -> None:
    inst = spot()
    assert inst.kind == "spot"
    assert inst.tick_size == Decimal("0.01")
    assert inst.lot_size == Decimal("0.001")
    assert inst.problems() == []
    assert KINDS == {
        "spot": KIND_SPOT,
        "future": KIND_FUTURE,
        "perpetual": KIND_PERPETUAL,
        "option": KIND_OPTION,
    }
    assert inst.kind_code == KIND_SPOT


def test_valid_definitions_of_every_kind() -> None:
    fut = Instrument(1, "BTC-2026Q1", kind="future", expiry_ns=EXPIRY_NS, underlying="BTC-USD")
    perp = Instrument(2, "BTC-PERP", kind="perpetual")
    call = Instrument(
        3,
        "BTC-100000-C",
        kind="option",
        strike=Decimal("100000"),
        option_type="call",
        expiry_ns=EXPIRY_NS,
        underlying="BTC-USD",
    )
    put = Instrument(
        4, "BTC-90000-P", kind="option", strike="90000", option_type="put", expiry_ns=EXPIRY_NS
    )
    assert [i.kind_code for i in (fut, perp, call, put)] == [
        KIND_FUTURE,
        KIND_PERPETUAL,
        KIND_OPTION,
        KIND_OPTION,
    ]
    assert put.strike == Decimal("90000")
    assert isinstance(put.strike, Decimal)
    for inst in (fut, perp, call, put):
        assert inst.problems() == []


def test_decimal_fields_given_as_strings_become_decimals() -> None:
    inst = spot(tick_size="0.5", lot_size="0.1", multiplier="10")
    assert inst.tick_size == Decimal("0.5")
    assert isinstance(inst.tick_size, Decimal)
    assert isinstance(inst.lot_size, Decimal)
    assert isinstance(inst.multiplier, Decimal)
    assert inst.price_to_ticks("1.5") == 3


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"id": -1}, "id must be >= 0"),
        ({"symbol": ""}, "symbol must not be empty"),
        ({"kind": "bond"}, "kind must be one of"),
        ({"kind": "Spot"}, "kind must be one of"),
        ({"tick_size": Decimal(0)}, "tick_size must be above zero"),
        ({"tick_size": Decimal("-0.01")}, "tick_size must be above zero"),
        ({"lot_size": Decimal(0)}, "lot_size must be above zero"),
        ({"lot_size": "-1"}, "lot_size must be above zero"),
        ({"min_qty_lots": 0}, "min_qty_lots must be at least 1"),
        ({"min_qty_lots": -5}, "min_qty_lots must be at least 1"),
        ({"min_qty_lots": 10, "max_qty_lots": 5}, "max_qty_lots must be 0"),
        ({"band_bps": -1}, "band_bps and market_band_bps must be >= 0"),
        ({"market_band_bps": -1}, "band_bps and market_band_bps must be >= 0"),
        ({"kind": "future"}, "a future needs expiry_ns"),
        ({"kind": "future", "expiry_ns": -1}, "a future needs expiry_ns"),
        (
            {"kind": "option", "option_type": "call", "expiry_ns": EXPIRY_NS},
            "an option needs a strike above zero",
        ),
        (
            {"kind": "option", "strike": Decimal(0), "option_type": "put", "expiry_ns": EXPIRY_NS},
            "an option needs a strike above zero",
        ),
        (
            {"kind": "option", "strike": Decimal(100), "expiry_ns": EXPIRY_NS},
            "an option needs option_type 'call' or 'put'",
        ),
        (
            {"kind": "option", "strike": Decimal(100), "option_type": "Call", "expiry_ns": 1},
            "an option needs option_type 'call' or 'put'",
        ),
        (
            {"kind": "option", "strike": Decimal(100), "option_type": "call"},
            "an option needs expiry_ns",
        ),
    ],
)
def test_bad_definition(changes: dict[str, object], fragment: str) -> None:
    good = spot()
    # problems() on its own: the definition with the bad fields forced in (bypassing the checks)
    bad = dataclasses.replace(good)
    for name, value in changes.items():
        if name in ("tick_size", "lot_size", "strike") and isinstance(value, str):
            value = Decimal(value)
        object.__setattr__(bad, name, value)
    assert any(fragment in p for p in bad.problems()), bad.problems()
    # the constructor refuses it, naming the instrument and the problem
    with pytest.raises(ValueError, match="instrument") as e:
        spot(**changes)
    assert fragment in str(e.value)
    # and so does replace()
    with pytest.raises(ValueError) as e:
        good.replace(**changes)
    assert fragment in str(e.value)


def test_constructor_reports_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as e:
        Instrument(3, "OPT", kind="option", tick_size=Decimal(0), min_qty_lots=0)
    msg = str(e.value)
    assert msg.startswith("instrument 'OPT': ")
    for fragment in (
        "tick_size must be above zero",
        "min_qty_lots must be at least 1",
        "option_type",
        "strike",
        "expiry_ns",
    ):
        assert fragment in msg
    assert spot(symbol="X").replace(symbol="Y").problems() == []


def test_option_fields_not_required_elsewhere() -> None:
    assert spot(kind="perpetual").problems() == []
    assert spot(max_qty_lots=0).problems() == []  # 0: no maximum
    assert spot(min_qty_lots=5, max_qty_lots=5).problems() == []


@pytest.mark.parametrize("field", ["tick_size", "lot_size", "multiplier", "strike"])
@pytest.mark.parametrize(
    "value", [1.5, Decimal("NaN"), Decimal("Infinity"), "NaN", "-Infinity", "junk"], ids=repr
)
def test_non_finite_or_float_decimal_fields_refused(field: str, value: object) -> None:
    extra: dict[str, object] = {field: value}
    if field == "strike":
        extra.update(kind="option", option_type="call", expiry_ns=EXPIRY_NS)
    with pytest.raises(ValueError) as e:
        spot(**extra)
    assert field in str(e.value)


# --- instrument_table ------------------------------------------------------------------------


def test_instrument_table_rows() -> None:
    insts = [
        Instrument(3, "BTC-PERP", kind="perpetual", min_qty_lots=2, max_qty_lots=1000),
        Instrument(0, "BTC-USD", band_bps=500, market_band_bps=100, ref_price_ticks=10_000_000),
        Instrument(1, "SPREAD", kind="future", expiry_ns=EXPIRY_NS, allow_nonpositive_price=True),
    ]
    table = instrument_table(insts)
    assert table.dtype == INSTRUMENT_DTYPE
    assert len(table) == 4
    assert table["defined"].tolist() == [1, 1, 0, 1]
    assert table["kind"].tolist() == [KIND_SPOT, KIND_FUTURE, 0, KIND_PERPETUAL]
    assert table["min_qty_lots"].tolist() == [1, 1, 0, 2]
    assert table["max_qty_lots"].tolist() == [0, 0, 0, 1000]
    assert table["band_bps"].tolist() == [500, 0, 0, 0]
    assert table["market_band_bps"].tolist() == [100, 0, 0, 0]
    assert table["ref_price_ticks"].tolist() == [10_000_000, 0, 0, 0]
    assert table["allow_nonpositive_price"].tolist() == [0, 1, 0, 0]
    assert (table["hdr"] == -1).all()
    # dynamic state starts at zero
    for name in ("last_price_ticks", "trade_count", "pending_stops", "halted"):
        assert (table[name] == 0).all()
    # the undefined row is all zeros but its headers
    row = table[2]
    assert all((row[name] == 0).all() for name in INSTRUMENT_DTYPE.names or () if name != "hdr")


def test_instrument_table_empty_and_generator() -> None:
    assert len(instrument_table([])) == 0
    assert instrument_table([]).dtype == INSTRUMENT_DTYPE
    table = instrument_table(spot(id=i, symbol=f"S{i}") for i in (2, 0))
    assert table["defined"].tolist() == [1, 0, 1]


def test_instrument_table_duplicate_ids() -> None:
    with pytest.raises(ValueError, match=r"duplicate instrument ids: \[1, 4\]"):
        instrument_table([spot(id=i, symbol=f"S{n}") for n, i in enumerate([1, 4, 2, 1, 4, 4])])
