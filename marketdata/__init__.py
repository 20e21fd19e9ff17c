"""Market data: trades, L2, BBO and L3 on a bus, snapshots, recording and historical readers.

Planned in issue #6 (historical readers in issue #3).
"""
