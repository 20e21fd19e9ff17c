"""The table helpers themselves: a scenario that disagrees with the engine must fail loudly."""

from __future__ import annotations

import pytest

from .tables import Scenario, parse_table


def _scenario(engine_cls) -> tuple[Scenario, object]:
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        sell  3        12        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 2, 101, order_id=20))
    return s, ev


def test_expect_accepts_the_right_table_with_dont_care_cells(engine_cls):
    s, ev = _scenario(engine_cls)
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  qty  leaves  maker_leaves
        accepted  20        -               2    2       -
        fill      20        11              2    0       3
        level     -         -               8    2       -
        """,
    )


@pytest.mark.parametrize(
    "table",
    [
        # one event missing
        """
        kind      order_id
        accepted  20
        fill      20
        """,
        # one event too many
        """
        kind      order_id
        accepted  20
        fill      20
        level     0
        level     0
        """,
        # kinds out of order
        """
        kind      order_id
        accepted  20
        level     0
        fill      20
        """,
        # one wrong cell
        """
        kind      order_id  maker_leaves
        accepted  20        -
        fill      20        4
        level     0         -
        """,
        # a wrong reason by name
        """
        kind      reason
        accepted  0
        fill      CANCEL_STP
        level     0
        """,
    ],
)
def test_expect_rejects_any_difference(engine_cls, table):
    s, ev = _scenario(engine_cls)
    with pytest.raises(AssertionError, match="EXPECTED") as info:
        s.expect(ev, table)
    assert "ACTUAL" in str(info.value)


def test_after_and_resting_reject_a_different_book(engine_cls):
    s, _ = _scenario(engine_cls)
    s.after(
        """
        side  price  qty  orders
        sell  101    8    2
        """
    )
    with pytest.raises(AssertionError, match="EXPECTED"):
        s.after(
            """
            side  price  qty  orders
            sell  101    8    1
            """
        )
    with pytest.raises(AssertionError, match="EXPECTED"):
        s.after("side price qty orders")
    s.resting(
        """
        order_id  leaves
        11        3
        12        5
        """
    )
    with pytest.raises(AssertionError, match="EXPECTED"):
        s.resting(
            """
            order_id  leaves
            12        5
            11        3
            """
        )


def test_book_refuses_an_order_that_trades(engine_cls):
    s = Scenario(engine_cls)
    with pytest.raises(AssertionError, match="did not simply rest"):
        s.book(
            """
            side  account  order_id  price  qty
            sell  2        11        101    5
            buy   3        12        101    5
            """
        )


def test_parse_table_checks_row_widths():
    assert parse_table("a b\n1 2\n") == (["a", "b"], [["1", "2"]])
    with pytest.raises(ValueError, match="cells"):
        parse_table("a b\n1 2 3\n")
