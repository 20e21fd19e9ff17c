"""Rulebook 2.3, self-trade prevention: the taker's mode governs; key = stp_group or account."""

from __future__ import annotations

from matching.records import (
    FOK,
    STP_CANCEL_BOTH,
    STP_CANCEL_MAKER,
    STP_CANCEL_TAKER,
    STP_DECREMENT,
)

from .tables import Scenario


def test_cancel_taker_stops_at_the_first_own_order(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    2
        sell  1        12        101    3
        sell  3        13        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 10, 101, order_id=20, stp=STP_CANCEL_TAKER))
    s.expect(
        ev,
        """
        kind       order_id  account  side  maker_order_id  price  qty  leaves  maker_leaves  reason
        accepted   20        1        buy   -               101    10   10      -             0
        fill       20        1        buy   11              101    2    8       0             0
        cancelled  20        1        buy   -               101    8    0       -             CANCEL_STP
        level      0         0        sell  -               101    8    2       -             0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    8    2
        """
    )
    s.resting(
        """
        order_id  leaves
        12        3
        13        5
        """
    )


def test_cancel_taker_against_an_untouched_level_emits_no_level_event(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  1        12        101    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20, stp=STP_CANCEL_TAKER))
    s.expect(
        ev,
        """
        kind       order_id  qty  leaves  reason
        accepted   20        4    4       0
        cancelled  20        4    0       CANCEL_STP
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    3    1
        """
    )


def test_cancel_maker_removes_own_order_and_keeps_matching(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  1        12        101    3
        sell  3        13        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20, stp=STP_CANCEL_MAKER))
    s.expect(
        ev,
        """
        kind       order_id  account  side  maker_order_id  price  qty  leaves  maker_leaves  reason
        accepted   20        1        buy   -               101    4    4       -             0
        cancelled  12        1        sell  -               101    3    0       -             CANCEL_STP
        fill       20        1        buy   13              101    4    0       1             0
        level      0         0        sell  -               101    1    1       -             0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    1    1
        """
    )


def test_cancel_both_cancels_maker_then_taker(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  1        12        101    3
        sell  3        13        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20, stp=STP_CANCEL_BOTH))
    s.expect(
        ev,
        """
        kind       order_id  side  price  qty  leaves  reason
        accepted   20        buy   101    4    4       0
        cancelled  12        sell  101    3    0       CANCEL_STP
        cancelled  20        buy   101    4    0       CANCEL_STP
        level      0         sell  101    5    1       0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    5    1
        """
    )


def test_decrement_shrinks_both_without_a_trade_then_keeps_matching(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  1        12        101    3
        sell  3        13        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20, stp=STP_DECREMENT))
    s.expect(
        ev,
        """
        kind       order_id  side  maker_order_id  price  qty  leaves  maker_leaves  trade_id  reason
        accepted   20        buy   -               101    4    4       -             -         0
        cancelled  12        sell  -               101    3    0       -             -         CANCEL_STP
        cancelled  20        buy   -               101    3    1       -             -         CANCEL_STP
        fill       20        buy   13              101    1    0       4             1         0
        level      0         sell  -               101    4    1       -             -         0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    4    1
        """
    )
    assert s.engine.position(1, 0) == 1


def test_decrement_of_a_larger_maker_leaves_it_in_place(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  1        12        101    5
        sell  3        13        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 2, 101, order_id=20, stp=STP_DECREMENT))
    s.expect(
        ev,
        """
        kind       order_id  price  qty  leaves  reason
        accepted   20        101    2    2       0
        cancelled  12        101    2    3       CANCEL_STP
        cancelled  20        101    2    0       CANCEL_STP
        level      0         101    8    2       0
        """,
    )
    s.resting(
        """
        order_id  qty  leaves  visible
        12        5    3       3
        13        5    5       5
        """
    )
    assert s.engine.position(1, 0) == 0


def test_decrement_against_an_iceberg_refills_it(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  display
        sell  1        12        101    10   3
        sell  3        13        101    5    -
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20, stp=STP_DECREMENT))
    s.expect(
        ev,
        """
        kind       order_id  maker_order_id  qty  leaves  maker_leaves  reason
        accepted   20        -               4    4       -             0
        cancelled  12        -               3    7       -             CANCEL_STP
        cancelled  20        -               3    1       -             CANCEL_STP
        fill       20        13              1    0       4             0
        level      0         -               7    2       -             0
        """,
    )
    s.resting(
        """
        order_id  leaves  visible
        13        4       4
        12        7       3
        """
    )


def test_stp_group_replaces_the_account_as_the_key(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  group
        sell  5        11        101    2    9
        sell  1        12        101    2    -
        sell  6        13        101    2    -
        """
    )
    # Taker account 6 in group 9: 11 (group 9) is "self"; 12 (account 1) and 13 (account 6
    # but keyed by account, not by group 9) are not.
    ev = s.run(
        lambda e: e.limit(0, 6, "buy", 6, 101, order_id=20, stp=STP_CANCEL_MAKER, stp_group=9)
    )
    s.expect(
        ev,
        """
        kind       order_id  account  maker_order_id  maker_account  qty  leaves  maker_leaves  reason
        accepted   20        6        -               -              6    6       -             0
        cancelled  11        5        -               -              2    0       -             CANCEL_STP
        fill       20        6        12              1              2    4       0             0
        fill       20        6        13              6              2    2       0             0
        level      0         0        -               -              0    0       -             0
        level      0         0        -               -              2    1       -             0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   101    2    1
        """
    )


def test_without_stp_an_account_trades_with_itself(engine_cls):
    # The taker's mode governs: the maker's own STP mode does not protect it.
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  stp
        sell  1        12        101    3    cancel_taker
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 3, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  account  maker_order_id  maker_account  qty  leaves  maker_leaves
        accepted  20        1        -               -              3    3       -
        fill      20        1        12              1              3    0       0
        level     0         0        -               -              0    0       -
        """,
    )
    assert s.engine.position(1, 0) == 0
    s.after("side price qty orders")


def test_fok_fails_when_stp_would_cancel_the_taker(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  3        11        101    2
        sell  1        12        101    3
        sell  3        13        101    5
        """
    )
    before = s.engine.state_hash()
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20, tif=FOK, stp=STP_CANCEL_TAKER),
        lambda e: e.limit(0, 1, "buy", 4, 101, order_id=21, tif=FOK, stp=STP_DECREMENT),
    )
    s.expect(
        ev,
        """
        kind      order_id  reason
        rejected  20        FOK_CANNOT_FILL
        rejected  21        FOK_CANNOT_FILL
        """,
    )
    assert s.engine.state_hash() == before
    # Cancel-maker skips the own order in the dry run: 2 + 5 lots are there for others.
    ev = s.run(lambda e: e.limit(0, 1, "buy", 7, 101, order_id=22, tif=FOK, stp=STP_CANCEL_MAKER))
    s.expect(
        ev,
        """
        kind       order_id  maker_order_id  qty  leaves  maker_leaves  reason
        accepted   22        -               7    7       -             0
        fill       22        11              2    5       0             0
        cancelled  12        -               3    0       -             CANCEL_STP
        fill       22        13              5    0       0             0
        level      0         -               0    0       -             0
        """,
    )
    s.after("side price qty orders")
